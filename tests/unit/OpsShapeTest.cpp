// Shape and indexing ops (ShapeOps.cpp, TensorOps.cpp): symbolic inference
// with shape values, and reference results checked by hand and through
// runReference, which also checks every result against the inferred type.
#include "ir/OpRegistry.h"
#include "ir/ShapeInference.h"
#include "ir/ops/OpUtils.h"
#include "runtime/ReferenceExecutor.h"

#include <gtest/gtest.h>

#include <climits>
#include <random>

using namespace kiln;

namespace {

/// "batch, seq, 384" -> dims (`?` is unknown).
Shape dims(llvm::StringRef Text) {
  Shape Out;
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  Text.split(Parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef P : Parts) {
    P = P.trim();
    int64_t V;
    if (P == "?")
      Out.push_back(Dim::unknown());
    else if (!P.getAsInteger(10, V))
      Out.push_back(Dim(V));
    else
      Out.push_back(Dim::symbol(P.str()));
  }
  return Out;
}

TensorType ty(DType T, llvm::StringRef Text) {
  return TensorType(T, dims(Text));
}

std::string dimsStr(const std::vector<Dim> &Ds) {
  std::string S = "[";
  for (size_t I = 0; I < Ds.size(); ++I)
    S += (I ? ", " : "") + Ds[I].str();
  return S + "]";
}

Tensor ints(std::vector<int64_t> Sizes, std::vector<int64_t> Values,
            DType T = DType::I64) {
  return Tensor::fromInts(T, std::move(Sizes), Values);
}
Tensor i64s(std::vector<int64_t> Values) {
  int64_t N = int64_t(Values.size());
  return ints({N}, std::move(Values));
}
Tensor floats(std::vector<int64_t> Sizes, std::vector<double> Values,
              DType T = DType::F32) {
  return Tensor::fromDoubles(T, std::move(Sizes), Values);
}

/// Random non-zero-heavy data: floats in [-4, 4], integers in [-50, 50].
Tensor random(DType T, std::vector<int64_t> Sizes, unsigned Seed = 1) {
  std::mt19937 Rng(Seed);
  Tensor Out(T, std::move(Sizes));
  std::uniform_real_distribution<double> Real(-4, 4);
  std::uniform_int_distribution<int64_t> Int(-50, 50);
  for (int64_t I = 0; I < Out.numElements(); ++I) {
    if (isFloat(T))
      Out.setDouble(I, Real(Rng));
    else
      Out.setInt(I, T == DType::Bool ? Int(Rng) > 0 : Int(Rng));
  }
  return Out;
}

/// A graph built node by node; each result gets its inferred type at once.
class Builder {
public:
  Graph G;
  ShapeValueMap ShapeValues;

  Value *input(llvm::StringRef Name, TensorType T) {
    return G.addInput(Name, std::move(T));
  }
  Value *constant(Tensor T) {
    Value *V = G.addConstant(G.uniqueName("c"), std::move(T));
    collectConstantShapeValues(G, ShapeValues);
    return V;
  }

  llvm::Expected<std::vector<Value *>> tryOp(llvm::StringRef Op,
                                             llvm::ArrayRef<Value *> Operands,
                                             AttrMap Attrs = {},
                                             unsigned NumResults = 1) {
    std::vector<TensorType> Placeholders(NumResults);
    Node *N = G.createNode(Op, Operands, Placeholders, std::move(Attrs));
    auto Types = inferNodeTypes(*N, ShapeValues);
    if (!Types) {
      G.eraseNode(N);
      return Types.takeError();
    }
    for (unsigned I = 0; I < NumResults; ++I)
      N->result(I)->setType((*Types)[I]);
    return N->results();
  }

  std::vector<Value *> ops(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                           AttrMap Attrs, unsigned NumResults) {
    auto R = tryOp(Op, Operands, std::move(Attrs), NumResults);
    if (!R) {
      ADD_FAILURE() << llvm::toString(R.takeError());
      return {};
    }
    return *R;
  }
  Value *op(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
            AttrMap Attrs = {}) {
    std::vector<Value *> R = ops(Op, Operands, std::move(Attrs), 1);
    return R.empty() ? nullptr : R[0];
  }

  /// The inference error of one more node.
  std::string error(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                    AttrMap Attrs = {}, unsigned NumResults = 1) {
    auto R = tryOp(Op, Operands, std::move(Attrs), NumResults);
    if (R)
      return "(no error)";
    return llvm::toString(R.takeError());
  }

  std::string shapeValue(const Value *V) const {
    auto It = ShapeValues.find(V);
    return It == ShapeValues.end() ? "(none)" : dimsStr(It->second);
  }

  /// Runs the graph with `Outputs` as its results.
  std::vector<Tensor> run(std::vector<Value *> Outputs,
                          llvm::ArrayRef<Tensor> Inputs) {
    G.setOutputs(std::move(Outputs));
    auto R = runReference(G, Inputs);
    if (!R) {
      ADD_FAILURE() << llvm::toString(R.takeError());
      return {};
    }
    return *R;
  }
};

std::string typeOf(const Value *V) { return V ? V->type().str() : "(null)"; }

std::string verifyError(const Value *Result) {
  const Node *N = Result->definingNode();
  if (llvm::Error E = N->def()->Verify(*N))
    return llvm::toString(std::move(E));
  return "(no error)";
}

void expectTensor(const Tensor &T, std::vector<int64_t> Sizes,
                  std::vector<double> Values) {
  ASSERT_FALSE(T.isNull());
  EXPECT_EQ(T.sizes(), llvm::ArrayRef(Sizes));
  ASSERT_EQ(T.numElements(), int64_t(Values.size()));
  for (int64_t I = 0; I < T.numElements(); ++I)
    EXPECT_EQ(T.getDouble(I), Values[I]) << "element " << I;
}

/// Element [I...] of a row-major tensor.
double at(const Tensor &T, std::initializer_list<int64_t> Index) {
  std::vector<int64_t> Strides = stridesOf(T.sizes());
  int64_t Flat = 0, D = 0;
  for (int64_t I : Index)
    Flat += I * Strides[D++];
  return T.getDouble(Flat);
}

AttrMap
attrs(std::initializer_list<std::pair<const std::string, Attribute>> L) {
  return AttrMap(L);
}

constexpr int64_t Max64 = INT64_MAX, Min64 = INT64_MIN;

/// An absent optional operand.
Value *none() { return nullptr; }

//===----------------------------------------------------------------------===//
// The BERT reshape chain
//===----------------------------------------------------------------------===//

// Shape(x) -> Gather -> Unsqueeze -> Concat -> Reshape, as BERT exporters
// write the split into heads and the merge back.
TEST(OpsShape, BertReshapeChainInfersHeadsAndBack) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq, 384"));
  Value *Shape = B.op("Shape", {X});
  EXPECT_EQ(typeOf(Shape), "i64[3]");
  EXPECT_EQ(B.shapeValue(Shape), "[batch, seq, 384]");
  Value *Batch =
      B.op("Gather", {Shape, B.constant(Tensor::scalarInt(DType::I64, 0))},
           attrs({{"axis", 0}}));
  Value *Seq =
      B.op("Gather", {Shape, B.constant(Tensor::scalarInt(DType::I64, 1))});
  EXPECT_EQ(typeOf(Batch), "i64[]");
  EXPECT_EQ(B.shapeValue(Seq), "[seq]");
  Value *Axes0 = B.constant(i64s({0}));
  Value *B1 = B.op("Unsqueeze", {Batch, Axes0});
  Value *S1 = B.op("Unsqueeze", {Seq, Axes0});
  EXPECT_EQ(typeOf(B1), "i64[1]");
  EXPECT_EQ(B.shapeValue(B1), "[batch]");

