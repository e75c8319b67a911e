//===- GenericKernels.cpp - lowering rules of the generic kernels ---------===//
//
// Every registry op that is neither fused (fused-kernel rules) nor a view
// or a matrix product (the lowering driver) has a rule here: the
// elementwise ops through the generated
// kernels of ElementwiseCodegen, the rest through the templates
//
//   copy.cuh     Transpose Slice Expand Tile Concat Split Pad Dropout
//                ConstantOfShape Shape Size Range Trilu EyeLike
//   gather.cuh   Gather GatherElements GatherND ScatterND, and NonZero
//                once its count is known (its `count` attribute)
//   reduce.cuh   ReduceX ArgMax ArgMin CumSum, and the MatMuls cuBLASLt
//                does not take (f64, integers, partially broadcast batches)
//   softmax.cuh  Softmax LogSoftmax
//
// Shapes are static here (codegen runs after `specialize`), so sizes,
// strides and offsets become template arguments. Operands that decide the
// layout (Slice's starts, Pad's pads, the axes of reductions, CumSum's axis)
// must be constants, as fold-constants leaves them.
//
//===----------------------------------------------------------------------===//
#include "codegen/ElementwiseCodegen.h"
#include "codegen/KernelLibrary.h"

#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringExtras.h"

#include <array>
#include <cstring>
#include <numeric>

