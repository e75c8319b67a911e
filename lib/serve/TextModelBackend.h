//===- TextModelBackend.h - serve a kiln::TextModel -------------*- C++ -*-===//
//
// The serve::Backend of `kiln serve`: a thin adapter over the text API
// (include/kiln/TextModel.h), which does all the model and device work:
// tokenizing, padding, running on the reference executor or the GPU
// engine, and, over several devices, picking one per batch, taking out a
// device that fails and running its batch again on another, probing it
// back, and fault injection (TextModelOptions::Faults, KILN_FAULT_INJECT).
// That is the engine's multi-device group (docs/multi-gpu.md) on the GPU
// and the same failover over logical devices on the CPU, so `kiln serve`,
// `kiln run` and `kiln bench --devices` share it. The adapter only
// translates: calls, errors and each device's state.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_TEXTMODELBACKEND_H
#define KILN_SERVE_TEXTMODELBACKEND_H

#include "serve/Backend.h"

#include "kiln/TextModel.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace kiln::serve {

struct TextModelBackendOptions {
  /// The name /info and OpenAI's "model" report (the file's stem when the
  /// artifact records none).
  std::string Name;
};

/// Serves `Model`. Fails on a model that cannot embed text.
llvm::Expected<std::unique_ptr<Backend>>
createTextModelBackend(std::unique_ptr<TextModel> Model,
                       const TextModelBackendOptions &Options);

} // namespace kiln::serve

#endif
