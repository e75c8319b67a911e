//===- kiln.cpp - the kiln command-line tool ------------------------------===//
//
//   kiln compile MODEL -o OUT.kiln [--batch 1,8,32] [--seq 128]
//                [--precision f32|fp16|bf16] [--arch sm_90a] [--cache-dir DIR]
//                [--prune heads=R,ffn=R [--prune-report
//                 [--prune-report-inputs FILE.npz]]]
//   kiln run [--device cpu|gpu] MODEL [--input NAME=FILE.npy ...] [-o OUT.npz]
//            [--random-inputs [--seed N] [--dim SYMBOL=N ...] [--int-range N]]
//   kiln inspect [--json] MODEL
//   kiln bench MODEL.kiln [--shapes 1x128,32x128] [--peers CMD] [--json F]
//
// MODEL is an .onnx file, kiln's text form (`-` reads standard input) or a
// compiled .kiln artifact. `compile` writes an artifact (no GPU needed);
// `run` executes a model on the CPU reference executor, or an artifact on
// the GPU (the default for .kiln); `inspect` lists the inputs, outputs, ops
// and parameter count, and for an artifact its buckets, arch and precision;
// `bench` times an artifact on the GPU, with its peers when given. Errors
// print `error: ...` to stderr and exit 1.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"
#include "codegen/DataDependent.h"
#include "codegen/Nvrtc.h"
#include "common/ModelLoader.h"
#include "common/Npy.h"
#include "ir/Error.h"
#include "kiln/Engine.h"
#include "runtime/Artifact.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <random>

using namespace kiln;
namespace cl = llvm::cl;

static cl::SubCommand
    RunCmd("run", "Run a model on the CPU reference executor, or a .kiln "
                  "artifact on the GPU");
static cl::SubCommand
    InspectCmd("inspect", "Print a model's inputs, outputs, op histogram and "
                          "parameter count");
static cl::SubCommand CompileCmd("compile",
                                 "Compile a model into a .kiln artifact");
static cl::SubCommand BenchCmd("bench",
                               "Time a .kiln artifact on the GPU, with peers");

static cl::opt<std::string> RunModel(cl::Positional, cl::Required,
                                     cl::desc("<model .onnx|.kir|.kiln|->"),
                                     cl::sub(RunCmd));
static cl::opt<std::string>
    Device("device", cl::init(""),
           cl::desc("Where to run: cpu (the reference executor; the default "
                    "for .onnx and .kir) or gpu (the default for .kiln)"),
           cl::value_desc("device"), cl::sub(RunCmd));
static cl::list<std::string>
    InputSpecs("input",
               cl::desc("A graph input from an .npy file (repeatable)"),
               cl::value_desc("name=file.npy"), cl::sub(RunCmd));
static cl::alias InputSpecsShort("i", cl::desc("Alias for --input"),
                                 cl::aliasopt(InputSpecs));
static cl::opt<std::string>
    InputsNpz("inputs",
              cl::desc("Graph inputs from the members of an .npz file "
                       "named like them"),
              cl::value_desc("file.npz"), cl::sub(RunCmd));
static cl::opt<std::string>
    OutputPath("o",
               cl::desc("Write the outputs to an .npz file, one array per "
                        "graph output, named like the output"),
               cl::value_desc("file.npz"), cl::sub(RunCmd));
static cl::alias OutputPathLong("output", cl::desc("Alias for -o"),
                                cl::aliasopt(OutputPath));
static cl::opt<bool>
    JitShapes("jit",
              cl::desc("On the GPU, compile a plan for the inputs' exact "
                       "shape when the artifact has no bucket for it "
                       "(NVRTC, kernel cache in $KILN_CACHE_DIR)"),
              cl::sub(RunCmd));
static cl::opt<bool> RandomInputs(
    "random-inputs",
    cl::desc("Generate the inputs not given with --input: floats uniform in "
             "[-1, 1), integers uniform in [0, --int-range), inputs whose "
             "name contains 'mask' all ones, bools all true"),
    cl::sub(RunCmd));
static cl::opt<unsigned> Seed("seed", cl::init(0),
                              cl::desc("Seed for --random-inputs"),
                              cl::sub(RunCmd));
static cl::list<std::string> DimSpecs(
    "dim",
    cl::desc("Size of a symbolic dim for --random-inputs (repeatable); "
             "symbols bound by a given input need none"),
    cl::value_desc("symbol=N"), cl::sub(RunCmd));
static cl::opt<int64_t> IntRange(
    "int-range", cl::init(2),
    cl::desc("Random integers are drawn from [0, N) (default 2: a valid "
             "token id, token type and position everywhere)"),
    cl::value_desc("N"), cl::sub(RunCmd));

static cl::opt<std::string> InspectModel(cl::Positional, cl::Required,
                                         cl::desc("<model .onnx|.kir|.kiln|->"),
                                         cl::sub(InspectCmd));

static cl::opt<std::string> CompileModel(cl::Positional, cl::Required,
                                         cl::desc("<model .onnx|.kir|->"),
                                         cl::sub(CompileCmd));
static cl::opt<std::string> CompileOut("o", cl::Required,
                                       cl::desc("The artifact to write"),
                                       cl::value_desc("model.kiln"),
                                       cl::sub(CompileCmd));
static cl::opt<std::string>
    BatchList("batch", cl::init("1,8,32,128,256"),
              cl::desc("Batch buckets (comma-separated)"),
              cl::value_desc("1,8,32"), cl::sub(CompileCmd));
static cl::opt<std::string>
    SeqList("seq", cl::init("32,128,512"),
            cl::desc("Sequence-length buckets (comma-separated)"),
            cl::value_desc("128"), cl::sub(CompileCmd));
static cl::opt<std::string>
    Precision("precision", cl::init("f32"),
              cl::desc("Storage precision: f32, fp16 (f16) or bf16"),
              cl::sub(CompileCmd));
static cl::opt<std::string> Arch("arch", cl::init("sm_90a"),
                                 cl::desc("Target GPU architecture"),
                                 cl::sub(CompileCmd));
static cl::opt<std::string>
    CacheDir("cache-dir", cl::init(""),
             cl::desc("Kernel cache (default $KILN_CACHE_DIR, else "
                      "~/.cache/kiln; 'none' disables it)"),
             cl::sub(CompileCmd));