namespace kiln {
namespace {

/// Threads per block of every generic kernel.
constexpr int64_t Threads = 256;

std::string lit(int64_t V) { return std::to_string(V) + "LL"; }
std::string flag(bool B) { return B ? "true" : "false"; }

/// The type moving an element of `T` as bytes.
std::string storageType(DType T) {
  switch (dtypeSize(T)) {
  case 1: return "uint8_t";
  case 2: return "unsigned short";
  case 4: return "uint32_t";
  default: return "uint64_t";
  }
}

/// The type of an element of `T` in arithmetic kernels.
std::string elementType(DType T) {
  return T == DType::Bool ? "bool" : cudaTypeName(T).str();
}

/// The type the reference computes `T` in: float, double or long long.
std::string computeType(DType T) {
  if (T == DType::F64)
    return "double";
  return isFloat(T) ? "float" : "long long";
}

std::string instance(llvm::StringRef Name, llvm::ArrayRef<std::string> Args) {
  return "kiln::" + Name.str() + "<" + llvm::join(Args, ", ") + ">";
}

/// A launch of `Count` threads in blocks of Threads.
KernelLaunch launch(llvm::StringRef Module, std::string NameExpr, int64_t Count,
                    std::vector<LaunchArg> Args) {
  KernelLaunch L;
  L.Module = Module.str();
  L.NameExpr = std::move(NameExpr);
  L.Grid[0] = uint32_t((Count + Threads - 1) / Threads);
  L.Block[0] = uint32_t(Threads);
  L.Args = std::move(Args);
  return L;
}

NodeLowering single(std::optional<KernelLaunch> L) {
  NodeLowering NL;
  if (L)
    NL.Launches.push_back(std::move(*L));
  return NL;
}

llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V) {
  if (!V->type().isStatic())
    return makeError(N.describe() + ": " + V->name() + " has type " +
                     V->type().str() + "; GPU kernels need static shapes");
  return V->type().staticSizes();
}

/// The contents of integer operand I, which must be a constant.
llvm::Expected<std::vector<int64_t>> constantInts(const Node &N, unsigned I,
                                                  llvm::StringRef What) {
  const Value *V = N.operand(I);
  const Tensor *T = V ? V->constantData() : nullptr;
  if (!T)
    return makeError(N.describe() + ": unsupported on the GPU: " + What +
                     " is not a constant (its kernel bakes it in)");
  return T->toInts();
}

/// Operand I's constant contents when present, nullopt when absent.
llvm::Expected<std::optional<std::vector<int64_t>>>
optionalInts(const Node &N, unsigned I, llvm::StringRef What) {
  if (I >= N.numOperands() || !N.operand(I))
    return std::nullopt;
  auto V = constantInts(N, I, What);
  if (!V)
    return V.takeError();
  return std::optional(std::move(*V));
}

llvm::Expected<int64_t> axisOf(const Node &N, int64_t Axis, int64_t Rank) {
  std::optional<int64_t> A = normalizeAxis(Axis, Rank);
  if (!A)
    return makeError(N.describe() + ": axis " + llvm::Twine(Axis) +
                     " is out of range for rank " + llvm::Twine(Rank));
  return *A;
}

int64_t product(llvm::ArrayRef<int64_t> Sizes) {
  return std::accumulate(Sizes.begin(), Sizes.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

//===----------------------------------------------------------------------===//
// Strided copies
//===----------------------------------------------------------------------===//

struct CopyDim {
  int64_t Size, InStride, OutStride;
};

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

//===----------------------------------------------------------------------===//
// Gather, GatherElements, GatherND, ScatterND
//===----------------------------------------------------------------------===//

llvm::Expected<std::string> indexType(const Node &N, unsigned I) {
  DType T = N.operand(I)->dtype();
  if (!isInteger(T))
    return makeError(N.describe() + ": indices must be integers");
  return cudaTypeName(T).str();
}

llvm::Expected<NodeLowering> lowerGather(const Node &N, const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Data->size()));
  if (!Axis)
    return Axis.takeError();
  llvm::ArrayRef<int64_t> D = *Data;
  int64_t Outer = product(D.take_front(*Axis)), Size = D[*Axis];
  int64_t Inner = product(D.drop_front(*Axis + 1));
  int64_t Picks = product(*Indices);
  int64_t Count = Outer * Picks * Inner;
  if (Count == 0)
    return NodeLowering();
  return single(launch(
      "gather.cuh",
      instance("gather", {storageType(N.operand(0)->dtype()), *Idx, lit(Outer),
                          lit(Size), lit(Picks), lit(Inner)}),
      Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerGatherElements(const Node &N,
                                                 const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  if (Data->size() != Indices->size() || Data->empty())
    return makeError(N.describe() + ": data and indices differ in rank");
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Data->size()));
  if (!Axis)
    return Axis.takeError();
  int64_t Count = product(*Indices);
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(*Data);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()), *Idx,
                                   std::to_string(*Axis), lit((*Data)[*Axis])};
  for (size_t D = 0; D < Data->size(); ++D)
    Args.insert(Args.end(), {lit((*Indices)[D]), lit(Strides[D])});
  return single(launch(
      "gather.cuh", instance("gather_elements", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerGatherND(const Node &N, const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  int64_t Batch = N.getInt("batch_dims", 0);
  int64_t R = int64_t(Data->size()), Q = int64_t(Indices->size());
  int64_t K = Q ? Indices->back() : 0;
  if (Q < 1 || Batch < 0 || Batch >= std::min(R, Q) || K < 1 || K > R - Batch)
    return makeError(N.describe() + ": indices do not fit the data");
  llvm::ArrayRef<int64_t> D = *Data;
  int64_t Batches = product(D.take_front(Batch));
  int64_t PerBatch =
      product(llvm::ArrayRef(*Indices).slice(Batch, Q - 1 - Batch));
  int64_t SliceElems = product(D.drop_front(Batch + K));
  int64_t BatchStride = product(D.drop_front(Batch));
  int64_t Count = Batches * PerBatch * SliceElems;
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(D);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()),
                                   *Idx,
                                   lit(Batches),
                                   lit(PerBatch),
                                   lit(SliceElems),
                                   lit(BatchStride)};
  for (int64_t J = 0; J < K; ++J)
    Args.insert(Args.end(), {lit(D[Batch + J]), lit(Strides[Batch + J])});
  return single(launch(
      "gather.cuh", instance("gather_nd", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerScatterND(const Node &N, const TargetInfo &) {
  if (N.getString("reduction", "none") != "none")
    return makeError(N.describe() + ": unsupported ScatterND reduction '" +
                     N.getString("reduction", "none") + "'");
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  int64_t K = Indices->empty() ? -1 : Indices->back();
  if (K < 0 || K > int64_t(Data->size()))
    return makeError(N.describe() + ": indices do not fit the data");
  DType T = N.operand(0)->dtype();
  NodeLowering L =
      single(gatherCopy(T, *Data, stridesOf(*Data), 0, LaunchArg::operand(0),
                        LaunchArg::result(0)));
  int64_t Tuples = product(llvm::ArrayRef(*Indices).drop_back());
  int64_t SliceElems = product(llvm::ArrayRef(*Data).drop_front(K));
  if (Tuples * SliceElems == 0)
    return L;
  std::vector<int64_t> Strides = stridesOf(*Data);
  std::vector<std::string> Args = {storageType(T), *Idx, lit(Tuples),
                                   lit(SliceElems)};
  for (int64_t J = 0; J < K; ++J)
    Args.insert(Args.end(), {lit((*Data)[J]), lit(Strides[J])});
  L.Launches.push_back(launch(
      "gather.cuh", instance("scatter_nd", Args), Tuples * SliceElems,
      {LaunchArg::operand(1), LaunchArg::operand(2), LaunchArg::result(0)}));
  return L;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

/// The ReduceKind of reduce.cuh, in its order.
int reduceKind(llvm::StringRef Op) {
  static const char *const Kinds[] = {
      "ReduceSum",    "ReduceMean",     "ReduceMax", "ReduceMin",
      "ReduceProd",   "ReduceL1",       "ReduceL2",  "ReduceSumSquare",
      "ReduceLogSum", "ReduceLogSumExp"};
  for (int K = 0; K < int(std::size(Kinds)); ++K)
    if (Op == Kinds[K])
      return K;
  return -1;
}

/// (size, stride) pairs without dims of 1, neighbours merged where the
/// outer one steps over the inner one exactly.
std::vector<std::pair<int64_t, int64_t>>
mergeDims(llvm::ArrayRef<std::pair<int64_t, int64_t>> Dims) {
  std::vector<std::pair<int64_t, int64_t>> Out;
  for (auto [Size, Stride] : Dims) {
    if (Size == 1)
      continue;
    if (!Out.empty() && Out.back().second == Stride * Size) {
      Out.back() = {Out.back().first * Size, Stride};
      continue;
    }
    Out.push_back({Size, Stride});
  }
  return Out;
}

llvm::Expected<NodeLowering> lowerReduce(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  auto Axes = optionalInts(N, 1, "axes");
  if (!Axes)
    return Axes.takeError();
  DType T = N.operand(0)->dtype();
  int64_t Rank = int64_t(In->size());
  std::vector<int64_t> Strides = stridesOf(*In);
  std::vector<int64_t> AxisList = Axes->value_or(std::vector<int64_t>());
  if (AxisList.empty() && N.getInt("noop_with_empty_axes", 0))
    return single(gatherCopy(T, *In, Strides, 0, LaunchArg::operand(0),
                             LaunchArg::result(0)));
  std::vector<bool> Reduced(Rank, AxisList.empty());
  for (int64_t A : AxisList) {
    auto Axis = axisOf(N, A, Rank);
    if (!Axis)
      return Axis.takeError();
    Reduced[*Axis] = true;
  }
  std::vector<std::pair<int64_t, int64_t>> Kept, Folded;
  for (int64_t D = 0; D < Rank; ++D)
    (Reduced[D] ? Folded : Kept).push_back({(*In)[D], Strides[D]});
  Kept = mergeDims(Kept);
  Folded = mergeDims(Folded);
  int64_t Outputs = 1, Count = 1;
  for (const auto &D : Kept)
    Outputs *= D.first;
  for (const auto &D : Folded)
    Count *= D.first;
  if (Outputs == 0)
    return NodeLowering();
  int Kind = reduceKind(N.opName());
  bool Real = isFloat(T) || Kind == 1 || Kind == 6 || Kind >= 8;
  std::vector<std::string> Args = {std::to_string(Kind), elementType(T),
                                   Real ? "double" : "long long",
                                   std::to_string(Kept.size())};
  for (const auto &Dims : {Kept, Folded})
    for (auto [Size, Stride] : Dims)
      Args.insert(Args.end(), {lit(Size), lit(Stride)});
  std::vector<LaunchArg> LArgs = {LaunchArg::operand(0), LaunchArg::result(0)};
  // A block per output pays off once there is enough to reduce.
  if (Count >= 64) {
    KernelLaunch L = launch("reduce.cuh", instance("reduce_block", Args), 1,
                            std::move(LArgs));
    L.Grid[0] = uint32_t(Outputs);
    return single(std::move(L));
  }
  return single(launch("reduce.cuh", instance("reduce_thread", Args), Outputs,
                       std::move(LArgs)));
}

/// Sizes as [Outer, N, Inner] around `Axis`.
std::array<int64_t, 3> aroundAxis(llvm::ArrayRef<int64_t> Sizes, int64_t Axis) {
  return {product(Sizes.take_front(Axis)), Sizes[Axis],
          product(Sizes.drop_front(Axis + 1))};
}

llvm::Expected<NodeLowering> lowerArgReduce(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(In->size()));
  if (!Axis)
    return Axis.takeError();
  auto [Outer, Size, Inner] = aroundAxis(*In, *Axis);
  if (Size == 0)
    return makeError(N.describe() + ": reduces an empty axis");
  if (Outer * Inner == 0)
    return NodeLowering();
  DType T = N.operand(0)->dtype();
  return single(
      launch("reduce.cuh",
             instance("arg_reduce",
                      {elementType(T), isFloat(T) ? "double" : "long long",
                       flag(N.opName() == "ArgMax"),
                       flag(N.getInt("select_last_index", 0) != 0), lit(Outer),
                       lit(Size), lit(Inner)}),
             Outer * Inner, {LaunchArg::operand(0), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerCumSum(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  auto AxisValue = constantInts(N, 1, "axis");
  if (!AxisValue)
    return AxisValue.takeError();
  if (AxisValue->size() != 1)
    return makeError(N.describe() + ": axis must be one element");
  auto Axis = axisOf(N, AxisValue->front(), int64_t(In->size()));
  if (!Axis)
    return Axis.takeError();
  auto [Outer, Size, Inner] = aroundAxis(*In, *Axis);
  if (Outer * Size * Inner == 0)
    return NodeLowering();
  DType T = N.operand(0)->dtype();
  return single(launch("reduce.cuh",
                       instance("cumsum", {elementType(T), computeType(T),
                                           flag(N.getInt("exclusive", 0) != 0),
                                           flag(N.getInt("reverse", 0) != 0),
                                           lit(Outer), lit(Size), lit(Inner)}),
                       Outer * Inner,
                       {LaunchArg::operand(0), LaunchArg::result(0)}));
}

/// NonZero with a static result [rank, count]: one block (gather.cuh).
llvm::Expected<NodeLowering> lowerNonZero(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  int64_t Count = (*Out)[1];
  if (Count == 0 || product(*In) == 0 || In->empty())
    return NodeLowering();
  std::vector<std::string> Args = {elementType(N.operand(0)->dtype()),
                                   lit(Count)};
  for (int64_t D : *In)
    Args.push_back(lit(D));
  KernelLaunch L;
  L.Module = "gather.cuh";
  L.NameExpr = instance("nonzero", Args);
  L.Block[0] = 1024; // gather.cuh's NonZeroThreads
  L.Args = {LaunchArg::operand(0), LaunchArg::result(0)};
  return single(std::move(L));
}

/// numpy matmul as the reference computes it, one thread per output. The
/// lowering driver sends a MatMul here only when cuBLASLt cannot take it.
llvm::Expected<NodeLowering> lowerMatMul(const Node &N, const TargetInfo &) {
  auto ASizes = sizesOf(N, N.operand(0));
  auto BSizes = sizesOf(N, N.operand(1));
  if (!ASizes || !BSizes)
    return joinErrors(ASizes.takeError(), BSizes.takeError());
  std::vector<int64_t> As = *ASizes, Bs = *BSizes;
  if (As.empty() || Bs.empty())
    return makeError(N.describe() + ": operands must have rank >= 1");
  if (As.size() == 1)
    As.insert(As.begin(), 1);
  if (Bs.size() == 1)
    Bs.push_back(1);
  int64_t M = As[As.size() - 2], K = As.back(), Cols = Bs.back();
  std::vector<int64_t> ABatch(As.begin(), As.end() - 2),
      BBatch(Bs.begin(), Bs.end() - 2);
  auto Batch = broadcastSizes({ABatch, BBatch});
  if (!Batch)
    return Batch.takeError();
  std::vector<int64_t> AStrides = broadcastStrides(ABatch, *Batch),
                       BStrides = broadcastStrides(BBatch, *Batch);
  int64_t Count = M * Cols * product(*Batch);
  if (Count == 0)
    return NodeLowering();
  DType T = N.operand(0)->dtype();
  std::vector<std::string> Args = {elementType(T), computeType(T), lit(M),
                                   lit(K), lit(Cols)};
  for (size_t D = 0; D < Batch->size(); ++D)
    Args.insert(Args.end(), {lit((*Batch)[D]), lit(AStrides[D] * M * K),
                             lit(BStrides[D] * K * Cols)});
  return single(launch(
      "reduce.cuh", instance("matmul", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerSoftmax(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  if (!In)
    return In.takeError();
  auto Axis = axisOf(N, N.getInt("axis", -1), int64_t(In->size()));
  if (!Axis)
    return Axis.takeError();
  auto [Outer, Size, Inner] = aroundAxis(*In, *Axis);
  if (Outer * Size * Inner == 0)
    return NodeLowering();
  DType T = N.operand(0)->dtype();
  std::string Log = flag(N.opName() == "LogSoftmax");
  std::vector<LaunchArg> Args = {LaunchArg::operand(0), LaunchArg::result(0)};
  if (Inner == 1) {
    KernelLaunch L =
        launch("softmax.cuh",
               instance("softmax_rows",
                        {elementType(T), computeType(T), Log, lit(Size)}),
               1, std::move(Args));
    L.Grid[0] = uint32_t(Outer);
    return single(std::move(L));
  }
  return single(
      launch("softmax.cuh",
             instance("softmax_columns", {elementType(T), computeType(T), Log,
                                          lit(Outer), lit(Size), lit(Inner)}),
             Outer * Inner, std::move(Args)));
}

} // namespace

void registerGenericKernels(KernelRegistry &R) {
  for (llvm::StringRef Op : elementwiseKernelOps())
    R.add(Op, lowerElementwise);
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
  R.add("Gather", lowerGather);
  R.add("GatherElements", lowerGatherElements);
  R.add("GatherND", lowerGatherND);
  R.add("ScatterND", lowerScatterND);
  for (const char *Op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                         "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"})
    R.add(Op, lowerReduce);
  R.add("ArgMax", lowerArgReduce);
  R.add("ArgMin", lowerArgReduce);
  R.add("CumSum", lowerCumSum);
  R.add("MatMul", lowerMatMul);
  R.add("NonZero", lowerNonZero);
  R.add("Softmax", lowerSoftmax);
  R.add("LogSoftmax", lowerSoftmax);
}

} // namespace kiln
