//===- TextFiles.h - what a text model's artifact carries besides ---*- C++ -*-===//
//
// `kiln compile` and the Python package's `kiln.compile` both finish an
// artifact of a model that takes text the same way: the pooling its output
// already does (found in the artifact's IR), the tokenizer (--tokenizer, or
// a tokenizer.json beside the model; checked by loading it), and
// sentence-transformers' max_seq_length from a sentence_bert_config.json
// beside the model.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_TEXTFILES_H
#define KILN_CODEGEN_TEXTFILES_H

#include "runtime/Artifact.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace kiln {

/// Records in `A` its output pooling, the tokenizer at `TokenizerPath` (""
/// takes a tokenizer.json beside `ModelPath` when there is one, "none" takes
/// none) and the max_seq_length of a sentence_bert_config.json beside
/// `ModelPath` ("-", standard input, has nothing beside it).
llvm::Error addTextMetadata(Artifact &A, llvm::StringRef ModelPath,
                            llvm::StringRef TokenizerPath);

} // namespace kiln

#endif
