//===- ElementwiseCodegenTest.cpp - generated elementwise kernels ---------===//
//
// Pins the source generated for one FusedElementwise specialization, so a
// change to codegen shows in review, and checks the rules the generator
// follows (typing, broadcasting, the ONNX ops' translations, errors).
//
//===----------------------------------------------------------------------===//
#include "codegen/ElementwiseCodegen.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

std::unique_ptr<Expr> parse(llvm::StringRef Text) {
  auto E = parseExpr(Text);
  EXPECT_TRUE(bool(E)) << llvm::toString(E.takeError());
  return std::move(*E);
}

ElementwiseKernel generate(llvm::StringRef Text, IntegerMath Math,
                           std::vector<TensorType> Operands,
                           const TensorType &Result) {
  std::vector<const TensorType *> Ptrs;
  for (const TensorType &T : Operands)
    Ptrs.push_back(&T);
  auto K = generateElementwiseKernel(*parse(Text), Math, Ptrs, Result);
  EXPECT_TRUE(bool(K)) << llvm::toString(K.takeError());
  return K ? *K : ElementwiseKernel();
}

// A GELU with a broadcast bias, a select and a cast: f16 and f32 operands
// broadcast in different dims into an f16 result.
TEST(ElementwiseCodegen, GoldenSource) {
  ElementwiseKernel K =
      generate("where(gt(x0, 0.0), gelu(add(x0, x1)), cast_f16(mul(x1, -0.5)))",
               IntegerMath::ViaDouble,
               {TensorType::get(DType::F16, {3, 1, 8}),
                TensorType::get(DType::F32, {5, 8})},
               TensorType::get(DType::F16, {3, 5, 8}));
  EXPECT_EQ(
      K.Source,
      R"cuda(// where(gt(x0, 0.0), gelu(add(x0, x1)), cast_f16(mul(x1, -0.5)))
// (f16[3, 1, 8], f32[5, 8]) -> f16[3, 5, 8]
#include "elementwise.cuh"

extern "C" __global__ void __launch_bounds__(256)
kiln_elementwise(const __half *__restrict__ in0, const float *__restrict__ in1, __half *__restrict__ out) {
  kiln::wait_for_predecessor();
  const unsigned i = (unsigned)blockIdx.x * 256u + threadIdx.x;
  if (i >= 120u)
    return;
  unsigned r = i;
  const unsigned c2 = r % 8u;
  r /= 8u;
  const unsigned c1 = r % 5u;
  r /= 5u;
  const unsigned c0 = r;
  const float v0 = kiln::to_float(in0[c0 * 8u + c2]);
  const float v1 = in1[c1 * 8u + c2];
  const bool t0 = v0 > 0.0f;
  const float t1 = v0 + v1;
  const float t2 = 0.5f * t1 * (1.0f + erff(t1 * 0.70710677f));
  const float t3 = v1 * (-0.5f);
  const float t4 = kiln::round_to_half(t3);
  const float t5 = t0 ? t2 : t4;
  out[i] = kiln::from_float<__half>(t5);
}
)cuda");
  EXPECT_EQ(K.KernelName, "kiln_elementwise");
  EXPECT_EQ(K.Operands, (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(K.NumElements, 120);
  EXPECT_TRUE(llvm::StringRef(K.Module).starts_with("elementwise_"));
}

// The same node gives the same text and module; another shape another.
TEST(ElementwiseCodegen, ModuleNameFollowsSource) {
  auto Make = [](int64_t N) {
    return generate("exp(x0)", IntegerMath::ViaDouble,
                    {TensorType::get(DType::F32, {N})},
                    TensorType::get(DType::F32, {N}));
  };
  EXPECT_EQ(Make(7).Module, Make(7).Module);
  EXPECT_EQ(Make(7).Source, Make(7).Source);
  EXPECT_NE(Make(7).Module, Make(8).Module);
}

// Same-shape operands are read at the thread's index, without coordinates;
// dims every operand walks contiguously merge.
TEST(ElementwiseCodegen, ContiguousOperandsNeedNoCoordinates) {
  ElementwiseKernel K = generate("mul(x0, x1)", IntegerMath::ViaDouble,
                                 {TensorType::get(DType::F32, {4, 6, 9}),
                                  TensorType::get(DType::F32, {4, 6, 9})},
                                 TensorType::get(DType::F32, {4, 6, 9}));
  EXPECT_NE(K.Source.find("in0[i]"), std::string::npos) << K.Source;
  EXPECT_EQ(K.Source.find(" r = i"), std::string::npos) << K.Source;
  // A scalar operand reads element 0.
  K = generate(
      "add(x0, x1)", IntegerMath::ViaDouble,
      {TensorType::get(DType::F32, {4, 6}), TensorType::get(DType::F32, {})},
      TensorType::get(DType::F32, {4, 6}));
  EXPECT_NE(K.Source.find("in1[0]"), std::string::npos) << K.Source;
}

// FusedElementwise computes integer arithmetic in double (as Expr::eval);
// the ONNX ops wrap in int64.
TEST(ElementwiseCodegen, IntegerArithmeticFollowsTheReference) {
  std::vector<TensorType> Ops = {TensorType::get(DType::I64, {3}),
                                 TensorType::get(DType::I64, {3})};
  TensorType Out = TensorType::get(DType::I64, {3});
  ElementwiseKernel ViaDouble =
      generate("div(x0, x1)", IntegerMath::ViaDouble, Ops, Out);
  EXPECT_NE(ViaDouble.Source.find("(double)v0 / (double)v1"), std::string::npos)
      << ViaDouble.Source;
  EXPECT_NE(ViaDouble.Source.find("kiln::trunc_to_i64(t0)"), std::string::npos)
      << ViaDouble.Source;
  ElementwiseKernel Exact =
      generate("div(x0, x1)", IntegerMath::Exact, Ops, Out);
  EXPECT_NE(Exact.Source.find("kiln::int_div(v0, v1)"), std::string::npos)
      << Exact.Source;
  // Comparisons of integers are exact under both rules.
  ElementwiseKernel Eq = generate("eq(x0, x1)", IntegerMath::ViaDouble, Ops,
                                  TensorType::get(DType::Bool, {3}));
  EXPECT_NE(Eq.Source.find("v0 == v1"), std::string::npos) << Eq.Source;
  // A fractional number next to an integer makes the node floating-point.
  ElementwiseKernel Half = generate("mul(x0, 0.5)", IntegerMath::Exact,
                                    {Ops[0]}, TensorType::get(DType::F64, {3}));
  EXPECT_NE(Half.Source.find("(double)v0 * 0.5"), std::string::npos)
      << Half.Source;
}

// Subtrees of numbers fold with Expr::eval.
TEST(ElementwiseCodegen, FoldsConstantSubtrees) {
  ElementwiseKernel K = generate("mul(x0, sqrt(4.0))", IntegerMath::ViaDouble,
                                 {TensorType::get(DType::F32, {2})},
                                 TensorType::get(DType::F32, {2}));
  EXPECT_NE(K.Source.find("v0 * 2.0f"), std::string::npos) << K.Source;
  // Only the comment at the top still names sqrt.
  EXPECT_EQ(K.Source.find("sqrt", K.Source.find("#include")), std::string::npos)
      << K.Source;
}

TEST(ElementwiseCodegen, RejectsOperandsThatDoNotBroadcast) {
  auto E = parseExpr("add(x0, x1)");
  ASSERT_TRUE(bool(E));
  TensorType A = TensorType::get(DType::F32, {3, 4});
  TensorType B = TensorType::get(DType::F32, {5});
  TensorType Out = TensorType::get(DType::F32, {3, 4});
  auto K =
      generateElementwiseKernel(**E, IntegerMath::ViaDouble, {&A, &B}, Out);
  ASSERT_FALSE(bool(K));
  EXPECT_EQ(llvm::toString(K.takeError()),
            "operand 1 of type f32[5] does not broadcast to f32[3, 4]");
  auto Missing = generateElementwiseKernel(**E, IntegerMath::ViaDouble,
                                           {&A, nullptr}, Out);
  ASSERT_FALSE(bool(Missing));
  EXPECT_EQ(llvm::toString(Missing.takeError()),
            "the expression reads x1, which is absent");
}

// Single ONNX ops become expressions over their operands.
TEST(ElementwiseCodegen, OnnxOpsAsExpressions) {
  auto G = parseGraph(R"IR(
graph @main(%x: f32[4], %y: f32[4], %z: f32[4], %i: i64[4], %n: i64[4]) {
  %hi = const f32[] [1.0]
  %a = Clip(%x, none, %hi) : f32[4]
  %b = Mean(%x, %y, %z) : f32[4]
  %c = Relu(%x) : f32[4]
  %d = Cast(%i) {to = "f16"} : f16[4]
  %e = Pow(%x, %n) : f32[4]
  %f = Gelu(%x) {approximate = "tanh"} : f32[4]
  %g = Mod(%i, %n) : i64[4]
  %h = LeakyRelu(%x) {alpha = 0.5} : f32[4]
  %j = MatMul(%x, %y) : f32[]
  return %a, %b, %c, %d, %e, %f, %g, %h, %j
}
)IR");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::vector<std::string> Got;
  for (const auto &N : (*G)->nodes()) {
    auto E = elementwiseOpExpr(*N);
    Got.push_back(E ? (*E)->str() : llvm::toString(E.takeError()));
  }
  EXPECT_EQ(Got, (std::vector<std::string>{
                     "clamp_hi(x0, x2)",
                     "div(add(add(x0, x1), x2), 3.0)",
                     "where(lt(x0, 0.0), 0.0, x0)",
                     "cast_f16(x0)",
                     "pow(x0, cast_f32(x1))",
                     "gelu_tanh(x0)",
                     "mod(x0, x1)",
                     "leaky_relu(x0, 0.5)",
                     "'MatMul' node producing %j: MatMul is not an "
                     "elementwise op with a generated kernel",
                 }));
}

} // namespace
} // namespace kiln
