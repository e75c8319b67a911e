//===- PipelineTest.cpp - a pipeline artifact against the whole model -----===//
//
// The 2-layer MiniLM fixture compiled as a 2-stage pipeline runs on two
// logical devices of one card ({0, 0}: their own engines, contexts,
// streams and arenas, copies between them) and must answer as the whole
// model's engine does: to the bit where the pipeline runs the micro-batch
// in the bucket the whole engine uses for the same rows (same kernels,
// same GEMM shapes), within 1e-5 otherwise (another bucket may take
// another cuBLASLt algorithm). Without a GPU each test compiles and skips.
//
//===----------------------------------------------------------------------===//
#include "runtime/Pipeline.h"

#include "GpuTestUtil.h"
#include "codegen/Compiler.h"
#include "codegen/StageSplit.h"
#include "common/ModelLoader.h"
#include "runtime/Artifact.h"
#include "runtime/DeviceGroup.h"
#include "runtime/EngineInternal.h"

#include "gtest/gtest.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

namespace kiln {
namespace {

std::string fixture(const char *Name) {
  return std::string(KILN_SOURCE_DIR) + "/tests/models/" + Name;
}

/// MiniLM at batch buckets 1, 2 and 4, seq 16 and 32, with 2 stages.
const Artifact &pipelineArtifact() {
  static Artifact A = [] {
    auto G = loadModel(fixture("minilm_l2_opset17.onnx"));
    EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
    CompileOptions O;
    O.Batches = {1, 2, 4};
    O.Seqs = {16, 32};
    O.Jobs = 4;
    O.EmitPtx = false;
    // A second process (the sanitizer's run) reuses the kernels.
    if (const char *Dir = std::getenv("KILN_CACHE_DIR"))
      O.CacheDir = Dir;
    auto A = compileGraph(std::move(*G), O);
    EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
    llvm::Error E = addPipelineStages(*A, 2, O);
    EXPECT_FALSE(bool(E)) << llvm::toString(std::move(E));
    return std::move(*A);
  }();
  return A;
}

/// Engines of every logical device on card 0.
DeviceEngineFactory onCardZero() {
  return [](const Artifact &A, int) {
    EngineOptions O;
    O.Device = 0;
    return createEngine(A, O);
  };
}

double maxAbsDiff(const HostTensor &A, const HostTensor &B) {
  EXPECT_EQ(A.Dims, B.Dims);
  double M = 0;
  for (int64_t I = 0; I < A.numElements(); ++I)
    M = std::max(M, double(std::fabs(A.data<float>()[I] - B.data<float>()[I])));
  return M;
}

TEST(Pipeline, RefusesWhatIsNoPipeline) {
  Artifact A = pipelineArtifact();
  std::vector<int> One = {0};
  auto P = createPipelinePlacement(A, One, onCardZero(), {});
  ASSERT_FALSE(bool(P));
  EXPECT_EQ(llvm::toString(P.takeError()),
            "a pipeline of 2 stages needs as many devices, got 1");
  A.Partition.reset();
  A.Stages.clear();
  std::vector<int> Two = {0, 0};
  P = createPipelinePlacement(A, Two, onCardZero(), {});
  ASSERT_FALSE(bool(P));
  EXPECT_EQ(llvm::toString(P.takeError()),
            "the artifact is not a pipeline (compile it with --devices N "
            "--partition pipeline)");
}

TEST(Pipeline, StagesHoldOnlyTheirWeights) {
  const Artifact &A = pipelineArtifact();
  ASSERT_EQ(A.Stages.size(), 2u);
  size_t Sum = 0;
  for (const Artifact &S : A.Stages) {
    EXPECT_LT(S.Weights.size(), A.Weights.size());
    Sum += S.Weights.size();
  }
  // Nothing but the alignment of each stage's entries is added.
  EXPECT_LE(Sum, A.Weights.size() + 64 * A.WeightEntries.size());
}

TEST(Pipeline, MatchesTheWholeModelOnOneCard) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto Whole = createEngine(A);
  ASSERT_TRUE(bool(Whole)) << llvm::toString(Whole.takeError());
  auto WholeCtx = (*Whole)->createContext();
  ASSERT_TRUE(bool(WholeCtx)) << llvm::toString(WholeCtx.takeError());

