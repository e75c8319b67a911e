//===- PackedTokensTest.cpp - padding-free execution vs the reference -----===//
//
// The packed-token kernels on the GPU against the reference executor, on
// random inputs: PackTokens (prefix masks with empty and full rows, token
// buckets larger than needed and exactly the count, rows that straddle the
// kernel's 1024-entry chunks, a mask that is no prefix, and one that keeps
// more tokens than the bucket holds, which the kernel must clamp), attention
// over spans (f16 on tensor cores, f32 on the SIMT kernel, head_dim 32 and
// 64, lengths 1 to seq), pooling over spans, and the MiniLM fixture run
// through pack-tokens at (batch 8, seq 64, tokens 256) against the padded
// graph on the reference executor.
//
// Tokens in no span are left unspecified by Attention (the reference writes
// 0 there, the kernel does not write them): only the tokens of the spans are
// compared.
//
// Tolerances, absolute + relative: f32 1e-4 + 1e-3, f16 storage 2e-3 +
// 2e-3 (as FusedKernelsTest); PackTokens copies, so it is exact. The whole
// model: cosine similarity of each pooled row to the padded reference's at
// least 0.99999 in f32 and 0.999 in f16 (six layers of f16 storage).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/Compiler.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Parser.h"
#include "passes/Passes.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "gtest/gtest.h"

#include <cmath>
#include <functional>
#include <numeric>
#include <random>

