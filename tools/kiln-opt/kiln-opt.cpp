//===- kiln-opt.cpp - read IR, run passes, print IR -----------------------===//
//
// The driver of kiln's lit tests: reads textual IR (or imports an .onnx
// model), verifies it, runs a pass pipeline and prints the result.
//
//   kiln-opt [FILE|-] [-o OUT] [-p PIPELINE] [-O0|-O1|-O2]
//            [--split-input-file] [--elide-weights] [--verify-each=false]
//            [--print-ir-after-all] [--print-ir-after=PASS,...]
//            [--debug-only=PASS,...] [--stats] [--list-passes]
//            [--prune heads=R,ffn=R]
//
// With --split-input-file, each `// -----` chunk of the input is a separate
// graph: an error in one is reported (with the file's line numbers) and the
// others still run; the outputs are joined by `// -----`.
//
//===----------------------------------------------------------------------===//
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"
#include "passes/Precision.h"
#include "passes/Pruning.h"

#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;
namespace cl = llvm::cl;

static cl::OptionCategory Category("kiln-opt options");

static cl::opt<std::string>
    InputPath(cl::Positional, cl::init("-"),
              cl::desc("<input .kir or .onnx, - for stdin>"),
              cl::cat(Category));
static cl::opt<std::string> OutputPath("o", cl::init("-"),
                                       cl::desc("Output file (- for stdout)"),
                                       cl::value_desc("file"),
                                       cl::cat(Category));
static cl::opt<std::string> Pipeline(
    "p", cl::init(""),
    cl::desc(
        "Pass pipeline to run, e.g. 'cse,fold-constants{max-elements=64}'"),
    cl::value_desc("pipeline"), cl::cat(Category));
static cl::opt<std::string>
    OptLevel("O", cl::Prefix, cl::init(""),
             cl::desc("Run a named pipeline first: -O0, -O1 or -O2"),
             cl::value_desc("level"), cl::cat(Category));
static cl::opt<bool> SplitInputFile(
    "split-input-file",
    cl::desc("Process each '// -----' chunk of the input as its own graph"),
    cl::cat(Category));
static cl::opt<bool> ElideWeights(
    "elide-weights",
    cl::desc("Print constants of more than 16 elements as 'elided'"),
    cl::cat(Category));
static cl::opt<bool> VerifyEach(
    "verify-each", cl::init(true),
    cl::desc("Verify the input and the graph after every pass (default on)"),
    cl::cat(Category));
static cl::opt<std::string> PrecisionFlag(
    "precision", cl::init(""),
    cl::desc("Store f32 tensors in 16 bits after the pipeline: fp16 (f16) or "
             "bf16; f32 (fp32) keeps them"),
    cl::value_desc("fp16|bf16"), cl::cat(Category));
static cl::opt<std::string> Prune(
    "prune", cl::init(""),
    cl::desc("Zero the given ratio of each layer's attention heads and FFN "
             "neurons of smallest L1 norm right before prune-structured "
             "(appended when the pipeline has none), which removes them; "
             "prints the parameter count before and after"),
    cl::value_desc("heads=R,ffn=R"), cl::cat(Category));
static cl::opt<bool> ListPasses("list-passes",
                                cl::desc("List the passes and their options"),
                                cl::cat(Category));
static cl::opt<bool>
    PrintAfterAll("print-ir-after-all",
                  cl::desc("Print the IR to stderr after every pass"),
                  cl::cat(Category));
static cl::list<std::string>
    PrintAfter("print-ir-after", cl::CommaSeparated,
               cl::desc("Print the IR to stderr after the named passes"),
               cl::value_desc("pass"), cl::cat(Category));
static cl::list<std::string>
    DebugOnly("debug-only", cl::CommaSeparated,
              cl::desc("Print the debug output of the named passes"),
              cl::value_desc("pass"), cl::cat(Category));

static void reportError(const llvm::Twine &Message) {
  llvm::WithColor::error(llvm::errs()) << Message << "\n";
}

static void listPasses(llvm::raw_ostream &OS) {
  OS << "Passes (-p 'name,name{option=value}'):\n";
  for (const PassInfo &P : allPasses()) {
    OS << "  " << llvm::left_justify(P.Name, 24) << P.Summary << "\n";
    for (const PassOptionSpec &O : P.Options)
      OS << "    " << llvm::left_justify(O.Name, 22) << O.Description << "\n";
  }
  OS << "Named pipelines:\n";
  for (llvm::StringRef Level : {"O0", "O1", "O2"}) {
    PassPipeline Passes = *namedPipeline(Level);
    OS << "  -" << llvm::left_justify(Level, 23)
       << (Passes.empty() ? "(no passes)" : printPassPipeline(Passes)) << "\n";
  }
}

/// The pipeline -O<n>, -p and --precision ask for, together.
static llvm::Expected<PassPipeline> requestedPipeline() {
  PassPipeline Result;
  if (!OptLevel.empty()) {
    std::optional<PassPipeline> Named = namedPipeline("O" + OptLevel);
    if (!Named)
      return makeError("unknown optimization level -O" + OptLevel +
                       " (expected -O0, -O1 or -O2)");
    Result = std::move(*Named);
  }
  std::optional<Precision> Storage;
  if (!PrecisionFlag.empty()) {
    auto P = parsePrecision(PrecisionFlag);
    if (!P)
      return P.takeError();
    Storage = *P;
  }
  auto Given = parsePassPipeline(Pipeline);
  if (!Given)
    return Given.takeError();
  llvm::append_range(Result, *Given);
  if (Storage && *Storage != Precision::F32)
    Result.push_back(precisionStep(*Storage));
  if (!Prune.empty())
    if (llvm::Error E = prune::checkPruneSpec(Prune))
      return std::move(E);
  return Result;
}

