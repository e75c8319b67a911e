//===- CopyKernels.cpp - the copy.cuh rules ---------------------------------===//
#include "codegen/GenericKernels.h"

#include <cstring>

namespace kiln::generic {

//===----------------------------------------------------------------------===//
// Strided copies
//===----------------------------------------------------------------------===//

/// strided_copy over `Dims` (outermost first) after dropping dims of 1 and
/// merging neighbours both sides walk contiguously; nullopt when nothing is
/// copied.
std::optional<KernelLaunch> copyLaunch(DType T, llvm::ArrayRef<CopyDim> Dims,
                                       int64_t InOffset, int64_t OutOffset,
                                       LaunchArg In, LaunchArg Out) {
  std::vector<CopyDim> Merged;
  int64_t Count = 1;
  for (const CopyDim &D : Dims) {
    Count *= D.Size;
    if (D.Size == 1)
      continue;
    if (!Merged.empty() && Merged.back().InStride == D.InStride * D.Size &&
        Merged.back().OutStride == D.OutStride * D.Size) {
      Merged.back() = {Merged.back().Size * D.Size, D.InStride, D.OutStride};
      continue;
    }
    Merged.push_back(D);
  }
  if (Count == 0)
    return std::nullopt;
  std::vector<std::string> Args = {storageType(T), lit(InOffset),
                                   lit(OutOffset)};
  for (const CopyDim &D : Merged)
    Args.insert(Args.end(), {lit(D.Size), lit(D.InStride), lit(D.OutStride)});
  return launch("copy.cuh", instance("strided_copy", Args), Count, {In, Out});
}

/// Reading `In` (sizes `InSizes`) at `InStrides` into a contiguous result of
/// `OutSizes`.
std::optional<KernelLaunch> gatherCopy(DType T,
                                       llvm::ArrayRef<int64_t> OutSizes,
                                       llvm::ArrayRef<int64_t> InStrides,
                                       int64_t InOffset, LaunchArg In,
                                       LaunchArg Out) {
  std::vector<int64_t> OutStrides = stridesOf(OutSizes);
  std::vector<CopyDim> Dims;
  for (size_t D = 0; D < OutSizes.size(); ++D)
    Dims.push_back({OutSizes[D], InStrides[D], OutStrides[D]});
  return copyLaunch(T, Dims, InOffset, 0, In, Out);
}

namespace {

llvm::Expected<NodeLowering> lowerTranspose(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  int64_t Rank = int64_t(In->size());
  std::vector<int64_t> Perm(Rank);
  std::iota(Perm.rbegin(), Perm.rend(), 0);
  if (N.hasAttr("perm"))
    Perm = N.getInts("perm");
  if (int64_t(Perm.size()) != Rank)
    return makeError(N.describe() + ": perm does not match rank " +
                     llvm::Twine(Rank));
  std::vector<int64_t> Strides = stridesOf(*In), OutSizes, InStrides;
  for (int64_t P : Perm) {
    if (P < 0 || P >= Rank)
      return makeError(N.describe() + ": perm is not a permutation");
    OutSizes.push_back((*In)[P]);
    InStrides.push_back(Strides[P]);
  }
  return single(gatherCopy(N.operand(0)->dtype(), OutSizes, InStrides, 0,
                           LaunchArg::operand(0), LaunchArg::result(0)));
}

llvm::Expected<NodeLowering> lowerSlice(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  auto Starts = constantInts(N, 1, "starts");
  if (!Starts)
    return Starts.takeError();
  auto Axes = optionalInts(N, 3, "axes");
  if (!Axes)
    return Axes.takeError();
  auto Steps = optionalInts(N, 4, "steps");
  if (!Steps)
    return Steps.takeError();
  size_t Count = Starts->size();
  std::vector<int64_t> AxisList(Count);
  std::iota(AxisList.begin(), AxisList.end(), 0);
  if (*Axes)
    AxisList = **Axes;
  std::vector<int64_t> StepList =
      Steps->value_or(std::vector<int64_t>(Count, 1));
  if (AxisList.size() != Count || StepList.size() != Count)
    return makeError(N.describe() +
                     ": starts, axes and steps differ in length");
  std::vector<int64_t> Strides = stridesOf(*In), InStrides = Strides;
  int64_t Offset = 0;
  for (size_t I = 0; I < Count; ++I) {
    auto A = axisOf(N, AxisList[I], int64_t(In->size()));
    if (!A)
      return A.takeError();
    int64_t Size = (*In)[*A], Step = StepList[I], Start = (*Starts)[I];
    if (Step == 0)
      return makeError(N.describe() + ": a step is 0");
    // ONNX's clamping of the start; the count is the result's dim.
    if (Start < 0)
      Start += Size;
    Start = Step > 0 ? std::clamp<int64_t>(Start, 0, Size)
                     : std::clamp<int64_t>(Start, 0, Size - 1);
    if ((*Out)[*A] > 0)
      Offset += Start * Strides[*A];
    InStrides[*A] = Strides[*A] * Step;
  }
  return single(gatherCopy(N.operand(0)->dtype(), *Out, InStrides, Offset,
                           LaunchArg::operand(0), LaunchArg::result(0)));
}

llvm::Expected<NodeLowering> lowerExpand(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  return single(gatherCopy(N.operand(0)->dtype(), *Out,
                           broadcastStrides(*In, *Out), 0,
                           LaunchArg::operand(0), LaunchArg::result(0)));
}

llvm::Expected<NodeLowering> lowerTile(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  if (In->size() != Out->size())
    return makeError(N.describe() + ": result rank differs from the input's");
  // out[r * d + j] = in[j] along each dim: the result is [r0, d0, r1, d1,
  // ...] reading the input with stride 0 along each r.
  std::vector<int64_t> InStrides = stridesOf(*In), OutStrides = stridesOf(*Out);
  std::vector<CopyDim> Dims;
  for (size_t D = 0; D < In->size(); ++D) {
    int64_t Repeats = (*In)[D] ? (*Out)[D] / (*In)[D] : 0;
    Dims.push_back({Repeats, 0, (*In)[D] * OutStrides[D]});
    Dims.push_back({(*In)[D], InStrides[D], OutStrides[D]});
  }
  return single(copyLaunch(N.operand(0)->dtype(), Dims, 0, 0,
                           LaunchArg::operand(0), LaunchArg::result(0)));
}

llvm::Expected<NodeLowering> lowerConcat(const Node &N, const TargetInfo &) {
  auto Out = sizesOf(N, N.result(0));
  if (!Out)
    return Out.takeError();
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Out->size()));
  if (!Axis)
    return Axis.takeError();
  std::vector<int64_t> OutStrides = stridesOf(*Out);
  NodeLowering L;
  int64_t Offset = 0;
  for (unsigned I = 0; I < N.numOperands(); ++I) {
    auto In = sizesOf(N, N.operand(I));
    if (!In)
      return In.takeError();
    std::vector<int64_t> InStrides = stridesOf(*In);
    std::vector<CopyDim> Dims;
    for (size_t D = 0; D < In->size(); ++D)
      Dims.push_back({(*In)[D], InStrides[D], OutStrides[D]});
    if (auto C = copyLaunch(N.operand(I)->dtype(), Dims, 0,
                            Offset * OutStrides[*Axis], LaunchArg::operand(I),
                            LaunchArg::result(0)))
      L.Launches.push_back(std::move(*C));
    Offset += (*In)[*Axis];
  }
  return L;
}

