#include "passes/PassManager.h"
#include "ir/Error.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/ADT/StringExtras.h"

namespace kiln {

std::string PassOptions::getString(llvm::StringRef Name,
                                   llvm::StringRef Default) const {
  auto It = Values.find(Name.str());
  return It == Values.end() ? Default.str() : It->second;
}

llvm::Expected<int64_t> PassOptions::getInt(llvm::StringRef Name,
                                            int64_t Default) const {
  auto It = Values.find(Name.str());
  if (It == Values.end())
    return Default;
  int64_t V;
  if (llvm::StringRef(It->second).getAsInteger(10, V))
    return makeError("option '" + Name + "' expects an integer, got '" +
                     It->second + "'");
  return V;
}

llvm::Expected<bool> PassOptions::getBool(llvm::StringRef Name,
                                          bool Default) const {
  auto It = Values.find(Name.str());
  if (It == Values.end())
    return Default;
  if (It->second == "1" || It->second == "true")
    return true;
  if (It->second == "0" || It->second == "false")
    return false;
  return makeError("option '" + Name + "' expects true or false, got '" +
                   It->second + "'");
}

bool PassContext::debugEnabled() const {
  return DebugOnly.count(Current) || DebugOnly.count("all");
}

llvm::raw_ostream &PassContext::debug() {
  return debugEnabled() ? DebugOS : llvm::nulls();
}

void PassContext::bumpStat(llvm::StringRef Name, int64_t N) {
  Stats[Current + "." + Name.str()] += N;
}

const PassInfo *lookupPass(llvm::StringRef Name) {
  for (const PassInfo &P : allPasses())
    if (P.Name == Name)
      return &P;
  return nullptr;
}

namespace {

struct PipelineEntry {
  const PassInfo *Pass;
  PassOptions Options;
};

/// Parses `a,b{k=v,k2=v2},c`; whitespace around names is ignored.
llvm::Expected<std::vector<PipelineEntry>> parsePipeline(llvm::StringRef Text) {
  std::vector<PipelineEntry> Entries;
  llvm::StringRef Rest = Text.trim();
  while (!Rest.empty()) {
    size_t End = Rest.find_first_of(",{");
    llvm::StringRef Name = Rest.substr(0, End).trim();
    Rest = End == llvm::StringRef::npos ? "" : Rest.substr(End);
    if (Name.empty())
      return makeError("pipeline '" + Text + "': empty pass name");
    const PassInfo *P = lookupPass(Name);
    if (!P)
      return makeError("unknown pass '" + Name +
                       "' (kiln-opt --list-passes lists them)");
    PipelineEntry E{P, {}};
    if (Rest.starts_with("{")) {
      size_t Close = Rest.find('}');
      if (Close == llvm::StringRef::npos)
        return makeError("pipeline '" + Text + "': missing '}' after '" + Name +
                         "{'");
      llvm::SmallVector<llvm::StringRef, 4> Pairs;
      Rest.substr(1, Close - 1).split(Pairs, ',', -1, /*KeepEmpty=*/false);
      for (llvm::StringRef Pair : Pairs) {
        auto [Key, Val] = Pair.split('=');
        Key = Key.trim();
        bool Known = false;
        for (const PassOptionSpec &S : P->Options)
          Known |= S.Name == Key || S.Name == "*";
        if (!Known)
          return makeError("pass '" + Name + "' has no option '" + Key + "'");
        E.Options.set(Key, Val.trim());
      }
      Rest = Rest.substr(Close + 1).ltrim();
    }
    Entries.push_back(std::move(E));
    if (Rest.starts_with(","))
      Rest = Rest.drop_front().ltrim();
    else if (!Rest.empty())
      return makeError("pipeline '" + Text + "': expected ',' before '" + Rest +
                       "'");
  }
  return Entries;
}

} // namespace

llvm::Error checkPassPipeline(llvm::StringRef Pipeline) {
  return parsePipeline(Pipeline).takeError();
}

namespace {

/// Runs the parsed pipeline once; returns whether any pass changed `G`.
llvm::Expected<bool> runOnce(Graph &G, llvm::ArrayRef<PipelineEntry> Entries,
                             const PipelineOptions &Options, PassContext &Ctx,
                             llvm::raw_ostream &Log) {
  PrintOptions DumpOptions;
  DumpOptions.ElideWeights = Options.ElideWeightsInDumps;
  bool Any = false;
  for (const PipelineEntry &E : Entries) {
    Ctx.setCurrentPass(E.Pass->Name);
    auto Changed = E.Pass->Run(G, E.Options, Ctx);
    if (!Changed)
      return withContext(Changed.takeError(), "pass '" + E.Pass->Name + "'");
    Any |= *Changed;
    if (Options.VerifyEach)
      if (llvm::Error Err = verifyGraph(G))
        return withContext(std::move(Err),
                           "verifier after pass '" + E.Pass->Name + "'");
    if (Options.PrintAfterAll || Options.PrintAfter.count(E.Pass->Name)) {
      Log << "// -----// IR after " << E.Pass->Name
          << (*Changed ? "" : " (no change)") << " //----- //\n";
      printGraph(G, Log, DumpOptions);
    }
  }
  return Any;
}

llvm::Error runPipeline(Graph &G, llvm::StringRef Pipeline,
                        const PipelineOptions &Options, unsigned MaxRounds,
                        llvm::raw_ostream &Log) {
  auto Entries = parsePipeline(Pipeline);
  if (!Entries)
    return Entries.takeError();
  PassContext Ctx(Options.DebugOnly, Log);
  for (unsigned Round = 0; Round < MaxRounds; ++Round) {
    auto Changed = runOnce(G, *Entries, Options, Ctx, Log);
    if (!Changed)
      return Changed.takeError();
    if (!*Changed)
      break;
  }
  if (Options.Stats)
    for (const auto &[Name, Count] : Ctx.stats())
      Log << "stat " << Name << ": " << Count << "\n";
  return llvm::Error::success();
}

} // namespace

llvm::Error runPassPipeline(Graph &G, llvm::StringRef Pipeline,
                            const PipelineOptions &Options,
                            llvm::raw_ostream &Log) {
  return runPipeline(G, Pipeline, Options, /*MaxRounds=*/1, Log);
}

llvm::Error runPassPipelineToFixpoint(Graph &G, llvm::StringRef Pipeline,
                                      const PipelineOptions &Options,
                                      unsigned MaxRounds,
                                      llvm::raw_ostream &Log) {
  return runPipeline(G, Pipeline, Options, MaxRounds, Log);
}

} // namespace kiln
