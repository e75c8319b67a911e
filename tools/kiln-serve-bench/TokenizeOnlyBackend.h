//===- TokenizeOnlyBackend.h - a serve Backend without a model ---*- C++ -*-===//
//
// kiln-serve-bench's `fake` mode measures what the server itself costs per
// request (HTTP, JSON, tokenization, batching) with the model's compute
// taken away: this Backend tokenizes with the real tokenizer, exactly as
// TextModelBackend does, but its embed() returns made-up vectors at once
// (values of an embedding's magnitude, so that writing them as JSON costs
// what real ones cost). It is a measuring instrument, not a server
// backend: kiln serve never uses it.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_BENCH_TOKENIZEONLYBACKEND_H
#define KILN_SERVE_BENCH_TOKENIZEONLYBACKEND_H

#include "serve/Backend.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace kiln::serve {

/// A backend of width \p Dimension whose inputs are tokenized with the
/// tokenizer.json or vocab.txt at \p TokenizerPath, cut to \p MaxLength.
llvm::Expected<std::unique_ptr<Backend>>
createTokenizeOnlyBackend(const std::string &TokenizerPath, size_t Dimension,
                          size_t MaxLength);

} // namespace kiln::serve

#endif
