//===- ShapeOps.cpp - ops that read, change or build shapes ---------------===//
//
// Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat,
// Split, Slice, Expand, Tile, Range, ConstantOfShape, Constant, Identity and
// Pad, in their opset-21 form.
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

#include "ir/ops/ShapeOpUtils.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

namespace kiln {
namespace {

/// `Dims[Begin, End)` as a shape value.
std::vector<Dim> dimRange(llvm::ArrayRef<Dim> Dims, size_t Begin, size_t End) {
  return std::vector<Dim>(Dims.begin() + Begin, Dims.begin() + End);
}

/// Sets result I's shape value when its type may carry one.
void setShapeValueIfSmall(InferContext &Ctx, unsigned I, const TensorType &Type,
                          std::vector<Dim> Value) {
  if (carriesShapeValue(Type) &&
      int64_t(Value.size()) == Type.staticNumElements())
    Ctx.setOutputShapeValue(I, std::move(Value));
}

/// Forwards operand 0's shape value to result 0 (ops that only relabel the
/// shape of a small 1-D value: Identity, Reshape, Squeeze, Unsqueeze).
void forwardShapeValue(InferContext &Ctx, const TensorType &Result) {
  if (const std::vector<Dim> *SV = Ctx.inputShapeValue(0))
    setShapeValueIfSmall(Ctx, 0, Result, *SV);
}

/// How many entries operand I (a 1-D shape-like operand) has, when its type
/// says and the number is small enough to be a rank; nullopt otherwise.
std::optional<int64_t> staticLength(const InferContext &Ctx, unsigned I) {
  const Dim &Length = Ctx.inputType(I).Dims[0];
  if (!Length.isStatic() || Length.value() > MaxShapeValueElements)
    return std::nullopt;
  return Length.value();
}

llvm::Error requireIntegerVector(const InferContext &Ctx, unsigned I,
                                 llvm::StringRef What) {
  const TensorType &T = Ctx.inputType(I);
  if (T.rank() != 1 || !isInteger(T.Elem))
    return Ctx.error(What + " must be a 1-D integer tensor, got " + T.str());
  return llvm::Error::success();
}

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

/// The dim that gives `Known` plus it as many elements as `In`: matching
/// symbols cancel and the static parts divide. Unknown unless what remains
/// is one symbol or one integer.
///   [batch, seq, 384] / [batch, seq, 12] = 32
///   [batch, seq, 12, 32] / [batch, seq] = 384
Dim solveMissingDim(llvm::ArrayRef<Dim> In, llvm::ArrayRef<Dim> Known) {
  llvm::SmallVector<std::string, 4> Symbols;
  int64_t InStatic = 1;
  for (const Dim &D : In) {
    if (D.isUnknown())
      return Dim::unknown();
    if (!D.isStatic()) {
      Symbols.push_back(D.symbol());
      continue;
    }
    std::optional<int64_t> P = checkedMul(InStatic, D.value());
    if (!P)
      return Dim::unknown();
    InStatic = *P;
  }
  int64_t KnownStatic = 1;
  for (const Dim &D : Known) {
    if (D.isStatic()) {
      std::optional<int64_t> P = checkedMul(KnownStatic, D.value());
      if (!P)
        return Dim::unknown();
      KnownStatic = *P;
      continue;
    }
    auto It = llvm::find(Symbols, D.symbol());
    if (D.isUnknown() || It == Symbols.end())
      return Dim::unknown();
    Symbols.erase(It);
  }
  if (KnownStatic == 0 || InStatic % KnownStatic != 0)
    return Dim::unknown();
  int64_t Quotient = InStatic / KnownStatic;
  if (Symbols.empty())
    return Dim(Quotient);
  if (Symbols.size() == 1 && Quotient == 1)
    return Dim::symbol(Symbols[0]);
  return Dim::unknown();
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
// Concat, Split
//===----------------------------------------------------------------------===//

/// The dim two inputs that must agree share: the static one if any, else
/// the first symbol.
llvm::Expected<Dim> unifyDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic() && A.value() != B.value())
    return makeError("dims " + A.str() + " and " + B.str() + " differ");
  if (A.isStatic() || (A.isSymbol() && !B.isStatic()))
    return A;
  return B;
}

llvm::Error inferConcat(InferContext &Ctx) {
  const TensorType &First = Ctx.inputType(0);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), First.rank());
  if (First.rank() == 0 || !Ctx.node().hasAttr("axis") || !Axis)
    return Ctx.error("needs an axis within the rank of " + First.str());
  Shape Out = First.Dims;
  bool AllShapeValues = true;
  std::vector<Dim> Values;
  for (unsigned I = 0; I < Ctx.numInputs(); ++I) {
    if (!Ctx.hasInput(I))
      return Ctx.error("operand " + llvm::Twine(I) + " is missing");
    const TensorType &T = Ctx.inputType(I);
    if (T.Elem != First.Elem || T.rank() != First.rank())
      return Ctx.error("operand " + llvm::Twine(I) + " of type " + T.str() +
                       " does not match " + First.str());
    for (int64_t D = 0; D < T.rank(); ++D) {
      if (D == *Axis) {
        if (I > 0)
          Out[D] = addDims(Out[D], T.Dims[D]);
        continue;
      }
      auto Unified = unifyDims(Out[D], T.Dims[D]);
      if (!Unified)
        return Ctx.error("operand " + llvm::Twine(I) + " of type " + T.str() +
                         ": " + llvm::toString(Unified.takeError()));
      Out[D] = *Unified;
    }
    const std::vector<Dim> *SV = Ctx.inputShapeValue(I);
    if (SV)
      Values.insert(Values.end(), SV->begin(), SV->end());
    AllShapeValues &= SV != nullptr;
  }
  TensorType Result(First.Elem, std::move(Out));
  if (AllShapeValues)
    setShapeValueIfSmall(Ctx, 0, Result, std::move(Values));
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalConcat(EvalContext &Ctx) {
  const Tensor &First = *Ctx.input(0);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), First.rank());
  if (First.rank() == 0 || !Axis)
    return Ctx.error("needs an axis within the rank of " +
                     sizesStr(First.sizes()));
  std::vector<int64_t> OutSizes(First.sizes().begin(), First.sizes().end());
  OutSizes[*Axis] = 0;
  for (unsigned I = 0; I < Ctx.numInputs(); ++I) {
    const Tensor *T = Ctx.input(I);
    if (!T)
      return Ctx.error("operand " + llvm::Twine(I) + " is missing");
    bool Matches = T->dtype() == First.dtype() && T->rank() == First.rank();
    for (int64_t D = 0; Matches && D < T->rank(); ++D)
      Matches = D == *Axis || T->dim(D) == First.dim(D);
    if (!Matches)
      return Ctx.error("operand " + llvm::Twine(I) + " of shape " +
                       sizesStr(T->sizes()) + " does not match " +
                       sizesStr(First.sizes()));
    OutSizes[*Axis] += T->dim(*Axis);
  }
  size_t ES = dtypeSize(First.dtype());
  int64_t Outer = numElementsOf(llvm::ArrayRef(OutSizes).take_front(*Axis));
  int64_t Inner = numElementsOf(llvm::ArrayRef(OutSizes).drop_front(*Axis + 1));
  Tensor Out(First.dtype(), OutSizes);
  uint8_t *Dst = Out.mutableBytes();
  for (int64_t O = 0; O < Outer; ++O) {
    for (unsigned I = 0; I < Ctx.numInputs(); ++I) {
      const Tensor &T = *Ctx.input(I);
      size_t Chunk = size_t(T.dim(*Axis) * Inner) * ES;
      if (Chunk)
        std::memcpy(Dst, T.bytes() + O * Chunk, Chunk);
      Dst += Chunk;
    }
  }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

