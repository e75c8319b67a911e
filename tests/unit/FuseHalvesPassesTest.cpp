// Rotary and Glu: their reference semantics against values computed here in
// double, and fuse-rotary / fuse-glu keeping each graph's meaning on random
// inputs.

#include "PassTestBase.h"

#include "ir/Verifier.h"

namespace kiln {
namespace {

class FuseHalvesPasses : public PassMeaningTest {
protected:
  FuseHalvesPasses() : PassMeaningTest(12) {}

  /// The one output of `Text` on `Inputs`, by the reference executor.
  Tensor evaluate(llvm::StringRef Text,
                  const std::map<std::string, Tensor> &Inputs) {
    auto G = parse(Text);
    if (!G)
      return Tensor();
    auto Out = runReference(*G, Inputs);
    if (!Out) {
      ADD_FAILURE() << llvm::toString(Out.takeError());
      return Tensor();
    }
    return (*Out)[0];
  }
};

TEST_F(FuseHalvesPasses, RotarySemantics) {
  // x [2 rows, 3 heads, D = 4], tables [2, 1, 4] broadcast over the heads.
  Tensor X = uniform({2, 3, 4}), Cos = uniform({2, 1, 4}),
         Sin = uniform({2, 1, 4});
  Tensor Y = evaluate(R"(
graph @r(%x: f32[2, 3, 4], %cos: f32[2, 1, 4], %sin: f32[2, 1, 4]) {
  %y = Rotary(%x, %cos, %sin) : f32[2, 3, 4]
  return %y
}
)",
                      {{"x", X}, {"cos", Cos}, {"sin", Sin}});
  ASSERT_EQ(Y.sizes().vec(), X.sizes().vec());
  for (int64_t R = 0; R < 2; ++R)
    for (int64_t H = 0; H < 3; ++H)
      for (int64_t J = 0; J < 4; ++J) {
        int64_t I = (R * 3 + H) * 4 + J, T = R * 4 + J;
        double Rotated = J < 2 ? -X.getDouble(I + 2) : X.getDouble(I - 2);
        double Want =
            X.getDouble(I) * Cos.getDouble(T) + Rotated * Sin.getDouble(T);
        EXPECT_NEAR(Y.getDouble(I), Want, 1e-6) << "element " << I;
      }
}

TEST_F(FuseHalvesPasses, GluSemantics) {
  Tensor X = uniform({3, 6}, -3, 3);
  for (llvm::StringRef Act : {"gelu", "gelu_tanh", "silu"}) {
    Tensor Y = evaluate(("graph @g(%x: f32[3, 6]) {\n  %y = Glu(%x) "
                         "{activation = \"" +
                         Act + "\"} : f32[3, 3]\n  return %y\n}\n")
                            .str(),
                        {{"x", X}});
    ASSERT_EQ(Y.sizes().vec(), (std::vector<int64_t>{3, 3})) << Act.str();
    for (int64_t R = 0; R < 3; ++R)
      for (int64_t J = 0; J < 3; ++J) {
        double A = X.getDouble(R * 6 + J), B = X.getDouble(R * 6 + 3 + J);
        double G = Act == "gelu" ? 0.5 * A * (1 + std::erf(A / std::sqrt(2.0)))
                   : Act == "silu"
                       ? A / (1 + std::exp(-A))
                       : 0.5 * A *
                             (1 + std::tanh(std::sqrt(2 / M_PI) *
                                            (A + 0.044715 * A * A * A)));
        EXPECT_NEAR(Y.getDouble(R * 3 + J), G * B, 1e-5) << Act.str();
      }
  }
}

TEST_F(FuseHalvesPasses, RotaryAboveTransposeKeepsMeaning) {
  // ModernBERT's q: heads moved before the sequence, rotated with tables
  // computed from the positions; the pass rotates before the Transpose.
  auto G = parse(R"(
graph @rotary(%y: f32[batch, seq, 2, 8], %cos: f32[1, 1, seq, 8], %sin: f32[1, 1, seq, 8]) {
  %zero = const i64[1] [0]
  %half = const i64[1] [4]
  %end = const i64[1] [9223372036854775807]
  %axis = const i64[1] [3]
  %one = const i64[1] [1]
  %x = Transpose(%y) {perm = [0, 2, 1, 3]} : f32[batch, 2, seq, 8]
  %xc = Mul(%x, %cos) : f32[batch, 2, seq, 8]
  %lo = Slice(%x, %zero, %half, %axis, %one) : f32[batch, 2, seq, 4]
  %hi = Slice(%x, %half, %end, %axis, %one) : f32[batch, 2, seq, 4]
  %n = Neg(%hi) : f32[batch, 2, seq, 4]
  %rh = Concat(%n, %lo) {axis = -1} : f32[batch, 2, seq, 8]
  %rs = Mul(%rh, %sin) : f32[batch, 2, seq, 8]
  %out = Add(%xc, %rs) : f32[batch, 2, seq, 8]
  return %out
}
)");
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "fuse-rotary,canonicalize", "Rotary", 1,
                    {{"y", uniform({3, 5, 2, 8})},
                     {"cos", uniform({1, 1, 5, 8})},
                     {"sin", uniform({1, 1, 5, 8})}});
  EXPECT_EQ(count(*G, "Concat"), 0);
}

TEST_F(FuseHalvesPasses, GluFormsKeepMeaning) {
  // GeGLU from Slices, then SwiGLU from a Split, chained.
  auto G = parse(R"(
graph @glu(%x: f32[batch, 16]) {
  %zero = const i64[1] [0]
  %half = const i64[1] [8]
  %full = const i64[1] [16]
  %last = const i64[1] [-1]
  %a = Slice(%x, %zero, %half, %last) : f32[batch, 8]
  %b = Slice(%x, %half, %full, %last) : f32[batch, 8]
  %g = Gelu(%a) {approximate = "none"} : f32[batch, 8]
  %y = Mul(%g, %b) : f32[batch, 8]
  %c, %d = Split(%y) {axis = 1, num_outputs = 2} : f32[batch, 4], f32[batch, 4]
  %s = Sigmoid(%c) : f32[batch, 4]
  %silu = Mul(%c, %s) : f32[batch, 4]
  %z = Mul(%silu, %d) : f32[batch, 4]
  return %z
}
)");
  ASSERT_TRUE(G);
  expectSameMeaning(*G, "fuse-glu", "Glu", 2, {{"x", uniform({3, 16}, -3, 3)}});
  EXPECT_EQ(count(*G, "Mul"), 0);
}

TEST_F(FuseHalvesPasses, VerifierRefusesBadOperands) {
  for (llvm::StringRef Text : {
           // odd last dim
           "graph @a(%x: f32[2, 5]) {\n  %y = Glu(%x) {activation = "
           "\"gelu\"} : f32[2, 2]\n  return %y\n}\n",
           // unknown activation
           "graph @b(%x: f32[2, 4]) {\n  %y = Glu(%x) {activation = "
           "\"relu\"} : f32[2, 2]\n  return %y\n}\n",
           // tables that do not span the last axis
           "graph @c(%x: f32[2, 4], %c: f32[2, 2]) {\n  %y = Rotary(%x, %c, "
           "%c) : f32[2, 4]\n  return %y\n}\n",
       }) {
    auto G = parseGraph(Text);
    ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
    llvm::Error E = verifyGraph(**G);
    EXPECT_TRUE(bool(E)) << Text.str();
    llvm::consumeError(std::move(E));
  }
}

} // namespace
} // namespace kiln
