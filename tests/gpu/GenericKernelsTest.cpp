//===- GenericKernelsTest.cpp - generic and elementwise kernels vs reference
//===//
//
// One or more small graphs per op, each compiled with NVRTC and (on a GPU)
// run against the reference executor on random inputs: floats in [-1, 1],
// integers in [0, IntRange). Shapes are odd on purpose (not multiples of a
// block or a warp) and operands broadcast where the op allows. The default
// tolerance (1e-4 + 1e-3 |ref|) covers float math against the reference's
// double; f16 results get 2e-3 + 2e-3 |ref|.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

GpuCheck half() {
  GpuCheck C;
  C.AbsTol = 2e-3;
  C.RelTol = 2e-3;
  return C;
}

GpuCheck ints(int64_t Range) {
  GpuCheck C;
  C.IntRange = Range;
  return C;
}

//===----------------------------------------------------------------------===//
// FusedElementwise
//===----------------------------------------------------------------------===//

// The attention mask expression of BERT exports: i64 in, f32 out.
TEST(ElementwiseKernels, FusedMaskExpression) {
  expectGpuMatchesReference(R"IR(
graph @main(%m: i64[3, 1, 1, 37]) {
  %y = FusedElementwise(%m) {dtype = "f32", expr = "mul(sub(1.0, cast_f32(x0)), -10000.0)"} : f32[3, 1, 1, 37]
  return %y
}
)IR");
}

// Operands broadcast against each other in the middle and at the front.
TEST(ElementwiseKernels, FusedBroadcast) {
  expectGpuMatchesReference(R"IR(
graph @main(%a: f32[3, 1, 5], %b: f32[4, 5], %c: f32[]) {
  %y = FusedElementwise(%a, %b, %c) {dtype = "f32", expr = "add(mul(x0, x1), div(x2, add(abs(x1), 2.0)))"} : f32[3, 4, 5]
  return %y
}
)IR");
}

TEST(ElementwiseKernels, FusedGeluHalf) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[2, 3, 33], %b: f16[33]) {
  %y = FusedElementwise(%x, %b) {dtype = "f16", expr = "gelu(add(x0, x1))"} : f16[2, 3, 33]
  %z = FusedElementwise(%x, %b) {dtype = "f16", expr = "gelu_tanh(sub(x0, x1))"} : f16[2, 3, 33]
  return %y, %z
}
)IR",
                            half());
}

TEST(ElementwiseKernels, FusedMathDouble) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f64[17], %y: f64[17]) {
  %a = FusedElementwise(%x) {dtype = "f64", expr = "add(exp(x0), log(add(abs(x0), 0.5)))"} : f64[17]
  %b = FusedElementwise(%x, %y) {dtype = "f64", expr = "mul(sigmoid(x0), tanh(x1))"} : f64[17]
  %c = FusedElementwise(%x, %y) {dtype = "f64", expr = "pow(add(abs(x0), 1.0), x1)"} : f64[17]
  %d = FusedElementwise(%x) {dtype = "f64", expr = "sqrt(reciprocal(add(abs(x0), 0.25)))"} : f64[17]
  %e = FusedElementwise(%x, %y) {dtype = "f64", expr = "add(max(x0, x1), min(neg(x0), relu(x1)))"} : f64[17]
  %f = FusedElementwise(%x) {dtype = "f64", expr = "erf(x0)"} : f64[17]
  return %a, %b, %c, %d, %e, %f
}
)IR");
}

// Comparisons, logic and where over bools, mixed with casts.
TEST(ElementwiseKernels, FusedLogicAndCasts) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 9], %y: f16[9], %p: bool[4, 1]) {
  %a = FusedElementwise(%x, %y, %p) {dtype = "f16", expr = "where(and(gt(x0, 0.0), not(x2)), cast_f16(x0), neg(x1))"} : f16[4, 9]
  %b = FusedElementwise(%x, %p) {dtype = "bool", expr = "or(le(x0, -0.25), x1)"} : bool[4, 9]
  %c = FusedElementwise(%x) {dtype = "i32", expr = "cast_i32(mul(x0, 10.0))"} : i32[4, 9]
  %d = FusedElementwise(%x) {dtype = "f32", expr = "cast_f32(cast_bf16(mul(x0, 3.0)))"} : f32[4, 9]
  %e = FusedElementwise(%x, %y) {dtype = "bool", expr = "eq(ge(x0, 0.0), lt(x1, 0.0))"} : bool[4, 9]
  return %a, %b, %c, %d, %e
}
)IR",
                            half());
}

