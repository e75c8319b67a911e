//===- Run.cpp - kiln run: execute a model --------------------------------===//
//
// On the CPU reference executor (.onnx and .kir; artifacts on request), or
// an artifact on the GPU: through an Engine, or a DataDependentRunner when
// its shapes depend on the data. Inputs come from .npy/.npz files or are
// made up (--random-inputs); outputs are printed or written to an .npz.
//
//===----------------------------------------------------------------------===//
#include "BenchDevices.h"
#include "Kiln.h"

#include "codegen/Compiler.h"
#include "codegen/DataDependent.h"
#include "codegen/InputRoleAnalysis.h"
#include "codegen/Nvrtc.h"
#include "common/Npy.h"
#include "common/RandomInputs.h"
#include "ir/Error.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"
#include "runtime/StageReference.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string> RunModel(cl::Positional, cl::Required,
                                     cl::desc("<model .onnx|.kir|.kiln|->"),
                                     cl::sub(runSubcommand()));
static cl::opt<std::string>
    Device("device", cl::init(""),
           cl::desc("Where to run: cpu (the reference executor; the default "
                    "for .onnx and .kir) or gpu (the default for .kiln)"),
           cl::value_desc("device"), cl::sub(runSubcommand()));
static cl::list<std::string>
    InputSpecs("input",
               cl::desc("A graph input from an .npy file (repeatable)"),
               cl::value_desc("name=file.npy"), cl::sub(runSubcommand()));
static cl::alias InputSpecsShort("i", cl::desc("Alias for --input"),
                                 cl::aliasopt(InputSpecs));
static cl::opt<std::string>
    InputsNpz("inputs",
              cl::desc("Graph inputs from the members of an .npz file "
                       "named like them"),
              cl::value_desc("file.npz"), cl::sub(runSubcommand()));
static cl::opt<std::string>
    OutputPath("o",
               cl::desc("Write the outputs to an .npz file, one array per "
                        "graph output, named like the output"),
               cl::value_desc("file.npz"), cl::sub(runSubcommand()));
static cl::alias OutputPathLong("output", cl::desc("Alias for -o"),
                                cl::aliasopt(OutputPath));
static cl::opt<bool>
    JitShapes("jit",
              cl::desc("On the GPU, compile a plan for the inputs' exact "
                       "shape when the artifact has no bucket for it "
                       "(NVRTC, kernel cache in $KILN_CACHE_DIR)"),
              cl::sub(runSubcommand()));
static cl::opt<std::string> RunPacked(
    "packed", cl::init("auto"),
    cl::desc("On the GPU, with packed-token buckets in the artifact: 'auto' "
             "runs a request packed where the plans predict it faster, 'on' "
             "wherever a token bucket holds its tokens, 'off' always padded"),
    cl::sub(runSubcommand()));
static cl::opt<std::string> RunDevices(
    "devices", cl::init(""),
    cl::desc("Run an artifact on a multi-device engine over these CUDA "
             "devices (docs/multi-gpu.md)"),
    cl::value_desc("0,1"), cl::sub(runSubcommand()));
static cl::opt<bool> RandomInputs(
    "random-inputs",
    cl::desc("Generate the inputs not given with --input: floats uniform in "
             "[-1, 1), integers uniform in [0, --int-range), inputs whose "
             "name contains 'mask' all ones, bools all true"),
    cl::sub(runSubcommand()));
static cl::opt<unsigned> Seed("seed", cl::init(0),
                              cl::desc("Seed for --random-inputs"),
                              cl::sub(runSubcommand()));
static cl::list<std::string> DimSpecs(
    "dim",
    cl::desc("Size of a symbolic dim for --random-inputs (repeatable); "
             "symbols bound by a given input need none"),
    cl::value_desc("symbol=N"), cl::sub(runSubcommand()));
static cl::opt<int64_t> IntRange(
    "int-range", cl::init(2),
    cl::desc("Random integers are drawn from [0, N) (default 2: a valid "
             "token id, token type and position everywhere)"),
    cl::value_desc("N"), cl::sub(runSubcommand()));