static cl::opt<unsigned> Jobs("jobs", cl::init(0),
                              cl::desc("Parallel NVRTC compiles (0: one per "
                                       "hardware thread)"),
                              cl::sub(CompileCmd));
static cl::opt<bool> Autotune(
    "autotune",
    cl::desc("Time cuBLASLt's candidate algorithms for every GEMM on this "
             "machine's GPU and store the fastest (needs a GPU)"),
    cl::sub(CompileCmd), cl::sub(BenchCmd));
static cl::list<std::string> BindSpecs(
    "bind",
    cl::desc("Fix a graph input at compile time to the contents of an .npy "
             "file (repeatable): shapes and layouts computed from it become "
             "static, and the artifact no longer takes it"),
    cl::value_desc("name=file.npy"), cl::sub(CompileCmd));
static cl::opt<bool> NoPtx("no-ptx", cl::desc("Store CUBINs only, without PTX"),
                           cl::sub(CompileCmd));
static cl::opt<std::string> PruneSpec(
    "prune", cl::init(""),
    cl::desc("Remove the given ratio of each layer's attention heads and FFN "
             "neurons, those of smallest L1 norm; prints the parameter count "
             "before and after"),
    cl::value_desc("heads=R,ffn=R"), cl::sub(CompileCmd));
static cl::opt<bool> PruneReport(
    "prune-report",
    cl::desc("With --prune: print the cosine similarity of each output row of "
             "the compiled model to the unpruned model's, both on the CPU "
             "reference executor"),
    cl::sub(CompileCmd));
static cl::opt<std::string> PruneReportInputs(
    "prune-report-inputs", cl::init(""),
    cl::desc("Inputs for --prune-report (default: seeded random ones, batch "
             "2, other dims 16)"),
    cl::value_desc("inputs.npz"), cl::sub(CompileCmd));

static cl::opt<std::string> BenchModel(cl::Positional, cl::Required,
                                       cl::desc("<model.kiln>"),
                                       cl::sub(BenchCmd));
static cl::opt<std::string>
    BenchShapes("shapes", cl::init(""),
                cl::desc("batch x seq shapes to time (default: every "
                         "bucket)"),
                cl::value_desc("1x128,32x128"), cl::sub(BenchCmd));
static cl::opt<unsigned> BenchIters("iters", cl::init(50),
                                    cl::desc("Timed runs per shape"),
                                    cl::sub(BenchCmd));
static cl::opt<unsigned> BenchWarmup("warmup", cl::init(5),
                                     cl::desc("Untimed runs first"),
                                     cl::sub(BenchCmd));
static cl::opt<std::string> BenchJson("json", cl::init(""),
                                      cl::desc("Write the records as JSON"),
                                      cl::value_desc("file.json"),
                                      cl::sub(BenchCmd));
static cl::opt<bool> BenchProfile(
    "profile",
    cl::desc("Also time every step of each shape (without CUDA graphs) and "
             "print the time per kernel family"),
    cl::sub(BenchCmd));
static cl::opt<std::string> BenchPeers(
    "peers", cl::init(""),
    cl::desc("A command timing the peers; it is run with --shapes S "
             "--precision P --json FILE appended and must write records of "
             "the same form"),
    cl::value_desc("command"), cl::sub(BenchCmd));
static cl::opt<bool> Json("json", cl::desc("Print JSON"), cl::sub(InspectCmd));

static bool isArtifactPath(llvm::StringRef Path) {
  return Path.ends_with(".kiln");
}

// How many values of each output `kiln run` prints without -o.
constexpr int64_t PrintedValues = 8;
// --random-inputs refuses larger inputs rather than exhaust memory.
constexpr int64_t MaxRandomElements = int64_t(1) << 30;

static int fail(llvm::Error E) {
  llvm::WithColor::error(llvm::errs()) << llvm::toString(std::move(E)) << "\n";
  return 1;
}

//===----------------------------------------------------------------------===//
// kiln run
//===----------------------------------------------------------------------===//

/// Splits `NAME=VALUE` (the name may carry the text form's `%`).
static llvm::Expected<std::pair<llvm::StringRef, llvm::StringRef>>
splitSpec(llvm::StringRef Spec, llvm::StringRef Flag) {
  auto [Name, Value] = Spec.split('=');
  Name.consume_front("%");
  if (Name.empty() || Value.empty() || !Spec.contains('='))
    return makeError("--" + Flag + " expects NAME=VALUE, got '" + Spec + "'");
  return std::make_pair(Name, Value);
}

/// Reads the --input files, checking the names against the graph.
static llvm::Expected<std::map<std::string, Tensor>>
readGivenInputs(const Graph &G) {
  std::map<std::string, Tensor> Inputs;
  for (const std::string &Spec : InputSpecs) {
    auto NameAndPath = splitSpec(Spec, "input");
    if (!NameAndPath)
      return NameAndPath.takeError();
    auto [Name, Path] = *NameAndPath;
    const Value *V = G.lookup(Name);
    if (!V || !V->isInput()) {
      std::string Names;
      for (const Value *In : G.inputs())
        Names += (Names.empty() ? "%" : ", %") + In->name();
      return makeError("graph @" + G.name() + " has no input named '" + Name +
                       "' (its inputs: " + Names + ")");
    }
    if (Inputs.count(Name.str()))
      return makeError("input %" + Name + " is given twice");
    llvm::Expected<Tensor> T = readNpy(Path);
    if (!T)
      return withContext(T.takeError(), "input %" + Name);
    Inputs.emplace(Name.str(), std::move(*T));
  }
  if (!InputsNpz.empty()) {
    auto Members = readNpz(InputsNpz);
    if (!Members)
      return withContext(Members.takeError(), InputsNpz);
    for (auto &[Name, T] : *Members) {
      const Value *V = G.lookup(Name);
      if (!V || !V->isInput())
        continue; // other arrays may travel in the same file
      if (Inputs.count(Name))
        return makeError("input %" + Name + " is given twice");
      Inputs.emplace(Name, std::move(T));
    }
  }
  return Inputs;
}

