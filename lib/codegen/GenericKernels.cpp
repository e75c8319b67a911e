//===- GenericKernels.cpp - lowering rules of the generic kernels ---------===//
//
// Every registry op that is neither fused (fused-kernel rules) nor a view
// or a matrix product (the bucket lowering) has a rule here: the
// elementwise ops through the generated kernels of ElementwiseCodegen, the
// rest through the template families of GenericKernels.h, one file each.
//
// Shapes are static here (codegen runs after `specialize`), so sizes,
// strides and offsets become template arguments. Operands that decide the
// layout (Slice's starts, Pad's pads, the axes of reductions, CumSum's axis)
// must be constants, as fold-constants leaves them.
//
//===----------------------------------------------------------------------===//
#include "codegen/GenericKernels.h"
#include "codegen/ElementwiseCodegen.h"

namespace kiln {

namespace generic {

llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V) {
  if (!V->type().isStatic())
    return makeError(N.describe() + ": " + V->name() + " has type " +
                     V->type().str() + "; GPU kernels need static shapes");
  return V->type().staticSizes();
}

llvm::Expected<std::vector<int64_t>> constantInts(const Node &N, unsigned I,
                                                  llvm::StringRef What) {
  const Value *V = N.operand(I);
  const Tensor *T = V ? V->constantData() : nullptr;
  if (!T)
    return makeError(N.describe() + ": unsupported on the GPU: " + What +
                     " is not a constant (its kernel bakes it in)");
  return T->toInts();
}

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

} // namespace generic

void registerGenericKernels(KernelRegistry &R) {
  for (llvm::StringRef Op : elementwiseKernelOps())
    R.add(Op, lowerElementwise);
  generic::registerCopyKernels(R);
  generic::registerGatherKernels(R);
  generic::registerReduceKernels(R);
  generic::registerSoftmaxKernels(R);
}

} // namespace kiln
