//===- node_tests.cpp - ONNX backend node tests on the reference executor -===//
//
// Runs onnx's backend node tests (onnx/backend/test/data/node: a model.onnx
// and test_data_set_*/{input,output}_N.pb per test) through the importer and
// the CPU reference executor, comparing outputs the way onnx's backend tests
// do (rtol 1e-3, atol 1e-7; NaN matches NaN; integers and bools exactly).
//
//   kiln-onnx-node-tests <node-data-dir> [--filter SUBSTR] [-v] [--gpu]
//
// With --gpu, every test that passes on the reference executor is also
// compiled for the GPU as it is (no pass pipeline: each op's own kernel)
// and, where a GPU is present, run there and compared (rtol 1e-3, atol
// 1e-5: GPU math is float, the reference's partly double). A test that
// lowering refuses (no kernel for the op, a shape that depends on the data)
// counts as "unsupported" there, unless it compiles and passes once its
// integer inputs are bound at compile time (`kiln compile --bind`: what a
// static plan needs of shape and axes operands), which is counted apart.
// Its own line: `gpu node tests: ...`.
//
// A test whose import is unsupported counts as "unsupported", as do the few
// excluded below; every other problem is a failure, printed with the test
// name. The last line is `onnx node tests: N passed, M failed, K unsupported`.
//
//===----------------------------------------------------------------------===//

#include "codegen/Compiler.h"
#include "codegen/DataDependent.h"
#include "codegen/Nvrtc.h"
#include "frontend/onnx/OnnxImporter.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace kiln;

static llvm::cl::opt<std::string> DataDir(llvm::cl::Positional,
                                          llvm::cl::Required,
                                          llvm::cl::desc("<node-data-dir>"));
static llvm::cl::opt<std::string>
    Filter("filter", llvm::cl::desc("Run only tests whose name contains this"),
           llvm::cl::value_desc("substring"));
static llvm::cl::opt<bool>
    Verbose("v", llvm::cl::desc("Print every test's result, and why a test "
                                "is unsupported"));
static llvm::cl::opt<bool>
    Gpu("gpu", llvm::cl::desc("Also compile each passing test for the GPU "
                              "and run it there when a GPU is present"));

namespace {

/// Tests that cannot pass for reasons outside kiln, with the reason. An entry
/// also covers the test's variants (`<name>_expanded`, ...).
struct Exclusion {
  const char *Test;
  const char *Reason;
};
constexpr Exclusion Excluded[] = {
    {"test_bernoulli", "random output: the expected data cannot match"},
};

const char *exclusionReason(llvm::StringRef Test) {
  for (const Exclusion &E : Excluded)
    if (Test == E.Test || Test.starts_with(std::string(E.Test) + "_"))
      return E.Reason;
  return nullptr;
}

constexpr double RelTol = 1e-3, AbsTol = 1e-7, GpuAbsTol = 1e-5;

/// Where `Got` differs from `Want`, or nullopt when they match.
std::optional<std::string> compare(const Tensor &Got, const Tensor &Want,
                                   double AbsTol = AbsTol) {
  if (Got.dtype() != Want.dtype() || Got.sizes() != Want.sizes())
    return "got " + Got.type().str() + ", expected " + Want.type().str();
  for (int64_t I = 0; I < Want.numElements(); ++I) {
    if (isFloat(Want.dtype())) {
      double G = Got.getDouble(I), W = Want.getDouble(I);
      if (std::isnan(W)
              ? std::isnan(G)
              : G == W || std::abs(G - W) <= AbsTol + RelTol * std::abs(W))
        continue;
      return "element " + std::to_string(I) + " is " + std::to_string(G) +
             ", expected " + std::to_string(W);
    }
    if (Got.getInt(I) != Want.getInt(I))
      return "element " + std::to_string(I) + " is " +
             std::to_string(Got.getInt(I)) + ", expected " +
             std::to_string(Want.getInt(I));
  }
  return std::nullopt;
}

/// input_0.pb, input_1.pb, ... (or output_N.pb) of one data set, in order.
llvm::Expected<std::vector<Tensor>> readTensors(llvm::StringRef SetDir,
                                                llvm::StringRef Prefix) {
  std::vector<Tensor> Out;
  for (unsigned I = 0;; ++I) {
    llvm::SmallString<256> Path(SetDir);
    llvm::sys::path::append(Path, Prefix + "_" + llvm::Twine(I) + ".pb");
    if (!llvm::sys::fs::exists(Path))
      return Out;
    auto T = readTensorProtoFile(Path);
    if (!T)
      return T.takeError();
    Out.push_back(std::move(*T));
  }
}

std::vector<std::string> sortedSubdirs(llvm::StringRef Dir,
                                       llvm::StringRef Prefix,
                                       std::error_code &EC) {
  std::vector<std::string> Names;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC)) {
    llvm::StringRef Name = llvm::sys::path::filename(It->path());
    if (Name.starts_with(Prefix) && llvm::sys::fs::is_directory(It->path()))
      Names.push_back(Name.str());
  }
  std::sort(Names.begin(), Names.end());
  return Names;
}

