//===- ElementwiseOps.cpp - single ONNX ops as elementwise kernels --------===//
//
// The expression each elementwise ONNX op computes (Add, Cast, Where, Clip,
// ...), in the functions generateElementwiseKernel knows, and the lowering
// rule that turns FusedElementwise and those ops into one generated kernel.
//
//===----------------------------------------------------------------------===//
#include "codegen/ElementwiseCodegen.h"

#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringSwitch.h"

namespace kiln {

namespace {

std::unique_ptr<Expr> operandExpr(unsigned I) {
  auto E = std::make_unique<Expr>();
  E->K = Expr::Kind::Operand;
  E->Operand = I;
  return E;
}

std::unique_ptr<Expr> numberExpr(double V) {
  auto E = std::make_unique<Expr>();
  E->Number = V;
  return E;
}

template <typename... Args>
std::unique_ptr<Expr> callExpr(llvm::StringRef Fn, Args... A) {
  auto E = std::make_unique<Expr>();
  E->K = Expr::Kind::Call;
  E->Fn = Fn.str();
  (E->Args.push_back(std::move(A)), ...);
  return E;
}

/// fn(...fn(fn(x0, x1), x2)..., xn): the variadic ops fold left to right.
std::unique_ptr<Expr> foldOperands(llvm::StringRef Fn, unsigned Count) {
  std::unique_ptr<Expr> E = operandExpr(0);
  for (unsigned I = 1; I < Count; ++I)
    E = callExpr(Fn, std::move(E), operandExpr(I));
  return E;
}

} // namespace

llvm::Expected<std::unique_ptr<Expr>> elementwiseOpExpr(const Node &N) {
  llvm::StringRef Op = N.opName();
  for (unsigned I = 0; I < N.numOperands(); ++I)
    if (!N.operand(I) && Op != "Clip")
      return makeError(N.describe() + ": operand " + llvm::Twine(I) +
                       " is missing");
  std::string Unary = llvm::StringSwitch<std::string>(Op)
                          .Case("Abs", "abs")
                          .Case("Neg", "neg")
                          .Case("Exp", "exp")
                          .Case("Log", "log")
                          .Case("Sqrt", "sqrt")
                          .Case("Reciprocal", "reciprocal")
                          .Case("Sigmoid", "sigmoid")
                          .Case("Tanh", "tanh")
                          .Case("Erf", "erf")
                          .Case("Floor", "floor")
                          .Case("Ceil", "ceil")
                          .Case("Round", "round")
                          .Case("Sign", "sign")
                          .Case("Sin", "sin")
                          .Case("Cos", "cos")
                          .Case("Not", "not")
                          .Case("IsNaN", "isnan")
                          .Case("Softplus", "softplus")
                          .Default("");
  if (!Unary.empty())
    return callExpr(Unary, operandExpr(0));
  std::string Binary = llvm::StringSwitch<std::string>(Op)
                           .Case("Add", "add")
                           .Case("Sub", "sub")
                           .Case("Mul", "mul")
                           .Case("Div", "div")
                           .Case("Equal", "eq")
                           .Case("Less", "lt")
                           .Case("LessOrEqual", "le")
                           .Case("Greater", "gt")
                           .Case("GreaterOrEqual", "ge")
                           .Case("And", "and")
                           .Case("Or", "or")
                           .Case("Xor", "xor")
                           .Default("");
  if (!Binary.empty())
    return callExpr(Binary, operandExpr(0), operandExpr(1));
  if (Op == "Max" || Op == "Min" || Op == "Sum")
    return foldOperands(Op == "Max"   ? "max"
                        : Op == "Min" ? "min"
                                      : "add",
                        N.numOperands());
  if (Op == "Mean")
    return callExpr("div", foldOperands("add", N.numOperands()),
                    numberExpr(N.numOperands()));
  if (Op == "Relu") // x < 0 ? 0 : x keeps NaN, as the ONNX reference does.
    return callExpr("where", callExpr("lt", operandExpr(0), numberExpr(0)),
                    numberExpr(0), operandExpr(0));
  if (Op == "Where")
    return callExpr("where", operandExpr(0), operandExpr(1), operandExpr(2));
  if (Op == "Mod")
    return callExpr(N.getInt("fmod", 0) ? "fmod" : "mod", operandExpr(0),
                    operandExpr(1));
  if (Op == "Pow") {
    // The exponent is read in the base's compute type; an integer base with
    // a floating-point exponent is computed in double.
    DType Base = N.operand(0)->dtype(), Exp = N.operand(1)->dtype();
    if (!isFloat(Base) && !isFloat(Exp))
      return callExpr("pow", operandExpr(0), operandExpr(1));
    if (!isFloat(Base))
      return callExpr("pow", callExpr("cast_f64", operandExpr(0)),
                      callExpr("cast_f64", operandExpr(1)));
    return callExpr(
        "pow", operandExpr(0),
        callExpr(Base == DType::F64 ? "cast_f64" : "cast_f32", operandExpr(1)));
  }
  if (Op == "Cast" || Op == "CastLike") {
    std::string To = Op == "Cast" ? N.getString("to", "")
                                  : dtypeName(N.operand(1)->dtype()).str();
    if (!parseDType(To))
      return makeError(N.describe() + ": unknown cast target '" + To + "'");
    return callExpr("cast_" + To, operandExpr(0));
  }
  if (Op == "Gelu")
    return callExpr(N.getString("approximate", "none") == "tanh" ? "gelu_tanh"
                                                                 : "gelu",
                    operandExpr(0));
  if (Op == "LeakyRelu")
    return callExpr("leaky_relu", operandExpr(0),
                    numberExpr(N.getFloat("alpha", 0.01f)));
  if (Op == "Elu")
    return callExpr("elu", operandExpr(0),
                    numberExpr(N.getFloat("alpha", 1.0f)));
  if (Op == "HardSigmoid")
    return callExpr("hard_sigmoid", operandExpr(0),
                    numberExpr(N.getFloat("alpha", 0.2f)),
                    numberExpr(N.getFloat("beta", 0.5f)));
  if (Op == "IsInf")
    return callExpr("isinf", operandExpr(0),
                    numberExpr(N.getInt("detect_negative", 1) != 0),
                    numberExpr(N.getInt("detect_positive", 1) != 0));
  if (Op == "Clip") {
    std::unique_ptr<Expr> E = operandExpr(0);
    if (N.numOperands() > 1 && N.operand(1))
      E = callExpr("clamp_lo", std::move(E), operandExpr(1));
    if (N.numOperands() > 2 && N.operand(2))
      E = callExpr("clamp_hi", std::move(E), operandExpr(2));
    return E;
  }
  return makeError(N.describe() + ": " + Op +
                   " is not an elementwise op with a generated kernel");
}

llvm::ArrayRef<llvm::StringRef> elementwiseKernelOps() {
  static const llvm::StringRef Ops[] = {"FusedElementwise",
                                        "Abs",
                                        "Neg",
                                        "Exp",
                                        "Log",
                                        "Sqrt",
                                        "Reciprocal",
                                        "Relu",
                                        "Sigmoid",
                                        "Tanh",
                                        "Erf",
                                        "Floor",
                                        "Ceil",
                                        "Round",
                                        "Sign",
                                        "Sin",
                                        "Cos",
                                        "Not",
                                        "IsNaN",
                                        "IsInf",
                                        "Gelu",
                                        "LeakyRelu",
                                        "Elu",
                                        "Softplus",
                                        "HardSigmoid",
                                        "Cast",
                                        "CastLike",
                                        "Pow",
                                        "Add",
                                        "Sub",
                                        "Mul",
                                        "Div",
                                        "Mod",
                                        "Max",
                                        "Min",
                                        "Sum",
                                        "Mean",
                                        "Equal",
                                        "Greater",
                                        "GreaterOrEqual",
                                        "Less",
                                        "LessOrEqual",
                                        "And",
                                        "Or",
                                        "Xor",
                                        "Where",
                                        "Clip"};
  return Ops;
}

llvm::Expected<NodeLowering> lowerElementwise(const Node &N,
                                              const TargetInfo &) {
  if (N.numResults() != 1)
    return makeError(N.describe() + ": expected one result");
  std::unique_ptr<Expr> E;
  IntegerMath Math = IntegerMath::Exact;
  if (N.opName() == "FusedElementwise") {
    auto Parsed = parseExpr(N.getString("expr", ""));
    if (!Parsed)
      return makeError(N.describe() + ": " + toString(Parsed.takeError()));
    E = std::move(*Parsed);
    Math = IntegerMath::ViaDouble;
  } else {
    auto Built = elementwiseOpExpr(N);
    if (!Built)
      return Built.takeError();
    E = std::move(*Built);
  }
  std::vector<const TensorType *> Types;
  for (const Value *V : N.operands())
    Types.push_back(V ? &V->type() : nullptr);
  auto K = generateElementwiseKernel(*E, Math, Types, N.result(0)->type());
  if (!K)
    return makeError(N.describe() + ": " + toString(K.takeError()));
  NodeLowering L;
  if (K->NumElements == 0)
    return L;
  KernelLaunch Launch;
  Launch.Module = K->Module;
  Launch.Source = K->Source;
  Launch.NameExpr = K->KernelName;
  Launch.Grid[0] = uint32_t((K->NumElements + ElementwiseBlockSize - 1) /
                            ElementwiseBlockSize);
  Launch.Block[0] = uint32_t(ElementwiseBlockSize);
  for (unsigned I : K->Operands)
    Launch.Args.push_back(LaunchArg::operand(I));
  Launch.Args.push_back(LaunchArg::result(0));
  L.Launches.push_back(std::move(Launch));
  return L;
}

} // namespace kiln
