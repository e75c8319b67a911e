//===- PipelinePlacementMissing.cpp - until the pipeline runtime lands ----===//
//
// The device group (DeviceGroup.cpp) calls createPipelinePlacement for an
// artifact compiled with --partition pipeline. The pipeline runtime is
// built on its own branch (lib/runtime/Pipeline*); until it is merged,
// this definition keeps the runtime linking and says so. Delete this file
// when the pipeline runtime is merged.
//
//===----------------------------------------------------------------------===//
#include "runtime/Executor.h"

#include "ir/Error.h"

namespace kiln {

llvm::Expected<std::unique_ptr<Placement>>
createPipelinePlacement(const Artifact &, std::span<const int>,
                        const DeviceEngineFactory &) {
  return makeError("pipeline runtime not built: this kiln runs a "
                   "multi-device engine in replicate mode only");
}

} // namespace kiln
