//===- kiln.cpp - the kiln command-line tool ------------------------------===//
//
//   kiln run [--device cpu] MODEL [--input NAME=FILE.npy ...] [-o OUT.npz]
//            [--random-inputs [--seed N] [--dim SYMBOL=N ...] [--int-range N]]
//   kiln inspect [--json] MODEL
//
// MODEL is an .onnx file or kiln's text form (`-` reads standard input).
// `run` executes the graph on the CPU reference executor; `inspect` lists
// the inputs, outputs, ops and parameter count. Errors print `error: ...`
// to stderr and exit 1.
//
//===----------------------------------------------------------------------===//
#include "common/ModelLoader.h"
#include "common/Npy.h"
#include "ir/Error.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <map>
#include <random>

using namespace kiln;
namespace cl = llvm::cl;

static cl::SubCommand RunCmd("run",
                             "Run a model on the CPU reference executor");
static cl::SubCommand
    InspectCmd("inspect", "Print a model's inputs, outputs, op histogram and "
                          "parameter count");

static cl::opt<std::string> RunModel(cl::Positional, cl::Required,
                                     cl::desc("<model .onnx|.kir|->"),
                                     cl::sub(RunCmd));
static cl::opt<std::string>
    Device("device", cl::init("cpu"),
           cl::desc("Where to run: cpu (the reference executor)"),
           cl::value_desc("device"), cl::sub(RunCmd));
static cl::list<std::string>
    InputSpecs("input",
               cl::desc("A graph input from an .npy file (repeatable)"),
               cl::value_desc("name=file.npy"), cl::sub(RunCmd));
static cl::alias InputSpecsShort("i", cl::desc("Alias for --input"),
                                 cl::aliasopt(InputSpecs));
static cl::opt<std::string>
    OutputPath("o",
               cl::desc("Write the outputs to an .npz file, one array per "
                        "graph output, named like the output"),
               cl::value_desc("file.npz"), cl::sub(RunCmd));
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
                                         cl::desc("<model .onnx|.kir|->"),
                                         cl::sub(InspectCmd));
static cl::opt<bool> Json("json", cl::desc("Print JSON"), cl::sub(InspectCmd));

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

static llvm::Error runCommand() {
  if (Device == "gpu")
    return makeError("the GPU backend is not built yet; use --device cpu");
  if (Device != "cpu")
    return makeError("unknown device '" + Device + "' (expected cpu)");
  llvm::Expected<std::unique_ptr<Graph>> G = loadModel(RunModel);
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
  llvm::Expected<std::vector<Tensor>> Outputs = runReference(**G, *Inputs);
  if (!Outputs)
    return Outputs.takeError();
  if (!OutputPath.empty())
    return writeNpz(OutputPath, npzMembers(**G, *Outputs));
  for (size_t I = 0; I < Outputs->size(); ++I)
    printOutput(llvm::outs(), *(*G)->outputs()[I], (*Outputs)[I]);
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

static void printJson(const Graph &G, const Summary &S) {
  llvm::json::Array Inputs, Outputs;
  for (const Value *V : G.inputs())
    Inputs.push_back(valueToJson(*V));
  for (const Value *V : G.outputs())
    Outputs.push_back(valueToJson(*V));
  llvm::json::Object Ops;
  for (const auto &[Op, Count] : S.Ops)
    Ops[Op] = Count;
  llvm::json::Value Root = llvm::json::Object{{"inputs", std::move(Inputs)},
                                              {"outputs", std::move(Outputs)},
                                              {"ops", std::move(Ops)},
                                              {"parameters", S.Parameters}};
  llvm::outs() << llvm::formatv("{0:2}", Root) << "\n";
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

static llvm::Error inspectCommand() {
  llvm::Expected<std::unique_ptr<Graph>> G = loadModel(InspectModel);
  if (!G)
    return G.takeError();
  Summary S = summarize(**G);
  if (Json)
    printJson(**G, S);
  else
    printText(**G, S);
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "kiln: run and inspect neural-network models\n\n"
      "  kiln run MODEL --input NAME=FILE.npy ... [-o OUT.npz]\n"
      "  kiln inspect [--json] MODEL\n\n"
      "MODEL is an .onnx file or kiln's text form (- for stdin). "
      "See 'kiln run --help' and 'kiln inspect --help'.\n");
  auto Dispatch = []() -> llvm::Error {
    if (RunCmd)
      return runCommand();
    if (InspectCmd)
      return inspectCommand();
    return makeError("no command given: use 'kiln run' or 'kiln inspect' "
                     "(see kiln --help)");
  };
  if (llvm::Error E = Dispatch())
    return fail(std::move(E));
  return 0;
}
