//===- WholeModelPlacement.cpp - the whole model on one logical device ----===//
//
// Replicate mode's placements, and every failover's: one engine on the
// device, each executor a context of it. Errors are marked with the
// logical device, so the group knows which device failed.
//
//===----------------------------------------------------------------------===//
#include "runtime/EngineImpl.h"
#include "runtime/Executor.h"

namespace kiln {

// FaultInjection.cpp reports these statuses without including CUDA.
static_assert(int(cudaErrorLaunchFailure) == 719);
static_assert(int(cudaErrorMemoryAllocation) == 2);

namespace {

class WholeModelExecutor : public Executor {
public:
  WholeModelExecutor(std::unique_ptr<ExecutionContext> Ctx, int Logical,
                     int Physical)
      : Ctx(std::move(Ctx)), Logical(Logical), Physical(Physical) {}

  llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs) override {
    // Lanes of several physical devices share the calling threads: the
    // launches must go to this context's device.
    if (cudaError_t E = cudaSetDevice(Physical); E != cudaSuccess)
      return withDevice(cudaFailure(E, "selecting the device"), Logical);
    auto Out = Ctx->run(Inputs);
    if (!Out)
      return withDevice(Out.takeError(), Logical);
    return Out;
  }

private:
  std::unique_ptr<ExecutionContext> Ctx;
  int Logical, Physical;
};

class WholeModelPlacement : public Placement {
public:
  WholeModelPlacement(std::unique_ptr<Engine> E, int Logical)
      : E(std::move(E)), Devices{Logical} {}

  const std::vector<int> &devices() const override { return Devices; }

  llvm::Expected<std::unique_ptr<Executor>> createExecutor() override {
    int Physical = Engine::Impl::of(*E).Options.Device;
    auto Ctx = E->createContext();
    if (!Ctx)
      return withDevice(Ctx.takeError(), Devices[0]);
    return std::make_unique<WholeModelExecutor>(std::move(*Ctx), Devices[0],
                                                Physical);
  }

private:
  std::unique_ptr<Engine> E;
  std::vector<int> Devices;
};

} // namespace

llvm::Expected<std::unique_ptr<Placement>>
createWholeModelPlacement(const Artifact &A, int Logical,
                          const DeviceEngineFactory &MakeEngine) {
  auto E = MakeEngine(A, Logical);
  if (!E)
    return withDevice(E.takeError(), Logical);
  return std::make_unique<WholeModelPlacement>(std::move(*E), Logical);
}

} // namespace kiln
