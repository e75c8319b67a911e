//===- FusedKernelsTest.cpp - the fused ops' kernels vs the reference -----===//
//
// LayerNorm, SkipLayerNorm, EmbedLayerNorm, Attention and PoolNormalize on
// the GPU against the reference executor, per storage type and over the
// shapes that matter: all-MiniLM-L6-v2's (hidden 384, 12 heads of 32), the
// BERT-base/large and head_dim 128 ones, sequence lengths that are no
// multiple of any tile (1, 7, 33, 200), and padding masks with random
// lengths. Graph inputs are random in [-1, 1]; padding masks and ids are
// constants built here.
//
// Tolerances, absolute + relative to the reference value (data of scale 1):
// f32 1e-4 + 1e-3; f16 storage 2e-3 + 2e-3 (one f16 rounding of the result
// is 5e-4 at 1); bf16 storage 1e-2 + 1e-2 (one bf16 rounding is 4e-3 at 1,
// and attention's P is rounded to bf16 before P V).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/KernelLibrary.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <ostream>
#include <random>

namespace kiln {
namespace {

GpuCheck tolerance(DType T, uint64_t Seed = 1) {
  GpuCheck C;
  C.Seed = Seed;
  if (T == DType::F16)
    C.AbsTol = C.RelTol = 2e-3;
  if (T == DType::BF16)
    C.AbsTol = C.RelTol = 1e-2;
  return C;
}

/// `Text` with every `${Key}` replaced by its value.
std::string
fill(std::string Text,
     std::initializer_list<std::pair<std::string, std::string>> Values) {
  for (const auto &[Key, Value] : Values) {
    std::string Pattern = "${" + Key + "}";
    for (size_t At = Text.find(Pattern); At != std::string::npos;
         At = Text.find(Pattern, At + Value.size()))
      Text.replace(At, Pattern.size(), Value);
  }
  return Text;
}

std::string str(int64_t V) { return std::to_string(V); }
std::string str(DType T) { return dtypeName(T).str(); }

/// Sequence lengths in [1, Seq], one of them Seq (and, with `Empty`, the
/// last one 0: a sequence that is all padding).
std::vector<int64_t> randomLengths(int64_t Batch, int64_t Seq, uint64_t Seed,
                                   bool Empty = false) {
  std::mt19937_64 Rng(Seed);
  std::uniform_int_distribution<int64_t> Length(1, Seq);
  std::vector<int64_t> Lengths(Batch);
  for (int64_t &L : Lengths)
    L = Length(Rng);
  Lengths[0] = Seq;
  if (Empty && Batch > 1)
    Lengths.back() = 0;
  return Lengths;
}

Tensor randomInts(DType T, std::vector<int64_t> Sizes, int64_t Range,
                  uint64_t Seed) {
  std::mt19937_64 Rng(Seed);
  std::uniform_int_distribution<int64_t> Int(0, Range - 1);
  Tensor Out(T, std::move(Sizes));
  for (int64_t I = 0; I < Out.numElements(); ++I)
    Out.setInt(I, Int(Rng));
  return Out;
}

//===----------------------------------------------------------------------===//
// LayerNorm
//===----------------------------------------------------------------------===//

struct NormCase {
  DType T;
  std::vector<int64_t> Rows; // the leading dims
  int64_t Width;
  bool Bias;
};

std::string shapeOf(const std::vector<int64_t> &Lead, int64_t Width) {
  std::string S;
  for (int64_t D : Lead)
    S += str(D) + ", ";
  return S + str(Width);
}

void PrintTo(const NormCase &C, std::ostream *OS) {
  *OS << str(C.T) << "[" << shapeOf(C.Rows, C.Width) << "]"
      << (C.Bias ? " with bias" : "");
}

class LayerNormTest : public testing::TestWithParam<NormCase> {};

TEST_P(LayerNormTest, MatchesReference) {
  const NormCase &C = GetParam();
  std::string Ir = fill(R"(
graph @ln(%x: ${T}[${X}], %scale: ${T}[${W}], %bias: ${T}[${W}]) {
  %y = LayerNorm(%x, %scale${BIAS}) {epsilon = 1.0e-12} : ${T}[${X}]
  return %y
}
)",
                        {{"T", str(C.T)},
                         {"X", shapeOf(C.Rows, C.Width)},
                         {"W", str(C.Width)},
                         {"BIAS", C.Bias ? ", %bias" : ""}});
  expectGpuMatchesReference(Ir, tolerance(C.T));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LayerNormTest,
    testing::Values(NormCase{DType::F32, {2, 7}, 384, true},
                    NormCase{DType::F16, {3, 5}, 384, true},
                    NormCase{DType::BF16, {2, 3}, 768, true},
                    NormCase{DType::F32, {5}, 30, false},
                    NormCase{DType::F16, {4}, 1024, false},
                    NormCase{DType::F32, {3}, 4096, true},
                    NormCase{DType::F16, {2}, 8192, true}));

//===----------------------------------------------------------------------===//
// SkipLayerNorm
//===----------------------------------------------------------------------===//

struct SkipCase {
  DType T;
  std::vector<int64_t> X, Skip; // Skip may broadcast along leading dims
  bool Bias, Extra;
};

void PrintTo(const SkipCase &C, std::ostream *OS) {
  auto Dims = [](const std::vector<int64_t> &Sizes) {
    return shapeOf({Sizes.begin(), Sizes.end() - 1}, Sizes.back());
  };
  *OS << str(C.T) << " x [" << Dims(C.X) << "] skip [" << Dims(C.Skip) << "]"
      << (C.Bias ? " bias" : "") << (C.Extra ? " extra" : "");
}

class SkipLayerNormTest : public testing::TestWithParam<SkipCase> {};

TEST_P(SkipLayerNormTest, MatchesReference) {
  const SkipCase &C = GetParam();
  int64_t Width = C.X.back();
  std::vector<int64_t> XLead(C.X.begin(), C.X.end() - 1);
  std::vector<int64_t> SkipLead(C.Skip.begin(), C.Skip.end() - 1);
  std::string Operands = "%x, %skip, %scale";
  if (C.Bias || C.Extra)
    Operands += C.Bias ? ", %bias" : ", none";
  if (C.Extra)
    Operands += ", %extra";
  std::string Ir = fill(R"(
graph @skip(%x: ${T}[${X}], %skip: ${T}[${S}], %scale: ${T}[${W}], %bias: ${T}[${W}], %extra: ${T}[${W}]) {
  %y = SkipLayerNorm(${OPS}) {epsilon = 1.0e-05} : ${T}[${X}]
  return %y
}
)",
                        {{"T", str(C.T)},
                         {"X", shapeOf(XLead, Width)},
                         {"S", shapeOf(SkipLead, Width)},
                         {"W", str(Width)},
                         {"OPS", Operands}});
  expectGpuMatchesReference(Ir, tolerance(C.T));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SkipLayerNormTest,
    testing::Values(
        // all-MiniLM-L6-v2 at (2, 128), fp16, with the FFN output's bias.
        SkipCase{DType::F16, {2, 128, 384}, {2, 128, 384}, true, true},
        SkipCase{DType::F32, {2, 7, 384}, {2, 7, 384}, false, false},
        SkipCase{DType::F32, {2, 7, 384}, {2, 7, 384}, true, true},
        SkipCase{DType::BF16, {2, 5, 1024}, {2, 5, 1024}, true, false},
        SkipCase{DType::F32, {2, 7, 64}, {7, 64}, true, false},
        SkipCase{DType::F16, {3, 4096}, {1, 4096}, false, true}));

