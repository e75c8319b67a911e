//===- RuntimeTest.cpp - Engine and ExecutionContext ----------------------===//
//
// Buckets, padding and splitting, many contexts on many threads, and the
// errors a service sees: a corrupt artifact, a wrong shape, no GPU.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"
#include "common/ModelLoader.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <thread>

namespace kiln {
namespace {

std::string fixture(const char *Name) {
  return std::string(KILN_SOURCE_DIR) + "/tests/models/" + Name;
}

/// The 2-layer MiniLM fixture compiled at batch buckets 1 and 4, seq 16.
Artifact compileMiniLm(std::unique_ptr<Graph> *Imported) {
  auto G = loadModel(fixture("minilm_l2_opset17.onnx"));
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  *Imported = (*G)->clone();
  CompileOptions O;
  O.Batches = {1, 4};
  O.Seqs = {16};
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
  return std::move(*A);
}

/// ids, mask (random lengths, row 0 full) and token types for a request.
std::vector<Tensor> request(int64_t Batch, int64_t Seq, std::mt19937_64 &Rng) {
  Tensor Ids(DType::I64, {Batch, Seq}), Mask(DType::I64, {Batch, Seq}),
      Types(DType::I64, {Batch, Seq});
  std::uniform_int_distribution<int64_t> Id(1, 500), Len(1, Seq);
  for (int64_t B = 0; B < Batch; ++B) {
    int64_t L = B == 0 ? Seq : Len(Rng);
    for (int64_t S = 0; S < Seq; ++S) {
      Ids.setInt(B * Seq + S, Id(Rng));
      Mask.setInt(B * Seq + S, S < L);
      Types.setInt(B * Seq + S, 0);
    }
  }
  return {Ids, Mask, Types};
}

double maxAbsDiff(const Tensor &A, const Tensor &B) {
  double M = 0;
  for (int64_t I = 0; I < A.numElements(); ++I)
    M = std::max(M, std::fabs(A.getDouble(I) - B.getDouble(I)));
  return M;
}

TEST(Runtime, CorruptArtifactIsRefusedBeforeAnyGpuWork) {
  std::string Bytes = "KILN\r\n\x1a\nnot an artifact at all";
  auto A = parseArtifact(Bytes, "bad.kiln");
  ASSERT_FALSE(bool(A));
  EXPECT_NE(llvm::toString(A.takeError()).find("bad.kiln"), std::string::npos);
  auto E = Engine::load("/nonexistent/model.kiln");
  ASSERT_FALSE(bool(E));
  EXPECT_NE(llvm::toString(E.takeError()).find("/nonexistent/model.kiln"),
            std::string::npos);
}

TEST(Runtime, NoGpuIsAnErrorValue) {
  std::string Why;
  if (gpuAvailable(&Why))
    GTEST_SKIP() << "a GPU is present; this checks the error without one";
  std::unique_ptr<Graph> G;
  auto E = createEngine(compileMiniLm(&G));
  ASSERT_FALSE(bool(E));
  EXPECT_NE(llvm::toString(E.takeError()).find("no CUDA device"),
            std::string::npos);
}

TEST(Runtime, PadsSplitsAndRunsFromManyThreads) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto E = createEngine(std::move(A));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());

  // Batches 1 and 4 hit buckets, 3 pads, 6 and 9 split; seq 11 pads to 16.
  struct Case {
    std::vector<Tensor> Inputs;
    Tensor Want;
  };
  std::vector<Case> Cases;
  std::mt19937_64 Rng(5);
  for (int64_t Batch : {1, 3, 4, 6, 9})
    for (int64_t Seq : {11, 16}) {
      Case C{request(Batch, Seq, Rng), {}};
      auto Want = runReference(*Reference, C.Inputs);
      ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
      C.Want = (*Want)[0];
      Cases.push_back(std::move(C));
    }

  constexpr int Threads = 4, Rounds = 5;
  std::vector<std::string> Failures(Threads);
  std::vector<std::thread> Pool;
  for (int T = 0; T < Threads; ++T)
    Pool.emplace_back([&, T] {
      auto Ctx = (*E)->createContext();
      if (!Ctx) {
        Failures[T] = llvm::toString(Ctx.takeError());
        return;
      }
      for (int R = 0; R < Rounds; ++R)
        for (size_t I = 0; I < Cases.size(); ++I) {
          const Case &C = Cases[(I + T) % Cases.size()];
          auto Got = runTensors(**Ctx, C.Inputs);
          if (!Got) {
            Failures[T] = llvm::toString(Got.takeError());
            return;
          }
          double Err = maxAbsDiff((*Got)[0], C.Want);
          if (!(Err <= 1e-4)) {
            Failures[T] = "batch " + std::to_string(C.Inputs[0].dim(0)) +
                          " seq " + std::to_string(C.Inputs[0].dim(1)) +
                          ": max abs error " + std::to_string(Err);
            return;
          }
        }
    });
  for (std::thread &T : Pool)
    T.join();
  for (int T = 0; T < Threads; ++T)
    EXPECT_EQ(Failures[T], "") << "thread " << T;
}

