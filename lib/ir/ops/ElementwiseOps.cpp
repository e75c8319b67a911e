//===- ElementwiseOps.cpp - broadcasting elementwise ops ------------------===//
//
// ONNX's elementwise ops of several operands: broadcasting arithmetic,
// comparisons and logic, the variadic Max/Min/Sum/Mean, Where and Clip
// (UnaryOps.cpp has those of one operand). The integer arithmetic also
// carries shape values through, because exporters compute reshape targets
// with it (Shape -> Gather -> Mul -> Concat).
//
//===----------------------------------------------------------------------===//

#include "ir/DimProducts.h"
#include "ir/ops/MathKernels.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

namespace kiln {
namespace {

using llvm::Error;

//===----------------------------------------------------------------------===//
// Broadcasting
//===----------------------------------------------------------------------===//

/// The broadcast shape of the present operands among `Inputs`.
llvm::Expected<Shape> broadcastInputs(const InferContext &Ctx,
                                      llvm::ArrayRef<unsigned> Inputs) {
  std::vector<Shape> Shapes;
  std::string Types;
  for (unsigned I : Inputs) {
    if (!Ctx.hasInput(I))
      continue;
    Shapes.push_back(Ctx.inputType(I).Dims);
    Types += (Types.empty() ? "" : ", ") + Ctx.inputType(I).str();
  }
  auto Out = broadcastShapes(Shapes);
  if (!Out)
    return Ctx.error("operands " + Types +
                     " do not broadcast: " + llvm::toString(Out.takeError()));
  return Out;
}

/// The broadcast sizes of the present operands among `Inputs`.
llvm::Expected<std::vector<int64_t>>
broadcastInputs(const EvalContext &Ctx, llvm::ArrayRef<unsigned> Inputs) {
  std::vector<std::vector<int64_t>> Sizes;
  std::string Shapes;
  for (unsigned I : Inputs) {
    if (!Ctx.hasInput(I))
      continue;
    Sizes.push_back(Ctx.input(I)->sizes().vec());
    Shapes += (Shapes.empty() ? "" : ", ") + sizesStr(Sizes.back());
  }
  auto Out = broadcastSizes(Sizes);
  if (!Out)
    return Ctx.error("operands of shapes " + Shapes +
                     " do not broadcast: " + llvm::toString(Out.takeError()));
  return Out;
}

/// Fn(A[i], B[i]) over the broadcast of A and B to `OutSizes`.
template <typename C, typename F>
std::vector<C>
broadcastApply(llvm::ArrayRef<int64_t> OutSizes, const std::vector<C> &A,
               llvm::ArrayRef<int64_t> ASizes, const std::vector<C> &B,
               llvm::ArrayRef<int64_t> BSizes, F &&Fn) {
  std::vector<C> Out(numElementsOf(OutSizes));
  if (ASizes == OutSizes && BSizes == OutSizes) {
    for (size_t I = 0; I < Out.size(); ++I)
      Out[I] = C(Fn(A[I], B[I]));
    return Out;
  }
  forEachBroadcast<2>(
      OutSizes,
      {broadcastStrides(ASizes, OutSizes), broadcastStrides(BSizes, OutSizes)},
      [&](int64_t I, const std::array<int64_t, 2> &Offs) {
        Out[I] = C(Fn(A[Offs[0]], B[Offs[1]]));
      });
  return Out;
}

//===----------------------------------------------------------------------===//
// Shape values
//===----------------------------------------------------------------------===//

/// Shape values are the contents of small tensors only (as for constants).
constexpr int64_t MaxShapeValueElements = 64;

/// What one element of a shape value becomes under a binary op.
using DimFn = Dim (*)(const Dim &, const Dim &);

bool isValue(const Dim &D, int64_t V) { return D.isStatic() && D.value() == V; }

/// A static dim, or unknown for what no dim can hold (negative, overflowed).
Dim staticDim(std::optional<int64_t> V) {
  return V && *V >= 0 ? Dim(*V) : Dim::unknown();
}

Dim addDims(const Dim &A, const Dim &B) {
  int64_t R;
  if (A.isStatic() && B.isStatic())
    return staticDim(__builtin_add_overflow(A.value(), B.value(), &R)
                         ? std::nullopt
                         : std::optional(R));
  if (isValue(B, 0))
    return A;
  if (isValue(A, 0))
    return B;
  return Dim::unknown();
}

Dim subDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic())
    return staticDim(A.value() - B.value());
  if (isValue(B, 0))
    return A;
  if (A.sameAs(B))
    return Dim(0);
  return Dim::unknown();
}