//===----------------------------------------------------------------------===//
// EmbedLayerNorm
//===----------------------------------------------------------------------===//

/// all-MiniLM-L6-v2's embeddings (vocab cut to 1000): word ids and token
/// types as constants, positions implicit.
void checkMiniLmEmbedding(DType T, int64_t Batch, int64_t Seq) {
  const int64_t Hidden = 384, Vocab = 1000;
  Graph G("embed");
  Value *Word = G.addInput("word", TensorType::get(T, {Vocab, Hidden}));
  Value *Pos = G.addInput("pos", TensorType::get(T, {512, Hidden}));
  Value *Type = G.addInput("type", TensorType::get(T, {2, Hidden}));
  Value *Scale = G.addInput("scale", TensorType::get(T, {Hidden}));
  Value *Bias = G.addInput("bias", TensorType::get(T, {Hidden}));
  Value *Ids =
      G.addConstant("ids", randomInts(DType::I64, {Batch, Seq}, Vocab, 7));
  Value *Types =
      G.addConstant("types", randomInts(DType::I64, {Batch, Seq}, 2, 8));
  Node *N = G.createNode(
      "EmbedLayerNorm", {Ids, nullptr, Types, Word, Pos, Type, Scale, Bias},
      {TensorType::get(T, {Batch, Seq, Hidden})}, {{"epsilon", 1e-12f}});
  G.setOutputs({N->result()});
  expectGpuMatchesReference(G, tolerance(T));
}

TEST(EmbedLayerNormTest, MiniLmF32) { checkMiniLmEmbedding(DType::F32, 2, 33); }
TEST(EmbedLayerNormTest, MiniLmF16) {
  checkMiniLmEmbedding(DType::F16, 4, 128);
}
TEST(EmbedLayerNormTest, MiniLmBF16) {
  checkMiniLmEmbedding(DType::BF16, 2, 7);
}