  Value *HeadsShape = B.op("Concat", {B1, S1, B.constant(i64s({12, -1}))},
                           attrs({{"axis", 0}}));
  EXPECT_EQ(typeOf(HeadsShape), "i64[4]");
  Value *Heads = B.op("Reshape", {X, HeadsShape});
  EXPECT_EQ(typeOf(Heads), "f32[batch, seq, 12, 32]");

  Value *Perm = B.op("Transpose", {Heads},
                     attrs({{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
  EXPECT_EQ(typeOf(Perm), "f32[batch, 12, seq, 32]");
  Value *Back = B.op("Transpose", {Perm},
                     attrs({{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));

  Value *MergeShape =
      B.op("Concat", {B1, S1, B.constant(i64s({-1}))}, attrs({{"axis", 0}}));
  Value *Merged = B.op("Reshape", {Back, MergeShape});
  EXPECT_EQ(typeOf(Merged), "f32[batch, seq, 384]");

  // The same with the static sizes spelled out and the constants coming
  // from Constant nodes, as some exporters emit them.
  Value *Fixed = B.op("Constant", {},
                      attrs({{"value_ints", std::vector<int64_t>{12, 32}}}));
  Value *FixedShape = B.op("Concat", {B1, S1, Fixed}, attrs({{"axis", 0}}));
  EXPECT_EQ(B.shapeValue(FixedShape), "[batch, seq, 12, 32]");
  EXPECT_EQ(typeOf(B.op("Reshape", {X, FixedShape})),
            "f32[batch, seq, 12, 32]");

  Tensor In = random(DType::F32, {2, 3, 384});
  std::vector<Tensor> Out = B.run({Heads, Perm, Merged}, {In});
  ASSERT_EQ(Out.size(), 3u);
  EXPECT_EQ(Out[0].sizes(), llvm::ArrayRef<int64_t>({2, 3, 12, 32}));
  EXPECT_EQ(Out[1].sizes(), llvm::ArrayRef<int64_t>({2, 12, 3, 32}));
  EXPECT_EQ(at(Out[1], {1, 5, 2, 7}), at(In, {1, 2, 5 * 32 + 7}));
  EXPECT_TRUE(Out[2].identical(In));
}

//===----------------------------------------------------------------------===//
// Shape, Size, Reshape, Flatten
//===----------------------------------------------------------------------===//

TEST(OpsShape, ShapeWindowAndSize) {
  Builder B;
  Value *X = B.input("x", ty(DType::F16, "batch, seq, 384"));
  Value *Tail = B.op("Shape", {X}, attrs({{"start", 1}}));
  Value *Mid = B.op("Shape", {X}, attrs({{"start", -2}, {"end", -1}}));
  Value *Clipped = B.op("Shape", {X}, attrs({{"start", -10}, {"end", 10}}));
  Value *Empty = B.op("Shape", {X}, attrs({{"start", 2}, {"end", 1}}));
  Value *Size = B.op("Size", {X});
  EXPECT_EQ(typeOf(Tail), "i64[2]");
  EXPECT_EQ(B.shapeValue(Tail), "[seq, 384]");
  EXPECT_EQ(B.shapeValue(Mid), "[seq]");
  EXPECT_EQ(B.shapeValue(Clipped), "[batch, seq, 384]");
  EXPECT_EQ(typeOf(Empty), "i64[0]");
  EXPECT_EQ(typeOf(Size), "i64[]");
  EXPECT_EQ(B.shapeValue(Size), "[\"384*batch*seq\"]");

  Builder S;
  Value *Y = S.input("y", ty(DType::F32, "seq, 1"));
  EXPECT_EQ(S.shapeValue(S.op("Size", {Y})), "[seq]");

  auto Out = B.run({Tail, Mid, Clipped, Empty, Size},
                   {random(DType::F16, {2, 5, 384})});
  ASSERT_EQ(Out.size(), 5u);
  expectTensor(Out[0], {2}, {5, 384});
  expectTensor(Out[1], {1}, {5});
  expectTensor(Out[2], {3}, {2, 5, 384});
  expectTensor(Out[3], {0}, {});
  expectTensor(Out[4], {}, {2 * 5 * 384});
}

TEST(OpsShape, ReshapeZeroCopiesAndMinusOneSolves) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq, 384"));
  EXPECT_EQ(typeOf(B.op("Reshape", {X, B.constant(i64s({0, 0, 12, 32}))})),
            "f32[batch, seq, 12, 32]");
  EXPECT_EQ(typeOf(B.op("Reshape", {X, B.constant(i64s({0, -1}))})),
            "f32[batch, ?]");
  EXPECT_EQ(typeOf(B.op("Reshape", {X, B.constant(i64s({-1, 384}))})),
            "f32[?, 384]");
  EXPECT_EQ(typeOf(B.op("Reshape", {X, B.constant(i64s({0, -1, 2}))})),
            "f32[batch, ?, 2]");
  // An unknown target: only the rank is known.
  Value *Target = B.input("t", ty(DType::I64, "2"));
  EXPECT_EQ(typeOf(B.op("Reshape", {X, Target})), "f32[?, ?]");

  Value *S = B.input("s", ty(DType::F32, "2, 3, 4"));
  EXPECT_EQ(typeOf(B.op("Reshape", {S, B.constant(i64s({4, -1}))})),
            "f32[4, 6]");
  EXPECT_EQ(typeOf(B.op("Reshape", {S, B.constant(i64s({0, 0, 0}))})),
            "f32[2, 3, 4]");
  Value *Z = B.input("z", ty(DType::F32, "0, 3"));
  EXPECT_EQ(typeOf(B.op("Reshape", {Z, B.constant(i64s({3, 0}))},
                        attrs({{"allowzero", 1}}))),
            "f32[3, 0]");
  EXPECT_EQ(typeOf(B.op("Reshape", {S, B.constant(i64s({0, 12}))})),
            "f32[2, 12]");

  EXPECT_NE(B.error("Reshape", {S, B.constant(i64s({-1, -1}))})
                .find("more than one -1"),
            std::string::npos);
  EXPECT_NE(
      B.error("Reshape", {S, B.constant(i64s({5, -1}))}).find("cannot reshape"),
      std::string::npos);
  EXPECT_NE(
      B.error("Reshape", {S, B.constant(i64s({5, 5}))}).find("cannot reshape"),
      std::string::npos);
}

TEST(OpsShape, ReshapeEvalCopiesAndInfers) {
  Builder B;
  Value *X = B.input("x", ty(DType::I32, "2, 3, 4"));
  Value *A = B.op("Reshape", {X, B.constant(i64s({0, -1}))});
  Value *C = B.op("Reshape", {X, B.constant(i64s({4, 0, 2}))});
  Tensor In = random(DType::I32, {2, 3, 4});
  auto Out = B.run({A, C}, {In});
  ASSERT_EQ(Out.size(), 2u);
  EXPECT_TRUE(Out[0].identical(In.reshaped({2, 12})));
  EXPECT_TRUE(Out[1].identical(In.reshaped({4, 3, 2})));
}

TEST(OpsShape, FlattenSplitsAtAxis) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, 3, 4"));
  EXPECT_EQ(typeOf(B.op("Flatten", {X})), "f32[batch, 12]");
  EXPECT_EQ(typeOf(B.op("Flatten", {X}, attrs({{"axis", 0}}))), "f32[1, ?]");
  EXPECT_EQ(typeOf(B.op("Flatten", {X}, attrs({{"axis", 3}}))), "f32[?, 1]");
  Value *Neg = B.op("Flatten", {X}, attrs({{"axis", -1}}));
  EXPECT_EQ(typeOf(Neg), "f32[?, 4]");
  EXPECT_NE(B.error("Flatten", {X}, attrs({{"axis", 4}})).find("out of range"),
            std::string::npos);
  Tensor In = random(DType::F32, {2, 3, 4});
  auto Out = B.run({Neg}, {In});
  ASSERT_EQ(Out.size(), 1u);
  EXPECT_TRUE(Out[0].identical(In.reshaped({6, 4})));
}

//===----------------------------------------------------------------------===//
// Squeeze, Unsqueeze, Transpose
//===----------------------------------------------------------------------===//

TEST(OpsShape, SqueezeAndUnsqueezeWithNegativeAxes) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, 1, seq, 1"));
  Value *Sq = B.op("Squeeze", {X, B.constant(i64s({-1, 1}))});
  EXPECT_EQ(typeOf(Sq), "f32[batch, seq]");
  Value *Unsq = B.op("Unsqueeze", {Sq, B.constant(i64s({-1, 0}))});
  EXPECT_EQ(typeOf(Unsq), "f32[1, batch, seq, 1]");
  Value *Mid = B.op("Unsqueeze", {Sq, B.constant(i64s({1, 3}))});
  EXPECT_EQ(typeOf(Mid), "f32[batch, 1, seq, 1]");
  // Without axes a symbol might be 1: the rank is not known.
  Value *Open = B.op("Squeeze", {X});
  EXPECT_EQ(typeOf(Open), "f32[]");
  B.G.eraseNode(Open->definingNode());
  Value *S = B.input("s", ty(DType::F32, "1, 3, 1"));
  Value *All = B.op("Squeeze", {S});
  EXPECT_EQ(typeOf(All), "f32[3]");

  EXPECT_NE(B.error("Squeeze", {S, B.constant(i64s({1}))})
                .find("cannot squeeze axis 1"),
            std::string::npos);
  EXPECT_NE(B.error("Unsqueeze", {S, B.constant(i64s({0, 0}))}).find("repeats"),
            std::string::npos);
  EXPECT_NE(
      B.error("Unsqueeze", {S, B.constant(i64s({5}))}).find("out of range"),
      std::string::npos);

  Tensor XIn = random(DType::F32, {2, 1, 3, 1}),
         SIn = random(DType::F32, {1, 3, 1});
  auto Out = B.run({Sq, Unsq, Mid, All}, {XIn, SIn});
  ASSERT_EQ(Out.size(), 4u);
  EXPECT_TRUE(Out[0].identical(XIn.reshaped({2, 3})));
  EXPECT_TRUE(Out[1].identical(XIn.reshaped({1, 2, 3, 1})));
  EXPECT_TRUE(Out[2].identical(XIn));
  EXPECT_TRUE(Out[3].identical(SIn.reshaped({3})));
}

TEST(OpsShape, SqueezeUnsqueezeMoveShapeValuesBetweenRanks) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq"));
  Value *Dim1 = B.op("Slice", {B.op("Shape", {X}), B.constant(i64s({1})),
                               B.constant(i64s({2}))});
  EXPECT_EQ(B.shapeValue(Dim1), "[seq]");
  Value *Scalar = B.op("Squeeze", {Dim1, B.constant(i64s({0}))});
  EXPECT_EQ(typeOf(Scalar), "i64[]");
  EXPECT_EQ(B.shapeValue(Scalar), "[seq]");
  Value *Back = B.op("Unsqueeze", {Scalar, B.constant(i64s({0}))});
  EXPECT_EQ(B.shapeValue(Back), "[seq]");
  EXPECT_EQ(B.shapeValue(B.op("Identity", {Back})), "[seq]");
  EXPECT_EQ(B.shapeValue(B.op("Reshape", {Scalar, B.constant(i64s({1}))})),
            "[seq]");
}

TEST(OpsShape, TransposeDefaultReversesAndPermMoves) {
  Builder B;
  Value *X = B.input("x", ty(DType::F16, "batch, 3, 4"));
  Value *Rev = B.op("Transpose", {X});
  EXPECT_EQ(typeOf(Rev), "f16[4, 3, batch]");
  Value *P =
      B.op("Transpose", {X}, attrs({{"perm", std::vector<int64_t>{1, 0, 2}}}));
  EXPECT_EQ(typeOf(P), "f16[3, batch, 4]");
  EXPECT_NE(B.error("Transpose", {X},
                    attrs({{"perm", std::vector<int64_t>{0, 0, 1}}}))
                .find("repeats"),
            std::string::npos);
  EXPECT_NE(
      B.error("Transpose", {X}, attrs({{"perm", std::vector<int64_t>{0, 1}}}))
          .find("one entry per dim"),
      std::string::npos);

  Tensor In = random(DType::F16, {2, 3, 4});
  auto Out = B.run({Rev, P}, {In});
  ASSERT_EQ(Out.size(), 2u);
  for (int64_t I = 0; I < 2; ++I)
    for (int64_t J = 0; J < 3; ++J)
      for (int64_t K = 0; K < 4; ++K) {
        EXPECT_EQ(at(Out[0], {K, J, I}), at(In, {I, J, K}));
        EXPECT_EQ(at(Out[1], {J, I, K}), at(In, {I, J, K}));
      }

  // Byte moves work for one-byte dtypes too.
  Builder C;
  Value *Bools = C.input("b", ty(DType::Bool, "2, 3"));
  Tensor BIn = Tensor::fromInts(DType::Bool, {2, 3}, {1, 0, 0, 1, 1, 0});
  auto BOut = C.run({C.op("Transpose", {Bools})}, {BIn});
  ASSERT_EQ(BOut.size(), 1u);
  expectTensor(BOut[0], {3, 2}, {1, 1, 0, 1, 0, 0});
}

//===----------------------------------------------------------------------===//
// Concat, Split
//===----------------------------------------------------------------------===//

TEST(OpsShape, ConcatAddsDimsAlongAxis) {
  Builder B;
  Value *A = B.input("a", ty(DType::F32, "batch, 2"));
  Value *C = B.input("c", ty(DType::F32, "batch, 3"));
  Value *D = B.input("d", ty(DType::F32, "seq, 3"));
  Value *AC = B.op("Concat", {A, C}, attrs({{"axis", -1}}));
  EXPECT_EQ(typeOf(AC), "f32[batch, 5]");
  EXPECT_EQ(typeOf(B.op("Concat", {C, D}, attrs({{"axis", 0}}))), "f32[?, 3]");
  EXPECT_NE(B.error("Concat", {A, C}, attrs({{"axis", 0}})).find("differ"),
            std::string::npos);
  EXPECT_NE(B.error("Concat", {A, C}, attrs({{"axis", 2}})).find("axis"),
            std::string::npos);

  Tensor AIn = floats({1, 2}, {1, 2}), CIn = floats({1, 3}, {3, 4, 5});
  auto Out = B.run({AC}, {AIn, CIn, random(DType::F32, {4, 3})});
  ASSERT_EQ(Out.size(), 1u);
  expectTensor(Out[0], {1, 5}, {1, 2, 3, 4, 5});

  Builder E;
  Value *P = E.input("p", ty(DType::I8, "2, 2"));
  Value *Q = E.input("q", ty(DType::I8, "1, 2"));
  auto Rows = E.run(
      {E.op("Concat", {P, Q}, attrs({{"axis", -2}}))},
      {ints({2, 2}, {1, 2, 3, 4}, DType::I8), ints({1, 2}, {5, 6}, DType::I8)});
  ASSERT_EQ(Rows.size(), 1u);
  expectTensor(Rows[0], {3, 2}, {1, 2, 3, 4, 5, 6});
}

TEST(OpsShape, SplitByNumOutputsAndBySizes) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, 5"));
  auto Even = B.ops("Split", {X}, attrs({{"axis", -1}, {"num_outputs", 3}}), 3);
  ASSERT_EQ(Even.size(), 3u);
  EXPECT_EQ(typeOf(Even[0]), "f32[batch, 2]");
  EXPECT_EQ(typeOf(Even[2]), "f32[batch, 1]");
  auto Sized =
      B.ops("Split", {X, B.constant(i64s({1, 4}))}, attrs({{"axis", 1}}), 2);
  ASSERT_EQ(Sized.size(), 2u);
  EXPECT_EQ(typeOf(Sized[1]), "f32[batch, 4]");
  auto Rows = B.ops("Split", {X}, attrs({{"axis", 0}}), 2);
  ASSERT_EQ(Rows.size(), 2u);
  EXPECT_EQ(typeOf(Rows[0]), "f32[?, 5]");
  EXPECT_NE(
      B.error("Split", {X, B.constant(i64s({1, 3}))}, attrs({{"axis", 1}}), 2)
          .find("does not add up"),
      std::string::npos);
  EXPECT_NE(B.error("Split", {X}, attrs({{"axis", 1}, {"num_outputs", 4}}), 4)
                .find("cannot split"),
            std::string::npos);
  EXPECT_EQ(verifyError(Even[0]), "(no error)");
  Even[0]->definingNode()->setAttr("num_outputs", 2);
  EXPECT_NE(verifyError(Even[0]).find("num_outputs = 2"), std::string::npos);
  Even[0]->definingNode()->setAttr("num_outputs", 3);

  Tensor In = floats({2, 5}, {0, 1, 2, 3, 4, 10, 11, 12, 13, 14});
  auto Out = B.run(
      {Even[0], Even[1], Even[2], Sized[0], Sized[1], Rows[0], Rows[1]}, {In});
  ASSERT_EQ(Out.size(), 7u);
  expectTensor(Out[0], {2, 2}, {0, 1, 10, 11});
  expectTensor(Out[1], {2, 2}, {2, 3, 12, 13});
  expectTensor(Out[2], {2, 1}, {4, 14});
  expectTensor(Out[3], {2, 1}, {0, 10});
  expectTensor(Out[4], {2, 4}, {1, 2, 3, 4, 11, 12, 13, 14});
  expectTensor(Out[5], {1, 5}, {0, 1, 2, 3, 4});
  expectTensor(Out[6], {1, 5}, {10, 11, 12, 13, 14});
}

TEST(OpsShape, SplitOfShapeValue) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq, 384"));
  auto Parts =
      B.ops("Split", {B.op("Shape", {X}), B.constant(i64s({2, 1}))}, {}, 2);
  ASSERT_EQ(Parts.size(), 2u);
  EXPECT_EQ(B.shapeValue(Parts[0]), "[batch, seq]");
  EXPECT_EQ(B.shapeValue(Parts[1]), "[384]");
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

TEST(OpsShape, SliceSymbolicDimsKeepWholeSlices) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq, 8"));
  auto Slice = [&](std::vector<int64_t> Starts, std::vector<int64_t> Ends,
                   std::vector<int64_t> Axes, std::vector<int64_t> Steps) {
    return B.op("Slice", {X, B.constant(i64s(Starts)), B.constant(i64s(Ends)),
                          B.constant(i64s(Axes)), B.constant(i64s(Steps))});
  };
  EXPECT_EQ(typeOf(Slice({0, 0}, {Max64, 4}, {1, 2}, {1, 1})),
            "f32[batch, seq, 4]");
  EXPECT_EQ(typeOf(Slice({-1, 7}, {Min64, 0}, {1, -1}, {-1, -2})),
            "f32[batch, seq, 4]");
  EXPECT_EQ(typeOf(Slice({0}, {2}, {1}, {1})), "f32[batch, ?, 8]");
  EXPECT_EQ(typeOf(Slice({0}, {Max64}, {0}, {2})), "f32[?, seq, 8]");
  EXPECT_EQ(typeOf(Slice({-3}, {100}, {-1}, {1})), "f32[batch, seq, 3]");
  EXPECT_EQ(typeOf(Slice({100}, {-100}, {2}, {-3})), "f32[batch, seq, 3]");
  // Unknown parameters leave the sliced dims unknown.
  Value *Starts = B.input("starts", ty(DType::I64, "1"));
  EXPECT_EQ(typeOf(B.op("Slice", {X, Starts, B.constant(i64s({4})),
                                  B.constant(i64s({2}))})),
            "f32[batch, seq, ?]");
  EXPECT_NE(B.error("Slice", {X, B.constant(i64s({0})), B.constant(i64s({1})),
                              B.constant(i64s({0})), B.constant(i64s({0}))})
                .find("contain 0"),
            std::string::npos);
}

