//===- TextModelLoader.cpp - text models of uncompiled models -------------===//
//
// The length limits are found as kiln compile finds them, so that an .onnx
// served or embedded directly truncates where its artifact would.
//
//===----------------------------------------------------------------------===//
#include "common/TextModelLoader.h"

#include "codegen/IndexBounds.h"
#include "codegen/InputRoleAnalysis.h"
#include "common/ModelLoader.h"
#include "ir/Error.h"
#include "passes/PassManager.h"
#include "runtime/TextModelInternal.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace kiln {

/// sentence_bert_config.json's max_seq_length beside the model; 0 when
/// there is none.
static llvm::Expected<int64_t> sentenceMaxSeqLength(llvm::StringRef Dir) {
  llvm::SmallString<256> Config(Dir);
  llvm::sys::path::append(Config, "sentence_bert_config.json");
  if (!llvm::sys::fs::exists(Config))
    return 0;
  auto Buf = llvm::MemoryBuffer::getFile(Config);
  if (!Buf)
    return makeError(Config + ": " + Buf.getError().message());
  auto J = llvm::json::parse((*Buf)->getBuffer());
  if (!J)
    return withContext(J.takeError(), std::string(Config));
  if (const llvm::json::Object *O = J->getAsObject())
    return O->getInteger("max_seq_length").value_or(0);
  return 0;
}

/// The longest sequence the position tables allow, once the O2 passes have
/// fused the embeddings (kiln compile records the same); 0 when unknown.
static int64_t positionTableLimit(const std::string &Path) {
  auto Opt = loadModel(Path);
  if (!Opt) {
    llvm::consumeError(Opt.takeError());
    return 0;
  }
  if (llvm::Error E = runPassPipeline(**Opt, *namedPipeline("O2"), {})) {
    llvm::consumeError(std::move(E));
    return 0;
  }
  if (std::optional<SequenceLimit> L =
          sequenceLimit(**Opt, inferInputRoles(**Opt)))
    return L->MaxSeq;
  return 0;
}

llvm::Expected<std::unique_ptr<TextModel>>
loadUncompiledTextModel(const std::string &Path, std::string TokenizerPath,
                        const TextModelOptions &Options) {
  llvm::StringRef Dir = llvm::sys::path::parent_path(Path);
  if (TokenizerPath.empty()) {
    llvm::SmallString<256> Beside(Dir);
    llvm::sys::path::append(Beside, "tokenizer.json");
    TokenizerPath = std::string(Beside);
  }
  if (!llvm::sys::fs::exists(TokenizerPath))
    return makeError("--tokenizer " + TokenizerPath +
                     ": no such file (give a tokenizer.json or vocab.txt)");
  auto SentenceMax = sentenceMaxSeqLength(Dir);
  if (!SentenceMax)
    return SentenceMax.takeError();
  auto G = loadModel(Path);
  if (!G)
    return G.takeError();
  std::vector<IoRole> Roles = inferInputRoles(**G);
  int64_t Limit = *SentenceMax;
  if (int64_t Positions = positionTableLimit(Path))
    Limit = Limit ? std::min(Limit, Positions) : Positions;
  return createTextModelFromFile(std::move(*G), Roles, TokenizerPath, Limit,
                                 Options);
}

} // namespace kiln
