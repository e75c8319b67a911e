//===- GemmGeluTest.cpp - the GEMM with bias + erf GELU in its epilogue ---===//
//
// gemm_gelu.cuh against the reference executor: the MiniLM FFN's shape, a
// row count that is no multiple of the tile (the zero-filled, unstored
// tail), and B transposed. The CUTLASS GEMM (GemmStep::Epilogue::
// GeluErfBias, CutlassGemm.h) likewise through the plan, and directly, per
// tile configuration, against a host reference up to 32768 rows. Which
// path the lowering picks is checked on the plan itself, so that part runs
// without a GPU too. KILN_GEMM_GELU_TIMING=1 times cuBLASLt + the pass
// against the CUTLASS GEMM.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/Compiler.h"
#include "codegen/GemmLowering.h"
#include "ir/DType.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "runtime/CublasLt.h"
#include "runtime/CutlassGemm.h"
#include "runtime/EngineInternal.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace kiln {
namespace {

std::string ffnGraph(int64_t Batch, int64_t Seq, int64_t K, int64_t N,
                     bool TransB, const char *Activation = "gelu",
                     bool Bias = true) {
  std::string D = std::to_string(Batch) + ", " + std::to_string(Seq);
  std::vector<int64_t> W =
      TransB ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
  return "graph @g(%x: f16[" + D + ", " + std::to_string(K) + "]) {\n" +
         randomConst("w", "f16", W, 11) +
         (Bias ? randomConst("b", "f16", {N}, 12) : std::string()) +
         "  %y = FusedGemm(%x, %w" + (Bias ? ", %b" : "") +
         ") {activation = \"" + Activation + "\"" +
         (TransB ? ", trans_b = 1" : "") + "} : f16[" + D + ", " +
         std::to_string(N) + "]\n  return %y\n}\n";
}

/// fp16 results of sums of up to 384 products: a few fp16 ulps of the
/// result (|y| up to about 10) apart from the reference's single rounding.
GpuCheck fp16Check(bool Fused = true, bool Cutlass = false) {
  GpuCheck C;
  C.AbsTol = 4e-3;
  C.RelTol = 4e-3;
  C.FusedGeluGemmMaxRows = Fused ? INT64_MAX : 0;
  C.CutlassGeluGemm = Cutlass;
  return C;
}

struct StepCounts {
  int Gemms = 0, FusedGelu = 0, GeluPasses = 0;
  int CutlassGemms = 0; // GemmSteps with the GeluErfBias epilogue
  std::vector<GemmStep::Epilogue> Epilogues; // of every GemmStep, in order
};

StepCounts countSteps(const std::string &Ir, int64_t MaxRows,
                      const std::string &Arch = "sm_90a",
                      int64_t CutlassMinRows = TargetInfo::NeverCutlassGeluGemm,
                      bool GeluTanhApprox = false) {
  StepCounts Out;
  TargetInfo T = targetFor(Arch);
  T.FusedGeluGemmMaxRows = MaxRows;
  T.CutlassGeluGemmMinRows = CutlassMinRows;
  T.GeluTanhApprox = GeluTanhApprox;
  std::optional<Artifact> A = compileForTarget(Ir, T);
  if (!A)
    return Out;
  for (const BucketPlan &B : A->Plan.Buckets)
    for (const Step &S : B.Steps) {
      if (const auto *G = std::get_if<GemmStep>(&S)) {
        ++Out.Gemms;
        Out.CutlassGemms += G->Epi == GemmStep::Epilogue::GeluErfBias;
        Out.Epilogues.push_back(G->Epi);
        continue;
      }
      const auto *K = std::get_if<KernelStep>(&S);
      if (!K)
        continue;
      const KernelRef &R = A->Plan.Kernels[K->Kernel];
      const std::string &Module = A->Plan.Modules[R.Module].Name;
      Out.FusedGelu += Module == "gemm_gelu.cuh";
      Out.GeluPasses += Module == "gemm_epilogue.cuh";
    }
  return Out;
}

TEST(GpuGemmGelu, MiniLmFfnShape) {
  // 256 tokens x 384 -> 1536, as all-MiniLM-L6-v2's FFN.
  expectGpuMatchesReference(ffnGraph(2, 128, 384, 1536, false), fp16Check());
}

TEST(GpuGemmGelu, RowTailNoMultipleOfTheTile) {
  // 154 rows: the second row tile has 26 real rows.
  expectGpuMatchesReference(ffnGraph(2, 77, 128, 256, false), fp16Check());
}

TEST(GpuGemmGelu, FewerRowsThanOneTile) {
  expectGpuMatchesReference(ffnGraph(1, 5, 64, 128, false), fp16Check());
}

TEST(GpuGemmGelu, TransposedWeights) {
  expectGpuMatchesReference(ffnGraph(1, 200, 96, 384, true), fp16Check());
}

TEST(GpuGemmGelu, SeparatePassStillAvailable) {
  expectGpuMatchesReference(ffnGraph(2, 77, 128, 256, false),
                            fp16Check(/*Fused=*/false));
}

constexpr int64_t Always = INT64_MAX, Never = 0;

TEST(GemmGeluLowering, PicksTheFusedKernelWhereItApplies) {
  StepCounts C = countSteps(ffnGraph(2, 128, 384, 1536, false), Always);
  EXPECT_EQ(C.FusedGelu, 1);
  EXPECT_EQ(C.Gemms, 0);
  EXPECT_EQ(C.GeluPasses, 0);
  C = countSteps(ffnGraph(1, 200, 96, 384, true), Always);
  EXPECT_EQ(C.FusedGelu, 1);
  EXPECT_EQ(C.Gemms, 0);
}

TEST(GemmGeluLowering, RowLimitChoosesPerShape) {
  StepCounts C = countSteps(ffnGraph(2, 128, 64, 128, false), 256);
  EXPECT_EQ(C.FusedGelu, 1);
  C = countSteps(ffnGraph(3, 86, 64, 128, false), 256); // 258 rows
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.GeluPasses, 1);
}