llvm::Error withSet(const std::string &Set, llvm::Error E) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 Set + ": " + llvm::toString(std::move(E)));
}

/// One test_data_set_N: its inputs and expected outputs.
struct DataSet {
  std::string Name;
  std::vector<Tensor> Inputs, Expected;
};

llvm::Expected<DataSet> readSet(llvm::StringRef TestDir,
                                const std::string &Set) {
  llvm::SmallString<256> SetDir(TestDir);
  llvm::sys::path::append(SetDir, Set);
  auto Inputs = readTensors(SetDir, "input");
  if (!Inputs)
    return withSet(Set, Inputs.takeError());
  auto Expected = readTensors(SetDir, "output");
  if (!Expected)
    return withSet(Set, Expected.takeError());
  return DataSet{Set, std::move(*Inputs), std::move(*Expected)};
}

enum class Outcome { Passed, Failed, Unsupported };

/// The GPU side of one test: compile (and run, with a GPU) what passed on
/// the reference executor. Compiled: lowered and NVRTC-compiled, not run.
enum class GpuOutcome {
  None,
  Passed,
  PassedBound, // passed with its integer inputs bound at compile time
  Failed,
  Unsupported,
  Compiled
};

bool isLoweringRefusal(llvm::StringRef Message) {
  return Message.contains("no GPU kernel") ||
         Message.contains("unsupported on the GPU") ||
         Message.contains("no GPU lowering") ||
         Message.contains("needs static shapes") ||
         Message.contains("not bound by a bucket");
}

/// Compiles `G` for the GPU and runs it on every data set. With `Bind`,
/// the integer inputs are fixed to the first data set's values at compile
/// time.
GpuOutcome runOnGpu(const Graph &G, llvm::ArrayRef<DataSet> Sets, bool Bind,
                    std::string &Why);

/// As planned, else (when lowering refuses) with the integer inputs bound,
/// one plan per data set.
GpuOutcome runOnGpu(const Graph &G, llvm::ArrayRef<DataSet> Sets,
                    std::string &Why) {
  GpuOutcome R = runOnGpu(G, Sets, /*Bind=*/false, Why);
  if (R != GpuOutcome::Unsupported)
    return R;
  bool HasIntInput = false;
  for (const Value *In : G.inputs())
    HasIntInput |= !isFloat(In->dtype());
  if (!HasIntInput)
    return R;
  for (const DataSet &Set : Sets) {
    std::string BoundWhy;
    GpuOutcome B = runOnGpu(G, Set, /*Bind=*/true, BoundWhy);
    if (B == GpuOutcome::Compiled)
      return B;
    if (B == GpuOutcome::Failed) {
      Why = "with integer inputs bound: " + BoundWhy;
      return B;
    }
    if (B != GpuOutcome::Passed)
      return R;
  }
  return GpuOutcome::PassedBound;
}

/// Runs every data set (without the inputs bound at compile time) through
/// `Run` and compares the outputs with the expected ones.
GpuOutcome runSets(llvm::function_ref<llvm::Expected<std::vector<Tensor>>(
                       llvm::ArrayRef<Tensor>)>
                       Run,
                   llvm::ArrayRef<DataSet> Sets, const std::vector<bool> &Bound,
                   std::string &Why) {
  for (const DataSet &Set : Sets) {
    std::vector<Tensor> Inputs;
    for (size_t I = 0; I < Set.Inputs.size(); ++I)
      if (I >= Bound.size() || !Bound[I])
        Inputs.push_back(Set.Inputs[I]);
    auto Got = Run(Inputs);
    if (!Got) {
      Why = Set.Name + ": " + llvm::toString(Got.takeError());
      return isLoweringRefusal(Why) ? GpuOutcome::Unsupported
                                    : GpuOutcome::Failed;
    }
    for (size_t I = 0; I < Got->size() && I < Set.Expected.size(); ++I)
      if (auto Mismatch = compare((*Got)[I], Set.Expected[I], GpuAbsTol)) {
        Why = Set.Name + ": output " + std::to_string(I) + ": " + *Mismatch;
        return GpuOutcome::Failed;
      }
  }
  return GpuOutcome::Passed;
}

