//===- DeviceGroup.h - one model served by several devices ------*- C++ -*-===//
//
// What a multi-device engine (EngineOptions::Devices) runs its requests
// through. It makes the placements (Executor.h) of the partition mode,
// each lane of each one an Executor, and hands every request to Failover
// (Failover.h), which picks the least-loaded usable lane and tries a
// failed attempt elsewhere:
//
//   replicate  one route per logical device: the whole model there;
//   pipeline   one route over all devices (the artifact's stages), and the
//              whole model on each device as fallbacks, made on first use.
//
// It also checks and enables peer access between the physical devices it
// uses (DeviceState::Links says which pairs copy directly and which through
// pinned host memory), splits one large batch over the devices that are up
// (replicate, when every part still fills the largest bucket), and probes
// devices that went down recoverably from a thread of its own.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DEVICEGROUP_H
#define KILN_RUNTIME_DEVICEGROUP_H

#include "kiln/Engine.h"
#include "runtime/Artifact.h"
#include "runtime/Executor.h"
#include "runtime/Failover.h"
#include "runtime/FaultInjection.h"

#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace kiln {

class DeviceGroup {
public:
  /// `A` must outlive the group (the engine holds both).
  static llvm::Expected<std::unique_ptr<DeviceGroup>>
  create(const Artifact &A, const EngineOptions &Options);
  ~DeviceGroup();

  /// What one request did, for `kiln bench --devices`.
  struct RunInfo {
    int Device = -1;       // the first logical device of the route
    unsigned Attempts = 0; // more than 1: retried after a device failed
    unsigned Parts = 1;    // > 1: the batch was split over devices
    double CopySeconds = 0;
  };
  /// Runs one request; thread-safe.
  llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs, RunInfo *Info = nullptr);

  std::vector<DeviceState> devices() const;
  /// Weights summed over the engines made so far; arena and workspace of
  /// the largest (per context, as for one device).
  EngineMemory memory() const;
  PartitionMode mode() const { return Mode; }
  /// The smallest batch each part of a split request gets.
  int64_t splitRows() const { return SplitRows; }

private:
  DeviceGroup(const Artifact &A, const EngineOptions &O) : A(A), Opts(O) {}

  struct Route {
    std::vector<int> Devices;
    std::function<llvm::Expected<std::unique_ptr<Placement>>()> Make;
    std::unique_ptr<std::mutex> MakeMutex = std::make_unique<std::mutex>();
    std::unique_ptr<Placement> P;
    /// One per lane; Failover gives a lane to one request at a time.
    std::vector<std::unique_ptr<Executor>> Lanes;
  };

  llvm::Error init();
  llvm::Expected<std::unique_ptr<Engine>> makeEngine(const Artifact &A,
                                                     int Logical);
  llvm::Error placeRoute(Route &R);
  llvm::Expected<Executor *> lane(size_t Route, unsigned Lane);
  llvm::Error probe(int Logical);
  llvm::Expected<std::vector<HostTensor>>
  runWhole(std::span<const HostTensor> Inputs, RunInfo *Info);

  const Artifact &A;
  EngineOptions Opts;
  PartitionMode Mode = PartitionMode::Replicate;
  std::vector<std::shared_ptr<FaultInjector>> Injectors;
  std::vector<std::string> Links;
  std::vector<Route> Routes;
  /// Per logical device: the route running the whole model there alone,
  /// and an executor of it kept for probes.
  std::vector<size_t> WholeRoute;
  std::vector<std::unique_ptr<Executor>> ProbeExec;
  std::vector<HostTensor> ProbeInputs;
  int64_t SplitRows = 0;
  std::unique_ptr<Failover> F;
  /// Every engine the factory made (owned by their placements).
  mutable std::mutex MadeMutex;
  std::vector<const Engine *> Made;
  std::unique_ptr<FailoverProber> Prober;
};

/// ExecutionContext::run(views) on a multi-device engine: host views only,
/// copied in and out of the group's host tensors.
llvm::Error runOnGroup(DeviceGroup &G, std::span<const TensorView> Inputs,
                       std::span<const TensorView> Outputs,
                       DeviceGroup::RunInfo *Info);

/// The mode a multi-device engine runs in (Replicate for one device).
PartitionMode enginePartitionMode(const Engine &E);

/// What the last request of `Ctx` (a context of a multi-device engine)
/// did: where it ran, its attempts, its copy time.
DeviceGroup::RunInfo lastRunInfo(const ExecutionContext &Ctx);

/// Splits `Inputs` (a request of `Batch` rows) into consecutive parts of
/// `Rows` rows each (the last keeps the rest), along each input's batch
/// dim; and joins the parts' outputs back. CUDA-free.
std::vector<std::vector<HostTensor>>
splitRequest(const ArtifactMetadata &Meta, std::span<const HostTensor> Inputs,
             std::span<const int64_t> Rows);
llvm::Expected<std::vector<HostTensor>>
joinOutputs(const ArtifactMetadata &Meta,
            std::vector<std::vector<HostTensor>> Parts);

} // namespace kiln

#endif
