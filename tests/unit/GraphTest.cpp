#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include <gtest/gtest.h>

using namespace kiln;

TEST(Graph, UsesFollowSetOperandAndReplaceAllUses) {
  Graph G;
  Value *X = G.addInput("x", TensorType::get(DType::F32, {2, 3}));
  Value *Y = G.addInput("y", TensorType::get(DType::F32, {2, 3}));
  Node *Add = G.createNode("Add", {X, X}, {X->type()}, {}, "add0", {"sum"});
  G.setOutputs({Add->result()});
  EXPECT_EQ(X->uses().size(), 2u);
  X->replaceAllUsesWith(Y);
  EXPECT_FALSE(X->hasUses());
  EXPECT_EQ(Y->uses().size(), 2u);
  EXPECT_EQ(Add->operand(0), Y);
  EXPECT_EQ(G.lookup("sum"), Add->result());
  EXPECT_EQ(G.uniqueName("sum"), "sum_1");
}

TEST(Graph, SortTopologicallyRestoresDefBeforeUse) {
  Graph G;
  Value *X = G.addInput("x", TensorType::get(DType::F32, {4}));
  Node *B = G.createNode("Neg", {X}, {X->type()}, {}, "", {"b"});
  Node *A = G.createNode("Neg", {X}, {X->type()}, {}, "", {"a"}, B);
  B->setOperand(0, A->result());
  A->setOperand(0, X);
  // Now A comes first already; make B's input come after B by re-creating.
  Node *C = G.createNode("Neg", {X}, {X->type()}, {}, "", {"c"}, A);
  A->setOperand(0, C->result());
  ASSERT_TRUE(G.sortTopologically());
  std::vector<Node *> Order = G.nodeList();
  ASSERT_EQ(Order.size(), 3u);
  EXPECT_EQ(Order[0], C);
  EXPECT_EQ(Order[1], A);
  EXPECT_EQ(Order[2], B);
  B->setOperand(0, B->result());
  EXPECT_FALSE(G.sortTopologically());
}

TEST(Graph, CloneKeepsNamesTypesAndConstants) {
  Graph G("m");
  Value *X =
      G.addInput("x", TensorType(DType::F32, {Dim::symbol("batch"), Dim(4)}));
  Value *W =
      G.addConstant("w", Tensor::fromDoubles(DType::F32, {4}, {1, 2, 3, 4}));
  Node *Mul = G.createNode("Mul", {X, W}, {X->type()}, {}, "mul", {"y"});
  G.setOutputs({Mul->result()});
  auto C = G.clone();
  EXPECT_EQ(C->name(), "m");
  ASSERT_EQ(C->nodeList().size(), 1u);
  EXPECT_EQ(C->lookup("y")->type().str(), "f32[batch, 4]");
  EXPECT_TRUE(C->lookup("w")->constantData()->identical(*W->constantData()));
  EXPECT_EQ(C->outputs()[0], C->lookup("y"));
}