llvm::Error verifySplit(const Node &N) {
  if (!N.hasAttr("num_outputs"))
    return llvm::Error::success();
  int64_t Count = N.getInt("num_outputs", 0);
  if (N.operand(1))
    return makeError(N.describe() +
                     ": takes either the split operand or num_outputs, not "
                     "both");
  if (Count != int64_t(N.numResults()))
    return makeError(N.describe() + ": num_outputs = " + llvm::Twine(Count) +
                     " but the node has " + llvm::Twine(N.numResults()) +
                     " results");
  return llvm::Error::success();
}

/// Sizes of `Count` near-equal parts of `Size` as ONNX Split cuts them
/// without a split operand: ceil(Size / Count) each, the last one smaller.
llvm::Expected<std::vector<int64_t>> equalSplit(int64_t Size, int64_t Count) {
  int64_t Part = (Size + Count - 1) / Count;
  int64_t Last = Size - Part * (Count - 1);
  if (Last < 0)
    return makeError("cannot split a dim of size " + llvm::Twine(Size) +
                     " into " + llvm::Twine(Count) + " parts");
  std::vector<int64_t> Parts(Count, Part);
  Parts.back() = Last;
  return Parts;
}

/// Checks explicit split sizes against the dim and the result count.
llvm::Error checkSplitSizes(llvm::ArrayRef<int64_t> Parts, const Dim &Size,
                            unsigned NumResults) {
  if (Parts.size() != NumResults)
    return makeError("split " + sizesStr(Parts) + " has " +
                     llvm::Twine(Parts.size()) + " entries for " +
                     llvm::Twine(NumResults) + " results");
  if (llvm::any_of(Parts, [](int64_t P) { return P < 0; }))
    return makeError("split " + sizesStr(Parts) + " has a negative size");
  int64_t Sum = std::accumulate(Parts.begin(), Parts.end(), int64_t(0));
  if (Size.isStatic() && Sum != Size.value())
    return makeError("split " + sizesStr(Parts) +
                     " does not add up to the dim of size " + Size.str());
  return llvm::Error::success();
}

