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

#include "llvm/Demangle/Demangle.h"
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

using Sw = TargetInfo::Switch;

GpuCheck smallGemmCheck(double Tol = 4e-3, Sw KSplit = Sw::Off,
                        bool Prefetch = false) {
  GpuCheck C;
  C.AbsTol = C.RelTol = Tol;
  C.FusedGeluGemmMaxRows = 0;
  C.SmallGemmMaxRows = INT64_MAX;
  C.KSplitLayerNorm = KSplit;
  C.PrefetchWeights = Prefetch;
  return C;
}

/// A GEMM of kiln's own against the reference, its weights copied after
/// the wait for the kernel before it and before (--prefetch-weights).
void expectOwnGemm(const std::string &Ir, double Tol = 4e-3) {
  for (bool Prefetch : {false, true}) {
    SCOPED_TRACE(Prefetch ? "weights prefetched" : "weights after the wait");
    expectGpuMatchesReference(Ir, smallGemmCheck(Tol, Sw::Off, Prefetch));
  }
}

/// A GEMM + SkipLayerNorm against the reference with each cluster kernel
/// (the one splitting K wherever it applies, the one splitting N), each
/// with its weights copied after the wait and before.
void expectBothLayerNormKernels(const std::string &Ir, double Tol = 4e-3) {
  for (Sw KSplit : {Sw::On, Sw::Off})
    for (bool Prefetch : {false, true}) {
      SCOPED_TRACE(std::string(KSplit == Sw::On ? "K split" : "N split") +
                   (Prefetch ? ", weights prefetched" : ""));
      expectGpuMatchesReference(Ir, smallGemmCheck(Tol, KSplit, Prefetch));
    }
}

struct Steps {
  int CublasGemms = 0, OwnGemms = 0, GemmLayerNorms = 0, LayerNorms = 0,
      GeluPasses = 0;
  int KSplitLayerNorms = 0; // of GemmLayerNorms
  /// Every kernel's demangled name, grid and block, in order.
  std::vector<std::string> Kernels;
  std::vector<std::vector<uint32_t>> Launches; // grid x, y, block x
};

Steps lowerSteps(const std::string &Ir, int64_t MaxRows,
                 const std::string &Arch = "sm_90a", Sw KSplit = Sw::Auto,
                 bool Prefetch = true) {
  Steps Out;
  TargetInfo T = targetFor(Arch);
  T.SmallGemmMaxRows = MaxRows;
  T.KSplitLayerNorm = KSplit;
  T.PrefetchWeights = Prefetch;
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
      Out.Kernels.push_back(llvm::demangle(Name));
      Out.Launches.push_back({K->Grid[0], K->Grid[1], K->Block[0]});
      Out.OwnGemms += Name.find("gemm_bias_gelu_f16") != std::string::npos;
      Out.GemmLayerNorms +=
          Name.find("gemm_skip_layernorm_f16") != std::string::npos ||
          Name.find("gemm_ksplit_layernorm_f16") != std::string::npos;
      Out.KSplitLayerNorms +=
          Name.find("gemm_ksplit_layernorm_f16") != std::string::npos;
      Out.LayerNorms += A->Plan.Modules[R.Module].Name == "layernorm.cuh";
      Out.GeluPasses += A->Plan.Modules[R.Module].Name == "gemm_epilogue.cuh";
    }
  return Out;
}

TEST(GpuSmallGemm, BiasOnlyQkvShape) {
  // all-MiniLM-L6-v2's QKV projection at one sequence of 128 tokens.
  expectOwnGemm(gemmGraph(128, 384, 1152, "none", true));
}

TEST(GpuSmallGemm, NoBiasRowTailAndTransposedWeights) {
  expectOwnGemm(gemmGraph(77, 384, 384, "none", false));
  expectOwnGemm(gemmGraph(5, 96, 256, "none", true, true));
}

TEST(GpuSmallGemm, ErfGeluFfnShape) {
  expectOwnGemm(gemmGraph(128, 384, 1536, "gelu", true));
  // 4096 rows take the 64x128 tiles (and 8192 the 128x128 ones).
  expectOwnGemm(gemmGraph(4096, 384, 1536, "gelu", true));
}

