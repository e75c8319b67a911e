// Tests of the elementwise, reduction and NN ops: type inference on symbolic
// shapes, shape-value propagation, and the reference implementations against
// values computed independently in double.

#include "ir/OpRegistry.h"
#include "ir/ShapeInference.h"
#include "runtime/ReferenceExecutor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

using namespace kiln;

namespace {

Dim sym(const char *Name) { return Dim::symbol(Name); }

/// Uniform values in [Lo, Hi) from a fixed seed; never all zero.
std::vector<double> randomValues(size_t N, unsigned Seed, double Lo = -2.0,
                                 double Hi = 2.0) {
  std::mt19937 Gen(Seed);
  std::uniform_real_distribution<double> Dist(Lo, Hi);
  std::vector<double> V(N);
  for (double &X : V)
    X = Dist(Gen);
  return V;
}

Tensor randomTensor(DType T, std::vector<int64_t> Sizes, unsigned Seed,
                    double Lo = -2.0, double Hi = 2.0) {
  return Tensor::fromDoubles(
      T, Sizes, randomValues(size_t(numElementsOf(Sizes)), Seed, Lo, Hi));
}

Tensor ints(DType T, std::vector<int64_t> Sizes, std::vector<int64_t> Values) {
  return Tensor::fromInts(T, std::move(Sizes), Values);
}

Tensor floats(DType T, std::vector<int64_t> Sizes, std::vector<double> Values) {
  return Tensor::fromDoubles(T, std::move(Sizes), Values);
}

/// A graph built node by node, each node's result types inferred.
class Builder {
public:
  Graph G;
  ShapeValueMap ShapeValues;

  Value *input(const char *Name, TensorType T) {
    return G.addInput(Name, std::move(T));
  }
  Value *constant(const char *Name, Tensor T) {
    Value *V = G.addConstant(Name, std::move(T));
    collectConstantShapeValues(G, ShapeValues);
    return V;
  }
  /// Adds a node and infers its result types; the inference error if any.
  llvm::Expected<Node *> tryNode(llvm::StringRef Op,
                                 std::vector<Value *> Operands,
                                 AttrMap Attrs = {}, unsigned NumResults = 1) {
    Node *N =
        G.createNode(Op, Operands, std::vector<TensorType>(NumResults), Attrs);
    auto Types = inferNodeTypes(*N, ShapeValues);
    if (!Types)
      return Types.takeError();
    for (unsigned I = 0; I < NumResults; ++I)
      N->result(I)->setType((*Types)[I]);
    return N;
  }
  Node *node(llvm::StringRef Op, std::vector<Value *> Operands,
             AttrMap Attrs = {}, unsigned NumResults = 1) {
    auto N = tryNode(Op, std::move(Operands), std::move(Attrs), NumResults);
    if (!N) {
      ADD_FAILURE() << llvm::toString(N.takeError());
      return nullptr;
    }
    return *N;
  }
  /// The type `Op` infers for the given operands.
  std::string inferred(llvm::StringRef Op, std::vector<Value *> Operands,
                       AttrMap Attrs = {}, unsigned Result = 0,
                       unsigned NumResults = 1) {
    Node *N = node(Op, std::move(Operands), std::move(Attrs), NumResults);
    return N ? N->result(Result)->type().str() : "<error>";
  }
  /// The inference error of `Op` on the given operands ("" if none).
  std::string inferError(llvm::StringRef Op, std::vector<Value *> Operands,
                         AttrMap Attrs = {}) {
    auto N = tryNode(Op, std::move(Operands), std::move(Attrs));
    return N ? "" : llvm::toString(N.takeError());
  }
  const std::vector<Dim> *shapeValue(Node *N) {
    auto It = ShapeValues.find(N->result());
    return It == ShapeValues.end() ? nullptr : &It->second;
  }
};

std::string dimsStr(const std::vector<Dim> &V) {
  std::string S;
  for (const Dim &D : V)
    S += (S.empty() ? "" : ", ") + D.str();
  return "[" + S + "]";
}

/// Runs a one-node graph with constant-free inputs through the reference
/// executor and returns result `Result`.
Tensor evalOp(llvm::StringRef Op, std::vector<Tensor> Inputs,
              AttrMap Attrs = {}, unsigned NumResults = 1,
              unsigned Result = 0) {
  Builder B;
  std::vector<Value *> Operands;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (Inputs[I].isNull()) {
      Operands.push_back(nullptr);
      continue;
    }
    std::string Name = "in" + std::to_string(I);
    Operands.push_back(B.input(Name.c_str(), Inputs[I].type()));
  }
  Node *N = B.node(Op, Operands, std::move(Attrs), NumResults);
  if (!N)
    return Tensor();
  B.G.setOutputs(N->results());
  std::vector<Tensor> Given;
  for (const Tensor &T : Inputs)
    if (!T.isNull())
      Given.push_back(T);
  auto Out = runReference(B.G, Given);
  if (!Out) {
    ADD_FAILURE() << Op.str() << ": " << llvm::toString(Out.takeError());
    return Tensor();
  }
  return (*Out)[Result];
}

/// The reference executor's error for a one-node graph ("" if none).
std::string evalError(llvm::StringRef Op, std::vector<Tensor> Inputs,
                      AttrMap Attrs = {}) {
  Builder B;
  std::vector<Value *> Operands;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    std::string Name = "in" + std::to_string(I);
    Operands.push_back(B.input(Name.c_str(), Inputs[I].type()));
  }
  Node *N = B.G.createNode(Op, Operands, {TensorType()}, std::move(Attrs));
  B.G.setOutputs(N->results());
  ReferenceOptions Options;
  Options.CheckResultTypes = false;
  auto Out = runReference(B.G, Inputs, Options);
  return Out ? "" : llvm::toString(Out.takeError());
}

/// Checks every element within `Tol`, relative to the magnitude above 1.
void expectNear(const Tensor &Got, llvm::ArrayRef<double> Want, double Tol,
                const std::string &What = "") {
  ASSERT_FALSE(Got.isNull()) << What;
  ASSERT_EQ(Got.numElements(), int64_t(Want.size())) << What;
  for (size_t I = 0; I < Want.size(); ++I) {
    double G = Got.getDouble(int64_t(I)), W = Want[I];
    if (std::isnan(W)) {
      EXPECT_TRUE(std::isnan(G)) << What << " element " << I;
      continue;
    }
    if (std::isinf(W)) {
      EXPECT_EQ(G, W) << What << " element " << I;
      continue;
    }
    EXPECT_NEAR(G, W, Tol * std::max(1.0, std::abs(W)))
        << What << " element " << I;
  }
}

void expectInts(const Tensor &Got, DType T, std::vector<int64_t> Sizes,
                std::vector<int64_t> Want) {
  ASSERT_FALSE(Got.isNull());
  EXPECT_EQ(Got.dtype(), T);
  EXPECT_EQ(Got.sizes().vec(), Sizes);
  EXPECT_EQ(Got.toInts(), Want);
}

std::vector<double> map(const Tensor &X, double (*Fn)(double)) {
  std::vector<double> V = X.toDoubles();
  for (double &E : V)
    E = Fn(E);
  return V;
}

//===----------------------------------------------------------------------===//
// Registry
//===----------------------------------------------------------------------===//