  struct Case {
    int64_t Batch, Seq, Micro;   // Micro 0: the cost model's choice
    int64_t WantSize, WantCount; // the micro-batches (WantSize 0: any)
    bool Exact; // the whole engine runs these rows in the same bucket
  };
  std::vector<Case> Cases = {
      {1, 16, 0, 1, 1, true},  {2, 16, 0, 0, 0, false},
      {4, 16, 4, 4, 1, true},  {3, 11, 4, 4, 1, true},
      {4, 32, 2, 2, 2, false}, {7, 16, 2, 2, 4, false},
      {9, 32, 4, 4, 3, false}, {8, 16, 4, 4, 2, true},
      {5, 20, 1, 1, 5, false}, {13, 16, 0, 0, 0, false},
  };
  std::mt19937_64 Rng(7);
  for (const Case &C : Cases) {
    SCOPED_TRACE("batch " + std::to_string(C.Batch) + " seq " +
                 std::to_string(C.Seq) + " micro " + std::to_string(C.Micro));
    PipelineRunOptions O;
    O.MicroBatch = C.Micro;
    std::vector<int> Logical = {0, 0};
    auto P = createPipelinePlacement(A, Logical, onCardZero(), O);
    ASSERT_TRUE(bool(P)) << llvm::toString(P.takeError());
    EXPECT_EQ(pipelineCopyPath(**P, 0, 1), CopyPath::SameDevice);
    auto X = (*P)->createExecutor();
    ASSERT_TRUE(bool(X)) << llvm::toString(X.takeError());
    std::vector<HostTensor> In = bertRequest(C.Batch, C.Seq, Rng);
    auto Want = (*WholeCtx)->run(In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    // Twice: the second run replays the stages' CUDA graphs.
    for (int Run = 0; Run < 2; ++Run) {
      auto Got = (*X)->run(In);
      ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
      ASSERT_EQ(Got->size(), Want->size());
      auto [Size, Count] = lastMicroBatches(**X);
      if (C.WantSize) {
        EXPECT_EQ(Size, C.WantSize);
        EXPECT_EQ(Count, C.WantCount);
      }
      EXPECT_GT((*X)->lastCopySeconds(), 0);
      for (size_t O = 0; O < Got->size(); ++O) {
        double D = maxAbsDiff((*Got)[O], (*Want)[O]);
        if (C.Exact)
          EXPECT_EQ(D, 0) << "output " << O;
        else
          EXPECT_LE(D, 1e-5) << "output " << O;
      }
    }
  }
}

TEST(Pipeline, BadRequestsAreRefused) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  std::vector<int> Logical = {0, 0};
  auto P = createPipelinePlacement(A, Logical, onCardZero(), {});
  ASSERT_TRUE(bool(P)) << llvm::toString(P.takeError());
  auto X = (*P)->createExecutor();
  ASSERT_TRUE(bool(X)) << llvm::toString(X.takeError());
  std::mt19937_64 Rng(3);
  std::vector<HostTensor> In = bertRequest(2, 40, Rng);
  auto R = (*X)->run(In);
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("40"), std::string::npos);
  In = bertRequest(2, 8, Rng);
  In.pop_back();
  R = (*X)->run(In);
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(llvm::toString(R.takeError()), "expected 3 inputs, got 2");
  // Still good after refusing.
  In = bertRequest(2, 8, Rng);
  R = (*X)->run(In);
  EXPECT_TRUE(bool(R)) << llvm::toString(R.takeError());
}

