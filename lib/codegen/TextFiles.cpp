//===- TextFiles.cpp - what a text model's artifact carries besides -------===//
#include "codegen/TextFiles.h"

#include "ir/Error.h"
#include "ir/Parser.h"
#include "kiln/TextModel.h"
#include "runtime/TextModelInternal.h"
#include "tokenizer/Tokenizer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace kiln;

llvm::Error kiln::addTextMetadata(Artifact &A, llvm::StringRef ModelPath,
                                  llvm::StringRef TokenizerPath) {
  auto Optimized = parseGraph(A.IrText, "<artifact IR>");
  if (!Optimized)
    return Optimized.takeError();
  A.Meta.Pooling = findOutputPooling(**Optimized);

  llvm::SmallString<256> Dir(ModelPath);
  llvm::sys::path::remove_filename(Dir);
  auto Beside = [&](llvm::StringRef Name) {
    llvm::SmallString<256> P(Dir);
    llvm::sys::path::append(P, Name);
    return std::string(P);
  };
  bool HasFolder = ModelPath != "-";
  std::string Path = TokenizerPath.str();
  if (Path.empty() && HasFolder &&
      llvm::sys::fs::exists(Beside("tokenizer.json")))
    Path = Beside("tokenizer.json");
  if (!Path.empty() && Path != "none") {
    auto Buf = llvm::MemoryBuffer::getFile(Path);
    if (!Buf)
      return makeError("tokenizer " + Path + ": " + Buf.getError().message());
    auto Tok = tokenizer::Tokenizer::fromJson((*Buf)->getBuffer(), Path);
    if (!Tok)
      return Tok.takeError();
    A.Tokenizer = (*Buf)->getBuffer().str();
  }

  std::string Config = Beside("sentence_bert_config.json");
  if (!HasFolder || !llvm::sys::fs::exists(Config))
    return llvm::Error::success();
  auto Buf = llvm::MemoryBuffer::getFile(Config);
  if (!Buf)
    return makeError(Config + ": " + Buf.getError().message());
  auto J = llvm::json::parse((*Buf)->getBuffer());
  if (!J)
    return withContext(J.takeError(), Config);
  if (const llvm::json::Object *O = J->getAsObject())
    if (std::optional<int64_t> N = O->getInteger("max_seq_length"); N && *N > 0)
      A.Meta.SentenceMaxSeqLength = *N;
  return llvm::Error::success();
}