TEST(OpsMath, RegistryDeclaresAttributesAndElementwise) {
  for (const char *Op :
       {"Abs", "Gelu", "Cast", "Add", "Where", "Clip", "Max", "Mean"}) {
    const OpDef *D = lookupOp(Op);
    ASSERT_NE(D, nullptr) << Op;
    EXPECT_TRUE(D->Elementwise) << Op;
  }
  for (const char *Op : {"ReduceSum", "MatMul", "Softmax", "ArgMax"}) {
    ASSERT_NE(lookupOp(Op), nullptr) << Op;
    EXPECT_FALSE(lookupOp(Op)->Elementwise) << Op;
  }
  EXPECT_NE(lookupOp("Gelu")->findAttr("approximate"), nullptr);
  EXPECT_EQ(lookupOp("Cast")->findAttr("to")->Kind, AttrKind::String);
  EXPECT_TRUE(lookupOp("Cast")->findAttr("to")->Required);
  EXPECT_NE(lookupOp("Cast")->findAttr("saturate"), nullptr);
  EXPECT_NE(lookupOp("ReduceMean")->findAttr("noop_with_empty_axes"), nullptr);
  EXPECT_NE(lookupOp("LayerNormalization")->findAttr("stash_type"), nullptr);
  EXPECT_EQ(lookupOp("Gemm")->Attrs.size(), 4u);
  EXPECT_EQ(lookupOp("Sum")->MaxInputs, Variadic);
  EXPECT_EQ(lookupOp("Dropout")->MaxOutputs, 2u);
}

//===----------------------------------------------------------------------===//
// Elementwise: inference
//===----------------------------------------------------------------------===//

TEST(OpsMathInfer, BroadcastsSymbolicShapes) {
  Builder B;
  Value *X = B.input("x", TensorType(DType::F32, {sym("batch"), 1, 384}));
  Value *Bias = B.input("bias", TensorType(DType::F32, {384}));
  Value *Y =
      B.input("y", TensorType(DType::F32, {sym("batch"), sym("seq"), 1}));
  Value *Mask = B.input(
      "mask", TensorType(DType::Bool, {sym("batch"), 1, 1, sym("seq")}));
  EXPECT_EQ(B.inferred("Add", {X, Bias}), "f32[batch, 1, 384]");
  EXPECT_EQ(B.inferred("Mul", {X, Y}), "f32[batch, seq, 384]");
  EXPECT_EQ(B.inferred("Equal", {X, Y}), "bool[batch, seq, 384]");
  EXPECT_EQ(B.inferred("Sum", {X, Y, Bias}), "f32[batch, seq, 384]");
  EXPECT_EQ(B.inferred("Where", {Mask, X, Bias}), "f32[batch, batch, 1, 384]");
  EXPECT_EQ(B.inferred("Gelu", {X}), "f32[batch, 1, 384]");
  EXPECT_EQ(B.inferred("IsNaN", {X}), "bool[batch, 1, 384]");
  EXPECT_EQ(B.inferred("Cast", {X}, {{"to", "f16"}}), "f16[batch, 1, 384]");
  EXPECT_EQ(B.inferred("CastLike", {X, Mask}), "bool[batch, 1, 384]");
  EXPECT_EQ(B.inferred("Clip",
                       {X, nullptr, B.input("hi", TensorType(DType::F32, {}))}),
            "f32[batch, 1, 384]");
  Value *I = B.input("i", TensorType(DType::I64, {3}));
  Value *F = B.input("f", TensorType(DType::F32, {1}));
  EXPECT_EQ(B.inferred("Pow", {F, I}), "f32[3]");
}

TEST(OpsMathInfer, RejectsMismatchedOperands) {
  Builder B;
  Value *X = B.input("x", TensorType(DType::F32, {2, 3}));
  Value *Y = B.input("y", TensorType(DType::F32, {4}));
  Value *H = B.input("h", TensorType(DType::F16, {3}));
  Value *I = B.input("i", TensorType(DType::I64, {3}));
  EXPECT_NE(B.inferError("Add", {X, Y}).find("do not broadcast"),
            std::string::npos);
  EXPECT_NE(B.inferError("Add", {X, H}).find("element type f32"),
            std::string::npos);
  EXPECT_NE(B.inferError("Exp", {I}).find("floating-point"), std::string::npos);
  EXPECT_NE(B.inferError("And", {X, X}).find("bool"), std::string::npos);
  EXPECT_NE(B.inferError("Cast", {X}, {{"to", "f8"}}).find("unsupported"),
            std::string::npos);
  EXPECT_NE(B.inferError("Clip", {X, X}).find("not a scalar"),
            std::string::npos);
}

TEST(OpsMathInfer, ShapeValuesFollowIntegerArithmetic) {
  Builder B;
  Value *Shape = B.input("shape", TensorType(DType::I64, {3}));
  B.ShapeValues[Shape] = {sym("batch"), sym("seq"), Dim(384)};
  Value *One = B.constant("one", ints(DType::I64, {}, {1}));
  Value *Zero = B.constant("zero", ints(DType::I64, {1}, {0}));
  Value *Heads = B.constant("heads", ints(DType::I64, {3}, {1, 1, 12}));
  Value *Two = B.constant("two", ints(DType::I64, {}, {2}));

  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Mul", {Shape, One}))),
            "[batch, seq, 384]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Add", {Zero, Shape}))),
            "[batch, seq, 384]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Div", {Shape, Heads}))),
            "[batch, seq, 32]");
  // Products of symbols are product symbols (DimProducts.h), and exact
  // quotients divide them out again.
  Node *Doubled = B.node("Mul", {Shape, Two});
  EXPECT_EQ(dimsStr(*B.shapeValue(Doubled)), "[\"2*batch\", \"2*seq\", 768]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Div", {Doubled->result(0), Two}))),
            "[batch, seq, 384]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Div", {Shape, Two}))), "[?, ?, 192]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Sub", {Shape, Shape}))), "[0, 0, 0]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Max", {Shape, Zero}))),
            "[batch, seq, 384]");
  EXPECT_EQ(dimsStr(*B.shapeValue(B.node("Min", {Shape, One}))), "[?, ?, 1]");
  Node *Cast = B.node("Cast", {Shape}, {{"to", "i32"}});
  EXPECT_EQ(dimsStr(*B.shapeValue(Cast)), "[batch, seq, 384]");
  EXPECT_EQ(B.shapeValue(B.node("Cast", {Shape}, {{"to", "f32"}})), nullptr);

  // Where(Equal(s, 384), 1, s): static conditions select per element.
  Value *Target = B.constant("target", ints(DType::I64, {3}, {7, 5, 384}));
  Node *Eq = B.node("Equal", {Shape, Target});
  EXPECT_EQ(dimsStr(*B.shapeValue(Eq)), "[?, ?, 1]");
  Value *Cond = B.constant("cond", ints(DType::Bool, {3}, {0, 0, 1}));
  Node *Sel = B.node("Where", {Cond, One, Shape});
  EXPECT_EQ(dimsStr(*B.shapeValue(Sel)), "[batch, seq, 1]");
  EXPECT_EQ(B.shapeValue(B.node("Where", {Eq->result(), One, Shape})), nullptr);
}

//===----------------------------------------------------------------------===//
// Elementwise: evaluation
//===----------------------------------------------------------------------===//

double sigmoid(double X) { return 1.0 / (1.0 + std::exp(-X)); }
double relu(double X) { return X < 0 ? 0 : X; }
double reciprocal(double X) { return 1.0 / X; }
double sign(double X) { return X > 0 ? 1 : X < 0 ? -1 : 0; }
double softplus(double X) { return std::log(1.0 + std::exp(X)); }
double geluErf(double X) {
  return 0.5 * X * (1.0 + std::erf(X / std::sqrt(2.0)));
}
double geluTanh(double X) {
  return 0.5 * X *
         (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) *
                          (X + 0.044715 * X * X * X)));
}
double neg(double X) { return -X; }
double absolute(double X) { return std::fabs(X); }