// Executors are the lanes of one placement: each has its own contexts,
// streams and buffers, so threads run them at once.
TEST(Pipeline, ExecutorsRunOnManyThreads) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto Whole = createEngine(A);
  ASSERT_TRUE(bool(Whole)) << llvm::toString(Whole.takeError());
  std::vector<int> Logical = {0, 0};
  PipelineRunOptions O;
  O.MicroBatch = 2;
  auto P = createPipelinePlacement(A, Logical, onCardZero(), O);
  ASSERT_TRUE(bool(P)) << llvm::toString(P.takeError());
  constexpr int Threads = 4, Requests = 20;
  std::vector<double> Worst(Threads, 0);
  std::vector<std::string> Errors(Threads);
  std::vector<std::thread> Pool;
  for (int T = 0; T < Threads; ++T)
    Pool.emplace_back([&, T] {
      auto X = (*P)->createExecutor();
      if (!X) {
        Errors[T] = llvm::toString(X.takeError());
        return;
      }
      auto Ctx = (*Whole)->createContext();
      if (!Ctx) {
        Errors[T] = llvm::toString(Ctx.takeError());
        return;
      }
      std::mt19937_64 Rng(100 + T);
      for (int R = 0; R < Requests; ++R) {
        std::vector<HostTensor> In = bertRequest(1 + (R + T) % 6, 16, Rng);
        auto Got = (*X)->run(In);
        if (!Got) {
          Errors[T] = llvm::toString(Got.takeError());
          return;
        }
        auto Want = (*Ctx)->run(In);
        if (!Want) {
          Errors[T] = llvm::toString(Want.takeError());
          return;
        }
        for (size_t I = 0; I < Got->size(); ++I)
          Worst[T] = std::max(Worst[T], maxAbsDiff((*Got)[I], (*Want)[I]));
      }
    });
  for (std::thread &T : Pool)
    T.join();
  for (int T = 0; T < Threads; ++T) {
    EXPECT_EQ(Errors[T], "") << "thread " << T;
    EXPECT_LE(Worst[T], 1e-5) << "thread " << T;
  }
}

// The multi-device engine (EngineOptions::Devices = {0, 0}) runs a
// pipeline artifact through this placement and answers as one device does.
TEST(PipelineEngine, AnswersAsOneDevice) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto One = createEngine(A);
  ASSERT_TRUE(bool(One)) << llvm::toString(One.takeError());
  EngineOptions O;
  O.Devices = {0, 0};
  auto Two = createEngine(A, O);
  ASSERT_TRUE(bool(Two)) << llvm::toString(Two.takeError());
  EXPECT_EQ(enginePartitionMode(**Two), PartitionMode::Pipeline);
  auto C1 = (*One)->createContext();
  auto C2 = (*Two)->createContext();
  ASSERT_TRUE(C1 && C2);
  std::mt19937_64 Rng(21);
  for (int64_t Batch : {1, 3, 4, 6, 9}) {
    std::vector<HostTensor> In = bertRequest(Batch, 16, Rng);
    auto Want = (*C1)->run(In);
    auto Got = (*C2)->run(In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    for (size_t I = 0; I < Got->size(); ++I)
      EXPECT_LE(maxAbsDiff((*Got)[I], (*Want)[I]), 1e-5) << "batch " << Batch;
    EXPECT_EQ(lastRunInfo(**C2).Attempts, 1u);
  }
  for (const DeviceState &D : (*Two)->devices())
    EXPECT_EQ(D.Health, DeviceHealth::Up);
}

