//===- Precision.h - the storage precision a model is compiled to -*- C++ -*-===//
//
// One spelling of the storage precision for kiln and kiln-opt: the
// `--precision` flags parse it, CompileOptions carries it, and the precision
// pass (Precision.cpp) applies it to a graph.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PRECISION_H
#define KILN_PASSES_PRECISION_H

#include "passes/PassManager.h"

namespace kiln {

enum class Precision { F32, F16, BF16 };

/// `f32` (or `fp32`), `f16` (or `fp16`) or `bf16`.
llvm::Expected<Precision> parsePrecision(llvm::StringRef Text);
/// `f32`, `f16` or `bf16`: the dtype's name, as the artifact records it.
llvm::StringRef precisionName(Precision P);
/// The pipeline step that stores f32 tensors in `P` (F16 or BF16).
PipelineStep precisionStep(Precision P);

} // namespace kiln

#endif