// Integer leaves: compared exactly, arithmetic as the reference's double.
TEST(ElementwiseKernels, FusedIntegerLeaves) {
  expectGpuMatchesReference(R"IR(
graph @main(%a: i64[5, 9], %b: i64[9], %c: i32[5, 1]) {
  %x = FusedElementwise(%a, %b) {dtype = "f32", expr = "cast_f32(eq(x0, x1))"} : f32[5, 9]
  %y = FusedElementwise(%a, %b, %c) {dtype = "i64", expr = "div(add(x0, x2), add(x1, 1.0))"} : i64[5, 9]
  %z = FusedElementwise(%a, %c) {dtype = "f64", expr = "div(x0, add(x1, 1.0))"} : f64[5, 9]
  return %x, %y, %z
}
)IR",
                            ints(5));
}

// A large enough result that the grid has many blocks, contiguous operands.
TEST(ElementwiseKernels, FusedManyBlocks) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 129, 385], %b: f32[385]) {
  %y = FusedElementwise(%x, %b) {dtype = "f32", expr = "mul(add(x0, x1), sigmoid(x0))"} : f32[3, 129, 385]
  return %y
}
)IR");
}

//===----------------------------------------------------------------------===//
// Single elementwise ops
//===----------------------------------------------------------------------===//

TEST(ElementwiseKernels, UnaryFloatOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 41]) {
  %a = Abs(%x) : f32[3, 41]
  %b = Neg(%x) : f32[3, 41]
  %c = Exp(%x) : f32[3, 41]
  %d = Log(%a) : f32[3, 41]
  %e = Sqrt(%a) : f32[3, 41]
  %f = Reciprocal(%x) : f32[3, 41]
  %g = Relu(%x) : f32[3, 41]
  %h = Sigmoid(%x) : f32[3, 41]
  %i = Tanh(%x) : f32[3, 41]
  %j = Erf(%x) : f32[3, 41]
  %k = Floor(%c) : f32[3, 41]
  %l = Ceil(%c) : f32[3, 41]
  %m = Sign(%x) : f32[3, 41]
  %n = Sin(%x) : f32[3, 41]
  %o = Cos(%x) : f32[3, 41]
  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k, %l, %m, %n, %o
}
)IR");
}

TEST(ElementwiseKernels, ActivationOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[2, 67]) {
  %a = Gelu(%x) : f32[2, 67]
  %b = Gelu(%x) {approximate = "tanh"} : f32[2, 67]
  %c = LeakyRelu(%x) {alpha = 0.1} : f32[2, 67]
  %d = Elu(%x) {alpha = 0.7} : f32[2, 67]
  %e = Softplus(%x) : f32[2, 67]
  %f = HardSigmoid(%x) {alpha = 0.4, beta = 0.3} : f32[2, 67]
  %s = Mul(%x, %x) : f32[2, 67]
  %g = Round(%s) : f32[2, 67]
  %h = IsNaN(%d) : bool[2, 67]
  %i = IsInf(%x) {detect_negative = 0} : bool[2, 67]
  return %a, %b, %c, %d, %e, %f, %g, %h, %i
}
)IR");
}

TEST(ElementwiseKernels, UnaryHalfOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[5, 13]) {
  %a = Exp(%x) : f16[5, 13]
  %b = Gelu(%x) : f16[5, 13]
  %c = Relu(%x) : f16[5, 13]
  return %a, %b, %c
}
)IR",
                            half());
}

// bf16 keeps 8 bits: one unit in the last place is 2^-8 relative.
TEST(ElementwiseKernels, UnaryBFloatOps) {
  GpuCheck Check;
  Check.AbsTol = 1e-2;
  Check.RelTol = 1e-2;
  expectGpuMatchesReference(R"IR(
graph @main(%x: bf16[5, 13], %y: bf16[13]) {
  %a = Tanh(%x) : bf16[5, 13]
  %b = Add(%x, %y) : bf16[5, 13]
  %c = Sigmoid(%x) : bf16[5, 13]
  return %a, %b, %c
}
)IR",
                            Check);
}