/// The sizes of each symbol: --dim first, then what the given inputs bind.
static llvm::Expected<llvm::StringMap<int64_t>>
symbolSizes(const Graph &G, const std::map<std::string, Tensor> &Given) {
  llvm::StringMap<int64_t> Sizes;
  for (const std::string &Spec : DimSpecs) {
    auto SymbolAndSize = splitSpec(Spec, "dim");
    if (!SymbolAndSize)
      return SymbolAndSize.takeError();
    int64_t N;
    if (SymbolAndSize->second.getAsInteger(10, N) || N < 0)
      return makeError("--dim " + Spec +
                       ": the size must be a non-negative integer");
    Sizes[SymbolAndSize->first] = N;
  }
  for (const Value *V : G.inputs()) {
    auto It = Given.find(V->name());
    if (It == Given.end() || It->second.rank() != V->rank())
      continue;
    for (int64_t I = 0; I < V->rank(); ++I)
      if (V->type().Dims[I].isSymbol())
        Sizes.try_emplace(V->type().Dims[I].symbol(), It->second.dim(I));
  }
  return Sizes;
}

/// An input tensor following the --random-inputs rule.
static llvm::Expected<Tensor>
randomInput(const Value &V, const llvm::StringMap<int64_t> &Symbols,
            std::mt19937_64 &Rng) {
  std::vector<int64_t> Sizes;
  for (const Dim &D : V.type().Dims) {
    if (D.isStatic()) {
      Sizes.push_back(D.value());
      continue;
    }
    if (D.isUnknown())
      return makeError("input %" + V.name() + " of type " + V.type().str() +
                       " has a dim of unknown size; give it with --input");
    auto It = Symbols.find(D.symbol());
    if (It == Symbols.end())
      return makeError("input %" + V.name() + " of type " + V.type().str() +
                       " needs a size for '" + D.symbol() + "': add --dim " +
                       D.symbol() + "=N");
    Sizes.push_back(It->second);
  }
  int64_t Count = 1;
  for (int64_t S : Sizes)
    if (__builtin_mul_overflow(Count, S, &Count) || Count > MaxRandomElements)
      return makeError(
          "input %" + V.name() + " of type " + V.type().str() +
          " would be too large to generate; check the --dim sizes");
  Tensor T(V.dtype(), std::move(Sizes));
  bool Ones = V.dtype() == DType::Bool ||
              (isInteger(V.dtype()) &&
               llvm::StringRef(V.name()).contains_insensitive("mask"));
  std::uniform_real_distribution<double> Float(-1.0, 1.0);
  std::uniform_int_distribution<int64_t> Int(0, IntRange - 1);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (Ones)
      T.setInt(I, 1);
    else if (isFloat(V.dtype()))
      T.setDouble(I, Float(Rng));
    else
      T.setInt(I, Int(Rng));
  }
  return T;
}

static llvm::Error addRandomInputs(const Graph &G,
                                   std::map<std::string, Tensor> &Inputs) {
  if (IntRange < 1)
    return makeError("--int-range must be at least 1");
  llvm::Expected<llvm::StringMap<int64_t>> Symbols = symbolSizes(G, Inputs);
  if (!Symbols)
    return Symbols.takeError();
  std::mt19937_64 Rng(Seed);
  for (const Value *V : G.inputs()) {
    if (Inputs.count(V->name()))
      continue;
    llvm::Expected<Tensor> T = randomInput(*V, *Symbols, Rng);
    if (!T)
      return T.takeError();
    Inputs.emplace(V->name(), std::move(*T));
  }
  return llvm::Error::success();
}

static llvm::Error
checkAllInputsGiven(const Graph &G,
                    const std::map<std::string, Tensor> &Inputs) {
  std::string Missing;
  for (const Value *V : G.inputs())
    if (!Inputs.count(V->name()))
      Missing += "\n  %" + V->name() + ": " + V->type().str();
  if (Missing.empty())
    return llvm::Error::success();
  return makeError("missing inputs (give each with --input NAME=FILE.npy, or "
                   "use --random-inputs):" +
                   Missing);
}

static void printElement(llvm::raw_ostream &OS, const Tensor &T, int64_t I) {
  if (T.dtype() == DType::Bool)
    OS << (T.getInt(I) ? "true" : "false");
  else if (isFloat(T.dtype()))
    OS << llvm::format("%.6g", T.getDouble(I));
  else
    OS << T.getInt(I);
}

static void printOutput(llvm::raw_ostream &OS, const Value &V,
                        const Tensor &T) {
  OS << "%" << V.name() << ": " << T.type().str();
  if (T.type() != V.type())
    OS << " (declared " << V.type().str() << ")";
  OS << "\n  [";
  int64_t Shown = std::min(T.numElements(), PrintedValues);
  for (int64_t I = 0; I < Shown; ++I) {
    if (I)
      OS << ", ";
    printElement(OS, T, I);
  }
  if (Shown < T.numElements())
    OS << ", ... (" << T.numElements() << " values)";
  OS << "]\n";
}

/// The outputs as .npz members: one per distinct output value, bf16 widened
/// to f32 because NumPy has no bf16.
static NamedTensors npzMembers(const Graph &G,
                               const std::vector<Tensor> &Outputs) {
  NamedTensors Members;
  llvm::StringSet<> Written;
  for (size_t I = 0; I < Outputs.size(); ++I) {
    const std::string &Name = G.outputs()[I]->name();
    if (!Written.insert(Name).second)
      continue;
    const Tensor &T = Outputs[I];
    if (T.dtype() == DType::BF16) {
      llvm::WithColor::note(llvm::errs())
          << "output %" << Name << " is bf16; written as f32\n";
      Members.emplace_back(Name, T.castTo(DType::F32));
    } else {
      Members.emplace_back(Name, T);
    }
  }
  return Members;
}

/// Loads a model, or an artifact's IR with its weights restored.
static llvm::Expected<std::unique_ptr<Graph>>
loadModelOrArtifact(llvm::StringRef Path, std::optional<Artifact> *Keep) {
  if (!isArtifactPath(Path))
    return loadModel(Path);
  auto A = readArtifact(Path);
  if (!A)
    return A.takeError();
  auto G = artifactGraph(*A);
  if (G && Keep)
    Keep->emplace(std::move(*A));
  return G;
}