// BERT's position ids: a [1, 512] buffer sliced to [:, :seq] and expanded.
TEST(OpsShape, SliceToSymbolicEnd) {
  Builder B;
  Value *Ids = B.input("ids", ty(DType::I64, "batch, seq"));
  Value *Seq = B.op("Slice", {B.op("Shape", {Ids}), B.constant(i64s({1})),
                              B.constant(i64s({2}))});
  Value *Buffer = B.constant(
      Tensor::fromInts(DType::I64, {1, 8}, {0, 1, 2, 3, 4, 5, 6, 7}));
  Value *Pos = B.op(
      "Slice", {Buffer, B.constant(i64s({0})), Seq, B.constant(i64s({1}))});
  EXPECT_EQ(typeOf(Pos), "i64[1, seq]");
  Value *Tail = B.op(
      "Slice", {Buffer, B.constant(i64s({1})), Seq, B.constant(i64s({1}))});
  EXPECT_EQ(typeOf(Tail), "i64[1, ?]");
  Value *Expanded = B.op("Expand", {Pos, B.op("Shape", {Ids})});
  EXPECT_EQ(typeOf(Expanded), "i64[batch, seq]");
  auto Out = B.run({Expanded}, {random(DType::I64, {2, 3})});
  ASSERT_EQ(Out.size(), 1u);
  expectTensor(Out[0], {2, 3}, {0, 1, 2, 0, 1, 2});
}