llvm::Error inferSplit(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), In.rank());
  if (!Axis)
    return Ctx.error("axis " + llvm::Twine(Ctx.node().getInt("axis", 0)) +
                     " is out of range for " + In.str());
  const Dim &Size = In.Dims[*Axis];
  unsigned N = Ctx.numOutputs();
  std::vector<Dim> Parts(N, Dim::unknown());
  std::optional<std::vector<int64_t>> Explicit;
  if (Ctx.hasInput(1)) {
    Explicit = knownInts(Ctx, 1);
    if (Explicit) {
      if (llvm::Error E = checkSplitSizes(*Explicit, Size, N))
        return Ctx.error(llvm::toString(std::move(E)));
      Parts.assign(Explicit->begin(), Explicit->end());
    }
  } else if (Size.isStatic()) {
    auto Equal = equalSplit(Size.value(), N);
    if (!Equal)
      return Ctx.error(llvm::toString(Equal.takeError()));
    Explicit = *Equal;
    Parts.assign(Equal->begin(), Equal->end());
  } else if (N == 1) {
    Parts[0] = Size;
  }
  const std::vector<Dim> *SV = Ctx.inputShapeValue(0);
  int64_t Offset = 0;
  for (unsigned I = 0; I < N; ++I) {
    TensorType Out = In;
    Out.Dims[*Axis] = Parts[I];
    if (SV && Explicit) {
      int64_t Part = (*Explicit)[I];
      if (Offset + Part <= int64_t(SV->size()))
        setShapeValueIfSmall(Ctx, I, Out, dimRange(*SV, Offset, Offset + Part));
      Offset += Part;
    }
    Ctx.setOutputType(I, std::move(Out));
  }
  return llvm::Error::success();
}