TEST(ElementwiseKernels, BinaryFloatOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[2, 3, 7], %y: f32[3, 1], %z: f32[7]) {
  %a = Add(%x, %y) : f32[2, 3, 7]
  %b = Sub(%y, %x) : f32[2, 3, 7]
  %c = Mul(%x, %z) : f32[2, 3, 7]
  %d = Div(%x, %y) : f32[2, 3, 7]
  %ax = Abs(%x) : f32[2, 3, 7]
  %e = Pow(%ax, %y) : f32[2, 3, 7]
  %f = Max(%x, %y, %z) : f32[2, 3, 7]
  %g = Min(%x, %z) : f32[2, 3, 7]
  %h = Sum(%x, %y, %z) : f32[2, 3, 7]
  %i = Mean(%x, %y, %z) : f32[2, 3, 7]
  %j = Max(%x) : f32[2, 3, 7]
  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j
}
)IR");
}

TEST(ElementwiseKernels, BinaryHalfOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[6, 11], %y: f16[11]) {
  %a = Add(%x, %y) : f16[6, 11]
  %b = Mul(%x, %y) : f16[6, 11]
  %c = Div(%x, %y) : f16[6, 11]
  return %a, %b, %c
}
)IR",
                            half());
}

// Integer arithmetic is exact: wrapping, truncating division, 0 for x / 0.
TEST(ElementwiseKernels, IntegerOps) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: i64[4, 9], %y: i64[9], %u: i32[4, 9], %v: i32[4, 1]) {
  %a = Add(%x, %y) : i64[4, 9]
  %b = Sub(%x, %y) : i64[4, 9]
  %c = Mul(%x, %y) : i64[4, 9]
  %d = Div(%x, %y) : i64[4, 9]
  %e = Mod(%x, %y) : i64[4, 9]
  %f = Mod(%u, %v) {fmod = 1} : i32[4, 9]
  %g = Pow(%u, %v) : i32[4, 9]
  %h = Neg(%u) : i32[4, 9]
  %i = Max(%x, %y) : i64[4, 9]
  %j = Abs(%h) : i32[4, 9]
  %k = Sub(%u, %v) : i32[4, 9]
  %l = Div(%k, %v) : i32[4, 9]
  %m = Sign(%k) : i32[4, 9]
  %n = Relu(%k) : i32[4, 9]
  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %l, %m, %n
}
)IR",
                            ints(7));
}

TEST(ElementwiseKernels, MixedPow) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 5], %n: i64[5], %k: i64[3, 5]) {
  %ax = Abs(%x) : f32[3, 5]
  %a = Pow(%ax, %n) : f32[3, 5]
  %b = Pow(%k, %x) : i64[3, 5]
  return %a, %b
}
)IR",
                            ints(4));
}

TEST(ElementwiseKernels, ComparisonsAndLogic) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[3, 8], %y: f16[8], %i: i64[3, 8], %j: i64[3, 1], %p: bool[3, 8], %q: bool[8]) {
  %a = Equal(%i, %j) : bool[3, 8]
  %b = Less(%x, %y) : bool[3, 8]
  %c = LessOrEqual(%i, %j) : bool[3, 8]
  %d = Greater(%x, %y) : bool[3, 8]
  %e = GreaterOrEqual(%i, %j) : bool[3, 8]
  %f = And(%p, %q) : bool[3, 8]
  %g = Or(%p, %q) : bool[3, 8]
  %h = Xor(%p, %q) : bool[3, 8]
  %k = Not(%p) : bool[3, 8]
  %l = Equal(%p, %q) : bool[3, 8]
  return %a, %b, %c, %d, %e, %f, %g, %h, %k, %l
}
)IR",
                            ints(3));
}

