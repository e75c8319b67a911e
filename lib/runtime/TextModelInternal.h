//===- TextModelInternal.h - text models of graphs in memory ----*- C++ -*-===//
//
// kiln/TextModel.h loads artifacts. `kiln embed model.onnx --tokenizer
// tokenizer.json` has a graph instead (imported by the tool, which links
// the ONNX frontend; the runtime does not): this makes a CPU TextModel of
// it, on the reference executor. For tools and tests (kiln embed, and
// kiln serve on an .onnx fixture), not production services.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_TEXTMODELINTERNAL_H
#define KILN_RUNTIME_TEXTMODELINTERNAL_H

#include "ir/Graph.h"
#include "kiln/TextModel.h"
#include "runtime/Artifact.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The pooling a graph output already does: the PoolNormalize producing it
/// (the first such output), or mode "none".
std::optional<OutputPooling> findOutputPooling(const Graph &G);

/// A CPU TextModel of `G`, whose inputs stand for `Roles` (one per graph
/// input; InputRoleAnalysis finds them), tokenizing with `TokenizerJson`.
/// `SentenceMaxSeqLength` (0: unknown) limits the length as the artifact's
/// recorded value does.
llvm::Expected<std::unique_ptr<TextModel>>
createTextModel(std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
                const std::string &TokenizerJson, int64_t SentenceMaxSeqLength,
                const TextModelOptions &Options);

/// The same with the tokenizer in a file: a BERT vocab.txt when the name
/// ends in `.txt` (as tokenizer::Tokenizer::load reads it), else a
/// tokenizer.json.
llvm::Expected<std::unique_ptr<TextModel>> createTextModelFromFile(
    std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
    const std::string &TokenizerPath, int64_t SentenceMaxSeqLength,
    const TextModelOptions &Options);

} // namespace kiln

#endif
