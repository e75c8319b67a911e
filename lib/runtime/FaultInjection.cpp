//===- FaultInjection.cpp - a device that fails on purpose ----------------===//
#include "runtime/FaultInjection.h"
#include "runtime/DeviceError.h"

#include "ir/Error.h"

#include "llvm/ADT/SmallVector.h"

#include <cstdlib>

namespace kiln {

// The CUDA statuses an injected fault reports (cudaErrorLaunchFailure and
// cudaErrorMemoryAllocation; WholeModelPlacement.cpp checks the values), so
// a log reads like the real failure's.
constexpr int InjectedLostCode = 719;
constexpr int InjectedRecoverableCode = 2;

static llvm::Expected<FaultInjection> parseOne(llvm::StringRef Spec,
                                               bool Prefixed) {
  llvm::StringRef Form = Prefixed ? "device:D:after:K[:recoverable[:N]]"
                                  : "D:after:K[:recoverable[:N]]";
  auto Bad = [&](const llvm::Twine &Why) {
    return makeError("fault injection '" + Spec + "': " + Why + " (expected " +
                     Form + ")");
  };
  llvm::SmallVector<llvm::StringRef> F;
  Spec.split(F, ':');
  size_t I = 0;
  if (Prefixed) {
    if (F.empty() || F[0] != "device")
      return Bad("must start with 'device:'");
    ++I;
  }
  if (F.size() < I + 3)
    return Bad("too few fields");
  FaultInjection Out;
  if (F[I].getAsInteger(10, Out.Device) || Out.Device < 0)
    return Bad("device '" + F[I] + "' is not a non-negative integer");
  if (F[I + 1] != "after")
    return Bad("'" + F[I + 1] + "' where 'after' belongs");
  if (F[I + 2].getAsInteger(10, Out.AfterLaunches) || Out.AfterLaunches == 0)
    return Bad("launch '" + F[I + 2] +
               "' is not a positive integer (launches count from 1)");
  I += 3;
  if (I < F.size()) {
    if (F[I] != "recoverable" && F[I] != "lost")
      return Bad("'" + F[I] + "' is neither 'recoverable' nor 'lost'");
    Out.Recoverable = F[I] == "recoverable";
    ++I;
  }
  if (I < F.size()) {
    if (!Out.Recoverable)
      return Bad("a lost device fails on every launch from K on; a count "
                 "applies to 'recoverable' only");
    if (F[I].getAsInteger(10, Out.Launches) || Out.Launches == 0)
      return Bad("count '" + F[I] + "' is not a positive integer");
    ++I;
  }
  if (I < F.size())
    return Bad("unexpected '" + F[I] + "'");
  return Out;
}

llvm::Expected<std::vector<FaultInjection>>
parseFaultInjections(llvm::StringRef Spec, bool Prefixed) {
  std::vector<FaultInjection> Out;
  llvm::SmallVector<llvm::StringRef> Parts;
  Spec.split(Parts, ',');
  for (llvm::StringRef P : Parts) {
    auto F = parseOne(P.trim(), Prefixed);
    if (!F)
      return F.takeError();
    Out.push_back(*F);
  }
  return Out;
}

llvm::Expected<std::vector<FaultInjection>>
engineFaultInjections(const std::vector<FaultInjection> &Options,
                      size_t Devices) {
  std::vector<FaultInjection> Faults = Options;
  if (Faults.empty()) {
    const char *Env = std::getenv("KILN_FAULT_INJECT");
    if (Env && *Env) {
      auto Parsed = parseFaultInjections(Env);
      if (!Parsed)
        return withContext(Parsed.takeError(), "KILN_FAULT_INJECT");
      Faults = std::move(*Parsed);
    }
  }
  for (const FaultInjection &F : Faults) {
    if (F.Device < 0 || size_t(F.Device) >= Devices)
      return makeError("fault injection on device " + llvm::Twine(F.Device) +
                       ": the engine has logical devices 0.." +
                       llvm::Twine(int64_t(Devices) - 1));
    if (F.AfterLaunches == 0 || (F.Recoverable && F.Launches == 0))
      return makeError("fault injection on device " + llvm::Twine(F.Device) +
                       ": launches count from 1");
  }
  return Faults;
}

llvm::Error FaultInjector::onLaunch() {
  uint64_t N = ++Count;
  for (const FaultInjection &F : Faults) {
    if (N < F.AfterLaunches ||
        (F.Recoverable && N >= F.AfterLaunches + F.Launches))
      continue;
    std::string What = "injected fault (launch " + std::to_string(N) +
                       " on logical device " + std::to_string(Device) + "): ";
    if (F.Recoverable)
      return llvm::make_error<DeviceError>(
          What + "CUDA error cudaErrorMemoryAllocation: out of memory",
          DeviceError::Severity::Recoverable, InjectedRecoverableCode, Device);
    return llvm::make_error<DeviceError>(
        What + "CUDA error cudaErrorLaunchFailure: unspecified launch failure",
        DeviceError::Severity::Lost, InjectedLostCode, Device);
  }
  return llvm::Error::success();
}

} // namespace kiln
