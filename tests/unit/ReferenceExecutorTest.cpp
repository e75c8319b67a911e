#include "runtime/ReferenceExecutor.h"

#include <gtest/gtest.h>

#include <random>

using namespace kiln;

namespace {

TensorType f32(std::initializer_list<Dim> Dims) {
  return TensorType(DType::F32, Shape(Dims));
}

Tensor randomF32(std::vector<int64_t> Sizes, unsigned Seed) {
  std::mt19937 Rng(Seed);
  std::uniform_real_distribution<double> Uniform(-2.0, 2.0);
  Tensor T(DType::F32, std::move(Sizes));
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setDouble(I, Uniform(Rng));
  return T;
}

template <typename T> std::string errorOf(llvm::Expected<T> E) {
  if (E)
    return "<no error>";
  return llvm::toString(E.takeError());
}

/// Inputs in graph order (a braced list alone would also match the by-name
/// overload).
llvm::Expected<std::vector<Tensor>> run(const Graph &G,
                                        std::vector<Tensor> Inputs,
                                        const ReferenceOptions &Options = {}) {
  return runReference(G, llvm::ArrayRef<Tensor>(Inputs), Options);
}

/// `%x: f32[batch, 4]`, `%y: f32[batch, 4]` and their sum.
struct AddGraph {
  Graph G{"add"};
  Value *X = G.addInput("x", f32({Dim::symbol("batch"), 4}));
  Value *Y = G.addInput("y", f32({Dim::symbol("batch"), 4}));
  Node *Sum = G.createNode("Add", {X, Y}, {X->type()}, {}, "", {"sum"});
  AddGraph() { G.setOutputs({Sum->result()}); }
};

} // namespace

TEST(ReferenceExecutor, ChecksInputCountTypeAndShape) {
  AddGraph A;
  Tensor Good = randomF32({2, 4}, 1);
  EXPECT_EQ(errorOf(run(A.G, {Good})), "graph @add takes 2 inputs, got 1");
  EXPECT_EQ(
      errorOf(run(A.G, {Good, Tensor::fromInts(DType::I64, {2, 4},
                                               {1, 2, 3, 4, 5, 6, 7, 8})})),
      "input %y has element type i64, expected f32");
  EXPECT_EQ(errorOf(run(A.G, {Good, randomF32({8}, 2)})),
            "input %y has rank 1, expected f32[batch, 4]");
  EXPECT_EQ(errorOf(run(A.G, {Good, randomF32({2, 5}, 3)})),
            "input %y has dim 1 = 5, expected f32[batch, 4]");
  EXPECT_EQ(errorOf(run(A.G, {Good, Tensor()})), "input %y has no data");
}

TEST(ReferenceExecutor, BindsSymbolsPerRunAndChecksEveryUse) {
  AddGraph A;
  EXPECT_EQ(errorOf(run(A.G, {randomF32({2, 4}, 1), randomF32({3, 4}, 2)})),
            "input %y has dim 0 = 3, but batch was bound to 2");
  // Each run binds afresh: batch = 2, then batch = 5.
  for (int64_t Batch : {2, 5}) {
    Tensor X = randomF32({Batch, 4}, 3), Y = randomF32({Batch, 4}, 4);
    llvm::Expected<std::vector<Tensor>> Out = run(A.G, {X, Y});
    ASSERT_TRUE(bool(Out)) << errorOf(std::move(Out));
    ASSERT_EQ((*Out)[0].sizes().vec(), (std::vector<int64_t>{Batch, 4}));
    for (int64_t I = 0; I < X.numElements(); ++I)
      EXPECT_FLOAT_EQ(float((*Out)[0].getDouble(I)),
                      float(X.getDouble(I) + Y.getDouble(I)));
  }
}

TEST(ReferenceExecutor, NamedInputsMustMatchTheGraph) {
  AddGraph A;
  Tensor X = randomF32({2, 4}, 5), Y = randomF32({2, 4}, 6);
  EXPECT_EQ(errorOf(runReference(A.G, std::map<std::string, Tensor>{{"x", X}})),
            "missing input %y of type f32[batch, 4]");
  EXPECT_EQ(
      errorOf(runReference(
          A.G, std::map<std::string, Tensor>{{"x", X}, {"y", Y}, {"z", Y}})),
      "graph @add has no input named 'z'");
  EXPECT_EQ(errorOf(runReference(
                A.G, std::map<std::string, Tensor>{{"x", X}, {"sum", Y}})),
            "missing input %y of type f32[batch, 4]");
  llvm::Expected<std::vector<Tensor>> Out =
      runReference(A.G, std::map<std::string, Tensor>{{"y", Y}, {"x", X}});
  ASSERT_TRUE(bool(Out)) << errorOf(std::move(Out));
  EXPECT_FLOAT_EQ(float((*Out)[0].getDouble(3)),
                  float(X.getDouble(3) + Y.getDouble(3)));
}

