// Tests of the rewrite driver (lib/passes/RewriteDriver.h) on a toy pattern,
// -(-x) -> x: it applies to a fixpoint, never visits an erased node, tries
// the nodes a rewrite creates, reports failures at the input's nodes as
// "<pass>: <anchor>: <why>" and counts rewrites under the pass's stats.
#include "passes/RewriteDriver.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <gtest/gtest.h>

using namespace kiln;
using namespace kiln::rewrite;

namespace {

constexpr llvm::StringLiteral PassName = "test-driver";

// -(-x) -> x, anchored at the outer Neg.
class DoubleNegation : public OpRewritePattern<Value *> {
public:
  DoubleNegation() : OpRewritePattern({"Neg"}) {}
  mutable std::vector<std::string> Visited;

  Matched<Value *> match(Node &Outer) const override {
    Visited.push_back(Outer.result()->name());
    Node *Inner = Outer.operand(0)->definingNode();
    if (!Inner || Inner->opName() != "Neg")
      return Matched<Value *>::failure("the operand is no negation");
    return Inner->operand(0);
  }

  std::optional<std::string> check(Node &Outer, Value *&) const override {
    if (Outer.graph()->isOutput(Outer.operand(0)))
      return "the inner negation is a graph output";
    return std::nullopt;
  }

  llvm::Error rewrite(Node &Outer, Value *&X, Rewriter &R) const override {
    Node *Inner = Outer.operand(0)->definingNode();
    R.replaceAllUsesWith(Outer.result(), X);
    R.eraseDeadNodes({&Outer, Inner});
    R.stat("double-negations-removed");
    return llvm::Error::success();
  }
};

// Identity(x) -> -(-x): creates nodes another pattern then removes.
class IdentityAsDoubleNegation : public OpRewritePattern<Node *> {
public:
  IdentityAsDoubleNegation() : OpRewritePattern({"Identity"}) {}

  Matched<Node *> match(Node &N) const override { return &N; }

  llvm::Error rewrite(Node &N, Node *&, Rewriter &R) const override {
    Value *X = N.operand(0);
    Node *Inner = R.createNode("Neg", {X}, {X->type()}, {}, "", {}, &N);
    Node *Outer =
        R.createNode("Neg", {Inner->result()}, {X->type()}, {}, "", {}, &N);
    R.replaceRoot(&N, Outer, {&N});
    return llvm::Error::success();
  }
};

class RewriteDriver : public ::testing::Test {
protected:
  std::string Debug;
  llvm::raw_string_ostream DebugOS{Debug};
  PassContext Ctx{{PassName.str()}, DebugOS};

  RewriteDriver() { Ctx.setCurrentPass(PassName); }

  std::unique_ptr<Graph> parse(llvm::StringRef Text) {
    auto G = parseGraph(Text);
    EXPECT_TRUE(bool(G)) << (G ? "" : llvm::toString(G.takeError()));
    return G ? std::move(*G) : nullptr;
  }

  static void expectValid(const Graph &G) {
    if (llvm::Error E = verifyGraph(G))
      ADD_FAILURE() << llvm::toString(std::move(E)) << "\n"
                    << printGraphToString(G);
  }
};

TEST_F(RewriteDriver, AppliesToAFixpointAndSkipsErasedNodes) {
  auto G = parse(R"(
graph @g(%x: f32[4]) {
  %a = Neg(%x) : f32[4]
  %b = Neg(%a) : f32[4]
  %c = Neg(%b) : f32[4]
  %d = Neg(%c) : f32[4]
  %y = Relu(%d) : f32[4]
  return %y
}
)");
  ASSERT_TRUE(G);
  DoubleNegation P;
  // Last to first: %d takes %b and erases %c, which is then not visited;
  // %b takes %x and erases %a.
  auto Changed = applyPatterns(*G, Ctx, PassName, {&P}, Order::Reverse);
  ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
  EXPECT_TRUE(*Changed);
  EXPECT_EQ(P.Visited, (std::vector<std::string>{"d", "b"}));
  EXPECT_EQ(G->numNodes(), 1u);
  EXPECT_EQ(G->outputs()[0]->definingNode()->operand(0), G->inputs()[0]);
  EXPECT_EQ(Ctx.stats().at("test-driver.double-negations-removed"), 2);
  EXPECT_EQ(Debug, "");
  expectValid(*G);
}

TEST_F(RewriteDriver, ReportsWhyAnAnchorDidNotRewrite) {
  auto G = parse(R"(
graph @g(%x: f32[4]) {
  %a = Neg(%x) : f32[4]
  %b = Neg(%a) : f32[4]
  return %a, %b
}
)");
  ASSERT_TRUE(G);
  DoubleNegation P;
  auto Changed = applyPatterns(*G, Ctx, PassName, {&P});
  ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
  EXPECT_FALSE(*Changed);
  EXPECT_EQ(Debug, "test-driver: 'Neg' node producing %a: the operand is no "
                   "negation\n"
                   "test-driver: 'Neg' node producing %b: the inner negation "
                   "is a graph output\n");
  EXPECT_EQ(G->numNodes(), 2u);
  EXPECT_TRUE(Ctx.stats().empty());
}

TEST_F(RewriteDriver, TriesTheNodesARewriteCreates) {
  auto G = parse(R"(
graph @g(%x: f32[4]) {
  %i = Identity(%x) : f32[4]
  %y = Relu(%i) : f32[4]
  return %y
}
)");
  ASSERT_TRUE(G);
  IdentityAsDoubleNegation Expand;
  DoubleNegation Collapse;
  auto Changed = applyPatterns(*G, Ctx, PassName, {&Expand, &Collapse});
  ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
  EXPECT_TRUE(*Changed);
  // The created inner Neg fails ("no negation") without a debug line: the
  // input graph did not have it.
  EXPECT_EQ(Collapse.Visited.size(), 2u);
  EXPECT_EQ(Debug, "");
  ASSERT_EQ(G->numNodes(), 1u);
  EXPECT_EQ(G->outputs()[0]->definingNode()->operand(0), G->inputs()[0]);
  expectValid(*G);
}

TEST_F(RewriteDriver, RewriterRecordsWhatChanged) {
  auto G = parse(R"(
graph @g(%x: f32[4]) {
  %a = Neg(%x) : f32[4]
  %b = Neg(%a) : f32[4]
  return %b
}
)");
  ASSERT_TRUE(G);
  Rewriter R(*G, Ctx, PassName);
  EXPECT_FALSE(R.changed());
  Node *A = G->lookup("a")->definingNode();
  Node *B = G->lookup("b")->definingNode();
  Node *Fused = R.createNode("Relu", {G->inputs()[0]}, {G->inputs()[0]->type()},
                             {}, "", {"fused"}, B);
  R.replaceRoot(B, Fused, {B, A});
  EXPECT_TRUE(R.changed());
  EXPECT_TRUE(R.isErased(A));
  EXPECT_TRUE(R.isErased(B));
  EXPECT_EQ(R.numCreated(), 1u);
  EXPECT_EQ(R.numErased(), 2u);
  EXPECT_EQ(R.takeCreated(), std::vector<Node *>{Fused});
  // The fused result took over the root's name.
  EXPECT_EQ(Fused->result()->name(), "b");
  expectValid(*G);
}

} // namespace