TEST(Runtime, AutotunedPlanRunsAndRoundTrips) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto E = createEngine(A);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  auto Tuned = autotunedPlan(**Ctx, 4, 3);
  ASSERT_TRUE(bool(Tuned)) << llvm::toString(Tuned.takeError());
  size_t Gemms = 0;
  for (const BucketPlan &B : Tuned->Buckets)
    for (const Step &S : B.Steps)
      if (const auto *G = std::get_if<GemmStep>(&S)) {
        ++Gemms;
        EXPECT_EQ(G->Algo.size(), GemmAlgoBytes) << G->Label;
      }
  EXPECT_GT(Gemms, 0u);

  // The tuned plan survives the file format and computes the same thing.
  A.Plan = std::move(*Tuned);
  auto Loaded = parseArtifact(serializeArtifact(A), "<tuned>");
  ASSERT_TRUE(bool(Loaded)) << llvm::toString(Loaded.takeError());
  auto E2 = createEngine(std::move(*Loaded));
  ASSERT_TRUE(bool(E2)) << llvm::toString(E2.takeError());
  auto Ctx2 = (*E2)->createContext();
  ASSERT_TRUE(bool(Ctx2)) << llvm::toString(Ctx2.takeError());
  std::mt19937_64 Rng(9);
  std::vector<Tensor> In = request(3, 16, Rng);
  auto Want = runReference(*Reference, In);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  auto Got = runTensors(**Ctx2, In);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  EXPECT_LE(maxAbsDiff((*Got)[0], (*Want)[0]), 1e-4);
}

TEST(Runtime, JitCompilerMakesAPlanForExactlyOneShape) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  auto Jit = makeJitCompiler("")(A, 3, 11);
  ASSERT_TRUE(bool(Jit)) << llvm::toString(Jit.takeError());
  ASSERT_EQ(Jit->Plan.Buckets.size(), 1u);
  EXPECT_EQ(Jit->Plan.Buckets[0].Batch, 3);
  EXPECT_EQ(Jit->Plan.Buckets[0].Seq, 11);
  EXPECT_EQ(Jit->Meta.Precision, A.Meta.Precision);
  EXPECT_EQ(Jit->IrText, A.IrText) << "the stored IR is not optimized again";
  EXPECT_FALSE(bool(validateArtifact(*Jit)));
  // The weights start with the base's, byte for byte, so that the engine
  // shares them; only constants folded for this shape follow.
  ASSERT_GE(Jit->Weights.size(), A.Weights.size());
  EXPECT_EQ(Jit->Weights.compare(0, A.Weights.size(), A.Weights), 0);
  EXPECT_LT(Jit->Weights.size() - A.Weights.size(), 4096u);
  for (size_t I = 0; I < A.WeightEntries.size(); ++I)
    EXPECT_EQ(Jit->WeightEntries[I].Offset, A.WeightEntries[I].Offset)
        << A.WeightEntries[I].Name;
}