TEST(ElementwiseKernels, Where) {
  expectGpuMatchesReference(R"IR(
graph @main(%c: bool[2, 1, 6], %x: f32[3, 6], %y: f32[], %i: i64[6], %j: i64[2, 3, 1], %h: f16[3, 6]) {
  %a = Where(%c, %x, %y) : f32[2, 3, 6]
  %b = Where(%c, %i, %j) : i64[2, 3, 6]
  %hh = Neg(%h) : f16[3, 6]
  %d = Where(%c, %h, %hh) : f16[2, 3, 6]
  return %a, %b, %d
}
)IR",
                            ints(9));
}

TEST(ElementwiseKernels, Clip) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 7], %i: i64[4, 7]) {
  %lo = const f32[] [-0.5]
  %hi = const f32[] [0.25]
  %ilo = const i64[] [2]
  %a = Clip(%x, %lo, %hi) : f32[4, 7]
  %b = Clip(%x, none, %hi) : f32[4, 7]
  %c = Clip(%x, %lo) : f32[4, 7]
  %d = Clip(%i, %ilo) : i64[4, 7]
  %e = Clip(%x) : f32[4, 7]
  return %a, %b, %c, %d, %e
}
)IR",
                            ints(5));
}

TEST(ElementwiseKernels, Casts) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 10], %i: i64[3, 10], %p: bool[3, 10], %d: f64[3, 10]) {
  %hundred = const f32[] [100.0]
  %big = Mul(%x, %hundred) : f32[3, 10]
  %a = Cast(%x) {to = "f16"} : f16[3, 10]
  %b = Cast(%big) {to = "i32"} : i32[3, 10]
  %c = Cast(%i) {to = "f32"} : f32[3, 10]
  %e = Cast(%p) {to = "f32"} : f32[3, 10]
  %f = Cast(%x) {to = "bool"} : bool[3, 10]
  %g = Cast(%a) {to = "i64"} : i64[3, 10]
  %h = Cast(%i) {to = "i8"} : i8[3, 10]
  %k = Cast(%d) {to = "f32"} : f32[3, 10]
  %l = Cast(%i) {to = "bool"} : bool[3, 10]
  %m = Cast(%x) {to = "bf16"} : bf16[3, 10]
  %n = CastLike(%i, %x) : f32[3, 10]
  return %a, %b, %c, %e, %f, %g, %h, %k, %l, %m, %n
}
)IR",
                            ints(300));
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

TEST(GenericKernels, Transpose) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[2, 3, 5, 7], %y: f16[4, 6], %p: bool[3, 2, 5]) {
  %a = Transpose(%x) {perm = [0, 2, 1, 3]} : f32[2, 5, 3, 7]
  %b = Transpose(%y) : f16[6, 4]
  %c = Transpose(%p) {perm = [2, 0, 1]} : bool[5, 3, 2]
  %d = Transpose(%x) {perm = [3, 1, 2, 0]} : f32[7, 3, 5, 2]
  return %a, %b, %c, %d
}
)IR");
}

TEST(GenericKernels, Slice) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[6, 10, 5], %i: i64[9, 4]) {
  %s0 = const i64[2] [1, -8]
  %e0 = const i64[2] [5, 9223372036854775807]
  %a0 = const i64[2] [0, 1]
  %st0 = const i64[2] [2, 3]
  %a = Slice(%x, %s0, %e0, %a0, %st0) : f32[2, 3, 5]
  %s1 = const i64[1] [-1]
  %e1 = const i64[1] [-9223372036854775807]
  %a1 = const i64[1] [0]
  %st1 = const i64[1] [-2]
  %b = Slice(%i, %s1, %e1, %a1, %st1) : i64[5, 4]
  %s2 = const i64[1] [2]
  %e2 = const i64[1] [4]
  %c = Slice(%x, %s2, %e2) : f32[2, 10, 5]
  return %a, %b, %c
}
)IR",
                            ints(100));
}

TEST(GenericKernels, ExpandAndTile) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 1], %y: f16[2, 3, 4], %i: i64[1, 5]) {
  %shape = const i64[3] [2, 3, 5]
  %a = Expand(%x, %shape) : f32[2, 3, 5]
  %reps = const i64[3] [2, 1, 3]
  %b = Tile(%y, %reps) : f16[4, 3, 12]
  %shape2 = const i64[2] [4, 1]
  %c = Expand(%i, %shape2) : i64[4, 5]
  return %a, %b, %c
}
)IR",
                            ints(50));
}