/// An artifact whose shapes depend on the data, on DataDependentRunner.
GpuOutcome runDataDependent(const Artifact &A, llvm::ArrayRef<DataSet> Sets,
                            const std::vector<bool> &Bound, std::string &Why) {
  auto G = artifactGraph(A);
  if (!G) {
    Why = llvm::toString(G.takeError());
    return GpuOutcome::Failed;
  }
  DataDependentOptions O;
  O.Target.Arch = A.Meta.Arch;
  O.CacheDir = defaultCacheDir();
  auto R = DataDependentRunner::create(std::move(*G), O);
  if (!R) {
    Why = llvm::toString(R.takeError());
    return GpuOutcome::Failed;
  }
  return runSets([&](llvm::ArrayRef<Tensor> In) { return (*R)->run(In); }, Sets,
                 Bound, Why);
}

GpuOutcome runOnGpu(const Graph &G, llvm::ArrayRef<DataSet> Sets, bool Bind,
                    std::string &Why) {
  CompileOptions O;
  O.Pipeline = {};
  O.EmitPtx = false;
  O.CacheDir = defaultCacheDir();
  // Symbolic dims are bound to the first data set's sizes.
  if (!Sets.front().Inputs.empty()) {
    const Tensor &T = Sets.front().Inputs.front();
    if (T.rank() >= 1)
      O.Batches = {std::max<int64_t>(T.dim(0), 1)};
    if (T.rank() >= 2)
      O.Seqs = {std::max<int64_t>(T.dim(1), 1)};
  }
  std::vector<bool> Bound(G.inputs().size(), false);
  if (Bind)
    for (size_t I = 0; I < G.inputs().size(); ++I)
      if (!isFloat(G.inputs()[I]->dtype()) && I < Sets.front().Inputs.size()) {
        O.BoundInputs[G.inputs()[I]->name()] = Sets.front().Inputs[I];
        Bound[I] = true;
      }
  auto A = compileGraph(G.clone(), O);
  if (!A) {
    Why = llvm::toString(A.takeError());
    return isLoweringRefusal(Why) ? GpuOutcome::Unsupported
                                  : GpuOutcome::Failed;
  }
  if (!gpuAvailable())
    return GpuOutcome::Compiled;
  if (!A->Meta.DataDependent.empty())
    return runDataDependent(*A, Sets, Bound, Why);
  auto E = createEngine(std::move(*A));
  if (!E) {
    Why = llvm::toString(E.takeError());
    return GpuOutcome::Failed;
  }
  auto Ctx = (*E)->createContext();
  if (!Ctx) {
    Why = llvm::toString(Ctx.takeError());
    return GpuOutcome::Failed;
  }
  return runSets(
      [&](llvm::ArrayRef<Tensor> In) { return runTensors(**Ctx, In); }, Sets,
      Bound, Why);
}

