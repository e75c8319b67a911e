// Every kernel the runtime launches may be scheduled before its predecessor
// in the stream has finished (programmatic dependent launch), so every
// kernel must wait for it before touching memory: its first statement is
// wait_for_predecessor() (kernels/templates/common.cuh). The one exception
// is gemm_gelu.cuh's PREFETCH: a kernel that starts with
// `if constexpr (!PREFETCH) wait_for_predecessor();` copies weights (which
// no kernel writes) before it waits, and GemmTile::run<PREFETCH> waits
// before it copies anything else.
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
      llvm::StringRef Prefetch = "if constexpr (!PREFETCH)";
      if (First.starts_with(Prefetch)) {
        // The wait when not prefetching, and the main loop that waits
        // when prefetching, before the kernel's next global (the next
        // kernel's text is not this one's).
        llvm::StringRef Rest = First.drop_front(Prefetch.size()).ltrim();
        EXPECT_TRUE(Rest.starts_with("wait_for_predecessor();"))
            << It->path() << ": the kernel at offset " << At
            << " does not wait when it does not prefetch";
        llvm::StringRef Kernel = Rest.substr(0, Rest.find("__global__"));
        EXPECT_NE(Kernel.find("run<PREFETCH>("), llvm::StringRef::npos)
            << It->path() << ": the kernel at offset " << At
            << " prefetches but does not run GemmTile::run<PREFETCH>";
        ++Kernels;
        continue;
      }
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