TEST(GenericKernels, Concat) {
  expectGpuMatchesReference(R"IR(
graph @main(%a: f16[2, 3, 5], %b: f16[2, 1, 5], %c: f16[2, 4, 5], %i: i64[3, 2], %j: i64[3, 7]) {
  %x = Concat(%a, %b, %c) {axis = 1} : f16[2, 8, 5]
  %y = Concat(%i, %j) {axis = -1} : i64[3, 9]
  %z = Concat(%a, %a) {axis = 0} : f16[4, 3, 5]
  return %x, %y, %z
}
)IR",
                            ints(1000));
}

TEST(GenericKernels, Split) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 6, 3], %i: i64[7]) {
  %sizes = const i64[3] [2, 3, 1]
  %a, %b, %c = Split(%x, %sizes) {axis = 1} : f32[4, 2, 3], f32[4, 3, 3], f32[4, 1, 3]
  %d, %e, %f = Split(%i) {num_outputs = 3} : i64[3], i64[3], i64[1]
  %g, %h = Split(%x) {axis = 0, num_outputs = 2} : f32[2, 6, 3], f32[2, 6, 3]
  return %a, %b, %c, %d, %e, %f, %g, %h
}
)IR",
                            ints(1000));
}

TEST(GenericKernels, Pad) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 4], %i: i64[2, 5]) {
  %pads = const i64[4] [1, 2, 2, 0]
  %v = const f32[] [1.5]
  %a = Pad(%x, %pads, %v) : f32[6, 6]
  %b = Pad(%x, %pads) {mode = "reflect"} : f32[6, 6]
  %c = Pad(%x, %pads) {mode = "edge"} : f32[6, 6]
  %crop = const i64[2] [-1, 2]
  %axes = const i64[1] [1]
  %d = Pad(%i, %crop, none, %axes) : i64[2, 6]
  return %a, %b, %c, %d
}
)IR",
                            ints(100));
}

TEST(GenericKernels, Dropout) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 17]) {
  %y, %mask = Dropout(%x) : f32[3, 17], bool[3, 17]
  return %y, %mask
}
)IR");
}

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

// An embedding lookup: rows of a table by token id.
TEST(GenericKernels, GatherRows) {
  expectGpuMatchesReference(R"IR(
graph @main(%table: f32[11, 37], %ids: i64[2, 5]) {
  %y = Gather(%table, %ids) {axis = 0} : f32[2, 5, 37]
  return %y
}
)IR",
                            ints(11));
}

TEST(GenericKernels, GatherAxesAndTypes) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[3, 6, 5], %i: i32[4], %s: i64[], %b: bool[6, 3]) {
  %neg = const i64[3] [-1, 0, -3]
  %a = Gather(%x, %i) {axis = 1} : f16[3, 4, 5]
  %c = Gather(%x, %s) {axis = -1} : f16[3, 6]
  %d = Gather(%x, %neg) {axis = 2} : f16[3, 6, 3]
  %e = Gather(%b, %i) : bool[4, 3]
  return %a, %c, %d, %e
}
)IR",
                            ints(3));
}

TEST(GenericKernels, GatherElements) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 5, 3], %i: i64[4, 2, 3], %j: i32[2, 5, 3]) {
  %a = GatherElements(%x, %i) {axis = 1} : f32[4, 2, 3]
  %b = GatherElements(%x, %j) {axis = 0} : f32[2, 5, 3]
  return %a, %b
}
)IR",
                            ints(4));
}

// fuse-expand-gather's op: DeBERTa's [1, S, S] relative-position index
// read for every batch and head without the expanded copy; an index that
// varies over the first dim, broadcast over the others, on a middle axis;
// dynamo's [S, S] index of lower rank than the result.
TEST(GenericKernels, ExpandGatherElements) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[6, 5, 8], %i: i64[1, 5, 5], %j: i32[6, 1, 1],
            %k: i64[5, 5]) {
  %shape = const i64[3] [6, 5, 5]
  %a = ExpandGatherElements(%x, %i, %shape) {axis = -1} : f32[6, 5, 5]
  %shape2 = const i64[3] [6, 3, 8]
  %b = ExpandGatherElements(%x, %j, %shape2) {axis = 1} : f32[6, 3, 8]
  %c = ExpandGatherElements(%x, %k, %shape) {axis = 2} : f32[6, 5, 5]
  return %a, %b, %c
}
)IR",
                            ints(5));
}

