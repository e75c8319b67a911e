//===- GemmTest.cpp - matrix products through cuBLASLt --------------------===//
//
// The lowering of FusedGemm, MatMul and Gemm to GemmSteps (row-major onto
// cuBLASLt's column-major, batch strides, epilogues) against the reference
// executor.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "ir/DType.h"

#include "gtest/gtest.h"

#include <cstring>
#include <random>
#include <string>

namespace kiln {
namespace {

TEST(GpuGemm, FusedGemmBiasF32) {
  std::string Ir = "graph @g(%x: f32[2, 5, 24]) {\n" +
                   randomConst("w", "f32", {24, 40}, 1) +
                   randomConst("b", "f32", {40}, 2) +
                   "  %y = FusedGemm(%x, %w, %b) {activation = \"none\"} : "
                   "f32[2, 5, 40]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir);
}

TEST(GpuGemm, FusedGemmGeluF16) {
  std::string Ir = "graph @g(%x: f16[3, 7, 32]) {\n" +
                   randomConst("w", "f16", {32, 64}, 3) +
                   randomConst("b", "f16", {64}, 4) +
                   "  %y = FusedGemm(%x, %w, %b) {activation = \"gelu\"} : "
                   "f16[3, 7, 64]\n  return %y\n}\n";
  GpuCheck C;
  C.AbsTol = 4e-3;
  C.RelTol = 4e-3;
  expectGpuMatchesReference(Ir, C);
}

TEST(GpuGemm, FusedGemmGeluTailF32) {
  // 150 outputs: the in-place GELU's 16-byte steps leave a tail of 2.
  std::string Ir = "graph @g(%x: f32[3, 5, 12]) {\n" +
                   randomConst("w", "f32", {12, 10}, 8) +
                   randomConst("b", "f32", {10}, 9) +
                   "  %y = FusedGemm(%x, %w, %b) {activation = \"gelu\"} : "
                   "f32[3, 5, 10]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir);
}

TEST(GpuGemm, FusedGemmTransBReluNoBias) {
  std::string Ir =
      "graph @g(%x: f32[6, 16]) {\n" + randomConst("w", "f32", {20, 16}, 5) +
      "  %y = FusedGemm(%x, %w) {activation = \"relu\", trans_b = 1} : "
      "f32[6, 20]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir);
}

TEST(GpuGemm, MatMulBatchedBothSides) {
  // Attention-like q @ k^T with both operands batched over [2, 3].
  expectGpuMatchesReference(
      R"(graph @g(%a: f32[2, 3, 8, 16], %b: f32[2, 3, 16, 8]) {
  %y = MatMul(%a, %b) : f32[2, 3, 8, 8]
  return %y
})");
}

TEST(GpuGemm, MatMulBroadcastLeftMatrix) {
  expectGpuMatchesReference(R"(graph @g(%a: f32[4, 16], %b: f32[3, 16, 5]) {
  %y = MatMul(%a, %b) : f32[3, 4, 5]
  return %y
})");
}

TEST(GpuGemm, MatMulVectorOperands) {
  expectGpuMatchesReference(R"(graph @g(%a: f32[16], %b: f32[2, 16, 5]) {
  %y = MatMul(%a, %b) : f32[2, 5]
  return %y
})");
}

TEST(GpuGemm, MatMulPartialBroadcastRunsTheGenericKernel) {
  // Each operand broadcasts along a different batch dim: no cuBLASLt batch
  // stride expresses it.
  expectGpuMatchesReference(
      R"(graph @g(%a: f32[3, 1, 5, 7], %b: f32[1, 2, 7, 4]) {
  %y = MatMul(%a, %b) : f32[3, 2, 5, 4]
  return %y
})");
}

TEST(GpuGemm, MatMulF64RunsTheGenericKernel) {
  GpuCheck C;
  C.AbsTol = 1e-12;
  C.RelTol = 1e-12;
  expectGpuMatchesReference(
      R"(graph @g(%a: f64[2, 9, 33], %b: f64[33, 6]) {
  %y = MatMul(%a, %b) : f64[2, 9, 6]
  return %y
})",
      C);
}

TEST(GpuGemm, MatMulInt64RunsTheGenericKernel) {
  GpuCheck C;
  C.IntRange = 100;
  C.AbsTol = 0;
  C.RelTol = 0;
  expectGpuMatchesReference(R"(graph @g(%a: i64[4, 5], %b: i64[5]) {
  %y = MatMul(%a, %b) : i64[4]
  return %y
})",
                            C);
}

TEST(GpuGemm, OnnxGemmTransposedWithBias) {
  std::string Ir =
      "graph @g(%a: f32[12, 6]) {\n" + randomConst("w", "f32", {10, 12}, 6) +
      randomConst("c", "f32", {10}, 7) +
      "  %y = Gemm(%a, %w, %c) {alpha = 0.5, transA = 1, transB = 1} : "
      "f32[6, 10]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir);
}

TEST(GpuGemm, OnnxGemmWithMatrixCAndBeta) {
  // C broadcasts along rows ([6, 1]) and beta scales it: added after the
  // GEMM, in place.
  std::string Ir = "graph @g(%a: f32[6, 12], %c: f32[6, 1]) {\n" +
                   randomConst("w", "f32", {12, 10}, 10) +
                   "  %y = Gemm(%a, %w, %c) {alpha = 2.0, beta = 0.5} : "
                   "f32[6, 10]\n  return %y\n}\n";
  expectGpuMatchesReference(Ir);
}

} // namespace
} // namespace kiln
