//===- FaultInjection.h - a device that fails on purpose --------*- C++ -*-===//
//
// The failover tests and `kiln bench --inject-fault` make a logical device
// fail as a real one would, without harming the GPU: each launch (one
// bucket run) on the device asks its FaultInjector first, which from the
// chosen launch on answers with the DeviceError a sticky CUDA error would
// give (lost), or with an out-of-memory one for a few launches
// (recoverable). docs/multi-gpu.md describes the syntax:
//
//   KILN_FAULT_INJECT=device:D:after:K[:recoverable[:N]][,device:...]
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_FAULTINJECTION_H
#define KILN_RUNTIME_FAULTINJECTION_H

#include "kiln/Engine.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <atomic>
#include <memory>
#include <vector>

namespace kiln {

/// Parses a list of faults (the form above, comma-separated). With
/// `Prefixed` false each fault omits its leading "device:" (the form of
/// `kiln bench --inject-fault D:after:K`).
llvm::Expected<std::vector<FaultInjection>>
parseFaultInjections(llvm::StringRef Spec, bool Prefixed = true);

/// The faults of `Options`, else of $KILN_FAULT_INJECT, checked against
/// the engine's `Devices` logical devices.
llvm::Expected<std::vector<FaultInjection>>
engineFaultInjections(const std::vector<FaultInjection> &Options,
                      size_t Devices);

/// The launch counter of one logical device. Thread-safe: every context on
/// the device (and the engines it compiles on demand) shares it.
class FaultInjector {
public:
  FaultInjector(int Device, std::vector<FaultInjection> Faults)
      : Device(Device), Faults(std::move(Faults)) {}
  /// Counts a launch; the DeviceError it must fail with, if any.
  llvm::Error onLaunch();
  uint64_t launches() const { return Count.load(); }

private:
  int Device;
  std::vector<FaultInjection> Faults;
  std::atomic<uint64_t> Count{0};
};

/// Makes every launch of `E` (and of the engines it compiles on demand)
/// ask `F` first (Engine.cpp).
void setFaultInjector(Engine &E, std::shared_ptr<FaultInjector> F);

} // namespace kiln

#endif
