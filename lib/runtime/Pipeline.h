//===- Pipeline.h - a pipeline artifact over several devices ----*- C++ -*-===//
//
// createPipelinePlacement (Executor.h) for artifacts compiled with
// `--partition pipeline`: stage s's artifact loaded on logical device
// Logical[s] (through the DeviceEngineFactory only, so its weights live on
// that device alone), and executors that run a request as micro-batches
// flowing through the stages (MicroBatch.h):
//
//   - each stage runs on its own ExecutionContext (its stream, arena and
//     CUDA graph per bucket) at a bucket's exact shape;
//   - a value crossing a cut is copied on the producer's stream, right after
//     the producer's graph, into a buffer per micro-batch on the consumer's
//     device: a plain device copy when both logical devices are one card,
//     cudaMemcpyPeerAsync where peer access is enabled, else through pinned
//     host memory; an event per stage orders the consumer after it;
//   - the host waits once, for the last outputs.
//
// docs/multi-gpu.md, "The pipeline runtime", says more.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_PIPELINE_H
#define KILN_RUNTIME_PIPELINE_H

#include "runtime/Executor.h"

#include <optional>
#include <utility>

namespace kiln {

struct PipelineRunOptions {
  /// Rows per micro-batch (a batch bucket); 0: the cost model picks per
  /// request. The environment's KILN_PIPELINE_MICROBATCH sets it when the
  /// 3-argument createPipelinePlacement is used.
  int64_t MicroBatch = 0;
};

/// How the copies between two stages' devices go.
enum class CopyPath : uint8_t {
  SameDevice, // both logical devices are one physical card
  Peer,       // cudaMemcpyPeerAsync, peer access enabled
  Host,       // through pinned host memory
};
const char *copyPathName(CopyPath P);

llvm::Expected<std::unique_ptr<Placement>>
createPipelinePlacement(const Artifact &A, std::span<const int> Logical,
                        const DeviceEngineFactory &MakeEngine,
                        const PipelineRunOptions &Options);

/// The copy path from stage `From` to stage `To` of a pipeline placement;
/// nothing when `P` is no pipeline.
std::optional<CopyPath> pipelineCopyPath(const Placement &P, size_t From,
                                         size_t To);

/// The micro-batch size and count of `E`'s last run; {0, 0} when `E` is no
/// pipeline executor or has not run.
std::pair<int64_t, int64_t> lastMicroBatches(const Executor &E);

} // namespace kiln

#endif