// i32 word ids and position ids [1, seq] broadcast over the batch, no token
// type table; every id is drawn from [0, 64), the tables' size.
TEST(EmbedLayerNormTest, PositionIdsNoTypeF32) {
  expectGpuMatchesReference(R"(
graph @embed(%ids: i32[3, 9], %pids: i64[1, 9], %word: f32[64, 96], %pos: f32[64, 96], %scale: f32[96], %bias: f32[96]) {
  %y = EmbedLayerNorm(%ids, %pids, none, %word, %pos, none, %scale, %bias) {epsilon = 1.0e-05} : f32[3, 9, 96]
  return %y
}
)",
                            [] {
                              GpuCheck C;
                              C.IntRange = 64;
                              return C;
                            }());
}

// Every id given, BERT-base's width.
TEST(EmbedLayerNormTest, AllIdsBF16) {
  GpuCheck C = tolerance(DType::BF16);
  C.IntRange = 64;
  expectGpuMatchesReference(R"(
graph @embed(%ids: i64[2, 17], %pids: i64[2, 17], %tids: i64[2, 17], %word: bf16[64, 768], %pos: bf16[64, 768], %type: bf16[64, 768], %scale: bf16[768], %bias: bf16[768]) {
  %y = EmbedLayerNorm(%ids, %pids, %tids, %word, %pos, %type, %scale, %bias) {epsilon = 1.0e-12} : bf16[2, 17, 768]
  return %y
}
)",
                            C);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

enum class MaskShape {
  None,
  Padding,  // [B, 1, 1, S] constant: 0, or MaskValue past each length
  QueryKey, // [B, 1, S, S] random input
  HeadBias, // [1, H, S, S] random input (MPNet's position bias)
  Full,     // [B, H, S, S] random input
};

struct AttentionCase {
  DType T;
  int64_t Batch, Seq, Heads, HeadDim;
  bool Packed;
  MaskShape Mask;
  /// Padding: the value of masked keys, and the mask's dtype.
  float MaskValue = -10000.0f;
  DType MaskType = DType::F32;
  /// Padding: one sequence entirely padding.
  bool EmptySequence = false;
  /// Unpacked only: keys and values of another length.
  int64_t SeqK = 0;
  AttentionTiling Tiling = {};
};

std::unique_ptr<Graph> attentionGraph(const AttentionCase &C) {
  auto G = std::make_unique<Graph>("attention");
  int64_t Hidden = C.Heads * C.HeadDim, SeqK = C.SeqK ? C.SeqK : C.Seq;
  std::vector<Value *> Operands;
  if (C.Packed) {
    Operands = {
        G->addInput("qkv", TensorType::get(C.T, {C.Batch, C.Seq, 3 * Hidden})),
        nullptr, nullptr};
  } else {
    Operands = {
        G->addInput("q", TensorType::get(C.T, {C.Batch, C.Seq, Hidden})),
        G->addInput("k", TensorType::get(C.T, {C.Batch, SeqK, Hidden})),
        G->addInput("v", TensorType::get(C.T, {C.Batch, SeqK, Hidden}))};
  }
  switch (C.Mask) {
  case MaskShape::None: break;
  case MaskShape::Padding: {
    Tensor Mask(C.MaskType, {C.Batch, 1, 1, SeqK});
    std::vector<int64_t> Lengths = randomLengths(
        C.Batch, SeqK, uint64_t(C.Seq * 31 + C.Batch), C.EmptySequence);
    for (int64_t B = 0; B < C.Batch; ++B)
      for (int64_t J = 0; J < SeqK; ++J)
        Mask.setDouble(B * SeqK + J, J < Lengths[B] ? 0.0 : C.MaskValue);
    Operands.push_back(G->addConstant("mask", std::move(Mask)));
    break;
  }
  case MaskShape::QueryKey:
    Operands.push_back(G->addInput(
        "mask", TensorType::get(C.MaskType, {C.Batch, 1, C.Seq, SeqK})));
    break;
  case MaskShape::HeadBias:
    Operands.push_back(G->addInput(
        "mask", TensorType::get(C.MaskType, {1, C.Heads, C.Seq, SeqK})));
    break;
  case MaskShape::Full:
    Operands.push_back(G->addInput(
        "mask", TensorType::get(C.MaskType, {C.Batch, C.Heads, C.Seq, SeqK})));
    break;
  }
  Node *N = G->createNode(
      "Attention", Operands, {TensorType::get(C.T, {C.Batch, C.Seq, Hidden})},
      {{"num_heads", C.Heads},
       {"scale", float(1.0 / std::sqrt(double(C.HeadDim)))}});
  G->setOutputs({N->result()});
  return G;
}

