//===- OnnxLayerNormTest.cpp - ONNX LayerNormalization that -O2 leaves ----===//
#include "GpuTestUtil.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(OnnxLayerNormalization, OverTheTrailingBlockF32) {
  // axis = 1 normalizes each row's 3 x 8 block at once.
  expectGpuMatchesReference(
      R"(graph @g(%x: f32[5, 3, 8], %s: f32[3, 8], %b: f32[3, 8]) {
  %y = LayerNormalization(%x, %s, %b) {axis = 1, epsilon = 1.0e-05} : f32[5, 3, 8]
  return %y
})");
}

TEST(OnnxLayerNormalization, LastAxisNoBiasF16) {
  GpuCheck C;
  C.AbsTol = 4e-3;
  C.RelTol = 4e-3;
  expectGpuMatchesReference(R"(graph @g(%x: f16[4, 96], %s: f16[96]) {
  %y = LayerNormalization(%x, %s) {axis = -1, epsilon = 1.0e-05} : f16[4, 96]
  return %y
})",
                            C);
}

TEST(OnnxLayerNormalization, MeanAndInvStdDevF32) {
  expectGpuMatchesReference(
      R"(graph @g(%x: f32[6, 4, 5], %s: f32[4, 5], %b: f32[4, 5]) {
  %y, %mean, %inv = LayerNormalization(%x, %s, %b) {axis = 1, epsilon = 1.0e-05} : f32[6, 4, 5], f32[6, 1, 1], f32[6, 1, 1]
  return %y, %mean, %inv
})");
}

TEST(OnnxLayerNormalization, MeanOnlyF16WideRow) {
  // 640 halves: 80 accesses, one warp per row; the unused 1/stddev goes to
  // scratch.
  GpuCheck C;
  C.AbsTol = 4e-3;
  C.RelTol = 4e-3;
  expectGpuMatchesReference(
      R"(graph @g(%x: f16[3, 640], %s: f16[640]) {
  %y, %mean = LayerNormalization(%x, %s) {axis = -1, epsilon = 1.0e-05} : f16[3, 640], f32[3, 1]
  return %y, %mean
})",
      C);
}

TEST(OnnxLayerNormalization, StatsOfABlockWideRow) {
  // 4096 floats per row: a 1024-thread block reduces each row.
  expectGpuMatchesReference(
      R"(graph @g(%x: f32[2, 8, 512], %s: f32[8, 512]) {
  %y, %mean, %inv = LayerNormalization(%x, %s) {axis = 1, epsilon = 1.0e-05} : f32[2, 8, 512], f32[2, 1, 1], f32[2, 1, 1]
  return %y, %mean, %inv
})");
}

} // namespace
} // namespace kiln
