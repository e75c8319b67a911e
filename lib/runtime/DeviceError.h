//===- DeviceError.h - a device's failure, told apart from a bad request -*- C++ -*-===//
//
// Errors from CUDA and cuBLASLt come back as a DeviceError, so the layer
// that spreads work over devices (failover, docs/multi-gpu.md) can tell a
// request the caller got wrong (any other error: answered at once) from a
// device that failed it (retried elsewhere). How bad the failure is follows
// CUDA's documentation: after a sticky error (illegal address, launch
// failure, device-side assert, uncorrectable ECC ...) the process must be
// restarted to use the device again, so the device is Lost; other errors
// (out of memory, a busy device) fail that attempt only.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DEVICEERROR_H
#define KILN_RUNTIME_DEVICEERROR_H

#include "llvm/Support/Error.h"

#include <string>

namespace kiln {

class DeviceError : public llvm::ErrorInfo<DeviceError> {
public:
  enum class Severity {
    /// The device cannot be used again by this process.
    Lost,
    /// This attempt failed; the device may work again (probe it later).
    Recoverable,
  };

  /// `Code` is the library's status (a cudaError_t or cublasStatus_t
  /// value); `Device` the logical device index, -1 until a layer that knows
  /// it sets it (withDevice).
  DeviceError(std::string Message, Severity S, int Code, int Device = -1)
      : Message(std::move(Message)), S(S), Code(Code), Device(Device) {}

  Severity severity() const { return S; }
  int code() const { return Code; }
  int device() const { return Device; }
  void setDevice(int D) { Device = D; }

  void log(llvm::raw_ostream &OS) const override { OS << Message; }
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

  static char ID;

private:
  std::string Message;
  Severity S;
  int Code;
  int Device;
};

/// How CUDA runtime status `Code` (a cudaError_t) leaves the device.
DeviceError::Severity classifyCudaError(int Code);

/// `E` with every DeviceError in it marked as logical device `Device`
/// (where it was not marked yet); other errors pass unchanged.
llvm::Error withDevice(llvm::Error E, int Device);

} // namespace kiln

#endif
