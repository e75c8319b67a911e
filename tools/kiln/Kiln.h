//===- Kiln.h - what the kiln subcommands share -----------------*- C++ -*-===//
//
// The kiln tool is one file per subcommand (Compile.cpp, Run.cpp,
// Inspect.cpp, Bench.cpp), each with its options and its entry point, and
// main.cpp, which dispatches. Their subcommands are made on first use, so
// each file's options can name them whatever the order of static
// initialization.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_KILN_H
#define KILN_TOOLS_KILN_KILN_H

#include "ir/Graph.h"
#include "kiln/Engine.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <utility>

namespace kiln {

llvm::cl::SubCommand &compileSubcommand();
llvm::cl::SubCommand &runSubcommand();
llvm::cl::SubCommand &inspectSubcommand();
llvm::cl::SubCommand &benchSubcommand();

llvm::Error compileCommand(int argc, char **argv);
llvm::Error runCommand();
llvm::Error inspectCommand();
llvm::Error benchCommand();

/// --autotune, an option of both compile and bench.
extern llvm::cl::opt<bool> Autotune;

inline bool isArtifactPath(llvm::StringRef Path) {
  return Path.ends_with(".kiln");
}

/// Splits `NAME=VALUE` (the name may carry the text form's `%`).
llvm::Expected<std::pair<llvm::StringRef, llvm::StringRef>>
splitSpec(llvm::StringRef Spec, llvm::StringRef Flag);

/// Sets EngineOptions::PackTokens and PackTokensAlways from --packed
/// (auto, on or off) of run and bench.
llvm::Error setPackedMode(llvm::StringRef Mode, EngineOptions &Options);

/// Loads a model, or an artifact's IR with its weights restored; keeps the
/// artifact in `Keep` when given.
llvm::Expected<std::unique_ptr<Graph>>
loadModelOrArtifact(llvm::StringRef Path, std::optional<Artifact> *Keep);

} // namespace kiln

#endif