// 8 threads of requests while the second stage's device is lost at its
// 100th launch: the pipeline falls back to whole-model runs on device 0,
// and no request is lost, answered twice or answered wrongly.
TEST(PipelineEngine, LoadWithALostStageDeviceLosesNoRequest) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  int PerThread = 200;
  if (const char *N = std::getenv("KILN_MULTIDEVICE_REQUESTS"))
    PerThread = std::max(1, std::atoi(N));
  constexpr int Threads = 8;
  auto One = createEngine(A);
  ASSERT_TRUE(bool(One)) << llvm::toString(One.takeError());
  auto C1 = (*One)->createContext();
  ASSERT_TRUE(bool(C1));
  std::mt19937_64 Rng(13);
  std::vector<std::vector<HostTensor>> Pool, Want;
  for (int I = 0; I < 16; ++I) {
    Pool.push_back(bertRequest(1 + I % 6, 16, Rng));
    auto W = (*C1)->run(Pool.back());
    ASSERT_TRUE(bool(W)) << llvm::toString(W.takeError());
    Want.push_back(std::move(*W));
  }
  EngineOptions O;
  O.Devices = {0, 0};
  uint64_t At = std::min<uint64_t>(100, uint64_t(PerThread) * Threads / 4);
  O.Faults = {{1, At, false, 1}};
  auto E = createEngine(A, O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  int Total = Threads * PerThread;
  std::vector<std::atomic<int>> Answers(Total);
  std::atomic<int> Wrong{0}, Errors{0}, Retried{0};
  std::vector<std::string> FirstError(Threads);
  std::vector<std::thread> Workers;
  for (int T = 0; T < Threads; ++T)
    Workers.emplace_back([&, T] {
      auto Ctx = (*E)->createContext();
      if (!Ctx) {
        Errors += PerThread;
        FirstError[T] = llvm::toString(Ctx.takeError());
        return;
      }
      for (int I = 0; I < PerThread; ++I) {
        int Id = T * PerThread + I;
        size_t Which = size_t(Id * 7 + T) % Pool.size();
        auto Out = (*Ctx)->run(Pool[Which]);
        if (!Out) {
          ++Errors;
          std::string Msg = llvm::toString(Out.takeError());
          if (FirstError[T].empty())
            FirstError[T] = Msg;
          continue;
        }
        ++Answers[Id];
        double D = 0;
        for (size_t O = 0; O < Out->size(); ++O)
          D = std::max(D, maxAbsDiff((*Out)[O], Want[Which][O]));
        Wrong += D > 1e-5;
        Retried += lastRunInfo(**Ctx).Attempts > 1;
      }
    });
  for (std::thread &T : Workers)
    T.join();
  std::string Errs;
  for (const std::string &S : FirstError)
    Errs += S.empty() ? "" : S + "; ";
  EXPECT_EQ(Errors, 0) << Errs;
  EXPECT_EQ(Wrong, 0);
  int Lost = 0, Twice = 0;
  for (auto &N : Answers) {
    Lost += N == 0;
    Twice += N > 1;
  }
  EXPECT_EQ(Lost, 0);
  EXPECT_EQ(Twice, 0);
  EXPECT_GE(Retried, 1);
  auto Devs = (*E)->devices();
  ASSERT_EQ(Devs.size(), 2u);
  EXPECT_EQ(Devs[1].Health, DeviceHealth::Lost);
  EXPECT_EQ(Devs[0].Health, DeviceHealth::Up);
  std::printf("pipeline engine: %d requests on 8 threads, device 1 lost at "
              "launch %llu: %d retried, 0 lost; device 0 ran %llu, device 1 "
              "%llu\n",
              Total, (unsigned long long)At, Retried.load(),
              (unsigned long long)Devs[0].Runs,
              (unsigned long long)Devs[1].Runs);
}

/// Seconds summed over N runs of `In`, alternating: the pipeline's copies
/// (lastCopySeconds), its whole requests, and the whole model's.
struct Timings {
  double Copy = 0, Pipe = 0, One = 0;
};
Timings timeAgainstWhole(Executor &X, ExecutionContext &Whole,
                         const std::vector<HostTensor> &In, int N) {
  Timings T;
  for (int I = 0; I < N; ++I) {
    auto T0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(bool(X.run(In)));
    auto T1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(bool(Whole.run(In)));
    auto T2 = std::chrono::steady_clock::now();
    T.Copy += X.lastCopySeconds();
    T.Pipe += std::chrono::duration<double>(T1 - T0).count();
    T.One += std::chrono::duration<double>(T2 - T1).count();
  }
  return T;
}