TEST(GpuGemmSkipLayerNorm, MiniLmProjections) {
  // The attention output (K 384) and the FFN's second GEMM (K 1536) of
  // all-MiniLM-L6-v2 at 1 x 128 tokens. K split: clusters of 6 CTAs of
  // 64 k (one step) and of 8 of 192 (three steps, all in flight); N split:
  // clusters of 6 CTAs of 64 columns.
  expectBothLayerNormKernels(layerNormGraph(1, 128, 384, 384));
  expectBothLayerNormKernels(layerNormGraph(1, 128, 1536, 384), 8e-3);
}

TEST(GpuGemmSkipLayerNorm, RowTailsAndThirtyTwoRowBlocks) {
  // 77 rows: the last 16-row block has 13. 32 x 128 tokens: 32-row blocks.
  expectBothLayerNormKernels(layerNormGraph(1, 77, 384, 384));
  expectBothLayerNormKernels(layerNormGraph(32, 128, 384, 384));
}

TEST(GpuGemmSkipLayerNorm, WideRowsAndTransposedWeights) {
  // BERT-base's hidden 768: 6 CTAs of 128 columns (N split), 8 of 32 k
  // (K split); weights [N, K].
  LayerNormForm F;
  F.TransB = true;
  expectBothLayerNormKernels(layerNormGraph(2, 40, 256, 768, F));
}

TEST(GpuGemmSkipLayerNorm, KSplitPipelinedSlices) {
  // BERT-base's FFN output (K 3072, N 768): a CTA's slice of 384 k is 6
  // steps of 64 through 2 stages of 100 KB. Both weight layouts.
  expectGpuMatchesReference(layerNormGraph(1, 40, 3072, 768),
                            smallGemmCheck(8e-3, Sw::On, true));
  LayerNormForm F;
  F.TransB = true;
  expectGpuMatchesReference(layerNormGraph(1, 24, 3072, 768, F),
                            smallGemmCheck(8e-3, Sw::On, true));
}

TEST(GpuGemmSkipLayerNorm, ExtraBiasNoBetaF32Scale) {
  // MatMul-then-Add exports: the bias comes as SkipLayerNorm's extra bias.
  LayerNormForm F;
  F.GemmBias = false;
  F.Beta = false;
  F.Extra = true;
  F.ScaleType = "f32";
  expectBothLayerNormKernels(layerNormGraph(1, 50, 128, 256, F));
}

TEST(GpuGemmSkipLayerNorm, RowsFarFromZeroMean) {
  // A GEMM bias of 8 to 9 moves every row's mean about five standard
  // deviations from zero: the statistics combined over the cluster (the
  // K split's Chan et al. formula, the N split's two passes) against the
  // reference's.
  std::string Ir = layerNormGraph(1, 64, 384, 384);
  size_t At = Ir.find("  %b = const f16[384] 0x");
  ASSERT_NE(At, std::string::npos);
  std::string Hex;
  const char *Values[] = {"0048", "4048", "8048"}; // 8, 8.5, 9 in f16
  for (int I = 0; I < 384; ++I)
    Hex += Values[I % 3];
  Ir.replace(At, Ir.find('\n', At) - At, "  %b = const f16[384] 0x" + Hex);
  expectBothLayerNormKernels(Ir, 8e-3);
}

TEST(SmallGemmLowering, OneKernelPerGemmAndLayerNorm) {
  Steps S = lowerSteps(layerNormGraph(1, 128, 384, 384), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.KSplitLayerNorms, 1);
  EXPECT_EQ(S.CublasGemms, 0);
  EXPECT_EQ(S.LayerNorms, 0);
  // K split: clusters of 6 CTAs of 64 k, 8 blocks of 16 rows, 8 warps.
  ASSERT_EQ(S.Launches.size(), 1u);
  EXPECT_EQ(S.Launches[0], (std::vector<uint32_t>{6, 8, 256}));
  // K 1536: clusters of 8 CTAs of 192 k.
  S = lowerSteps(layerNormGraph(1, 128, 1536, 384), INT64_MAX);
  ASSERT_EQ(S.Launches.size(), 1u);
  EXPECT_EQ(S.KSplitLayerNorms, 1);
  EXPECT_EQ(S.Launches[0], (std::vector<uint32_t>{8, 8, 256}));
  EXPECT_NE(S.Kernels[0].find("gemm_ksplit_layernorm_f16<16, 384, 64, 8, 4, "
                              "false, 8, __half, true, true, false, true>"),
            std::string::npos)
      << S.Kernels[0];
  // N split: clusters of 6 CTAs of 64 columns, 8 blocks of 16 rows, 4
  // warps.
  S = lowerSteps(layerNormGraph(1, 128, 384, 384), INT64_MAX, "sm_90a",
                 Sw::Off);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.KSplitLayerNorms, 0);
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
  // The K split (auto) and the prefetch are on, as measured (run 19).
  EXPECT_EQ(TargetInfo().KSplitLayerNorm, Sw::Auto);
  EXPECT_TRUE(TargetInfo().PrefetchWeights);
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

