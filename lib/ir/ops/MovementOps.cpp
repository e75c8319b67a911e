//===- MovementOps.cpp - ops that copy data into a new layout -------------===//
//
// Concat, Split, Slice, Expand, Tile and Pad, in their opset-21 form.
// Concat, Split, Slice and Expand carry shape values through (ShapeOps.cpp
// says why inference follows them).
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

void registerMovementOps(OpRegistry &R) {
  using K = AttrKind;
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

  OpDef Pad = makeOp("Pad",
                     "pads (or crops) each dim: constant, reflect or "
                     "edge",
                     2, 4, {{"mode", K::String}}, inferPad, evalPad);
  Pad.Verify = verifyPad;
  R.add(std::move(Pad));
}

} // namespace kiln