TEST(GemmGeluLowering, DefaultKeepsCublasLtAndThePass) {
  // The fused kernel lost to cuBLASLt + the pass at every MiniLM shape
  // measured on an H100, so `auto` does not pick it there.
  EXPECT_EQ(TargetInfo().FusedGeluGemmMaxRows, 0);
  StepCounts C = countSteps(ffnGraph(2, 128, 384, 1536, false),
                            TargetInfo::DefaultFusedGeluGemmMaxRows);
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.GeluPasses, 1);
}

TEST(GemmGeluLowering, FallsBackToCublasLtAndTheGeluPass) {
  // Switched off.
  StepCounts C = countSteps(ffnGraph(2, 128, 384, 1536, false), Never);
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.GeluPasses, 1);
  // N = 200 is no multiple of the 64-wide tile.
  C = countSteps(ffnGraph(2, 16, 64, 200, false), Always);
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.GeluPasses, 1);
  // K = 40 is no multiple of 32.
  C = countSteps(ffnGraph(2, 16, 40, 128, false), Always);
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
  // sm_75 has no cp.async or m16n8k16 f16 mma with f32 accumulation.
  C = countSteps(ffnGraph(2, 16, 64, 128, false), Always, "sm_75");
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.Gemms, 1);
}

// --gelu-gemm tanh: cuBLASLt's tanh-form GELU epilogue, ahead of every
// other choice, and no pass; by default at 128 rows the erf GELU is
// cuBLASLt (with the bias, or none) and the pass.
TEST(GemmGeluLowering, TanhApproximationIsCublasLtsEpilogueAndNoPass) {
  using E = GemmStep::Epilogue;
  for (bool Bias : {true, false}) {
    std::string Ir = ffnGraph(1, 128, 384, 1536, false, "gelu", Bias);
    StepCounts C = countSteps(Ir, TargetInfo::DefaultFusedGeluGemmMaxRows);
    EXPECT_EQ(C.Epilogues, std::vector<E>{Bias ? E::Bias : E::None});
    EXPECT_EQ(C.GeluPasses, 1);
    C = countSteps(Ir, Always, "sm_90a", 0, /*GeluTanhApprox=*/true);
    EXPECT_EQ(C.Epilogues,
              std::vector<E>{Bias ? E::GeluTanhBias : E::GeluTanh});
    EXPECT_EQ(C.FusedGelu, 0);
    EXPECT_EQ(C.GeluPasses, 0);
  }
}

TEST(GemmGeluLowering, CutlassEpilogueReplacesThePass) {
  if (!cutlassGemmBuilt())
    GTEST_SKIP() << "built without CUTLASS (KILN_CUTLASS_DIR)";
  // Ahead of the mma.sync kernel when both are asked for.
  StepCounts C =
      countSteps(ffnGraph(2, 128, 384, 1536, false), Always, "sm_90a", 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.CutlassGemms, 1);
  EXPECT_EQ(C.FusedGelu, 0);
  EXPECT_EQ(C.GeluPasses, 0);
  C = countSteps(ffnGraph(1, 200, 96, 384, true), Never, "sm_90", 0);
  EXPECT_EQ(C.CutlassGemms, 1);
  EXPECT_EQ(C.GeluPasses, 0);
  // N = 196 is no multiple of 8: cuBLASLt and the pass.
  C = countSteps(ffnGraph(2, 16, 64, 196, false), Never, "sm_90a", 0);
  EXPECT_EQ(C.Gemms, 1);
  EXPECT_EQ(C.CutlassGemms, 0);
  EXPECT_EQ(C.GeluPasses, 1);
  // Not for sm_80.
  C = countSteps(ffnGraph(2, 16, 64, 128, false), Never, "sm_80", 0);
  EXPECT_EQ(C.CutlassGemms, 0);
  EXPECT_EQ(C.GeluPasses, 1);
  // Not asked for.
  C = countSteps(ffnGraph(2, 16, 64, 128, false), Never, "sm_90a");
  EXPECT_EQ(C.CutlassGemms, 0);
  EXPECT_EQ(C.GeluPasses, 1);
}

TEST(GemmGeluLowering, DefaultTakesCutlassFrom1024Rows) {
  if (!cutlassGemmBuilt())
    GTEST_SKIP() << "built without CUTLASS (KILN_CUTLASS_DIR)";
  constexpr int64_t Default = TargetInfo::DefaultCutlassGeluGemmMinRows;
  EXPECT_EQ(TargetInfo().CutlassGeluGemmMinRows, 1024);
  // MiniLM at 4 x 128 tokens: cuBLASLt and the pass; at 8 x 128, CUTLASS.
  StepCounts C =
      countSteps(ffnGraph(4, 128, 384, 1536, false), Never, "sm_90a", Default);
  EXPECT_EQ(C.CutlassGemms, 0);
  EXPECT_EQ(C.GeluPasses, 1);
  C = countSteps(ffnGraph(8, 128, 384, 1536, false), Never, "sm_90a", Default);
  EXPECT_EQ(C.CutlassGemms, 1);
  EXPECT_EQ(C.GeluPasses, 0);
}

TEST(GemmGeluLowering, CutlassEpilogueSaysWhyNot) {
  GemmShape G;
  G.HasBias = true;
  G.GeluAfter = true;
  G.Step.M = 256;
  G.Step.N = 1536;
  G.Step.K = 384;
  G.Step.AType = G.Step.BType = G.Step.DType_ = DType::F16;
  G.Step.Epi = GemmStep::Epilogue::Bias;
  TargetInfo T = targetFor("sm_80");
  T.CutlassGeluGemmMinRows = 0;
  std::string Why;
  EXPECT_FALSE(geluIntoGemmEpilogue(G, T, &Why));
  EXPECT_EQ(Why, "the CUTLASS kernels are for sm_90a, the target is sm_80");
  EXPECT_EQ(G.Step.Epi, GemmStep::Epilogue::Bias);
  EXPECT_TRUE(G.GeluAfter);
  T = targetFor("sm_90a");
  T.CutlassGeluGemmMinRows = TargetInfo::NeverCutlassGeluGemm;
  EXPECT_FALSE(geluIntoGemmEpilogue(G, T, &Why));
  EXPECT_EQ(Why, "not asked for (--gelu-gemm)");
  T.CutlassGeluGemmMinRows = 257;
  EXPECT_FALSE(geluIntoGemmEpilogue(G, T, &Why));
  EXPECT_EQ(Why, "256 rows, below the 257 where it beats cuBLASLt and the "
                 "pass (--gelu-gemm)");
  T.CutlassGeluGemmMinRows = 256;
  G.Step.AType = DType::F32;
  EXPECT_FALSE(geluIntoGemmEpilogue(G, T, &Why));
  EXPECT_EQ(Why, cutlassGemmBuilt() ? "its operands and result are not all f16"
                                    : "this build has no CUTLASS kernels");
  G.Step.AType = DType::F16;
  EXPECT_EQ(geluIntoGemmEpilogue(G, T, &Why), cutlassGemmBuilt());
  if (cutlassGemmBuilt()) {
    EXPECT_EQ(G.Step.Epi, GemmStep::Epilogue::GeluErfBias);
    EXPECT_FALSE(G.GeluAfter);
  }
}

