//===- TextModelBackend.h - serve a kiln::TextModel -------------*- C++ -*-===//
//
// The serve::Backend of `kiln serve`: a thin adapter over the text API
// (include/kiln/TextModel.h), which does all the model work (tokenizing,
// padding, running on the reference executor or the GPU engines). The
// adapter adds only what a service needs around it: device names, each
// device's health (a device whose batch fails is marked down, and the
// server moves its work to the others), and fault injection for testing
// that failover: KILN_FAULT_INJECT=device:D:after:K makes device D fail its
// K-th batch and every one after.
//
// On the GPU, device D is the D-th GPU the TextModel was loaded on (two
// entries for one card give two engines on it). On the CPU, the TextModel
// runs on the reference executor, which any number of threads may call:
// `LogicalDevices` workers share it, so failover is testable without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_TEXTMODELBACKEND_H
#define KILN_SERVE_TEXTMODELBACKEND_H

#include "serve/Backend.h"

#include "kiln/TextModel.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::serve {

struct TextModelBackendOptions {
  /// The name /info and OpenAI's "model" report (the file's stem when the
  /// artifact records none).
  std::string Name;
  /// Device names, one per device: "cuda:0", "cuda:0" for a GPU TextModel
  /// loaded on {0, 0}; on the CPU, one "cpu:I" per logical device.
  std::vector<std::string> DeviceNames;
  /// "device:D:after:K", or empty (then KILN_FAULT_INJECT is read).
  std::string FaultInject;
};

/// Serves `Model`. Fails on a bad fault-injection spec, a model that cannot
/// embed text, or device names that do not match the model's devices.
llvm::Expected<std::unique_ptr<Backend>>
createTextModelBackend(std::unique_ptr<TextModel> Model,
                       const TextModelBackendOptions &Options);

} // namespace kiln::serve

#endif