TEST(GenericKernels, GatherND) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 4, 5], %i: i64[2, 6, 2], %j: i64[3, 2, 1]) {
  %a = GatherND(%x, %i) : f32[2, 6, 5]
  %b = GatherND(%x, %j) {batch_dims = 1} : f32[3, 2, 5]
  return %a, %b
}
)IR",
                            ints(3));
}

TEST(GenericKernels, ScatterND) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 5, 3], %u: f32[2, 5, 3], %v: i64[6], %w: i64[3]) {
  %idx = const i64[2, 1] [3, -4]
  %a = ScatterND(%x, %idx, %u) : f32[4, 5, 3]
  %idx2 = const i64[3, 1] [5, 0, 2]
  %b = ScatterND(%v, %idx2, %w) : i64[6]
  return %a, %b
}
)IR",
                            ints(20));
}

TEST(GenericKernels, Trilu) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[2, 5, 7], %k: i64[]) {
  %one = const i64[] [1]
  %a = Trilu(%x) : f32[2, 5, 7]
  %b = Trilu(%x, %one) {upper = 0} : f32[2, 5, 7]
  %c = Trilu(%x, %k) : f32[2, 5, 7]
  return %a, %b, %c
}
)IR");
}

//===----------------------------------------------------------------------===//
// Tensors from shapes and scalars
//===----------------------------------------------------------------------===//

TEST(GenericKernels, ShapeSizeConstantOfShape) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 4, 5]) {
  %s = Shape(%x) : i64[3]
  %t = Shape(%x) {start = -2} : i64[2]
  %n = Size(%x) : i64[]
  %dims = const i64[2] [3, 7]
  %c = ConstantOfShape(%dims) {value = tensor<i64[1] [7]>} : i64[3, 7]
  %d = ConstantOfShape(%dims) : f32[3, 7]
  %e = ConstantOfShape(%dims) {value = tensor<f16[1] [-2.5]>} : f16[3, 7]
  return %s, %t, %n, %c, %d, %e
}
)IR");
}

TEST(GenericKernels, RangeAndEyeLike) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[4, 6]) {
  %s = const i64[] [3]
  %l = const i64[] [-10]
  %d = const i64[] [-3]
  %a = Range(%s, %l, %d) : i64[5]
  %fs = const f32[] [0.5]
  %fl = const f32[] [3.0]
  %fd = const f32[] [0.25]
  %b = Range(%fs, %fl, %fd) : f32[10]
  %e = EyeLike(%x) {k = 1} : f32[4, 6]
  %f = EyeLike(%x) {dtype = "i64", k = -2} : i64[4, 6]
  return %a, %b, %e, %f
}
)IR");
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST(GenericKernels, ReduceKinds) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 5, 7]) {
  %ax1 = const i64[1] [1]
  %ax02 = const i64[2] [0, -1]
  %ex = Exp(%x) : f32[3, 5, 7]
  %a = ReduceSum(%x, %ax1) {keepdims = 0} : f32[3, 7]
  %b = ReduceMean(%x, %ax02) : f32[1, 5, 1]
  %c = ReduceMax(%x, %ax1) : f32[3, 1, 7]
  %d = ReduceMin(%x, %ax02) {keepdims = 0} : f32[5]
  %e = ReduceProd(%x, %ax1) : f32[3, 1, 7]
  %f = ReduceL1(%x, %ax02) : f32[1, 5, 1]
  %g = ReduceL2(%x, %ax1) : f32[3, 1, 7]
  %h = ReduceSumSquare(%x, %ax02) : f32[1, 5, 1]
  %i = ReduceLogSum(%ex, %ax1) : f32[3, 1, 7]
  %j = ReduceLogSumExp(%x, %ax02) {keepdims = 0} : f32[5]
  %k = ReduceSum(%x) : f32[1, 1, 1]
  return %a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k
}
)IR");
}

