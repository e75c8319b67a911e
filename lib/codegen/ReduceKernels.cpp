//===- ReduceKernels.cpp - the reduce.cuh rules -----------------------------===//
#include "codegen/GenericKernels.h"

namespace kiln::generic {

namespace {

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

} // namespace

void registerReduceKernels(KernelRegistry &R) {
  for (const char *Op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                         "ReduceProd", "ReduceL1", "ReduceL2",
                         "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"})
    R.add(Op, lowerReduce);
  R.add("ArgMax", lowerArgReduce);
  R.add("ArgMin", lowerArgReduce);
  R.add("CumSum", lowerCumSum);
  R.add("MatMul", lowerMatMul);
}

} // namespace kiln::generic
