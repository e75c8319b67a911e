//===- Executor.h - one way to run the whole model, for the device group -*- C++ -*-===//
//
// A multi-device engine (EngineOptions::Devices, docs/multi-gpu.md) spreads
// requests over placements of the model: the whole model on one logical
// device (replicate, and every failover), or the stages of a pipeline over
// several. The layer that balances and fails over (DeviceGroup) drives them
// through this seam only, so it never knows which kind it holds:
//
//   Placement  the model loaded on its devices (engines, weights): shared;
//   Executor   one request at a time on a placement (like ExecutionContext),
//              one per concurrent lane.
//
// Device failures come back as DeviceError (DeviceError.h) marked with the
// logical device that failed (withDevice), so the group knows which device
// to take out; any other error is the request's own and is answered as is.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_EXECUTOR_H
#define KILN_RUNTIME_EXECUTOR_H

#include "kiln/Engine.h"
#include "runtime/Artifact.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace kiln {

class Executor {
public:
  virtual ~Executor() = default;
  /// Runs one request: graph inputs in order, on the host; the graph
  /// outputs in order, on the host.
  virtual llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs) = 0;
  /// Seconds the last run spent copying values between devices (0 on one
  /// device), for `kiln bench` and the pipeline's cost model.
  virtual double lastCopySeconds() const { return 0; }
};

class Placement {
public:
  virtual ~Placement() = default;
  /// The logical devices it runs on (indices into EngineOptions::Devices),
  /// in stage order.
  virtual const std::vector<int> &devices() const = 0;
  virtual llvm::Expected<std::unique_ptr<Executor>> createExecutor() = 0;
};

/// Makes the engine of artifact `A` on logical device `Logical`: selects
/// its physical device and wires what the group adds to every launch there
/// (fault injection, docs/multi-gpu.md). Placements make their engines only
/// through it.
using DeviceEngineFactory =
    std::function<llvm::Expected<std::unique_ptr<Engine>>(const Artifact &A,
                                                          int Logical)>;

/// The whole model of `A` (its own plan, never its stages) on `Logical`.
llvm::Expected<std::unique_ptr<Placement>>
createWholeModelPlacement(const Artifact &A, int Logical,
                          const DeviceEngineFactory &MakeEngine);

/// The pipeline of `A` (A.Partition is a pipeline; A.Stages its stages):
/// stage s on `Logical[s]` (Logical.size() == A.Stages.size()). Values
/// crossing a cut are copied between the devices (peer copies where the
/// devices allow, through the host otherwise), in micro-batches that
/// overlap the stages.
llvm::Expected<std::unique_ptr<Placement>>
createPipelinePlacement(const Artifact &A, std::span<const int> Logical,
                        const DeviceEngineFactory &MakeEngine);

} // namespace kiln

#endif