std::string attentionName(const testing::TestParamInfo<AttentionCase> &Info) {
  const AttentionCase &C = Info.param;
  static const char *Masks[] = {"nomask", "padding", "qk", "headbias", "full"};
  std::string Name = str(C.T) + "_b" + str(C.Batch) + "_s" + str(C.Seq) +
                     (C.SeqK ? "_sk" + str(C.SeqK) : "") + "_h" + str(C.Heads) +
                     "_d" + str(C.HeadDim) + (C.Packed ? "_packed_" : "_") +
                     Masks[int(C.Mask)];
  if (C.Mask == MaskShape::Padding)
    Name += "_" + str(C.MaskType) + (C.MaskValue < -1e30f ? "_min" : "") +
            (C.EmptySequence ? "_empty" : "");
  std::string Tiling = C.Tiling.name();
  return Tiling == "default" ? Name : Name + "_" + Tiling;
}

void PrintTo(const AttentionCase &C, std::ostream *OS) {
  *OS << attentionName(testing::TestParamInfo<AttentionCase>(C, 0));
}

class AttentionTest : public testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesReference) {
  const AttentionCase &C = GetParam();
  GpuCheck Check = tolerance(C.T, C.Seq);
  Check.Attention = C.Tiling;
  expectGpuMatchesReference(*attentionGraph(C), Check);
}

constexpr float FloatMin = -3.4028234663852886e38f;
constexpr DType F16 = DType::F16, BF16 = DType::BF16, F32 = DType::F32;

// all-MiniLM-L6-v2 after -O2 --precision fp16: packed QKV, 12 heads of 32,
// an f16 padding mask of finfo(f16).min.
INSTANTIATE_TEST_SUITE_P(
    MiniLm, AttentionTest,
    testing::Values(AttentionCase{F16, 2, 1, 12, 32, true, MaskShape::Padding,
                                  -65504.0f, F16},
                    AttentionCase{F16, 3, 7, 12, 32, true, MaskShape::Padding,
                                  -65504.0f, F16},
                    AttentionCase{F16, 3, 33, 12, 32, true, MaskShape::Padding,
                                  -65504.0f, F16},
                    AttentionCase{F16, 4, 128, 12, 32, true, MaskShape::Padding,
                                  -65504.0f, F16},
                    AttentionCase{F16, 2, 200, 12, 32, true, MaskShape::Padding,
                                  -65504.0f, F16},
                    // Enough CTAs for the 8-warp (128-query) variant.
                    AttentionCase{F16, 24, 128, 12, 32, true,
                                  MaskShape::Padding, -65504.0f, F16},
                    AttentionCase{BF16, 3, 128, 12, 32, true,
                                  MaskShape::Padding, -10000.0f, F32},
                    AttentionCase{F32, 3, 33, 12, 32, true, MaskShape::Padding},
                    AttentionCase{F32, 2, 128, 12, 32, true, MaskShape::Padding,
                                  FloatMin}),
    attentionName);

INSTANTIATE_TEST_SUITE_P(
    HeadDims, AttentionTest,
    testing::Values(
        AttentionCase{F16, 2, 77, 4, 64, true, MaskShape::Padding, -10000.0f,
                      F16},
        AttentionCase{BF16, 2, 77, 4, 64, true, MaskShape::Padding},
        AttentionCase{F16, 2, 200, 2, 128, true, MaskShape::None},
        AttentionCase{BF16, 2, 65, 2, 128, false, MaskShape::Padding},
        AttentionCase{F16, 2, 40, 4, 16, true, MaskShape::Padding},
        AttentionCase{F32, 2, 7, 4, 64, true, MaskShape::QueryKey},
        AttentionCase{F32, 2, 200, 2, 128, true, MaskShape::None},
        // head_dim 8 (a 32-wide model of 4 heads) takes the SIMT kernel.
        AttentionCase{F16, 2, 9, 4, 8, true, MaskShape::Padding, -10000.0f,
                      F16}),
    attentionName);

INSTANTIATE_TEST_SUITE_P(
    Masks, AttentionTest,
    testing::Values(
        AttentionCase{F16, 2, 65, 12, 32, true, MaskShape::HeadBias, 0, F16},
        AttentionCase{F16, 2, 33, 4, 64, false, MaskShape::Full, 0, F16},
        AttentionCase{F16, 2, 33, 4, 64, false, MaskShape::QueryKey, 0, F32,
                      false, 70},
        AttentionCase{BF16, 2, 20, 2, 128, false, MaskShape::QueryKey, 0, BF16},
        AttentionCase{F32, 2, 33, 4, 32, false, MaskShape::HeadBias},
        AttentionCase{F32, 2, 33, 4, 32, false, MaskShape::None, 0, F32, false,
                      5},
        // Entirely padded sequences: finite, the mean of v, as the
        // reference computes it.
        AttentionCase{F16, 3, 40, 12, 32, true, MaskShape::Padding, -65504.0f,
                      F16, true},
        AttentionCase{F32, 3, 40, 12, 32, true, MaskShape::Padding, FloatMin,
                      F32, true}),
    attentionName);

