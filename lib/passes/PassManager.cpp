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

std::string PassOptions::str() const {
  std::string Text;
  for (const auto &[Name, Value] : Values)
    Text += (Text.empty() ? "" : ",") + Name + "=" + Value;
  return Text;
}

const PassInfo *lookupPass(llvm::StringRef Name) {
  for (const PassInfo &P : allPasses())
    if (P.Name == Name)
      return &P;
  return nullptr;
}

namespace {

bool hasOption(const PassInfo &P, llvm::StringRef Name) {
  for (const PassOptionSpec &S : P.Options)
    if (S.Name == Name || S.Name == "*")
      return true;
  return false;
}

} // namespace

PipelineStep
passStep(llvm::StringRef Name,
         std::initializer_list<std::pair<llvm::StringRef, llvm::StringRef>>
             Options) {
  PipelineStep Step{lookupPass(Name), {}};
  assert(Step.Pass && "passStep names a pass that is not registered");
  for (auto [Key, Value] : Options) {
    assert(hasOption(*Step.Pass, Key) && "passStep names an unknown option");
    Step.Options.set(Key, Value);
  }
  return Step;
}

llvm::Expected<PassPipeline> parsePassPipeline(llvm::StringRef Text) {
  PassPipeline Steps;
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
    PipelineStep Step{P, {}};
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
        if (!hasOption(*P, Key))
          return makeError("pass '" + Name + "' has no option '" + Key + "'");
        Step.Options.set(Key, Val.trim());
      }
      Rest = Rest.substr(Close + 1).ltrim();
    }
    Steps.push_back(std::move(Step));
    if (Rest.starts_with(","))
      Rest = Rest.drop_front().ltrim();
    else if (!Rest.empty())
      return makeError("pipeline '" + Text + "': expected ',' before '" + Rest +
                       "'");
  }
  return Steps;
}

std::string printPassPipeline(llvm::ArrayRef<PipelineStep> Pipeline) {
  std::string Text;
  for (const PipelineStep &S : Pipeline) {
    Text += (Text.empty() ? "" : ",") + S.Pass->Name;
    if (!S.Options.all().empty())
      Text += "{" + S.Options.str() + "}";
  }
  return Text;
}

namespace {

/// Runs the pipeline once; returns whether any pass changed `G`.
llvm::Expected<bool> runOnce(Graph &G, llvm::ArrayRef<PipelineStep> Steps,
                             const PipelineOptions &Options, PassContext &Ctx,
                             llvm::raw_ostream &Log) {
  PrintOptions DumpOptions;
  DumpOptions.ElideWeights = Options.ElideWeightsInDumps;
  bool Any = false;
  for (const PipelineStep &E : Steps) {
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

} // namespace

llvm::Error runPassPipelineToFixpoint(Graph &G,
                                      llvm::ArrayRef<PipelineStep> Pipeline,
                                      const PipelineOptions &Options,
                                      unsigned MaxRounds,
                                      llvm::raw_ostream &Log) {
  PassContext Ctx(Options.DebugOnly, Log);
  for (unsigned Round = 0; Round < MaxRounds; ++Round) {
    auto Changed = runOnce(G, Pipeline, Options, Ctx, Log);
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

llvm::Error runPassPipeline(Graph &G, llvm::ArrayRef<PipelineStep> Pipeline,
                            const PipelineOptions &Options,
                            llvm::raw_ostream &Log) {
  return runPassPipelineToFixpoint(G, Pipeline, Options, /*MaxRounds=*/1, Log);
}

llvm::Error runPassPipeline(Graph &G, llvm::StringRef Pipeline,
                            const PipelineOptions &Options,
                            llvm::raw_ostream &Log) {
  auto Steps = parsePassPipeline(Pipeline);
  if (!Steps)
    return Steps.takeError();
  return runPassPipeline(G, *Steps, Options, Log);
}

llvm::Error runPassPipelineToFixpoint(Graph &G, llvm::StringRef Pipeline,
                                      const PipelineOptions &Options,
                                      unsigned MaxRounds,
                                      llvm::raw_ostream &Log) {
  auto Steps = parsePassPipeline(Pipeline);
  if (!Steps)
    return Steps.takeError();
  return runPassPipelineToFixpoint(G, *Steps, Options, MaxRounds, Log);
}

} // namespace kiln