static llvm::Error runCommand() {
  bool IsArtifact = isArtifactPath(RunModel);
  std::string Where =
      Device.empty() ? (IsArtifact ? "gpu" : "cpu") : std::string(Device);
  if (Where != "cpu" && Where != "gpu")
    return makeError("unknown device '" + Where + "' (expected cpu or gpu)");
  if (Where == "gpu" && !IsArtifact)
    return makeError("--device gpu runs compiled artifacts: compile with "
                     "'kiln compile " +
                     RunModel + " -o MODEL.kiln' first");
  std::optional<Artifact> A;
  llvm::Expected<std::unique_ptr<Graph>> G =
      loadModelOrArtifact(RunModel, Where == "gpu" ? &A : nullptr);
  if (!G)
    return G.takeError();
  llvm::Expected<std::map<std::string, Tensor>> Inputs = readGivenInputs(**G);
  if (!Inputs)
    return Inputs.takeError();
  if (RandomInputs)
    if (llvm::Error E = addRandomInputs(**G, *Inputs))
      return E;
  if (llvm::Error E = checkAllInputsGiven(**G, *Inputs))
    return E;
  llvm::Expected<std::vector<Tensor>> Outputs = std::vector<Tensor>();
  std::vector<Tensor> Ordered; // the inputs in graph order, for the GPU
  for (const Value *In : (*G)->inputs())
    Ordered.push_back(Inputs->at(In->name()));
  if (Where == "cpu") {
    Outputs = runReference(**G, *Inputs);
  } else if (!A->Meta.DataDependent.empty()) {
    DataDependentOptions DO;
    DO.Target.Arch = A->Meta.Arch;
    DO.CacheDir = defaultCacheDir();
    auto R = DataDependentRunner::create((*G)->clone(), DO);
    if (!R)
      return R.takeError();
    Outputs = (*R)->run(Ordered);
  } else {
    EngineOptions EO;
    if (JitShapes)
      EO.JitCompiler = makeJitCompiler(defaultCacheDir());
    auto E = Engine::create(std::move(*A), EO);
    if (!E)
      return E.takeError();
    auto Ctx = (*E)->createContext();
    if (!Ctx)
      return Ctx.takeError();
    Outputs = (*Ctx)->run(Ordered);
  }
  if (!Outputs)
    return Outputs.takeError();
  if (!OutputPath.empty())
    return writeNpz(OutputPath, npzMembers(**G, *Outputs));
  for (size_t I = 0; I < Outputs->size(); ++I)
    printOutput(llvm::outs(), *(*G)->outputs()[I], (*Outputs)[I]);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// kiln compile
//===----------------------------------------------------------------------===//

/// The plan with every GEMM's fastest cuBLASLt algorithm on this GPU.
static llvm::Expected<ExecutablePlan> autotunePlan(const Artifact &A) {
  auto E = Engine::create(A);
  if (!E)
    return E.takeError();
  auto Ctx = (*E)->createContext();
  if (!Ctx)
    return Ctx.takeError();
  return (*Ctx)->autotuneGemms();
}

static llvm::Expected<std::vector<int64_t>> parseSizes(llvm::StringRef List,
                                                       llvm::StringRef Flag) {
  std::vector<int64_t> Sizes;
  llvm::SmallVector<llvm::StringRef> Parts;
  List.split(Parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef P : Parts) {
    int64_t N;
    if (P.trim().getAsInteger(10, N) || N <= 0)
      return makeError("--" + Flag + ": '" + P + "' is not a positive integer");
    Sizes.push_back(N);
  }
  if (Sizes.empty())
    return makeError("--" + Flag + " needs at least one size");
  return Sizes;
}

/// Inputs for --prune-report: those of --prune-report-inputs, or random
/// ones (symbolic dims 2 for the first, else 16): masks all ones but the last
/// quarter of rows after the first, ids that index a constant table through
/// a Gather in range of it.
static llvm::Expected<std::map<std::string, Tensor>>
pruneReportInputs(const Graph &G) {
  std::map<std::string, Tensor> Inputs;
  if (!PruneReportInputs.empty()) {
    auto Members = readNpz(PruneReportInputs);
    if (!Members)
      return withContext(Members.takeError(), PruneReportInputs);
    for (auto &[Name, T] : *Members)
      Inputs.emplace(Name, std::move(T));
    for (const Value *V : G.inputs())
      if (!Inputs.count(V->name()))
        return makeError(PruneReportInputs + " has no array for input %" +
                         V->name());
    return Inputs;
  }
  std::mt19937_64 Rng(0);
  for (const Value *V : G.inputs()) {
    std::vector<int64_t> Sizes;
    for (int64_t I = 0; I < V->rank(); ++I) {
      const Dim &D = V->type().Dims[I];
      Sizes.push_back(D.isStatic() ? D.value() : I == 0 ? 2 : 16);
    }
    int64_t Range = 2;
    for (const Use &U : V->uses()) {
      const Value *Table = U.User->operand(0);
      if (U.User->opName() == "Gather" && U.OperandIndex == 1 &&
          Table->isConstant() && Table->rank() >= 1 &&
          Table->type().Dims[0].isStatic())
        Range = std::max(Range, Table->type().Dims[0].value());
    }
    bool Mask = llvm::StringRef(V->name()).contains_insensitive("mask");
    int64_t Padded = Sizes.empty() ? 0 : Sizes.back() - Sizes.back() / 4;
    Tensor T(V->dtype(), Sizes);
    std::uniform_real_distribution<double> Float(-1.0, 1.0);
    std::uniform_int_distribution<int64_t> Int(0, Range - 1);
    int64_t Row = Sizes.empty() ? 1 : Sizes.back();
    for (int64_t I = 0; I < T.numElements(); ++I) {
      if (isFloat(V->dtype()))
        T.setDouble(I, Float(Rng));
      else if (Mask || V->dtype() == DType::Bool)
        T.setInt(I, I < Row || I % Row < Padded);
      else
        T.setInt(I, Int(Rng));
    }
    Inputs.emplace(V->name(), std::move(T));
  }
  return Inputs;
}

/// Prints, per output, the cosine similarity of the compiled model's rows
/// (its optimized graph with the artifact's weights) to the unpruned
/// model's, both run on the reference executor.
static llvm::Error reportPruning(const Graph &Unpruned, const Artifact &A) {
  auto Pruned = artifactGraph(A);
  if (!Pruned)
    return Pruned.takeError();
  auto Inputs = pruneReportInputs(Unpruned);
  if (!Inputs)
    return Inputs.takeError();
  auto Want = runReference(Unpruned, *Inputs);
  if (!Want)
    return withContext(Want.takeError(), "the unpruned model");
  auto Got = runReference(**Pruned, *Inputs);
  if (!Got)
    return withContext(Got.takeError(), "the pruned model");
  for (size_t O = 0; O < Want->size(); ++O) {
    const Tensor &W = (*Want)[O], &P = (*Got)[O];
    if (W.sizes() != P.sizes())
      return makeError("output %" + Unpruned.outputs()[O]->name() +
                       " changed shape: " + W.type().str() + " and " +
                       P.type().str());
    int64_t Rows = W.rank() ? W.dim(0) : 1;
    int64_t Width = Rows ? W.numElements() / Rows : 0;
    double Min = 1, Sum = 0;
    for (int64_t R = 0; R < Rows; ++R) {
      double Dot = 0, NW = 0, NP = 0;
      for (int64_t I = R * Width; I < (R + 1) * Width; ++I) {
        Dot += W.getDouble(I) * P.getDouble(I);
        NW += W.getDouble(I) * W.getDouble(I);
        NP += P.getDouble(I) * P.getDouble(I);
      }
      double Cos = NW > 0 && NP > 0 ? Dot / std::sqrt(NW * NP) : 0;
      Min = std::min(Min, Cos);
      Sum += Cos;
    }
    llvm::errs() << "prune report: %" << Unpruned.outputs()[O]->name()
                 << ": cosine similarity to the unpruned model "
                 << llvm::format("min %.6f, mean %.6f", Min,
                                 Rows ? Sum / double(Rows) : 0.0)
                 << " over " << Rows << " rows ("
                 << (PruneReportInputs.empty() ? "random inputs"
                                               : PruneReportInputs.getValue())
                 << ")\n";
  }
  return llvm::Error::success();
}

static llvm::Error compileCommand(int argc, char **argv) {
  CompileOptions Options;
  auto Batches = parseSizes(BatchList, "batch");
  if (!Batches)
    return Batches.takeError();
  auto Seqs = parseSizes(SeqList, "seq");
  if (!Seqs)
    return Seqs.takeError();
  Options.Batches = *Batches;
  Options.Seqs = *Seqs;
  auto Storage = parsePrecision(::Precision);
  if (!Storage)
    return Storage.takeError();
  Options.Precision = *Storage;
  Options.Target.Arch = Arch;
  Options.CacheDir = CacheDir.empty()     ? defaultCacheDir()
                     : CacheDir == "none" ? std::string()
                                          : std::string(CacheDir);
  Options.Jobs = Jobs;
  Options.EmitPtx = !NoPtx;
  Options.ModelName = llvm::sys::path::stem(CompileModel).str();
  for (int I = 0; I < argc; ++I)
    Options.CompileCommand += (I ? " " : "") + std::string(argv[I]);
  Options.Prune = PruneSpec;
  if (PruneReport && PruneSpec.empty())
    return makeError("--prune-report needs --prune");
  for (const std::string &Spec : BindSpecs) {
    auto NameAndPath = splitSpec(Spec, "bind");
    if (!NameAndPath)
      return NameAndPath.takeError();
    auto T = readNpy(NameAndPath->second);
    if (!T)
      return withContext(T.takeError(), "--bind " + NameAndPath->first);
    Options.BoundInputs[NameAndPath->first.str()] = std::move(*T);
  }
  auto G = loadModel(CompileModel);
  if (!G)
    return G.takeError();
  std::unique_ptr<Graph> Unpruned = PruneReport ? (*G)->clone() : nullptr;
  CompileStats Stats;
  auto A = compileGraph(std::move(*G), Options, &Stats);
  if (!A)
    return withContext(A.takeError(), CompileModel);
  if (Unpruned)
    if (llvm::Error E = reportPruning(*Unpruned, *A))
      return withContext(std::move(E), "--prune-report");
  if (Autotune && !A->Meta.DataDependent.empty())
    return makeError("--autotune: " + CompileModel +
                     " has shapes that depend on the data; its plans are "
                     "compiled at run time");
  if (Autotune) {
    auto Tuned = autotunePlan(*A);
    if (!Tuned)
      return withContext(Tuned.takeError(), "--autotune");
    A->Plan = std::move(*Tuned);
  }
  if (llvm::Error E = writeArtifact(*A, CompileOut))
    return E;
  if (!A->Meta.DataDependent.empty()) {
    llvm::errs() << "wrote " << CompileOut << ": no buckets, weights "
                 << llvm::format("%.1f", A->Weights.size() / 1048576.0)
                 << " MiB; " << llvm::format("%.2f", Stats.Seconds) << " s\n";
    llvm::WithColor::note(llvm::errs())
        << "shapes depend on the data (" << A->Meta.DataDependent
        << "): `kiln run` compiles plans for each request's shapes\n";
    return llvm::Error::success();
  }
  uint64_t MaxArena = 0;
  for (const BucketPlan &B : A->Plan.Buckets)
    MaxArena = std::max(MaxArena, B.ArenaBytes);
  llvm::errs() << "wrote " << CompileOut << ": " << A->Plan.Buckets.size()
               << " buckets, " << Stats.Kernels << " kernels in "
               << Stats.Modules << " modules (" << Stats.CacheHits
               << " from the cache), weights "
               << llvm::format("%.1f", A->Weights.size() / 1048576.0)
               << " MiB, largest arena "
               << llvm::format("%.1f", MaxArena / 1048576.0) << " MiB; "
               << llvm::format("%.2f", Stats.Seconds) << " s (NVRTC "
               << llvm::format("%.2f", Stats.NvrtcSeconds) << " s)\n";
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// kiln inspect
//===----------------------------------------------------------------------===//

struct Summary {
  std::map<std::string, int64_t> Ops;
  /// Elements of floating-point constants, elided ones included.
  int64_t Parameters = 0;
  int64_t FloatConstants = 0;
};

static Summary summarize(const Graph &G) {
  Summary S;
  for (const auto &N : G.nodes())
    ++S.Ops[N->opName().str()];
  for (const Value *C : G.constants()) {
    if (!isFloat(C->dtype()))
      continue;
    ++S.FloatConstants;
    S.Parameters += C->constantData() ? C->constantData()->numElements()
                                      : C->type().staticNumElements();
  }
  return S;
}

static llvm::json::Value valueToJson(const Value &V) {
  llvm::json::Array Shape;
  for (const Dim &D : V.type().Dims) {
    if (D.isStatic())
      Shape.push_back(D.value());
    else
      Shape.push_back(D.isSymbol() ? D.symbol() : "?");
  }
  return llvm::json::Object{{"name", V.name()},
                            {"dtype", dtypeName(V.dtype())},
                            {"shape", std::move(Shape)}};
}

static llvm::json::Value artifactJson(const Artifact &A);

static void printJson(const Graph &G, const Summary &S, const Artifact *A) {
  llvm::json::Array Inputs, Outputs;
  for (const Value *V : G.inputs())
    Inputs.push_back(valueToJson(*V));
  for (const Value *V : G.outputs())
    Outputs.push_back(valueToJson(*V));
  llvm::json::Object Ops;
  for (const auto &[Op, Count] : S.Ops)
    Ops[Op] = Count;
  llvm::json::Object Root{{"inputs", std::move(Inputs)},
                          {"outputs", std::move(Outputs)},
                          {"ops", std::move(Ops)},
                          {"parameters", S.Parameters}};
  if (A)
    Root["artifact"] = artifactJson(*A);
  llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(Root)))
               << "\n";
}

