//===- UnaryOps.cpp - elementwise ops of one operand ----------------------===//
//
// ONNX's unary math and activations and its casts, in their opset-21 form.
// Cast also carries integer shape values through (exporters cast shapes).
//
//===----------------------------------------------------------------------===//

#include "ir/ops/MathKernels.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

namespace kiln {
namespace {

using llvm::Error;

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

/// A unary op applying a scalar function in the compute type. `Make` binds
/// the node's attributes: Make(Node) returns the function `(auto X) -> ...`.
/// Float-only ops are instantiated for float and double only.
template <TypeClass Class, typename MakeFn>
OpDef unaryOp(llvm::StringRef Name, llvm::StringRef Summary, MakeFn Make,
              std::vector<AttrSpec> Attrs = {}, bool BoolResult = false) {
  OpDef D;
  D.Name = Name.str();
  D.Summary = Summary.str();
  D.MinInputs = D.MaxInputs = 1;
  D.Attrs = std::move(Attrs);
  D.Elementwise = true;
  D.Infer = [BoolResult](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, Class))
      return E;
    TensorType T = Ctx.inputType(0);
    if (BoolResult)
      T.Elem = DType::Bool;
    Ctx.setOutputType(0, std::move(T));
    return Error::success();
  };
  D.Eval = [Make, BoolResult](EvalContext &Ctx) -> Error {
    const Tensor &X = *Ctx.input(0);
    DType Out = BoolResult ? DType::Bool : X.dtype();
    auto Fn = Make(Ctx.node());
    auto Apply = [&](auto Tag) {
      using C = decltype(Tag);
      std::vector<C> V = loadAs<C>(X);
      for (C &E : V)
        E = C(Fn(E));
      return storeAs<C>(Out, X.sizes().vec(), V);
    };
    if constexpr (Class == TypeClass::Float)
      Ctx.setOutput(0, dispatchFloat(X.dtype(), Apply));
    else
      Ctx.setOutput(0, dispatchCompute(X.dtype(), Apply));
    return Error::success();
  };
  return D;
}

Error verifyGelu(const Node &N) {
  std::string Approx = N.getString("approximate", "none");
  if (Approx != "none" && Approx != "tanh")
    return makeError(N.describe() +
                     ": approximate must be \"none\" or "
                     "\"tanh\", got \"" +
                     Approx + "\"");
  return Error::success();
}

