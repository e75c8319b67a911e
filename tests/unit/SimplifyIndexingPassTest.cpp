// Meaning tests of simplify-indexing and its index analysis: the
// exporters' index-arithmetic masks run on the reference executor before and
// after the pass, with padded masks and random scores, and must agree.
#include "PassTestBase.h"

#include "passes/IndexAnalysis.h"

using namespace kiln;

namespace {

class SimplifyIndexingPass : public PassMeaningTest {
protected:
  SimplifyIndexingPass() : PassMeaningTest(4321) {}

  std::map<std::string, Tensor> maskAndScores() {
    return {{"m", paddedMask(5, {5, 2, 3})}, {"scores", uniform({3, 2, 5, 5})}};
  }
};

// TorchScript: Gather(Flatten(m), b * seq + k), reshaped by Shape(indices).
const char *TorchScriptMask = R"(
graph @torchscript_mask(%m: i64[batch, seq], %scores: f32[batch, 2, seq, seq]) {
  %zero = const i64[] [0]
  %one = const i64[] [1]
  %ax0 = const i64[1] [0]
  %ax1 = const i64[1] [1]
  %ax2 = const i64[1] [2]
  %ax3 = const i64[1] [3]
  %flat_shape = const i64[1] [-1]
  %fzero = const f32[] [0.0]
  %fmin = const f32[] [-3.4028235e+38]
  %mb = Cast(%m) {to = "bool"} : bool[batch, seq]
  %shape = Shape(%mb) : i64[2]
  %b_n = Gather(%shape, %zero) {axis = 0} : i64[]
  %s_n = Gather(%shape, %one) {axis = 0} : i64[]
  %s_n1 = Gather(%shape, %ax1) {axis = 0} : i64[1]
  %b = Range(%zero, %b_n, %one) : i64[batch]
  %k = Range(%zero, %s_n, %one) : i64[seq]
  %b2 = Unsqueeze(%b, %ax1) : i64[batch, 1]
  %b3 = Unsqueeze(%b2, %ax2) : i64[batch, 1, 1]
  %b4 = Unsqueeze(%b3, %ax3) : i64[batch, 1, 1, 1]
  %k2 = Unsqueeze(%k, %ax0) : i64[1, seq]
  %k3 = Unsqueeze(%k2, %ax1) : i64[1, 1, seq]
  %k4 = Unsqueeze(%k3, %ax2) : i64[1, 1, 1, seq]
  %row = Mul(%b4, %s_n1) : i64[batch, 1, 1, 1]
  %idx = Add(%k4, %row) : i64[batch, 1, 1, seq]
  %flat = Flatten(%mb) {axis = 2} : bool[?, 1]
  %picked = Gather(%flat, %idx) {axis = 0} : bool[batch, 1, 1, seq, 1]
  %idx_shape = Shape(%idx) : i64[4]
  %line = Reshape(%picked, %flat_shape) : bool[?]
  %m4 = Reshape(%line, %idx_shape) : bool[batch, 1, 1, seq]
  %bias = Where(%m4, %fzero, %fmin) : f32[batch, 1, 1, seq]
  %out = Add(%scores, %bias) : f32[batch, 2, seq, seq]
  return %out
}
)";

// dynamo: GatherND(m, Concat(b, k)) over indices expanded by Shape(Max(b, k)).
const char *DynamoMask = R"(
graph @dynamo_mask(%m: i64[batch, seq], %scores: f32[batch, 2, seq, seq]) {
  %zero = const i64[] [0]
  %one = const i64[] [1]
  %ax12 = const i64[2] [1, 2]
  %ax01 = const i64[2] [0, 1]
  %ax2 = const i64[1] [2]
  %ax3 = const i64[1] [3]
  %last = const i64[1] [-1]
  %fzero = const f32[] [0.0]
  %fmin = const f32[] [-3.4028235e+38]
  %b_n1 = Shape(%m) {end = 1, start = 0} : i64[1]
  %b_n = Squeeze(%b_n1) : i64[]
  %s_n1 = Shape(%m) {end = 2, start = 1} : i64[1]
  %s_n = Squeeze(%s_n1) : i64[]
  %mb = Cast(%m) {to = "bool"} : bool[batch, seq]
  %b = Range(%zero, %b_n, %one) : i64[batch]
  %k = Range(%zero, %s_n, %one) : i64[seq]
  %b3 = Unsqueeze(%b, %ax12) : i64[batch, 1, 1]
  %b4 = Unsqueeze(%b3, %ax3) : i64[batch, 1, 1, 1]
  %k3 = Unsqueeze(%k, %ax01) : i64[1, 1, seq]
  %k4 = Unsqueeze(%k3, %ax2) : i64[1, 1, 1, seq]
  %both = Max(%b4, %k4) : i64[batch, 1, 1, seq]
  %shape = Shape(%both) {start = 0} : i64[4]
  %bx = Expand(%b4, %shape) : i64[batch, 1, 1, seq]
  %bcol = Unsqueeze(%bx, %last) : i64[batch, 1, 1, seq, 1]
  %kx = Expand(%k4, %shape) : i64[batch, 1, 1, seq]
  %kcol = Unsqueeze(%kx, %last) : i64[batch, 1, 1, seq, 1]
  %idx = Concat(%bcol, %kcol) {axis = -1} : i64[batch, 1, 1, seq, 2]
  %m4 = GatherND(%mb, %idx) {batch_dims = 0} : bool[batch, 1, 1, seq]
  %bias = Where(%m4, %fzero, %fmin) : f32[batch, 1, 1, seq]
  %out = Add(%scores, %bias) : f32[batch, 2, seq, seq]
  return %out
}
)";