llvm::Error evalSplit(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), In.rank());
  if (!Axis)
    return Ctx.error("axis is out of range for an input of shape " +
                     sizesStr(In.sizes()));
  int64_t Size = In.dim(*Axis);
  std::vector<int64_t> Parts;
  if (Ctx.hasInput(1)) {
    Parts = Ctx.input(1)->toInts();
    if (llvm::Error E = checkSplitSizes(Parts, Dim(Size), Ctx.numOutputs()))
      return Ctx.error(llvm::toString(std::move(E)));
  } else {
    auto Equal = equalSplit(Size, Ctx.numOutputs());
    if (!Equal)
      return Ctx.error(llvm::toString(Equal.takeError()));
    Parts = std::move(*Equal);
  }
  std::vector<int64_t> Strides = stridesOf(In.sizes());
  int64_t Offset = 0;
  for (unsigned I = 0; I < Ctx.numOutputs(); ++I) {
    std::vector<int64_t> Sizes(In.sizes().begin(), In.sizes().end());
    Sizes[*Axis] = Parts[I];
    Ctx.setOutput(
        I, stridedCopy(In, std::move(Sizes), Strides, Offset * Strides[*Axis]));
    Offset += Parts[I];
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

/// One axis of a slice after ONNX's clamping.
struct SliceRange {
  int64_t Start = 0, Step = 1, Count = 0;
};

SliceRange sliceRange(int64_t Start, int64_t End, int64_t Step, int64_t Size) {
  SliceRange R;
  R.Step = Step;
  if (Size == 0)
    return R;
  if (Start < 0)
    Start += Size;
  if (End < 0)
    End += Size;
  if (Step > 0) {
    Start = std::clamp<int64_t>(Start, 0, Size);
    End = std::clamp<int64_t>(End, 0, Size);
    R.Count = End > Start ? (End - Start - 1) / Step + 1 : 0;
  } else {
    Start = std::clamp<int64_t>(Start, 0, Size - 1);
    End = std::clamp<int64_t>(End, -1, Size - 1);
    // |Step| in unsigned arithmetic: -INT64_MIN does not fit.
    uint64_t Magnitude = uint64_t(-(Step + 1)) + 1;
    R.Count =
        Start > End ? int64_t(uint64_t(Start - End - 1) / Magnitude) + 1 : 0;
  }
  R.Start = Start;
  return R;
}

/// Whether the slice covers a dim of any size whole, in order (step 1) or
/// reversed (step -1), as exporters write it: from 0 to INT64_MAX, or from
/// -1 to INT64_MIN. Bounds past +-INT32_MAX count as past any real dim.
bool takesWholeDim(int64_t Start, int64_t End, int64_t Step) {
  constexpr int64_t Far = INT32_MAX;
  if (Step == 1)
    return (Start == 0 || Start <= -Far) && End >= Far;
  if (Step == -1)
    return (Start == -1 || Start >= Far) && End <= -Far;
  return false;
}

/// The slice parameters with the defaults filled in, axes normalized.
struct SliceParams {
  std::vector<int64_t> Starts, Ends, Axes, Steps;
};

llvm::Expected<SliceParams>
makeSliceParams(std::vector<int64_t> Starts, std::vector<int64_t> Ends,
                std::optional<std::vector<int64_t>> Axes,
                std::optional<std::vector<int64_t>> Steps, int64_t Rank) {
  SliceParams P;
  size_t N = Starts.size();
  if (!Axes) {
    Axes.emplace(N);
    std::iota(Axes->begin(), Axes->end(), 0);
  }
  if (!Steps)
    Steps.emplace(N, 1);
  if (Ends.size() != N || Axes->size() != N || Steps->size() != N)
    return makeError("starts, ends, axes and steps have different lengths (" +
                     llvm::Twine(N) + ", " + llvm::Twine(Ends.size()) + ", " +
                     llvm::Twine(Axes->size()) + ", " +
                     llvm::Twine(Steps->size()) + ")");
  if (llvm::is_contained(*Steps, 0))
    return makeError("steps " + sizesStr(*Steps) + " contain 0");
  auto Norm = normalizeAxes(*Axes, Rank, "axes");
  if (!Norm)
    return Norm.takeError();
  P.Starts = std::move(Starts);
  P.Ends = std::move(Ends);
  P.Axes = std::move(*Norm);
  P.Steps = std::move(*Steps);
  return P;
}

llvm::Error inferSlice(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  static constexpr const char *Names[] = {"data", "starts", "ends", "axes",
                                          "steps"};
  for (unsigned I = 1; I < Ctx.numInputs() && I < 5; ++I)
    if (Ctx.hasInput(I))
      if (llvm::Error E = requireIntegerVector(Ctx, I, Names[I]))
        return E;
  auto Starts = knownInts(Ctx, 1), Ends = knownInts(Ctx, 2);
  auto Axes = knownInts(Ctx, 3), Steps = knownInts(Ctx, 4);
  if (Ctx.hasInput(3) && !Axes) {
    // Which dims change is not known.
    Ctx.setOutputType(0, TensorType(In.Elem, Shape(In.rank(), Dim())));
    return llvm::Error::success();
  }
  // Ends computed from Shape(x), like buffer[:, :seq] for BERT's position
  // ids, are symbols.
  const std::vector<Dim> *SymbolicEnds =
      Ends ? nullptr : Ctx.inputShapeValue(2);
  TensorType Result = In;
  if (!Starts || (!Ends && !SymbolicEnds) || (Ctx.hasInput(4) && !Steps)) {
    if (Axes) {
      auto Norm = normalizeAxes(*Axes, In.rank(), "axes");
      if (!Norm)
        return Ctx.error(llvm::toString(Norm.takeError()));
      for (int64_t A : *Norm)
        Result.Dims[A] = Dim::unknown();
    } else {
      const Dim &Count = Ctx.inputType(1).Dims[0];
      for (int64_t A = 0; A < In.rank(); ++A)
        if (!Count.isStatic() || A < Count.value())
          Result.Dims[A] = Dim::unknown();
    }
    Ctx.setOutputType(0, std::move(Result));
    return llvm::Error::success();
  }
  if (SymbolicEnds)
    Ends.emplace(SymbolicEnds->size(), INT64_MAX); // checked per axis below
  auto P = makeSliceParams(*Starts, *Ends, Axes, Steps, In.rank());
  if (!P)
    return Ctx.error(llvm::toString(P.takeError()));
  for (size_t I = 0; I < P->Axes.size(); ++I) {
    Dim &D = Result.Dims[P->Axes[I]];
    int64_t End = P->Ends[I];
    if (SymbolicEnds) {
      const Dim &SymbolicEnd = (*SymbolicEnds)[I];
      if (!SymbolicEnd.isStatic()) {
        // [0, n) has n elements when n fits the dim; if it does not at run
        // time, the executor reports the mismatch with the symbol.
        bool Prefix = P->Starts[I] == 0 && P->Steps[I] == 1;
        D = Prefix && SymbolicEnd.isSymbol() ? SymbolicEnd : Dim::unknown();
        continue;
      }
      End = SymbolicEnd.value();
    }
    if (D.isStatic())
      D = Dim(sliceRange(P->Starts[I], End, P->Steps[I], D.value()).Count);
    else if (!takesWholeDim(P->Starts[I], End, P->Steps[I]))
      D = Dim::unknown();
  }
  if (const std::vector<Dim> *SV = Ctx.inputShapeValue(0);
      SV && In.rank() == 1 && !SymbolicEnds) {
    SliceRange R{0, 1, int64_t(SV->size())};
    if (!P->Axes.empty())
      R = sliceRange(P->Starts[0], P->Ends[0], P->Steps[0],
                     int64_t(SV->size()));
    std::vector<Dim> Values;
    for (int64_t I = 0; I < R.Count; ++I)
      Values.push_back((*SV)[R.Start + I * R.Step]);
    setShapeValueIfSmall(Ctx, 0, Result, std::move(Values));
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalSlice(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Optional = [&](unsigned I) -> std::optional<std::vector<int64_t>> {
    if (!Ctx.hasInput(I))
      return std::nullopt;
    return Ctx.input(I)->toInts();
  };
  auto P = makeSliceParams(Ctx.input(1)->toInts(), Ctx.input(2)->toInts(),
                           Optional(3), Optional(4), In.rank());
  if (!P)
    return Ctx.error(llvm::toString(P.takeError()));
  std::vector<int64_t> Sizes(In.sizes().begin(), In.sizes().end());
  std::vector<int64_t> Strides = stridesOf(In.sizes());
  int64_t Offset = 0;
  for (size_t I = 0; I < P->Axes.size(); ++I) {
    int64_t A = P->Axes[I];
    SliceRange R = sliceRange(P->Starts[I], P->Ends[I], P->Steps[I], Sizes[A]);
    Sizes[A] = R.Count;
    if (R.Count > 0)
      Offset += R.Start * Strides[A];
    // With two or more elements |step| < size, so the stride cannot overflow.
    if (R.Count > 1)
      Strides[A] *= R.Step;
  }
  Ctx.setOutput(0, stridedCopy(In, std::move(Sizes), Strides, Offset));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Expand, Tile
//===----------------------------------------------------------------------===//

llvm::Error inferExpand(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (llvm::Error E = requireIntegerVector(Ctx, 1, "the shape operand"))
    return E;
  std::optional<std::vector<Dim>> Target = knownDims(Ctx, 1);
  if (!Target) {
    std::optional<int64_t> Count = staticLength(Ctx, 1);
    if (!Count)
      return llvm::Error::success();
    Target.emplace(*Count, Dim::unknown());
  }
  auto Out = broadcastShapes({In.Dims, Shape(Target->begin(), Target->end())});
  if (!Out)
    return Ctx.error("cannot expand " + In.str() + ": " +
                     llvm::toString(Out.takeError()));
  TensorType Result(In.Elem, std::move(*Out));
  const std::vector<Dim> *SV = Ctx.inputShapeValue(0);
  int64_t Count = Result.staticNumElements();
  if (SV && Count >= 0 && (SV->size() == 1 || int64_t(SV->size()) == Count)) {
    std::vector<Dim> Values;
    for (int64_t I = 0; I < Count; ++I)
      Values.push_back((*SV)[SV->size() == 1 ? 0 : I]);
    setShapeValueIfSmall(Ctx, 0, Result, std::move(Values));
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalExpand(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  std::vector<int64_t> InSizes(In.sizes().begin(), In.sizes().end());
  auto Out = broadcastSizes({InSizes, Ctx.input(1)->toInts()});
  if (!Out)
    return Ctx.error("cannot expand " + sizesStr(In.sizes()) + ": " +
                     llvm::toString(Out.takeError()));
  if (llvm::Error E = checkResultSizes(*Out))
    return Ctx.error(llvm::toString(std::move(E)));
  std::vector<int64_t> Strides = broadcastStrides(In.sizes(), *Out);
  Ctx.setOutput(0, stridedCopy(In, std::move(*Out), Strides));
  return llvm::Error::success();
}

llvm::Error checkRepeats(llvm::ArrayRef<int64_t> Repeats, int64_t Rank) {
  if (int64_t(Repeats.size()) != Rank)
    return makeError("repeats " + sizesStr(Repeats) + " do not have " +
                     llvm::Twine(Rank) + " entries");
  if (llvm::any_of(Repeats, [](int64_t R) { return R < 0; }))
    return makeError("repeats " + sizesStr(Repeats) + " are negative");
  return llvm::Error::success();
}

llvm::Error inferTile(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (llvm::Error E = requireIntegerVector(Ctx, 1, "repeats"))
    return E;
  TensorType Result(In.Elem, Shape(In.rank(), Dim()));
  if (std::optional<std::vector<int64_t>> Repeats = knownInts(Ctx, 1)) {
    if (llvm::Error E = checkRepeats(*Repeats, In.rank()))
      return Ctx.error(llvm::toString(std::move(E)));
    for (int64_t I = 0; I < In.rank(); ++I)
      Result.Dims[I] = mulDims(In.Dims[I], Dim((*Repeats)[I]));
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalTile(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  std::vector<int64_t> Repeats = Ctx.input(1)->toInts();
  if (llvm::Error E = checkRepeats(Repeats, In.rank()))
    return Ctx.error(llvm::toString(std::move(E)));
  // out[r * d + j] = in[j] along each axis: view the result as
  // [r0, d0, r1, d1, ...] reading the input with stride 0 along each r.
  std::vector<int64_t> InStrides = stridesOf(In.sizes());
  std::vector<int64_t> ViewSizes, ViewStrides, OutSizes;
  for (int64_t I = 0; I < In.rank(); ++I) {
    ViewSizes.insert(ViewSizes.end(), {Repeats[I], In.dim(I)});
    ViewStrides.insert(ViewStrides.end(), {0, InStrides[I]});
    OutSizes.push_back(Repeats[I] * In.dim(I));
  }
  if (llvm::Error E = checkResultSizes(ViewSizes))
    return Ctx.error(llvm::toString(std::move(E)));
  Ctx.setOutput(0, stridedCopy(In, std::move(ViewSizes), ViewStrides)
                       .reshaped(std::move(OutSizes)));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Range, ConstantOfShape, Constant, Identity
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

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

enum class PadMode { Constant, Reflect, Edge };

llvm::Expected<PadMode> padMode(const Node &N) {
  std::string Mode = N.getString("mode", "constant");
  if (Mode == "constant")
    return PadMode::Constant;
  if (Mode == "reflect")
    return PadMode::Reflect;
  if (Mode == "edge")
    return PadMode::Edge;
  if (Mode == "wrap")
    return makeError("unsupported Pad mode 'wrap' in " + N.describe());
  return makeError(N.describe() + ": unknown Pad mode '" + Mode +
                   "' (expected constant, reflect, edge or wrap)");
}

llvm::Error verifyPad(const Node &N) { return padMode(N).takeError(); }

/// Per-dim (begin, end) amounts from `pads` laid out as ONNX does
/// ([b0, b1, ..., e0, e1, ...] over `Axes`, all dims by default).
llvm::Expected<std::vector<std::pair<int64_t, int64_t>>>
padAmounts(llvm::ArrayRef<int64_t> Pads,
           std::optional<std::vector<int64_t>> Axes, int64_t Rank) {
  if (!Axes) {
    Axes.emplace(Rank);
    std::iota(Axes->begin(), Axes->end(), 0);
  }
  if (Pads.size() != 2 * Axes->size())
    return makeError("pads " + sizesStr(Pads) + " need 2 entries for each of " +
                     llvm::Twine(Axes->size()) + " axes");
  if (llvm::any_of(Pads, [](int64_t P) {
        return P < -MaxEvalElements || P > MaxEvalElements;
      }))
    return makeError("pads " + sizesStr(Pads) + " are out of range");
  auto Norm = normalizeAxes(*Axes, Rank, "axes");
  if (!Norm)
    return Norm.takeError();
  std::vector<std::pair<int64_t, int64_t>> Amounts(Rank, {0, 0});
  for (size_t I = 0; I < Norm->size(); ++I)
    Amounts[(*Norm)[I]] = {Pads[I], Pads[I + Norm->size()]};
  return Amounts;
}

llvm::Error inferPad(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (llvm::Error E = requireIntegerVector(Ctx, 1, "pads"))
    return E;
  if (Ctx.hasInput(2) && Ctx.inputType(2).Elem != In.Elem)
    return Ctx.error("constant_value of type " + Ctx.inputType(2).str() +
                     " does not match the data's " + In.str());
  std::optional<std::vector<int64_t>> Axes;
  if (Ctx.hasInput(3))
    Axes = knownInts(Ctx, 3);
  std::optional<std::vector<int64_t>> Pads = knownInts(Ctx, 1);
  if (!Pads || (Ctx.hasInput(3) && !Axes)) {
    Ctx.setOutputType(0, TensorType(In.Elem, Shape(In.rank(), Dim())));
    return llvm::Error::success();
  }
  auto Amounts = padAmounts(*Pads, Axes, In.rank());
  if (!Amounts)
    return Ctx.error(llvm::toString(Amounts.takeError()));
  TensorType Result = In;
  for (int64_t I = 0; I < In.rank(); ++I) {
    auto [Begin, End] = (*Amounts)[I];
    const Dim &D = In.Dims[I];
    if (!D.isStatic()) {
      Result.Dims[I] = Begin + End == 0 ? D : Dim::unknown();
      continue;
    }
    std::optional<int64_t> Size = checkedAdd(D.value(), Begin + End);
    if (!Size || *Size < 0)
      return Ctx.error("pads " + sizesStr(*Pads) + " do not fit " + In.str());
    Result.Dims[I] = Dim(*Size);
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

/// The input index that output index `O` reads along a dim of `Size` with
/// `Begin` elements padded in front; -1 for the constant.
int64_t padSource(int64_t O, int64_t Begin, int64_t Size, PadMode Mode) {
  int64_t I = O - Begin;
  if (I >= 0 && I < Size)
    return I;
  switch (Mode) {
  case PadMode::Constant: return -1;
  case PadMode::Edge: return std::clamp<int64_t>(I, 0, Size - 1);
  case PadMode::Reflect: {
    if (Size == 1)
      return 0;
    int64_t Period = 2 * (Size - 1);
    I = ((I % Period) + Period) % Period;
    return I < Size ? I : Period - I;
  }
  }
  return -1;
}

llvm::Error evalPad(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  auto Mode = padMode(Ctx.node());
  if (!Mode)
    return Mode.takeError();
  std::optional<std::vector<int64_t>> Axes;
  if (Ctx.hasInput(3))
    Axes = Ctx.input(3)->toInts();
  std::vector<int64_t> Pads = Ctx.input(1)->toInts();
  auto Amounts = padAmounts(Pads, Axes, In.rank());
  if (!Amounts)
    return Ctx.error(llvm::toString(Amounts.takeError()));
  std::vector<int64_t> OutSizes;
  for (int64_t D = 0; D < In.rank(); ++D) {
    auto [Begin, End] = (*Amounts)[D];
    int64_t Size = In.dim(D);
    std::optional<int64_t> Grown = checkedAdd(Begin, End);
    if (Grown)
      Grown = checkedAdd(Size, *Grown);
    if (!Grown || *Grown < 0)
      return Ctx.error("pads " + sizesStr(Pads) + " do not fit " +
                       sizesStr(In.sizes()));
    int64_t OutSize = *Grown;
    if (Size == 0 && OutSize > 0 && *Mode != PadMode::Constant)
      return Ctx.error("cannot pad an empty dim in mode " +
                       Ctx.node().getString("mode", "constant"));
    OutSizes.push_back(OutSize);
  }
  if (llvm::Error E = checkResultSizes(OutSizes))
    return Ctx.error(llvm::toString(std::move(E)));
  // Sources[d][o]: the input index along dim d read by output index o.
  std::vector<std::vector<int64_t>> Sources;
  for (int64_t D = 0; D < In.rank(); ++D) {
    int64_t Begin = (*Amounts)[D].first, OutSize = OutSizes[D];
    Sources.emplace_back(OutSize);
    for (int64_t O = 0; O < OutSize; ++O)
      Sources.back()[O] = padSource(O, Begin, In.dim(D), *Mode);
  }
  size_t ES = dtypeSize(In.dtype());
  Tensor Fill(In.dtype(), {});
  if (const Tensor *C = Ctx.input(2); C && C->numElements() > 0) {
    if (C->dtype() != In.dtype())
      return Ctx.error("constant_value has dtype " + dtypeName(C->dtype()) +
                       ", the data " + dtypeName(In.dtype()));
    Fill = *C;
  }
  Tensor Out(In.dtype(), OutSizes);
  std::vector<int64_t> Strides = stridesOf(In.sizes());
  uint8_t *Dst = Out.mutableBytes();
  forEachMultiIndex(OutSizes, [&](llvm::ArrayRef<int64_t> Index) {
    int64_t Offset = 0;
    for (size_t D = 0; D < Index.size() && Offset >= 0; ++D) {
      int64_t Src = Sources[D][Index[D]];
      Offset = Src < 0 ? -1 : Offset + Src * Strides[D];
    }
    copyElement(Dst, Offset < 0 ? Fill.bytes() : In.bytes() + Offset * ES, ES);
    Dst += ES;
  });
  Ctx.setOutput(0, std::move(Out));
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
  R.add(makeOp("Concat", "joins the inputs along axis", 1, Variadic,
               {{"axis", K::Int, /*Required=*/true}}, inferConcat, evalConcat));

  OpDef Split = makeOp("Split", "cuts the input along axis into the results", 1,
                       2, {{"axis", K::Int}, {"num_outputs", K::Int}},
                       inferSplit, evalSplit);
  Split.MaxOutputs = Variadic;
  Split.Verify = verifySplit;
  R.add(std::move(Split));

  R.add(makeOp("Slice",
               "strided window of the input (starts, ends, axes, "
               "steps)",
               3, 5, {}, inferSlice, evalSlice));
  R.add(makeOp("Expand", "broadcasts the input to a shape", 2, 2, {},
               inferExpand, evalExpand));
  R.add(makeOp("Tile", "repeats the input along each dim", 2, 2, {}, inferTile,
               evalTile));
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

  R.add(makeOp("Identity", "the input, unchanged", 1, 1, {}, inferIdentity,
               evalIdentity));

  OpDef Pad = makeOp("Pad",
                     "pads (or crops) each dim: constant, reflect or "
                     "edge",
                     2, 4, {{"mode", K::String}}, inferPad, evalPad);
  Pad.Verify = verifyPad;
  R.add(std::move(Pad));
}

} // namespace kiln
