#include "ir/Printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace kiln;

namespace {

TensorType f32(Shape Dims) { return TensorType(DType::F32, std::move(Dims)); }

/// A one-node graph carrying `A` as attribute `a`, printed.
std::string printAttr(Attribute A) {
  Graph G;
  Value *X = G.addInput("x", TensorType::get(DType::F32, {2}));
  Node *N =
      G.createNode("Neg", {X}, {X->type()}, {{"a", std::move(A)}}, "", {"y"});
  G.setOutputs({N->result()});
  std::string S = printGraphToString(G);
  size_t Open = S.find('{', S.find("Neg"));
  size_t Close = S.rfind(" : f32[2]");
  return S.substr(Open + 5, Close - Open - 6); // between "{a = " and "}"
}

std::string printScalar(DType T, double V) {
  Graph G;
  G.addConstant("c", Tensor::fromDoubles(T, {}, {V}));
  std::string S = printGraphToString(G);
  size_t Open = S.find(" [", S.find("const"));
  return S.substr(Open + 2, S.find("]\n", Open) - Open - 2);
}

} // namespace

TEST(Printer, PrintsTheDocumentedForm) {
  Graph G("main");
  Shape BS = {Dim::symbol("batch"), Dim::symbol("seq")};
  Value *Ids = G.addInput("input_ids", TensorType(DType::I64, BS));
  (void)Ids;
  Value *X = G.addInput("x", f32({BS[0], BS[1], Dim(4)}));
  Value *W = G.addConstant(
      "w", Tensor::fromDoubles(DType::F32, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
  Value *Sizes =
      G.addConstant("sizes", Tensor::fromInts(DType::I64, {2}, {1, 3}));
  Value *Max = G.addConstant("max", Tensor::fromDoubles(DType::F32, {}, {6}));
  Node *MM = G.createNode("MatMul", {X, W}, {f32({BS[0], BS[1], Dim(2)})}, {},
                          "", {"y"});
  Node *SM = G.createNode("Softmax", {MM->result()}, {MM->result()->type()},
                          {{"axis", -1}}, "/encoder/Softmax", {"z"});
  Node *Sp =
      G.createNode("Split", {X, Sizes},
                   {f32({BS[0], BS[1], Dim(1)}), f32({BS[0], BS[1], Dim(3)})},
                   {{"axis", 2}}, "", {"a", "b"});
  G.createNode("Clip", {X, nullptr, Max}, {X->type()}, {}, "", {"c"});
  G.setOutputs({SM->result(), Sp->result(0)});
  EXPECT_EQ(
      printGraphToString(G),
      "graph @main(%input_ids: i64[batch, seq], %x: f32[batch, seq, 4]) {\n"
      "  %w = const f32[4, 2] [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]\n"
      "  %sizes = const i64[2] [1, 3]\n"
      "  %max = const f32[] [6.0]\n"
      "  %y = MatMul(%x, %w) : f32[batch, seq, 2]\n"
      "  %z = Softmax(%y) {axis = -1} : f32[batch, seq, 2] "
      "loc(\"/encoder/Softmax\")\n"
      "  %a, %b = Split(%x, %sizes) {axis = 2} : f32[batch, seq, 1], "
      "f32[batch, seq, 3]\n"
      "  %c = Clip(%x, none, %max) : f32[batch, seq, 4]\n"
      "  return %z, %a\n"
      "}\n");
}

TEST(Printer, QuotesNamesThatAreNoIdentifiers) {
  Graph G("my model");
  Value *X = G.addInput(
      "onnx::MatMul_12",
      f32({Dim::symbol("s 1"), Dim::symbol("f32"), Dim::symbol("//x"),
           Dim::symbol("a/b.c$-d"), Dim::unknown(), Dim(0)}));
  G.setOutputs({X});
  EXPECT_EQ(printGraphToString(G),
            "graph @\"my model\"(%\"onnx::MatMul_12\": "
            "f32[\"s 1\", \"f32\", \"//x\", a/b.c$-d, ?, 0]) {\n"
            "  return %\"onnx::MatMul_12\"\n"
            "}\n");
}

TEST(Printer, FloatsAreShortestWithADot) {
  EXPECT_EQ(printScalar(DType::F32, 1.0), "1.0");
  EXPECT_EQ(printScalar(DType::F32, 0.5), "0.5");
  EXPECT_EQ(printScalar(DType::F32, 0.1), "0.1");
  EXPECT_EQ(printScalar(DType::F32, -2.25), "-2.25");
  EXPECT_EQ(printScalar(DType::F32, 1e-12), "1.0e-12");
  EXPECT_EQ(printScalar(DType::F32, 3e20), "3.0e+20");
  EXPECT_EQ(printScalar(DType::F64, 0.1), "0.1");
  EXPECT_EQ(printScalar(DType::F64, 1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(printScalar(DType::F32, 1.0 / 3), "0.33333334");
  EXPECT_EQ(printScalar(DType::F16, 0.1), "0.099975586");
  EXPECT_EQ(printScalar(DType::BF16, 0.1), "0.100097656");
  EXPECT_EQ(printScalar(DType::F32, INFINITY), "inf");
  EXPECT_EQ(printScalar(DType::F32, -INFINITY), "-inf");
  EXPECT_EQ(printScalar(DType::F32, NAN), "nan");
  EXPECT_EQ(printScalar(DType::F16, INFINITY), "inf");
  EXPECT_EQ(printScalar(DType::I64, -7), "-7");
  EXPECT_EQ(printScalar(DType::U8, 255), "255");
  EXPECT_EQ(printScalar(DType::Bool, 1), "true");
  EXPECT_EQ(printScalar(DType::Bool, 0), "false");
}

TEST(Printer, LargeConstantsPrintAsHexOrElided) {
  Graph G;
  std::vector<double> Values(17);
  for (size_t I = 0; I < Values.size(); ++I)
    Values[I] = double(I) + 1;
  G.addConstant("big", Tensor::fromDoubles(DType::F32, {17}, Values));
  G.addConstant("sixteen", Tensor::fromInts(DType::I8, {4, 4},
                                            std::vector<int64_t>(16, -1)));
  G.addElidedConstant("gone", f32({Dim(384), Dim(384)}));
  G.addConstant("empty", Tensor(DType::F32, {0, 3}));
  std::string S = printGraphToString(G);
  EXPECT_NE(S.find("  %big = const f32[17] 0x0000803F00000040"),
            std::string::npos)
      << S;
  EXPECT_NE(
      S.find("  %sixteen = const i8[4, 4] [-1, -1, -1, -1, -1, -1, -1, -1, "
             "-1, -1, -1, -1, -1, -1, -1, -1]\n"),
      std::string::npos)
      << S;
  EXPECT_NE(S.find("  %gone = const f32[384, 384] elided\n"),
            std::string::npos);
  EXPECT_NE(S.find("  %empty = const f32[0, 3] []\n"), std::string::npos);

  std::string Elided = printGraphToString(G, {/*ElideWeights=*/true});
  EXPECT_NE(Elided.find("  %big = const f32[17] elided\n"), std::string::npos);
  EXPECT_NE(Elided.find("  %sixteen = const i8[4, 4] [-1,"), std::string::npos);
}

TEST(Printer, EveryAttributeKind) {
  EXPECT_EQ(printAttr(int64_t(-1)), "-1");
  EXPECT_EQ(printAttr(1e-12f), "1.0e-12");
  EXPECT_EQ(printAttr(std::numeric_limits<float>::infinity()), "inf");
  EXPECT_EQ(printAttr("constant"), "\"constant\"");
  EXPECT_EQ(printAttr("a\"b\\c\n"), "\"a\\\"b\\\\c\\0a\"");
  EXPECT_EQ(printAttr(std::vector<int64_t>{0, 2, 1, 3}), "[0, 2, 1, 3]");
  EXPECT_EQ(printAttr(std::vector<float>{1.0f, 2.5f}), "[1.0, 2.5]");
  EXPECT_EQ(printAttr(std::vector<std::string>{"a", "b"}), "[\"a\", \"b\"]");
  EXPECT_EQ(printAttr(std::vector<int64_t>{}), "[] : ints");
  EXPECT_EQ(printAttr(std::vector<float>{}), "[] : floats");
  EXPECT_EQ(printAttr(std::vector<std::string>{}), "[] : strings");
  EXPECT_EQ(printAttr(Tensor::fromDoubles(DType::F32, {2}, {1, 2})),
            "tensor<f32[2] [1.0, 2.0]>");
  EXPECT_EQ(printAttr(Tensor::fromInts(DType::I64, {}, {0})),
            "tensor<i64[] [0]>");
}

TEST(Printer, AttributesAreSortedAndNamesQuotedWhenNeeded) {
  Graph G;
  Value *X = G.addInput("x", TensorType::get(DType::F32, {2}));
  Node *N =
      G.createNode("Neg", {X}, {X->type()},
                   {{"zeta", 1}, {"alpha", 2}, {"odd name", 3}}, "", {"y"});
  G.setOutputs({N->result()});
  EXPECT_NE(printGraphToString(G).find(
                "{alpha = 2, \"odd name\" = 3, zeta = 1} : f32[2]\n"),
            std::string::npos);
}

TEST(Printer, EmptyGraph) {
  Graph G("g");
  EXPECT_EQ(printGraphToString(G), "graph @g() {\n  return\n}\n");
}
