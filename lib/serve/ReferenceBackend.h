//===- ReferenceBackend.h - serve from tokenizer.json on the CPU -*- C++ -*-===//
//
// The Backend that `kiln serve --device cpu` uses until the text API
// (include/kiln/TextModel.h) lands: a tokenizer.json (lib/tokenizer) and an
// .onnx, text-form or .kiln model run on the CPU reference executor. Several
// logical devices (--devices 0,0) each run the model on their own thread,
// so the server's failover is testable without a GPU; KILN_FAULT_INJECT=
// device:D:after:K makes device D fail from its K-th batch on.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_REFERENCEBACKEND_H
#define KILN_SERVE_REFERENCEBACKEND_H

#include "serve/Backend.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace kiln::serve {

struct ReferenceBackendOptions {
  std::string ModelPath;
  /// Empty: tokenizer.json beside the model.
  std::string TokenizerPath;
  /// Logical devices, each a worker running the reference executor.
  size_t Devices = 1;
  /// "device:D:after:K", or empty (then KILN_FAULT_INJECT is read).
  std::string FaultInject;
};

llvm::Expected<std::unique_ptr<Backend>>
createReferenceBackend(const ReferenceBackendOptions &Options);

} // namespace kiln::serve

#endif