void registerMathOps(OpRegistry &R) {
  using TC = TypeClass;
  addOp(R, unaryOp<TC::Numeric>("Abs", "absolute value", plain([](auto X) {
                                  return X < decltype(X)(0) ? wrapNeg(X) : X;
                                })));
  addOp(R, unaryOp<TC::Signed>("Neg", "negation",
                               plain([](auto X) { return wrapNeg(X); })));
  addOp(R, unaryOp<TC::Float>("Exp", "e^x",
                              plain([](auto X) { return std::exp(X); })));
  addOp(R, unaryOp<TC::Float>("Log", "natural logarithm",
                              plain([](auto X) { return std::log(X); })));
  addOp(R, unaryOp<TC::Float>("Sqrt", "square root",
                              plain([](auto X) { return std::sqrt(X); })));
  addOp(R, unaryOp<TC::Float>("Reciprocal", "1 / x", plain([](auto X) {
                                return decltype(X)(1) / X;
                              })));
  addOp(R, unaryOp<TC::Signed>("Relu", "max(x, 0)", plain([](auto X) {
                                 return X < decltype(X)(0) ? decltype(X)(0) : X;
                               })));
  addOp(R, unaryOp<TC::Float>("Sigmoid", "1 / (1 + e^-x)", plain([](auto X) {
                                using T = decltype(X);
                                return T(1) / (T(1) + std::exp(-X));
                              })));
  addOp(R, unaryOp<TC::Float>("Tanh", "hyperbolic tangent",
                              plain([](auto X) { return std::tanh(X); })));
  addOp(R, unaryOp<TC::Numeric>("Erf", "error function", plain([](auto X) {
                                  if constexpr (std::is_integral_v<decltype(X)>)
                                    return std::erf(double(X));
                                  else
                                    return std::erf(X);
                                })));
  addOp(R, unaryOp<TC::Float>("Floor", "round down",
                              plain([](auto X) { return std::floor(X); })));
  addOp(R, unaryOp<TC::Float>("Ceil", "round up",
                              plain([](auto X) { return std::ceil(X); })));
  // nearbyint rounds in the default mode, to nearest with ties to even.
  addOp(R, unaryOp<TC::Float>("Round", "round half to even",
                              plain([](auto X) { return std::nearbyint(X); })));
  addOp(R, unaryOp<TC::Numeric>("Sign", "-1, 0 or 1", plain([](auto X) {
                                  using T = decltype(X);
                                  return X > T(0)   ? T(1)
                                         : X < T(0) ? T(-1)
                                                    : X; // keeps NaN
                                })));
  addOp(R, unaryOp<TC::Float>("Sin", "sine",
                              plain([](auto X) { return std::sin(X); })));
  addOp(R, unaryOp<TC::Float>("Cos", "cosine",
                              plain([](auto X) { return std::cos(X); })));
  addOp(R, unaryOp<TC::Bool>("Not", "logical not",
                             plain([](auto X) { return X == 0; })));
  addOp(R, unaryOp<TC::Float>("IsNaN", "x is NaN",
                              plain([](auto X) { return std::isnan(X); }), {},
                              /*BoolResult=*/true));
  addOp(R, unaryOp<TC::Float>(
               "IsInf", "x is an infinity of a detected sign",
               [](const Node &N) {
                 bool Neg = N.getInt("detect_negative", 1) != 0;
                 bool Pos = N.getInt("detect_positive", 1) != 0;
                 return [Neg, Pos](auto X) {
                   return std::isinf(X) && (X > 0 ? Pos : Neg);
                 };
               },
               {{"detect_negative", AttrKind::Int},
                {"detect_positive", AttrKind::Int}},
               /*BoolResult=*/true));

  OpDef Gelu = unaryOp<TC::Float>(
      "Gelu", "Gaussian error linear unit",
      [](const Node &N) {
        bool Tanh = N.getString("approximate", "none") == "tanh";
        return [Tanh](auto X) {
          using T = decltype(X);
          if (Tanh) // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
            return T(0.5) * X *
                   (T(1) + std::tanh(T(0.7978845608028654) *
                                     (X + T(0.044715) * X * X * X)));
          // 0.5 x (1 + erf(x / sqrt(2)))
          return T(0.5) * X * (T(1) + std::erf(X * T(0.7071067811865476)));
        };
      },
      {{"approximate", AttrKind::String}});
  Gelu.Verify = verifyGelu;
  addOp(R, std::move(Gelu));

  addOp(R, unaryOp<TC::Float>("LeakyRelu", "x < 0 ? alpha x : x",
                              [](const Node &N) {
                                float Alpha = N.getFloat("alpha", 0.01f);
                                return [Alpha](auto X) {
                                  using T = decltype(X);
                                  return X < T(0) ? T(Alpha) * X : X;
                                };
                              },
                              {{"alpha", AttrKind::Float}}));
  addOp(R, unaryOp<TC::Float>("Elu", "x < 0 ? alpha (e^x - 1) : x",
                              [](const Node &N) {
                                float Alpha = N.getFloat("alpha", 1.0f);
                                return [Alpha](auto X) {
                                  using T = decltype(X);
                                  return X < T(0) ? T(Alpha) * std::expm1(X)
                                                  : X;
                                };
                              },
                              {{"alpha", AttrKind::Float}}));
  // log(1 + e^x), arranged so that e^x cannot overflow.
  addOp(R, unaryOp<TC::Float>("Softplus", "log(1 + e^x)", plain([](auto X) {
                                using T = decltype(X);
                                return X > T(0) ? X + std::log1p(std::exp(-X))
                                                : std::log1p(std::exp(X));
                              })));
  addOp(R, unaryOp<TC::Float>(
               "HardSigmoid", "max(0, min(1, alpha x + beta))",
               [](const Node &N) {
                 float Alpha = N.getFloat("alpha", 0.2f);
                 float Beta = N.getFloat("beta", 0.5f);
                 return [Alpha, Beta](auto X) {
                   using T = decltype(X);
                   T Y = T(Alpha) * X + T(Beta);
                   return std::max(T(0), std::min(T(1), Y));
                 };
               },
               {{"alpha", AttrKind::Float}, {"beta", AttrKind::Float}}));
}

