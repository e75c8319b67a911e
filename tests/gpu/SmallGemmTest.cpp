//===- SmallGemmTest.cpp - kiln's own GEMM for small batches --------------===//
//
// `kiln compile --small-gemm-rows N` (TargetInfo::SmallGemmMaxRows): GEMMs
// of at most N rows run as gemm_gelu.cuh's kernel (bias, erf GELU or
// neither in the epilogue) instead of cuBLASLt, and a GEMM whose only use
// is a SkipLayerNorm's x runs with it as one kernel
// (gemm_skip_layernorm_f16, a thread-block cluster per row block). Against
// the reference executor on the GPU; which steps the lowering emits is
// checked on the plan, so that part runs without a GPU too.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/Compiler.h"
#include "codegen/GemmLowering.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace kiln {
namespace {

std::string dims(std::vector<int64_t> D) {
  std::string S;
  for (int64_t X : D)
    S += (S.empty() ? "" : ", ") + std::to_string(X);
  return S;
}

/// y = FusedGemm(x, w, b?) {activation} over [Rows, K] -> [Rows, N].
std::string gemmGraph(int64_t Rows, int64_t K, int64_t N,
                      const char *Activation, bool Bias, bool TransB = false) {
  std::vector<int64_t> W =
      TransB ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
  return "graph @g(%x: f16[" + dims({Rows, K}) + "]) {\n" +
         randomConst("w", "f16", W, 21) +
         (Bias ? randomConst("b", "f16", {N}, 22) : std::string()) +
         "  %y = FusedGemm(%x, %w" + (Bias ? ", %b" : "") +
         ") {activation = \"" + Activation + "\"" +
         (TransB ? ", trans_b = 1" : "") + "} : f16[" + dims({Rows, N}) +
         "]\n  return %y\n}\n";
}

struct LayerNormForm {
  bool GemmBias = true, Beta = true, Extra = false, TransB = false;
  const char *ScaleType = "f16";
  bool SecondUse = false; // the GEMM's result is also a graph output
};

/// z = SkipLayerNorm(FusedGemm(x, w, b?), skip, gamma, beta?, extra?) over
/// [Batch, Seq, K] -> [Batch, Seq, N], as a BERT layer's projection and
/// residual LayerNorm.
std::string layerNormGraph(int64_t Batch, int64_t Seq, int64_t K, int64_t N,
                           const LayerNormForm &F = {}) {
  std::string Out = dims({Batch, Seq, N});
  std::vector<int64_t> W =
      F.TransB ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
  std::string S = "graph @g(%x: f16[" + dims({Batch, Seq, K}) +
                  "], %skip: f16[" + Out + "]) {\n" +
                  randomConst("w", "f16", W, 31) +
                  randomConst("gamma", F.ScaleType, {N}, 33);
  if (F.GemmBias)
    S += randomConst("b", "f16", {N}, 32);
  if (F.Beta)
    S += randomConst("beta", F.ScaleType, {N}, 34);
  if (F.Extra)
    S += randomConst("extra", F.ScaleType, {N}, 35);
  S += "  %y = FusedGemm(%x, %w" + std::string(F.GemmBias ? ", %b" : "") +
       ") {activation = \"none\"" + (F.TransB ? ", trans_b = 1" : "") +
       "} : f16[" + Out + "]\n";
  S += "  %z = SkipLayerNorm(%y, %skip, %gamma, " +
       std::string(F.Beta ? "%beta" : "none") + (F.Extra ? ", %extra" : "") +
       ") {epsilon = 1.0e-12} : f16[" + Out + "]\n";
  S += F.SecondUse ? "  return %z, %y\n}\n" : "  return %z\n}\n";
  return S;
}

GpuCheck smallGemmCheck(double Tol = 4e-3) {
  GpuCheck C;
  C.AbsTol = C.RelTol = Tol;
  C.FusedGeluGemmMaxRows = 0;
  C.SmallGemmMaxRows = INT64_MAX;
  return C;
}

struct Steps {
  int CublasGemms = 0, OwnGemms = 0, GemmLayerNorms = 0, LayerNorms = 0,
      GeluPasses = 0;
  /// Every kernel's mangled name, grid and block, in order.
  std::vector<std::string> Kernels;
  std::vector<std::vector<uint32_t>> Launches; // grid x, y, block x
};

Steps lowerSteps(const std::string &Ir, int64_t MaxRows,
                 const std::string &Arch = "sm_90a") {
  Steps Out;
  TargetInfo T = targetFor(Arch);
  T.SmallGemmMaxRows = MaxRows;
  std::optional<Artifact> A = compileForTarget(Ir, T);
  if (!A)
    return Out;
  for (const BucketPlan &B : A->Plan.Buckets)
    for (const Step &S : B.Steps) {
      if (std::holds_alternative<GemmStep>(S)) {
        ++Out.CublasGemms;
        continue;
      }
      const auto *K = std::get_if<KernelStep>(&S);
      if (!K)
        continue;
      const KernelRef &R = A->Plan.Kernels[K->Kernel];
      const std::string &Name = R.LoweredName;
      Out.Kernels.push_back(Name);
      Out.Launches.push_back({K->Grid[0], K->Grid[1], K->Block[0]});
      Out.OwnGemms += Name.find("gemm_bias_gelu_f16") != std::string::npos;
      Out.GemmLayerNorms +=
          Name.find("gemm_skip_layernorm_f16") != std::string::npos;
      Out.LayerNorms += A->Plan.Modules[R.Module].Name == "layernorm.cuh";
      Out.GeluPasses += A->Plan.Modules[R.Module].Name == "gemm_epilogue.cuh";
    }
  return Out;
}

TEST(GpuSmallGemm, BiasOnlyQkvShape) {
  // all-MiniLM-L6-v2's QKV projection at one sequence of 128 tokens.
  expectGpuMatchesReference(gemmGraph(128, 384, 1152, "none", true),
                            smallGemmCheck());
}

TEST(GpuSmallGemm, NoBiasRowTailAndTransposedWeights) {
  expectGpuMatchesReference(gemmGraph(77, 384, 384, "none", false),
                            smallGemmCheck());
  expectGpuMatchesReference(gemmGraph(5, 96, 256, "none", true, true),
                            smallGemmCheck());
}

TEST(GpuSmallGemm, ErfGeluFfnShape) {
  expectGpuMatchesReference(gemmGraph(128, 384, 1536, "gelu", true),
                            smallGemmCheck());
  // 4096 rows take the 64x128 tiles (and 8192 the 128x128 ones).
  expectGpuMatchesReference(gemmGraph(4096, 384, 1536, "gelu", true),
                            smallGemmCheck());
}

TEST(GpuGemmSkipLayerNorm, MiniLmProjections) {
  // The attention output (K 384) and the FFN's second GEMM (K 1536) of
  // all-MiniLM-L6-v2 at 1 x 128 tokens: clusters of 6 CTAs of 64 columns.
  expectGpuMatchesReference(layerNormGraph(1, 128, 384, 384), smallGemmCheck());
  expectGpuMatchesReference(layerNormGraph(1, 128, 1536, 384),
                            smallGemmCheck(8e-3));
}

TEST(GpuGemmSkipLayerNorm, RowTailsAndThirtyTwoRowBlocks) {
  // 77 rows: the last 16-row block has 13. 32 x 128 tokens: 32-row blocks.
  expectGpuMatchesReference(layerNormGraph(1, 77, 384, 384), smallGemmCheck());
  expectGpuMatchesReference(layerNormGraph(32, 128, 384, 384),
                            smallGemmCheck());
}

TEST(GpuGemmSkipLayerNorm, WideRowsAndTransposedWeights) {
  // BERT-base's hidden 768: 6 CTAs of 128 columns; weights [N, K].
  LayerNormForm F;
  F.TransB = true;
  expectGpuMatchesReference(layerNormGraph(2, 40, 256, 768, F),
                            smallGemmCheck());
}

TEST(GpuGemmSkipLayerNorm, ExtraBiasNoBetaF32Scale) {
  // MatMul-then-Add exports: the bias comes as SkipLayerNorm's extra bias.
  LayerNormForm F;
  F.GemmBias = false;
  F.Beta = false;
  F.Extra = true;
  F.ScaleType = "f32";
  expectGpuMatchesReference(layerNormGraph(1, 50, 128, 256, F),
                            smallGemmCheck());
}

TEST(SmallGemmLowering, OneKernelPerGemmAndLayerNorm) {
  Steps S = lowerSteps(layerNormGraph(1, 128, 384, 384), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.CublasGemms, 0);
  EXPECT_EQ(S.LayerNorms, 0);
  // Clusters of 6 CTAs of 64 columns, 8 blocks of 16 rows, 4 warps.
  ASSERT_EQ(S.Launches.size(), 1u);
  EXPECT_EQ(S.Launches[0], (std::vector<uint32_t>{6, 8, 128}));
  S = lowerSteps(gemmGraph(128, 384, 1536, "gelu", true), INT64_MAX);
  EXPECT_EQ(S.OwnGemms, 1);
  EXPECT_EQ(S.CublasGemms, 0);
  EXPECT_EQ(S.GeluPasses, 0);
  // 32x64 tiles of 4 warps.
  ASSERT_EQ(S.Launches.size(), 1u);
  EXPECT_EQ(S.Launches[0], (std::vector<uint32_t>{24, 4, 128}));
}

TEST(SmallGemmLowering, RowLimitAndDefault) {
  EXPECT_EQ(TargetInfo().SmallGemmMaxRows, TargetInfo::DefaultSmallGemmMaxRows);
  // 256 rows against a limit of 255: cuBLASLt and the LayerNorm kernel.
  Steps S = lowerSteps(layerNormGraph(2, 128, 384, 384), 255);
  EXPECT_EQ(S.GemmLayerNorms, 0);
  EXPECT_EQ(S.CublasGemms, 1);
  EXPECT_EQ(S.LayerNorms, 1);
  S = lowerSteps(layerNormGraph(2, 128, 384, 384), 256);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  S = lowerSteps(gemmGraph(128, 384, 1152, "none", true), 0);
  EXPECT_EQ(S.OwnGemms, 0);
  EXPECT_EQ(S.CublasGemms, 1);
}

TEST(SmallGemmLowering, KeepsTheGemmWhereTheLayerNormCannotTakeIt) {
  // The GEMM's result is also a graph output: it must exist.
  LayerNormForm Second;
  Second.SecondUse = true;
  Steps S = lowerSteps(layerNormGraph(1, 16, 64, 256, Second), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 0);
  EXPECT_EQ(S.OwnGemms, 1);
  EXPECT_EQ(S.LayerNorms, 1);
  // sm_80 has no clusters: the GEMM alone is still kiln's.
  S = lowerSteps(layerNormGraph(1, 16, 64, 256), INT64_MAX, "sm_80");
  EXPECT_EQ(S.GemmLayerNorms, 0);
  EXPECT_EQ(S.OwnGemms, 1);
  // Rows of 1,088 columns are no 2 to 8 tiles of 64 or 128.
  S = lowerSteps(layerNormGraph(1, 16, 64, 1088), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 0);
  EXPECT_EQ(S.LayerNorms, 1);
  // K = 40 is no multiple of 32: cuBLASLt.
  S = lowerSteps(layerNormGraph(1, 16, 40, 256), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 0);
  EXPECT_EQ(S.OwnGemms, 0);
  EXPECT_EQ(S.CublasGemms, 1);
}

TEST(SmallGemmLowering, SaysWhyNot) {
  auto G = parseGraph(layerNormGraph(1, 16, 64, 1088), "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  const Node *Gemm = nullptr, *LN = nullptr;
  for (const auto &N : (*G)->nodes())
    (N->opName() == "FusedGemm" ? Gemm : LN) = N.get();
  ASSERT_TRUE(Gemm && LN);
  auto Shape = gemmShape(*Gemm);
  ASSERT_TRUE(bool(Shape)) << llvm::toString(Shape.takeError());
  TargetInfo T = targetFor("sm_90a");
  std::string Why;
  EXPECT_FALSE(gemmSkipLayerNorm(*Shape, *LN, T, &Why));
  EXPECT_EQ(Why, "16 rows, above the 0 of kiln's own GEMM (--small-gemm-rows)");
  T.SmallGemmMaxRows = 16;
  EXPECT_FALSE(gemmSkipLayerNorm(*Shape, *LN, T, &Why));
  EXPECT_EQ(Why, "rows of 1088 are no 2 to 8 tiles of 64 or 128 columns");
  T = targetFor("sm_80");
  T.SmallGemmMaxRows = 16;
  EXPECT_FALSE(gemmSkipLayerNorm(*Shape, *LN, T, &Why));
  EXPECT_EQ(Why, "thread-block clusters need sm_90, the target is sm_80");
}

} // namespace
} // namespace kiln