TEST(OpsMathEval, UnaryFloatOpsMatchDouble) {
  struct Case {
    const char *Op;
    double (*Fn)(double);
    double Lo = -3, Hi = 3;
  };
  const Case Cases[] = {
      {"Abs", absolute},        {"Neg", neg},
      {"Exp", ::exp},           {"Log", ::log, 0.1, 5},
      {"Sqrt", ::sqrt, 0.0, 9}, {"Reciprocal", reciprocal, 0.5, 4},
      {"Relu", relu},           {"Sigmoid", sigmoid},
      {"Tanh", ::tanh},         {"Erf", ::erf},
      {"Floor", ::floor},       {"Ceil", ::ceil},
      {"Sign", sign},           {"Sin", ::sin},
      {"Cos", ::cos},           {"Softplus", softplus},
      {"Gelu", geluErf}};
  unsigned Seed = 1;
  for (const Case &C : Cases) {
    Tensor X = randomTensor(DType::F32, {2, 3, 4}, Seed++, C.Lo, C.Hi);
    Tensor Y = evalOp(C.Op, {X});
    EXPECT_EQ(Y.dtype(), DType::F32) << C.Op;
    expectNear(Y, map(X, C.Fn), 2e-6, C.Op);
  }
}

TEST(OpsMathEval, ActivationAttributes) {
  Tensor X = randomTensor(DType::F32, {10}, 7, -4, 4);
  std::vector<double> V = X.toDoubles(), Want;
  for (double E : V)
    Want.push_back(E < 0 ? 0.1 * E : E);
  expectNear(evalOp("LeakyRelu", {X}, {{"alpha", 0.1f}}), Want, 1e-6);
  Want.clear();
  for (double E : V)
    Want.push_back(E < 0 ? 0.01 * E : E);
  expectNear(evalOp("LeakyRelu", {X}), Want, 1e-6, "default alpha");
  Want.clear();
  for (double E : V)
    Want.push_back(E < 0 ? 2.0 * (std::exp(E) - 1) : E);
  expectNear(evalOp("Elu", {X}, {{"alpha", 2.0f}}), Want, 1e-6);
  Want.clear();
  for (double E : V)
    Want.push_back(std::clamp(0.2 * E + 0.5, 0.0, 1.0));
  expectNear(evalOp("HardSigmoid", {X}), Want, 1e-6);
  expectNear(evalOp("Gelu", {X}, {{"approximate", "tanh"}}), map(X, geluTanh),
             2e-6);
  EXPECT_NE(
      evalError("Gelu", {X}, {{"approximate", "fast"}}).find("approximate"),
      std::string::npos);
}

TEST(OpsMathEval, HalfInputsComputeInFloatAndRound) {
  Tensor X = randomTensor(DType::F16, {3, 5}, 11, -3, 3);
  Tensor Y = evalOp("Gelu", {X});
  EXPECT_EQ(Y.dtype(), DType::F16);
  // Half precision: 11 significant bits.
  expectNear(Y, map(X, geluErf), 1e-3);
  Tensor Z = evalOp("Exp", {X});
  expectNear(Z, map(X, ::exp), 1e-3);
  Tensor B = randomTensor(DType::BF16, {4}, 12);
  expectNear(evalOp("Tanh", {B}), map(B, ::tanh), 8e-3);
}

TEST(OpsMathEval, RoundIsHalfToEven) {
  Tensor X =
      floats(DType::F32, {8}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.5});
  expectNear(evalOp("Round", {X}), {0, 2, 2, 0, -2, 2, -3, 4}, 0);
}

TEST(OpsMathEval, NanAndInfPredicates) {
  double Inf = std::numeric_limits<double>::infinity();
  Tensor X = floats(DType::F32, {5}, {1.5, NAN, Inf, -Inf, -2.0});
  expectInts(evalOp("IsNaN", {X}), DType::Bool, {5}, {0, 1, 0, 0, 0});
  expectInts(evalOp("IsInf", {X}), DType::Bool, {5}, {0, 0, 1, 1, 0});
  expectInts(evalOp("IsInf", {X}, {{"detect_positive", int64_t(0)}}),
             DType::Bool, {5}, {0, 0, 0, 1, 0});
  expectInts(evalOp("IsInf", {X}, {{"detect_negative", int64_t(0)}}),
             DType::Bool, {5}, {0, 0, 1, 0, 0});
  Tensor H = floats(DType::F16, {3}, {NAN, Inf, 0.25});
  expectInts(evalOp("IsNaN", {H}), DType::Bool, {3}, {1, 0, 0});
}

TEST(OpsMathEval, IntegerUnaryOps) {
  Tensor X = ints(DType::I32, {5}, {-7, 0, 3, -1, 12});
  expectInts(evalOp("Abs", {X}), DType::I32, {5}, {7, 0, 3, 1, 12});
  expectInts(evalOp("Neg", {X}), DType::I32, {5}, {7, 0, -3, 1, -12});
  expectInts(evalOp("Sign", {X}), DType::I32, {5}, {-1, 0, 1, -1, 1});
  expectInts(evalOp("Relu", {X}), DType::I32, {5}, {0, 0, 3, 0, 12});
  Tensor B = ints(DType::Bool, {3}, {1, 0, 1});
  expectInts(evalOp("Not", {B}), DType::Bool, {3}, {0, 1, 0});
  // int8 negation wraps like numpy.
  expectInts(evalOp("Neg", {ints(DType::I8, {2}, {-128, 5})}), DType::I8, {2},
             {-128, -5});
}

TEST(OpsMathEval, Casts) {
  Tensor X = floats(DType::F32, {5}, {1.7, -2.9, 0.0, 300.5, -0.4});
  expectInts(evalOp("Cast", {X}, {{"to", "i32"}}), DType::I32, {5},
             {1, -2, 0, 300, 0});
  expectInts(evalOp("Cast", {X}, {{"to", "bool"}}), DType::Bool, {5},
             {1, 1, 0, 1, 1});
  Tensor H = evalOp("Cast", {X}, {{"to", "f16"}, {"saturate", int64_t(1)}});
  EXPECT_EQ(H.dtype(), DType::F16);
  expectNear(H, X.toDoubles(), 1e-3);
  Tensor Like = evalOp("CastLike", {X, ints(DType::I64, {1}, {3})});
  expectInts(Like, DType::I64, {5}, {1, -2, 0, 300, 0});
}

TEST(OpsMathEval, BroadcastingArithmetic) {
  Tensor A = randomTensor(DType::F32, {2, 1, 3}, 21);
  Tensor B = randomTensor(DType::F32, {4, 1}, 22, 0.5, 2.0);
  std::vector<double> AV = A.toDoubles(), BV = B.toDoubles();
  std::vector<double> Add, Sub, Mul, Div, Pow, Max;
  for (int I = 0; I < 2; ++I)
    for (int J = 0; J < 4; ++J)
      for (int K = 0; K < 3; ++K) {
        double X = AV[I * 3 + K], Y = BV[J];
        Add.push_back(X + Y);
        Sub.push_back(X - Y);
        Mul.push_back(X * Y);
        Div.push_back(X / Y);
        Pow.push_back(std::pow(std::fabs(X), Y));
        Max.push_back(std::max(X, Y));
      }
  Tensor Out = evalOp("Add", {A, B});
  EXPECT_EQ(Out.sizes().vec(), (std::vector<int64_t>{2, 4, 3}));
  expectNear(Out, Add, 1e-6, "Add");
  expectNear(evalOp("Sub", {A, B}), Sub, 1e-6, "Sub");
  expectNear(evalOp("Mul", {A, B}), Mul, 1e-6, "Mul");
  expectNear(evalOp("Div", {A, B}), Div, 1e-6, "Div");
  expectNear(evalOp("Max", {A, B}), Max, 0, "Max");
  expectNear(evalOp("Pow", {evalOp("Abs", {A}), B}), Pow, 1e-6, "Pow");
  // f16 operands broadcast the same way, rounded once at the end.
  Tensor AH = A.castTo(DType::F16), BH = B.castTo(DType::F16);
  Tensor OutH = evalOp("Mul", {AH, BH});
  EXPECT_EQ(OutH.dtype(), DType::F16);
  expectNear(OutH, Mul, 2e-3, "f16 Mul");
}

