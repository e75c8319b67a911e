// Meaning tests of fuse-gemm-epilogue, fuse-attention and merge-qkv: each
// graph runs on the reference executor before and after the passes, on
// random weights and inputs (attention masks with padded rows), and the
// outputs must agree within 1e-5.
#include "PassTestBase.h"

using namespace kiln;

namespace {

constexpr const char *AllThree = "fuse-gemm-epilogue,fuse-attention,merge-qkv";

class AttentionFusion : public PassMeaningTest {
protected:
  AttentionFusion() : PassMeaningTest(4321) {}

  /// Gives every elided constant of `G` random data of its static type.
  void randomizeConstants(Graph &G) {
    for (Value *C : G.constants())
      if (!C->constantData())
        C->setConstantData(uniform(C->type().staticSizes()));
  }
};

TEST_F(AttentionFusion, GemmEpiloguesKeepMeaning) {
  // MatMul + Add + Gelu, Add(b, MatMul) + Relu, tanh Gelu, Gemm with
  // transB and a [1, N] c + Relu, and a bias Add that is also an output (only
  // MatMul + Add fuse there).
  auto G = parse(R"(
graph @mlp(%x: f32[batch, seq, 8], %x2: f32[batch, 8]) {
  %w1 = const f32[8, 16] elided
  %b1 = const f32[16] elided
  %w2 = const f32[16, 8] elided
  %b2 = const f32[8] elided
  %w3 = const f32[8, 8] elided
  %b3 = const f32[8] elided
  %w4 = const f32[6, 8] elided
  %c4 = const f32[1, 6] elided
  %m1 = MatMul(%x, %w1) : f32[batch, seq, 16]
  %a1 = Add(%m1, %b1) : f32[batch, seq, 16]
  %g1 = Gelu(%a1) : f32[batch, seq, 16]
  %m2 = MatMul(%g1, %w2) : f32[batch, seq, 8]
  %a2 = Add(%b2, %m2) : f32[batch, seq, 8]
  %r2 = Relu(%a2) : f32[batch, seq, 8]
  %m3 = MatMul(%r2, %w3) : f32[batch, seq, 8]
  %a3 = Add(%m3, %b3) : f32[batch, seq, 8]
  %g3 = Gelu(%a3) {approximate = "tanh"} : f32[batch, seq, 8]
  %y4 = Gemm(%x2, %w4, %c4) {transB = 1} : f32[batch, 6]
  %r4 = Relu(%y4) : f32[batch, 6]
  %m5 = MatMul(%x, %w3) : f32[batch, seq, 8]
  %a5 = Add(%m5, %b3) : f32[batch, seq, 8]
  %g5 = Gelu(%a5) : f32[batch, seq, 8]
  return %g3, %r4, %a5, %g5
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G);
  expectSameMeaning(
      *G, "fuse-gemm-epilogue", "FusedGemm", 5,
      {{"x", uniform({3, 5, 8}, -2, 2)}, {"x2", uniform({3, 8}, -2, 2)}});
  EXPECT_EQ(count(*G, "Gelu"), 1) << "the Gelu of an output Add stays";
}

/// A BERT layer's attention as TorchScript exports it, with projections,
/// the (1 - m) * -10000 mask and computed reshape targets; `?` for the
/// sequence as the exports' embeddings leave it.
constexpr const char *BertAttention = R"(
graph @bert(%x: f32[batch, ?, 8], %m: i64[batch, ?]) {
  %wq = const f32[8, 8] elided
  %wk = const f32[8, 8] elided
  %wv = const f32[8, 8] elided
  %bq = const f32[8] elided
  %bk = const f32[8] elided
  %bv = const f32[8] elided
  %i0 = const i64[1] [0]
  %i1 = const i64[1] [1]
  %heads = const i64[1] [2]
  %hd = const i64[1] [4]
  %minus1 = const i64[1] [-1]
  %ax1 = const i64[1] [1]
  %ax2 = const i64[1] [2]
  %one = const f32[] [1.0]
  %big = const f32[] [-10000.0]
  %sqrt_d = const f32[] [2.0]
  %m1 = Unsqueeze(%m, %ax1) : i64[batch, 1, ?]
  %m2 = Unsqueeze(%m1, %ax2) : i64[batch, 1, 1, ?]
  %mf = Cast(%m2) {to = "f32"} : f32[batch, 1, 1, ?]
  %inv = Sub(%one, %mf) : f32[batch, 1, 1, ?]
  %mask = Mul(%inv, %big) : f32[batch, 1, 1, ?]
  %sh = Shape(%x) : i64[3]
  %b = Gather(%sh, %i0) {axis = 0} : i64[1]
  %n = Gather(%sh, %i1) {axis = 0} : i64[1]
  %split = Concat(%b, %n, %heads, %hd) {axis = 0} : i64[4]
  %merge = Concat(%b, %n, %minus1) {axis = 0} : i64[3]
  %mq = MatMul(%x, %wq) : f32[batch, ?, 8]
  %q = Add(%bq, %mq) : f32[batch, ?, 8]
  %mk = MatMul(%x, %wk) : f32[batch, ?, 8]
  %k = Add(%bk, %mk) : f32[batch, ?, 8]
  %mv = MatMul(%x, %wv) : f32[batch, ?, 8]
  %v = Add(%bv, %mv) : f32[batch, ?, 8]
  %qr = Reshape(%q, %split) : f32[batch, ?, 2, 4]
  %qh = Transpose(%qr) {perm = [0, 2, 1, 3]} : f32[batch, 2, ?, 4]
  %kr = Reshape(%k, %split) : f32[batch, ?, 2, 4]
  %kt = Transpose(%kr) {perm = [0, 2, 3, 1]} : f32[batch, 2, 4, ?]
  %vr = Reshape(%v, %split) : f32[batch, ?, 2, 4]
  %vh = Transpose(%vr) {perm = [0, 2, 1, 3]} : f32[batch, 2, ?, 4]
  %s = MatMul(%qh, %kt) : f32[batch, 2, ?, ?]
  %sd = Div(%s, %sqrt_d) : f32[batch, 2, ?, ?]
  %sm = Add(%sd, %mask) : f32[batch, 2, ?, ?]
  %p = Softmax(%sm) {axis = -1} : f32[batch, 2, ?, ?]
  %c = MatMul(%p, %vh) : f32[batch, 2, ?, 4]
  %ct = Transpose(%c) {perm = [0, 2, 1, 3]} : f32[batch, ?, 2, 4]
  %out = Reshape(%ct, %merge) : f32[batch, ?, ?]
  return %out
}
)";

TEST_F(AttentionFusion, BertAttentionWithPaddingKeepsMeaning) {
  auto G = parse(BertAttention);
  ASSERT_TRUE(G);
  randomizeConstants(*G);
  expectSameMeaning(
      *G, AllThree, "Attention", 1,
      {{"x", uniform({3, 6, 8}, -2, 2)}, {"m", paddedMask(6, {6, 4, 1})}});
  const Node *Attention = first(*G, "Attention");
  ASSERT_TRUE(Attention);
  EXPECT_EQ(Attention->operand(1), nullptr) << "merge-qkv packs q, k and v";
  EXPECT_EQ(count(*G, "FusedGemm"), 1);
  EXPECT_EQ(count(*G, "Softmax"), 0);
  EXPECT_EQ(Attention->getInt("num_heads", 0), 2);
  EXPECT_FLOAT_EQ(Attention->getFloat("scale", 0), 0.5f);
}

TEST_F(AttentionFusion, ExporterVariantsKeepMeaning) {
  // The Where(m, 0, finfo.min) mask with a Mul by 1/sqrt(D); SDPA's
  // sqrt(scale) on q and k each with k transposed twice; MPNet's position
  // bias before the mask.
  auto G = parse(R"(
graph @variants(%x: f32[batch, seq, 8], %keep: bool[batch, 1, 1, seq], %pos: f32[1, 2, seq, seq]) {
  %split = const i64[4] [0, 0, 2, 4]
  %merge = const i64[3] [0, 0, 8]
  %inv_sqrt_d = const f32[] [0.5]
  %root_scale = const f32[] [0.70710677]
  %zero = const f32[] [0.0]
  %min = const f32[] [-3.4028235e+38]
  %mask = Where(%keep, %zero, %min) : f32[batch, 1, 1, seq]
  %xr = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xh = Transpose(%xr) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %xr2 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xt = Transpose(%xr2) {perm = [0, 2, 3, 1]} : f32[batch, 2, 4, seq]
  %xr3 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xv = Transpose(%xr3) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %s = MatMul(%xh, %xt) : f32[batch, 2, seq, seq]
  %sd = Mul(%s, %inv_sqrt_d) : f32[batch, 2, seq, seq]
  %sm = Add(%sd, %mask) : f32[batch, 2, seq, seq]
  %p = Softmax(%sm) {axis = -1} : f32[batch, 2, seq, seq]
  %c = MatMul(%p, %xv) : f32[batch, 2, seq, 4]
  %ct = Transpose(%c) {perm = [0, 2, 1, 3]} : f32[batch, seq, 2, 4]
  %y = Reshape(%ct, %merge) : f32[batch, seq, 8]
  %yr = Reshape(%y, %split) : f32[batch, seq, 2, 4]
  %yh = Transpose(%yr) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %yr2 = Reshape(%y, %split) : f32[batch, seq, 2, 4]
  %yh2 = Transpose(%yr2) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %yt = Transpose(%yh2) {perm = [0, 1, 3, 2]} : f32[batch, 2, 4, seq]
  %yr3 = Reshape(%y, %split) : f32[batch, seq, 2, 4]
  %yv = Transpose(%yr3) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %yq = Mul(%yh, %root_scale) : f32[batch, 2, seq, 4]
  %yk = Mul(%yt, %root_scale) : f32[batch, 2, 4, seq]
  %s2 = MatMul(%yq, %yk) : f32[batch, 2, seq, seq]
  %sm2 = Add(%s2, %mask) : f32[batch, 2, seq, seq]
  %p2 = Softmax(%sm2) {axis = -1} : f32[batch, 2, seq, seq]
  %c2 = MatMul(%p2, %yv) : f32[batch, 2, seq, 4]
  %ct2 = Transpose(%c2) {perm = [0, 2, 1, 3]} : f32[batch, seq, 2, 4]
  %z = Reshape(%ct2, %merge) : f32[batch, seq, 8]
  %zr = Reshape(%z, %split) : f32[batch, seq, 2, 4]
  %zh = Transpose(%zr) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %zr2 = Reshape(%z, %split) : f32[batch, seq, 2, 4]
  %zt = Transpose(%zr2) {perm = [0, 2, 3, 1]} : f32[batch, 2, 4, seq]
  %zr3 = Reshape(%z, %split) : f32[batch, seq, 2, 4]
  %zv = Transpose(%zr3) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %s3 = MatMul(%zh, %zt) : f32[batch, 2, seq, seq]
  %sd3 = Mul(%s3, %inv_sqrt_d) : f32[batch, 2, seq, seq]
  %sb3 = Add(%sd3, %pos) : f32[batch, 2, seq, seq]
  %sm3 = Add(%sb3, %mask) : f32[batch, 2, seq, seq]
  %p3 = Softmax(%sm3) {axis = -1} : f32[batch, 2, seq, seq]
  %c3 = MatMul(%p3, %zv) : f32[batch, 2, seq, 4]
  %ct3 = Transpose(%c3) {perm = [0, 2, 1, 3]} : f32[batch, seq, 2, 4]
  %out = Reshape(%ct3, %merge) : f32[batch, seq, 8]
  return %out
}
)");
  ASSERT_TRUE(G);
  Tensor Keep = paddedMask(5, {5, 2}, DType::Bool).reshaped({2, 1, 1, 5});
  expectSameMeaning(*G, "fuse-attention", "Attention", 3,
                    {{"x", uniform({2, 5, 8}, -2, 2)},
                     {"keep", Keep},
                     {"pos", uniform({1, 2, 5, 5})}});
}

/// transformers' SDPA attention as TorchScript exports it: the -inf mask
/// Where(keep, 0, -inf) and the NaN guard Where(IsNaN(p), 0, p); beside it
/// the eager form's -FLT_MAX mask without a guard. Batch row 1 is masked
/// throughout: the SDPA attention writes 0 there, the eager one averages v.
TEST_F(AttentionFusion, SdpaNanGuardAndFullyMaskedRowsKeepMeaning) {
  auto G = parse(R"(
graph @sdpa(%x: f32[batch, seq, 8], %keep: bool[batch, 1, 1, seq]) {
  %split = const i64[4] [0, 0, 2, 4]
  %merge = const i64[3] [0, 0, 8]
  %root_scale = const f32[] [0.70710677]
  %zero = const f32[1] [0.0]
  %neg_inf = const f32[] [-inf]
  %min = const f32[] [-3.4028235e+38]
  %mask = Where(%keep, %zero, %neg_inf) : f32[batch, 1, 1, seq]
  %xr = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xh = Transpose(%xr) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %xr2 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xt = Transpose(%xr2) {perm = [0, 2, 3, 1]} : f32[batch, 2, 4, seq]
  %xr3 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %xv = Transpose(%xr3) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %xq = Mul(%xh, %root_scale) : f32[batch, 2, seq, 4]
  %xk = Mul(%xt, %root_scale) : f32[batch, 2, 4, seq]
  %s = MatMul(%xq, %xk) : f32[batch, 2, seq, seq]
  %sm = Add(%s, %mask) : f32[batch, 2, seq, seq]
  %p = Softmax(%sm) {axis = -1} : f32[batch, 2, seq, seq]
  %nan = IsNaN(%p) : bool[batch, 2, seq, seq]
  %pg = Where(%nan, %zero, %p) : f32[batch, 2, seq, seq]
  %c = MatMul(%pg, %xv) : f32[batch, 2, seq, 4]
  %ct = Transpose(%c) {perm = [0, 2, 1, 3]} : f32[batch, seq, 2, 4]
  %y = Reshape(%ct, %merge) : f32[batch, seq, 8]
  %eager_mask = Where(%keep, %zero, %min) : f32[batch, 1, 1, seq]
  %yr = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %yh = Transpose(%yr) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %yr2 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %yt = Transpose(%yr2) {perm = [0, 2, 3, 1]} : f32[batch, 2, 4, seq]
  %yr3 = Reshape(%x, %split) : f32[batch, seq, 2, 4]
  %yv = Transpose(%yr3) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 4]
  %ys = MatMul(%yh, %yt) : f32[batch, 2, seq, seq]
  %ym = Add(%ys, %eager_mask) : f32[batch, 2, seq, seq]
  %yp = Softmax(%ym) {axis = -1} : f32[batch, 2, seq, seq]
  %yc = MatMul(%yp, %yv) : f32[batch, 2, seq, 4]
  %yct = Transpose(%yc) {perm = [0, 2, 1, 3]} : f32[batch, seq, 2, 4]
  %z = Reshape(%yct, %merge) : f32[batch, seq, 8]
  return %y, %z
}
)");
  ASSERT_TRUE(G);
  Tensor Keep = paddedMask(5, {5, 0, 3}, DType::Bool).reshaped({3, 1, 1, 5});
  Tensor X = uniform({3, 5, 8}, -2, 2);
  expectSameMeaning(*G, "fuse-attention", "Attention", 2,
                    {{"x", X}, {"keep", Keep}});
  EXPECT_EQ(count(*G, "IsNaN"), 0);
  auto Out = runReference(*G, {{"x", X}, {"keep", Keep}});
  ASSERT_TRUE(bool(Out)) << llvm::toString(Out.takeError());
  const Tensor &Sdpa = (*Out)[0], &Eager = (*Out)[1];
  // Row 1 (elements 40 .. 79): 0 under the -inf mask, the mean of v's
  // heads under -FLT_MAX (nonzero for random x).
  double SdpaRow = 0, EagerRow = 0;
  for (int64_t I = 40; I < 80; ++I) {
    SdpaRow += std::fabs(Sdpa.getDouble(I));
    EagerRow += std::fabs(Eager.getDouble(I));
  }
  EXPECT_EQ(SdpaRow, 0.0);
  EXPECT_GT(EagerRow, 0.0);
}