// The other tilings of attention_mma and attention_short
// (attentionTilings()) on the shapes that exercise them: one key tile and
// several, partial tiles, CTAs past a short sequence's end, every mask kind
// but spans (PackedTokensTest), bf16, head_dim 16 and 64 where two stages
// of their key tiles fit; attention_short's forced tilings where it
// applies (head_dim 16 or 32, at most 128 keys).
std::vector<AttentionCase> tilingCases() {
  const AttentionCase Shapes[] = {
      {F16, 3, 7, 12, 32, true, MaskShape::Padding, -65504.0f, F16},
      {F16, 4, 128, 12, 32, true, MaskShape::Padding, -65504.0f, F16},
      {F16, 2, 200, 12, 32, true, MaskShape::Padding, -65504.0f, F16, true},
      {BF16, 3, 128, 12, 32, true, MaskShape::Padding, -10000.0f, F32},
      {F16, 2, 65, 12, 32, true, MaskShape::HeadBias, 0, F16},
      {F16, 2, 33, 4, 32, false, MaskShape::None, 0, F32, false, 150},
      {F16, 2, 77, 4, 64, true, MaskShape::Padding, -10000.0f, F16},
      {F16, 2, 40, 4, 16, true, MaskShape::QueryKey, 0, F16}};
  std::vector<AttentionCase> Cases;
  for (const AttentionTiling &T : attentionTilings())
    for (AttentionCase C : Shapes) {
      int BK = T.KeyTile ? T.KeyTile : C.HeadDim <= 64 ? 64 : 32;
      if (4 * BK * (C.HeadDim + 8) * 2 > 48 * 1024)
        continue; // two stages of K and V do not fit: the lowering refuses
      bool ShortApplies = (C.HeadDim == 16 || C.HeadDim == 32) &&
                          (C.SeqK ? C.SeqK : C.Seq) <= 128;
      if (T.Short == TargetInfo::Switch::On && !ShortApplies)
        continue; // attention_mma with these warps: the tilings above
      if (T.Short == TargetInfo::Switch::On && T.KeyTile == 64 &&
          C.HeadDim == 16 && T.Warps == 8)
        continue; // one pass of 8 warps copies 128 rows: no second batch
      C.Tiling = T;
      Cases.push_back(C);
    }
  return Cases;
}

INSTANTIATE_TEST_SUITE_P(Tilings, AttentionTest,
                         testing::ValuesIn(tilingCases()), attentionName);

//===----------------------------------------------------------------------===//
// PoolNormalize
//===----------------------------------------------------------------------===//

/// Masked mean pooling with a constant padding mask of `MaskType`.
void checkMeanPool(DType T, DType MaskType, int64_t Batch, int64_t Seq,
                   int64_t Hidden, bool Normalize, bool Empty = false) {
  Graph G("pool");
  Value *H = G.addInput("h", TensorType::get(T, {Batch, Seq, Hidden}));
  Tensor Mask(MaskType, {Batch, Seq});
  std::vector<int64_t> Lengths = randomLengths(Batch, Seq, Seq + 3, Empty);
  for (int64_t B = 0; B < Batch; ++B)
    for (int64_t S = 0; S < Seq; ++S)
      Mask.setDouble(B * Seq + S, S < Lengths[B] ? 1.0 : 0.0);
  Value *M = G.addConstant("mask", std::move(Mask));
  AttrMap Attrs = {{"mode", "mean"},
                   {"normalize", int64_t(Normalize)},
                   {"min_count", 1e-9f}};
  if (Normalize)
    Attrs["epsilon"] = 1e-12f;
  Node *N = G.createNode("PoolNormalize", {H, M},
                         {TensorType::get(T, {Batch, Hidden})}, Attrs);
  G.setOutputs({N->result()});
  expectGpuMatchesReference(G, tolerance(T));
}

