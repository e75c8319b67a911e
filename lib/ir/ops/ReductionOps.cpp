//===- ReductionOps.cpp - ReduceX, ArgMax/ArgMin and CumSum ---------------===//
//
// The Reduce* ops in their opset-18 form: axes are an optional int64 second
// operand, `keepdims` keeps reduced dims as 1, and with
// `noop_with_empty_axes` an empty axes list means identity rather than
// "reduce everything". Floating-point reductions accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "ir/ops/MathKernels.h"

#include "llvm/ADT/STLExtras.h"

namespace kiln {
namespace {

using llvm::Error;

enum class ReduceKind {
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  L1,
  L2,
  SumSquare,
  LogSum,
  LogSumExp
};

const std::vector<AttrSpec> &reduceAttrs() {
  static const std::vector<AttrSpec> Attrs = {
      {"keepdims", AttrKind::Int}, {"noop_with_empty_axes", AttrKind::Int}};
  return Attrs;
}

/// Which of `Rank` dims `Axes` reduce; an empty list reduces all of them.
/// `Describe` names the op in messages.
llvm::Expected<std::vector<bool>> reducedDims(llvm::ArrayRef<int64_t> Axes,
                                              int64_t Rank,
                                              const std::string &Describe) {
  std::vector<bool> Reduced(Rank, Axes.empty());
  for (int64_t A : Axes) {
    std::optional<int64_t> Axis = normalizeAxis(A, Rank);
    if (!Axis)
      return makeError(Describe + ": axis " + llvm::Twine(A) +
                       " is out of range for rank " + llvm::Twine(Rank));
    if (Reduced[*Axis])
      return makeError(Describe + ": axis " + llvm::Twine(A) +
                       " appears twice");
    Reduced[*Axis] = true;
  }
  return Reduced;
}

/// The axes operand's values when inference can know them.
std::optional<std::vector<int64_t>> knownAxes(const InferContext &Ctx) {
  if (!Ctx.hasInput(1))
    return std::vector<int64_t>();
  if (const Tensor *T = Ctx.inputConstant(1))
    return T->toInts();
  const std::vector<Dim> *V = Ctx.inputShapeValue(1);
  if (!V || !llvm::all_of(*V, [](const Dim &D) { return D.isStatic(); }))
    return std::nullopt;
  std::vector<int64_t> Axes;
  for (const Dim &D : *V)
    Axes.push_back(D.value());
  return Axes;
}

Error inferReduce(InferContext &Ctx, TypeClass Class) {
  if (Error E = checkInputClass(Ctx, 0, Class))
    return E;
  const TensorType &X = Ctx.inputType(0);
  if (Ctx.hasInput(1) &&
      (Ctx.inputType(1).Elem != DType::I64 || Ctx.inputType(1).rank() > 1))
    return Ctx.error("axes must be a 1-D i64 tensor, got " +
                     Ctx.inputType(1).str());
  bool Keep = Ctx.node().getInt("keepdims", 1) != 0;
  bool Noop = Ctx.node().getInt("noop_with_empty_axes", 0) != 0;
  std::optional<std::vector<int64_t>> Axes = knownAxes(Ctx);
  if (!Axes && Ctx.inputType(1).staticNumElements() == 0)
    Axes.emplace();
  if (Axes && Axes->empty() && Noop) {
    Ctx.setOutputType(0, X);
    return Error::success();
  }
  Shape Out;
  if (Axes) {
    auto Reduced = reducedDims(*Axes, X.rank(), Ctx.node().describe());
    if (!Reduced)
      return Reduced.takeError();
    for (int64_t I = 0; I < X.rank(); ++I)
      if (!(*Reduced)[I])
        Out.push_back(X.Dims[I]);
      else if (Keep)
        Out.push_back(Dim(1));
  } else if (Keep) {
    // Any dim may be reduced; only a dim of 1 stays 1 either way.
    for (const Dim &D : X.Dims)
      Out.push_back(D.isStatic() && D.value() == 1 ? D : Dim::unknown());
  } else {
    int64_t Count = Ctx.inputType(1).staticNumElements();
    if (Count < 0)
      return Ctx.error("unsupported: axes that are not constant, with "
                       "keepdims = 0 and an unknown axis count");
    if (Count > X.rank())
      return Ctx.error(llvm::Twine(Count) + " axes for rank " +
                       llvm::Twine(X.rank()));
    Out.assign(X.rank() - Count, Dim::unknown());
  }
  Ctx.setOutputType(0, TensorType(X.Elem, std::move(Out)));
  return Error::success();
}

/// The lowest and highest value of a dtype, as seeds for Max and Min.
template <typename A> A lowestOf(DType T) {
  switch (T) {
  case DType::I32: return A(std::numeric_limits<int32_t>::min());
  case DType::I8: return A(std::numeric_limits<int8_t>::min());
  case DType::U8:
  case DType::Bool: return A(0);
  default:
    return std::numeric_limits<A>::has_infinity
               ? -std::numeric_limits<A>::infinity()
               : std::numeric_limits<A>::lowest();
  }
}
template <typename A> A highestOf(DType T) {
  switch (T) {
  case DType::I32: return A(std::numeric_limits<int32_t>::max());
  case DType::I8: return A(std::numeric_limits<int8_t>::max());
  case DType::U8: return A(255);
  case DType::Bool: return A(1);
  default:
    return std::numeric_limits<A>::has_infinity
               ? std::numeric_limits<A>::infinity()
               : std::numeric_limits<A>::max();
  }
}

/// Folds Combine(acc, x) over every input element into the output element
/// that `OutStrides` maps it to.
template <typename A, typename F>
std::vector<A> reduceInto(const std::vector<A> &X,
                          llvm::ArrayRef<int64_t> InSizes,
                          const std::vector<int64_t> &OutStrides,
                          int64_t OutCount, A Init, F &&Combine) {
  std::vector<A> Acc(OutCount, Init);
  forEachBroadcast<1>(InSizes, {OutStrides},
                      [&](int64_t I, const std::array<int64_t, 1> &Out) {
                        Acc[Out[0]] = Combine(Acc[Out[0]], X[I]);
                      });
  return Acc;
}

/// NaN wins, as in numpy's max and min.
template <typename A> A maxOf(A Acc, A X) {
  return X > Acc || X != X ? X : Acc;
}
template <typename A> A minOf(A Acc, A X) {
  return X < Acc || X != X ? X : Acc;
}

/// The reduction of X (loaded as the accumulator type A) into `OutCount`
/// elements; `Count` is how many inputs each output reduces.
template <typename A>
std::vector<A> reduceValues(ReduceKind Kind, DType Elem,
                            const std::vector<A> &X,
                            llvm::ArrayRef<int64_t> InSizes,
                            const std::vector<int64_t> &OutStrides,
                            int64_t OutCount, int64_t Count) {
  auto Reduce = [&](A Init, auto Combine) {
    return reduceInto<A>(X, InSizes, OutStrides, OutCount, Init, Combine);
  };
  auto Add = [](A Acc, A V) { return wrapAdd(Acc, V); };
  auto AddSquare = [](A Acc, A V) { return wrapAdd(Acc, wrapMul(V, V)); };
  std::vector<A> Acc;
  switch (Kind) {
  case ReduceKind::Sum: return Reduce(A(0), Add);
  case ReduceKind::Mean:
    Acc = Reduce(A(0), Add);
    for (A &V : Acc)
      V /= A(Count);
    return Acc;
  case ReduceKind::Max: return Reduce(lowestOf<A>(Elem), maxOf<A>);
  case ReduceKind::Min: return Reduce(highestOf<A>(Elem), minOf<A>);
  case ReduceKind::Prod:
    return Reduce(A(1), [](A Acc, A V) { return wrapMul(Acc, V); });
  case ReduceKind::L1:
    return Reduce(A(0), [](A Acc, A V) {
      return wrapAdd(Acc, V < A(0) ? wrapNeg(V) : V);
    });
  case ReduceKind::SumSquare: return Reduce(A(0), AddSquare);
  case ReduceKind::L2:
    Acc = Reduce(A(0), AddSquare);
    for (A &V : Acc)
      V = A(std::sqrt(V));
    return Acc;
  case ReduceKind::LogSum:
    Acc = Reduce(A(0), Add);
    for (A &V : Acc)
      V = A(std::log(V));
    return Acc;
  case ReduceKind::LogSumExp: {
    // max + log(sum(exp(x - max))), so that exp cannot overflow.
    std::vector<A> Max = Reduce(lowestOf<A>(Elem), maxOf<A>);
    std::vector<A> Sum(OutCount, A(0));
    forEachBroadcast<1>(InSizes, {OutStrides},
                        [&](int64_t I, const std::array<int64_t, 1> &Out) {
                          A M = Max[Out[0]];
                          if (!std::isinf(double(M)))
                            Sum[Out[0]] += A(std::exp(X[I] - M));
                        });
    for (int64_t I = 0; I < OutCount; ++I)
      if (!std::isinf(double(Max[I])))
        Max[I] += A(std::log(Sum[I]));
    return Max;
  }
  }
  return Acc;
}

Error evalReduce(EvalContext &Ctx, ReduceKind Kind) {
  const Tensor &X = *Ctx.input(0);
  bool Keep = Ctx.node().getInt("keepdims", 1) != 0;
  bool Noop = Ctx.node().getInt("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> Axes;
  if (Ctx.hasInput(1))
    Axes = Ctx.input(1)->toInts();
  if (Axes.empty() && Noop) {
    Ctx.setOutput(0, X);
    return Error::success();
  }
  auto Reduced = reducedDims(Axes, X.rank(), Ctx.node().describe());
  if (!Reduced)
    return Reduced.takeError();
  std::vector<int64_t> KeptSizes, OutSizes;
  int64_t Count = 1;
  for (int64_t I = 0; I < X.rank(); ++I) {
    if ((*Reduced)[I])
      Count *= X.dim(I);
    KeptSizes.push_back((*Reduced)[I] ? 1 : X.dim(I));
    if (!(*Reduced)[I] || Keep)
      OutSizes.push_back(KeptSizes.back());
  }
  std::vector<int64_t> OutStrides = broadcastStrides(KeptSizes, X.sizes());
  int64_t OutCount = numElementsOf(KeptSizes);
  bool Real = isFloat(X.dtype()) || Kind == ReduceKind::Mean ||
              Kind == ReduceKind::L2 || Kind == ReduceKind::LogSum ||
              Kind == ReduceKind::LogSumExp;
  auto Run = [&](auto Tag) {
    using A = decltype(Tag);
    return storeAs<A>(X.dtype(), OutSizes,
                      reduceValues<A>(Kind, X.dtype(), loadAs<A>(X), X.sizes(),
                                      OutStrides, OutCount, Count));
  };
  Ctx.setOutput(0, Real ? Run(double()) : Run(int64_t()));
  return Error::success();
}

OpDef reduceOp(llvm::StringRef Name, llvm::StringRef Summary, ReduceKind Kind,
               TypeClass Class = TypeClass::Numeric) {
  OpDef D;
  D.Name = Name.str();
  D.Summary = Summary.str();
  D.MinInputs = 1;
  D.MaxInputs = 2;
  D.Attrs = reduceAttrs();
  D.Infer = [Class](InferContext &Ctx) { return inferReduce(Ctx, Class); };
  D.Eval = [Kind](EvalContext &Ctx) { return evalReduce(Ctx, Kind); };
  return D;
}

//===----------------------------------------------------------------------===//
// ArgMax, ArgMin
//===----------------------------------------------------------------------===//

/// True when V replaces Best as the extremum. The first NaN wins, as in
/// numpy, or the last one with select_last_index.
template <typename A> bool replaces(A V, A Best, bool IsMax, bool Last) {
  bool VNaN = V != V, BestNaN = Best != Best;
  if (Last ? VNaN : BestNaN)
    return Last;
  if (Last ? BestNaN : VNaN)
    return !Last;
  if (V == Best)
    return Last;
  return IsMax ? V > Best : V < Best;
}

OpDef argOp(llvm::StringRef Name, llvm::StringRef Summary, bool IsMax) {
  OpDef D;
  D.Name = Name.str();
  D.Summary = Summary.str();
  D.MinInputs = D.MaxInputs = 1;
  D.Attrs = {{"axis", AttrKind::Int},
             {"keepdims", AttrKind::Int},
             {"select_last_index", AttrKind::Int}};
  D.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, TypeClass::Numeric))
      return E;
    const TensorType &X = Ctx.inputType(0);
    int64_t A = Ctx.node().getInt("axis", 0);
    std::optional<int64_t> Axis = normalizeAxis(A, X.rank());
    if (!Axis)
      return Ctx.error("axis " + llvm::Twine(A) + " is out of range for " +
                       X.str());
    Shape Out = X.Dims;
    if (Ctx.node().getInt("keepdims", 1))
      Out[*Axis] = Dim(1);
    else
      Out.erase(Out.begin() + *Axis);
    Ctx.setOutputType(0, TensorType(DType::I64, std::move(Out)));
    return Error::success();
  };
  D.Eval = [IsMax](EvalContext &Ctx) -> Error {
    const Tensor &X = *Ctx.input(0);
    int64_t A = Ctx.node().getInt("axis", 0);
    std::optional<int64_t> Axis = normalizeAxis(A, X.rank());
    if (!Axis)
      return Ctx.error("axis " + llvm::Twine(A) + " is out of range for " +
                       sizesStr(X.sizes()));
    if (X.dim(*Axis) == 0)
      return Ctx.error("reduces an empty axis of " + sizesStr(X.sizes()));
    bool Last = Ctx.node().getInt("select_last_index", 0) != 0;
    std::vector<int64_t> OutSizes = X.sizes().vec();
    if (Ctx.node().getInt("keepdims", 1))
      OutSizes[*Axis] = 1;
    else
      OutSizes.erase(OutSizes.begin() + *Axis);
    AxisSplit S = splitAt(X.sizes(), *Axis);
    auto Run = [&](auto Tag) {
      using V = decltype(Tag);
      std::vector<V> In = loadAs<V>(X);
      std::vector<int64_t> Out(S.Outer * S.Inner);
      for (int64_t O = 0; O < S.Outer; ++O)
        for (int64_t I = 0; I < S.Inner; ++I) {
          const V *Row = In.data() + O * S.N * S.Inner + I;
          int64_t Best = 0;
          for (int64_t K = 1; K < S.N; ++K)
            if (replaces(Row[K * S.Inner], Row[Best * S.Inner], IsMax, Last))
              Best = K;
          Out[O * S.Inner + I] = Best;
        }
      return Out;
    };
    std::vector<int64_t> Out =
        isFloat(X.dtype()) ? Run(double()) : Run(int64_t());
    Ctx.setOutput(0, storeAs<int64_t>(DType::I64, OutSizes, Out));
    return Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

OpDef cumSumOp() {
  OpDef D;
  D.Name = "CumSum";
  D.Summary = "cumulative sum along the axis given as second operand";
  D.MinInputs = D.MaxInputs = 2;
  D.Attrs = {{"exclusive", AttrKind::Int}, {"reverse", AttrKind::Int}};
  D.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, TypeClass::Numeric))
      return E;
    const TensorType &Axis = Ctx.inputType(1);
    if ((Axis.Elem != DType::I64 && Axis.Elem != DType::I32) || Axis.rank() > 1)
      return Ctx.error("axis must be an i32 or i64 scalar, got " + Axis.str());
    Ctx.setOutputType(0, Ctx.inputType(0));
    return Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> Error {
    const Tensor &X = *Ctx.input(0), &AxisT = *Ctx.input(1);
    if (AxisT.numElements() != 1)
      return Ctx.error("axis has " + llvm::Twine(AxisT.numElements()) +
                       " elements, expected one");
    std::optional<int64_t> Axis = normalizeAxis(AxisT.getInt(0), X.rank());
    if (!Axis)
      return Ctx.error("axis " + llvm::Twine(AxisT.getInt(0)) +
                       " is out of range for " + sizesStr(X.sizes()));
    bool Exclusive = Ctx.node().getInt("exclusive", 0) != 0;
    bool Reverse = Ctx.node().getInt("reverse", 0) != 0;
    AxisSplit S = splitAt(X.sizes(), *Axis);
    Ctx.setOutput(0, dispatchCompute(X.dtype(), [&](auto Tag) {
                    using C = decltype(Tag);
                    std::vector<C> In = loadAs<C>(X), Out(In.size());
                    for (int64_t O = 0; O < S.Outer; ++O)
                      for (int64_t I = 0; I < S.Inner; ++I) {
                        C Acc = 0;
                        for (int64_t Step = 0; Step < S.N; ++Step) {
                          int64_t K = Reverse ? S.N - 1 - Step : Step;
                          int64_t At = (O * S.N + K) * S.Inner + I;
                          if (Exclusive)
                            Out[At] = Acc;
                          Acc = wrapAdd(Acc, In[At]);
                          if (!Exclusive)
                            Out[At] = Acc;
                        }
                      }
                    return storeAs<C>(X.dtype(), X.sizes().vec(), Out);
                  }));
    return Error::success();
  };
  return D;
}

} // namespace