Dim mulDims(const Dim &A, const Dim &B) {
  int64_t R;
  if (A.isStatic() && B.isStatic())
    return staticDim(__builtin_mul_overflow(A.value(), B.value(), &R)
                         ? std::nullopt
                         : std::optional(R));
  if (isValue(A, 0) || isValue(B, 0))
    return Dim(0);
  if (isValue(B, 1))
    return A;
  if (isValue(A, 1))
    return B;
  return mulDimProducts(A, B); // batch * 4 = 4*batch (DimProducts.h)
}

Dim divDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic())
    return B.value() == 0 ? Dim::unknown() : Dim(A.value() / B.value());
  if (isValue(B, 1))
    return A;
  return divDimProducts(A, B); // 4*batch / 4 = batch, exact only
}

// Dims are never negative, so 0 is the identity of Max and absorbs Min.
Dim maxDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic())
    return Dim(std::max(A.value(), B.value()));
  if (A.sameAs(B) || isValue(B, 0))
    return A;
  if (isValue(A, 0))
    return B;
  return Dim::unknown();
}

Dim minDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic())
    return Dim(std::min(A.value(), B.value()));
  if (A.sameAs(B))
    return A;
  if (isValue(A, 0) || isValue(B, 0))
    return Dim(0);
  return Dim::unknown();
}

Dim equalDims(const Dim &A, const Dim &B) {
  std::optional<int64_t> IA = shapeValueInt(A), IB = shapeValueInt(B);
  if (IA && IB)
    return Dim(*IA == *IB);
  // A size is never negative: exporters compare shapes against -1.
  if ((A.isSymbol() && IB && *IB < 0) || (B.isSymbol() && IA && *IA < 0))
    return Dim(0);
  if (A.sameAs(B))
    return Dim(1);
  return Dim::unknown();
}

/// Fn over two shape values, broadcasting a single element; nullopt when
/// either is missing, they do not broadcast, or nothing is known.
std::optional<std::vector<Dim>> combineShapeValues(const std::vector<Dim> *A,
                                                   const std::vector<Dim> *B,
                                                   DimFn Fn) {
  if (!A || !B)
    return std::nullopt;
  size_t N = std::max(A->size(), B->size());
  if ((A->size() != N && A->size() != 1) || (B->size() != N && B->size() != 1))
    return std::nullopt;
  std::vector<Dim> Out;
  bool AnyKnown = false;
  for (size_t I = 0; I < N; ++I) {
    Out.push_back(
        Fn((*A)[A->size() == 1 ? 0 : I], (*B)[B->size() == 1 ? 0 : I]));
    AnyKnown |= !Out.back().isUnknown() || shapeValueInt(Out.back());
  }
  if (!AnyKnown)
    return std::nullopt;
  return Out;
}

//===----------------------------------------------------------------------===//
// Binary and variadic ops
//===----------------------------------------------------------------------===//

/// How a broadcasting op forms its result.
struct FoldKind {
  bool BoolResult = false;
  /// One or more operands instead of exactly two.
  bool Variadic = false;
  /// Divides the fold by the operand count (Mean).
  bool Average = false;
};