// Long reductions take the block-per-output kernel.
TEST(GenericKernels, ReduceLong) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[4, 3, 385], %y: f32[1000, 3]) {
  %last = const i64[1] [-1]
  %first = const i64[1] [0]
  %a = ReduceMean(%x, %last) : f16[4, 3, 1]
  %b = ReduceSum(%y, %first) {keepdims = 0} : f32[3]
  %c = ReduceLogSumExp(%y, %first) : f32[1, 3]
  %d = ReduceMax(%x, %last) {keepdims = 0} : f16[4, 3]
  return %a, %b, %c, %d
}
)IR",
                            half());
}

TEST(GenericKernels, ReduceIntegers) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: i64[4, 6], %y: i32[3, 100], %p: bool[5, 3]) {
  %ax = const i64[1] [1]
  %none = const i64[0] []
  %a = ReduceSum(%x, %ax) : i64[4, 1]
  %b = ReduceMean(%y, %ax) {keepdims = 0} : i32[3]
  %c = ReduceMin(%y, %ax) {keepdims = 0} : i32[3]
  %d = ReduceProd(%x, %ax) : i64[4, 1]
  %e = ReduceMax(%p, %ax) : bool[5, 1]
  %f = ReduceSum(%x, %none) {noop_with_empty_axes = 1} : i64[4, 6]
  return %a, %b, %c, %d, %e, %f
}
)IR",
                            ints(9));
}

TEST(GenericKernels, ArgMaxArgMin) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 7, 5], %i: i64[4, 9]) {
  %a = ArgMax(%x) {axis = 1} : i64[3, 1, 5]
  %b = ArgMin(%x) {axis = -1, keepdims = 0} : i64[3, 7]
  %c = ArgMax(%i) {axis = 1, select_last_index = 1} : i64[4, 1]
  %d = ArgMin(%i) {axis = 0, keepdims = 0} : i64[9]
  return %a, %b, %c, %d
}
)IR",
                            ints(3));
}

TEST(GenericKernels, CumSum) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 9, 4], %i: i64[5, 6]) {
  %one = const i64[] [1]
  %last = const i32[1] [-1]
  %a = CumSum(%x, %one) : f32[3, 9, 4]
  %b = CumSum(%x, %one) {exclusive = 1, reverse = 1} : f32[3, 9, 4]
  %c = CumSum(%i, %last) {exclusive = 1} : i64[5, 6]
  return %a, %b, %c
}
)IR",
                            ints(100));
}

TEST(GenericKernels, Softmax) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[2, 3, 129], %y: f32[3, 7, 5]) {
  %a = Softmax(%x) : f32[2, 3, 129]
  %b = LogSoftmax(%x) {axis = -1} : f32[2, 3, 129]
  %c = Softmax(%y) {axis = 1} : f32[3, 7, 5]
  %d = LogSoftmax(%y) {axis = 0} : f32[3, 7, 5]
  return %a, %b, %c, %d
}
)IR");
}

TEST(GenericKernels, SoftmaxHalf) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f16[4, 12, 33], %d: f64[3, 300]) {
  %a = Softmax(%x) : f16[4, 12, 33]
  %b = Softmax(%x) {axis = 1} : f16[4, 12, 33]
  %c = LogSoftmax(%d) : f64[3, 300]
  return %a, %b, %c
}
)IR",
                            half());
}

//===----------------------------------------------------------------------===//
// NonZero, once its count is known
//===----------------------------------------------------------------------===//

// Random floats are never exactly zero, so every element is listed: the
// coordinates of a 3-D tensor in row-major order. DataDependentTest covers
// sparse inputs, whose count is read back per request.
TEST(GenericKernels, NonZeroWithACount) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[3, 4, 5]) {
  %y = NonZero(%x) {count = 60} : i64[3, 60]
  return %y
}
)IR");
}

// More elements than the kernel's block: the running count crosses chunks.
TEST(GenericKernels, NonZeroOverSeveralChunks) {
  expectGpuMatchesReference(R"IR(
graph @main(%x: f32[37, 41]) {
  %y = NonZero(%x) {count = 1517} : i64[2, 1517]
  return %y
}
)IR");
}

} // namespace
} // namespace kiln
