// libFuzzer target: the ONNX importer on arbitrary bytes must return a graph
// or an error, never crash, hang or read outside its input. External data is
// refused (no base directory), so the fuzzer touches no files.
#include "frontend/onnx/OnnxImporter.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Bytes(reinterpret_cast<const char *>(Data), Size);
  auto G = kiln::importOnnxBuffer(Bytes, "", "fuzz.onnx");
  if (!G)
    llvm::consumeError(G.takeError());
  return 0;
}