/// A broadcasting op over operands of one dtype, folding Fn over them left
/// to right in the compute type. `Make` binds attributes like unaryOp's;
/// `ShapeFn`, when given, is what the op does to shape values.
template <typename MakeFn>
OpDef broadcastOp(llvm::StringRef Name, llvm::StringRef Summary,
                  TypeClass Class, FoldKind Kind, MakeFn Make,
                  DimFn ShapeFn = nullptr) {
  bool BoolResult = Kind.BoolResult, Variadic = Kind.Variadic;
  OpDef D;
  D.Name = Name.str();
  D.Summary = Summary.str();
  D.MinInputs = Variadic ? 1 : 2;
  D.MaxInputs = Variadic ? kiln::Variadic : 2;
  D.Elementwise = true;
  D.Infer = [Class, BoolResult, ShapeFn](InferContext &Ctx) -> Error {
    std::vector<unsigned> All;
    for (unsigned I = 0; I < Ctx.numInputs(); ++I) {
      if (!Ctx.hasInput(I))
        return Ctx.error("operand " + llvm::Twine(I) + " is missing");
      if (Error E = checkInputClass(Ctx, I, Class))
        return E;
      if (Error E = checkSameDType(Ctx, I))
        return E;
      All.push_back(I);
    }
    auto Dims = broadcastInputs(Ctx, All);
    if (!Dims)
      return Dims.takeError();
    DType Out = BoolResult ? DType::Bool : Ctx.inputType(0).Elem;
    Ctx.setOutputType(0, TensorType(Out, std::move(*Dims)));
    if (!ShapeFn)
      return Error::success();
    std::optional<std::vector<Dim>> V;
    if (const std::vector<Dim> *First = Ctx.inputShapeValue(0))
      V = *First;
    for (unsigned I = 1; I < Ctx.numInputs() && V; ++I)
      V = combineShapeValues(&*V, Ctx.inputShapeValue(I), ShapeFn);
    if (V)
      Ctx.setOutputShapeValue(0, std::move(*V));
    return Error::success();
  };
  D.Eval = [BoolResult, Average = Kind.Average,
            Make](EvalContext &Ctx) -> Error {
    std::vector<unsigned> All;
    for (unsigned I = 0; I < Ctx.numInputs(); ++I) {
      if (!Ctx.hasInput(I))
        return Ctx.error("operand " + llvm::Twine(I) + " is missing");
      All.push_back(I);
    }
    auto OutSizes = broadcastInputs(Ctx, All);
    if (!OutSizes)
      return OutSizes.takeError();
    auto Fn = Make(Ctx.node());
    const Tensor &First = *Ctx.input(0);
    DType Out = BoolResult ? DType::Bool : First.dtype();
    Ctx.setOutput(
        0, dispatchCompute(First.dtype(), [&](auto Tag) {
          using C = decltype(Tag);
          std::vector<C> Acc = loadAs<C>(First);
          std::vector<int64_t> AccSizes = First.sizes().vec();
          for (unsigned I = 1; I < Ctx.numInputs(); ++I) {
            const Tensor &Next = *Ctx.input(I);
            std::vector<int64_t> Sizes = AccSizes;
            if (auto S = broadcastSizes({AccSizes, Next.sizes().vec()}))
              Sizes = std::move(*S);
            else
              llvm::consumeError(
                  S.takeError()); // checked for all operands above
            Acc = broadcastApply<C>(Sizes, Acc, AccSizes, loadAs<C>(Next),
                                    Next.sizes(), Fn);
            AccSizes = std::move(Sizes);
          }
          if (Average)
            for (C &X : Acc)
              X /= C(Ctx.numInputs());
          return storeAs<C>(Out, std::move(AccSizes), Acc);
        }));
    return Error::success();
  };
  return D;
}

OpDef binaryOp(llvm::StringRef Name, llvm::StringRef Summary, TypeClass Class,
               auto Fn, DimFn ShapeFn = nullptr) {
  return broadcastOp(Name, Summary, Class, FoldKind{}, plain(Fn), ShapeFn);
}

OpDef compareOp(llvm::StringRef Name, llvm::StringRef Summary, TypeClass Class,
                auto Fn, DimFn ShapeFn = nullptr) {
  return broadcastOp(Name, Summary, Class, FoldKind{.BoolResult = true},
                     plain(Fn), ShapeFn);
}

/// Integer division truncates toward zero (as ONNX's Div and C do); a zero
/// divisor gives 0 rather than a trap.
template <typename T> T divide(T A, T B) {
  if constexpr (std::is_integral_v<T>) {
    if (B == 0)
      return 0;
    if (B == -1)
      return wrapNeg(A);
  }
  return A / B;
}

/// ONNX Mod: with fmod the remainder takes the dividend's sign (C fmod),
/// without it the divisor's (Python's %). Floats require fmod.
template <typename T> T modulo(T A, T B, bool Fmod) {
  T R;
  if constexpr (std::is_integral_v<T>) {
    if (B == 0 || B == -1)
      return 0;
    R = A % B;
  } else {
    R = std::fmod(A, B);
  }
  if (!Fmod && R != 0 && ((R < 0) != (B < 0)))
    R += B;
  return R;
}

