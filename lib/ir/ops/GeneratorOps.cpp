//===- GeneratorOps.cpp - ops that make a tensor from scalars or a shape -===//
//
// Range, ConstantOfShape and Constant, in their opset-21 form.
//
//===----------------------------------------------------------------------===//

#include "ir/ops/ShapeOpUtils.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

namespace kiln {
namespace {

//===----------------------------------------------------------------------===//
// Range, ConstantOfShape, Constant
//===----------------------------------------------------------------------===//

/// max(ceil((Limit - Start) / Delta), 0), exact for integer dtypes.
llvm::Expected<int64_t> rangeCount(const Tensor &Start, const Tensor &Limit,
                                   const Tensor &Delta) {
  auto TooLong = [&] {
    return makeError("range from " + std::to_string(Start.getDouble(0)) +
                     " to " + std::to_string(Limit.getDouble(0)) + " by " +
                     std::to_string(Delta.getDouble(0)) + " is too long");
  };
  if (isFloat(Start.dtype())) {
    double D = Delta.getDouble(0);
    if (D == 0 || std::isnan(D))
      return makeError("delta is " + std::to_string(D));
    double Count = std::ceil((Limit.getDouble(0) - Start.getDouble(0)) / D);
    if (std::isnan(Count) || Count > double(MaxEvalElements))
      return TooLong();
    return Count > 0 ? int64_t(Count) : 0;
  }
  int64_t S = Start.getInt(0), L = Limit.getInt(0), D = Delta.getInt(0);
  if (D == 0)
    return makeError("delta is 0");
  if (D > 0 ? L <= S : L >= S)
    return 0;
  // Unsigned arithmetic: the span and |delta| may not fit in int64.
  uint64_t Span = D > 0 ? uint64_t(L) - uint64_t(S) : uint64_t(S) - uint64_t(L);
  uint64_t Magnitude = D > 0 ? uint64_t(D) : uint64_t(-(D + 1)) + 1;
  uint64_t Count = (Span - 1) / Magnitude + 1;
  if (Count > uint64_t(MaxEvalElements))
    return TooLong();
  return int64_t(Count);
}

/// Element I of an integer range. Every element lies between start and
/// limit, but I * Delta alone may not fit: wrap in unsigned arithmetic.
int64_t rangeElement(int64_t Start, int64_t Delta, int64_t I) {
  return int64_t(uint64_t(Start) + uint64_t(I) * uint64_t(Delta));
}

llvm::Error checkRangeOperands(const InferContext &Ctx) {
  for (unsigned I = 0; I < 3; ++I) {
    const TensorType &T = Ctx.inputType(I);
    if (T.Elem != Ctx.inputType(0).Elem || T.staticNumElements() != 1 ||
        T.rank() > 1 || T.Elem == DType::Bool)
      return Ctx.error("start, limit and delta must be numeric scalars of "
                       "one dtype, got " +
                       T.str());
  }
  return llvm::Error::success();
}

llvm::Error inferRange(InferContext &Ctx) {
  if (llvm::Error E = checkRangeOperands(Ctx))
    return E;
  DType Elem = Ctx.inputType(0).Elem;
  std::optional<Tensor> Start = knownTensor(Ctx, 0),
                        Limit = knownTensor(Ctx, 1),
                        Delta = knownTensor(Ctx, 2);
  if (Start && Limit && Delta) {
    auto Count = rangeCount(*Start, *Limit, *Delta);
    if (!Count)
      return Ctx.error(llvm::toString(Count.takeError()));
    TensorType Result = TensorType::get(Elem, {*Count});
    if (carriesShapeValue(Result)) {
      std::vector<Dim> Values;
      for (int64_t I = 0; I < *Count; ++I)
        Values.push_back(
            shapeValueDim(rangeElement(Start->getInt(0), Delta->getInt(0), I)));
      Ctx.setOutputShapeValue(0, std::move(Values));
    }
    Ctx.setOutputType(0, std::move(Result));
    return llvm::Error::success();
  }
  // Range(0, n, 1) has n elements, whatever n is.
  Dim Length;
  auto StartV = knownDims(Ctx, 0), LimitV = knownDims(Ctx, 1),
       DeltaV = knownDims(Ctx, 2);
  if (isInteger(Elem) && StartV && LimitV && DeltaV && (*StartV)[0] == Dim(0) &&
      (*DeltaV)[0] == Dim(1))
    Length = (*LimitV)[0];
  Ctx.setOutputType(0, TensorType(Elem, {Length}));
  return llvm::Error::success();
}

llvm::Error evalRange(EvalContext &Ctx) {
  for (unsigned I = 0; I < 3; ++I)
    if (Ctx.input(I)->numElements() != 1 ||
        Ctx.input(I)->dtype() != Ctx.input(0)->dtype())
      return Ctx.error("start, limit and delta must be scalars of one dtype");
  const Tensor &Start = *Ctx.input(0), &Delta = *Ctx.input(2);
  auto Count = rangeCount(Start, *Ctx.input(1), Delta);
  if (!Count)
    return Ctx.error(llvm::toString(Count.takeError()));
  Tensor Out(Start.dtype(), {*Count});
  for (int64_t I = 0; I < *Count; ++I) {
    if (isFloat(Start.dtype()))
      Out.setDouble(I, Start.getDouble(0) + double(I) * Delta.getDouble(0));
    else
      Out.setInt(I, rangeElement(Start.getInt(0), Delta.getInt(0), I));
  }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

/// ConstantOfShape's fill value: the one-element `value` attribute, f32 0
/// by default.
llvm::Expected<Tensor> fillValue(const Node &N) {
  const Attribute *A = N.attr("value");
  if (!A)
    return Tensor(DType::F32, {});
  if (A->kind() != AttrKind::Tensor || A->getTensor().numElements() != 1)
    return makeError(N.describe() +
                     ": value must be a tensor of exactly one element");
  return A->getTensor();
}

llvm::Error verifyConstantOfShape(const Node &N) {
  return fillValue(N).takeError();
}

llvm::Error inferConstantOfShape(InferContext &Ctx) {
  if (llvm::Error E = requireIntegerVector(Ctx, 0, "the shape operand"))
    return E;
  auto Fill = fillValue(Ctx.node());
  if (!Fill)
    return Fill.takeError();
  Shape Out;
  if (std::optional<std::vector<int64_t>> Sizes = knownInts(Ctx, 0)) {
    if (llvm::any_of(*Sizes, [](int64_t S) { return S < 0; }))
      return Ctx.error("negative size in " + sizesStr(*Sizes));
    Out = shapeOf(*Sizes);
  } else if (std::optional<std::vector<Dim>> SV = knownDims(Ctx, 0)) {
    Out.assign(SV->begin(), SV->end());
  } else if (std::optional<int64_t> Rank = staticLength(Ctx, 0)) {
    Out.assign(*Rank, Dim::unknown());
  } else {
    return llvm::Error::success();
  }
  TensorType Result(Fill->dtype(), std::move(Out));
  if (carriesShapeValue(Result))
    Ctx.setOutputShapeValue(0,
                            std::vector<Dim>(Result.staticNumElements(),
                                             shapeValueDim(Fill->getInt(0))));
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalConstantOfShape(EvalContext &Ctx) {
  auto Fill = fillValue(Ctx.node());
  if (!Fill)
    return Fill.takeError();
  std::vector<int64_t> Sizes = Ctx.input(0)->toInts();
  if (llvm::any_of(Sizes, [](int64_t S) { return S < 0; }))
    return Ctx.error("negative size in " + sizesStr(Sizes));
  if (llvm::Error E = checkResultSizes(Sizes))
    return Ctx.error(llvm::toString(std::move(E)));
  Tensor Out(Fill->dtype(), Sizes);
  size_t ES = dtypeSize(Fill->dtype());
  for (int64_t I = 0; I < Out.numElements(); ++I)
    copyElement(Out.mutableBytes() + I * ES, Fill->bytes(), ES);
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

llvm::Error verifyConstant(const Node &N) {
  return constantNodeValue(N).takeError();
}

llvm::Error inferConstant(InferContext &Ctx) {
  auto Value = constantNodeValue(Ctx.node());
  if (!Value)
    return Value.takeError();
  TensorType Result = Value->type();
  if (carriesShapeValue(Result)) {
    std::vector<Dim> Dims;
    for (int64_t X : Value->toInts())
      Dims.push_back(shapeValueDim(X));
    Ctx.setOutputShapeValue(0, std::move(Dims));
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalConstant(EvalContext &Ctx) {
  auto Value = constantNodeValue(Ctx.node());
  if (!Value)
    return Value.takeError();
  Ctx.setOutput(0, std::move(*Value));
  return llvm::Error::success();
}

} // namespace

void registerGeneratorOps(OpRegistry &R) {
  using K = AttrKind;
  R.add(makeOp("Range", "start, start + delta, ... up to limit", 3, 3, {},
               inferRange, evalRange));

  OpDef ConstantOfShape = makeOp(
      "ConstantOfShape", "a tensor of the given shape filled with value", 1, 1,
      {{"value", K::Tensor}}, inferConstantOfShape, evalConstantOfShape);
  ConstantOfShape.Verify = verifyConstantOfShape;
  R.add(std::move(ConstantOfShape));

  OpDef Constant = makeOp("Constant", "the tensor given as an attribute", 0, 0,
                          {{"value", K::Tensor},
                           {"value_float", K::Float},
                           {"value_floats", K::Floats},
                           {"value_int", K::Int},
                           {"value_ints", K::Ints},
                           {"value_string", K::String},
                           {"value_strings", K::Strings}},
                          inferConstant, evalConstant);
  Constant.Verify = verifyConstant;
  R.add(std::move(Constant));
}

} // namespace kiln