llvm::Expected<NodeLowering> lowerSplit(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(In->size()));
  if (!Axis)
    return Axis.takeError();
  std::vector<int64_t> Strides = stridesOf(*In);
  NodeLowering L;
  int64_t Offset = 0;
  for (unsigned R = 0; R < N.numResults(); ++R) {
    auto Out = sizesOf(N, N.result(R));
    if (!Out)
      return Out.takeError();
    if (auto C = gatherCopy(N.operand(0)->dtype(), *Out, Strides,
                            Offset * Strides[*Axis], LaunchArg::operand(0),
                            LaunchArg::result(R)))
      L.Launches.push_back(std::move(*C));
    Offset += (*Out)[*Axis];
  }
  return L;
}

/// Dropout at inference: the input, and an all-true mask when asked for.
llvm::Expected<NodeLowering> lowerDropout(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  NodeLowering L =
      single(gatherCopy(N.operand(0)->dtype(), *In, stridesOf(*In), 0,
                        LaunchArg::operand(0), LaunchArg::result(0)));
  int64_t Count = product(*In);
  if (N.numResults() > 1 && Count > 0)
    L.Launches.push_back(
        launch("copy.cuh", instance("fill", {"uint8_t", "1ull", lit(Count)}),
               Count, {LaunchArg::result(1)}));
  return L;
}

