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

void registerGenericKernels(KernelRegistry &R) {
  for (llvm::StringRef Op : elementwiseKernelOps())
    R.add(Op, lowerElementwise);
  generic::registerCopyKernels(R);
  generic::registerGatherKernels(R);
  generic::registerReduceKernels(R);
  generic::registerSoftmaxKernels(R);
}

} // namespace kiln