void registerReductionOps(OpRegistry &R) {
  using RK = ReduceKind;
  addOp(R, reduceOp("ReduceSum", "sum over axes", RK::Sum));
  addOp(R, reduceOp("ReduceMean", "mean over axes", RK::Mean));
  addOp(R, reduceOp("ReduceMax", "maximum over axes", RK::Max, TypeClass::Any));
  addOp(R, reduceOp("ReduceMin", "minimum over axes", RK::Min, TypeClass::Any));
  addOp(R, reduceOp("ReduceProd", "product over axes", RK::Prod));
  addOp(R, reduceOp("ReduceL1", "sum of absolute values over axes", RK::L1));
  addOp(R, reduceOp("ReduceL2", "Euclidean norm over axes", RK::L2));
  addOp(R,
        reduceOp("ReduceSumSquare", "sum of squares over axes", RK::SumSquare));
  addOp(R, reduceOp("ReduceLogSum", "log of the sum over axes", RK::LogSum));
  addOp(R, reduceOp("ReduceLogSumExp", "log of the sum of exponentials",
                    RK::LogSumExp));
  addOp(R, argOp("ArgMax", "index of the maximum along an axis", true));
  addOp(R, argOp("ArgMin", "index of the minimum along an axis", false));
  addOp(R, cumSumOp());
}

} // namespace kiln