template <typename T> T power(T Base, T Exp) {
  if constexpr (std::is_integral_v<T>) {
    if (Exp < 0)
      return Base == 1 ? 1 : Base == -1 ? (Exp % 2 ? -1 : 1) : 0;
    T Result = 1;
    for (; Exp; Exp >>= 1, Base = wrapMul(Base, Base))
      if (Exp & 1)
        Result = wrapMul(Result, Base);
    return Result;
  } else {
    return std::pow(Base, Exp);
  }
}

Error verifyMod(const Node &N) {
  int64_t Fmod = N.getInt("fmod", 0);
  if (Fmod != 0 && Fmod != 1)
    return makeError(N.describe() + ": fmod must be 0 or 1, got " +
                     llvm::Twine(Fmod));
  if (!Fmod && N.operand(0) && isFloat(N.operand(0)->dtype()))
    return makeError(N.describe() +
                     ": Mod of floating-point operands needs fmod = 1");
  return Error::success();
}

/// Pow: the exponent may have another numeric type than the base; the
/// result has the base's. Integer powers of integers are exact; an integer
/// base with a float exponent is computed in double and truncated.
OpDef powOp() {
  OpDef D;
  D.Name = "Pow";
  D.Summary = "x^y, in the type of x";
  D.MinInputs = D.MaxInputs = 2;
  D.Elementwise = true;
  D.Infer = [](InferContext &Ctx) -> Error {
    for (unsigned I = 0; I < 2; ++I)
      if (Error E = checkInputClass(Ctx, I, TypeClass::Numeric))
        return E;
    auto Dims = broadcastInputs(Ctx, {0, 1});
    if (!Dims)
      return Dims.takeError();
    Ctx.setOutputType(0, TensorType(Ctx.inputType(0).Elem, std::move(*Dims)));
    return Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> Error {
    auto OutSizes = broadcastInputs(Ctx, {0, 1});
    if (!OutSizes)
      return OutSizes.takeError();
    const Tensor &X = *Ctx.input(0), &Y = *Ctx.input(1);
    DType Compute = X.dtype();
    if (!isFloat(X.dtype()) && isFloat(Y.dtype()))
      Compute = DType::F64;
    Ctx.setOutput(0, dispatchCompute(Compute, [&](auto Tag) {
                    using C = decltype(Tag);
                    return storeAs<C>(X.dtype(), *OutSizes,
                                      broadcastApply<C>(*OutSizes, loadAs<C>(X),
                                                        X.sizes(), loadAs<C>(Y),
                                                        Y.sizes(), power<C>));
                  }));
    return Error::success();
  };
  return D;
}

OpDef commutative(OpDef D) {
  D.Commutative = true;
  return D;
}

void registerBinaryOps(OpRegistry &R) {
  using TC = TypeClass;
  addOp(R, commutative(binaryOp(
               "Add", "a + b", TC::Numeric,
               [](auto A, auto B) { return wrapAdd(A, B); }, addDims)));
  addOp(R, binaryOp(
               "Sub", "a - b", TC::Numeric,
               [](auto A, auto B) { return wrapSub(A, B); }, subDims));
  addOp(R, commutative(binaryOp(
               "Mul", "a * b", TC::Numeric,
               [](auto A, auto B) { return wrapMul(A, B); }, mulDims)));
  addOp(R, binaryOp(
               "Div", "a / b (integers truncate)", TC::Numeric,
               [](auto A, auto B) { return divide(A, B); }, divDims));
  addOp(R, powOp());

  OpDef Mod = broadcastOp(
      "Mod", "remainder of a / b", TC::Numeric, FoldKind{}, [](const Node &N) {
        bool Fmod = N.getInt("fmod", 0) != 0;
        return [Fmod](auto A, auto B) { return modulo(A, B, Fmod); };
      });
  Mod.Attrs = {{"fmod", AttrKind::Int}};
  Mod.Verify = verifyMod;
  addOp(R, std::move(Mod));

  // NaN propagates through Max and Min, as in numpy's maximum/minimum.
  auto Max = [](auto A, auto B) { return A != A || A > B ? A : B; };
  auto Min = [](auto A, auto B) { return A != A || A < B ? A : B; };
  auto Add = [](auto A, auto B) { return wrapAdd(A, B); };
  FoldKind Variadic{.Variadic = true};
  addOp(R, commutative(broadcastOp("Max", "elementwise maximum", TC::Numeric,
                                   Variadic, plain(Max), maxDims)));
  addOp(R, commutative(broadcastOp("Min", "elementwise minimum", TC::Numeric,
                                   Variadic, plain(Min), minDims)));
  addOp(R, commutative(broadcastOp("Sum", "elementwise sum", TC::Numeric,
                                   Variadic, plain(Add))));
  addOp(R,
        broadcastOp("Mean", "elementwise mean", TC::Float,
                    FoldKind{.Variadic = true, .Average = true}, plain(Add)));

  addOp(R, commutative(compareOp(
               "Equal", "a == b", TC::Any,
               [](auto A, auto B) { return A == B; }, equalDims)));
  addOp(R, compareOp("Greater", "a > b", TC::Numeric,
                     [](auto A, auto B) { return A > B; }));
  addOp(R, compareOp("GreaterOrEqual", "a >= b", TC::Numeric,
                     [](auto A, auto B) { return A >= B; }));
  addOp(R, compareOp("Less", "a < b", TC::Numeric,
                     [](auto A, auto B) { return A < B; }));
  addOp(R, compareOp("LessOrEqual", "a <= b", TC::Numeric,
                     [](auto A, auto B) { return A <= B; }));
  addOp(R, commutative(compareOp("And", "logical and", TC::Bool,
                                 [](auto A, auto B) { return A && B; })));
  addOp(R, commutative(compareOp("Or", "logical or", TC::Bool,
                                 [](auto A, auto B) { return A || B; })));
  addOp(R, compareOp("Xor", "logical exclusive or", TC::Bool,
                     [](auto A, auto B) { return (A != 0) != (B != 0); }));
}

//===----------------------------------------------------------------------===//
// Where and Clip
//===----------------------------------------------------------------------===//

/// The shape value of operand I, or one of unknowns when only its element
/// count is known.
std::optional<std::vector<Dim>> shapeValueOrUnknown(const InferContext &Ctx,
                                                    unsigned I) {
  if (const std::vector<Dim> *V = Ctx.inputShapeValue(I))
    return *V;
  int64_t N = Ctx.inputType(I).staticNumElements();
  if (N < 0 || N > MaxShapeValueElements || Ctx.inputType(I).rank() > 1)
    return std::nullopt;
  return std::vector<Dim>(N, Dim::unknown());
}

/// Where selects between shape values when the condition is known: a shape
/// value of static entries (from Equal) or a small bool constant.
std::optional<std::vector<Dim>> whereShapeValue(const InferContext &Ctx) {
  std::optional<std::vector<Dim>> Cond;
  if (const std::vector<Dim> *V = Ctx.inputShapeValue(0))
    Cond = *V;
  else if (const Tensor *T = Ctx.inputConstant(0);
           T && T->rank() <= 1 && T->numElements() <= MaxShapeValueElements) {
    Cond.emplace();
    for (int64_t V : T->toInts())
      Cond->push_back(Dim(V));
  }
  if (!Cond || !llvm::all_of(*Cond, [](const Dim &D) { return D.isStatic(); }))
    return std::nullopt;
  auto X = shapeValueOrUnknown(Ctx, 1), Y = shapeValueOrUnknown(Ctx, 2);
  if (!X || !Y)
    return std::nullopt;
  size_t N = std::max({Cond->size(), X->size(), Y->size()});
  for (size_t S : {Cond->size(), X->size(), Y->size()})
    if (S != N && S != 1)
      return std::nullopt;
  auto At = [](const std::vector<Dim> &V, size_t I) {
    return V[V.size() == 1 ? 0 : I];
  };
  std::vector<Dim> Out;
  for (size_t I = 0; I < N; ++I)
    Out.push_back(At(*Cond, I).value() ? At(*X, I) : At(*Y, I));
  return Out;
}

OpDef whereOp() {
  OpDef D;
  D.Name = "Where";
  D.Summary = "cond ? x : y, broadcasting all three";
  D.MinInputs = D.MaxInputs = 3;
  D.Elementwise = true;
  D.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, TypeClass::Bool))
      return E;
    if (Ctx.inputType(1).Elem != Ctx.inputType(2).Elem)
      return Ctx.error("operands " + Ctx.inputType(1).str() + " and " +
                       Ctx.inputType(2).str() + " differ in element type");
    auto Dims = broadcastInputs(Ctx, {0, 1, 2});
    if (!Dims)
      return Dims.takeError();
    Ctx.setOutputType(0, TensorType(Ctx.inputType(1).Elem, std::move(*Dims)));
    if (auto V = whereShapeValue(Ctx))
      Ctx.setOutputShapeValue(0, std::move(*V));
    return Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> Error {
    auto OutSizes = broadcastInputs(Ctx, {0, 1, 2});
    if (!OutSizes)
      return OutSizes.takeError();
    const Tensor &Cond = *Ctx.input(0), &X = *Ctx.input(1), &Y = *Ctx.input(2);
    Ctx.setOutput(0, dispatchCompute(X.dtype(), [&](auto Tag) {
                    using C = decltype(Tag);
                    std::vector<C> CondV = loadAs<C>(Cond), XV = loadAs<C>(X),
                                   YV = loadAs<C>(Y);
                    std::vector<C> Out(numElementsOf(*OutSizes));
                    forEachBroadcast<3>(
                        *OutSizes,
                        {broadcastStrides(Cond.sizes(), *OutSizes),
                         broadcastStrides(X.sizes(), *OutSizes),
                         broadcastStrides(Y.sizes(), *OutSizes)},
                        [&](int64_t I, const std::array<int64_t, 3> &Offs) {
                          Out[I] = CondV[Offs[0]] != C(0) ? XV[Offs[1]]
                                                          : YV[Offs[2]];
                        });
                    return storeAs<C>(X.dtype(), *OutSizes, Out);
                  }));
    return Error::success();
  };
  return D;
}

