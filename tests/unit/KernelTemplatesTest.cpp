// Every kernel the runtime launches may be scheduled before its predecessor
// in the stream has finished (programmatic dependent launch), so every
// kernel must wait for it before touching memory: its first statement is
// wait_for_predecessor() (kernels/templates/common.cuh).
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(KernelTemplates, EveryKernelWaitsForItsPredecessorFirst) {
  std::string Dir = std::string(KILN_SOURCE_DIR) + "/kernels/templates";
  std::error_code EC;
  unsigned Kernels = 0, Files = 0;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC)) {
    if (llvm::sys::path::extension(It->path()) != ".cuh")
      continue;
    auto Buf = llvm::MemoryBuffer::getFile(It->path());
    ASSERT_TRUE(bool(Buf)) << It->path();
    llvm::StringRef Text = (*Buf)->getBuffer();
    ++Files;
    for (size_t At = Text.find("__global__"); At != llvm::StringRef::npos;
         At = Text.find("__global__", At + 1)) {
      size_t Body = Text.find('{', At);
      ASSERT_NE(Body, llvm::StringRef::npos) << It->path();
      llvm::StringRef First = Text.substr(Body + 1).ltrim();
      EXPECT_TRUE(First.starts_with("wait_for_predecessor();"))
          << It->path() << ": the kernel at offset " << At
          << " does not start with wait_for_predecessor()";
      ++Kernels;
    }
  }
  ASSERT_FALSE(EC) << EC.message();
  EXPECT_GT(Files, 10u);
  EXPECT_GT(Kernels, 25u);
}

} // namespace