//===----------------------------------------------------------------------===//
// Tensors from nothing: ConstantOfShape, Shape, Size, Range, EyeLike, Trilu
//===----------------------------------------------------------------------===//

/// The bytes of element 0 of `T` as an integer (little-endian).
std::string bitsOf(const Tensor &T) {
  uint64_t Bits = 0;
  std::memcpy(&Bits, T.bytes(), dtypeSize(T.dtype()));
  return std::to_string(Bits) + "ull";
}

llvm::Expected<NodeLowering> lowerConstantOfShape(const Node &N,
                                                  const TargetInfo &) {
  auto Out = sizesOf(N, N.result(0));
  if (!Out)
    return Out.takeError();
  Tensor Value(DType::F32, {});
  if (const Attribute *A = N.attr("value"); A && A->kind() == AttrKind::Tensor)
    Value = A->getTensor();
  if (Value.numElements() != 1 || Value.dtype() != N.result(0)->dtype())
    return makeError(N.describe() + ": value must be one element of the "
                                    "result's dtype");
  int64_t Count = product(*Out);
  if (Count == 0)
    return NodeLowering();
  return single(launch(
      "copy.cuh",
      instance("fill", {storageType(Value.dtype()), bitsOf(Value), lit(Count)}),
      Count, {LaunchArg::result(0)}));
}

NodeLowering writeValues(llvm::ArrayRef<int64_t> Values) {
  if (Values.empty())
    return NodeLowering();
  std::vector<std::string> Args;
  for (int64_t V : Values)
    Args.push_back(lit(V));
  KernelLaunch L = launch("copy.cuh", instance("write_i64", Args), 1,
                          {LaunchArg::result(0)});
  L.Grid[0] = 1;
  L.Block[0] = uint32_t(std::max<size_t>(32, (Values.size() + 31) / 32 * 32));
  return single(std::move(L));
}

llvm::Expected<NodeLowering> lowerShape(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  int64_t Rank = int64_t(In->size());
  auto Bound = [&](int64_t B) {
    return std::clamp<int64_t>(B < 0 ? B + Rank : B, 0, Rank);
  };
  int64_t Start = Bound(N.getInt("start", 0));
  int64_t End = Bound(N.getInt("end", Rank));
  if (Start >= End)
    return NodeLowering();
  if (End - Start > 1024)
    return makeError(N.describe() + ": rank too large");
  return writeValues(llvm::ArrayRef(*In).slice(Start, End - Start));
}

llvm::Expected<NodeLowering> lowerSize(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  return writeValues({product(*In)});
}

