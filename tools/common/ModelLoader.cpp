#include "common/ModelLoader.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"

#include "llvm/Support/MemoryBuffer.h"

namespace kiln {

static llvm::Expected<std::unique_ptr<Graph>> readGraph(llvm::StringRef Path) {
  if (Path.ends_with_insensitive(".onnx"))
    return importOnnxFile(Path);
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> Buf =
      llvm::MemoryBuffer::getFileOrSTDIN(Path, /*IsText=*/true);
  if (!Buf)
    return makeError("cannot read '" + Path + "': " + Buf.getError().message());
  return parseGraph((*Buf)->getBuffer(), Path == "-" ? "<stdin>" : Path);
}

llvm::Expected<std::unique_ptr<Graph>> loadModel(llvm::StringRef Path) {
  llvm::Expected<std::unique_ptr<Graph>> G = readGraph(Path);
  if (!G)
    return G.takeError();
  if (llvm::Error E = verifyGraph(**G))
    return withContext(std::move(E), Path + ": invalid graph");
  return G;
}

} // namespace kiln