// all-MiniLM-L6-v2's pooling, fp16, i64 attention mask.
TEST(PoolNormalizeTest, MiniLmF16) {
  checkMeanPool(DType::F16, DType::I64, 4, 128, 384, true);
}
TEST(PoolNormalizeTest, MiniLmF32) {
  checkMeanPool(DType::F32, DType::I64, 3, 33, 384, true, true);
}
TEST(PoolNormalizeTest, FloatMaskBF16) {
  checkMeanPool(DType::BF16, DType::F32, 2, 200, 768, true);
}
TEST(PoolNormalizeTest, NoNormalizeF16) {
  checkMeanPool(DType::F16, DType::F16, 3, 7, 1024, false);
}
TEST(PoolNormalizeTest, WideF32) {
  checkMeanPool(DType::F32, DType::I64, 2, 9, 4096, true);
}
// Fewer sequences than SMs take 1024 threads each (every test above); as
// many as the SMs (132 on the default target) take 256.
TEST(PoolNormalizeTest, ManySequencesTake256Threads) {
  checkMeanPool(DType::F16, DType::I64, 140, 40, 384, true, true);
  checkMeanPool(DType::F32, DType::I64, 132, 9, 8, true);
}
TEST(PoolNormalizeTest, TinyRowsManyGroups) {
  // 8 f16 values: one access a row, 1024 groups of one thread.
  checkMeanPool(DType::F16, DType::I64, 2, 1500, 8, true);
}

// fp16 hidden states pooled into an f32 embedding (what the precision pass
// makes of a pooled f32 output): the kernel stores floats.
TEST(PoolNormalizeTest, F16StatesF32Result) {
  expectGpuMatchesReference(R"(
graph @pool(%h: f16[5, 77, 384], %mask: i64[5, 77]) {
  %y = PoolNormalize(%h, %mask) {dtype = "f32", epsilon = 1.0e-12, min_count = 1.0e-09, mode = "mean", normalize = 1} : f32[5, 384]
  return %y
}
)",
                            tolerance(DType::F16));
}

// A random 0/1 mask (not a prefix), as an input.
TEST(PoolNormalizeTest, RandomMaskF16) {
  expectGpuMatchesReference(R"(
graph @pool(%h: f16[3, 50, 384], %mask: i64[3, 50]) {
  %y = PoolNormalize(%h, %mask) {epsilon = 1.0e-12, min_count = 1.0e-09, mode = "mean", normalize = 1} : f16[3, 384]
  return %y
}
)",
                            tolerance(DType::F16));
}

TEST(PoolNormalizeTest, MeanWithoutMaskF32) {
  expectGpuMatchesReference(R"(
graph @pool(%h: f32[2, 13, 30]) {
  %y = PoolNormalize(%h) {min_count = 1.0e-09, mode = "mean", normalize = 0} : f32[2, 30]
  return %y
}
)");
}

TEST(PoolNormalizeTest, ClsF32) {
  expectGpuMatchesReference(R"(
graph @pool(%h: f32[4, 9, 384], %mask: i64[4, 9]) {
  %y = PoolNormalize(%h, %mask) {epsilon = 1.0e-12, mode = "cls", normalize = 1} : f32[4, 384]
  return %y
}
)");
}

TEST(PoolNormalizeTest, ClsBF16) {
  expectGpuMatchesReference(R"(
graph @pool(%h: bf16[2, 5, 768]) {
  %y = PoolNormalize(%h) {epsilon = 1.0e-12, mode = "cls", normalize = 1} : bf16[2, 768]
  return %y
}
)",
                            tolerance(DType::BF16));
}

//===----------------------------------------------------------------------===//
// Lowering decisions, without a GPU
//===----------------------------------------------------------------------===//

/// Lowers the last node of `IrText` (the one a test is about; any before it
/// feed it) with its registered rule.
llvm::Expected<NodeLowering> lowerOnly(llvm::StringRef IrText,
                                       const TargetInfo &Target = {}) {
  auto G = parseGraph(IrText, "<test>");
  if (!G)
    return G.takeError();
  const Node &N = *(*G)->nodes().back();
  const LoweringRule *Rule = KernelRegistry::get().lookup(N.opName());
  EXPECT_NE(Rule, nullptr) << N.opName().str();
  return (*Rule)(N, Target);
}

// The -O2 MiniLM attention at (batch 32, seq 128) in fp16: tensor cores,
// every key in shared memory (attention_short), 8 warps (384 CTAs of 128
// queries) and 3 CTAs an SM, the padding mask staged once.
TEST(FusedLoweringTest, MiniLmAttentionInstantiation) {
  auto L = lowerOnly(R"(
graph @a(%qkv: f16[32, 128, 1152], %mask: f16[32, 1, 1, 128]) {
  %y = Attention(%qkv, none, none, %mask) {num_heads = 12, scale = 0.17677669} : f16[32, 128, 384]
  return %y
}
)");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  ASSERT_EQ(L->Launches.size(), 1u);
  const KernelLaunch &K = L->Launches[0];
  EXPECT_EQ(K.Module, "attention.cuh");
  EXPECT_EQ(K.NameExpr, "kiln::attention_short<32, 8, 3, __half, __half, 1>");
  EXPECT_EQ(K.Grid[0], 1u);
  EXPECT_EQ(K.Grid[1], 12u);
  EXPECT_EQ(K.Grid[2], 32u);
  EXPECT_EQ(K.Block[0], 256u);
  ASSERT_EQ(K.Args.size(), 18u);
  EXPECT_EQ(K.Args[8].Int, 1152); // q stride: the packed row
  EXPECT_EQ(K.Args[11].Int, 384); // k offset
  EXPECT_EQ(K.Args[12].Int, 768); // v offset
  EXPECT_EQ(K.Args[13].Int, 128); // mask batch stride
  EXPECT_EQ(K.Args[15].Int, 0);   // mask query stride: broadcast
}