static void printText(const Graph &G, const Summary &S) {
  llvm::raw_ostream &OS = llvm::outs();
  OS << "graph @" << G.name() << "\n";
  OS << "inputs:\n";
  for (const Value *V : G.inputs())
    OS << "  %" << V->name() << ": " << V->type().str() << "\n";
  OS << "outputs:\n";
  for (const Value *V : G.outputs())
    OS << "  %" << V->name() << ": " << V->type().str() << "\n";
  // Most frequent first; ties by name.
  std::vector<std::pair<std::string, int64_t>> Ops(S.Ops.begin(), S.Ops.end());
  std::stable_sort(Ops.begin(), Ops.end(), [](const auto &A, const auto &B) {
    return A.second > B.second;
  });
  OS << "ops: " << G.numNodes() << " nodes\n";
  for (const auto &[Op, Count] : Ops)
    OS << "  " << llvm::left_justify(Op, 24) << Count << "\n";
  OS << "parameters: " << S.Parameters << " in " << S.FloatConstants
     << " floating-point constants\n";
}

static llvm::json::Value artifactJson(const Artifact &A) {
  llvm::json::Array Buckets;
  for (const BucketPlan &B : A.Plan.Buckets)
    Buckets.push_back(llvm::json::Object{{"batch", B.Batch},
                                         {"seq", B.Seq},
                                         {"arena_bytes", B.ArenaBytes},
                                         {"steps", int64_t(B.Steps.size())}});
  return llvm::json::Object{
      {"precision", A.Meta.Precision},
      {"arch", A.Meta.Arch},
      {"producer", A.Meta.Producer},
      {"batch_buckets", llvm::json::Array(A.Meta.BatchBuckets)},
      {"seq_buckets", llvm::json::Array(A.Meta.SeqBuckets)},
      {"buckets", std::move(Buckets)},
      {"kernels", int64_t(A.Plan.Kernels.size())},
      {"modules", int64_t(A.Plan.Modules.size())},
      {"weight_bytes", int64_t(A.Weights.size())},
      {"data_dependent", A.Meta.DataDependent},
      {"compile_command", A.Meta.CompileCommand}};
}

