//===- ResidualGemmTest.cpp - the skip added by the GEMM before it --------===//
//
// TargetInfo::ResidualGemm: a cuBLASLt GEMM whose result only a
// SkipLayerNorm reads, as its x, adds the skip as C (beta 1) and the
// SkipLayerNorm runs as a LayerNorm of that result. Which plans get it is
// checked on the plan (no GPU needed); the GPU tests run such plans against
// the reference executor.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/GemmLowering.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace kiln {
namespace {

using Epi = GemmStep::Epilogue;

struct ResidualGraph {
  int64_t Rows = 4096, K = 1536, N = 384;
  bool GemmBias = true;    // the FusedGemm's own bias
  bool ExtraBias = false;  // the SkipLayerNorm's fifth operand
  bool SkipAfter = false;  // the skip computed after the GEMM
  bool ExtraAfter = false; // the extra bias computed (from an input) after it

  std::string ir() const {
    std::string R = std::to_string(Rows);
    std::string X = "f16[" + R + ", " + std::to_string(N) + "]";
    std::string Ir =
        "graph @g(%h: f16[" + R + ", " + std::to_string(K) + "], %r: " + X +
        (ExtraAfter ? ", %ein: f16[" + std::to_string(N) + "]"
                    : std::string()) +
        ") {\n" + randomConst("w", "f16", {K, N}, 31) +
        randomConst("b", "f16", {N}, 32) + randomConst("s", "f16", {N}, 33) +
        randomConst("beta", "f16", {N}, 34) + randomConst("e", "f16", {N}, 35);
    std::string Skip = "%r";
    if (!SkipAfter) {
      Ir += "  %r2 = Add(%r, %r) : " + X + "\n";
      Skip = "%r2";
    }
    Ir += "  %y = FusedGemm(%h, %w" + std::string(GemmBias ? ", %b" : "") +
          ") {activation = \"none\"} : " + X + "\n";
    if (SkipAfter) {
      Ir += "  %r2 = Add(%r, %r) : " + X + "\n";
      Skip = "%r2";
    }
    std::string Extra = "%e";
    if (ExtraAfter) {
      Ir += "  %e2 = Add(%ein, %ein) : f16[" + std::to_string(N) + "]\n";
      Extra = "%e2";
    }
    Ir += "  %z = SkipLayerNorm(%y, " + Skip + ", %s, %beta" +
          (ExtraBias ? ", " + Extra : std::string()) +
          ") {epsilon = 1.0e-12} : " + X + "\n  return %z\n}\n";
    return Ir;
  }
};

struct PlanFacts {
  std::vector<Epi> Epilogues;
  int SkipLayerNorms = 0, LayerNorms = 0;
  bool CIsTheSkip = false; // C is the Add's result, the SkipLayerNorm's skip
  bool BiasIsExtra = false;
};

bool sameBuffer(const BufferRef &A, const BufferRef &B) {
  return A.In == B.In && A.Offset == B.Offset && A.Bytes == B.Bytes;
}

PlanFacts planFor(const ResidualGraph &R, bool On) {
  PlanFacts F;
  TargetInfo T = targetFor("sm_90a");
  T.ResidualGemm = On;
  std::optional<Artifact> A = compileForTarget(R.ir(), T);
  if (!A)
    return F;
  const BucketPlan &B = A->Plan.Buckets[0];
  // The skip (%r2 = Add(%r, %r)): the buffer of the first kernel step that
  // is not the input %r.
  std::optional<BufferRef> Skip;
  for (const Step &S : B.Steps) {
    const auto *K = std::get_if<KernelStep>(&S);
    if (!K)
      continue;
    for (const KernelArg &Arg : K->Args)
      if (Arg.K == KernelArg::Kind::Buffer &&
          !sameBuffer(Arg.Buffer, B.Inputs[1].Buffer))
        Skip = Arg.Buffer;
    break;
  }
  for (const Step &S : B.Steps) {
    if (const auto *G = std::get_if<GemmStep>(&S)) {
      F.Epilogues.push_back(G->Epi);
      F.CIsTheSkip = hasResidual(G->Epi) && Skip && sameBuffer(G->C, *Skip);
      // %e, the SkipLayerNorm's extra bias, by its weight entry.
      for (const WeightEntry &W : A->WeightEntries)
        if (W.Name == "e")
          F.BiasIsExtra = G->Bias.In == BufferRef::Space::Weights &&
                          G->Bias.Offset == W.Offset;
      continue;
    }
    const auto *K = std::get_if<KernelStep>(&S);
    if (!K)
      continue;
    const std::string &Name = A->Plan.Kernels[K->Kernel].LoweredName;
    F.SkipLayerNorms += Name.find("skip_layernorm") != std::string::npos;
    // Mangled names: _ZN4kiln9layernormI..., _ZN4kiln14skip_layernormI...
    F.LayerNorms += Name.find("9layernormI") != std::string::npos;
  }
  return F;
}

TEST(ResidualGemmLowering, FfnOutputAddsTheSkip) {
  // MiniLM's FFN output at 32 x 128 tokens (K 1536), and the attention's
  // output at 77 tokens (K = N): on by default, wherever it applies.
  ResidualGraph R;
  EXPECT_TRUE(TargetInfo().ResidualGemm);
  for (int64_t K : {1536, 384}) {
    R.K = K;
    R.Rows = K == 384 ? 77 : 4096;
    PlanFacts On = planFor(R, true);
    EXPECT_EQ(On.Epilogues, std::vector<Epi>{Epi::ResidualBias});
    EXPECT_TRUE(On.CIsTheSkip);
    EXPECT_EQ(On.SkipLayerNorms, 0);
    EXPECT_EQ(On.LayerNorms, 1);
    PlanFacts Off = planFor(R, false);
    EXPECT_EQ(Off.Epilogues, std::vector<Epi>{Epi::Bias});
    EXPECT_EQ(Off.SkipLayerNorms, 1);
    EXPECT_EQ(Off.LayerNorms, 0);
  }
}

TEST(ResidualGemmLowering, ExtraBiasBecomesTheGemmsAndTwoBiasesStay) {
  ResidualGraph R;
  R.GemmBias = false;
  R.ExtraBias = true;
  PlanFacts F = planFor(R, true);
  EXPECT_EQ(F.Epilogues, std::vector<Epi>{Epi::ResidualBias});
  EXPECT_TRUE(F.BiasIsExtra);
  EXPECT_EQ(F.LayerNorms, 1);
  R.ExtraBias = false;
  EXPECT_EQ(planFor(R, true).Epilogues, std::vector<Epi>{Epi::Residual});
  R.GemmBias = true;
  R.ExtraBias = true;
  F = planFor(R, true);
  EXPECT_EQ(F.Epilogues, std::vector<Epi>{Epi::Bias});
  EXPECT_EQ(F.SkipLayerNorms, 1);
}

TEST(ResidualGemmLowering, SkipComputedAfterTheGemmIsLeftAlone) {
  ResidualGraph R;
  R.SkipAfter = true;
  PlanFacts F = planFor(R, true);
  EXPECT_EQ(F.Epilogues, std::vector<Epi>{Epi::Bias});
  EXPECT_EQ(F.SkipLayerNorms, 1);
  // Likewise an extra bias computed after the GEMM.
  R.SkipAfter = false;
  R.GemmBias = false;
  R.ExtraBias = R.ExtraAfter = true;
  F = planFor(R, true);
  EXPECT_EQ(F.Epilogues, std::vector<Epi>{Epi::None});
  EXPECT_EQ(F.SkipLayerNorms, 1);
}

TEST(ResidualGemmLowering, SaysWhyNot) {
  ResidualGraph R;
  auto G = parseGraph(R.ir(), "<t>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  const Node *Gemm = nullptr, *LN = nullptr;
  for (const auto &N : (*G)->nodes()) {
    if (N->opName() == "FusedGemm")
      Gemm = N.get();
    if (N->opName() == "SkipLayerNorm")
      LN = N.get();
  }
  ASSERT_TRUE(Gemm && LN);
  auto Shape = cublasGemm(*Gemm);
  ASSERT_TRUE(Shape && *Shape);
  TargetInfo T = targetFor("sm_90a");
  std::string Why;
  T.ResidualGemm = false;
  GemmShape S = **Shape;
  EXPECT_FALSE(residualIntoGemm(S, *LN, T, true, nullptr, &Why));
  EXPECT_EQ(Why, "not asked for (--residual-gemm off)");
  T.ResidualGemm = true;
  EXPECT_FALSE(residualIntoGemm(S, *LN, T, false, nullptr, &Why));
  EXPECT_EQ(Why, "the skip or the extra bias is computed after the GEMM");
  EXPECT_EQ(S.Step.Epi, Epi::Bias);
  T.SmallGemmMaxRows = 1 << 20;
  EXPECT_FALSE(residualIntoGemm(S, *LN, T, true, nullptr, &Why));
  EXPECT_EQ(Why, "kiln's own GEMM runs it (--small-gemm-rows)");
  T.SmallGemmMaxRows = 0;
  EXPECT_TRUE(residualIntoGemm(S, *LN, T, true, nullptr, &Why));
  EXPECT_EQ(S.Step.Epi, Epi::ResidualBias);
  // A bias GEMM on the CUTLASS kernels adds the skip there.
  S = **Shape;
  S.Step.Epi = Epi::CutlassBias;
  EXPECT_TRUE(residualIntoGemm(S, *LN, T, true, nullptr, &Why));
  EXPECT_EQ(S.Step.Epi, Epi::CutlassResidualBias);
  S = **Shape;
  S.Step.Epi = Epi::GeluErfBias;
  EXPECT_FALSE(residualIntoGemm(S, *LN, T, true, nullptr, &Why));
  EXPECT_EQ(Why, "the GEMM's epilogue is more than a bias");
}

/// fp16 sums of up to 1536 products, then a LayerNorm (results near 1).
GpuCheck residualCheck(bool On) {
  GpuCheck C;
  C.AbsTol = C.RelTol = 1.5e-2;
  C.ResidualGemm = On;
  C.FusedGeluGemmMaxRows = 0;
  return C;
}

TEST(GpuResidualGemm, MatchesTheReference) {
  for (bool Extra : {false, true}) {
    ResidualGraph R;
    R.Rows = 300; // no multiple of cuBLASLt's tiles
    R.GemmBias = !Extra;
    R.ExtraBias = Extra;
    SCOPED_TRACE(Extra ? "extra bias" : "GEMM bias");
    expectGpuMatchesReference(R.ir(), residualCheck(true));
    R.K = 384;
    R.Rows = 77;
    expectGpuMatchesReference(R.ir(), residualCheck(true));
  }
  ResidualGraph R;
  R.GemmBias = false;
  R.Rows = 5;
  R.K = 96;
  R.N = 64;
  expectGpuMatchesReference(R.ir(), residualCheck(true));
}

TEST(GpuResidualGemm, MiniLmFfnOutputRows) {
  // 4096 tokens, the FFN's output, with and without.
  ResidualGraph R;
  expectGpuMatchesReference(R.ir(), residualCheck(true));
  expectGpuMatchesReference(R.ir(), residualCheck(false));
}

} // namespace
} // namespace kiln
