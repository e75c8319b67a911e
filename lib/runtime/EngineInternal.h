//===- EngineInternal.h - the runtime API kiln's own code uses --*- C++ -*-===//
//
// include/kiln/Engine.h is what a service sees; it knows no IR. kiln's own
// code needs a little more, in the IR's terms: an engine for an artifact
// held in memory (compileGraph's result), the artifact's metadata and plan,
// autotuning that returns the tuned plan, requests of IR tensors, and the
// conversions between the API's types (kiln/Tensor.h) and the IR's. This
// header is for lib/codegen, tools and tests, not for services.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ENGINEINTERNAL_H
#define KILN_RUNTIME_ENGINEINTERNAL_H

#include "ir/Tensor.h"
#include "kiln/Engine.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace kiln {

//===-- Engines of artifacts in memory -----------------------------------===//

/// What Engine::load does after reading the file: refuses a data-dependent
/// model, validatePlan, selects the device, loads the kernels, uploads the
/// weights.
llvm::Expected<std::unique_ptr<Engine>>
createEngine(Artifact A, const EngineOptions &Options = {});

const ArtifactMetadata &engineMetadata(const Engine &E);
const ExecutablePlan &enginePlan(const Engine &E);
/// Each bucket's predictedMs (Bucketing.h), computed once at load: what the
/// runtime compares to choose a packed-token bucket.
const std::vector<double> &enginePredictedMs(const Engine &E);

/// ExecutionContext::autotuneGemms, returning the engine's plan with the
/// fastest algorithms recorded: what `kiln compile --autotune` stores.
llvm::Expected<ExecutablePlan> autotunedPlan(ExecutionContext &Ctx,
                                             unsigned Candidates = 8,
                                             unsigned Iterations = 20);

/// The buckets (indices into the plan) the context's last request ran in,
/// in order; empty before any. For tests and `kiln bench`.
const std::vector<size_t> &lastBuckets(const ExecutionContext &Ctx);

/// ExecutionContext::run on IR tensors: the inputs' bytes are viewed, not
/// copied, and the outputs come back as IR tensors.
llvm::Expected<std::vector<Tensor>> runTensors(ExecutionContext &Ctx,
                                               llvm::ArrayRef<Tensor> Inputs);

//===-- The API's types and the IR's --------------------------------------===//

ElementType toElementType(DType T);
DType toDType(ElementType T);

/// Copies of the dtype, dims and bytes.
HostTensor toHostTensor(const Tensor &T);
Tensor toTensor(const HostTensor &T);

/// The metadata in the API's terms, with the plan's buckets in order.
ModelInfo modelInfo(const ArtifactMetadata &Meta, const ExecutablePlan &Plan);

} // namespace kiln

#endif