TEST(OpsShape, SliceEvalWithNegativeStepsAndClamping) {
  Builder B;
  Value *X = B.input("x", ty(DType::I64, "3, 4"));
  Value *Rev = B.op(
      "Slice", {X, B.constant(i64s({-1, Max64})), B.constant(i64s({Min64, 0})),
                B.constant(i64s({0, -1})), B.constant(i64s({-1, -2}))});
  EXPECT_EQ(typeOf(Rev), "i64[3, 2]");
  Value *Def = B.op(
      "Slice", {X, B.constant(i64s({1, -100})), B.constant(i64s({1000, 3}))});
  EXPECT_EQ(typeOf(Def), "i64[2, 3]");
  Value *Empty = B.op("Slice", {X, B.constant(i64s({3})), B.constant(i64s({1})),
                                B.constant(i64s({-1}))});
  EXPECT_EQ(typeOf(Empty), "i64[3, 0]");
  Tensor In = ints({3, 4}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  auto Out = B.run({Rev, Def, Empty}, {In});
  ASSERT_EQ(Out.size(), 3u);
  expectTensor(Out[0], {3, 2}, {23, 21, 13, 11, 3, 1});
  expectTensor(Out[1], {2, 3}, {10, 11, 12, 20, 21, 22});
  expectTensor(Out[2], {3, 0}, {});
}

TEST(OpsShape, SliceOfShapeValue) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, seq, 12, 32"));
  Value *S = B.op("Shape", {X});
  Value *Lead =
      B.op("Slice", {S, B.constant(i64s({0})), B.constant(i64s({-2}))});
  EXPECT_EQ(B.shapeValue(Lead), "[batch, seq]");
  Value *Rev =
      B.op("Slice", {S, B.constant(i64s({-1})), B.constant(i64s({Min64})),
                     B.constant(i64s({0})), B.constant(i64s({-2}))});
  EXPECT_EQ(B.shapeValue(Rev), "[32, seq]");
  Value *Merged =
      B.op("Concat", {Lead, B.constant(i64s({384}))}, attrs({{"axis", 0}}));
  EXPECT_EQ(typeOf(B.op("Reshape", {X, Merged})), "f32[batch, seq, 384]");
}