TEST(Runtime, ShapesWithoutABucketCompileOnDemand) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  EngineOptions O;
  O.JitCompiler = makeJitCompiler("");
  O.MaxJitShapes = 2;
  auto E = createEngine(std::move(A), O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  std::mt19937_64 Rng(11);
  // (3, 11) and (6, 20): no bucket holds either exactly, and seq 20 is
  // longer than every bucket; (5, 9) is past the cap and is padded/split.
  int64_t Shapes[][2] = {{3, 11}, {6, 20}, {3, 11}, {5, 9}, {4, 16}};
  unsigned Expected[] = {1, 2, 2, 2, 2};
  for (size_t I = 0; I < std::size(Shapes); ++I) {
    std::vector<Tensor> In = request(Shapes[I][0], Shapes[I][1], Rng);
    auto Want = runReference(*Reference, In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    auto Got = runTensors(**Ctx, In);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    EXPECT_LE(maxAbsDiff((*Got)[0], (*Want)[0]), 1e-4)
        << "batch " << Shapes[I][0] << " seq " << Shapes[I][1];
    EXPECT_EQ((*E)->jitShapes(), Expected[I]) << "after request " << I;
  }
  // Both shapes compiled on demand share the engine's weights.
  EngineMemory M = (*E)->memory();
  EXPECT_LT(M.JitWeightBytes * 100, M.WeightBytes);
}

TEST(Runtime, PublicApiLoadsAFileAndRunsHostTensors) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  llvm::SmallString<128> Path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("kiln-api", "kiln", Path));
  auto Remove = llvm::make_scope_exit([&] { llvm::sys::fs::remove(Path); });
  if (llvm::Error Err = writeArtifact(A, Path))
    FAIL() << llvm::toString(std::move(Err));
  auto E = Engine::load(std::string(Path));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());

  // The model as the API describes it: the metadata's, in its own types.
  const ModelInfo &Info = (*E)->model();
  EXPECT_EQ(Info.Precision, A.Meta.Precision);
  ASSERT_EQ(Info.Inputs.size(), A.Meta.Inputs.size());
  for (size_t I = 0; I < Info.Inputs.size(); ++I) {
    EXPECT_EQ(Info.Inputs[I].Name, A.Meta.Inputs[I].Name);
    EXPECT_EQ(toDType(Info.Inputs[I].Type), A.Meta.Inputs[I].Type);
  }
  ASSERT_EQ(Info.Buckets.size(), A.Plan.Buckets.size());
  for (size_t I = 0; I < Info.Buckets.size(); ++I) {
    EXPECT_EQ(Info.Buckets[I].Batch, A.Plan.Buckets[I].Batch);
    EXPECT_EQ(Info.Buckets[I].Seq, A.Plan.Buckets[I].Seq);
  }

  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  std::mt19937_64 Rng(13);
  std::vector<Tensor> In = request(3, 11, Rng);
  auto Want = runReference(*Reference, In);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  std::vector<HostTensor> HostIn;
  for (const Tensor &T : In)
    HostIn.push_back(toHostTensor(T));
  auto Got = (*Ctx)->run(HostIn);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  ASSERT_EQ(Got->size(), Want->size());
  EXPECT_LE(maxAbsDiff(toTensor((*Got)[0]), (*Want)[0]), 1e-4);

  // A tensor whose bytes do not fit its dims is refused, not read past.
  HostIn[0].Bytes.pop_back();
  auto Short = (*Ctx)->run(HostIn);
  ASSERT_FALSE(bool(Short));
  EXPECT_NE(llvm::toString(Short.takeError()).find("its dims and type need"),
            std::string::npos);
}

TEST(Runtime, BadRequestsAreErrorValues) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto E = createEngine(std::move(A));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  std::mt19937_64 Rng(1);

  auto TooLong = runTensors(**Ctx, request(2, 17, Rng));
  ASSERT_FALSE(bool(TooLong));
  EXPECT_NE(llvm::toString(TooLong.takeError()).find("exceeds the largest seq"),
            std::string::npos);

  std::vector<Tensor> Two = request(2, 8, Rng);
  Two.pop_back();
  auto Missing = runTensors(**Ctx, Two);
  ASSERT_FALSE(bool(Missing));
  EXPECT_NE(llvm::toString(Missing.takeError()).find("expected 3 inputs"),
            std::string::npos);

  std::vector<Tensor> Mismatch = request(2, 8, Rng);
  Mismatch[1] = request(3, 8, Rng)[1];
  auto Bad = runTensors(**Ctx, Mismatch);
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(llvm::toString(Bad.takeError()).find("other inputs have"),
            std::string::npos);
}

TEST(Runtime, ProgrammaticLaunchGivesTheSameAnswers) {
  std::unique_ptr<Graph> Reference;
  Artifact A = compileMiniLm(&Reference);
  EXPECT_TRUE(A.Meta.KernelsWaitForPredecessor);
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  std::vector<std::vector<Tensor>> Outputs;
  for (bool Programmatic : {true, false}) {
    EngineOptions O;
    O.ProgrammaticLaunch = Programmatic;
    auto E = createEngine(A, O);
    ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
    auto Ctx = (*E)->createContext();
    ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
    std::mt19937_64 Rng(9);
    Outputs.emplace_back();
    for (int64_t Batch : {1, 3, 4, 9}) {
      std::vector<Tensor> In = request(Batch, 16, Rng);
      // Many replays back to back: a kernel that read before its
      // predecessor finished would show as a difference somewhere.
      for (int R = 0; R < 20; ++R) {
        auto Got = runTensors(**Ctx, In);
        ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
        if (R == 0) {
          auto Want = runReference(*Reference, In);
          ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
          EXPECT_LE(maxAbsDiff((*Got)[0], (*Want)[0]), 1e-4);
          Outputs.back().push_back((*Got)[0]);
        } else {
          ASSERT_EQ(maxAbsDiff((*Got)[0], Outputs.back().back()), 0.0)
              << "replay " << R << " of batch " << Batch;
        }
      }
    }
  }
  for (size_t I = 0; I < Outputs[0].size(); ++I)
    EXPECT_EQ(maxAbsDiff(Outputs[0][I], Outputs[1][I]), 0.0) << "request " << I;
}