// What crossing the cut costs per request on one card (both logical
// devices on card 0, so a plain device copy), next to the request's time
// in the pipeline and on the whole model's engine.
TEST(Pipeline, CopyOverheadPerRequest) {
  const Artifact &A = pipelineArtifact();
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "compiled; not run: " << Why;
  auto Whole = createEngine(A);
  ASSERT_TRUE(bool(Whole)) << llvm::toString(Whole.takeError());
  auto WholeCtx = (*Whole)->createContext();
  ASSERT_TRUE(bool(WholeCtx));
  std::mt19937_64 Rng(5);
  for (int64_t Micro : {int64_t(0), int64_t(1), int64_t(4)}) {
    PipelineRunOptions O;
    O.MicroBatch = Micro;
    std::vector<int> Logical = {0, 0};
    auto P = createPipelinePlacement(A, Logical, onCardZero(), O);
    ASSERT_TRUE(bool(P)) << llvm::toString(P.takeError());
    auto X = (*P)->createExecutor();
    ASSERT_TRUE(bool(X));
    std::vector<HostTensor> In = bertRequest(4, 32, Rng);
    for (int I = 0; I < 3; ++I) { // warm: capture the graphs
      ASSERT_TRUE(bool((*X)->run(In)));
      ASSERT_TRUE(bool((*WholeCtx)->run(In)));
    }
    constexpr int N = 50;
    auto [Copy, Pipe, One] = timeAgainstWhole(**X, **WholeCtx, In, N);
    ASSERT_FALSE(HasFailure());
    auto [Size, Count] = lastMicroBatches(**X);
    std::printf("pipeline copy overhead, batch 4 seq 32, %lld micro-batches "
                "of %lld: copies %.1f us per request; request %.1f us "
                "(whole model on one engine %.1f us)\n",
                (long long)Count, (long long)Size, Copy / N * 1e6,
                Pipe / N * 1e6, One / N * 1e6);
    EXPECT_GT(Copy, 0);
  }
}

// The same on a pipeline artifact of a real model, when
// KILN_PIPELINE_ARTIFACT names one (e.g. all-MiniLM-L6-v2 compiled with
// --devices 2 --partition pipeline): its largest bucket, the cost model's
// micro-batch and every smaller bucket, against its whole model.
TEST(Pipeline, CopyOverheadOfAnArtifact) {
  const char *Path = std::getenv("KILN_PIPELINE_ARTIFACT");
  if (!Path)
    GTEST_SKIP() << "set KILN_PIPELINE_ARTIFACT to a pipeline artifact";
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "not run: " << Why;
  auto A = readArtifact(Path);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  auto Whole = createEngine(*A);
  ASSERT_TRUE(bool(Whole)) << llvm::toString(Whole.takeError());
  auto WholeCtx = (*Whole)->createContext();
  ASSERT_TRUE(bool(WholeCtx));
  int64_t Batch = A->Meta.BatchBuckets.back();
  int64_t Seq = A->Meta.SeqBuckets.empty() ? 0 : A->Meta.SeqBuckets.back();
  std::mt19937_64 Rng(9);
  std::vector<HostTensor> In = bertRequest(Batch, Seq, Rng);
  std::vector<int64_t> Micros = {0};
  for (int64_t B : A->Meta.BatchBuckets)
    Micros.push_back(B);
  for (int64_t Micro : Micros) {
    PipelineRunOptions O;
    O.MicroBatch = Micro;
    std::vector<int> Logical(A->Stages.size(), 0);
    auto P = createPipelinePlacement(*A, Logical, onCardZero(), O);
    ASSERT_TRUE(bool(P)) << llvm::toString(P.takeError());
    auto X = (*P)->createExecutor();
    ASSERT_TRUE(bool(X));
    double Diff = 0;
    for (int I = 0; I < 3; ++I) {
      auto Got = (*X)->run(In);
      auto Want = (*WholeCtx)->run(In);
      ASSERT_TRUE(Got && Want);
      for (size_t O = 0; O < Got->size(); ++O)
        if ((*Got)[O].Type == ElementType::F32)
          Diff = std::max(Diff, maxAbsDiff((*Got)[O], (*Want)[O]));
    }
    constexpr int N = 20;
    auto [Copy, Pipe, One] = timeAgainstWhole(**X, **WholeCtx, In, N);
    ASSERT_FALSE(HasFailure());
    auto [Size, Count] = lastMicroBatches(**X);
    std::printf("%s, batch %lld seq %lld, %zu stages, %lld micro-batches of "
                "%lld%s: copies %.1f us per request; request %.3f ms (whole "
                "model %.3f ms); max abs diff %.2e\n",
                A->Meta.ModelName.c_str(), (long long)Batch, (long long)Seq,
                A->Stages.size(), (long long)Count, (long long)Size,
                Micro ? "" : " (cost model)", Copy / N * 1e6, Pipe / N * 1e3,
                One / N * 1e3, Diff);
    EXPECT_LE(Diff, 1e-2);
  }
}

} // namespace
} // namespace kiln