// transformers 5's bidirectional term q_idx >= 0 and'ed into the mask.
const char *IotaMask = R"(
graph @iota_always_true(%m4: bool[batch, 1, 1, seq], %x: f32[batch, seq, 4], %scores: f32[batch, 2, seq, seq]) {
  %zero = const i64[] [0]
  %one = const i64[] [1]
  %true = const bool[] [true]
  %ax013 = const i64[3] [0, 1, 3]
  %fzero = const f32[] [0.0]
  %fmin = const f32[] [-3.4028235e+38]
  %shape = Shape(%x) : i64[3]
  %s_n = Gather(%shape, %one) {axis = 0} : i64[]
  %q = Range(%zero, %s_n, %one) : i64[seq]
  %q4 = Unsqueeze(%q, %ax013) : i64[1, 1, seq, 1]
  %ge = GreaterOrEqual(%q4, %zero) : bool[1, 1, seq, 1]
  %all = And(%true, %ge) : bool[1, 1, seq, 1]
  %keep = And(%all, %m4) : bool[batch, 1, seq, seq]
  %bias = Where(%keep, %fzero, %fmin) : f32[batch, 1, seq, seq]
  %out = Add(%scores, %bias) : f32[batch, 2, seq, seq]
  return %out
}
)";

TEST_F(SimplifyIndexingPass, TorchScriptMaskKeepsMeaning) {
  auto G = parse(TorchScriptMask);
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "simplify-indexing", "Gather", 0, maskAndScores());
  EXPECT_EQ(count(*G, "Reshape"), 0);
  EXPECT_EQ(count(*G, "Shape"), 0);
  EXPECT_EQ(count(*G, "Unsqueeze"), 1);
}

TEST_F(SimplifyIndexingPass, DynamoMaskKeepsMeaning) {
  auto G = parse(DynamoMask);
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "simplify-indexing", "GatherND", 0, maskAndScores());
  EXPECT_EQ(count(*G, "Expand"), 0);
  EXPECT_EQ(count(*G, "Unsqueeze"), 1);
}

TEST_F(SimplifyIndexingPass, DecidedIotaComparisonKeepsMeaning) {
  auto G = parse(IotaMask);
  ASSERT_TRUE(G);
  Tensor M = paddedMask(5, {5, 2, 3}, DType::Bool);
  std::map<std::string, Tensor> Inputs = {
      {"m4", Tensor::fromInts(DType::Bool, {3, 1, 1, 5}, M.toInts())},
      {"x", uniform({3, 5, 4})},
      {"scores", uniform({3, 2, 5, 5})}};
  expectSameMeaning(*G, "simplify-indexing", "GreaterOrEqual", 0, Inputs);
  EXPECT_EQ(count(*G, "And"), 0);
}

TEST_F(SimplifyIndexingPass, AnalysisReadsTheLinearisedIndex) {
  auto G = parse(TorchScriptMask);
  ASSERT_TRUE(G);
  IndexAnalysis Index(*G);
  const AffineIndex *Idx = Index.affine(G->lookup("idx"));
  ASSERT_TRUE(Idx);
  EXPECT_EQ(Idx->str(), "0 + seq*c0 + 1*c3");
  IndexRange R = Index.range(G->lookup("idx"));
  EXPECT_EQ(R.Min, std::optional<int64_t>(0));
  EXPECT_FALSE(R.Max.has_value());
  const SourceView *View = Index.view(G->lookup("m4"));
  ASSERT_TRUE(View);
  EXPECT_EQ(View->Source, G->lookup("mb"));
  EXPECT_EQ(View->Axes, (std::vector<int64_t>{0, 3}));
  EXPECT_FALSE(Index.view(G->lookup("line")));
}

} // namespace
