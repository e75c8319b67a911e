//===- StageReference.h - a pipeline's stages on the CPU --------*- C++ -*-===//
//
// A pipeline artifact's stages run one after another on the reference
// executor, each value handed on as its PartitionPlan says: what
// `kiln run --device cpu` does with a pipeline artifact, and how the tests
// check a pipeline against the whole model without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_STAGEREFERENCE_H
#define KILN_RUNTIME_STAGEREFERENCE_H

#include "ir/Tensor.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace kiln {

/// `Inputs` are the whole model's graph inputs in order; returns its
/// outputs in order. `A` must be a pipeline artifact.
llvm::Expected<std::vector<Tensor>>
runStagesReference(const Artifact &A, llvm::ArrayRef<Tensor> Inputs);

} // namespace kiln

#endif