TEST_F(AttentionFusion, TorchlibKeySwapKeepsMeaning) {
  auto G = parse(R"(
graph @torchlib(%q: f32[2, 3, 8], %k: f32[2, 3, 8], %v: f32[2, 3, 8]) {
  %split = const i64[4] [2, 3, 2, 4]
  %squeeze = const i64[3] [-1, 3, 4]
  %unsqueeze = const i64[4] [2, 2, 4, 3]
  %merge = const i64[3] [2, 3, 8]
  %sqrt_d = const f32[] [2.0]
  %qr = Reshape(%q, %split) : f32[2, 3, 2, 4]
  %qh = Transpose(%qr) {perm = [0, 2, 1, 3]} : f32[2, 2, 3, 4]
  %kr = Reshape(%k, %split) : f32[2, 3, 2, 4]
  %kh = Transpose(%kr) {perm = [0, 2, 1, 3]} : f32[2, 2, 3, 4]
  %k3 = Reshape(%kh, %squeeze) : f32[4, 3, 4]
  %k3t = Transpose(%k3) {perm = [0, 2, 1]} : f32[4, 4, 3]
  %kt = Reshape(%k3t, %unsqueeze) : f32[2, 2, 4, 3]
  %vr = Reshape(%v, %split) : f32[2, 3, 2, 4]
  %vh = Transpose(%vr) {perm = [0, 2, 1, 3]} : f32[2, 2, 3, 4]
  %s = MatMul(%qh, %kt) : f32[2, 2, 3, 3]
  %sd = Div(%s, %sqrt_d) : f32[2, 2, 3, 3]
  %p = Softmax(%sd) {axis = -1} : f32[2, 2, 3, 3]
  %c = MatMul(%p, %vh) : f32[2, 2, 3, 4]
  %ct = Transpose(%c) {perm = [0, 2, 1, 3]} : f32[2, 3, 2, 4]
  %out = Reshape(%ct, %merge) : f32[2, 3, 8]
  return %out
}
)");
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "fuse-attention", "Attention", 1,
                    {{"q", uniform({2, 3, 8})},
                     {"k", uniform({2, 3, 8})},
                     {"v", uniform({2, 3, 8})}});
}

