//===- TextModelCpuDevices.h - logical CPU devices that may fail -*- C++ -*-===//
//
// A CPU TextModel (TextModelOptions::Where = CPU) with several Devices, or
// with faults to inject, runs on "logical devices": each a reference
// executor of the one graph, behind the same Failover as a multi-device
// engine's devices (Failover.h) and failing on purpose through the same
// FaultInjector (FaultInjection.h). The reference executor itself never
// fails as a GPU does; this exists so that failover (a device down, its
// work moved to the others, a recoverable one probed back) is testable
// end to end without a GPU: the unit tests and `kiln serve --device cpu
// --devices 0,1 --inject-fault 1:after:K`.
//
// A launch is one run (one batch). Each device has LanesPerDevice lanes (a
// request each at a time); the graph is shared, as the reference executor
// allows concurrent runs.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TEXTMODELCPUDEVICES_H
#define KILN_RUNTIME_TEXTMODELCPUDEVICES_H

#include "ir/Graph.h"
#include "ir/Tensor.h"
#include "kiln/Engine.h"
#include "runtime/Failover.h"
#include "runtime/FaultInjection.h"

#include "llvm/ADT/ArrayRef.h"

#include <memory>
#include <vector>

namespace kiln {

class CpuDevices {
public:
  /// `Devices` logical devices over `G` (which must outlive them). `Faults`
  /// as EngineOptions::Faults (none: $KILN_FAULT_INJECT); `ProbeInputs`
  /// are what a probe runs on a device that went down.
  static llvm::Expected<std::unique_ptr<CpuDevices>>
  create(const Graph &G, unsigned Devices, unsigned LanesPerDevice,
         const std::vector<FaultInjection> &Faults,
         std::vector<Tensor> ProbeInputs, FailoverOptions O = {});
  ~CpuDevices();

  /// Runs `G` on the least loaded device that is up, again on another when
  /// one fails; thread-safe.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs);
  /// Each logical device's state (Physical is 0: the one CPU).
  std::vector<DeviceState> devices() const { return F->states(); }

private:
  CpuDevices(const Graph &G) : G(G) {}
  /// One launch on logical device `Device`.
  llvm::Expected<std::vector<Tensor>> launch(int Device,
                                             llvm::ArrayRef<Tensor> Inputs);

  const Graph &G;
  std::vector<std::unique_ptr<FaultInjector>> Injectors;
  std::vector<Tensor> ProbeInputs;
  std::unique_ptr<Failover> F;
  std::unique_ptr<FailoverProber> Prober;
};

} // namespace kiln

#endif
