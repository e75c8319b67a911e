//===- RowKernelsTest.cpp - Rotary and Glu kernels vs the reference -------===//
//
// rotary.cuh and glu.cuh on the GPU against the reference executor, per
// storage type, over the shapes that matter: ModernBERT-base's head dim 64
// and FFN 1152 (x of 2304), head dims 32 and 128, a head dim of 2 and a
// half of 3 (one element per access), tables laid out as fuse-rotary leaves
// them ([1, S, 1, D] under q in [B, S, H, D]), as exporters write them
// ([1, 1, S, D]), gathered per sequence ([B, 1, S, D]) and in f32 under
// 16-bit x. Inputs are random in [-1, 1].
//
// Tolerances, absolute + relative to the reference value: f32 1e-4 + 1e-3;
// f16 storage 2e-3 + 2e-3 (one f16 rounding of the result is 5e-4 at 1,
// the reference rounds the same fp32 value); bf16 1e-2 + 1e-2 (one bf16
// rounding is 4e-3 at 1).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "gtest/gtest.h"

#include <ostream>

namespace kiln {
namespace {

GpuCheck tolerance(DType T, uint64_t Seed) {
  GpuCheck C;
  C.Seed = Seed;
  if (T == DType::F16)
    C.AbsTol = C.RelTol = 2e-3;
  if (T == DType::BF16)
    C.AbsTol = C.RelTol = 1e-2;
  return C;
}

std::string dims(const std::vector<int64_t> &Sizes) {
  std::string S;
  for (int64_t D : Sizes)
    S += (S.empty() ? "" : ", ") + std::to_string(D);
  return S;
}

struct RotaryCase {
  DType T, Table;
  std::vector<int64_t> X, Cos;
};

void PrintTo(const RotaryCase &C, std::ostream *OS) {
  *OS << dtypeName(C.T).str() << "[" << dims(C.X) << "] with "
      << dtypeName(C.Table).str() << "[" << dims(C.Cos) << "] tables";
}

class RotaryTest : public testing::TestWithParam<RotaryCase> {};

TEST_P(RotaryTest, MatchesReference) {
  const RotaryCase &C = GetParam();
  std::string T = dtypeName(C.T).str(), P = dtypeName(C.Table).str();
  std::string X = T + "[" + dims(C.X) + "]",
              Table = P + "[" + dims(C.Cos) + "]";
  std::string Ir =
      "graph @rotary(%x: " + X + ", %cos: " + Table + ", %sin: " + Table +
      ") {\n  %y = Rotary(%x, %cos, %sin) : " + X + "\n  return %y\n}\n";
  expectGpuMatchesReference(Ir, tolerance(C.T, 3));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RotaryTest,
    testing::Values(
        RotaryCase{DType::F32, DType::F32, {2, 5, 3, 64}, {1, 5, 1, 64}},
        RotaryCase{DType::F16, DType::F16, {2, 4, 7, 64}, {1, 1, 7, 64}},
        RotaryCase{DType::BF16, DType::BF16, {3, 2, 5, 128}, {3, 1, 5, 128}},
        RotaryCase{DType::F16, DType::F32, {2, 9, 4, 32}, {1, 9, 1, 32}},
        RotaryCase{DType::F32, DType::F32, {6, 8}, {6, 8}},
        RotaryCase{DType::F32, DType::F32, {3, 2}, {2}},
        RotaryCase{
            DType::F16, DType::F16, {2, 3, 2, 5, 12}, {1, 3, 1, 5, 12}}));

struct GluCase {
  DType T;
  std::vector<int64_t> X;
  std::string Activation;
};

void PrintTo(const GluCase &C, std::ostream *OS) {
  *OS << dtypeName(C.T).str() << "[" << dims(C.X) << "] " << C.Activation;
}

class GluTest : public testing::TestWithParam<GluCase> {};

TEST_P(GluTest, MatchesReference) {
  const GluCase &C = GetParam();
  std::vector<int64_t> Out = C.X;
  Out.back() /= 2;
  std::string T = dtypeName(C.T).str();
  std::string Ir = "graph @glu(%x: " + T + "[" + dims(C.X) +
                   "]) {\n  %y = Glu(%x) {activation = \"" + C.Activation +
                   "\"} : " + T + "[" + dims(Out) + "]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir, tolerance(C.T, 5));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GluTest,
    testing::Values(GluCase{DType::F32, {2, 7, 128}, "gelu"},
                    GluCase{DType::F16, {3, 5, 2304}, "gelu"},
                    GluCase{DType::BF16, {4, 64}, "gelu_tanh"},
                    GluCase{DType::F32, {3, 6}, "silu"},
                    GluCase{DType::F16, {2, 3, 96}, "silu"},
                    GluCase{DType::F32, {5, 3, 40}, "gelu_tanh"}));

} // namespace
} // namespace kiln
