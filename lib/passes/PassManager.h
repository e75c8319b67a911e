//===- PassManager.h - pass registry and pipelines --------------*- C++ -*-===//
//
// One registry of passes (name, one-line summary, options) drives kiln-opt's
// `-p 'a,b{opt=1},c'`, `--list-passes` and the named pipelines -O0, -O1 and
// -O2. A pipeline is a typed list of steps (a pass and its options); the text
// form `a,b{k=v},c` is parsed once, where a user writes it. A pass returns
// whether it changed the graph, or an error. The verifier runs after every
// pass unless turned off.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PASSMANAGER_H
#define KILN_PASSES_PASSMANAGER_H

#include "ir/Graph.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kiln {

/// `name=value` options given to one pass in a pipeline:
/// `fold-constants{max-elements=64}`.
class PassOptions {
public:
  bool has(llvm::StringRef Name) const { return Values.count(Name.str()); }
  std::string getString(llvm::StringRef Name, llvm::StringRef Default) const;
  llvm::Expected<int64_t> getInt(llvm::StringRef Name, int64_t Default) const;
  llvm::Expected<bool> getBool(llvm::StringRef Name, bool Default) const;
  void set(llvm::StringRef Name, llvm::StringRef Value) {
    Values[Name.str()] = Value.str();
  }
  const std::map<std::string, std::string> &all() const { return Values; }
  /// `k=v,k2=v2`, sorted by name: the text between a pass's braces.
  std::string str() const;

private:
  std::map<std::string, std::string> Values;
};

/// What a running pass can reach besides the graph: debug output for
/// `--debug-only=<pass>` and counters for `--stats`.
class PassContext {
public:
  PassContext(std::set<std::string> DebugOnly, llvm::raw_ostream &DebugOS)
      : DebugOnly(std::move(DebugOnly)), DebugOS(DebugOS) {}

  /// The debug stream when `--debug-only` names the running pass, else a
  /// stream that drops everything.
  llvm::raw_ostream &debug();
  bool debugEnabled() const;
  /// Adds `N` to the running pass's counter `Name`.
  void bumpStat(llvm::StringRef Name, int64_t N = 1);

  const std::map<std::string, int64_t> &stats() const { return Stats; }
  void setCurrentPass(llvm::StringRef Name) { Current = Name.str(); }
  const std::string &currentPass() const { return Current; }

private:
  std::set<std::string> DebugOnly;
  llvm::raw_ostream &DebugOS;
  std::string Current;
  std::map<std::string, int64_t> Stats; // "pass.counter" -> value
};

struct PassOptionSpec {
  std::string Name;
  std::string Description;
};

struct PassInfo {
  std::string Name;
  std::string Summary;
  std::vector<PassOptionSpec> Options;
  std::function<llvm::Expected<bool>(Graph &, const PassOptions &,
                                     PassContext &)>
      Run;
};

/// Every pass, sorted by name.
llvm::ArrayRef<PassInfo> allPasses();
const PassInfo *lookupPass(llvm::StringRef Name);

/// One step of a pipeline: a registered pass and the options it runs with.
struct PipelineStep {
  const PassInfo *Pass = nullptr;
  PassOptions Options;
};

/// Passes run in order. Its text form is `a,b{k=v,k2=v2},c`.
using PassPipeline = std::vector<PipelineStep>;

/// The step running registered pass `Name` with `Options`; the pass and the
/// option names must exist (asserted: for pipelines written in code).
PipelineStep
passStep(llvm::StringRef Name,
         std::initializer_list<std::pair<llvm::StringRef, llvm::StringRef>>
             Options = {});

/// Parses `a,b{k=v,k2=v2},c` (whitespace around names is ignored), checking
/// that every pass and option exists.
llvm::Expected<PassPipeline> parsePassPipeline(llvm::StringRef Text);
/// The text form of `Pipeline`, which parsePassPipeline reads back.
std::string printPassPipeline(llvm::ArrayRef<PipelineStep> Pipeline);

/// Named pipelines "O0" (no passes), "O1" and "O2"; nullopt for any other
/// name.
std::optional<PassPipeline> namedPipeline(llvm::StringRef Name);

struct PipelineOptions {
  bool VerifyEach = true;
  bool PrintAfterAll = false;
  std::set<std::string> PrintAfter;
  std::set<std::string> DebugOnly;
  bool Stats = false;
  bool ElideWeightsInDumps = true;
};

/// Runs `Pipeline` over `G`. IR dumps, debug output and statistics go to
/// `Log` (stderr in kiln-opt).
llvm::Error runPassPipeline(Graph &G, llvm::ArrayRef<PipelineStep> Pipeline,
                            const PipelineOptions &Options,
                            llvm::raw_ostream &Log = llvm::errs());

/// Runs `Pipeline` again and again until a whole round changes nothing, at
/// most `MaxRounds` times. Folding and shape inference feed each other: a
/// folded shape operand makes a dim static, and a static dim lets a Shape
/// fold.
llvm::Error runPassPipelineToFixpoint(Graph &G,
                                      llvm::ArrayRef<PipelineStep> Pipeline,
                                      const PipelineOptions &Options,
                                      unsigned MaxRounds,
                                      llvm::raw_ostream &Log = llvm::errs());

/// The same, for a pipeline in text form (tests write them so): parses it
/// with parsePassPipeline first.
llvm::Error runPassPipeline(Graph &G, llvm::StringRef Pipeline,
                            const PipelineOptions &Options,
                            llvm::raw_ostream &Log = llvm::errs());
llvm::Error runPassPipelineToFixpoint(Graph &G, llvm::StringRef Pipeline,
                                      const PipelineOptions &Options,
                                      unsigned MaxRounds,
                                      llvm::raw_ostream &Log = llvm::errs());

} // namespace kiln

#endif