// A tiling named in the target (`kiln compile --attention-tiling`): its
// template arguments, and a grid of 16 * RowTiles * Warps-query CTAs.
TEST(FusedLoweringTest, AttentionTilingFromTheTarget) {
  const char *Ir = R"(
graph @a(%qkv: f16[32, 128, 1152], %mask: f16[32, 1, 1, 128]) {
  %y = Attention(%qkv, none, none, %mask) {num_heads = 12, scale = 0.17677669} : f16[32, 128, 384] loc("/attn")
  return %y
}
)";
  TargetInfo Target;
  AttentionTiling{2, 32, 2, 0}.applyTo(Target);
  auto L = lowerOnly(Ir, Target);
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  const KernelLaunch &K = L->Launches[0];
  EXPECT_EQ(K.NameExpr,
            "kiln::attention_mma<32, 2, __half, __half, 1, 2, 32, 0>");
  EXPECT_EQ(K.Grid[0], 2u); // 128 queries, 64 a CTA
  EXPECT_EQ(K.Block[0], 64u);

  // Only the warps named: the lowering's row tiles and key tile stay.
  Target = {};
  Target.AttentionWarps = 4;
  L = lowerOnly(Ir, Target);
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  EXPECT_EQ(L->Launches[0].NameExpr,
            "kiln::attention_mma<32, 4, __half, __half, 1, 1, 0, 0>");
  EXPECT_EQ(L->Launches[0].Grid[0], 2u);

  // A padding mask staged one value a thread needs a key tile no larger
  // than the CTA's threads; 128 keys of head_dim 64 exceed 48 KB.
  Target = {};
  AttentionTiling{2, 128, 2, 0}.applyTo(Target);
  L = lowerOnly(Ir, Target);
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("/attn"), std::string::npos) << Message;
  EXPECT_NE(Message.find("unsupported attention tiling"), std::string::npos)
      << Message;
  Target = {};
  AttentionTiling{1, 128, 4, 0}.applyTo(Target);
  L = lowerOnly(R"(
graph @a(%qkv: f16[2, 128, 768]) {
  %y = Attention(%qkv) {num_heads = 4, scale = 0.125} : f16[2, 128, 256]
  return %y
}
)",
                Target);
  ASSERT_FALSE(bool(L));
  llvm::consumeError(L.takeError());
}