TEST(CutlassBiasGemmLowering, SaysWhyNot) {
  GemmShape G;
  G.HasBias = true;
  G.Step.M = 32768;
  G.Step.N = 384;
  G.Step.K = 384;
  G.Step.AType = G.Step.BType = G.Step.DType_ = DType::F16;
  G.Step.Epi = GemmStep::Epilogue::Bias;
  TargetInfo T = targetFor("sm_90a");
  std::string Why;
  // From 32768 rows by default (auto).
  EXPECT_EQ(T.CutlassBiasGemmMinRows, TargetInfo::AutoCutlassBiasGemmMinRows);
  T.CutlassBiasGemmMinRows = TargetInfo::NeverCutlassBiasGemm;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "not asked for (--cutlass-bias-gemm)");
  T.CutlassBiasGemmMinRows = TargetInfo::AutoCutlassBiasGemmMinRows;
  G.Step.M = 32767;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "32767 rows, below the 32768 where it beat cuBLASLt "
                 "(--cutlass-bias-gemm)");
  G.Step.M = 32768;
  G.GeluAfter = true;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "its epilogue is not a bias alone");
  G.GeluAfter = false;
  G.Step.Epi = GemmStep::Epilogue::None;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "its epilogue is not a bias alone");
  G.Step.Epi = GemmStep::Epilogue::Bias;
  TargetInfo Old = targetFor("sm_80");
  Old.CutlassBiasGemmMinRows = 0;
  EXPECT_FALSE(biasGemmOnCutlass(G, Old, &Why));
  EXPECT_EQ(Why, "the CUTLASS kernels are for sm_90a, the target is sm_80");
  if (!cutlassGemmBuilt()) {
    EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
    EXPECT_EQ(Why, "this build has no CUTLASS kernels");
    return;
  }
  T.SmallGemmMaxRows = INT64_MAX;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "kiln's own GEMM runs it (--small-gemm-rows)");
  T.SmallGemmMaxRows = 0;
  G.Step.N = 100;
  EXPECT_FALSE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(Why, "N=100 and K=384 are not both multiples of 8");
  G.Step.N = 384;
  EXPECT_EQ(G.Step.Epi, GemmStep::Epilogue::Bias); // unchanged when refused
  EXPECT_TRUE(biasGemmOnCutlass(G, T, &Why));
  EXPECT_EQ(G.Step.Epi, GemmStep::Epilogue::CutlassBias);
}

TEST(CutlassBiasGemmLowering, TheSkipGoesIntoTheCutlassGemm) {
  // MiniLM's attention output at 256 x 128 tokens and its residual
  // LayerNorm: with --cutlass-bias-gemm off cuBLASLt adds the skip
  // (ResidualBias); with auto (the default) the CUTLASS GEMM adds it
  // (CutlassResidualBias), or with --residual-gemm off runs with its bias
  // alone and the SkipLayerNorm kernel adds the skip; 255 x 128 stays
  // below.
  if (!cutlassGemmBuilt())
    GTEST_SKIP() << "built without CUTLASS (KILN_CUTLASS_DIR)";
  auto Graph = [](int64_t Batch) {
    std::string Dims = std::to_string(Batch) + ", 128, 384";
    return "graph @g(%x: f16[" + Dims + "], %skip: f16[" + Dims + "]) {\n" +
           randomConst("w", "f16", {384, 384}, 41) +
           randomConst("b", "f16", {384}, 42) +
           randomConst("gamma", "f16", {384}, 43) +
           randomConst("beta", "f16", {384}, 44) +
           "  %y = FusedGemm(%x, %w, %b) {activation = \"none\"} : f16[" +
           Dims +
           "]\n"
           "  %z = SkipLayerNorm(%y, %skip, %gamma, %beta) {epsilon = "
           "1.0e-12} : f16[" +
           Dims + "]\n  return %z\n}\n";
  };
  auto Epilogues = [&](int64_t Batch, int64_t MinRows,
                       bool ResidualGemm = true) {
    TargetInfo T = targetFor("sm_90a");
    T.CutlassBiasGemmMinRows = MinRows;
    T.ResidualGemm = ResidualGemm;
    std::vector<GemmStep::Epilogue> Out;
    std::optional<Artifact> A = compileForTarget(Graph(Batch), T);
    if (A)
      for (const Step &S : A->Plan.Buckets[0].Steps)
        if (const auto *G = std::get_if<GemmStep>(&S))
          Out.push_back(G->Epi);
    return Out;
  };
  using E = GemmStep::Epilogue;
  constexpr int64_t Auto = TargetInfo::AutoCutlassBiasGemmMinRows;
  EXPECT_EQ(Epilogues(256, TargetInfo::NeverCutlassBiasGemm),
            std::vector<E>{E::ResidualBias});
  EXPECT_EQ(Epilogues(256, Auto), std::vector<E>{E::CutlassResidualBias});
  EXPECT_EQ(Epilogues(256, Auto, false), std::vector<E>{E::CutlassBias});
  EXPECT_EQ(Epilogues(255, Auto), std::vector<E>{E::ResidualBias});
}

