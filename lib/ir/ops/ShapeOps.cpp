//===- ShapeOps.cpp - ops that read or relabel a shape --------------------===//
//
// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose and Identity,
// in their opset-21 form: Shape and Size read a shape, the others are views
// whose result holds the input's elements in the same or a permuted order.
// MovementOps.cpp has the ops that copy data into a new layout,
// GeneratorOps.cpp those that make tensors.
//
// Inference follows shape values (the symbolic contents of small integer
// tensors) because exporters compute the targets of Reshape and Expand at
// run time:
//   Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., [-1, 12, 32]) -> Reshape
// Negative entries (-1) travel in shape values as shapeValueDim encodes
// them; where a shape value becomes a type they are unknown dims. Reshape
// solves one -1 or unknown entry from the element count, which is right
// whichever it was.
//
// The reference implementations move bytes, so they work for every dtype.
//
//===----------------------------------------------------------------------===//

#include "ir/DimProducts.h"
#include "ir/ops/ShapeOpUtils.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

namespace kiln {
namespace {

//===----------------------------------------------------------------------===//
// Shape, Size
//===----------------------------------------------------------------------===//

/// ONNX Shape's window [Start, End) of a rank-`Rank` shape: negative bounds
/// count from the back and both clamp to [0, Rank].
std::pair<int64_t, int64_t> shapeWindow(const Node &N, int64_t Rank) {
  auto Clamp = [Rank](int64_t V) {
    return std::clamp<int64_t>(V < 0 ? V + Rank : V, 0, Rank);
  };
  int64_t Start = Clamp(N.getInt("start", 0));
  int64_t End = Clamp(N.getInt("end", Rank));
  return {Start, std::max(Start, End)};
}

llvm::Error inferShape(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  auto [Start, End] = shapeWindow(Ctx.node(), In.rank());
  TensorType Out = TensorType::get(DType::I64, {End - Start});
  setShapeValueIfSmall(Ctx, 0, Out, dimRange(In.Dims, Start, End));
  Ctx.setOutputType(0, std::move(Out));
  return llvm::Error::success();
}

llvm::Error evalShape(EvalContext &Ctx) {
  llvm::ArrayRef<int64_t> Sizes = Ctx.input(0)->sizes();
  auto [Start, End] = shapeWindow(Ctx.node(), int64_t(Sizes.size()));
  Ctx.setOutput(0, Tensor::fromInts(DType::I64, {End - Start},
                                    Sizes.slice(Start, End - Start)));
  return llvm::Error::success();
}

llvm::Error inferSize(InferContext &Ctx) {
  TensorType Out = TensorType::get(DType::I64, {});
  Ctx.setOutputShapeValue(0, {productOfDims(Ctx.inputType(0).Dims)});
  Ctx.setOutputType(0, std::move(Out));
  return llvm::Error::success();
}

llvm::Error evalSize(EvalContext &Ctx) {
  Ctx.setOutput(0, Tensor::scalarInt(DType::I64, Ctx.input(0)->numElements()));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Reshape, Flatten
//===----------------------------------------------------------------------===//

/// The dim that gives `Known` plus it as many elements as `In`: the product
/// of `In` divided by that of `Known`, symbolically (DimProducts.h). Unknown
/// unless the division is exact.
///   [batch, seq, 384] / [batch, seq, 12] = 32
///   [batch, seq, 12, 32] / [batch, seq] = 384
///   [batch, 4, seq, 8] / [seq, 8] = 4*batch
///   [4*batch, seq, 8] / [4, seq, 8] = batch
Dim solveMissingDim(llvm::ArrayRef<Dim> In, llvm::ArrayRef<Dim> Known) {
  return divDimProducts(productOfDims(In), productOfDims(Known));
}

llvm::Error inferReshape(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (llvm::Error E = requireIntegerVector(Ctx, 1, "the shape operand"))
    return E;
  bool AllowZero = Ctx.node().getInt("allowzero", 0) != 0;
  std::vector<Dim> Out;
  // Entries to solve from the element count: -1, or unknown at compile time.
  std::vector<size_t> Missing;
  auto CopyInputDim = [&](size_t I) -> llvm::Error {
    if (int64_t(I) >= In.rank())
      return Ctx.error("shape entry " + llvm::Twine(I) +
                       " is 0 (copy the input dim) but the input is " +
                       In.str());
    Out.push_back(In.Dims[I]);
    return llvm::Error::success();
  };
  if (std::optional<std::vector<int64_t>> Ints = knownInts(Ctx, 1)) {
    for (size_t I = 0; I < Ints->size(); ++I) {
      int64_t V = (*Ints)[I];
      if (V < -1)
        return Ctx.error("shape entry " + llvm::Twine(I) + " is " +
                         llvm::Twine(V));
      if (V == -1) {
        if (!Missing.empty())
          return Ctx.error("shape " + sizesStr(*Ints) +
                           " has more than one -1");
        if (AllowZero && llvm::is_contained(*Ints, 0))
          return Ctx.error("shape " + sizesStr(*Ints) +
                           " has both -1 and 0 with allowzero = 1");
        Missing.push_back(I);
        Out.push_back(Dim::unknown());
      } else if (V == 0 && !AllowZero) {
        if (llvm::Error E = CopyInputDim(I))
          return E;
      } else {
        Out.push_back(Dim(V));
      }
    }
  } else if (std::optional<std::vector<Dim>> SV = knownDims(Ctx, 1)) {
    for (size_t I = 0; I < SV->size(); ++I) {
      const Dim &D = (*SV)[I];
      if (D.isStatic() && D.value() == 0 && !AllowZero) {
        if (llvm::Error E = CopyInputDim(I))
          return E;
        continue;
      }
      if (D.isUnknown())
        Missing.push_back(I);
      Out.push_back(D);
    }
  } else if (std::optional<int64_t> Rank = staticLength(Ctx, 1)) {
    Out.assign(*Rank, Dim::unknown());
  } else {
    return llvm::Error::success(); // Not even the rank is known.
  }

  auto CannotReshape = [&] {
    return Ctx.error("cannot reshape " + In.str() + " to " +
                     TensorType(In.Elem, Shape(Out.begin(), Out.end())).str());
  };
  if (Missing.size() == 1) {
    std::vector<Dim> Known = Out;
    Known.erase(Known.begin() + Missing[0]);
    Dim Solved = solveMissingDim(In.Dims, Known);
    if (In.isStatic() && !Solved.isStatic() &&
        llvm::all_of(Known, [](const Dim &D) { return D.isStatic(); }))
      return CannotReshape();
    Out[Missing[0]] = Solved;
  }
  TensorType Result(In.Elem, Shape(Out.begin(), Out.end()));
  if (In.isStatic() && Result.isStatic() &&
      In.staticNumElements() != Result.staticNumElements())
    return CannotReshape();
  forwardShapeValue(Ctx, Result);
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalReshape(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  std::vector<int64_t> Target = Ctx.input(1)->toInts();
  std::vector<int64_t> Sizes = Target;
  bool AllowZero = Ctx.node().getInt("allowzero", 0) != 0;
  std::optional<size_t> Missing;
  int64_t Known = 1;
  for (size_t I = 0; I < Sizes.size(); ++I) {
    int64_t &V = Sizes[I];
    if (V == -1 && !Missing) {
      Missing = I;
      continue;
    }
    if (V < 0)
      return Ctx.error("invalid shape " + sizesStr(Target));
    if (V == 0 && !AllowZero) {
      if (int64_t(I) >= In.rank())
        return Ctx.error("shape " + sizesStr(Target) + " copies dim " +
                         llvm::Twine(I) + " of an input of shape " +
                         sizesStr(In.sizes()));
      V = In.dim(I);
    }
    std::optional<int64_t> P = checkedMul(Known, V);
    if (!P)
      return Ctx.error("cannot reshape " + sizesStr(In.sizes()) + " to " +
                       sizesStr(Target));
    Known = *P;
  }
  if (Missing) {
    if (Known == 0 || In.numElements() % Known != 0)
      return Ctx.error("cannot reshape " + sizesStr(In.sizes()) + " to " +
                       sizesStr(Target));
    Sizes[*Missing] = In.numElements() / Known;
  } else if (Known != In.numElements()) {
    return Ctx.error("cannot reshape " + sizesStr(In.sizes()) + " to " +
                     sizesStr(Target));
  }
  Ctx.setOutput(0, In.reshaped(std::move(Sizes)));
  return llvm::Error::success();
}

/// Flatten's split point in [0, Rank].
llvm::Expected<int64_t> flattenAxis(const Node &N, int64_t Rank) {
  int64_t Axis = N.getInt("axis", 1);
  if (Axis < -Rank || Axis > Rank)
    return makeError(N.describe() + ": axis " + llvm::Twine(Axis) +
                     " is out of range for rank " + llvm::Twine(Rank));
  return Axis < 0 ? Axis + Rank : Axis;
}

llvm::Error inferFlatten(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  auto Axis = flattenAxis(Ctx.node(), In.rank());
  if (!Axis)
    return Axis.takeError();
  llvm::ArrayRef<Dim> Dims = In.Dims;
  Ctx.setOutputType(
      0, TensorType(In.Elem, {productOfDims(Dims.take_front(*Axis)),
                              productOfDims(Dims.drop_front(*Axis))}));
  return llvm::Error::success();
}

llvm::Error evalFlatten(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Axis = flattenAxis(Ctx.node(), In.rank());
  if (!Axis)
    return Axis.takeError();
  int64_t Outer = numElementsOf(In.sizes().take_front(*Axis));
  Ctx.setOutput(
      0, In.reshaped({Outer, numElementsOf(In.sizes().drop_front(*Axis))}));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Squeeze, Unsqueeze
//===----------------------------------------------------------------------===//

/// `In` without the dims `Axes`, each of which must be 1 where static.
llvm::Expected<Shape> squeezeShape(const Shape &In,
                                   llvm::ArrayRef<int64_t> Axes) {
  auto Norm = normalizeAxes(Axes, int64_t(In.size()), "axes");
  if (!Norm)
    return Norm.takeError();
  std::vector<bool> Drop(In.size(), false);
  for (int64_t A : *Norm) {
    if (In[A].isStatic() && In[A].value() != 1)
      return makeError("cannot squeeze axis " + llvm::Twine(A) + " of size " +
                       In[A].str());
    Drop[A] = true;
  }
  Shape Out;
  for (size_t I = 0; I < In.size(); ++I)
    if (!Drop[I])
      Out.push_back(In[I]);
  return Out;
}

llvm::Error inferSqueeze(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  std::vector<int64_t> Axes;
  if (Ctx.hasInput(1)) {
    std::optional<std::vector<int64_t>> Known = knownInts(Ctx, 1);
    if (!Known)
      return llvm::Error::success(); // The result's rank is not known.
    Axes = std::move(*Known);
  } else {
    // Without axes every dim of size 1 goes; a symbol might be 1.
    if (!In.isStatic())
      return llvm::Error::success();
    for (int64_t I = 0; I < In.rank(); ++I)
      if (In.Dims[I].value() == 1)
        Axes.push_back(I);
  }
  auto Out = squeezeShape(In.Dims, Axes);
  if (!Out)
    return Ctx.error(llvm::toString(Out.takeError()) + " of " + In.str());
  TensorType Result(In.Elem, std::move(*Out));
  forwardShapeValue(Ctx, Result);
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalSqueeze(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  std::vector<int64_t> Axes;
  if (Ctx.hasInput(1)) {
    Axes = Ctx.input(1)->toInts();
  } else {
    for (int64_t I = 0; I < In.rank(); ++I)
      if (In.dim(I) == 1)
        Axes.push_back(I);
  }
  auto Out = squeezeShape(shapeOf(In.sizes()), Axes);
  if (!Out)
    return Ctx.error(llvm::toString(Out.takeError()) + " of " +
                     sizesStr(In.sizes()));
  Ctx.setOutput(0, In.reshaped(TensorType(In.dtype(), *Out).staticSizes()));
  return llvm::Error::success();
}

/// `In` with dims of size 1 inserted at `Axes` (positions in the result).
llvm::Expected<Shape> unsqueezeShape(const Shape &In,
                                     llvm::ArrayRef<int64_t> Axes) {
  int64_t Rank = int64_t(In.size() + Axes.size());
  auto Norm = normalizeAxes(Axes, Rank, "axes");
  if (!Norm)
    return Norm.takeError();
  Shape Out;
  auto Next = In.begin();
  for (int64_t I = 0; I < Rank; ++I)
    Out.push_back(llvm::is_contained(*Norm, I) ? Dim(1) : *Next++);
  return Out;
}

llvm::Error inferUnsqueeze(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (llvm::Error E = requireIntegerVector(Ctx, 1, "axes"))
    return E;
  std::optional<std::vector<int64_t>> Axes = knownInts(Ctx, 1);
  if (!Axes) {
    if (std::optional<int64_t> Count = staticLength(Ctx, 1))
      Ctx.setOutputType(0,
                        TensorType(In.Elem, Shape(In.rank() + *Count, Dim())));
    return llvm::Error::success();
  }
  auto Out = unsqueezeShape(In.Dims, *Axes);
  if (!Out)
    return Ctx.error(llvm::toString(Out.takeError()));
  TensorType Result(In.Elem, std::move(*Out));
  forwardShapeValue(Ctx, Result);
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalUnsqueeze(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Out = unsqueezeShape(shapeOf(In.sizes()), Ctx.input(1)->toInts());
  if (!Out)
    return Ctx.error(llvm::toString(Out.takeError()));
  Ctx.setOutput(0, In.reshaped(TensorType(In.dtype(), *Out).staticSizes()));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Transpose
//===----------------------------------------------------------------------===//

/// The permutation: the `perm` attribute, reversed dims by default.
llvm::Expected<std::vector<int64_t>> transposePerm(const Node &N,
                                                   int64_t Rank) {
  if (!N.hasAttr("perm")) {
    std::vector<int64_t> Perm(Rank);
    std::iota(Perm.rbegin(), Perm.rend(), 0);
    return Perm;
  }
  std::vector<int64_t> Perm = N.getInts("perm");
  if (int64_t(Perm.size()) != Rank)
    return makeError(N.describe() + ": perm " + sizesStr(Perm) +
                     " does not have one entry per dim of a rank-" +
                     llvm::Twine(Rank) + " input");
  // ONNX wants a permutation of [0, Rank): no negative entries.
  for (int64_t P : Perm)
    if (P < 0)
      return makeError(N.describe() + ": perm " + sizesStr(Perm) +
                       " is not a permutation");
  if (llvm::Error E = normalizeAxes(Perm, Rank, "perm").takeError())
    return withContext(std::move(E), N.describe());
  return Perm;
}

llvm::Error inferTranspose(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  auto Perm = transposePerm(Ctx.node(), In.rank());
  if (!Perm)
    return Perm.takeError();
  Shape Out;
  for (int64_t P : *Perm)
    Out.push_back(In.Dims[P]);
  TensorType Result(In.Elem, std::move(Out));
  forwardShapeValue(Ctx, Result); // rank <= 1: the identity
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalTranspose(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Perm = transposePerm(Ctx.node(), In.rank());
  if (!Perm)
    return Perm.takeError();
  std::vector<int64_t> InStrides = stridesOf(In.sizes());
  std::vector<int64_t> Sizes, Strides;
  for (int64_t P : *Perm) {
    Sizes.push_back(In.dim(P));
    Strides.push_back(InStrides[P]);
  }
  Ctx.setOutput(0, stridedCopy(In, std::move(Sizes), Strides));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Identity
//===----------------------------------------------------------------------===//

llvm::Error inferIdentity(InferContext &Ctx) {
  TensorType Result = Ctx.inputType(0);
  forwardShapeValue(Ctx, Result);
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalIdentity(EvalContext &Ctx) {
  Ctx.setOutput(0, *Ctx.input(0));
  return llvm::Error::success();
}

} // namespace

void registerShapeOps(OpRegistry &R) {
  using K = AttrKind;
  R.add(makeOp("Shape", "the input's shape (dims [start, end)) as i64", 1, 1,
               {{"end", K::Int}, {"start", K::Int}}, inferShape, evalShape));

  R.add(makeOp("Size", "the input's element count as an i64 scalar", 1, 1, {},
               inferSize, evalSize));

  R.add(makeOp("Reshape", "same data, new shape (0 copies a dim, -1 infers)", 2,
               2, {{"allowzero", K::Int}}, inferReshape, evalReshape));

  R.add(makeOp("Flatten", "reshape to 2-D, splitting the dims at axis", 1, 1,
               {{"axis", K::Int}}, inferFlatten, evalFlatten));

  R.add(makeOp("Squeeze", "removes dims of size 1 (axes, or all)", 1, 2, {},
               inferSqueeze, evalSqueeze));

  R.add(makeOp("Unsqueeze", "inserts dims of size 1 at axes", 2, 2, {},
               inferUnsqueeze, evalUnsqueeze));

  R.add(makeOp("Transpose", "permutes the dims (reversed by default)", 1, 1,
               {{"perm", K::Ints}}, inferTranspose, evalTranspose));

  R.add(makeOp("Identity", "the input, unchanged", 1, 1, {}, inferIdentity,
               evalIdentity));
}

} // namespace kiln
