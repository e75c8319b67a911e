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

} // namespace
} // namespace kiln