TEST(OpsMathEval, IntegerDivModPow) {
  Tensor X = ints(DType::I32, {4}, {-3, 3, -3, 3});
  Tensor Y = ints(DType::I32, {4}, {2, 2, -2, -2});
  expectInts(evalOp("Div", {X, Y}), DType::I32, {4}, {-1, 1, 1, -1});
  // Mod without fmod takes the divisor's sign, with fmod the dividend's.
  Tensor A = ints(DType::I64, {6}, {-4, 7, 5, -9, 3, 8});
  Tensor B = ints(DType::I64, {6}, {7, -3, 8, -4, 3, -5});
  expectInts(evalOp("Mod", {A, B}), DType::I64, {6}, {3, -2, 5, -1, 0, -2});
  expectInts(evalOp("Mod", {A, B}, {{"fmod", int64_t(1)}}), DType::I64, {6},
             {-4, 1, 5, -1, 0, 3});
  Tensor F = floats(DType::F32, {3}, {-4.5, 7.25, 5.0});
  Tensor G = floats(DType::F32, {3}, {7.0, -3.0, 2.5});
  expectNear(evalOp("Mod", {F, G}, {{"fmod", int64_t(1)}}),
             {std::fmod(-4.5, 7.0), std::fmod(7.25, -3.0), 0.0}, 1e-6);
  EXPECT_NE(evalError("Mod", {F, G}).find("fmod = 1"), std::string::npos);
  // Integer powers are exact; the result keeps the base's type.
  expectInts(evalOp("Pow", {ints(DType::I64, {3}, {3, -2, 10}),
                            ints(DType::I64, {3}, {4, 3, 15})}),
             DType::I64, {3}, {81, -8, 1000000000000000});
  expectInts(evalOp("Pow", {ints(DType::I32, {2}, {4, 9}),
                            floats(DType::F32, {2}, {0.5, 0.5})}),
             DType::I32, {2}, {2, 3});
  expectNear(evalOp("Pow", {floats(DType::F32, {2}, {2.0, 1.5}),
                            ints(DType::I64, {2}, {3, -2})}),
             {8.0, 1.0 / 2.25}, 1e-6);
  // Integer arithmetic wraps in the element type.
  expectInts(evalOp("Add", {ints(DType::I8, {2}, {120, -100}),
                            ints(DType::I8, {2}, {10, -100})}),
             DType::I8, {2}, {-126, 56});
  expectInts(evalOp("Sub", {ints(DType::U8, {2}, {1, 200}),
                            ints(DType::U8, {2}, {2, 100})}),
             DType::U8, {2}, {255, 100});
}

TEST(OpsMathEval, ComparisonsAndLogic) {
  Tensor A = floats(DType::F32, {2, 2}, {1.0, 2.5, -1.0, 4.0});
  Tensor B = floats(DType::F32, {2}, {1.0, 3.0});
  expectInts(evalOp("Equal", {A, B}), DType::Bool, {2, 2}, {1, 0, 0, 0});
  expectInts(evalOp("Greater", {A, B}), DType::Bool, {2, 2}, {0, 0, 0, 1});
  expectInts(evalOp("GreaterOrEqual", {A, B}), DType::Bool, {2, 2},
             {1, 0, 0, 1});
  expectInts(evalOp("Less", {A, B}), DType::Bool, {2, 2}, {0, 1, 1, 0});
  expectInts(evalOp("LessOrEqual", {A, B}), DType::Bool, {2, 2}, {1, 1, 1, 0});
  Tensor I = ints(DType::I64, {3}, {5, -2, 7});
  expectInts(evalOp("Less", {I, ints(DType::I64, {}, {0})}), DType::Bool, {3},
             {0, 1, 0});
  Tensor P = ints(DType::Bool, {2, 2}, {1, 1, 0, 0});
  Tensor Q = ints(DType::Bool, {2}, {1, 0});
  expectInts(evalOp("And", {P, Q}), DType::Bool, {2, 2}, {1, 0, 0, 0});
  expectInts(evalOp("Or", {P, Q}), DType::Bool, {2, 2}, {1, 1, 1, 0});
  expectInts(evalOp("Xor", {P, Q}), DType::Bool, {2, 2}, {0, 1, 1, 0});
  expectInts(evalOp("Equal", {P, Q}), DType::Bool, {2, 2}, {1, 0, 0, 1});
}

TEST(OpsMathEval, VariadicOps) {
  Tensor A = randomTensor(DType::F32, {2, 3}, 31);
  Tensor B = randomTensor(DType::F32, {3}, 32);
  Tensor C = randomTensor(DType::F32, {1, 1}, 33);
  std::vector<double> AV = A.toDoubles(), BV = B.toDoubles();
  double CV = C.getDouble(0);
  std::vector<double> Sum, Mean, Max, Min;
  for (int I = 0; I < 2; ++I)
    for (int J = 0; J < 3; ++J) {
      double X = AV[I * 3 + J], Y = BV[J];
      Sum.push_back(X + Y + CV);
      Mean.push_back((X + Y + CV) / 3);
      Max.push_back(std::max({X, Y, CV}));
      Min.push_back(std::min({X, Y, CV}));
    }
  expectNear(evalOp("Sum", {A, B, C}), Sum, 1e-6, "Sum");
  expectNear(evalOp("Mean", {A, B, C}), Mean, 1e-6, "Mean");
  expectNear(evalOp("Max", {A, B, C}), Max, 0, "Max");
  expectNear(evalOp("Min", {A, B, C}), Min, 0, "Min");
  expectNear(evalOp("Max", {A}), AV, 0, "one operand");
  expectNear(evalOp("Max", {floats(DType::F32, {2}, {NAN, 1.0}),
                            floats(DType::F32, {2}, {2.0, NAN})}),
             {NAN, NAN}, 0, "NaN propagates");
  expectInts(evalOp("Max", {ints(DType::I32, {3}, {4, -6, 9}),
                            ints(DType::I32, {1}, {0})}),
             DType::I32, {3}, {4, 0, 9});
}

