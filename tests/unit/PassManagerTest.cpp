//===- PassManagerTest.cpp - pipelines run once or to a fixpoint ----------===//
#include "passes/PassManager.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

// An expanded ONNX RMSNormalization as the importer writes it: the reduce
// axes are Range(axis, Size(Shape(x))). infer-shapes turns the Shape into a
// constant only after fold-constants ran, so one round leaves the Range
// (and the ReduceMean it feeds) unfolded; the next round folds them.
constexpr const char *RmsNorm = R"(graph @g(%x: f32[3, 4], %w: f32[3, 4]) {
  %eps = const f32[] [1.0e-05]
  %axis = const i64[] [0]
  %one = const i64[] [1]
  %shape = Shape(%x) : i64[2]
  %rank = Size(%shape) : i64[]
  %axes = Range(%axis, %rank, %one) : i64[2]
  %sq = Mul(%x, %x) : f32[3, 4]
  %mean = ReduceMean(%sq, %axes) : f32[?, ?]
  %plus = Add(%mean, %eps) : f32[?, ?]
  %rms = Sqrt(%plus) : f32[?, ?]
  %n = Div(%x, %rms) : f32[3, 4]
  %y = Mul(%n, %w) : f32[3, 4]
  return %y
}
)";

constexpr const char *Fold = "fold-constants,infer-shapes,canonicalize,cse,dce";

const Value *valueNamed(const Graph &G, llvm::StringRef Name) {
  for (const Node *N : G.nodeList())
    for (const Value *R : N->results())
      if (R->name() == Name)
        return R;
  return nullptr;
}

TEST(PassManager, OneRoundLeavesShapeArithmeticUnfolded) {
  auto G = parseGraph(RmsNorm);
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  ASSERT_FALSE(bool(runPassPipeline(**G, Fold, {})));
  const Value *Mean = valueNamed(**G, "mean");
  ASSERT_NE(Mean, nullptr);
  EXPECT_FALSE(Mean->type().isStatic()) << Mean->type().str();
}

TEST(PassManager, FixpointFoldsShapeArithmetic) {
  auto G = parseGraph(RmsNorm);
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  ASSERT_FALSE(bool(runPassPipelineToFixpoint(**G, Fold, {}, 8)));
  const Value *Mean = valueNamed(**G, "mean");
  ASSERT_NE(Mean, nullptr);
  EXPECT_EQ(Mean->type().str(), "f32[1, 1]");
  EXPECT_EQ(valueNamed(**G, "axes"), nullptr) << "the Range folded away";
}

TEST(PassManager, FixpointStopsAtMaxRounds) {
  auto G = parseGraph(RmsNorm);
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  ASSERT_FALSE(bool(runPassPipelineToFixpoint(**G, Fold, {}, 1)));
  EXPECT_FALSE(valueNamed(**G, "mean")->type().isStatic());
}

TEST(PassManager, FixpointReportsAPassError) {
  auto G = parseGraph(RmsNorm);
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  llvm::Error E = runPassPipelineToFixpoint(**G, "no-such-pass", {}, 8);
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("unknown pass 'no-such-pass'"),
            std::string::npos);
}

} // namespace
} // namespace kiln
