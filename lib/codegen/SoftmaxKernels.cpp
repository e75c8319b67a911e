//===- SoftmaxKernels.cpp - the softmax.cuh rules ---------------------------===//
#include "codegen/GenericKernels.h"

namespace kiln::generic {

namespace {

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

void registerSoftmaxKernels(KernelRegistry &R) {
  R.add("Softmax", lowerSoftmax);
  R.add("LogSoftmax", lowerSoftmax);
}

} // namespace kiln::generic