TEST(OpsMathEval, WhereAndClip) {
  Tensor Cond = ints(DType::Bool, {2, 1}, {1, 0});
  Tensor X = floats(DType::F32, {3}, {1.5, -2.0, 3.25});
  Tensor Y = floats(DType::F32, {2, 3}, {9, 8, 7, 6, 5, 4});
  expectNear(evalOp("Where", {Cond, X, Y}), {1.5, -2.0, 3.25, 6, 5, 4}, 0);
  Tensor I = ints(DType::I64, {3}, {-5, 0, 5});
  expectInts(evalOp("Where", {ints(DType::Bool, {3}, {1, 0, 1}), I,
                              ints(DType::I64, {}, {42})}),
             DType::I64, {3}, {-5, 42, 5});

  Tensor V = floats(DType::F32, {5}, {-3.0, -0.5, 0.25, 1.75, 4.0});
  Tensor Lo = floats(DType::F32, {}, {-1.0});
  Tensor Hi = floats(DType::F32, {}, {1.5});
  expectNear(evalOp("Clip", {V, Lo, Hi}), {-1.0, -0.5, 0.25, 1.5, 1.5}, 0);
  expectNear(evalOp("Clip", {V, Lo}), {-1.0, -0.5, 0.25, 1.75, 4.0}, 0);
  expectNear(evalOp("Clip", {V, Tensor(), Hi}), {-3.0, -0.5, 0.25, 1.5, 1.5},
             0);
  expectNear(evalOp("Clip", {V}), V.toDoubles(), 0);
  // min > max: everything becomes max.
  expectNear(evalOp("Clip", {V, Hi, Lo}), {-1, -1, -1, -1, -1}, 0);
  expectInts(evalOp("Clip", {ints(DType::I8, {3}, {-100, 5, 100}),
                             ints(DType::I8, {}, {-10})}),
             DType::I8, {3}, {-10, 5, 100});
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST(OpsMathInfer, Reductions) {
  Builder B;
  Value *X =
      B.input("x", TensorType(DType::F32, {sym("batch"), sym("seq"), 384}));
  Value *Last = B.constant("last", ints(DType::I64, {1}, {-1}));
  Value *Both = B.constant("both", ints(DType::I64, {2}, {0, -1}));
  Value *Empty = B.constant("empty", ints(DType::I64, {0}, {}));
  Value *Dyn = B.input("dyn", TensorType(DType::I64, {1}));
  EXPECT_EQ(B.inferred("ReduceMean", {X, Last}), "f32[batch, seq, 1]");
  EXPECT_EQ(B.inferred("ReduceSum", {X, Both}, {{"keepdims", int64_t(0)}}),
            "f32[seq]");
  EXPECT_EQ(B.inferred("ReduceMax", {X}), "f32[1, 1, 1]");
  EXPECT_EQ(B.inferred("ReduceL2", {X}, {{"keepdims", int64_t(0)}}), "f32[]");
  EXPECT_EQ(B.inferred("ReduceSum", {X, Empty},
                       {{"noop_with_empty_axes", int64_t(1)}}),
            "f32[batch, seq, 384]");
  EXPECT_EQ(B.inferred("ReduceProd", {X, Dyn}), "f32[?, ?, ?]");
  EXPECT_EQ(B.inferred("ReduceProd", {X, Dyn}, {{"keepdims", int64_t(0)}}),
            "f32[?, ?]");
  EXPECT_EQ(B.inferred("ArgMax", {X}, {{"axis", int64_t(-1)}}),
            "i64[batch, seq, 1]");
  EXPECT_EQ(B.inferred("ArgMin", {X},
                       {{"axis", int64_t(1)}, {"keepdims", int64_t(0)}}),
            "i64[batch, 384]");
  EXPECT_EQ(
      B.inferred("CumSum", {X, B.constant("ax", ints(DType::I32, {}, {1}))}),
      "f32[batch, seq, 384]");
  Value *Unknown = B.input("unknown", TensorType(DType::I64, {sym("n")}));
  EXPECT_NE(B.inferError("ReduceSum", {X, Unknown}, {{"keepdims", int64_t(0)}})
                .find("unsupported"),
            std::string::npos);
  Value *Bad = B.constant("bad", ints(DType::I64, {1}, {3}));
  EXPECT_NE(B.inferError("ReduceSum", {X, Bad}).find("out of range"),
            std::string::npos);
  Value *Twice = B.constant("twice", ints(DType::I64, {2}, {1, -2}));
  EXPECT_NE(B.inferError("ReduceSum", {X, Twice}).find("twice"),
            std::string::npos);
}

/// Reduces a [2, 3, 4] tensor over axes 0 and 2 in double with `Fn` folding
/// the 8 values of each output element.
std::vector<double> reduce02(const std::vector<double> &X,
                             double (*Fn)(const std::vector<double> &)) {
  std::vector<double> Out;
  for (int J = 0; J < 3; ++J) {
    std::vector<double> Group;
    for (int I = 0; I < 2; ++I)
      for (int K = 0; K < 4; ++K)
        Group.push_back(X[(I * 3 + J) * 4 + K]);
    Out.push_back(Fn(Group));
  }
  return Out;
}

double sumOf(const std::vector<double> &V) {
  double S = 0;
  for (double X : V)
    S += X;
  return S;
}
double meanOf(const std::vector<double> &V) { return sumOf(V) / V.size(); }
double maxOf(const std::vector<double> &V) {
  return *std::max_element(V.begin(), V.end());
}
double minOf(const std::vector<double> &V) {
  return *std::min_element(V.begin(), V.end());
}
double prodOf(const std::vector<double> &V) {
  double P = 1;
  for (double X : V)
    P *= X;
  return P;
}
double l1Of(const std::vector<double> &V) {
  double S = 0;
  for (double X : V)
    S += std::fabs(X);
  return S;
}
double sumSquareOf(const std::vector<double> &V) {
  double S = 0;
  for (double X : V)
    S += X * X;
  return S;
}
double l2Of(const std::vector<double> &V) { return std::sqrt(sumSquareOf(V)); }
double logSumOf(const std::vector<double> &V) { return std::log(sumOf(V)); }
double logSumExpOf(const std::vector<double> &V) {
  double S = 0;
  for (double X : V)
    S += std::exp(X);
  return std::log(S);
}

TEST(OpsMathEval, ReductionsOverNegativeAxes) {
  struct Case {
    const char *Op;
    double (*Fn)(const std::vector<double> &);
  };
  const Case Cases[] = {
      {"ReduceSum", sumOf},       {"ReduceMean", meanOf},
      {"ReduceMax", maxOf},       {"ReduceMin", minOf},
      {"ReduceProd", prodOf},     {"ReduceL1", l1Of},
      {"ReduceL2", l2Of},         {"ReduceSumSquare", sumSquareOf},
      {"ReduceLogSum", logSumOf}, {"ReduceLogSumExp", logSumExpOf}};
  // Positive values so that ReduceLogSum is defined.
  Tensor X = randomTensor(DType::F32, {2, 3, 4}, 41, 0.25, 2.0);
  Tensor Axes = ints(DType::I64, {2}, {-1, 0});
  for (const Case &C : Cases) {
    std::vector<double> Want = reduce02(X.toDoubles(), C.Fn);
    Tensor Kept = evalOp(C.Op, {X, Axes});
    EXPECT_EQ(Kept.sizes().vec(), (std::vector<int64_t>{1, 3, 1})) << C.Op;
    expectNear(Kept, Want, 1e-5, C.Op);
    Tensor Dropped = evalOp(C.Op, {X, Axes}, {{"keepdims", int64_t(0)}});
    EXPECT_EQ(Dropped.sizes().vec(), (std::vector<int64_t>{3})) << C.Op;
  }
}

TEST(OpsMathEval, ReductionsOfAllAxesEmptySetsAndIntegers) {
  Tensor X = randomTensor(DType::F32, {3, 4}, 42);
  Tensor All = evalOp("ReduceSum", {X});
  EXPECT_EQ(All.sizes().vec(), (std::vector<int64_t>{1, 1}));
  expectNear(All, {sumOf(X.toDoubles())}, 1e-5);
  Tensor Same = evalOp("ReduceSum", {X, ints(DType::I64, {0}, {})},
                       {{"noop_with_empty_axes", int64_t(1)}});
  expectNear(Same, X.toDoubles(), 0);

  // Reducing an empty axis gives each reduction's identity.
  Tensor E(DType::F32, {2, 0, 3});
  Tensor Axis1 = ints(DType::I64, {1}, {1});
  double Inf = std::numeric_limits<double>::infinity();
  expectNear(evalOp("ReduceSum", {E, Axis1}), {0, 0, 0, 0, 0, 0}, 0);
  expectNear(evalOp("ReduceProd", {E, Axis1}), {1, 1, 1, 1, 1, 1}, 0);
  expectNear(evalOp("ReduceMax", {E, Axis1}),
             {-Inf, -Inf, -Inf, -Inf, -Inf, -Inf}, 0);
  expectNear(evalOp("ReduceMin", {E, Axis1}), {Inf, Inf, Inf, Inf, Inf, Inf},
             0);
  expectNear(evalOp("ReduceLogSumExp", {E, Axis1}),
             {-Inf, -Inf, -Inf, -Inf, -Inf, -Inf}, 0);

  Tensor I = ints(DType::I32, {2, 3}, {4, -2, 7, 1, 5, -3});
  expectInts(evalOp("ReduceSum", {I, ints(DType::I64, {1}, {1})}), DType::I32,
             {2, 1}, {9, 3});
  expectInts(evalOp("ReduceMax", {I, ints(DType::I64, {1}, {0})},
                    {{"keepdims", int64_t(0)}}),
             DType::I32, {3}, {4, 5, 7});
  expectInts(evalOp("ReduceProd", {I}, {{"keepdims", int64_t(0)}}), DType::I32,
             {}, {4 * -2 * 7 * 1 * 5 * -3});
  Tensor B = ints(DType::Bool, {2, 2}, {1, 0, 1, 1});
  expectInts(evalOp("ReduceMin", {B, ints(DType::I64, {1}, {1})}), DType::Bool,
             {2, 1}, {0, 1});
}

TEST(OpsMathEval, ArgMaxArgMin) {
  Tensor X = floats(DType::F32, {2, 4}, {1, 5, 5, 2, -3, -7, 0, -7});
  expectInts(evalOp("ArgMax", {X}, {{"axis", int64_t(1)}}), DType::I64, {2, 1},
             {1, 2});
  expectInts(evalOp("ArgMax", {X},
                    {{"axis", int64_t(-1)}, {"select_last_index", int64_t(1)}}),
             DType::I64, {2, 1}, {2, 2});
  expectInts(
      evalOp("ArgMin", {X}, {{"axis", int64_t(1)}, {"keepdims", int64_t(0)}}),
      DType::I64, {2}, {0, 1});
  expectInts(evalOp("ArgMin", {X},
                    {{"axis", int64_t(1)},
                     {"keepdims", int64_t(0)},
                     {"select_last_index", int64_t(1)}}),
             DType::I64, {2}, {0, 3});
  expectInts(evalOp("ArgMax", {X}), DType::I64, {1, 4}, {0, 0, 0, 0});
  expectInts(evalOp("ArgMax", {ints(DType::I64, {3}, {7, 9, 9})}), DType::I64,
             {1}, {1});
}

TEST(OpsMathEval, CumSum) {
  Tensor X = floats(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor Axis = ints(DType::I64, {}, {1});
  expectNear(evalOp("CumSum", {X, Axis}), {1, 3, 6, 4, 9, 15}, 0);
  expectNear(evalOp("CumSum", {X, Axis}, {{"exclusive", int64_t(1)}}),
             {0, 1, 3, 0, 4, 9}, 0);
  expectNear(evalOp("CumSum", {X, Axis}, {{"reverse", int64_t(1)}}),
             {6, 5, 3, 15, 11, 6}, 0);
  expectNear(evalOp("CumSum", {X, Axis},
                    {{"reverse", int64_t(1)}, {"exclusive", int64_t(1)}}),
             {5, 3, 0, 11, 6, 0}, 0);
  expectNear(evalOp("CumSum", {X, ints(DType::I32, {1}, {-2})}),
             {1, 2, 3, 5, 7, 9}, 0);
  expectInts(evalOp("CumSum", {ints(DType::I32, {4}, {3, -1, 4, 1}),
                               ints(DType::I32, {}, {0})}),
             DType::I32, {4}, {3, 2, 6, 7});
}

//===----------------------------------------------------------------------===//
// NN ops
//===----------------------------------------------------------------------===//

TEST(OpsMathInfer, MatMulAndGemm) {
  Builder B;
  Value *X =
      B.input("x", TensorType(DType::F32, {sym("batch"), sym("seq"), 384}));
  Value *W = B.input("w", TensorType(DType::F32, {384, 1536}));
  Value *V = B.input("v", TensorType(DType::F32, {384}));
  Value *Q =
      B.input("q", TensorType(DType::F32, {sym("batch"), 12, sym("seq"), 32}));
  Value *K =
      B.input("k", TensorType(DType::F32, {sym("batch"), 12, 32, sym("seq")}));
  EXPECT_EQ(B.inferred("MatMul", {X, W}), "f32[batch, seq, 1536]");
  EXPECT_EQ(B.inferred("MatMul", {X, V}), "f32[batch, seq]");
  EXPECT_EQ(B.inferred("MatMul", {V, W}), "f32[1536]");
  EXPECT_EQ(B.inferred("MatMul", {V, V}), "f32[]");
  EXPECT_EQ(B.inferred("MatMul", {Q, K}), "f32[batch, 12, seq, seq]");
  Value *A3 = B.input("a3", TensorType(DType::F32, {2, 1, 3, 4}));
  Value *B3 = B.input("b3", TensorType(DType::F32, {5, 4, 2}));
  EXPECT_EQ(B.inferred("MatMul", {A3, B3}), "f32[2, 5, 3, 2]");
  EXPECT_NE(B.inferError("MatMul", {W, W}).find("contraction"),
            std::string::npos);

  Value *M = B.input("m", TensorType(DType::F32, {sym("n"), 384}));
  Value *Wt = B.input("wt", TensorType(DType::F32, {1536, 384}));
  Value *Bias = B.input("bias", TensorType(DType::F32, {1536}));
  EXPECT_EQ(B.inferred("Gemm", {M, Wt, Bias}, {{"transB", int64_t(1)}}),
            "f32[n, 1536]");
  EXPECT_NE(B.inferError("Gemm", {M, Wt, Bias}).find("contraction"),
            std::string::npos);
  Value *BadBias = B.input("badbias", TensorType(DType::F32, {3}));
  EXPECT_NE(B.inferError("Gemm", {M, W, BadBias}).find("does not broadcast"),
            std::string::npos);
}

/// Naive [M x K] * [K x N] in double.
std::vector<double> naiveMatMul(const std::vector<double> &A,
                                const std::vector<double> &B, int M, int K,
                                int N, size_t AOff = 0, size_t BOff = 0) {
  std::vector<double> Out(M * N, 0.0);
  for (int I = 0; I < M; ++I)
    for (int J = 0; J < N; ++J)
      for (int L = 0; L < K; ++L)
        Out[I * N + J] += A[AOff + I * K + L] * B[BOff + L * N + J];
  return Out;
}

TEST(OpsMathEval, MatMulShapesAndValues) {
  // Batch broadcasting: [2, 1, 5, 3] x [4, 3, 6] -> [2, 4, 5, 6]; 5 rows
  // exercise both the four-row blocks and the remainder.
  Tensor A = randomTensor(DType::F32, {2, 1, 5, 3}, 51);
  Tensor B = randomTensor(DType::F32, {4, 3, 6}, 52);
  Tensor Y = evalOp("MatMul", {A, B});
  EXPECT_EQ(Y.sizes().vec(), (std::vector<int64_t>{2, 4, 5, 6}));
  std::vector<double> AV = A.toDoubles(), BV = B.toDoubles(), Want;
  for (int I = 0; I < 2; ++I)
    for (int J = 0; J < 4; ++J) {
      std::vector<double> P = naiveMatMul(AV, BV, 5, 3, 6, I * 15, J * 18);
      Want.insert(Want.end(), P.begin(), P.end());
    }
  expectNear(Y, Want, 1e-5);

  // Sizes that cover both the blocked kernel and its row and column edges.
  Tensor P = randomTensor(DType::F32, {2, 9, 20}, 57);
  Tensor Q = randomTensor(DType::F32, {20, 19}, 58);
  Tensor PQ = evalOp("MatMul", {P, Q});
  EXPECT_EQ(PQ.sizes().vec(), (std::vector<int64_t>{2, 9, 19}));
  expectNear(PQ, naiveMatMul(P.toDoubles(), Q.toDoubles(), 18, 20, 19), 1e-5);

  // 1-D operands.
  Tensor V = randomTensor(DType::F32, {3}, 53);
  Tensor M = randomTensor(DType::F32, {3, 2}, 54);
  Tensor VM = evalOp("MatMul", {V, M});
  EXPECT_EQ(VM.sizes().vec(), (std::vector<int64_t>{2}));
  expectNear(VM, naiveMatMul(V.toDoubles(), M.toDoubles(), 1, 3, 2), 1e-5);
  Tensor MV = evalOp("MatMul", {evalOp("Neg", {M.reshaped({2, 3})}), V});
  EXPECT_EQ(MV.sizes().vec(), (std::vector<int64_t>{2}));
  Tensor VV = evalOp("MatMul", {V, V});
  EXPECT_EQ(VV.rank(), 0);
  expectNear(VV, {sumSquareOf(V.toDoubles())}, 1e-5);

  // Integers and halves.
  Tensor I = evalOp("MatMul", {ints(DType::I64, {2, 2}, {1, 2, 3, 4}),
                               ints(DType::I64, {2, 1}, {5, -6})});
  expectInts(I, DType::I64, {2, 1}, {-7, -9});
  Tensor AH = randomTensor(DType::F16, {4, 8}, 55);
  Tensor BH = randomTensor(DType::F16, {8, 3}, 56);
  Tensor YH = evalOp("MatMul", {AH, BH});
  EXPECT_EQ(YH.dtype(), DType::F16);
  expectNear(YH, naiveMatMul(AH.toDoubles(), BH.toDoubles(), 4, 8, 3), 4e-3);

  EXPECT_NE(evalError("MatMul", {M, M}).find("contraction"), std::string::npos);
}

TEST(OpsMathEval, GemmAttributesAndBias) {
  Tensor A = randomTensor(DType::F32, {3, 5}, 61); // transposed: [5 x 3]
  Tensor B = randomTensor(DType::F32, {4, 3}, 62); // transposed: [3 x 4]
  Tensor C = randomTensor(DType::F32, {4}, 63);
  std::vector<double> AV = A.toDoubles(), BV = B.toDoubles(),
                      CV = C.toDoubles(), Want;
  for (int I = 0; I < 5; ++I)
    for (int J = 0; J < 4; ++J) {
      double S = 0;
      for (int K = 0; K < 3; ++K)
        S += AV[K * 5 + I] * BV[J * 3 + K];
      Want.push_back(0.5 * S + 2.0 * CV[J]);
    }
  Tensor Y = evalOp("Gemm", {A, B, C},
                    {{"alpha", 0.5f},
                     {"beta", 2.0f},
                     {"transA", int64_t(1)},
                     {"transB", int64_t(1)}});
  EXPECT_EQ(Y.sizes().vec(), (std::vector<int64_t>{5, 4}));
  expectNear(Y, Want, 1e-5);

  Tensor P = randomTensor(DType::F32, {2, 3}, 64);
  Tensor Q = randomTensor(DType::F32, {3, 2}, 65);
  expectNear(evalOp("Gemm", {P, Q}),
             naiveMatMul(P.toDoubles(), Q.toDoubles(), 2, 3, 2), 1e-5,
             "no bias");
  std::vector<double> WithScalar =
      naiveMatMul(P.toDoubles(), Q.toDoubles(), 2, 3, 2);
  for (double &V : WithScalar)
    V += 1.25;
  expectNear(evalOp("Gemm", {P, Q, floats(DType::F32, {}, {1.25})}), WithScalar,
             1e-5, "scalar bias");
}

TEST(OpsMathEval, SoftmaxMatchesDouble) {
  Tensor X = randomTensor(DType::F32, {2, 3, 4}, 71, -5, 5);
  std::vector<double> V = X.toDoubles();
  for (int64_t Axis : {-1, 1, 0}) {
    int64_t A = Axis < 0 ? Axis + 3 : Axis;
    std::vector<int64_t> Sizes = {2, 3, 4};
    int64_t Outer = 1, N = Sizes[A], Inner = 1;
    for (int64_t D = 0; D < A; ++D)
      Outer *= Sizes[D];
    for (int64_t D = A + 1; D < 3; ++D)
      Inner *= Sizes[D];
    std::vector<double> Soft(V.size()), LogSoft(V.size());
    for (int64_t O = 0; O < Outer; ++O)
      for (int64_t I = 0; I < Inner; ++I) {
        double Sum = 0;
        for (int64_t K = 0; K < N; ++K)
          Sum += std::exp(V[(O * N + K) * Inner + I]);
        for (int64_t K = 0; K < N; ++K) {
          int64_t At = (O * N + K) * Inner + I;
          Soft[At] = std::exp(V[At]) / Sum;
          LogSoft[At] = V[At] - std::log(Sum);
        }
      }
    std::string What = "axis " + std::to_string(Axis);
    AttrMap Attrs = {{"axis", Axis}};
    expectNear(evalOp("Softmax", {X}, Attrs), Soft, 1e-6, What);
    expectNear(evalOp("LogSoftmax", {X}, Attrs), LogSoft, 1e-6, What);
  }
  // Large inputs must not overflow.
  Tensor Big = floats(DType::F32, {3}, {1000, 1001, 1002});
  double E = std::exp(1.0), S = 1 + E + E * E;
  expectNear(evalOp("Softmax", {Big}), {1 / S, E / S, E * E / S}, 1e-6);
  expectNear(evalOp("LogSoftmax", {Big}),
             {-std::log(S), 1 - std::log(S), 2 - std::log(S)}, 1e-6);
  Tensor H = randomTensor(DType::F16, {2, 8}, 72);
  Tensor SH = evalOp("Softmax", {H});
  EXPECT_EQ(SH.dtype(), DType::F16);
  double RowSum = 0;
  for (int64_t I = 0; I < 8; ++I)
    RowSum += SH.getDouble(I);
  EXPECT_NEAR(RowSum, 1.0, 4e-3);
}

/// LayerNorm of X [Rows x Cols] in double.
void layerNormDouble(const std::vector<double> &X, int64_t Rows, int64_t Cols,
                     const std::vector<double> &Scale,
                     const std::vector<double> &Bias, double Eps,
                     std::vector<double> &Y, std::vector<double> &Mean,
                     std::vector<double> &InvStd) {
  Y.assign(X.size(), 0);
  Mean.assign(Rows, 0);
  InvStd.assign(Rows, 0);
  for (int64_t R = 0; R < Rows; ++R) {
    double M = 0, Var = 0;
    for (int64_t C = 0; C < Cols; ++C)
      M += X[R * Cols + C];
    M /= double(Cols);
    for (int64_t C = 0; C < Cols; ++C)
      Var += (X[R * Cols + C] - M) * (X[R * Cols + C] - M);
    Var /= double(Cols);
    Mean[R] = M;
    InvStd[R] = 1 / std::sqrt(Var + Eps);
    for (int64_t C = 0; C < Cols; ++C)
      Y[R * Cols + C] = (X[R * Cols + C] - M) * InvStd[R] * Scale[C] + Bias[C];
  }
}

TEST(OpsMathInfer, LayerNormalizationAndDropout) {
  Builder B;
  Value *X =
      B.input("x", TensorType(DType::F32, {sym("batch"), sym("seq"), 384}));
  Value *G = B.input("g", TensorType(DType::F32, {384}));
  Value *Beta = B.input("b", TensorType(DType::F32, {384}));
  Node *LN = B.node("LayerNormalization", {X, G, Beta}, {}, 3);
  ASSERT_NE(LN, nullptr);
  EXPECT_EQ(LN->result(0)->type().str(), "f32[batch, seq, 384]");
  EXPECT_EQ(LN->result(1)->type().str(), "f32[batch, seq, 1]");
  EXPECT_EQ(LN->result(2)->type().str(), "f32[batch, seq, 1]");
  Node *LN2 =
      B.node("LayerNormalization",
             {X, B.input("g2", TensorType(DType::F32, {sym("seq"), 384}))},
             {{"axis", int64_t(-2)}}, 2);
  ASSERT_NE(LN2, nullptr);
  EXPECT_EQ(LN2->result(1)->type().str(), "f32[batch, 1, 1]");
  Value *Bad = B.input("bad", TensorType(DType::F32, {383}));
  EXPECT_NE(B.inferError("LayerNormalization", {X, Bad}).find("broadcast"),
            std::string::npos);

  Node *D = B.node("Dropout", {X}, {}, 2);
  ASSERT_NE(D, nullptr);
  EXPECT_EQ(D->result(0)->type().str(), "f32[batch, seq, 384]");
  EXPECT_EQ(D->result(1)->type().str(), "bool[batch, seq, 384]");
}

TEST(OpsMathEval, LayerNormalizationMatchesDouble) {
  Tensor X = randomTensor(DType::F32, {2, 3, 8}, 81, -3, 3);
  Tensor Scale = randomTensor(DType::F32, {8}, 82, 0.5, 1.5);
  Tensor Bias = randomTensor(DType::F32, {8}, 83);
  std::vector<double> Y, Mean, InvStd;
  layerNormDouble(X.toDoubles(), 6, 8, Scale.toDoubles(), Bias.toDoubles(),
                  1e-5, Y, Mean, InvStd);
  expectNear(evalOp("LayerNormalization", {X, Scale, Bias}, {}, 3, 0), Y, 1e-5,
             "Y");
  Tensor M = evalOp("LayerNormalization", {X, Scale, Bias}, {}, 3, 1);
  EXPECT_EQ(M.sizes().vec(), (std::vector<int64_t>{2, 3, 1}));
  expectNear(M, Mean, 1e-6, "Mean");
  expectNear(evalOp("LayerNormalization", {X, Scale, Bias}, {}, 3, 2), InvStd,
             1e-5, "InvStdDev");

  // axis = -2 normalizes over the last two dims; no bias; large epsilon.
  Tensor Scale2 = randomTensor(DType::F32, {3, 8}, 84, 0.5, 1.5);
  std::vector<double> Zero(24, 0.0);
  layerNormDouble(X.toDoubles(), 2, 24, Scale2.toDoubles(), Zero, 0.5, Y, Mean,
                  InvStd);
  Tensor Y2 = evalOp("LayerNormalization", {X, Scale2},
                     {{"axis", int64_t(-2)}, {"epsilon", 0.5f}}, 3, 0);
  expectNear(Y2, Y, 1e-5, "axis -2");
  Tensor I2 = evalOp("LayerNormalization", {X, Scale2},
                     {{"axis", int64_t(-2)}, {"epsilon", 0.5f}}, 3, 2);
  EXPECT_EQ(I2.sizes().vec(), (std::vector<int64_t>{2, 1, 1}));
  expectNear(I2, InvStd, 1e-5, "axis -2 InvStdDev");

  // Half inputs: statistics in f32 (here double), output rounded to f16.
  Tensor XH = X.castTo(DType::F16), SH = Scale.castTo(DType::F16),
         BH = Bias.castTo(DType::F16);
  layerNormDouble(XH.toDoubles(), 6, 8, SH.toDoubles(), BH.toDoubles(), 1e-5, Y,
                  Mean, InvStd);
  Tensor YH = evalOp("LayerNormalization", {XH, SH, BH});
  EXPECT_EQ(YH.dtype(), DType::F16);
  expectNear(YH, Y, 2e-3, "f16");
  EXPECT_NE(
      evalError("LayerNormalization", {X, Scale}, {{"stash_type", "bf16"}})
          .find("unsupported"),
      std::string::npos);
}

TEST(OpsMathEval, DropoutIsIdentityAtInference) {
  Tensor X = randomTensor(DType::F32, {2, 5}, 91);
  Tensor Ratio = floats(DType::F32, {}, {0.3});
  expectNear(evalOp("Dropout", {X, Ratio}), X.toDoubles(), 0);
  Tensor Mask = evalOp("Dropout", {X}, {}, 2, 1);
  expectInts(Mask, DType::Bool, {2, 5}, std::vector<int64_t>(10, 1));

  // Training mode is unsupported unless the ratio is a constant zero.
  Builder B;
  Value *In = B.input("x", X.type());
  Value *True = B.constant("true", ints(DType::Bool, {}, {1}));
  Value *False = B.constant("false", ints(DType::Bool, {}, {0}));
  Value *Zero = B.constant("zero", floats(DType::F32, {}, {0.0}));
  Value *R = B.constant("ratio", Ratio);
  const OpDef *Def = lookupOp("Dropout");
  Node *Training = B.node("Dropout", {In, R, True});
  llvm::Error E = Def->Verify(*Training);
  ASSERT_TRUE(bool(E));
  EXPECT_EQ(llvm::toString(std::move(E)).find("unsupported"),
            Training->describe().size() + 2);
  EXPECT_FALSE(bool(Def->Verify(*B.node("Dropout", {In, R, False}))));
  EXPECT_FALSE(bool(Def->Verify(*B.node("Dropout", {In, Zero, True}))));
  Value *Runtime = B.input("training", TensorType(DType::Bool, {}));
  llvm::Error E2 = Def->Verify(*B.node("Dropout", {In, R, Runtime}));
  EXPECT_NE(llvm::toString(std::move(E2)).find("unsupported"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// End to end
//===----------------------------------------------------------------------===//

// A transformer-style block on symbolic shapes through the reference
// executor: y = LayerNorm(x + Gelu(x W + b)), pooled = ReduceMean(y, [1]).
TEST(OpsMathEval, SmallBlockRunsEndToEnd) {
  const int64_t Batch = 2, Seq = 3, Hidden = 4;
  Builder B;
  Value *X =
      B.input("x", TensorType(DType::F32, {sym("batch"), sym("seq"), Hidden}));
  Tensor WT = randomTensor(DType::F32, {Hidden, Hidden}, 101, -1, 1);
  Tensor BiasT = randomTensor(DType::F32, {Hidden}, 102);
  Tensor GammaT = randomTensor(DType::F32, {Hidden}, 103, 0.5, 1.5);
  Tensor BetaT = randomTensor(DType::F32, {Hidden}, 104);
  Value *W = B.constant("w", WT);
  Value *Bias = B.constant("bias", BiasT);
  Value *Gamma = B.constant("gamma", GammaT);
  Value *Beta = B.constant("beta", BetaT);
  Value *Axis = B.constant("axis", ints(DType::I64, {1}, {1}));
  Node *MM = B.node("MatMul", {X, W});
  Node *Add = B.node("Add", {MM->result(), Bias});
  Node *Act = B.node("Gelu", {Add->result()});
  Node *Res = B.node("Add", {X, Act->result()});
  Node *LN = B.node("LayerNormalization", {Res->result(), Gamma, Beta},
                    {{"epsilon", 1e-12f}});
  Node *Pool =
      B.node("ReduceMean", {LN->result(), Axis}, {{"keepdims", int64_t(0)}});
  ASSERT_NE(Pool, nullptr);
  EXPECT_EQ(Pool->result()->type().str(), "f32[batch, 4]");
  B.G.setOutputs({LN->result(), Pool->result()});

  Tensor XT = randomTensor(DType::F32, {Batch, Seq, Hidden}, 105);
  auto Out = runReference(B.G, {XT});
  ASSERT_TRUE(bool(Out)) << llvm::toString(Out.takeError());

  std::vector<double> XV = XT.toDoubles(), WV = WT.toDoubles();
  std::vector<double> H = naiveMatMul(XV, WV, Batch * Seq, Hidden, Hidden);
  for (int64_t I = 0; I < Batch * Seq * Hidden; ++I)
    H[I] = XV[I] + geluErf(H[I] + BiasT.getDouble(I % Hidden));
  std::vector<double> Y, Mean, InvStd;
  layerNormDouble(H, Batch * Seq, Hidden, GammaT.toDoubles(), BetaT.toDoubles(),
                  1e-12, Y, Mean, InvStd);
  expectNear((*Out)[0], Y, 1e-5, "LayerNorm");
  std::vector<double> Pooled(Batch * Hidden, 0.0);
  for (int64_t Bt = 0; Bt < Batch; ++Bt)
    for (int64_t S = 0; S < Seq; ++S)
      for (int64_t C = 0; C < Hidden; ++C)
        Pooled[Bt * Hidden + C] += Y[(Bt * Seq + S) * Hidden + C] / Seq;
  EXPECT_EQ((*Out)[1].sizes().vec(), (std::vector<int64_t>{Batch, Hidden}));
  expectNear((*Out)[1], Pooled, 1e-5, "pooled");
}

} // namespace