TEST(SmallGemmLowering, KSplitWhereItsRowBlocksFitHalfTheSms) {
  // 32 x 128 tokens, K 1536: 128 blocks of 32 rows in clusters of 8 are
  // 1,024 CTAs, above half of 132 SMs: auto splits N, on splits K.
  Steps S = lowerSteps(layerNormGraph(32, 128, 1536, 384), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.KSplitLayerNorms, 0);
  S = lowerSteps(layerNormGraph(32, 128, 1536, 384), INT64_MAX, "sm_90a",
                 Sw::On);
  EXPECT_EQ(S.KSplitLayerNorms, 1);
  ASSERT_EQ(S.Launches.size(), 1u);
  EXPECT_EQ(S.Launches[0], (std::vector<uint32_t>{8, 128, 256}));
  // 4 x 128: 16 blocks of 32 rows, 128 CTAs, slower than the N split on
  // an H100 (run 19): auto splits N. (1 x 128's 64 CTAs split K:
  // OneKernelPerGemmAndLayerNorm.)
  S = lowerSteps(layerNormGraph(4, 128, 1536, 384), INT64_MAX);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.KSplitLayerNorms, 0);
  // Rows of 320 are no 8 warps of a multiple of 16 columns: N split.
  S = lowerSteps(layerNormGraph(1, 16, 64, 320), INT64_MAX, "sm_90a", Sw::On);
  EXPECT_EQ(S.GemmLayerNorms, 1);
  EXPECT_EQ(S.KSplitLayerNorms, 0);
}

TEST(SmallGemmLowering, WeightsPrefetchedOnlyWhenConstant) {
  // The weight is a constant: the kernels copy it before they wait.
  Steps S = lowerSteps(gemmGraph(128, 384, 1152, "none", true), INT64_MAX);
  ASSERT_EQ(S.Kernels.size(), 1u);
  EXPECT_NE(S.Kernels[0].find(", true, true>"), std::string::npos)
      << S.Kernels[0];
  // B an input of the graph: written before this kernel, so no prefetch.
  std::string Ir = "graph @g(%x: f16[64, 128], %w: f16[128, 256]) {\n"
                   "  %y = FusedGemm(%x, %w) {activation = \"none\"} : "
                   "f16[64, 256]\n  return %y\n}\n";
  S = lowerSteps(Ir, INT64_MAX);
  ASSERT_EQ(S.Kernels.size(), 1u);
  EXPECT_EQ(S.OwnGemms, 1);
  EXPECT_NE(S.Kernels[0].find(", false, false>"), std::string::npos)
      << S.Kernels[0];
  // Not asked for: no prefetch, in the GEMM + LayerNorm kernels either.
  S = lowerSteps(gemmGraph(128, 384, 1152, "none", true), INT64_MAX, "sm_90a",
                 Sw::Auto, false);
  ASSERT_EQ(S.Kernels.size(), 1u);
  EXPECT_NE(S.Kernels[0].find(", true, false>"), std::string::npos)
      << S.Kernels[0];
  for (Sw KSplit : {Sw::On, Sw::Off}) {
    S = lowerSteps(layerNormGraph(1, 128, 384, 384), INT64_MAX, "sm_90a",
                   KSplit, false);
    ASSERT_EQ(S.Kernels.size(), 1u);
    EXPECT_NE(S.Kernels[0].find(", false, false>"), std::string::npos)
        << S.Kernels[0];
  }
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