/// Verifies, runs the pipeline and prints one graph.
static llvm::Expected<std::string> process(Graph &G,
                                           llvm::ArrayRef<PipelineStep> Steps) {
  if (VerifyEach)
    if (llvm::Error E = verifyGraph(G))
      return std::move(E);
  PipelineOptions Options;
  Options.VerifyEach = VerifyEach;
  Options.PrintAfterAll = PrintAfterAll;
  Options.PrintAfter.insert(PrintAfter.begin(), PrintAfter.end());
  Options.DebugOnly.insert(DebugOnly.begin(), DebugOnly.end());
  Options.Stats = llvm::AreStatisticsEnabled();
  if (!Prune.empty()) {
    if (llvm::Error E = prune::runPipelineWithPruning(G, Steps, Prune, Options,
                                                      llvm::errs()))
      return std::move(E);
  } else if (!Steps.empty()) {
    if (llvm::Error E = runPassPipeline(G, Steps, Options))
      return std::move(E);
  }
  PrintOptions Print;
  Print.ElideWeights = ElideWeights;
  return printGraphToString(G, Print);
}

struct Chunk {
  llvm::StringRef Text;
  unsigned FirstLine;
};

/// Splits at lines reading `// -----`, keeping each chunk's first line number.
static std::vector<Chunk> splitInput(llvm::StringRef Buffer) {
  std::vector<Chunk> Chunks;
  const char *ChunkStart = Buffer.begin();
  unsigned ChunkLine = 1, Line = 1;
  llvm::StringRef Rest = Buffer;
  while (!Rest.empty()) {
    auto [LineText, After] = Rest.split('\n');
    if (LineText.rtrim() == "// -----") {
      Chunks.push_back(
          {llvm::StringRef(ChunkStart, size_t(LineText.begin() - ChunkStart)),
           ChunkLine});
      ChunkStart = After.begin();
      ChunkLine = Line + 1;
    }
    Rest = After;
    ++Line;
  }
  Chunks.push_back(
      {llvm::StringRef(ChunkStart, size_t(Buffer.end() - ChunkStart)),
       ChunkLine});
  return Chunks;
}

/// Writes `Text` to OutputPath; a file appears only once fully written.
static llvm::Error writeOutput(llvm::StringRef Text) {
  if (OutputPath == "-") {
    llvm::outs() << Text;
    llvm::outs().flush();
    return llvm::Error::success();
  }
  auto Temp = llvm::sys::fs::TempFile::create(OutputPath + ".tmp-%%%%%%");
  if (!Temp)
    return withContext(Temp.takeError(), "cannot write " + OutputPath);
  {
    llvm::raw_fd_ostream OS(Temp->FD, /*shouldClose=*/false);
    OS << Text;
    OS.flush();
    if (OS.has_error()) {
      std::string Message = OS.error().message();
      OS.clear_error();
      llvm::consumeError(Temp->discard());
      return makeError("cannot write " + OutputPath + ": " + Message);
    }
  }
  if (llvm::Error E = Temp->keep(OutputPath))
    return withContext(std::move(E), "cannot write " + OutputPath);
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  cl::HideUnrelatedOptions(Category);
  // LLVM Support already owns `-stats`; kiln-opt reuses it for pass counters.
  if (cl::Option *Stats = cl::getRegisteredOptions().lookup("stats")) {
    Stats->addCategory(Category);
    Stats->setHiddenFlag(cl::NotHidden);
    Stats->setDescription("Print pass statistics to stderr");
  }
  cl::ParseCommandLineOptions(
      argc, argv, "kiln-opt: read kiln IR or ONNX, run passes, print IR\n");

  if (ListPasses) {
    listPasses(llvm::outs());
    return 0;
  }
  auto Steps = requestedPipeline();
  if (!Steps) {
    reportError(llvm::toString(Steps.takeError()));
    return 1;
  }

  std::vector<std::string> Outputs;
  bool Failed = false;
  auto Run = [&](llvm::Expected<std::unique_ptr<Graph>> G) {
    llvm::Expected<std::string> Printed =
        G ? process(**G, *Steps) : G.takeError();
    if (!Printed) {
      reportError(llvm::toString(Printed.takeError()));
      Failed = true;
      return;
    }
    Outputs.push_back(std::move(*Printed));
  };

  if (llvm::StringRef(InputPath).ends_with(".onnx")) {
    if (SplitInputFile) {
      reportError("--split-input-file applies to text input, not " + InputPath);
      return 1;
    }
    Run(importOnnxFile(InputPath));
  } else {
    auto Buffer = llvm::MemoryBuffer::getFileOrSTDIN(InputPath);
    if (!Buffer) {
      reportError("cannot read " + InputPath + ": " +
                  Buffer.getError().message());
      return 1;
    }
    llvm::StringRef Name =
        InputPath == "-" ? "<stdin>" : llvm::StringRef(InputPath);
    llvm::StringRef Text = (*Buffer)->getBuffer();
    std::vector<Chunk> Chunks =
        SplitInputFile ? splitInput(Text) : std::vector<Chunk>{{Text, 1}};
    for (const Chunk &C : Chunks)
      Run(parseGraph(C.Text, Name, C.FirstLine));
  }

  // A failed run leaves no output file behind; on stdout the graphs that
  // did succeed are still shown.
  if (Failed && OutputPath != "-")
    return 1;
  if (llvm::Error E = writeOutput(llvm::join(Outputs, "// -----\n"))) {
    reportError(llvm::toString(std::move(E)));
    return 1;
  }
  return Failed ? 1 : 0;
}