llvm::Expected<NodeLowering> lowerRange(const Node &N, const TargetInfo &) {
  auto Out = sizesOf(N, N.result(0));
  if (!Out)
    return Out.takeError();
  DType T = N.result(0)->dtype();
  int64_t Count = product(*Out);
  if (Count == 0)
    return NodeLowering();
  std::string C = isFloat(T) ? "double" : "long long";
  return single(launch(
      "copy.cuh", instance("range", {elementType(T), C, lit(Count)}), Count,
      {LaunchArg::operand(0), LaunchArg::operand(2), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerEyeLike(const Node &N, const TargetInfo &) {
  auto Out = sizesOf(N, N.result(0));
  if (!Out)
    return Out.takeError();
  if (Out->size() != 2)
    return makeError(N.describe() + ": needs a 2-D result");
  DType T = N.result(0)->dtype();
  int64_t Count = product(*Out);
  if (Count == 0)
    return NodeLowering();
  Tensor One(T, {});
  One.setDouble(0, 1.0);
  return single(launch(
      "copy.cuh",
      instance("eye", {storageType(T), bitsOf(One), lit(N.getInt("k", 0)),
                       lit((*Out)[0]), lit((*Out)[1])}),
      Count, {LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerTrilu(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  if (In->size() < 2)
    return makeError(N.describe() + ": needs rank >= 2");
  int64_t Count = product(*In);
  if (Count == 0)
    return NodeLowering();
  int64_t Rows = (*In)[In->size() - 2], Cols = In->back();
  std::string Matrices = lit(Count / (Rows * Cols));
  std::string T = storageType(N.operand(0)->dtype());
  bool Upper = N.getInt("upper", 1) != 0;
  const Value *K = N.numOperands() > 1 ? N.operand(1) : nullptr;
  const Tensor *KData = K ? K->constantData() : nullptr;
  if (K && !KData)
    return single(launch(
        "copy.cuh",
        instance("trilu_k", {T, cudaTypeName(K->dtype()).str(), flag(Upper),
                             Matrices, lit(Rows), lit(Cols)}),
        Count,
        {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
  int64_t KValue = KData ? KData->getInt(0) : 0;
  return single(launch("copy.cuh",
                       instance("trilu", {T, flag(Upper), lit(KValue), Matrices,
                                          lit(Rows), lit(Cols)}),
                       Count, {LaunchArg::operand(0), LaunchArg::result(0)}));
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

llvm::Expected<NodeLowering> lowerPad(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  std::string ModeName = N.getString("mode", "constant");
  int Mode = ModeName == "constant"  ? 0
             : ModeName == "reflect" ? 1
             : ModeName == "edge"    ? 2
                                     : -1;
  if (Mode < 0)
    return makeError(N.describe() + ": unsupported Pad mode '" + ModeName +
                     "'");
  auto Pads = constantInts(N, 1, "pads");
  if (!Pads)
    return Pads.takeError();
  auto Axes = optionalInts(N, 3, "axes");
  if (!Axes)
    return Axes.takeError();
  int64_t Rank = int64_t(In->size());
  std::vector<int64_t> AxisList(Rank);
  std::iota(AxisList.begin(), AxisList.end(), 0);
  if (*Axes)
    AxisList = **Axes;
  if (Pads->size() != 2 * AxisList.size())
    return makeError(N.describe() + ": pads need two entries per axis");
  std::vector<int64_t> Begin(Rank, 0);
  for (size_t I = 0; I < AxisList.size(); ++I) {
    auto A = axisOf(N, AxisList[I], Rank);
    if (!A)
      return A.takeError();
    Begin[*A] = (*Pads)[I];
  }
  int64_t Count = product(*Out);
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(*In);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()),
                                   std::to_string(Mode)};
  for (int64_t D = 0; D < Rank; ++D) {
    if ((*In)[D] == 0 && Mode != 0)
      return makeError(N.describe() + ": cannot pad an empty dim in mode " +
                       ModeName);
    Args.insert(Args.end(), {lit((*Out)[D]), lit((*In)[D]), lit(Begin[D]),
                             lit(Strides[D])});
  }
  const Value *Fill = N.numOperands() > 2 ? N.operand(2) : nullptr;
  if (Fill && Fill->type().staticNumElements() != 0)
    return single(launch(
        "copy.cuh", instance("pad_fill", Args), Count,
        {LaunchArg::operand(0), LaunchArg::operand(2), LaunchArg::result(0)}));
  return single(launch("copy.cuh", instance("pad", Args), Count,
                       {LaunchArg::operand(0), LaunchArg::result(0)}));
}

} // namespace

void registerCopyKernels(KernelRegistry &R) {
  R.add("Transpose", lowerTranspose);
  R.add("Slice", lowerSlice);
  R.add("Expand", lowerExpand);
  R.add("Tile", lowerTile);
  R.add("Concat", lowerConcat);
  R.add("Split", lowerSplit);
  R.add("Dropout", lowerDropout);
  R.add("ConstantOfShape", lowerConstantOfShape);
  R.add("Shape", lowerShape);
  R.add("Size", lowerSize);
  R.add("Range", lowerRange);
  R.add("EyeLike", lowerEyeLike);
  R.add("Trilu", lowerTrilu);
  R.add("Pad", lowerPad);
}

} // namespace kiln::generic