static void printArtifact(const Artifact &A) {
  llvm::raw_ostream &OS = llvm::outs();
  OS << "artifact: " << A.Meta.Producer << ", " << A.Meta.Precision << ", "
     << A.Meta.Arch << ", " << A.Plan.Kernels.size() << " kernels in "
     << A.Plan.Modules.size() << " modules, weights "
     << llvm::format("%.1f", A.Weights.size() / 1048576.0) << " MiB\n";
  if (!A.Meta.DataDependent.empty())
    OS << "shapes depend on the data: " << A.Meta.DataDependent
       << "\n(no buckets: plans are compiled for each request's shapes)\n";
  else
    OS << "buckets:\n";
  for (const BucketPlan &B : A.Plan.Buckets)
    OS << "  batch " << B.Batch << " seq " << B.Seq << ": " << B.Steps.size()
       << " steps, arena " << llvm::format("%.1f", B.ArenaBytes / 1048576.0)
       << " MiB\n";
  if (!A.Meta.CompileCommand.empty())
    OS << "compiled with: " << A.Meta.CompileCommand << "\n";
}

static llvm::Error inspectCommand() {
  std::optional<Artifact> A;
  llvm::Expected<std::unique_ptr<Graph>> G =
      loadModelOrArtifact(InspectModel, &A);
  if (!G)
    return G.takeError();
  Summary S = summarize(**G);
  if (Json)
    printJson(**G, S, A ? &*A : nullptr);
  else {
    printText(**G, S);
    if (A)
      printArtifact(*A);
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// kiln bench
//===----------------------------------------------------------------------===//

/// Multiply-adds of the matrix products and attention, counted as 2 FLOPs.
static double modelFlops(const Graph &G, int64_t Batch, int64_t Seq) {
  auto Size = [&](const Dim &D) -> double {
    if (D.isStatic())
      return double(D.value());
    if (D.isSymbol() && D.symbol() == "batch")
      return double(Batch);
    if (D.isSymbol() && D.symbol() == "seq")
      return double(Seq);
    return 0;
  };
  auto Numel = [&](const TensorType &T) {
    double N = 1;
    for (const Dim &D : T.Dims)
      N *= Size(D);
    return N;
  };
  double Flops = 0;
  for (const auto &N : G.nodes()) {
    llvm::StringRef Op = N->opName();
    if (Op == "FusedGemm" || Op == "MatMul" || Op == "Gemm") {
      const TensorType &A = N->operand(0)->type();
      double K = A.rank() ? Size(A.Dims.back()) : 0;
      Flops += 2 * Numel(N->result()->type()) * K;
    } else if (Op == "Attention") {
      // q k^T and p v: 4 * B * S * S * (H * D).
      const TensorType &Q = N->operand(0)->type();
      if (Q.rank() != 3)
        continue;
      double Hidden = Size(Q.Dims[2]) / (N->operand(1) ? 1 : 3);
      Flops += 4 * Size(Q.Dims[0]) * Size(Q.Dims[1]) * Size(Q.Dims[1]) * Hidden;
    }
  }
  return Flops;
}

struct BenchRecord {
  std::string Impl;
  int64_t Batch = 0, Seq = 0;
  double GpuMs = 0, HostP50 = 0, HostP95 = 0, SeqPerS = 0, Tflops = 0,
         PeakMb = 0, CompileS = 0;
};

static double percentile(std::vector<double> V, double P) {
  std::sort(V.begin(), V.end());
  if (V.empty())
    return 0;
  size_t I = size_t(P * double(V.size() - 1) + 0.5);
  return V[std::min(I, V.size() - 1)];
}

static llvm::json::Value recordJson(const BenchRecord &R) {
  return llvm::json::Object{{"impl", R.Impl},
                            {"batch", R.Batch},
                            {"seq", R.Seq},
                            {"gpu_ms_median", R.GpuMs},
                            {"host_ms_p50", R.HostP50},
                            {"host_ms_p95", R.HostP95},
                            {"seq_per_s", R.SeqPerS},
                            {"tflops", R.Tflops},
                            {"peak_mem_mb", R.PeakMb},
                            {"compile_s", R.CompileS}};
}

/// Benchmark inputs: masks all ones, token types zero, other integers
/// uniform in [1000, 30000) (token ids), floats uniform in [-1, 1).
static Tensor benchInput(const IoBinding &B, std::mt19937_64 &Rng) {
  Tensor T(B.Type, B.Dims);
  llvm::StringRef Name = B.Name;
  std::uniform_int_distribution<int64_t> Ids(1000, 29999);
  std::uniform_real_distribution<double> Real(-1, 1);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (isFloat(B.Type))
      T.setDouble(I, Real(Rng));
    else if (Name.contains_insensitive("mask") || B.Type == DType::Bool)
      T.setInt(I, 1);
    else if (Name.contains_insensitive("type"))
      T.setInt(I, 0);
    else
      T.setInt(I, Ids(Rng));
  }
  return T;
}

static llvm::Expected<std::vector<BenchRecord>>
readPeerRecords(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path);
  if (!Buf)
    return makeError("reading the peers' results " + Path + ": " +
                     Buf.getError().message());
  auto J = llvm::json::parse((*Buf)->getBuffer());
  if (!J)
    return withContext(J.takeError(), Path);
  const llvm::json::Array *Records = J->getAsArray();
  if (!Records)
    if (const llvm::json::Object *O = J->getAsObject())
      Records = O->getArray("records");
  if (!Records)
    return makeError(Path + ": expected a JSON list of records");
  std::vector<BenchRecord> Out;
  for (const llvm::json::Value &V : *Records) {
    const llvm::json::Object *O = V.getAsObject();
    if (!O)
      continue;
    BenchRecord R;
    if (auto S = O->getString("impl"))
      R.Impl = S->str();
    R.Batch = O->getInteger("batch").value_or(0);
    R.Seq = O->getInteger("seq").value_or(0);
    R.GpuMs = O->getNumber("gpu_ms_median").value_or(0);
    R.HostP50 = O->getNumber("host_ms_p50").value_or(0);
    R.HostP95 = O->getNumber("host_ms_p95").value_or(0);
    R.SeqPerS = O->getNumber("seq_per_s").value_or(0);
    R.Tflops = O->getNumber("tflops").value_or(0);
    R.PeakMb = O->getNumber("peak_mem_mb").value_or(0);
    R.CompileS = O->getNumber("compile_s").value_or(0);
    Out.push_back(R);
  }
  return Out;
}