TEST(ReferenceExecutor, ElidedConstantsCannotRun) {
  Graph G;
  Value *X = G.addInput("x", f32({4}));
  Value *W = G.addElidedConstant("w", f32({4}));
  Node *Mul = G.createNode("Mul", {X, W}, {X->type()});
  G.setOutputs({Mul->result()});
  EXPECT_EQ(errorOf(run(G, {randomF32({4}, 7)})),
            "constant %w has no data (its weights were elided)");
}

TEST(ReferenceExecutor, MultiUseIntermediatesSurviveUntilTheirLastUse) {
  // t = -x; a = t * t; b = a + t; c = Neg(b); d = t + c. `t` is used twice
  // by one node and again two nodes later; `a` is also a graph output.
  Graph G;
  Value *X = G.addInput("x", f32({Dim::symbol("n")}));
  auto Make = [&](llvm::StringRef Op, std::vector<Value *> Args,
                  llvm::StringRef Name) {
    return G.createNode(Op, Args, {X->type()}, {}, "", {Name.str()})->result();
  };
  Value *T = Make("Neg", {X}, "t");
  Value *A = Make("Mul", {T, T}, "a");
  Value *B = Make("Add", {A, T}, "b");
  Value *C = Make("Neg", {B}, "c");
  Value *D = Make("Add", {T, C}, "d");
  G.setOutputs({D, A});
  Tensor In = randomF32({6}, 8);
  llvm::Expected<std::vector<Tensor>> Out = run(G, {In});
  ASSERT_TRUE(bool(Out)) << errorOf(std::move(Out));
  for (int64_t I = 0; I < 6; ++I) {
    float Xv = float(In.getDouble(I)), Tv = -Xv, Av = Tv * Tv;
    EXPECT_FLOAT_EQ(float((*Out)[0].getDouble(I)), Tv - (Av + Tv));
    EXPECT_FLOAT_EQ(float((*Out)[1].getDouble(I)), Av);
  }
}

TEST(ReferenceExecutor, OutputsMayBeInputsOrConstants) {
  Graph G;
  Value *X = G.addInput("x", f32({2, 3}));
  Value *W = G.addConstant("w", randomF32({3, 2}, 9));
  Node *MM = G.createNode("MatMul", {X, W}, {f32({2, 2})}, {}, "", {"y"});
  G.setOutputs({X, MM->result(), W, X});
  Tensor In = randomF32({2, 3}, 10);
  llvm::Expected<std::vector<Tensor>> Out = run(G, {In});
  ASSERT_TRUE(bool(Out)) << errorOf(std::move(Out));
  ASSERT_EQ(Out->size(), 4u);
  EXPECT_TRUE((*Out)[0].identical(In));
  EXPECT_TRUE((*Out)[2].identical(*W->constantData()));
  EXPECT_TRUE((*Out)[3].identical(In));
  const Tensor &Wt = *W->constantData();
  for (int64_t R = 0; R < 2; ++R)
    for (int64_t C = 0; C < 2; ++C) {
      double Dot = 0;
      for (int64_t K = 0; K < 3; ++K)
        Dot += In.getDouble(R * 3 + K) * Wt.getDouble(K * 2 + C);
      EXPECT_NEAR((*Out)[1].getDouble(R * 2 + C), Dot, 1e-5);
    }
}

TEST(ReferenceExecutor, ResultsAreCheckedAgainstTheirStaticTypes) {
  Graph G;
  Value *X = G.addInput("x", f32({Dim::symbol("n")}));
  // A wrong declared type, as a buggy shape inference would leave it.
  Node *Neg = G.createNode("Neg", {X}, {f32({3})}, {}, "neg0", {"r"});
  G.setOutputs({Neg->result()});
  EXPECT_EQ(errorOf(run(G, {randomF32({2}, 11)})),
            "'Neg' node \"neg0\": result %r has dim 0 = 2, expected f32[3]");
  ReferenceOptions NoCheck;
  NoCheck.CheckResultTypes = false;
  EXPECT_EQ(errorOf(run(G, {randomF32({2}, 11)}, NoCheck)), "<no error>");
}

TEST(ReferenceExecutor, UnknownOpsAreAnErrorNamingTheNode) {
  Graph G;
  Value *X = G.addInput("x", f32({2}));
  Node *N = G.createNode("NoSuchOp", {X}, {X->type()}, {}, "mystery");
  G.setOutputs({N->result()});
  EXPECT_EQ(errorOf(run(G, {randomF32({2}, 12)})),
            "'NoSuchOp' node \"mystery\": the reference executor does not "
            "support this op");
}
