//===- TextModelCpuDevices.cpp - logical CPU devices that may fail --------===//
#include "runtime/TextModelCpuDevices.h"
#include "runtime/DeviceError.h"
#include "runtime/ReferenceExecutor.h"

#include "ir/Error.h"

namespace kiln {

llvm::Expected<std::unique_ptr<CpuDevices>>
CpuDevices::create(const Graph &G, unsigned Devices, unsigned LanesPerDevice,
                   const std::vector<FaultInjection> &Faults,
                   std::vector<Tensor> ProbeInputs, FailoverOptions O) {
  if (Devices == 0)
    return makeError("no logical CPU devices were given");
  if (LanesPerDevice == 0)
    return makeError("ContextsPerDevice must be at least 1");
  auto Checked = engineFaultInjections(Faults, Devices);
  if (!Checked)
    return Checked.takeError();
  std::unique_ptr<CpuDevices> C(new CpuDevices(G));
  std::vector<FailoverRoute> Routes;
  for (unsigned D = 0; D < Devices; ++D) {
    std::vector<FaultInjection> Mine;
    for (const FaultInjection &X : *Checked)
      if (X.Device == int(D))
        Mine.push_back(X);
    C->Injectors.push_back(std::make_unique<FaultInjector>(int(D), Mine));
    Routes.push_back({{int(D)}, LanesPerDevice, 0});
  }
  C->ProbeInputs = std::move(ProbeInputs);
  CpuDevices *Self = C.get();
  C->F = std::make_unique<Failover>(
      Devices, std::move(Routes),
      [Self](int D) -> llvm::Error {
        auto Out = Self->launch(D, Self->ProbeInputs);
        return Out ? llvm::Error::success() : Out.takeError();
      },
      std::move(O));
  C->Prober = std::make_unique<FailoverProber>(*C->F);
  return C;
}

// The prober goes first: its probes launch on the devices.
CpuDevices::~CpuDevices() { Prober.reset(); }

llvm::Expected<std::vector<Tensor>>
CpuDevices::launch(int Device, llvm::ArrayRef<Tensor> Inputs) {
  if (llvm::Error E = Injectors[size_t(Device)]->onLaunch())
    return std::move(E);
  return runReference(G, Inputs);
}

llvm::Expected<std::vector<Tensor>>
CpuDevices::run(llvm::ArrayRef<Tensor> Inputs) {
  std::vector<Tensor> Out;
  // Routes are one per device, in order: route R is logical device R.
  llvm::Error E = F->run([&](size_t Route, unsigned) -> llvm::Error {
    auto R = launch(int(Route), Inputs);
    if (!R)
      return R.takeError();
    Out = std::move(*R);
    return llvm::Error::success();
  });
  if (E)
    return std::move(E);
  return Out;
}

} // namespace kiln