//===----------------------------------------------------------------------===//
// Expand, Tile, Range, ConstantOfShape, Constant, Identity
//===----------------------------------------------------------------------===//

TEST(OpsShape, ExpandBroadcastsToShapeValue) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, 1, seq"));
  Value *Mask = B.input("m", ty(DType::F32, "1, 1, seq"));
  Value *Target = B.op("Shape", {X});
  Value *E = B.op("Expand", {Mask, Target});
  EXPECT_EQ(typeOf(E), "f32[batch, 1, seq]");
  Value *Wide = B.op("Expand", {Mask, B.constant(i64s({2, 1, 4, 1}))});
  EXPECT_EQ(typeOf(Wide), "f32[2, 1, 4, seq]");
  Value *Unknown = B.input("shape", ty(DType::I64, "3"));
  EXPECT_EQ(typeOf(B.op("Expand", {X, Unknown})), "f32[?, ?, ?]");
  Value *Bad = B.input("bad", ty(DType::F32, "3"));
  EXPECT_NE(
      B.error("Expand", {Bad, B.constant(i64s({4}))}).find("cannot expand"),
      std::string::npos);

  // Expand of a scalar shape value: [seq] -> [seq, seq].
  Value *Seq =
      B.op("Gather", {Target, B.constant(Tensor::scalarInt(DType::I64, 2))});
  Value *Twice = B.op("Expand", {Seq, B.constant(i64s({2}))});
  EXPECT_EQ(typeOf(Twice), "i64[2]");
  EXPECT_EQ(B.shapeValue(Twice), "[seq, seq]");

  Tensor MIn = floats({1, 1, 2}, {5, 6});
  auto Out =
      B.run({E, Wide, Twice}, {random(DType::F32, {3, 1, 2}), MIn,
                               ints({3}, {3, 1, 2}), random(DType::F32, {3})});
  ASSERT_EQ(Out.size(), 3u);
  expectTensor(Out[0], {3, 1, 2}, {5, 6, 5, 6, 5, 6});
  EXPECT_EQ(Out[1].sizes(), llvm::ArrayRef<int64_t>({2, 1, 4, 2}));
  EXPECT_EQ(at(Out[1], {1, 0, 3, 1}), 6);
  expectTensor(Out[2], {2}, {2, 2});
}

TEST(OpsShape, TileRepeatsEachDim) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "batch, 2"));
  Value *T = B.op("Tile", {X, B.constant(i64s({1, 3}))});
  EXPECT_EQ(typeOf(T), "f32[batch, 6]");
  EXPECT_EQ(typeOf(B.op("Tile", {X, B.constant(i64s({2, 1}))})), "f32[?, 2]");
  EXPECT_NE(B.error("Tile", {X, B.constant(i64s({2}))}).find("entries"),
            std::string::npos);
  Value *S = B.input("s", ty(DType::U8, "2, 2"));
  Value *T2 = B.op("Tile", {S, B.constant(i64s({2, 2}))});
  EXPECT_EQ(typeOf(T2), "u8[4, 4]");
  auto Out = B.run(
      {T, T2}, {floats({1, 2}, {1, 2}), ints({2, 2}, {1, 2, 3, 4}, DType::U8)});
  ASSERT_EQ(Out.size(), 2u);
  expectTensor(Out[0], {1, 6}, {1, 2, 1, 2, 1, 2});
  expectTensor(Out[1], {4, 4},
               {1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4});
}

TEST(OpsShape, RangeStaticAndSymbolic) {
  Builder B;
  auto Scalar = [&](DType T, double V) {
    return B.constant(floats({}, {V}, T));
  };
  Value *Ints = B.op("Range", {Scalar(DType::I32, 10), Scalar(DType::I32, 3),
                               Scalar(DType::I32, -3)});
  EXPECT_EQ(typeOf(Ints), "i32[3]");
  EXPECT_EQ(B.shapeValue(Ints), "[10, 7, 4]");
  Value *Fl = B.op("Range", {Scalar(DType::F32, 1), Scalar(DType::F32, 2),
                             Scalar(DType::F32, 0.25)});
  EXPECT_EQ(typeOf(Fl), "f32[4]");
  EXPECT_NE(B.error("Range", {Scalar(DType::I64, 0), Scalar(DType::I64, 3),
                              Scalar(DType::I64, 0)})
                .find("delta is 0"),
            std::string::npos);

  // Range(0, seq, 1): position ids.
  Value *X = B.input("x", ty(DType::I64, "batch, seq"));
  Value *Seq = B.op("Gather", {B.op("Shape", {X}),
                               B.constant(Tensor::scalarInt(DType::I64, -1))});
  Value *Pos =
      B.op("Range", {Scalar(DType::I64, 0), Seq, Scalar(DType::I64, 1)});
  EXPECT_EQ(typeOf(Pos), "i64[seq]");
  Value *Odd =
      B.op("Range", {Scalar(DType::I64, 1), Seq, Scalar(DType::I64, 2)});
  EXPECT_EQ(typeOf(Odd), "i64[?]");

  auto Out = B.run({Ints, Fl, Pos, Odd}, {random(DType::I64, {2, 5})});
  ASSERT_EQ(Out.size(), 4u);
  expectTensor(Out[0], {3}, {10, 7, 4});
  expectTensor(Out[1], {4}, {1, 1.25, 1.5, 1.75});
  expectTensor(Out[2], {5}, {0, 1, 2, 3, 4});
  expectTensor(Out[3], {2}, {1, 3});
}

TEST(OpsShape, ConstantOfShapeFollowsShapeValues) {
  Builder B;
  Value *X = B.input("x", ty(DType::I64, "batch, seq"));
  Value *Ones = B.op("ConstantOfShape", {B.op("Shape", {X})},
                     attrs({{"value", ints({1}, {1})}}));
  EXPECT_EQ(typeOf(Ones), "i64[batch, seq]");
  Value *Zeros = B.op("ConstantOfShape", {B.constant(i64s({2, 3}))});
  EXPECT_EQ(typeOf(Zeros), "f32[2, 3]");
  Value *Small = B.op("ConstantOfShape", {B.constant(i64s({3}))},
                      attrs({{"value", ints({1}, {7})}}));
  EXPECT_EQ(B.shapeValue(Small), "[7, 7, 7]");
  Value *Scalar = B.op("ConstantOfShape", {B.constant(ints({0}, {}))},
                       attrs({{"value", floats({1}, {2.5}, DType::F16)}}));
  EXPECT_EQ(typeOf(Scalar), "f16[]");
  EXPECT_NE(
      B.error("ConstantOfShape", {B.constant(i64s({-2}))}).find("negative"),
      std::string::npos);
  Ones->definingNode()->setAttr("value", ints({2}, {1, 2}));
  EXPECT_NE(verifyError(Ones).find("exactly one element"), std::string::npos);
  Ones->definingNode()->setAttr("value", ints({1}, {1}));

  auto Out = B.run({Ones, Zeros, Small, Scalar}, {random(DType::I64, {2, 3})});
  ASSERT_EQ(Out.size(), 4u);
  expectTensor(Out[0], {2, 3}, {1, 1, 1, 1, 1, 1});
  expectTensor(Out[1], {2, 3}, {0, 0, 0, 0, 0, 0});
  expectTensor(Out[2], {3}, {7, 7, 7});
  expectTensor(Out[3], {}, {2.5});
}

