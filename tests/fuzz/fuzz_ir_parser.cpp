//===- fuzz_ir_parser.cpp - libFuzzer target for the text form ------------===//
//
// Parses arbitrary bytes. Whatever parses must also print, parse again to
// the same text (the round-trip guarantee) and verify without crashing.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  auto G = kiln::parseGraph(Text, "fuzz");
  if (!G) {
    llvm::consumeError(G.takeError());
    return 0;
  }
  std::string Printed = kiln::printGraphToString(**G);
  auto Again = kiln::parseGraph(Printed, "printed");
  if (!Again) {
    std::fprintf(stderr, "printed graph does not parse: %s\n%s",
                 llvm::toString(Again.takeError()).c_str(), Printed.c_str());
    std::abort();
  }
  std::string Reprinted = kiln::printGraphToString(**Again);
  if (Reprinted != Printed) {
    std::fprintf(stderr, "print -> parse -> print differs:\n%s\n---\n%s",
                 Printed.c_str(), Reprinted.c_str());
    std::abort();
  }
  llvm::consumeError(kiln::verifyGraph(**G));
  return 0;
}