//===----------------------------------------------------------------------===//
// Casts
//===----------------------------------------------------------------------===//

/// Integer and bool shape values survive a cast to another integer or bool
/// type (values too large for a narrow type do not occur in shapes).
std::optional<std::vector<Dim>> castShapeValue(const InferContext &Ctx,
                                               DType To) {
  const std::vector<Dim> *V = Ctx.inputShapeValue(0);
  if (!V || isFloat(Ctx.inputType(0).Elem) || isFloat(To))
    return std::nullopt;
  if (To != DType::Bool)
    return *V;
  std::vector<Dim> Out;
  for (const Dim &D : *V)
    Out.push_back(D.isStatic() ? Dim(D.value() != 0) : Dim::unknown());
  return Out;
}

Error verifyCast(const Node &N) {
  std::string To = N.getString("to", "");
  if (!parseDType(To))
    return makeError(N.describe() + ": unsupported cast target type '" + To +
                     "'");
  return Error::success();
}

void registerCastOps(OpRegistry &R) {
  OpDef Cast;
  Cast.Name = "Cast";
  Cast.Summary = "converts to the element type `to`";
  Cast.MinInputs = Cast.MaxInputs = 1;
  Cast.Attrs = {{"to", AttrKind::String, /*Required=*/true},
                {"saturate", AttrKind::Int}};
  Cast.Elementwise = true;
  Cast.Verify = verifyCast;
  Cast.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = verifyCast(Ctx.node()))
      return E;
    DType To = *parseDType(Ctx.node().getString("to", ""));
    Ctx.setOutputType(0, TensorType(To, Ctx.inputType(0).Dims));
    if (auto V = castShapeValue(Ctx, To))
      Ctx.setOutputShapeValue(0, std::move(*V));
    return Error::success();
  };
  Cast.Eval = [](EvalContext &Ctx) -> Error {
    DType To = *parseDType(Ctx.node().getString("to", ""));
    Ctx.setOutput(0, Ctx.input(0)->castTo(To));
    return Error::success();
  };
  addOp(R, std::move(Cast));

  OpDef CastLike;
  CastLike.Name = "CastLike";
  CastLike.Summary = "converts to the element type of the second operand";
  CastLike.MinInputs = CastLike.MaxInputs = 2;
  CastLike.Attrs = {{"saturate", AttrKind::Int}};
  CastLike.Elementwise = true;
  CastLike.Infer = [](InferContext &Ctx) -> Error {
    DType To = Ctx.inputType(1).Elem;
    Ctx.setOutputType(0, TensorType(To, Ctx.inputType(0).Dims));
    if (auto V = castShapeValue(Ctx, To))
      Ctx.setOutputShapeValue(0, std::move(*V));
    return Error::success();
  };
  CastLike.Eval = [](EvalContext &Ctx) -> Error {
    Ctx.setOutput(0, Ctx.input(0)->castTo(Ctx.input(1)->dtype()));
    return Error::success();
  };
  addOp(R, std::move(CastLike));
}

} // namespace

void registerUnaryOps(OpRegistry &R) {
  registerMathOps(R);
  registerCastOps(R);
}

} // namespace kiln
