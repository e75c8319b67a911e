// Meaning tests of fuse-layernorm, fuse-gelu, fuse-skip-layernorm,
// fuse-embed-layernorm and fuse-pool-normalize: each graph runs on the
// reference executor before and after the pass, on random weights and
// inputs (masks with padding), and the outputs must agree within 1e-5.
#include "PassTestBase.h"

using namespace kiln;

namespace {

class FuseNormPasses : public PassMeaningTest {
protected:
  FuseNormPasses() : PassMeaningTest(1234) {}

  /// Gives each named (elided) constant random data of its static type:
  /// values near 1 for scales, in [-1, 1] otherwise.
  void randomizeConstants(Graph &G, std::vector<std::string> Names) {
    for (const std::string &Name : Names) {
      Value *V = G.lookup(Name);
      ASSERT_TRUE(V && V->isConstant()) << Name;
      bool Scale = llvm::StringRef(Name).contains("gamma");
      V->setConstantData(uniform(V->type().staticSizes(), Scale ? 0.5 : -1.0,
                                 Scale ? 1.5 : 1.0));
    }
  }
};

TEST_F(FuseNormPasses, DecomposedLayerNormKeepsMeaning) {
  // Both spellings side by side: Pow + Div, and d * d + Reciprocal.
  auto G = parse(R"(
graph @ln(%x: f32[batch, seq, 8]) {
  %axes = const i64[1] [-1]
  %axes2 = const i64[1] [2]
  %two = const f32[] [2.0]
  %eps = const f32[] [1.0e-05]
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %gamma2 = const f32[1, 1, 8] elided
  %mean = ReduceMean(%x, %axes) {keepdims = 1} : f32[batch, seq, 1]
  %d = Sub(%x, %mean) : f32[batch, seq, 8]
  %sq = Pow(%d, %two) : f32[batch, seq, 8]
  %var = ReduceMean(%sq, %axes) {keepdims = 1} : f32[batch, seq, 1]
  %ve = Add(%var, %eps) : f32[batch, seq, 1]
  %std = Sqrt(%ve) : f32[batch, seq, 1]
  %n = Div(%d, %std) : f32[batch, seq, 8]
  %scaled = Mul(%n, %gamma) : f32[batch, seq, 8]
  %y = Add(%scaled, %beta) : f32[batch, seq, 8]
  %mean2 = ReduceMean(%y, %axes2) : f32[batch, seq, 1]
  %d2 = Sub(%y, %mean2) : f32[batch, seq, 8]
  %sq2 = Mul(%d2, %d2) : f32[batch, seq, 8]
  %var2 = ReduceMean(%sq2, %axes2) : f32[batch, seq, 1]
  %ve2 = Add(%eps, %var2) : f32[batch, seq, 1]
  %std2 = Sqrt(%ve2) : f32[batch, seq, 1]
  %inv2 = Reciprocal(%std2) : f32[batch, seq, 1]
  %n2 = Mul(%d2, %inv2) : f32[batch, seq, 8]
  %z = Mul(%gamma2, %n2) : f32[batch, seq, 8]
  return %z
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G, {"gamma", "beta", "gamma2"});
  expectSameMeaning(*G, "fuse-layernorm", "LayerNorm", 2,
                    {{"x", uniform({2, 3, 8}, -3, 3)}});
  EXPECT_EQ(count(*G, "ReduceMean"), 0);
}

TEST_F(FuseNormPasses, OnnxLayerNormalizationKeepsMeaning) {
  auto G = parse(R"(
graph @ln(%x: f32[batch, 8]) {
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %y = LayerNormalization(%x, %gamma, %beta) {axis = -1, epsilon = 1.0e-12} : f32[batch, 8]
  return %y
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G, {"gamma", "beta"});
  expectSameMeaning(*G, "fuse-layernorm", "LayerNorm", 1,
                    {{"x", uniform({3, 8}, -3, 3)}});
}

TEST_F(FuseNormPasses, GeluFormsKeepMeaning) {
  // TorchScript's erf form, torchlib's, and NewGELU's tanh form with x^3
  // as a product, chained.
  auto G = parse(R"(
graph @gelu(%x: f32[batch, 16]) {
  %sqrt2 = const f32[] [1.4142135]
  %rsqrt2 = const f32[] [0.70710677]
  %one = const f32[] [1.0]
  %half = const f32[] [0.5]
  %k = const f32[] [0.044715]
  %c = const f32[] [0.7978846]
  %a = Div(%x, %sqrt2) : f32[batch, 16]
  %b = Erf(%a) : f32[batch, 16]
  %p = Add(%b, %one) : f32[batch, 16]
  %q = Mul(%x, %p) : f32[batch, 16]
  %g1 = Mul(%q, %half) : f32[batch, 16]
  %a2 = Mul(%g1, %rsqrt2) : f32[batch, 16]
  %b2 = Erf(%a2) : f32[batch, 16]
  %p2 = Add(%one, %b2) : f32[batch, 16]
  %h2 = Mul(%half, %p2) : f32[batch, 16]
  %g2 = Mul(%g1, %h2) : f32[batch, 16]
  %sq = Mul(%g2, %g2) : f32[batch, 16]
  %cube = Mul(%sq, %g2) : f32[batch, 16]
  %kc = Mul(%cube, %k) : f32[batch, 16]
  %s = Add(%g2, %kc) : f32[batch, 16]
  %in = Mul(%s, %c) : f32[batch, 16]
  %t = Tanh(%in) : f32[batch, 16]
  %p3 = Add(%t, %one) : f32[batch, 16]
  %h3 = Mul(%g2, %half) : f32[batch, 16]
  %g3 = Mul(%h3, %p3) : f32[batch, 16]
  return %g3
}
)");
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "fuse-gelu", "Gelu", 3,
                    {{"x", uniform({4, 16}, -4, 4)}});
  EXPECT_EQ(count(*G, "Mul"), 0);
}

TEST_F(FuseNormPasses, SkipLayerNormKeepsMeaning) {
  // The first LayerNorm takes the projection bias as extra_bias, the second
  // a plain residual without beta.
  auto G = parse(R"(
graph @skip(%h: f32[batch, seq, 6], %r: f32[batch, seq, 8]) {
  %w = const f32[6, 8] elided
  %bias = const f32[1, 8] elided
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %gamma2 = const f32[8] elided
  %p = MatMul(%h, %w) : f32[batch, seq, 8]
  %pb = Add(%p, %bias) : f32[batch, seq, 8]
  %sum = Add(%pb, %r) : f32[batch, seq, 8]
  %y = LayerNorm(%sum, %gamma, %beta) {epsilon = 1.0e-12} : f32[batch, seq, 8]
  %sum2 = Add(%y, %r) : f32[batch, seq, 8]
  %z = LayerNorm(%sum2, %gamma2) {epsilon = 1.0e-05} : f32[batch, seq, 8]
  return %z
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G, {"w", "bias", "gamma", "beta", "gamma2"});
  expectSameMeaning(
      *G, "fuse-skip-layernorm", "SkipLayerNorm", 2,
      {{"h", uniform({2, 5, 6}, -2, 2)}, {"r", uniform({2, 5, 8}, -2, 2)}});
  EXPECT_EQ(count(*G, "Add"), 0);
}

// BERT's embeddings as the opset-14 TorchScript export writes them: the
// position ids sliced from a constant arange buffer, the LayerNorm
// decomposed. The whole chain of passes must end in one EmbedLayerNorm.
constexpr llvm::StringLiteral BertEmbeddings = R"(
graph @bert(%input_ids: i64[batch, seq], %token_type_ids: i64[batch, seq]) {
  %word = const f32[20, 8] elided
  %pos = const f32[16, 8] elided
  %type = const f32[2, 8] elided
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %buffer = const i64[1, 16] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
  %one = const i64[] [1]
  %zeros = const i64[1] [0]
  %axes = const i64[1] [1]
  %last = const i64[1] [-1]
  %two = const f32[] [2.0]
  %eps = const f32[] [1.0e-12]
  %shape = Shape(%input_ids) : i64[2]
  %seq_len = Gather(%shape, %one) {axis = 0} : i64[]
  %end = Unsqueeze(%seq_len, %zeros) : i64[1]
  %position_ids = Slice(%buffer, %zeros, %end, %axes, %axes) : i64[1, ?]
  %w = Gather(%word, %input_ids) {axis = 0} : f32[batch, seq, 8]
  %t = Gather(%type, %token_type_ids) {axis = 0} : f32[batch, seq, 8]
  %wt = Add(%w, %t) : f32[batch, seq, 8]
  %p = Gather(%pos, %position_ids) {axis = 0} : f32[1, ?, 8]
  %x = Add(%wt, %p) : f32[batch, ?, 8]
  %mean = ReduceMean(%x, %last) {keepdims = 1} : f32[batch, ?, 1]
  %d = Sub(%x, %mean) : f32[batch, ?, 8]
  %sq = Pow(%d, %two) : f32[batch, ?, 8]
  %var = ReduceMean(%sq, %last) {keepdims = 1} : f32[batch, ?, 1]
  %ve = Add(%var, %eps) : f32[batch, ?, 1]
  %std = Sqrt(%ve) : f32[batch, ?, 1]
  %n = Div(%d, %std) : f32[batch, ?, 8]
  %scaled = Mul(%n, %gamma) : f32[batch, ?, 8]
  %y = Add(%scaled, %beta) : f32[batch, ?, 8]
  return %y
}
)";

TEST_F(FuseNormPasses, EmbedLayerNormKeepsMeaning) {
  // As in -O2, fuse-skip-layernorm runs first and turns the embedding sum
  // into a SkipLayerNorm, which fuse-embed-layernorm takes apart again.
  for (llvm::StringRef Pipeline :
       {"fuse-layernorm,fuse-embed-layernorm",
        "fuse-layernorm,fuse-skip-layernorm,fuse-embed-layernorm"}) {
    auto G = parse(BertEmbeddings);
    ASSERT_TRUE(G);
    randomizeConstants(*G, {"word", "pos", "type", "gamma", "beta"});
    expectSameMeaning(*G, Pipeline, "EmbedLayerNorm", 1,
                      {{"input_ids", ints({3, 7}, 0, 20)},
                       {"token_type_ids", ints({3, 7}, 0, 2)}});
    Node *Fused = nullptr;
    for (const auto &N : G->nodes())
      if (N->opName() == "EmbedLayerNorm")
        Fused = N.get();
    ASSERT_TRUE(Fused);
    EXPECT_EQ(Fused->operand(1), nullptr) << "position ids not dropped";
    EXPECT_NE(Fused->operand(2), nullptr);
  }
}

TEST_F(FuseNormPasses, EmbedLayerNormShapeOfWordsKeepsMeaning) {
  // DistilBERT takes seq from the word embeddings' shape.
  auto G = parse(R"(
graph @distilbert(%input_ids: i64[batch, seq]) {
  %word = const f32[20, 8] elided
  %pos = const f32[16, 8] elided
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %buffer = const i64[1, 16] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
  %one = const i64[] [1]
  %zeros = const i64[1] [0]
  %axes = const i64[1] [1]
  %w = Gather(%word, %input_ids) {axis = 0} : f32[batch, seq, 8]
  %shape = Shape(%w) : i64[3]
  %seq_len = Gather(%shape, %one) {axis = 0} : i64[]
  %end = Unsqueeze(%seq_len, %zeros) : i64[1]
  %position_ids = Slice(%buffer, %zeros, %end, %axes, %axes) : i64[1, ?]
  %p = Gather(%pos, %position_ids) {axis = 0} : f32[1, ?, 8]
  %sum = Add(%w, %p) : f32[batch, ?, 8]
  %y = LayerNorm(%sum, %gamma, %beta) {epsilon = 1.0e-12} : f32[batch, ?, 8]
  return %y
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G, {"word", "pos", "gamma", "beta"});
  expectSameMeaning(*G, "fuse-embed-layernorm", "EmbedLayerNorm", 1,
                    {{"input_ids", ints({2, 9}, 0, 20)}});
  EXPECT_EQ(G->numNodes(), 1u);
}

TEST_F(FuseNormPasses, EmbedLayerNormComputedPositionsKeepMeaning) {
  // RoBERTa: position ids computed from the ids, token types from a zeros
  // buffer that is sliced and expanded.
  auto G = parse(R"(
graph @roberta(%ids: i64[batch, seq]) {
  %word = const f32[20, 8] elided
  %pos = const f32[12, 8] elided
  %type = const f32[1, 8] elided
  %gamma = const f32[8] elided
  %beta = const f32[8] elided
  %pad = const i64[] [1]
  %axis = const i64[] [1]
  %buffer = const i64[1, 12] [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  %starts = const i64[1] [0]
  %axes = const i64[1] [1]
  %shape = Shape(%ids) : i64[2]
  %seq_len = Gather(%shape, %axes) {axis = 0} : i64[1]
  %sliced = Slice(%buffer, %starts, %seq_len, %axes) : i64[1, seq]
  %token_type_ids = Expand(%sliced, %shape) : i64[batch, seq]
  %is_pad = Equal(%ids, %pad) : bool[batch, seq]
  %not_pad = Not(%is_pad) : bool[batch, seq]
  %mask = Cast(%not_pad) {to = "i64"} : i64[batch, seq]
  %count = CumSum(%mask, %axis) : i64[batch, seq]
  %masked = Mul(%count, %mask) : i64[batch, seq]
  %position_ids = Add(%masked, %pad) : i64[batch, seq]
  %w = Gather(%word, %ids) {axis = 0} : f32[batch, seq, 8]
  %t = Gather(%type, %token_type_ids) {axis = 0} : f32[batch, seq, 8]
  %p = Gather(%pos, %position_ids) {axis = 0} : f32[batch, seq, 8]
  %wt = Add(%w, %t) : f32[batch, seq, 8]
  %sum = Add(%p, %wt) : f32[batch, seq, 8]
  %y = LayerNorm(%sum, %gamma, %beta) {epsilon = 1.0e-05} : f32[batch, seq, 8]
  return %y
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G, {"word", "pos", "type", "gamma", "beta"});
  // Pad id 1 at the end of each row, as tokenizers pad.
  Tensor Ids = ints({2, 6}, 3, 20);
  Ids.setInt(4, 1);
  Ids.setInt(5, 1);
  Ids.setInt(11, 1);
  expectSameMeaning(*G, "fuse-embed-layernorm", "EmbedLayerNorm", 1,
                    {{"ids", Ids}});
  EXPECT_EQ(count(*G, "CumSum"), 1);
  EXPECT_EQ(count(*G, "Expand"), 0);
}

// sentence-transformers' head as the TorchScript export writes it.
constexpr llvm::StringLiteral MeanPooling = R"(
graph @pool(%hidden: f32[batch, seq, 8], %attention_mask: i64[batch, seq]) {
  %last = const i64[1] [-1]
  %axis1 = const i64[1] [1]
  %min_count = const f32[] [1.0e-09]
  %eps = const f32[] [1.0e-12]
  %u = Unsqueeze(%attention_mask, %last) : i64[batch, seq, 1]
  %m = Cast(%u) {to = "f32"} : f32[batch, seq, 1]
  %hm = Mul(%hidden, %m) : f32[batch, seq, 8]
  %summed = ReduceSum(%hm, %axis1) {keepdims = 0} : f32[batch, 8]
  %count = ReduceSum(%m, %axis1) {keepdims = 0} : f32[batch, 1]
  %clamped = Clip(%count, %min_count) : f32[batch, 1]
  %mean = Div(%summed, %clamped) : f32[batch, 8]
  %norm = ReduceL2(%mean, %axis1) {keepdims = 1} : f32[batch, 1]
  %denom = Clip(%norm, %eps) : f32[batch, 1]
  %shape = Shape(%mean) : i64[2]
  %expanded = Expand(%denom, %shape) : f32[batch, 8]
  %sentence_embedding = Div(%mean, %expanded) : f32[batch, 8]
  return %sentence_embedding, %mean
}
)";

TEST_F(FuseNormPasses, PoolNormalizeKeepsMeaning) {
  // The graph also returns the mean, so the normalize stays and the mean
  // alone fuses; a copy returning only the embedding fuses whole.
  auto G = parse(MeanPooling);
  ASSERT_TRUE(G);
  std::map<std::string, Tensor> Inputs = {
      {"hidden", uniform({4, 5, 8}, -2, 2)},
      {"attention_mask", paddedMask(5, {5, 3, 1, 0})}};
  expectSameMeaning(*G, "fuse-pool-normalize", "PoolNormalize", 1, Inputs);
  EXPECT_EQ(count(*G, "ReduceL2"), 1);

  auto Whole = parse(MeanPooling);
  ASSERT_TRUE(Whole);
  Whole->setOutputs({Whole->lookup("sentence_embedding")});
  expectSameMeaning(*Whole, "fuse-pool-normalize", "PoolNormalize", 1, Inputs);
  EXPECT_EQ(count(*Whole, "ReduceL2"), 0);
}

TEST_F(FuseNormPasses, ClsPoolNormalizeKeepsMeaning) {
  auto G = parse(R"(
graph @cls(%h: f32[batch, seq, 8]) {
  %zero = const i64[] [0]
  %axis1 = const i64[1] [1]
  %eps = const f32[] [1.0e-12]
  %cls = Gather(%h, %zero) {axis = 1} : f32[batch, 8]
  %norm = ReduceL2(%cls, %axis1) {keepdims = 1} : f32[batch, 1]
  %denom = Max(%norm, %eps) : f32[batch, 1]
  %y = Div(%cls, %denom) : f32[batch, 8]
  return %y
}
)");
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "fuse-pool-normalize", "PoolNormalize", 1,
                    {{"h", uniform({3, 4, 8}, -2, 2)}});
}

} // namespace