OpDef clipOp() {
  OpDef D;
  D.Name = "Clip";
  D.Summary = "min(max(x, min), max) with optional scalar bounds";
  D.MinInputs = 1;
  D.MaxInputs = 3;
  D.Elementwise = true;
  D.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, TypeClass::Numeric))
      return E;
    for (unsigned I = 1; I < Ctx.numInputs(); ++I) {
      if (!Ctx.hasInput(I))
        continue;
      if (Error E = checkSameDType(Ctx, I))
        return E;
      int64_t N = Ctx.inputType(I).staticNumElements();
      if (N >= 0 && N != 1)
        return Ctx.error("bound " + Ctx.inputType(I).str() +
                         " is not a scalar");
    }
    Ctx.setOutputType(0, Ctx.inputType(0));
    return Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> Error {
    for (unsigned I = 1; I < Ctx.numInputs(); ++I)
      if (Ctx.hasInput(I) && Ctx.input(I)->numElements() != 1)
        return Ctx.error("bound of shape " + sizesStr(Ctx.input(I)->sizes()) +
                         " is not a scalar");
    const Tensor &X = *Ctx.input(0);
    Ctx.setOutput(
        0, dispatchCompute(X.dtype(), [&](auto Tag) {
          using C = decltype(Tag);
          using Limits = std::numeric_limits<C>;
          C Lo = Limits::has_infinity ? -Limits::infinity() : Limits::lowest();
          C Hi = Limits::has_infinity ? Limits::infinity() : Limits::max();
          if (Ctx.hasInput(1))
            Lo = loadAs<C>(*Ctx.input(1))[0];
          if (Ctx.hasInput(2))
            Hi = loadAs<C>(*Ctx.input(2))[0];
          // With min > max every element becomes max, as ONNX specifies.
          std::vector<C> V = loadAs<C>(X);
          for (C &E : V) {
            E = E < Lo ? Lo : E;
            E = E > Hi ? Hi : E;
          }
          return storeAs<C>(X.dtype(), X.sizes().vec(), V);
        }));
    return Error::success();
  };
  return D;
}

} // namespace

void registerElementwiseOps(OpRegistry &R) {
  registerBinaryOps(R);
  addOp(R, whereOp());
  addOp(R, clipOp());
}

} // namespace kiln
