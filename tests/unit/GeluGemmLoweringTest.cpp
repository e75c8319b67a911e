//===- GeluGemmLoweringTest.cpp - how a FusedGemm's erf GELU lowers -------===//
//
// A FusedGemm {activation = "gelu"} (the exact erf GELU) lowers, without a
// GPU, to cuBLASLt with a bias epilogue and the separate GELU pass by
// default at few rows, and to cuBLASLt's tanh-form GELU epilogue with no
// pass when the target asks for the approximation (`kiln compile
// --gelu-gemm tanh`).
//
//===----------------------------------------------------------------------===//
#include "codegen/BucketLowering.h"
#include "codegen/KernelLibrary.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

constexpr const char *Ffn = R"(
graph @ffn(%x: f16[128, 384], %w: f16[384, 1536], %b: f16[1536], %w2: f16[384, 1536]) {
  %y = FusedGemm(%x, %w, %b) {activation = "gelu"} : f16[128, 1536]
  %z = FusedGemm(%x, %w2) {activation = "gelu"} : f16[128, 1536]
  return %y, %z
}
)";

struct Lowered {
  std::vector<GemmStep::Epilogue> Gemms;
  std::vector<std::string> Kernels; // the kernels' name expressions, in order
};

Lowered lower(const TargetInfo &Target) {
  Lowered Out;
  auto G = parseGraph(Ffn, "<test>");
  if (!G) {
    ADD_FAILURE() << llvm::toString(G.takeError());
    return Out;
  }
  WeightTable Weights;
  KernelTable Kernels;
  auto Plan = lowerBucket(**G, 0, Target, Weights, Kernels, {});
  if (!Plan) {
    ADD_FAILURE() << llvm::toString(Plan.takeError());
    return Out;
  }
  for (const Step &S : Plan->Steps) {
    if (const auto *Gemm = std::get_if<GemmStep>(&S))
      Out.Gemms.push_back(Gemm->Epi);
    if (std::holds_alternative<KernelStep>(S)) {
      const KernelTable::Entry &E =
          Kernels.Kernels[std::get<KernelStep>(S).Kernel];
      Out.Kernels.push_back(Kernels.Modules[E.Module].NameExprs[E.Expr]);
    }
  }
  return Out;
}

TEST(GeluGemmLowering, ByDefaultCublasLtThenTheErfPass) {
  Lowered L = lower(targetFor("sm_90a"));
  using E = GemmStep::Epilogue;
  EXPECT_EQ(L.Gemms, (std::vector<E>{E::Bias, E::None}));
  ASSERT_EQ(L.Kernels.size(), 2u);
  EXPECT_EQ(L.Kernels[0], "kiln::gelu_erf_inplace<__half>");
  EXPECT_EQ(L.Kernels[1], "kiln::gelu_erf_inplace<__half>");
}

TEST(GeluGemmLowering, TanhApproximationIsCublasLtsEpilogueAndNoPass) {
  TargetInfo Target = targetFor("sm_90a");
  Target.GeluTanhApprox = true;
  Lowered L = lower(Target);
  using E = GemmStep::Epilogue;
  EXPECT_EQ(L.Gemms, (std::vector<E>{E::GeluTanhBias, E::GeluTanh}));
  EXPECT_TRUE(L.Kernels.empty());
}

} // namespace
} // namespace kiln