static void printBenchTable(const std::vector<BenchRecord> &Records) {
  llvm::raw_ostream &OS = llvm::outs();
  OS << "| batch x seq | impl | GPU ms (median) | seq/s | host p50 ms | "
        "host p95 ms | TFLOP/s | peak MiB | kiln speedup |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
  for (const BenchRecord &R : Records) {
    double KilnMs = 0;
    for (const BenchRecord &K : Records)
      if (K.Impl == "kiln" && K.Batch == R.Batch && K.Seq == R.Seq)
        KilnMs = K.GpuMs;
    OS << "| " << R.Batch << "x" << R.Seq << " | " << R.Impl << " | "
       << llvm::format("%.3f", R.GpuMs) << " | "
       << llvm::format("%.0f", R.SeqPerS) << " | "
       << llvm::format("%.3f", R.HostP50) << " | "
       << llvm::format("%.3f", R.HostP95) << " | "
       << llvm::format("%.1f", R.Tflops) << " | "
       << llvm::format("%.0f", R.PeakMb) << " | ";
    if (R.Impl == "kiln" || KilnMs <= 0)
      OS << "- |\n";
    else
      OS << llvm::format("%.2fx", R.GpuMs / KilnMs) << " |\n";
  }
}

static llvm::Error benchCommand() {
  auto A = readArtifact(BenchModel);
  if (!A)
    return A.takeError();
  auto G = artifactGraph(*A);
  if (!G)
    return G.takeError();
  std::vector<std::pair<int64_t, int64_t>> Shapes;
  if (BenchShapes.empty()) {
    for (const BucketPlan &B : A->Plan.Buckets)
      Shapes.push_back({B.Batch, B.Seq});
  } else {
    llvm::SmallVector<llvm::StringRef> Parts;
    llvm::StringRef(BenchShapes).split(Parts, ',', -1, false);
    for (llvm::StringRef P : Parts) {
      auto [BText, SText] = P.split('x');
      int64_t B, S;
      if (BText.getAsInteger(10, B) || SText.getAsInteger(10, S))
        return makeError("--shapes: '" + P + "' is not BATCHxSEQ");
      Shapes.push_back({B, S});
    }
  }
  std::string Precision = A->Meta.Precision;
  std::unique_ptr<Graph> Model = std::move(*G);
  auto E = Engine::create(std::move(*A));
  if (!E)
    return E.takeError();
  auto Ctx = (*E)->createContext();
  if (!Ctx)
    return Ctx.takeError();
  if (Autotune)
    if (auto Tuned = (*Ctx)->autotuneGemms(); !Tuned)
      return withContext(Tuned.takeError(), "--autotune");
  EngineMemory Mem = (*E)->memory();
  const auto &Buckets = (*E)->plan().Buckets;

  std::vector<BenchRecord> Records;
  std::mt19937_64 Rng(0);
  for (auto [Batch, Seq] : Shapes) {
    size_t Bucket = SIZE_MAX;
    for (size_t I = 0; I < Buckets.size(); ++I)
      if (Buckets[I].Batch == Batch && Buckets[I].Seq == Seq)
        Bucket = I;
    if (Bucket == SIZE_MAX)
      return makeError("shape " + llvm::Twine(Batch) + "x" + llvm::Twine(Seq) +
                       " is no bucket of " + BenchModel +
                       " (compile with --batch and --seq including it)");
    std::vector<Tensor> Inputs;
    for (const IoBinding &In : Buckets[Bucket].Inputs)
      Inputs.push_back(benchInput(In, Rng));
    if (llvm::Error Err = (*Ctx)->stage(Bucket, Inputs))
      return Err;
    if (auto W = (*Ctx)->timeBucket(Bucket, BenchWarmup); !W)
      return W.takeError();
    auto Ms = (*Ctx)->timeBucket(Bucket, BenchIters);
    if (!Ms)
      return Ms.takeError();
    std::vector<double> Gpu(Ms->begin(), Ms->end());
    // Host latency: a whole request (copies in and out included).
    std::vector<double> Host;
    for (unsigned I = 0; I < BenchWarmup + BenchIters; ++I) {
      auto T0 = std::chrono::steady_clock::now();
      auto Out = (*Ctx)->run(Inputs);
      if (!Out)
        return Out.takeError();
      if (I >= BenchWarmup)
        Host.push_back(std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - T0)
                           .count());
    }
    if (BenchProfile) {
      auto Steps = (*Ctx)->profileBucket(Bucket, BenchIters);
      if (!Steps)
        return Steps.takeError();
      std::map<std::string, std::pair<double, int>> ByWhat;
      double Total = 0;
      for (const auto &S : *Steps) {
        ByWhat[S.What].first += S.Ms;
        ++ByWhat[S.What].second;
        Total += S.Ms;
      }
      std::vector<std::pair<std::string, std::pair<double, int>>> Sorted(
          ByWhat.begin(), ByWhat.end());
      std::stable_sort(Sorted.begin(), Sorted.end(), [](auto &A, auto &B) {
        return A.second.first > B.second.first;
      });
      llvm::outs() << "profile " << Batch << "x" << Seq << ": "
                   << llvm::format("%.3f", Total)
                   << " ms over the steps without a graph\n";
      for (const auto &[What, TimeCount] : Sorted)
        llvm::outs() << "  " << llvm::left_justify(What, 40)
                     << llvm::format(
                            "%8.3f ms  %5.1f%%  x%d\n", TimeCount.first,
                            100 * TimeCount.first / Total, TimeCount.second);
    }
    BenchRecord R;
    R.Impl = "kiln";
    R.Batch = Batch;
    R.Seq = Seq;
    R.GpuMs = percentile(Gpu, 0.5);
    R.HostP50 = percentile(Host, 0.5);
    R.HostP95 = percentile(Host, 0.95);
    R.SeqPerS = double(Batch) / (R.GpuMs / 1000.0);
    R.Tflops = modelFlops(*Model, Batch, Seq) / (R.GpuMs * 1e9);
    R.PeakMb = double(Mem.WeightBytes + Buckets[Bucket].ArenaBytes +
                      Mem.WorkspaceBytes) /
               1048576.0;
    Records.push_back(R);
  }

  if (!BenchPeers.empty()) {
    std::string ShapeList;
    for (auto [B, S] : Shapes)
      ShapeList += (ShapeList.empty() ? "" : ",") + std::to_string(B) + "x" +
                   std::to_string(S);
    llvm::SmallString<128> Tmp;
    if (std::error_code EC =
            llvm::sys::fs::createTemporaryFile("kiln-peers", "json", Tmp))
      return makeError("creating a temporary file: " + EC.message());
    std::string Cmd = BenchPeers + " --shapes " + ShapeList + " --precision " +
                      (Precision == "f16" ? "fp16" : Precision) + " --json " +
                      Tmp.str().str();
    llvm::errs() << "running peers: " << Cmd << "\n";
    std::string ErrMsg;
    int Rc = llvm::sys::ExecuteAndWait("/bin/sh", {"/bin/sh", "-c", Cmd},
                                       std::nullopt, {}, 0, 0, &ErrMsg);
    if (Rc != 0) {
      llvm::sys::fs::remove(Tmp);
      return makeError("the peers' command failed (exit " + llvm::Twine(Rc) +
                       (ErrMsg.empty() ? "" : ": " + ErrMsg) + "): " + Cmd);
    }
    auto Peers = readPeerRecords(Tmp);
    llvm::sys::fs::remove(Tmp);
    if (!Peers)
      return Peers.takeError();
    Records.insert(Records.end(), Peers->begin(), Peers->end());
    std::stable_sort(Records.begin(), Records.end(),
                     [&](const BenchRecord &X, const BenchRecord &Y) {
                       auto Rank = [&](const BenchRecord &R) {
                         for (size_t I = 0; I < Shapes.size(); ++I)
                           if (Shapes[I] == std::make_pair(R.Batch, R.Seq))
                             return I;
                         return Shapes.size();
                       };
                       return Rank(X) < Rank(Y);
                     });
  }
  printBenchTable(Records);
  if (!BenchJson.empty()) {
    llvm::json::Array Out;
    for (const BenchRecord &R : Records)
      Out.push_back(recordJson(R));
    std::error_code EC;
    llvm::raw_fd_ostream OS(BenchJson, EC);
    if (EC)
      return makeError("writing " + BenchJson + ": " + EC.message());
    OS << llvm::formatv("{0:2}", llvm::json::Value(std::move(Out))) << "\n";
  }
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "kiln: compile, run, inspect and benchmark neural-network models\n\n"
      "  kiln compile MODEL -o MODEL.kiln [--batch 1,8,32] [--seq 128] "
      "[--precision fp16]\n"
      "  kiln run MODEL --input NAME=FILE.npy ... [-o OUT.npz]\n"
      "  kiln inspect [--json] MODEL\n"
      "  kiln bench MODEL.kiln [--shapes 1x128] [--peers CMD]\n\n"
      "MODEL is an .onnx file, kiln's text form (- for stdin) or a .kiln "
      "artifact. See 'kiln <command> --help'.\n");
  auto Dispatch = [&]() -> llvm::Error {
    if (RunCmd)
      return runCommand();
    if (InspectCmd)
      return inspectCommand();
    if (CompileCmd)
      return compileCommand(argc, argv);
    if (BenchCmd)
      return benchCommand();
    return makeError("no command given: use 'kiln compile', 'kiln run', "
                     "'kiln inspect' or 'kiln bench' (see kiln --help)");
  };
  if (llvm::Error E = Dispatch())
    return fail(std::move(E));
  return 0;
}