/// Runs one test; `Why` says what failed or was unsupported. With --gpu,
/// `GpuResult` and `GpuWhy` tell how a passing test did on the GPU.
Outcome runTest(llvm::StringRef TestDir, std::string &Why,
                GpuOutcome &GpuResult, std::string &GpuWhy) {
  llvm::SmallString<256> ModelPath(TestDir);
  llvm::sys::path::append(ModelPath, "model.onnx");
  auto G = importOnnxFile(ModelPath);
  if (!G) {
    llvm::Error E = G.takeError();
    bool Unsupported = isUnsupportedError(E);
    Why = llvm::toString(std::move(E));
    return Unsupported ? Outcome::Unsupported : Outcome::Failed;
  }
  std::error_code EC;
  std::vector<std::string> Sets = sortedSubdirs(TestDir, "test_data_set_", EC);
  if (EC || Sets.empty()) {
    Why = "no test data sets";
    return Outcome::Failed;
  }
  std::vector<DataSet> Data;
  for (const std::string &Set : Sets) {
    auto D = readSet(TestDir, Set);
    if (!D) {
      Why = llvm::toString(D.takeError());
      return Outcome::Failed;
    }
    auto Got = runReference(**G, D->Inputs);
    if (!Got) {
      Why = Set + ": " + llvm::toString(Got.takeError());
      return Outcome::Failed;
    }
    if (Got->size() != D->Expected.size()) {
      Why = Set + ": " + std::to_string(Got->size()) + " outputs, expected " +
            std::to_string(D->Expected.size());
      return Outcome::Failed;
    }
    for (size_t I = 0; I < Got->size(); ++I)
      if (auto Mismatch = compare((*Got)[I], D->Expected[I])) {
        Why = Set + ": output " + std::to_string(I) + " (%" +
              (*G)->outputs()[I]->name() + "): " + *Mismatch;
        return Outcome::Failed;
      }
    Data.push_back(std::move(*D));
  }
  if (Gpu)
    GpuResult = runOnGpu(**G, Data, GpuWhy);
  return Outcome::Passed;
}

} // namespace

int main(int Argc, char **Argv) {
  llvm::cl::ParseCommandLineOptions(
      Argc, Argv,
      "Runs the ONNX backend node tests on kiln's reference "
      "executor\n");
  std::error_code EC;
  std::vector<std::string> Tests = sortedSubdirs(DataDir, "test_", EC);
  if (EC) {
    llvm::errs() << "error: cannot list '" << DataDir << "': " << EC.message()
                 << "\n";
    return 1;
  }
  unsigned Passed = 0, Failed = 0, Unsupported = 0;
  unsigned GpuPassed = 0, GpuPassedBound = 0, GpuFailed = 0, GpuUnsupported = 0,
           GpuCompiled = 0;
  for (const std::string &Test : Tests) {
    if (!Filter.empty() && !llvm::StringRef(Test).contains(Filter))
      continue;
    if (const char *Reason = exclusionReason(Test)) {
      ++Unsupported;
      if (Verbose)
        llvm::outs() << "EXCLUDED " << Test << ": " << Reason << "\n";
      continue;
    }
    llvm::SmallString<256> TestDir(DataDir);
    llvm::sys::path::append(TestDir, Test);
    std::string Why, GpuWhy;
    GpuOutcome GpuResult = GpuOutcome::None;
    switch (runTest(TestDir, Why, GpuResult, GpuWhy)) {
    case Outcome::Passed:
      ++Passed;
      if (Verbose)
        llvm::outs() << "PASS " << Test << "\n";
      break;
    case Outcome::Failed:
      ++Failed;
      llvm::outs() << "FAIL " << Test << ": " << Why << "\n";
      break;
    case Outcome::Unsupported:
      ++Unsupported;
      if (Verbose)
        llvm::outs() << "UNSUPPORTED " << Test << ": " << Why << "\n";
      break;
    }
    switch (GpuResult) {
    case GpuOutcome::None: break;
    case GpuOutcome::Passed:
      ++GpuPassed;
      if (Verbose)
        llvm::outs() << "GPU PASS " << Test << "\n";
      break;
    case GpuOutcome::PassedBound:
      ++GpuPassedBound;
      if (Verbose)
        llvm::outs() << "GPU PASS (integer inputs bound) " << Test << "\n";
      break;
    case GpuOutcome::Compiled: ++GpuCompiled; break;
    case GpuOutcome::Failed:
      ++GpuFailed;
      llvm::outs() << "GPU FAIL " << Test << ": " << GpuWhy << "\n";
      break;
    case GpuOutcome::Unsupported:
      ++GpuUnsupported;
      if (Verbose)
        llvm::outs() << "GPU UNSUPPORTED " << Test << ": " << GpuWhy << "\n";
      break;
    }
    llvm::outs().flush();
  }
  if (Gpu)
    llvm::outs() << "gpu node tests: " << GpuPassed << " passed, "
                 << GpuPassedBound
                 << " passed with integer inputs bound at compile time, "
                 << GpuFailed << " failed, " << GpuUnsupported
                 << " unsupported, " << GpuCompiled
                 << " compiled but not run (no GPU)\n";
  llvm::outs() << "onnx node tests: " << Passed << " passed, " << Failed
               << " failed, " << Unsupported << " unsupported\n";
  return Failed || GpuFailed ? 1 : 0;
}