TEST(Runtime, PackedTokenBucketsServeMasksThatFit) {
  auto G = loadModel(fixture("minilm_l2_opset17.onnx"));
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::unique_ptr<Graph> Reference = (*G)->clone();
  CompileOptions O;
  O.Batches = {1, 8};
  O.Seqs = {64};
  O.Tokens = {96, 192};
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  // Batch 8 x 64 = 512 padded tokens: both token buckets apply; batch 1
  // (64) is below them and gets none.
  ASSERT_EQ(A->Plan.Buckets.size(), 4u);
  EXPECT_EQ(A->Meta.TokenBuckets, (std::vector<int64_t>{96, 192}));
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  // This model is too small for the plans to predict a gain from packing
  // (PackTokens's two launches cost about what the saved rows do), so the
  // packed engine packs whenever a token bucket holds the tokens
  // (PackTokensAlways); Bucketing's unit tests cover the prediction.
  EngineOptions Always, Off;
  Always.PackTokensAlways = true;
  Off.PackTokens = false;
  auto Packed = createEngine(*A, Always);
  auto Padded = createEngine(*A, Off);
  ASSERT_TRUE(bool(Packed)) << llvm::toString(Packed.takeError());
  ASSERT_TRUE(bool(Padded)) << llvm::toString(Padded.takeError());
  auto PackedCtx = (*Packed)->createContext();
  auto PaddedCtx = (*Padded)->createContext();
  ASSERT_TRUE(bool(PackedCtx)) << llvm::toString(PackedCtx.takeError());
  ASSERT_TRUE(bool(PaddedCtx)) << llvm::toString(PaddedCtx.takeError());

  std::mt19937_64 Rng(17);
  std::uniform_int_distribution<int64_t> Len(1, 24), Id(1, 500);
  unsigned RanPacked = 0;
  for (int Round = 0; Round < 30; ++Round) {
    // Every fifth round has full rows (too many tokens: padded); a third
    // of the rounds send 50 columns (the bucket's 64 padded on).
    int64_t Batch = 1 + Round % 8, Seq = Round % 3 ? 64 : 50;
    Tensor Ids(DType::I64, {Batch, Seq}), Mask(DType::I64, {Batch, Seq}),
        Types(DType::I64, {Batch, Seq});
    int64_t Tokens = 0;
    for (int64_t B = 0; B < Batch; ++B) {
      int64_t L = std::min(Seq, Round % 5 == 0 ? Seq : Len(Rng));
      Tokens += L;
      for (int64_t S = 0; S < Seq; ++S) {
        Ids.setInt(B * Seq + S, Id(Rng));
        Mask.setInt(B * Seq + S, S < L);
        Types.setInt(B * Seq + S, 0);
      }
    }
    std::vector<Tensor> In = {Ids, Mask, Types};
    auto Want = runReference(*Reference, In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    auto GotPacked = runTensors(**PackedCtx, In);
    auto GotPadded = runTensors(**PaddedCtx, In);
    ASSERT_TRUE(bool(GotPacked)) << llvm::toString(GotPacked.takeError());
    ASSERT_TRUE(bool(GotPadded)) << llvm::toString(GotPadded.takeError());
    EXPECT_LE(maxAbsDiff((*GotPacked)[0], (*Want)[0]), 1e-4)
        << "batch " << Batch << " tokens " << Tokens;
    EXPECT_LE(maxAbsDiff((*GotPacked)[0], (*GotPadded)[0]), 1e-4);
    const std::vector<size_t> &Ran = lastBuckets(**PackedCtx);
    ASSERT_EQ(Ran.size(), 1u);
    bool Fits = Batch > 1 && Tokens <= 192;
    EXPECT_EQ(A->Plan.Buckets[Ran[0]].Tokens > 0, Fits)
        << "batch " << Batch << " tokens " << Tokens;
    if (Fits) {
      EXPECT_EQ(A->Plan.Buckets[Ran[0]].Tokens, Tokens <= 96 ? 96 : 192);
    }
    RanPacked += A->Plan.Buckets[Ran[0]].Tokens > 0;
    EXPECT_EQ(A->Plan.Buckets[lastBuckets(**PaddedCtx)[0]].Tokens, 0);
  }
  EXPECT_GT(RanPacked, 5u);

  // A mask with a hole is not 1s then 0s: it runs padded, and right.
  std::vector<Tensor> Holed = request(4, 16, Rng);
  Holed[1].setInt(1 * 16 + 0, 0);
  Holed[1].setInt(1 * 16 + 1, 1);
  auto Got = runTensors(**PackedCtx, Holed);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  EXPECT_EQ(A->Plan.Buckets[lastBuckets(**PackedCtx)[0]].Tokens, 0);
  auto Want = runReference(*Reference, Holed);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  EXPECT_LE(maxAbsDiff((*Got)[0], (*Want)[0]), 1e-4);
}

} // namespace
} // namespace kiln