TEST(GpuGemmGelu, CutlassThroughThePlan) {
  // The MiniLM FFN (256 tokens), 7 rows, transposed weights, and the FFN's
  // second shape (N 384, K 1536) at a row count no tile divides; through
  // the artifact, the context's preparation and a CUDA graph.
  expectGpuMatchesReference(ffnGraph(2, 128, 384, 1536, false),
                            fp16Check(false, true));
  expectGpuMatchesReference(ffnGraph(1, 7, 384, 1536, false),
                            fp16Check(false, true));
  expectGpuMatchesReference(ffnGraph(1, 200, 96, 384, true),
                            fp16Check(false, true));
  GpuCheck Wide = fp16Check(false, true);
  Wide.AbsTol = Wide.RelTol = 8e-3; // sums of 1536 products
  expectGpuMatchesReference(ffnGraph(2, 77, 1536, 384, false), Wide);
}

/// Whether the CUTLASS GEMM can run here; if not, `Why`.
bool cutlassRuns(std::string &Why) {
  if (!cutlassGemmBuilt()) {
    Why = "built without CUTLASS (KILN_CUTLASS_DIR)";
    return false;
  }
  if (!gpuAvailable(&Why))
    return false;
  if (llvm::Error E = checkCutlassDevice()) {
    Why = llvm::toString(std::move(E));
    return false;
  }
  return true;
}

std::vector<uint16_t> randomHalves(size_t Count, uint64_t Seed) {
  std::mt19937_64 Rng(Seed);
  std::uniform_real_distribution<float> U(-0.5f, 0.5f);
  std::vector<uint16_t> Out(Count);
  for (uint16_t &H : Out)
    H = floatToHalf(U(Rng));
  return Out;
}