TEST(OpsShape, ConstantTakesExactlyOneValue) {
  Builder B;
  Value *T = B.op("Constant", {}, attrs({{"value", floats({2}, {1.5, -2})}}));
  Value *F = B.op("Constant", {}, attrs({{"value_float", 0.5f}}));
  Value *Fs = B.op("Constant", {},
                   attrs({{"value_floats", std::vector<float>{1, 2, 3}}}));
  Value *I = B.op("Constant", {}, attrs({{"value_int", -4}}));
  Value *Is = B.op("Constant", {},
                   attrs({{"value_ints", std::vector<int64_t>{-1, 12}}}));
  EXPECT_EQ(typeOf(T), "f32[2]");
  EXPECT_EQ(typeOf(F), "f32[]");
  EXPECT_EQ(typeOf(Fs), "f32[3]");
  EXPECT_EQ(typeOf(I), "i64[]");
  EXPECT_EQ(typeOf(Is), "i64[2]");
  // -1 is no size: it prints as unknown but reads back exactly.
  EXPECT_EQ(B.shapeValue(Is), "[?, 12]");
  EXPECT_EQ(shapeValueInt(B.ShapeValues.at(Is)[0]), -1);
  Value *Neg =
      B.op("Constant", {}, attrs({{"value_ints", std::vector<int64_t>{-1}}}));
  Value *Axis =
      B.op("Concat", {Neg, B.constant(i64s({-2}))}, attrs({{"axis", 0}}));
  Value *X = B.input("x", ty(DType::F32, "3, 2, 5"));
  EXPECT_EQ(typeOf(B.op("Unsqueeze", {X, Axis})), "f32[3, 2, 5, 1, 1]");

  EXPECT_NE(B.error("Constant", {},
                    attrs({{"value_int", 1},
                           {"value_ints", std::vector<int64_t>{1}}}))
                .find("exactly one"),
            std::string::npos);
  EXPECT_NE(B.error("Constant", {}).find("no value"), std::string::npos);
  Value *S = B.G.createNode("Constant", {}, {TensorType()},
                            attrs({{"value_string", "x"}}))
                 ->result();
  EXPECT_EQ(verifyError(S).rfind("unsupported", 0), 0u) << verifyError(S);
  B.G.eraseNode(S->definingNode());

  auto Out = B.run({T, F, Fs, I, Is}, {random(DType::F32, {3, 2, 5})});
  ASSERT_EQ(Out.size(), 5u);
  expectTensor(Out[0], {2}, {1.5, -2});
  expectTensor(Out[1], {}, {0.5});
  expectTensor(Out[2], {3}, {1, 2, 3});
  expectTensor(Out[3], {}, {-4});
  expectTensor(Out[4], {2}, {-1, 12});
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

TEST(OpsShape, PadModes) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "3, 2"));
  Value *Pads = B.constant(i64s({0, 2, 0, 0}));
  auto Pad = [&](llvm::StringRef Mode) {
    return B.op("Pad", {X, Pads}, attrs({{"mode", Mode.str()}}));
  };
  Value *Const = B.op("Pad", {X, Pads, B.constant(floats({}, {9}))});
  Value *Reflect = Pad("reflect"), *Edge = Pad("edge");
  EXPECT_EQ(typeOf(Const), "f32[3, 4]");
  Value *Crop = B.op(
      "Pad", {X, B.constant(i64s({-1, 1})), none(), B.constant(i64s({-2}))});
  EXPECT_EQ(typeOf(Crop), "f32[3, 2]");

  Value *Wrap = Pad("wrap");
  EXPECT_EQ(verifyError(Wrap).rfind("unsupported Pad mode 'wrap'", 0), 0u);
  B.G.eraseNode(Wrap->definingNode());
  EXPECT_EQ(verifyError(Edge), "(no error)");
  Edge->definingNode()->setAttr("mode", "mirror");
  EXPECT_NE(verifyError(Edge).find("unknown Pad mode"), std::string::npos);
  Edge->definingNode()->setAttr("mode", "edge");

  // The ONNX documentation's examples.
  Tensor In = floats({3, 2}, {1.0, 1.2, 2.3, 3.4, 4.5, 5.7});
  auto Out = B.run({Const, Reflect, Edge, Crop}, {In});
  ASSERT_EQ(Out.size(), 4u);
  auto Near = [](const Tensor &T, std::vector<int64_t> Sizes,
                 std::vector<float> V) {
    EXPECT_EQ(T.sizes(), llvm::ArrayRef(Sizes));
    for (int64_t I = 0; I < T.numElements(); ++I)
      EXPECT_EQ(float(T.getDouble(I)), V[I]) << "element " << I;
  };
  Near(Out[0], {3, 4}, {9, 9, 1.0f, 1.2f, 9, 9, 2.3f, 3.4f, 9, 9, 4.5f, 5.7f});
  Near(
      Out[1], {3, 4},
      {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
  Near(
      Out[2], {3, 4},
      {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
  Near(Out[3], {3, 2}, {2.3f, 3.4f, 4.5f, 5.7f, 0, 0});
}

TEST(OpsShape, PadReflectAcrossManyPeriodsAndSymbolicDims) {
  Builder B;
  Value *X = B.input("x", ty(DType::I32, "batch, 3"));
  Value *P = B.op("Pad", {X, B.constant(i64s({0, 4, 0, 5}))},
                  attrs({{"mode", "reflect"}}));
  EXPECT_EQ(typeOf(P), "i32[batch, 12]");
  Value *Rows =
      B.op("Pad", {X, B.constant(i64s({1, 1})), none(), B.constant(i64s({0}))});
  EXPECT_EQ(typeOf(Rows), "i32[?, 3]");
  auto Out = B.run({P}, {ints({1, 3}, {1, 2, 3}, DType::I32)});
  ASSERT_EQ(Out.size(), 1u);
  // numpy.pad([1, 2, 3], (4, 5), 'reflect')
  expectTensor(Out[0], {1, 12}, {1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2});
}

//===----------------------------------------------------------------------===//
// Gather, GatherElements, GatherND, ScatterND
//===----------------------------------------------------------------------===//

TEST(OpsShape, GatherWithNegativeIndices) {
  Builder B;
  Value *Emb = B.input("emb", ty(DType::F32, "5, 4"));
  Value *Ids = B.input("ids", ty(DType::I64, "batch, seq"));
  Value *Rows = B.op("Gather", {Emb, Ids});
  EXPECT_EQ(typeOf(Rows), "f32[batch, seq, 4]");
  Value *Cols =
      B.op("Gather", {Emb, B.constant(i64s({-1, 0}))}, attrs({{"axis", -1}}));
  EXPECT_EQ(typeOf(Cols), "f32[5, 2]");
  Value *One =
      B.op("Gather", {Emb, B.constant(Tensor::scalarInt(DType::I32, -2))});
  EXPECT_EQ(typeOf(One), "f32[4]");
  EXPECT_NE(
      B.error("Gather", {Emb, B.constant(i64s({0}))}, attrs({{"axis", 2}}))
          .find("out of range"),
      std::string::npos);

  Tensor E = random(DType::F32, {5, 4});
  Tensor IdsIn = ints({1, 3}, {4, -5, 2});
  auto Out = B.run({Rows, Cols, One}, {E, IdsIn});
  ASSERT_EQ(Out.size(), 3u);
  for (int64_t J = 0; J < 4; ++J) {
    EXPECT_EQ(at(Out[0], {0, 0, J}), at(E, {4, J}));
    EXPECT_EQ(at(Out[0], {0, 1, J}), at(E, {0, J}));
    EXPECT_EQ(at(Out[0], {0, 2, J}), at(E, {2, J}));
    EXPECT_EQ(at(Out[2], {J}), at(E, {3, J}));
  }
  for (int64_t I = 0; I < 5; ++I) {
    EXPECT_EQ(at(Out[1], {I, 0}), at(E, {I, 3}));
    EXPECT_EQ(at(Out[1], {I, 1}), at(E, {I, 0}));
  }

  // An index out of range is an error naming the node, not a crash.
  auto Bad = runReference(B.G, std::vector<Tensor>{E, ints({1, 3}, {0, 5, 1})});
  ASSERT_FALSE(Bad);
  EXPECT_NE(llvm::toString(Bad.takeError()).find("index 5 is out of range"),
            std::string::npos);
}

TEST(OpsShape, GatherElementsPicksAlongAxis) {
  Builder B;
  Value *Data = B.input("d", ty(DType::I64, "3, 3"));
  Value *Idx = B.input("i", ty(DType::I32, "2, 3"));
  Value *G = B.op("GatherElements", {Data, Idx}, attrs({{"axis", -2}}));
  EXPECT_EQ(typeOf(G), "i64[2, 3]");
  auto Out = B.run({G}, {ints({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                         ints({2, 3}, {1, 2, 0, 2, 0, -3}, DType::I32)});
  ASSERT_EQ(Out.size(), 1u);
  // The ONNX documentation's example, with one index negative.
  expectTensor(Out[0], {2, 3}, {4, 8, 3, 7, 2, 3});
}

// fuse-expand-gather's op equals GatherElements of the expanded index, for
// DeBERTa's [1, S, S] index, one that varies over the batch only, and one
// of lower rank; an index out of range is an error naming the axis.
TEST(OpsShape, ExpandGatherElementsIsGatherOfExpand) {
  Builder B;
  Value *Data = B.input("d", ty(DType::F32, "4, 3, 5"));
  Value *Pos = B.input("p", ty(DType::I64, "1, 3, 3"));
  Value *Batch = B.input("b", ty(DType::I32, "4, 1, 3"));
  Value *Square = B.input("s", ty(DType::I64, "3, 3"));
  Value *Shape = B.constant(i64s({4, 3, 3}));
  std::vector<Value *> Outs;
  for (Value *Idx : {Pos, Batch, Square}) {
    Value *Fused =
        B.op("ExpandGatherElements", {Data, Idx, Shape}, attrs({{"axis", -1}}));
    EXPECT_EQ(typeOf(Fused), "f32[4, 3, 3]");
    Value *Expanded = B.op("Expand", {Idx, Shape});
    Value *Plain =
        B.op("GatherElements", {Data, Expanded}, attrs({{"axis", -1}}));
    Outs.insert(Outs.end(), {Fused, Plain});
  }
  auto Out = B.run(
      Outs,
      {random(DType::F32, {4, 3, 5}),
       ints({1, 3, 3}, {0, 1, 2, 3, 4, -1, -5, 2, 1}),
       ints({4, 1, 3}, {0, 1, 2, 3, 4, 0, -2, -3, 1, 4, 4, 4}, DType::I32),
       ints({3, 3}, {4, 3, 2, 1, 0, -1, -2, -3, -4})});
  ASSERT_EQ(Out.size(), 6u);
  for (size_t I = 0; I < Out.size(); I += 2) {
    EXPECT_EQ(Out[I].sizes(), Out[I + 1].sizes());
    EXPECT_EQ(Out[I].toDoubles(), Out[I + 1].toDoubles()) << "pair " << I;
  }

  Builder Bad;
  Value *D = Bad.input("d", ty(DType::F32, "2, 3"));
  Value *I = Bad.input("i", ty(DType::I64, "1, 3"));
  Value *G = Bad.op("ExpandGatherElements", {D, I, Bad.constant(i64s({2, 3}))},
                    attrs({{"axis", 1}}));
  Bad.G.setOutputs({G});
  std::vector<Tensor> BadIn = {random(DType::F32, {2, 3}),
                               ints({1, 3}, {0, 3, 1})};
  auto R = runReference(Bad.G, llvm::ArrayRef<Tensor>(BadIn));
  ASSERT_FALSE(bool(R));
  EXPECT_NE(llvm::toString(R.takeError()).find("out of range for axis 1"),
            std::string::npos);
  EXPECT_NE(
      Bad.error("ExpandGatherElements", {D, I, Bad.constant(i64s({4, 2, 3}))}),
      "(no error)");
}

TEST(OpsShape, GatherNDWithBatchDims) {
  Builder B;
  Value *Data = B.input("d", ty(DType::F32, "2, 2, 2"));
  Value *Idx = B.input("i", ty(DType::I64, "2, 1"));
  Value *G = B.op("GatherND", {Data, Idx}, attrs({{"batch_dims", 1}}));
  EXPECT_EQ(typeOf(G), "f32[2, 2]");
  Value *Idx2 = B.input("i2", ty(DType::I64, "2, 2"));
  Value *G0 = B.op("GatherND", {Data, Idx2});
  EXPECT_EQ(typeOf(G0), "f32[2, 2]");
  Value *Sym = B.input("s", ty(DType::F32, "batch, seq, 4"));
  Value *SymIdx = B.input("si", ty(DType::I64, "batch, 3, 1"));
  EXPECT_EQ(typeOf(B.op("GatherND", {Sym, SymIdx}, attrs({{"batch_dims", 1}}))),
            "f32[batch, 3, 4]");
  EXPECT_NE(B.error("GatherND", {Data, Idx}, attrs({{"batch_dims", 2}}))
                .find("batch_dims"),
            std::string::npos);

  Tensor D = floats({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto Out = B.run({G, G0},
                   {D, ints({2, 1}, {1, 0}), ints({2, 2}, {0, 1, -1, 0}),
                    random(DType::F32, {1, 2, 4}), ints({1, 3, 1}, {0, 1, 1})});
  ASSERT_EQ(Out.size(), 2u);
  // The ONNX documentation's batch_dims = 1 example.
  expectTensor(Out[0], {2, 2}, {2, 3, 4, 5});
  expectTensor(Out[1], {2, 2}, {2, 3, 4, 5});
}

TEST(OpsShape, ScatterNDReplacesSlices) {
  Builder B;
  Value *Data = B.input("d", ty(DType::F32, "4, 2"));
  Value *Idx = B.input("i", ty(DType::I64, "2, 1"));
  Value *Upd = B.input("u", ty(DType::F32, "2, 2"));
  Value *S = B.op("ScatterND", {Data, Idx, Upd});
  EXPECT_EQ(typeOf(S), "f32[4, 2]");
  EXPECT_EQ(verifyError(S), "(no error)");
  Value *Add =
      B.op("ScatterND", {Data, Idx, Upd}, attrs({{"reduction", "add"}}));
  EXPECT_EQ(verifyError(Add).rfind("unsupported ScatterND reduction 'add'", 0),
            0u);
  Value *Bad = B.input("bad", ty(DType::F32, "3"));
  EXPECT_NE(B.error("ScatterND", {Data, Idx, Bad}).find("do not fit"),
            std::string::npos);

  Builder C;
  Value *CD = C.input("d", ty(DType::F32, "4, 2"));
  Value *CS = C.op("ScatterND", {CD, C.input("i", ty(DType::I64, "2, 1")),
                                 C.input("u", ty(DType::F32, "2, 2"))});
  auto Out =
      C.run({CS}, {floats({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                   ints({2, 1}, {-1, 1}), floats({2, 2}, {10, 11, 12, 13})});
  ASSERT_EQ(Out.size(), 1u);
  expectTensor(Out[0], {4, 2}, {1, 2, 12, 13, 5, 6, 10, 11});
}

//===----------------------------------------------------------------------===//
// Trilu, NonZero, EyeLike
//===----------------------------------------------------------------------===//

TEST(OpsShape, TriluKeepsTriangles) {
  Builder B;
  Value *X = B.input("x", ty(DType::I64, "batch, 3, 4"));
  Value *Upper = B.op("Trilu", {X});
  Value *Lower =
      B.op("Trilu", {X, B.constant(Tensor::scalarInt(DType::I64, -1))},
           attrs({{"upper", 0}}));
  Value *UpperK =
      B.op("Trilu", {X, B.constant(Tensor::scalarInt(DType::I64, 2))});
  EXPECT_EQ(typeOf(Lower), "i64[batch, 3, 4]");
  Tensor In = ints({1, 3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  auto Out = B.run({Upper, Lower, UpperK}, {In});
  ASSERT_EQ(Out.size(), 3u);
  expectTensor(Out[0], {1, 3, 4}, {1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12});
  expectTensor(Out[1], {1, 3, 4}, {0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0});
  expectTensor(Out[2], {1, 3, 4}, {0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0});
}

TEST(OpsShape, NonZeroIsDataDependent) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "2, 3"));
  Value *N = B.op("NonZero", {X});
  EXPECT_EQ(typeOf(N), "i64[2, ?]");
  auto Out = B.run({N}, {floats({2, 3}, {0, 1.5, 0, -2, 0, 3})});
  ASSERT_EQ(Out.size(), 1u);
  expectTensor(Out[0], {2, 3}, {0, 1, 1, 1, 0, 2});
}

TEST(OpsShape, NonZeroWithACountHasAStaticShape) {
  // The count a data-dependent runner read back for one request.
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "2, 3"));
  Value *N = B.op("NonZero", {X}, attrs({{"count", 3}}));
  EXPECT_EQ(typeOf(N), "i64[2, 3]");
  B.G.setOutputs({N});
  auto Good = runReference(B.G, {floats({2, 3}, {0, 1.5, 0, -2, 0, 3})});
  ASSERT_TRUE(bool(Good)) << llvm::toString(Good.takeError());
  expectTensor((*Good)[0], {2, 3}, {0, 1, 1, 1, 0, 2});
  // Other data, another count: an error, not a wrong shape.
  auto Bad = runReference(B.G, {floats({2, 3}, {1, 1.5, 0, -2, 0, 3})});
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(llvm::toString(Bad.takeError())
                .find("found 4 nonzeros, its count attribute says 3"),
            std::string::npos);
}

TEST(OpsShape, EyeLikeWithDtypeAndK) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "3, 4"));
  Value *Same = B.op("EyeLike", {X});
  Value *Ints = B.op("EyeLike", {X}, attrs({{"dtype", "i32"}, {"k", 1}}));
  Value *Below = B.op("EyeLike", {X}, attrs({{"k", -2}}));
  EXPECT_EQ(typeOf(Same), "f32[3, 4]");
  EXPECT_EQ(typeOf(Ints), "i32[3, 4]");
  Value *Bad =
      B.G.createNode("EyeLike", {X}, {TensorType()}, attrs({{"dtype", "f128"}}))
          ->result();
  EXPECT_NE(verifyError(Bad).find("unknown dtype 'f128'"), std::string::npos);
  B.G.eraseNode(Bad->definingNode());
  auto Out = B.run({Same, Ints, Below}, {random(DType::F32, {3, 4})});
  ASSERT_EQ(Out.size(), 3u);
  expectTensor(Out[0], {3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0});
  expectTensor(Out[1], {3, 4}, {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  expectTensor(Out[2], {3, 4}, {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
}

TEST(OpsShape, IdentityPassesThrough) {
  Builder B;
  Value *X = B.input("x", ty(DType::BF16, "batch, 2"));
  Value *I = B.op("Identity", {X});
  EXPECT_EQ(typeOf(I), "bf16[batch, 2]");
  Tensor In = random(DType::BF16, {3, 2});
  auto Out = B.run({I}, {In});
  ASSERT_EQ(Out.size(), 1u);
  EXPECT_TRUE(Out[0].identical(In));
}

//===----------------------------------------------------------------------===//
// Hostile sizes are errors, not crashes or huge allocations
//===----------------------------------------------------------------------===//

TEST(OpsShape, ExtremeParametersAreErrors) {
  Builder B;
  Value *X = B.input("x", ty(DType::F32, "3"));
  Value *Sizes = B.input("sizes", ty(DType::I64, "2"));
  Value *Big = B.op("ConstantOfShape", {Sizes});
  Value *Wide = B.op("Expand", {X, Sizes});
  Value *Pads = B.input("pads", ty(DType::I64, "2"));
  Value *Padded = B.op("Pad", {X, Pads});
  Value *Steps =
      B.op("Slice", {X, B.constant(i64s({-1})), B.constant(i64s({Min64})),
                     B.constant(i64s({0})), B.constant(i64s({Min64}))});
  EXPECT_EQ(typeOf(Steps), "f32[1]");
  Value *Shape = B.input("shape", ty(DType::I64, "2"));
  Value *R = B.op("Reshape", {X, Shape});
  auto Run = [&](Value *Out, Tensor SizesIn, Tensor PadsIn, Tensor ShapeIn) {
    B.G.setOutputs({Out});
    auto Result =
        runReference(B.G, std::vector<Tensor>{random(DType::F32, {3}), SizesIn,
                                              PadsIn, ShapeIn});
    return Result ? std::string("(no error)")
                  : llvm::toString(Result.takeError());
  };
  Tensor Fine = i64s({1, 3}), NoPads = i64s({0, 0}), Shape13 = i64s({1, 3});
  EXPECT_NE(Run(Big, i64s({Max64, 4}), NoPads, Shape13).find("too large"),
            std::string::npos);
  EXPECT_NE(
      Run(Big, i64s({1 << 20, 1 << 20}), NoPads, Shape13).find("too large"),
      std::string::npos);
  EXPECT_NE(
      Run(Wide, i64s({1 << 30, 1 << 30}), NoPads, Shape13).find("too large"),
      std::string::npos);
  EXPECT_NE(
      Run(Padded, Fine, i64s({Min64, Max64}), Shape13).find("out of range"),
      std::string::npos);
  EXPECT_NE(Run(R, Fine, NoPads, i64s({Max64, Max64})).find("cannot reshape"),
            std::string::npos);
  EXPECT_EQ(Run(Steps, Fine, NoPads, Shape13), "(no error)");

  Builder C;
  auto Scalar = [&](int64_t V) {
    return C.constant(Tensor::scalarInt(DType::I64, V));
  };
  Value *Down = C.op("Range", {Scalar(Max64), Scalar(Min64), Scalar(Min64)});
  EXPECT_EQ(typeOf(Down), "i64[2]");
  EXPECT_NE(C.error("Range", {Scalar(Min64), Scalar(Max64), Scalar(1)})
                .find("too long"),
            std::string::npos);
  Value *Quarters = C.op(
      "Range", {Scalar(Max64), Scalar(Min64), Scalar(-(int64_t(1) << 62))});
  EXPECT_EQ(typeOf(Quarters), "i64[4]");
  auto Out = C.run({Down, Quarters}, {});
  ASSERT_EQ(Out.size(), 2u);
  EXPECT_EQ(Out[0].getInt(0), Max64);
  EXPECT_EQ(Out[0].getInt(1), -1);
  EXPECT_EQ(Out[1].getInt(3), -(int64_t(1) << 62) - 1); // 2^63 - 1 - 3 * 2^62
}

} // namespace