TEST_F(AttentionFusion, MergeQKVWithTransposedWeightsKeepsMeaning) {
  // trans_b projections, one without a bias.
  auto G = parse(R"(
graph @qkv(%x: f32[batch, seq, 8], %mask: f32[batch, 1, 1, seq]) {
  %wq = const f32[8, 8] elided
  %wk = const f32[8, 8] elided
  %wv = const f32[8, 8] elided
  %bq = const f32[8] elided
  %bv = const f32[8] elided
  %q = FusedGemm(%x, %wq, %bq) {activation = "none", trans_b = 1} : f32[batch, seq, 8]
  %k = FusedGemm(%x, %wk) {activation = "none", trans_b = 1} : f32[batch, seq, 8]
  %v = FusedGemm(%x, %wv, %bv) {activation = "none", trans_b = 1} : f32[batch, seq, 8]
  %out = Attention(%q, %k, %v, %mask) {num_heads = 2, scale = 0.5} : f32[batch, seq, 8]
  return %out
}
)");
  ASSERT_TRUE(G);
  randomizeConstants(*G);
  Tensor Mask = uniform({2, 1, 1, 4}, -3, 0);
  expectSameMeaning(*G, "merge-qkv", "FusedGemm", 1,
                    {{"x", uniform({2, 4, 8}, -2, 2)}, {"mask", Mask}});
}

TEST_F(AttentionFusion, AttentionRejectsAMaskLargerThanTheScores) {
  // fuse-attention relies on this run-time check where the types cannot
  // show that the mask does not grow the scores.
  auto G = parse(R"(
graph @grow(%q: f32[2, 1, 8], %k: f32[2, 3, 8], %v: f32[2, 3, 8], %mask: f32[2, 1, ?, 3]) {
  %out = Attention(%q, %k, %v, %mask) {num_heads = 2, scale = 0.5} : f32[2, 1, 8]
  return %out
}
)");
  ASSERT_TRUE(G);
  auto Got = runReference(*G, {{"q", uniform({2, 1, 8})},
                               {"k", uniform({2, 3, 8})},
                               {"v", uniform({2, 3, 8})},
                               {"mask", uniform({2, 1, 3, 3})}});
  ASSERT_FALSE(bool(Got));
  EXPECT_NE(llvm::toString(Got.takeError()).find("larger shape"),
            std::string::npos);
}

} // namespace
