//===- TextModelLoader.h - text models of uncompiled models ------*- C++ -*-===//
//
// `kiln embed model.onnx --tokenizer FILE` and `kiln serve model.onnx
// --tokenizer FILE` load the same thing: the model as imported, on the
// reference executor, with its tokenizer. This is the one loader both use,
// so they read the same tokenizer files (a tokenizer.json, or a BERT
// vocab.txt when the name ends in .txt; default: tokenizer.json beside the
// model) and limit the length the same way (sentence_bert_config.json's
// max_seq_length beside the model, and the position tables' bound that
// kiln compile would record).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_COMMON_TEXTMODELLOADER_H
#define KILN_TOOLS_COMMON_TEXTMODELLOADER_H

#include "kiln/TextModel.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace kiln {

/// A CPU TextModel of the .onnx or .kir model at \p Path, tokenizing with
/// \p TokenizerPath (empty: tokenizer.json beside the model).
/// Options.Where must be Device::CPU.
llvm::Expected<std::unique_ptr<TextModel>>
loadUncompiledTextModel(const std::string &Path, std::string TokenizerPath,
                        const TextModelOptions &Options);

} // namespace kiln

#endif