/// Device memory freed on scope exit.
struct DeviceBuffer {
  void *P = nullptr;
  explicit DeviceBuffer(size_t Bytes) {
    EXPECT_EQ(cudaMalloc(&P, Bytes), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(P); }
};

/// The operands of one GEMM (fp16, uniform in [-0.5, 0.5)) on the device;
/// C (the residual, [M, N]) is passed only to a CutlassResidualBias GEMM.
struct GemmOperands {
  GemmStep S;
  std::vector<uint16_t> A, B, Bias, C;
  DeviceBuffer DA, DB, DBias, DC, DD, Workspace;
  GemmOperands(int64_t M, int64_t N, int64_t K, bool TransB)
      : A(randomHalves(M * K, 1)), B(randomHalves(K * N, 2)),
        Bias(randomHalves(N, 3)), C(randomHalves(M * N, 4)), DA(M * K * 2),
        DB(K * N * 2), DBias(N * 2), DC(M * N * 2), DD(M * N * 2),
        Workspace(GemmWorkspaceBytes) {
    S.M = M;
    S.N = N;
    S.K = K;
    S.TransB = TransB;
    S.AType = S.BType = S.DType_ = DType::F16;
    S.Epi = GemmStep::Epilogue::GeluErfBias;
    S.Label = "test " + std::to_string(M) + "x" + std::to_string(N) + "x" +
              std::to_string(K);
    EXPECT_EQ(cudaMemcpy(DA.P, A.data(), M * K * 2, cudaMemcpyHostToDevice),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy(DB.P, B.data(), K * N * 2, cudaMemcpyHostToDevice),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy(DBias.P, Bias.data(), N * 2, cudaMemcpyHostToDevice),
              cudaSuccess);
    EXPECT_EQ(cudaMemcpy(DC.P, C.data(), M * N * 2, cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  llvm::Error run(cudaStream_t Stream, CutlassTile Tile) {
    return runCutlassGemm(S, DA.P, DB.P, DBias.P,
                          hasResidual(S.Epi) ? DC.P : nullptr, DD.P,
                          Workspace.P, GemmWorkspaceBytes, Stream, Tile);
  }
};

const char *tileName(CutlassTile T) {
  switch (T) {
  case CutlassTile::Auto: return "auto";
  case CutlassTile::Pingpong64x128: return "pingpong 64x128";
  case CutlassTile::Pingpong128x128: return "pingpong 128x128";
  case CutlassTile::Cooperative128x256: return "cooperative 128x256";
  }
  return "?";
}

/// The CUTLASS GEMM (with the erf GELU, or with Epi CutlassBias the bias
/// alone, with CutlassResidualBias the bias and C) on random inputs against a double-precision host reference of
/// the same fp16 inputs, on every row up to 256 rows, else on the first
/// and last 64 and 64 random ones. The result's bytes start as NaN, so a
/// row left unwritten fails.
void expectCutlassMatchesHost(
    int64_t M, int64_t N, int64_t K, bool TransB, CutlassTile Tile,
    float Alpha = 1.0f,
    GemmStep::Epilogue Epi = GemmStep::Epilogue::GeluErfBias) {
  bool Gelu = Epi == GemmStep::Epilogue::GeluErfBias;
  bool Residual = hasResidual(Epi);
  SCOPED_TRACE("M=" + std::to_string(M) + " N=" + std::to_string(N) +
               " K=" + std::to_string(K) + (TransB ? " transB" : "") +
               (Gelu       ? " tile " + std::string(tileName(Tile))
                : Residual ? " bias and C"
                           : " bias only"));
  GemmOperands G(M, N, K, TransB);
  G.S.Alpha = Alpha;
  G.S.Epi = Epi;
  ASSERT_EQ(cudaMemset(G.DD.P, 0xff, M * N * 2), cudaSuccess);
  llvm::Error E = G.run(nullptr, Tile);
  ASSERT_FALSE(bool(E)) << llvm::toString(std::move(E));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> D(M * N);
  ASSERT_EQ(cudaMemcpy(D.data(), G.DD.P, M * N * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  std::vector<int64_t> Rows;
  if (M <= 256) {
    for (int64_t R = 0; R < M; ++R)
      Rows.push_back(R);
  } else {
    std::mt19937_64 Rng(7);
    for (int64_t R = 0; R < 64; ++R)
      Rows.insert(Rows.end(), {R, M - 1 - R, int64_t(Rng() % M)});
  }
  // Sums of K products of values below 0.5: fp32 accumulation in another
  // order, then one fp16 rounding (2^-11 relative).
  const double AbsTol = 2e-3, RelTol = 2e-3;
  int64_t Bad = 0;
  double Worst = 0;
  for (int64_t R : Rows) {
    for (int64_t C = 0; C < N; ++C) {
      double X = 0;
      for (int64_t I = 0; I < K; ++I)
        X += double(halfToFloat(G.A[R * K + I])) *
             halfToFloat(TransB ? G.B[C * K + I] : G.B[I * N + C]);
      X = Alpha * X + halfToFloat(G.Bias[C]) +
          (Residual ? halfToFloat(G.C[R * N + C]) : 0.0);
      double Want = Gelu ? 0.5 * X * (1.0 + std::erf(X / std::sqrt(2.0))) : X;
      double Have = halfToFloat(D[R * N + C]);
      double Err = std::fabs(Want - Have);
      if (!(Err <= AbsTol + RelTol * std::fabs(Want))) {
        if (Bad++ < 5)
          ADD_FAILURE() << "D[" << R << ", " << C << "] = " << Have
                        << ", expected " << Want;
      }
      if (!(Err <= Worst))
        Worst = Err;
    }
  }
  EXPECT_EQ(Bad, 0) << "worst error " << Worst;
}

const CutlassTile AllTiles[] = {CutlassTile::Pingpong64x128,
                                CutlassTile::Pingpong128x128,
                                CutlassTile::Cooperative128x256};

TEST(GpuCutlassGeluGemm, EpilogueGeluIsTheErfGelu) {
  // The polynomial GELU (on the host; the kernels take 2^x from the SFU,
  // 2^-22 relative) against 0.5 x (1 + erf(x / sqrt(2))) in double on
  // every 2^-12 step of [-12, 12], then past it.
  if (!cutlassGemmBuilt())
    GTEST_SKIP() << "built without CUTLASS (KILN_CUTLASS_DIR)";
  double Worst = 0, WorstX = 0;
  for (int I = -12 * 4096; I <= 12 * 4096; ++I) {
    float X = float(I) / 4096;
    double Want = 0.5 * X * (1.0 + std::erf(X / std::sqrt(2.0)));
    double Err = std::fabs(detail::cutlassGeluErf(X) - Want);
    if (!(Err <= Worst)) {
      Worst = Err;
      WorstX = X;
    }
  }
  EXPECT_LT(Worst, 1e-6) << "at x = " << WorstX;
  for (float X : {20.0f, 1e3f, 1e30f})
    EXPECT_EQ(detail::cutlassGeluErf(X), X);
  for (float X : {-20.0f, -1e3f, -1e30f})
    EXPECT_EQ(detail::cutlassGeluErf(X), 0.0f) << X;
  EXPECT_TRUE(std::isnan(detail::cutlassGeluErf(std::nanf(""))));
}

TEST(GpuCutlassGeluGemm, MiniLmFfnRows) {
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  for (int64_t M : {1, 7, 128, 4096, 32768})
    expectCutlassMatchesHost(M, 1536, 384, false, CutlassTile::Auto);
}

TEST(GpuCutlassGeluGemm, EveryTileConfiguration) {
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  for (CutlassTile T : AllTiles)
    for (bool TransB : {false, true})
      for (int64_t M : {7, 200, 4097})
        expectCutlassMatchesHost(M, 1536, 384, TransB, T);
}

TEST(GpuCutlassGeluGemm, SecondFfnShapeAlphaAndTransposedWeights) {
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  expectCutlassMatchesHost(1000, 384, 1536, false, CutlassTile::Auto);
  expectCutlassMatchesHost(33, 384, 1536, false, CutlassTile::Auto);
  expectCutlassMatchesHost(300, 1536, 384, false, CutlassTile::Auto, 0.5f);
  expectCutlassMatchesHost(300, 384, 96, true, CutlassTile::Auto);
  expectCutlassMatchesHost(4096, 1536, 384, true, CutlassTile::Auto);
}

TEST(GpuCutlassGeluGemm, PicksTheTileByShape) {
  // MiniLM's FFN on 132 SMs (an H100 SXM or H200): the fastest or within
  // 5% of it at each row count timed.
  GemmStep S;
  S.N = 1536;
  S.K = 384;
  auto Pick = [&](int64_t M) {
    S.M = M;
    return pickCutlassTile(S, 132);
  };
  EXPECT_EQ(Pick(128), CutlassTile::Pingpong64x128);
  EXPECT_EQ(Pick(1024), CutlassTile::Pingpong64x128);
  EXPECT_EQ(Pick(2048), CutlassTile::Pingpong128x128);
  EXPECT_EQ(Pick(4096), CutlassTile::Pingpong128x128);
  EXPECT_EQ(Pick(8192), CutlassTile::Cooperative128x256);
  EXPECT_EQ(Pick(32768), CutlassTile::Cooperative128x256);
}

TEST(GpuCutlassBiasGemm, MiniLmShapesAndTransposedWeights) {
  // The QKV, attention-output and FFN-output GEMMs of all-MiniLM-L6-v2,
  // the bias alone (the ping-pong 128x128 kernel), from one row to 32768
  // and at row counts no tile divides.
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  const auto Bias = GemmStep::Epilogue::CutlassBias;
  for (int64_t M : {1, 200, 4097, 32768}) {
    expectCutlassMatchesHost(M, 1152, 384, false, CutlassTile::Auto, 1.0f,
                             Bias);
    expectCutlassMatchesHost(M, 384, 384, false, CutlassTile::Auto, 1.0f, Bias);
  }
  expectCutlassMatchesHost(4096, 384, 1536, false, CutlassTile::Auto, 1.0f,
                           Bias);
  expectCutlassMatchesHost(300, 384, 1536, true, CutlassTile::Auto, 0.5f, Bias);
  expectCutlassMatchesHost(77, 1152, 384, true, CutlassTile::Auto, 1.0f, Bias);
}

TEST(GpuCutlassBiasGemm, AddsTheResidual) {
  // The attention-output and FFN-output GEMMs with a residual LayerNorm's
  // skip as C (CutlassResidualBias), from one row to 32768, at row counts
  // no tile divides, with alpha and transposed weights.
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  const auto Residual = GemmStep::Epilogue::CutlassResidualBias;
  for (int64_t M : {1, 200, 4097, 32768})
    expectCutlassMatchesHost(M, 384, 384, false, CutlassTile::Auto, 1.0f,
                             Residual);
  expectCutlassMatchesHost(32768, 384, 1536, false, CutlassTile::Auto, 1.0f,
                           Residual);
  expectCutlassMatchesHost(300, 384, 1536, true, CutlassTile::Auto, 0.5f,
                           Residual);
  expectCutlassMatchesHost(77, 1152, 384, true, CutlassTile::Auto, 1.0f,
                           Residual);
  // Without its C, or with C for an epilogue that has none: an error.
  GemmOperands G(64, 384, 384, false);
  G.S.Epi = Residual;
  llvm::Error E = runCutlassGemm(G.S, G.DA.P, G.DB.P, G.DBias.P, nullptr,
                                 G.DD.P, G.Workspace.P, GemmWorkspaceBytes,
                                 nullptr, CutlassTile::Auto);
  EXPECT_NE(llvm::toString(std::move(E)).find("has no C"), std::string::npos);
  G.S.Epi = GemmStep::Epilogue::CutlassBias;
  E = runCutlassGemm(G.S, G.DA.P, G.DB.P, G.DBias.P, G.DC.P, G.DD.P,
                     G.Workspace.P, GemmWorkspaceBytes, nullptr,
                     CutlassTile::Auto);
  EXPECT_NE(llvm::toString(std::move(E)).find("C given to an epilogue"),
            std::string::npos);
}

TEST(GpuCutlassBiasGemm, ThroughThePlanBesideTheLayerNorm) {
  // A projection and the residual LayerNorm after it, and a bias GEMM
  // alone, with every bias GEMM on CUTLASS: the GEMM adds the skip and
  // the LayerNorm kernel normalizes (CutlassResidualBias), or with
  // --residual-gemm off the GEMM adds no skip and the SkipLayerNorm kernel
  // does (through the artifact, the context's preparation and a CUDA
  // graph).
  GpuCheck C;
  C.AbsTol = C.RelTol = 8e-3;
  C.CutlassBiasGemm = true;
  C.FusedGeluGemmMaxRows = 0;
  std::string Ir =
      "graph @g(%x: f16[2, 100, 384], %skip: f16[2, 100, 384]) {\n" +
      randomConst("w", "f16", {384, 384}, 41) +
      randomConst("b", "f16", {384}, 42) +
      randomConst("gamma", "f16", {384}, 43) +
      randomConst("beta", "f16", {384}, 44) +
      "  %y = FusedGemm(%x, %w, %b) {activation = \"none\"} : "
      "f16[2, 100, 384]\n"
      "  %z = SkipLayerNorm(%y, %skip, %gamma, %beta) {epsilon = 1.0e-12} : "
      "f16[2, 100, 384]\n  return %z\n}\n";
  expectGpuMatchesReference(Ir, C);
  C.ResidualGemm = false;
  expectGpuMatchesReference(Ir, C);
  std::string Alone =
      "graph @g(%x: f16[3, 50, 384]) {\n" +
      randomConst("w", "f16", {1152, 384}, 45) +
      randomConst("b", "f16", {1152}, 46) +
      "  %y = FusedGemm(%x, %w, %b) {activation = \"none\", trans_b = 1} : "
      "f16[3, 50, 1152]\n  return %y\n}\n";
  expectGpuMatchesReference(Alone, C);
}

TEST(GpuCutlassGeluGemm, RefusesWhatItCannotRun) {
  GemmStep S;
  S.M = 64;
  S.N = 100;
  S.K = 384;
  S.AType = S.BType = S.DType_ = DType::F16;
  EXPECT_EQ(cutlassGemmRefusal(S),
            "N=100 and K=384 are not both multiples of 8");
  S.N = 128;
  EXPECT_EQ(cutlassGemmRefusal(S), "");
  S.Batch = 2;
  EXPECT_EQ(cutlassGemmRefusal(S), "it is batched");
  S.Batch = 1;
  S.TransA = true;
  EXPECT_EQ(cutlassGemmRefusal(S), "A is transposed");
  S.TransA = false;
  S.DType_ = DType::BF16;
  EXPECT_EQ(cutlassGemmRefusal(S), "its operands and result are not all f16");
}

float median(std::vector<float> V) {
  std::sort(V.begin(), V.end());
  return V[V.size() / 2];
}

/// The median of `Runs` replays of a CUDA graph of one call of `Launch`,
/// each timed with events: no host launch cost, as in a plan's graph.
template <class Fn> float timeInGraph(Fn Launch, int Runs) {
  cudaStream_t Stream = nullptr;
  EXPECT_EQ(cudaStreamCreate(&Stream), cudaSuccess);
  cudaGraph_t Graph = nullptr;
  cudaGraphExec_t Exec = nullptr;
  EXPECT_EQ(cudaStreamBeginCapture(Stream, cudaStreamCaptureModeThreadLocal),
            cudaSuccess);
  llvm::Error E = Launch(Stream);
  EXPECT_EQ(cudaStreamEndCapture(Stream, &Graph), cudaSuccess);
  EXPECT_FALSE(bool(E)) << llvm::toString(std::move(E));
  EXPECT_EQ(cudaGraphInstantiate(&Exec, Graph, 0), cudaSuccess);
  cudaEvent_t Start, Stop;
  cudaEventCreate(&Start);
  cudaEventCreate(&Stop);
  std::vector<float> Ms;
  for (int I = 0; I < Runs + 5; ++I) {
    cudaEventRecord(Start, Stream);
    cudaGraphLaunch(Exec, Stream);
    cudaEventRecord(Stop, Stream);
    EXPECT_EQ(cudaEventSynchronize(Stop), cudaSuccess);
    float T = 0;
    cudaEventElapsedTime(&T, Start, Stop);
    if (I >= 5) // warm-up
      Ms.push_back(T);
  }
  cudaEventDestroy(Start);
  cudaEventDestroy(Stop);
  cudaGraphExecDestroy(Exec);
  cudaGraphDestroy(Graph);
  cudaStreamDestroy(Stream);
  return median(Ms);
}

/// The FFN graph of `Rows` tokens compiled `Cutlass` or not (cuBLASLt +
/// the pass; with `GeluAfter` false, cuBLASLt's bias GEMM alone), run once
/// on random inputs, then timed: the median of 100 graph replays, and each
/// step's median of 100 runs without a graph.
void timePlan(int64_t Rows, bool Cutlass, bool GeluAfter = true,
              int64_t N = 1536, int64_t K = 384) {
  auto G = parseGraph(
      ffnGraph(Rows / 128, 128, K, N, false, GeluAfter ? "gelu" : "none"),
      "<t>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  CompileOptions O;
  O.Pipeline = {};
  O.Target.CutlassGeluGemmMinRows =
      Cutlass ? 0 : TargetInfo::NeverCutlassGeluGemm;
  O.Target.FusedGeluGemmMaxRows = 0;
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  auto E = createEngine(std::move(*A));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  Tensor X(DType::F16, {Rows / 128, 128, K});
  std::vector<uint16_t> H = randomHalves(Rows * K, 5);
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setDouble(I, halfToFloat(H[I]));
  std::vector<Tensor> Inputs;
  Inputs.push_back(std::move(X));
  auto Got = runTensors(**Ctx, Inputs);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  auto Replays = (*Ctx)->timeBucket(0, 100);
  ASSERT_TRUE(bool(Replays)) << llvm::toString(Replays.takeError());
  auto Steps = (*Ctx)->profileBucket(0, 100);
  ASSERT_TRUE(bool(Steps)) << llvm::toString(Steps.takeError());
  std::printf("timing M=%lld N=%lld K=%lld %s: graph replay median %.4f ms;",
              (long long)Rows, (long long)N, (long long)K,
              Cutlass     ? "cutlass"
              : GeluAfter ? "cublaslt+pass"
                          : "cublaslt bias only",
              median(*Replays));
  for (const auto &S : *Steps)
    std::printf(" [%s %.4f ms]", S.What.c_str(), S.Ms);
  std::printf("\n");
}

TEST(GpuGemmGeluTiming, CutlassAgainstCublasLtAndThePass) {
  if (!std::getenv("KILN_GEMM_GELU_TIMING"))
    GTEST_SKIP() << "set KILN_GEMM_GELU_TIMING=1 to time";
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  for (int64_t Rows :
       {int64_t(4096), int64_t(8192), int64_t(16384), int64_t(32768)}) {
    timePlan(Rows, false, false);
    timePlan(Rows, false);
    timePlan(Rows, true);
    // The kernel alone, per tile configuration.
    GemmOperands G(Rows, 1536, 384, false);
    std::vector<CutlassTile> Tiles(std::begin(AllTiles), std::end(AllTiles));
    Tiles.insert(Tiles.begin(), CutlassTile::Auto);
    for (CutlassTile T : Tiles) {
      float Ms = timeInGraph(
          [&](cudaStream_t Stream) { return G.run(Stream, T); }, 100);
      std::printf("timing M=%lld N=1536 K=384 cutlass %s: %.4f ms "
                  "(%.0f TFLOP/s)\n",
                  (long long)Rows, tileName(T), Ms,
                  2.0 * Rows * 1536 * 384 / (Ms * 1e-3) / 1e12);
    }
  }
  for (int64_t Rows : {int64_t(128), int64_t(1024), int64_t(2048)}) {
    timePlan(Rows, false, false);
    timePlan(Rows, false);
    timePlan(Rows, true);
    GemmOperands G(Rows, 1536, 384, false);
    for (CutlassTile T : AllTiles)
      std::printf(
          "timing M=%lld N=1536 K=384 cutlass %s: %.4f ms\n", (long long)Rows,
          tileName(T),
          timeInGraph([&](cudaStream_t Stream) { return G.run(Stream, T); },
                      100));
  }
}

// The CUTLASS GEMM between two of kiln's kernels, launched with and
// without programmatic dependent launch: its loads must wait for the
// LayerNorm that writes its A, and the Add after it for its stores. Many
// replays back to back, so that a read too early would show somewhere.
TEST(GpuGemmGelu, CutlassProgrammaticLaunchGivesTheSameAnswers) {
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  std::string Ir =
      "graph @g(%x: f16[8, 128, 384]) {\n" +
      randomConst("s", "f16", {384}, 21) +
      randomConst("w", "f16", {384, 1536}, 22) +
      randomConst("b", "f16", {1536}, 23) +
      "  %n = LayerNorm(%x, %s) {epsilon = 1.0e-12} : f16[8, 128, 384]\n"
      "  %y = FusedGemm(%n, %w, %b) {activation = \"gelu\"} : f16[8, 128, "
      "1536]\n"
      "  %z = Add(%y, %y) : f16[8, 128, 1536]\n"
      "  return %z\n}\n";
  auto G = parseGraph(Ir, "<t>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  CompileOptions O;
  O.Pipeline = {};
  O.Target.CutlassGeluGemmMinRows = 0;
  O.Target.FusedGeluGemmMaxRows = 0;
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  int Cutlass = 0;
  for (const Step &S : A->Plan.Buckets[0].Steps)
    if (const auto *Gs = std::get_if<GemmStep>(&S))
      Cutlass += Gs->Epi == GemmStep::Epilogue::GeluErfBias;
  ASSERT_EQ(Cutlass, 1);
  Tensor X(DType::F16, {8, 128, 384});
  std::vector<uint16_t> H = randomHalves(8 * 128 * 384, 24);
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setDouble(I, 4 * halfToFloat(H[I]));
  std::vector<Tensor> Inputs;
  Inputs.push_back(std::move(X));
  auto MaxDiff = [](const Tensor &P, const Tensor &Q) {
    double D = 0;
    for (int64_t I = 0; I < P.numElements(); ++I)
      D = std::max(D, std::fabs(P.getDouble(I) - Q.getDouble(I)));
    return D;
  };
  std::vector<Tensor> Firsts;
  for (bool Programmatic : {true, false}) {
    EngineOptions EO;
    EO.ProgrammaticLaunch = Programmatic;
    auto E = createEngine(*A, EO);
    ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
    auto Ctx = (*E)->createContext();
    ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
    for (int R = 0; R < 30; ++R) {
      auto Got = runTensors(**Ctx, Inputs);
      ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
      if (R == 0)
        Firsts.push_back(std::move((*Got)[0]));
      else
        ASSERT_EQ(MaxDiff((*Got)[0], Firsts.back()), 0.0)
            << "replay " << R << (Programmatic ? ", programmatic" : "");
    }
  }
  EXPECT_EQ(MaxDiff(Firsts[0], Firsts[1]), 0.0);
}

#ifdef KILN_CUTLASS_PROBE
/// Experiments on the epilogue (built with -DKILN_CUTLASS_PROBE=ON): each
/// variant's time at the FFN's shape, and, for the GELU variants, its
/// worst error against the erf GELU in double on 192 rows, beside
/// cuBLASLt's bias GEMM. KILN_PROBE_SHAPES ("NxK,...", 1536x384 unless
/// set) names other weight shapes and KILN_PROBE_VARIANTS ("1,5,...") a
/// subset of the variants.
TEST(GpuCutlassProbe, Epilogues) {
  std::string Why;
  if (!cutlassRuns(Why))
    GTEST_SKIP() << Why;
  int Device = 0, Sms = 0;
  ASSERT_EQ(cudaGetDevice(&Device), cudaSuccess);
  ASSERT_EQ(
      cudaDeviceGetAttribute(&Sms, cudaDevAttrMultiProcessorCount, Device),
      cudaSuccess);
  std::vector<std::pair<int64_t, int64_t>> Shapes = {{1536, 384}};
  if (const char *Env = std::getenv("KILN_PROBE_SHAPES")) {
    Shapes.clear();
    llvm::SmallVector<llvm::StringRef> Parts;
    llvm::StringRef(Env).split(Parts, ',');
    for (llvm::StringRef P : Parts) {
      auto [NText, KText] = P.split('x');
      int64_t N = 0, K = 0;
      ASSERT_FALSE(NText.getAsInteger(10, N) || KText.getAsInteger(10, K) ||
                   N <= 0 || K <= 0)
          << "KILN_PROBE_SHAPES: '" << P.str() << "' is not NxK";
      Shapes.push_back({N, K});
    }
  }
  std::vector<int> Variants;
  if (const char *Env = std::getenv("KILN_PROBE_VARIANTS")) {
    llvm::SmallVector<llvm::StringRef> Parts;
    llvm::StringRef(Env).split(Parts, ',');
    for (llvm::StringRef P : Parts) {
      int V = -1;
      ASSERT_FALSE(P.getAsInteger(10, V) || V < 0 ||
                   V >= detail::cutlassProbeCount())
          << "KILN_PROBE_VARIANTS: '" << P.str() << "' is no variant";
      Variants.push_back(V);
    }
  } else {
    for (int V = 0; V < detail::cutlassProbeCount(); ++V)
      Variants.push_back(V);
  }
  bool Once = std::getenv("KILN_PROBE_ONCE") != nullptr; // under ncu
  std::vector<int64_t> Ms = {32768, 8192, 4096};
  if (Once)
    Ms.resize(1);
  for (const auto &Shape : Shapes) {
    const int64_t N = Shape.first, K = Shape.second;
    for (int64_t M : Ms) {
      GemmOperands G(M, N, K, false);
      std::mt19937_64 Rng(7);
      std::vector<int64_t> Rows;
      for (int64_t R = 0; R < 64; ++R)
        Rows.insert(Rows.end(), {R, M - 1 - R, int64_t(Rng() % M)});
      std::vector<double> Pre(Rows.size() * N);
      for (size_t I = 0; I < Rows.size(); ++I)
        for (int64_t C = 0; C < N; ++C) {
          double X = 0;
          for (int64_t J = 0; J < K; ++J)
            X += double(halfToFloat(G.A[Rows[I] * K + J])) *
                 halfToFloat(G.B[J * N + C]);
          Pre[I * N + C] = X + halfToFloat(G.Bias[C]);
        }
      for (int V : Variants) {
        auto Run = [&](cudaStream_t Stream) -> llvm::Error {
          std::string F = detail::launchCutlassProbe(
              V, int(M), int(N), int(K), G.DA.P, G.DB.P, G.DBias.P, G.DD.P,
              G.Workspace.P, GemmWorkspaceBytes, Device, Sms, Stream);
          return F.empty() ? llvm::Error::success() : makeError(F);
        };
        llvm::Error E = Run(nullptr);
        ASSERT_FALSE(bool(E)) << detail::cutlassProbeName(V) << ": "
                              << llvm::toString(std::move(E));
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        if (Once)
          continue;
        std::vector<uint16_t> D(M * N);
        ASSERT_EQ(
            cudaMemcpy(D.data(), G.DD.P, M * N * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
        // Against the erf GELU (variants with a GELU), else the identity.
        bool Gelu = std::string(detail::cutlassProbeName(V)).find("gelu") !=
                    std::string::npos;
        bool Bias = std::string(detail::cutlassProbeName(V)).find("no bias") ==
                    std::string::npos;
        double Worst = 0, WorstUlps = 0;
        for (size_t I = 0; I < Rows.size(); ++I)
          for (int64_t C = 0; C < N; ++C) {
            double X = Pre[I * N + C] - (Bias ? 0.0 : halfToFloat(G.Bias[C]));
            double Want =
                Gelu ? 0.5 * X * (1.0 + std::erf(X / std::sqrt(2.0))) : X;
            double Have = halfToFloat(D[Rows[I] * N + C]);
            double Ulp = std::ldexp(
                1.0, std::max(std::ilogb(std::fabs(Want) + 1e-30), -14) - 10);
            Worst = std::max(Worst, std::fabs(Want - Have));
            WorstUlps = std::max(WorstUlps, std::fabs(Want - Have) / Ulp);
          }
        float Ms = timeInGraph(Run, 100);
        std::printf("probe M=%lld N=%lld K=%lld %-45s %.4f ms (%.0f TFLOP/s), "
                    "max abs err %.3g, max %.2f fp16 ulps\n",
                    (long long)M, (long long)N, (long long)K,
                    detail::cutlassProbeName(V), Ms,
                    2.0 * M * N * K / (Ms * 1e-3) / 1e12, Worst, WorstUlps);
        EXPECT_LT(Worst, 2e-2) << detail::cutlassProbeName(V);
      }
      timePlan(M, false, false, N, K);
      if (!Once)
        timePlan(M, false, true, N, K);
    }
  }
}
#endif

} // namespace
} // namespace kiln