namespace kiln {
namespace {

std::string str(int64_t V) { return std::to_string(V); }

/// Every element I of `Got` with Compare(I) within Abs + Rel * |want|.
void expectClose(const Tensor &Want, const Tensor &Got, double Abs, double Rel,
                 const std::string &What,
                 const std::function<bool(int64_t)> &Compare = nullptr) {
  ASSERT_EQ(Want.sizes().vec(), Got.sizes().vec()) << What;
  int64_t Bad = 0, Compared = 0, WorstAt = -1;
  double Worst = 0;
  for (int64_t I = 0; I < Want.numElements(); ++I) {
    if (Compare && !Compare(I))
      continue;
    ++Compared;
    double W = Want.getDouble(I), H = Got.getDouble(I);
    double Err = std::fabs(W - H);
    if (!(Err <= Abs + Rel * std::fabs(W)))
      ++Bad;
    if (!(Err <= Worst)) {
      Worst = Err;
      WorstAt = I;
    }
  }
  EXPECT_GT(Compared, 0) << What;
  EXPECT_EQ(Bad, 0) << What << ": " << Bad << " of " << Compared
                    << " elements out of tolerance; worst at " << WorstAt
                    << ": reference "
                    << (WorstAt >= 0 ? Want.getDouble(WorstAt) : 0.0)
                    << ", GPU "
                    << (WorstAt >= 0 ? Got.getDouble(WorstAt) : 0.0);
}

/// Row lengths in [1, Seq] whose sum is at most Tokens; with `Empty` the
/// second row is 0, with `Full` the first is Seq (Tokens >= Seq).
std::vector<int64_t> randomLengths(int64_t Batch, int64_t Seq, int64_t Tokens,
                                   std::mt19937_64 &Rng, bool Empty = true,
                                   bool Full = true) {
  std::uniform_int_distribution<int64_t> Length(1, Seq);
  std::vector<int64_t> L(static_cast<size_t>(Batch));
  for (;;) {
    for (int64_t &X : L)
      X = Length(Rng);
    if (Full)
      L[0] = Seq;
    if (Empty && Batch > 1)
      L[1] = 0;
    if (std::accumulate(L.begin(), L.end(), int64_t(0)) <= Tokens)
      return L;
    // Too many for the bucket: shorten every row but the full one.
    for (size_t B = Full ? 1 : 0; B < L.size(); ++B)
      L[B] = L[B] / 2;
    if (std::accumulate(L.begin(), L.end(), int64_t(0)) <= Tokens)
      return L;
  }
}

Tensor prefixMask(int64_t Seq, const std::vector<int64_t> &Lengths,
                  DType T = DType::I64) {
  Tensor M(T, {int64_t(Lengths.size()), Seq});
  for (size_t B = 0; B < Lengths.size(); ++B)
    for (int64_t S = 0; S < Seq; ++S)
      M.setDouble(int64_t(B) * Seq + S, S < Lengths[B] ? 1.0 : 0.0);
  return M;
}

Tensor randomTensor(DType T, std::vector<int64_t> Sizes, std::mt19937_64 &Rng,
                    int64_t IntRange = 1000) {
  Tensor Out(T, std::move(Sizes));
  std::uniform_real_distribution<double> Real(-1.0, 1.0);
  std::uniform_int_distribution<int64_t> Int(1, IntRange);
  for (int64_t I = 0; I < Out.numElements(); ++I)
    if (isFloat(T))
      Out.setDouble(I, Real(Rng));
    else
      Out.setInt(I, Int(Rng));
  return Out;
}

//===----------------------------------------------------------------------===//
// PackTokens
//===----------------------------------------------------------------------===//

/// PackTokens of four values (i64, i32, f16, f32) and the positions.
std::string packGraph(int64_t Batch, int64_t Seq, int64_t Tokens,
                      const std::string &MaskType = "i64") {
  std::string BS = str(Batch) + ", " + str(Seq), T = "[1, " + str(Tokens) + "]";
  return "graph @pack(%mask: " + MaskType + "[" + BS + "], %a: i64[" + BS +
         "], %b: i32[" + BS + "], %c: f16[" + BS + "], %d: f32[" + BS +
         "]) {\n  %spans, %pa, %pb, %pc, %pd, %pos = PackTokens(%mask, %a, "
         "%b, %c, %d) {positions = 1} : i32[" +
         str(Batch) + ", 2], i64" + T + ", i32" + T + ", f16" + T + ", f32" +
         T + ", i32" + T + "\n  return %spans, %pa, %pb, %pc, %pd, %pos\n}\n";
}

void checkPack(int64_t Batch, int64_t Seq, int64_t Tokens, const Tensor &Mask,
               uint64_t Seed, const std::string &MaskType = "i64") {
  auto G = parseGraph(packGraph(Batch, Seq, Tokens, MaskType), "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::mt19937_64 Rng(Seed);
  std::vector<Tensor> Inputs = {Mask,
                                randomTensor(DType::I64, {Batch, Seq}, Rng),
                                randomTensor(DType::I32, {Batch, Seq}, Rng),
                                randomTensor(DType::F16, {Batch, Seq}, Rng),
                                randomTensor(DType::F32, {Batch, Seq}, Rng)};
  auto Want = runReference(**G, Inputs);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  std::vector<Tensor> Got;
  if (!runOnGpu(std::move(*G), Inputs, Got))
    return;
  ASSERT_EQ(Got.size(), Want->size());
  for (size_t O = 0; O < Got.size(); ++O)
    expectClose((*Want)[O], Got[O], 0, 0, "output " + str(int64_t(O)));
}

TEST(PackedTokensPack, PrefixMasksWithRoomToSpare) {
  std::mt19937_64 Rng(11);
  auto L = randomLengths(8, 64, 256, Rng);
  checkPack(8, 64, 256, prefixMask(64, L), 12);
}

TEST(PackedTokensPack, TokensExactlyTheCount) {
  std::mt19937_64 Rng(21);
  auto L = randomLengths(5, 33, 5 * 33, Rng);
  int64_t Count = std::accumulate(L.begin(), L.end(), int64_t(0));
  checkPack(5, 33, Count, prefixMask(33, L), 22);
}

// 64 x 128 entries: eight chunks of the kernel's scan.
TEST(PackedTokensPack, ManyChunks) {
  std::mt19937_64 Rng(31);
  auto L = randomLengths(64, 128, 4000, Rng);
  checkPack(64, 128, 4096, prefixMask(128, L), 32);
}

// Rows of 1500 entries straddle the 1024-entry chunks.
TEST(PackedTokensPack, RowsAcrossChunks) {
  std::vector<int64_t> L = {1500, 0, 1031, 1, 1024};
  checkPack(5, 1500, 4000, prefixMask(1500, L), 42);
}

TEST(PackedTokensPack, EveryRowEmpty) {
  checkPack(4, 16, 8, prefixMask(16, {0, 0, 0, 0}), 52);
}

// Any mask packs (the runtime sends only prefixes, the op takes any), here
// a random bool one.
TEST(PackedTokensPack, RandomBoolMask) {
  std::mt19937_64 Rng(61);
  Tensor Mask(DType::Bool, {6, 50});
  std::bernoulli_distribution Keep(0.4);
  for (int64_t I = 0; I < Mask.numElements(); ++I)
    Mask.setInt(I, Keep(Rng));
  checkPack(6, 50, 300, Mask, 62, "bool");
}

// A mask that keeps more tokens than the bucket: the reference refuses it;
// the kernel writes nothing past the 20 tokens (compute-sanitizer checks
// that) and clamps the spans to them.
TEST(PackedTokensPack, MoreTokensThanTheBucketAreClamped) {
  int64_t Batch = 4, Seq = 16, Tokens = 20;
  std::vector<int64_t> L = {7, 9, 16, 3};
  auto G = parseGraph(packGraph(Batch, Seq, Tokens), "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::mt19937_64 Rng(71);
  std::vector<Tensor> Inputs = {prefixMask(Seq, L),
                                randomTensor(DType::I64, {Batch, Seq}, Rng),
                                randomTensor(DType::I32, {Batch, Seq}, Rng),
                                randomTensor(DType::F16, {Batch, Seq}, Rng),
                                randomTensor(DType::F32, {Batch, Seq}, Rng)};
  ASSERT_FALSE(bool(runReference(**G, Inputs)));
  std::vector<Tensor> Got;
  if (!runOnGpu(std::move(*G), Inputs, Got))
    return;
  ASSERT_EQ(Got.size(), 6u);
  // Spans (0, 7), (7, 9), (16, 4), (20, 0).
  std::vector<int64_t> Spans = {0, 7, 7, 9, 16, 4, 20, 0};
  for (size_t I = 0; I < Spans.size(); ++I)
    EXPECT_EQ(Got[0].getInt(int64_t(I)), Spans[I]) << "spans[" << I << "]";
  // The first 20 kept tokens, in order.
  int64_t Slot = 0;
  for (int64_t B = 0; B < Batch; ++B)
    for (int64_t S = 0; S < L[size_t(B)] && Slot < Tokens; ++S, ++Slot) {
      EXPECT_EQ(Got[1].getInt(Slot), Inputs[1].getInt(B * Seq + S)) << Slot;
      EXPECT_EQ(Got[4].getDouble(Slot), Inputs[4].getDouble(B * Seq + S))
          << Slot;
      EXPECT_EQ(Got[5].getInt(Slot), S) << Slot;
    }
}

//===----------------------------------------------------------------------===//
// Attention over spans
//===----------------------------------------------------------------------===//

struct PackedAttentionCase {
  DType T;
  int64_t Batch, Seq, Tokens, Heads, HeadDim;
  uint64_t Seed;
  AttentionTiling Tiling = {};
};

std::string caseName(const testing::TestParamInfo<PackedAttentionCase> &Info) {
  const PackedAttentionCase &C = Info.param;
  return dtypeName(C.T).str() + "_b" + str(C.Batch) + "_s" + str(C.Seq) + "_t" +
         str(C.Tokens) + "_h" + str(C.Heads) + "_d" + str(C.HeadDim) +
         (C.Tiling.name() == "default" ? "" : "_" + C.Tiling.name());
}

class PackedTokensAttention
    : public testing::TestWithParam<PackedAttentionCase> {};

// Attention(qkv, spans of PackTokens(mask)): the longest span is a row.
TEST_P(PackedTokensAttention, MatchesReference) {
  const PackedAttentionCase &C = GetParam();
  int64_t Hidden = C.Heads * C.HeadDim;
  std::string T = dtypeName(C.T).str();
  std::string Ir =
      "graph @a(%mask: i64[" + str(C.Batch) + ", " + str(C.Seq) +
      "], %qkv: " + T + "[1, " + str(C.Tokens) + ", " + str(3 * Hidden) +
      "]) {\n  %spans = PackTokens(%mask) : i32[" + str(C.Batch) +
      ", 2]\n  %y = Attention(%qkv, none, none, none, %spans) {num_heads = " +
      str(C.Heads) + ", scale = " + std::to_string(1.0 / std::sqrt(C.HeadDim)) +
      "} : " + T + "[1, " + str(C.Tokens) + ", " + str(Hidden) +
      "]\n  return %y\n}\n";
  auto G = parseGraph(Ir, "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::mt19937_64 Rng(C.Seed);
  std::vector<int64_t> L =
      randomLengths(C.Batch, C.Seq, C.Tokens, Rng, C.Batch > 2);
  int64_t Count = std::accumulate(L.begin(), L.end(), int64_t(0));
  std::vector<Tensor> Inputs = {
      prefixMask(C.Seq, L), randomTensor(C.T, {1, C.Tokens, 3 * Hidden}, Rng)};
  auto Want = runReference(**G, Inputs);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  std::vector<Tensor> Got;
  CompileOptions Options;
  C.Tiling.applyTo(Options.Target);
  if (!runOnGpu(std::move(*G), Inputs, Got, Options))
    return;
  double Tol = C.T == DType::F32 ? 1e-4 : 2e-3;
  expectClose((*Want)[0], Got[0], Tol, C.T == DType::F32 ? 1e-3 : 2e-3,
              "attention", [&](int64_t I) { return I / Hidden < Count; });
}

constexpr DType F16 = DType::F16, F32 = DType::F32;

INSTANTIATE_TEST_SUITE_P(
    PackedTokens, PackedTokensAttention,
    testing::Values(
        // MiniLM's heads at the (8, 64, 256) bucket.
        PackedAttentionCase{F16, 8, 64, 256, 12, 32, 1},
        PackedAttentionCase{F32, 8, 64, 256, 12, 32, 2},
        PackedAttentionCase{F16, 5, 77, 200, 4, 64, 3},
        PackedAttentionCase{F32, 5, 77, 200, 4, 64, 4},
        // Spans of several K/V tiles, and lengths that are no tile.
        PackedAttentionCase{F16, 4, 200, 500, 2, 64, 5},
        PackedAttentionCase{F32, 3, 150, 300, 2, 32, 6},
        // Enough CTAs for the 8-warp (128-query) tensor-core kernel.
        PackedAttentionCase{F16, 24, 128, 2048, 12, 32, 7},
        // One sequence of one token.
        PackedAttentionCase{F16, 1, 1, 8, 12, 32, 8},
        PackedAttentionCase{F32, 2, 9, 16, 2, 32, 9}),
    caseName);

// The other tilings of attention_mma (attentionTilings()) over spans:
// short spans, spans of several key tiles, one of one token.
std::vector<PackedAttentionCase> packedTilingCases() {
  const PackedAttentionCase Shapes[] = {{F16, 8, 64, 256, 12, 32, 1},
                                        {F16, 4, 200, 500, 2, 32, 5},
                                        {F16, 24, 128, 2048, 12, 32, 7},
                                        {F16, 1, 1, 8, 12, 32, 8}};
  std::vector<PackedAttentionCase> Cases;
  for (const AttentionTiling &T : attentionTilings())
    for (PackedAttentionCase C : Shapes) {
      C.Tiling = T;
      Cases.push_back(C);
    }
  return Cases;
}

INSTANTIATE_TEST_SUITE_P(Tilings, PackedTokensAttention,
                         testing::ValuesIn(packedTilingCases()), caseName);

// Spans given as an input (any order, gaps between them, one empty): the
// grid covers all the tokens; separate q, k and v.
TEST(PackedTokensAttentionGivenSpans, MatchesReference) {
  for (DType T : {F16, F32}) {
    std::string Ty = dtypeName(T).str();
    auto G = parseGraph(
        "graph @a(%q: " + Ty + "[1, 90, 128], %k: " + Ty +
            "[1, 90, 128], %v: " + Ty +
            "[1, 90, 128], %spans: i32[4, 2]) {\n  %y = Attention(%q, %k, "
            "%v, none, %spans) {num_heads = 2, scale = 0.125} : " +
            Ty + "[1, 90, 128]\n  return %y\n}\n",
        "<test>");
    ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
    std::mt19937_64 Rng(81);
    Tensor Spans =
        Tensor::fromInts(DType::I32, {4, 2}, {70, 20, 3, 60, 0, 0, 66, 1});
    std::vector<Tensor> Inputs = {randomTensor(T, {1, 90, 128}, Rng),
                                  randomTensor(T, {1, 90, 128}, Rng),
                                  randomTensor(T, {1, 90, 128}, Rng), Spans};
    auto Want = runReference(**G, Inputs);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    std::vector<Tensor> Got;
    if (!runOnGpu(std::move(*G), Inputs, Got))
      return;
    auto InSpan = [](int64_t I) {
      int64_t Tok = I / 128;
      return (Tok >= 70 && Tok < 90) || (Tok >= 3 && Tok < 63) || Tok == 66;
    };
    double Tol = T == F32 ? 1e-4 : 2e-3;
    expectClose((*Want)[0], Got[0], Tol, T == F32 ? 1e-3 : 2e-3,
                "attention " + Ty, InSpan);
  }
}

//===----------------------------------------------------------------------===//
// PoolNormalize over spans
//===----------------------------------------------------------------------===//

void checkPackedPool(DType T, int64_t Batch, int64_t Seq, int64_t Tokens,
                     int64_t Hidden, const std::string &Mode, uint64_t Seed) {
  std::string Ty = dtypeName(T).str();
  auto G = parseGraph(
      "graph @p(%mask: i64[" + str(Batch) + ", " + str(Seq) + "], %h: " + Ty +
          "[1, " + str(Tokens) + ", " + str(Hidden) +
          "]) {\n  %spans = PackTokens(%mask) : i32[" + str(Batch) +
          ", 2]\n  %y = PoolNormalize(%h, none, %spans) {epsilon = 1.0e-12, "
          "min_count = 1.0e-09, mode = \"" +
          Mode + "\", normalize = 1} : " + Ty + "[" + str(Batch) + ", " +
          str(Hidden) + "]\n  return %y\n}\n",
      "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::mt19937_64 Rng(Seed);
  std::vector<int64_t> L = randomLengths(Batch, Seq, Tokens, Rng);
  std::vector<Tensor> Inputs = {prefixMask(Seq, L),
                                randomTensor(T, {1, Tokens, Hidden}, Rng)};
  auto Want = runReference(**G, Inputs);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  std::vector<Tensor> Got;
  if (!runOnGpu(std::move(*G), Inputs, Got))
    return;
  double Tol = T == F32 ? 1e-4 : 2e-3;
  expectClose((*Want)[0], Got[0], Tol, T == F32 ? 1e-3 : 2e-3, "pooled");
}

TEST(PackedTokensPool, MeanF16) {
  checkPackedPool(F16, 8, 64, 256, 384, "mean", 91);
}
TEST(PackedTokensPool, MeanF32) {
  checkPackedPool(F32, 6, 100, 400, 768, "mean", 92);
}
TEST(PackedTokensPool, ClsF32) {
  checkPackedPool(F32, 5, 20, 60, 384, "cls", 93);
}
TEST(PackedTokensPool, ClsF16) {
  checkPackedPool(F16, 7, 33, 120, 1024, "cls", 94);
}

//===----------------------------------------------------------------------===//
// MiniLM: pack-tokens, lowering, the GPU, against the padded reference
//===----------------------------------------------------------------------===//

void checkPackedMiniLm(Precision P, double MinCosine) {
  constexpr int64_t Batch = 8, Seq = 64, Tokens = 256;
  auto Imported = importOnnxFile(std::string(KILN_SOURCE_DIR) +
                                 "/tests/models/minilm_l2_opset14.onnx");
  ASSERT_TRUE(bool(Imported)) << llvm::toString(Imported.takeError());
  std::unique_ptr<Graph> Padded = std::move(*Imported);
  if (llvm::Error E = runPassPipeline(*Padded, *namedPipeline("O2"), {}))
    FAIL() << llvm::toString(std::move(E));
  // What compileGraph does for a packed bucket: the precision pass and its
  // clean-up after -O2, pack-tokens, then the bucket's bindings.
  std::unique_ptr<Graph> Packed = Padded->clone();
  if (P != Precision::F32) {
    PassPipeline Steps = {precisionStep(P)};
    for (llvm::StringRef Pass :
         {"canonicalize", "fuse-elementwise", "cse", "dce"})
      Steps.push_back(passStep(Pass));
    if (llvm::Error E = runPassPipeline(*Packed, Steps, {}))
      FAIL() << llvm::toString(std::move(E));
  }
  std::string Why;
  auto Changed = packTokens(*Packed, &Why);
  ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
  ASSERT_TRUE(*Changed) << Why;
  PassOptions Bind;
  Bind.set("batch", str(Batch));
  Bind.set("seq", str(Seq));
  Bind.set("tokens", str(Tokens));
  if (llvm::Error E = specializeGraph(*Packed, Bind))
    FAIL() << llvm::toString(std::move(E));

  int64_t Vocab = 0;
  for (const auto &N : Packed->nodes())
    if (N->opName() == "EmbedLayerNorm")
      Vocab = N->operand(3)->type().Dims[0].value();
  ASSERT_GT(Vocab, 1);
  std::mt19937_64 Rng(2026);
  std::vector<int64_t> L = randomLengths(Batch, Seq, Tokens, Rng);
  std::uniform_int_distribution<int64_t> Id(1, Vocab - 1), Type(0, 1);
  std::vector<Tensor> Inputs;
  for (const Value *In : Padded->inputs()) {
    ASSERT_EQ(In->rank(), 2) << In->name();
    if (In->name().find("mask") != std::string::npos) {
      Inputs.push_back(prefixMask(Seq, L, In->dtype()));
      continue;
    }
    bool Types = In->name().find("type") != std::string::npos;
    Tensor X(In->dtype(), {Batch, Seq});
    for (int64_t I = 0; I < X.numElements(); ++I)
      X.setInt(I, Types ? Type(Rng) : Id(Rng));
    Inputs.push_back(std::move(X));
  }
  // The packed plan takes the padded graph's inputs.
  ASSERT_EQ(Packed->inputs().size(), Padded->inputs().size());
  for (size_t I = 0; I < Inputs.size(); ++I) {
    EXPECT_EQ(Packed->inputs()[I]->name(), Padded->inputs()[I]->name());
    EXPECT_EQ(Packed->inputs()[I]->type().staticSizes(),
              Inputs[I].sizes().vec());
    EXPECT_EQ(Packed->inputs()[I]->dtype(), Inputs[I].dtype());
  }
  auto Want = runReference(*Padded, Inputs);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  std::vector<Tensor> Got;
  if (!runOnGpu(std::move(Packed), Inputs, Got))
    return;
  ASSERT_EQ(Got.size(), Want->size());
  const Tensor &W = (*Want)[0], &H = Got[0];
  ASSERT_EQ(W.sizes().vec(), H.sizes().vec());
  int64_t Width = W.dim(1);
  double Worst = 1;
  for (int64_t B = 0; B < Batch; ++B) {
    double Dot = 0, WW = 0, HH = 0;
    for (int64_t E = 0; E < Width; ++E) {
      double A = W.getDouble(B * Width + E), C = H.getDouble(B * Width + E);
      Dot += A * C;
      WW += A * A;
      HH += C * C;
    }
    if (L[size_t(B)] == 0) {
      // An empty row pools to 0 in both.
      EXPECT_LT(std::sqrt(WW), 1e-6) << "row " << B;
      EXPECT_LT(std::sqrt(HH), 1e-6) << "row " << B;
      continue;
    }
    double Cosine = Dot / std::sqrt(WW * HH);
    Worst = std::min(Worst, Cosine);
    EXPECT_GE(Cosine, MinCosine) << "row " << B << " of length " << L[B];
  }
  std::printf("packed MiniLM (%s): lowest cosine %.8f\n",
              precisionName(P).str().c_str(), Worst);
}

TEST(PackedTokensMiniLm, F32MatchesPaddedReference) {
  checkPackedMiniLm(Precision::F32, 0.99999);
}

TEST(PackedTokensMiniLm, F16MatchesPaddedReference) {
  checkPackedMiniLm(Precision::F16, 0.999);
}

} // namespace
} // namespace kiln
