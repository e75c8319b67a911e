#include "ir/Verifier.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

std::unique_ptr<Graph> parse(llvm::StringRef Text) {
  auto G = parseGraph(Text, "test.kir");
  if (!G) {
    ADD_FAILURE() << llvm::toString(G.takeError());
    return nullptr;
  }
  return std::move(*G);
}

/// The verifier's message for `G` (empty when it verifies).
std::string verifyMessage(const Graph &G) {
  return llvm::toString(verifyGraph(G));
}

std::string verifyText(llvm::StringRef Text) {
  auto G = parse(Text);
  return G ? verifyMessage(*G) : "<parse error>";
}

TensorType f32(llvm::ArrayRef<int64_t> Sizes) {
  return TensorType::get(DType::F32, Sizes);
}

} // namespace

TEST(Verifier, AcceptsAValidGraph) {
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[batch, seq, 4], %m: f32[4, 2]) {
  %sizes = const i64[2] [1, 3]
  %max = const f32[] [6.0]
  %y = MatMul(%x, %m) : f32[batch, seq, 2]
  %z = Softmax(%y) {axis = -1} : f32[batch, seq, 2] loc("/encoder/Softmax")
  %a, %b = Split(%x, %sizes) {axis = 2} : f32[batch, seq, 1], f32[batch, seq, 3]
  %c = Clip(%x, none, %max) : f32[batch, seq, 4]
  return %z, %a, %c
}
)"),
            "");
}

TEST(Verifier, UnknownDimsMatchAnything) {
  // `?` on either side agrees with what inference gives.
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[?, 4], %y: f32[3, 4]) {
  %a = Add(%x, %y) : f32[3, ?]
  %b = Add(%a, %y) : f32[?, ?]
  return %b
}
)"),
            "");
}

TEST(Verifier, ShapeValuesFlowFromConstants) {
  // Reshape's target shape comes from a constant: its shape value.
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 6]) {
  %shape = const i64[2] [3, 4]
  %y = Reshape(%x, %shape) : f32[3, 4]
  return %y
}
)"),
            "");
  EXPECT_NE(verifyText(R"(graph @g(%x: f32[2, 6]) {
  %shape = const i64[2] [3, 4]
  %y = Reshape(%x, %shape) : f32[4, 3]
  return %y
}
)"),
            "");
}

TEST(Verifier, WrongResultType) {
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Softmax(%x) : f32[2, 4] loc("sm")
  return %y
}
)"),
            "'Softmax' node \"sm\": result #0 %y has type f32[2, 4], but "
            "inference gives f32[2, 3]");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Softmax(%x) : f16[2, 3]
  return %y
}
)"),
            "'Softmax' node producing %y: result #0 %y has type f16[2, 3], but "
            "inference gives f32[2, 3]");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Softmax(%x) : f32[6]
  return %y
}
)"),
            "'Softmax' node producing %y: result #0 %y has type f32[6], but "
            "inference gives f32[2, 3]");
}

TEST(Verifier, UnknownAttribute) {
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Softmax(%x) {axes = 1} : f32[2, 3]
  return %y
}
)"),
            "'Softmax' node producing %y: unknown attribute 'axes' (Softmax "
            "has: axis)");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Add(%x, %x) {axis = 1} : f32[2, 3]
  return %y
}
)"),
            "'Add' node producing %y: unknown attribute 'axis' (Add has no "
            "attributes)");
}

TEST(Verifier, AttributeKindAndRequiredAttributes) {
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Softmax(%x) {axis = 1.0} : f32[2, 3]
  return %y
}
)"),
            "'Softmax' node producing %y: attribute 'axis' is float, expected "
            "int");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Concat(%x, %x) : f32[4, 3]
  return %y
}
)"),
            "'Concat' node producing %y: missing required attribute 'axis'");
}

TEST(Verifier, OperandAndResultCounts) {
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Add(%x, %x, %x) : f32[2, 3]
  return %y
}
)"),
            "'Add' node producing %y: has 3 operands, but Add takes 2");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Clip() : f32[2, 3]
  return %y
}
)"),
            "'Clip' node producing %y: has 0 operands, but Clip takes 1 to 3");
  EXPECT_EQ(
      verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y, %z = Softmax(%x) : f32[2, 3], f32[2, 3]
  return %y
}
)"),
      "'Softmax' node producing %y: has 2 results, but Softmax produces 1");
  EXPECT_EQ(verifyText(R"(graph @g(%x: f32[2, 3]) {
  %y = Add(%x, none) : f32[2, 3]
  return %y
}
)"),
            "'Add' node producing %y: operand #1 is required but absent");
}

TEST(Verifier, OperandsMustBeDefinedBeforeUse) {
  Graph G;
  Value *X = G.addInput("x", f32({2}));
  Node *Late = G.createNode("Neg", {X}, {f32({2})}, {}, "", {"late"});
  G.createNode("Neg", {Late->result()}, {f32({2})}, {}, "", {"early"}, Late);
  G.setOutputs({G.lookup("early")});
  EXPECT_EQ(verifyMessage(G), "'Neg' node producing %early: operand #0 %late "
                              "is used before its definition");
  ASSERT_TRUE(G.sortTopologically());
  EXPECT_EQ(verifyMessage(G), "");
}

TEST(Verifier, OperandsMustBelongToTheGraph) {
  Graph Other;
  Value *Foreign = Other.addInput("f", f32({2}));
  Graph G;
  G.createNode("Neg", {Foreign}, {f32({2})}, {}, "", {"y"});
  G.setOutputs({G.lookup("y")});
  EXPECT_EQ(verifyMessage(G), "'Neg' node producing %y: operand #0 %f "
                              "belongs to another graph");
}

TEST(Verifier, GraphOutputsMustBeDefined) {
  Graph G;
  Value *X = G.addInput("x", f32({2}));
  G.setOutputs({X, nullptr});
  EXPECT_EQ(verifyMessage(G), "graph output #1 is absent");
  Graph Other;
  G.setOutputs({Other.addInput("elsewhere", f32({2}))});
  EXPECT_EQ(verifyMessage(G),
            "graph output #0 %elsewhere is not defined in the graph");
}

TEST(Verifier, UnknownOp) {
  Graph G;
  Value *X = G.addInput("x", f32({2}));
  G.createNode("NoSuchOp", {X}, {f32({2})}, {}, "n", {"y"});
  EXPECT_EQ(verifyMessage(G), "'NoSuchOp' node \"n\": unknown op 'NoSuchOp'");
}

TEST(Verifier, OpVerifyHooksRun) {
  // Cast's `to` must name a dtype.
  std::string Message = verifyText(R"(graph @g(%x: f32[2]) {
  %y = Cast(%x) {to = "f99"} : f32[2]
  return %y
}
)");
  EXPECT_NE(Message.find("'Cast' node producing %y"), std::string::npos)
      << Message;
  EXPECT_NE(Message.find("f99"), std::string::npos) << Message;
}