// How many values of each output `kiln run` prints without -o.
constexpr int64_t PrintedValues = 8;

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

static llvm::Error addRandomInputs(const Graph &G,
                                   std::map<std::string, Tensor> &Inputs) {
  if (IntRange < 1)
    return makeError("--int-range must be at least 1");
  llvm::Expected<llvm::StringMap<int64_t>> Symbols = symbolSizes(G, Inputs);
  if (!Symbols)
    return Symbols.takeError();
  std::mt19937_64 Rng(Seed);
  std::vector<IoRole> Roles = inferInputRoles(G);
  for (size_t In = 0; In < Roles.size(); ++In) {
    const Value *V = G.inputs()[In];
    if (Inputs.count(V->name()))
      continue;
    llvm::Expected<Tensor> T =
        randomInput(*V, Roles[In], *Symbols, IntRange, Rng);
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

llvm::Error kiln::runCommand() {
  bool IsArtifact = isArtifactPath(RunModel);
  std::string Where =
      Device.empty() ? (IsArtifact ? "gpu" : "cpu") : std::string(Device);
  if (Where != "cpu" && Where != "gpu")
    return makeError("unknown device '" + Where + "' (expected cpu or gpu)");
  if (Where == "gpu" && !IsArtifact)
    return makeError("--device gpu runs compiled artifacts: compile with "
                     "'kiln compile " +
                     RunModel + " -o MODEL.kiln' first");
  if (!RunDevices.empty() && Where != "gpu")
    return makeError("--devices runs a compiled artifact on the GPU, not "
                     "on the " +
                     Where);
  std::vector<int> Devs;
  if (!RunDevices.empty()) {
    auto Parsed = parseDeviceList(RunDevices, "devices");
    if (!Parsed)
      return Parsed.takeError();
    Devs = *Parsed;
  }
  std::optional<Artifact> A;
  llvm::Expected<std::unique_ptr<Graph>> G =
      loadModelOrArtifact(RunModel, IsArtifact ? &A : nullptr);
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
  if (Where == "cpu" && A && A->Partition &&
      A->Partition->Kind == PartitionPlan::Mode::Pipeline) {
    // A pipeline runs stage by stage, as the devices would run it.
    Outputs = runStagesReference(*A, Ordered);
  } else if (Where == "cpu") {
    Outputs = runReference(**G, *Inputs);
  } else if (!A->Meta.DataDependent.empty()) {
    if (!RunDevices.empty())
      return makeError("--devices: '" + A->Meta.ModelName +
                       "' has shapes that depend on the data; it runs on "
                       "one device");
    DataDependentOptions DO;
    DO.Target.Arch = A->Meta.Arch;
    DO.CacheDir = defaultCacheDir();
    auto R = DataDependentRunner::create((*G)->clone(), DO);
    if (!R)
      return R.takeError();
    Outputs = (*R)->run(Ordered);
  } else {
    EngineOptions EO;
    EO.Devices = Devs;
    if (llvm::Error Err = setPackedMode(RunPacked, EO))
      return Err;
    if (JitShapes)
      EO.JitCompiler = makeJitCompiler(defaultCacheDir());
    auto E = createEngine(std::move(*A), EO);
    if (!E)
      return E.takeError();
    auto Ctx = (*E)->createContext();
    if (!Ctx)
      return Ctx.takeError();
    Outputs = runTensors(**Ctx, Ordered);
    if (!RunDevices.empty())
      for (const DeviceState &D : (*E)->devices())
        llvm::errs() << "device " << D.Logical << " (gpu " << D.Physical
                     << "): " << deviceHealthName(D.Health) << ", " << D.Runs
                     << " runs\n";
  }
  if (!Outputs)
    return Outputs.takeError();
  if (!OutputPath.empty())
    return writeNpz(OutputPath, npzMembers(**G, *Outputs));
  for (size_t I = 0; I < Outputs->size(); ++I)
    printOutput(llvm::outs(), *(*G)->outputs()[I], (*Outputs)[I]);
  return llvm::Error::success();
}