// Where attention_short runs: heads of 16 or 32 over at most 128 keys a
// sequence (spans: the PackTokens mask's row), not on the small grid unless
// forced, never when switched off; forced on, a named tiling gives its
// warps, CTAs an SM and (64 keys a tile) two cp.async batches, nothing else.
TEST(FusedLoweringTest, AttentionShortWhereItApplies) {
  using Switch = TargetInfo::Switch;
  auto Name = [](const std::string &Ir, const TargetInfo &Target) {
    auto L = lowerOnly(Ir, Target);
    EXPECT_TRUE(bool(L)) << llvm::toString(L.takeError());
    return L ? L->Launches[0].NameExpr + " grid " +
                   std::to_string(L->Launches[0].Grid[0]) + " block " +
                   std::to_string(L->Launches[0].Block[0])
             : std::string();
  };
  auto Padded = [](int Batch, int Seq, int Heads, int HeadDim) {
    std::string B = std::to_string(Batch), S = std::to_string(Seq),
                H = std::to_string(Heads * HeadDim);
    return "graph @a(%qkv: f16[" + B + ", " + S + ", " +
           std::to_string(3 * Heads * HeadDim) + "], %mask: f16[" + B +
           ", 1, 1, " + S +
           "]) {\n  %y = Attention(%qkv, none, none, %mask) {num_heads = " +
           std::to_string(Heads) + ", scale = 0.125} : f16[" + B + ", " + S +
           ", " + H + "]\n  return %y\n}\n";
  };
  TargetInfo Auto, On, Off;
  On.AttentionShort = Switch::On;
  Off.AttentionShort = Switch::Off;

  // 16 x 128 (384 CTAs of 64 queries: 4 warps, 6 CTAs an SM).
  EXPECT_EQ(Name(Padded(16, 128, 12, 32), Auto),
            "kiln::attention_short<32, 4, 6, __half, __half, 1> grid 2 block "
            "128");
  EXPECT_EQ(Name(Padded(16, 128, 12, 32), Off),
            "kiln::attention_mma<32, 4, __half, __half, 1> grid 2 block 128");
  // head_dim 16; 129 keys or head_dim 64 do not apply.
  EXPECT_EQ(Name(Padded(8, 100, 16, 16), Auto),
            "kiln::attention_short<16, 4, 6, __half, __half, 1> grid 2 block "
            "128");
  EXPECT_EQ(Name(Padded(4, 129, 12, 32), On),
            "kiln::attention_mma<32, 4, __half, __half, 1> grid 3 block 128");
  EXPECT_EQ(Name(Padded(4, 128, 6, 64), On),
            "kiln::attention_mma<64, 4, __half, __half, 1> grid 2 block 128");
  // The small grid (1 x 128: 24 CTAs) keeps attention_mma's 128-key tile
  // unless forced, then 4 warps without a register cap.
  EXPECT_EQ(Name(Padded(1, 128, 12, 32), Auto),
            "kiln::attention_mma<32, 4, __half, __half, 1, 1, 128, 2> grid 2 "
            "block 128");
  EXPECT_EQ(Name(Padded(1, 128, 12, 32), On),
            "kiln::attention_short<32, 4, 1, __half, __half, 1> grid 2 block "
            "128");
  // A named tiling: attention_mma unless forced; forced, its warps and CTAs.
  TargetInfo Named = Auto;
  Named.AttentionWarps = 2;
  Named.AttentionMinBlocks = 8;
  EXPECT_EQ(Name(Padded(16, 128, 12, 32), Named),
            "kiln::attention_mma<32, 2, __half, __half, 1, 1, 0, 8> grid 4 "
            "block 64");
  Named.AttentionShort = Switch::On;
  EXPECT_EQ(Name(Padded(16, 128, 12, 32), Named),
            "kiln::attention_short<32, 2, 8, __half, __half, 1> grid 4 block "
            "64");
  Named.AttentionKeyTile = 64; // two cp.async batches of 64 keys
  EXPECT_EQ(Name(Padded(16, 128, 12, 32), Named),
            "kiln::attention_short<32, 2, 8, __half, __half, 1, true> grid 4 "
            "block 64");
  Named.AttentionKeyTile = 32;
  auto L = lowerOnly(Padded(16, 128, 12, 32), Named);
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("64 keys a batch only"), std::string::npos) << Message;
  Named.AttentionKeyTile = 0;
  Named.AttentionWarps = 3;
  L = lowerOnly(Padded(16, 128, 12, 32), Named);
  ASSERT_FALSE(bool(L));
  Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("3 warps"), std::string::npos) << Message;

  // Spans: the longest is the PackTokens mask's row, not the tokens.
  auto Spans = [](int Seq) {
    std::string S = std::to_string(Seq);
    return "graph @a(%mask: i64[64, " + S +
           "], %qkv: f16[1, 4096, 1152]) {\n  %spans = PackTokens(%mask) : "
           "i32[64, 2]\n  %y = Attention(%qkv, none, none, none, %spans) "
           "{num_heads = 12, scale = 0.17677669} : f16[1, 4096, 384]\n  "
           "return %y\n}\n";
  };
  EXPECT_EQ(Name(Spans(128), Auto),
            "kiln::attention_short<32, 8, 3, __half, int32_t, 3> grid 1 "
            "block 256");
  EXPECT_EQ(Name(Spans(256), Auto),
            "kiln::attention_mma<32, 8, __half, int32_t, 3> grid 2 block 256");
}

TEST(FusedLoweringTest, UnsupportedHeadDimIsAnError) {
  auto L = lowerOnly(R"(
graph @a(%qkv: f16[1, 8, 768]) {
  %y = Attention(%qkv) {num_heads = 1, scale = 0.0625} : f16[1, 8, 256] loc("/layer/attn")
  return %y
}
)");
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("/layer/attn"), std::string::npos) << Message;
  EXPECT_NE(Message.find("head_dim 256"), std::string::npos) << Message;
}

TEST(FusedLoweringTest, MiddleBroadcastSkipIsAnError) {
  auto L = lowerOnly(R"(
graph @s(%x: f32[2, 7, 64], %skip: f32[2, 1, 64], %scale: f32[64]) {
  %y = SkipLayerNorm(%x, %skip, %scale) : f32[2, 7, 64] loc("/ln")
  return %y
}
)");
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("/ln"), std::string::npos) << Message;
  EXPECT_NE(Message.find("unsupported broadcast of skip"), std::string::npos)
      << Message;
}

} // namespace
} // namespace kiln
