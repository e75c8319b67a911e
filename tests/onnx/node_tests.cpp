//===- node_tests.cpp - ONNX backend node tests on the reference executor -===//
//
// Runs onnx's backend node tests (onnx/backend/test/data/node: a model.onnx
// and test_data_set_*/{input,output}_N.pb per test) through the importer and
// the CPU reference executor, comparing outputs the way onnx's backend tests
// do (rtol 1e-3, atol 1e-7; NaN matches NaN; integers and bools exactly).
//
//   kiln-onnx-node-tests <node-data-dir> [--filter SUBSTR] [-v]
//
// A test whose import is unsupported counts as "unsupported", as do the few
// excluded below; every other problem is a failure, printed with the test
// name. The last line is `onnx node tests: N passed, M failed, K unsupported`.
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/OnnxImporter.h"
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

constexpr double RelTol = 1e-3, AbsTol = 1e-7;

/// Where `Got` differs from `Want`, or nullopt when they match.
std::optional<std::string> compare(const Tensor &Got, const Tensor &Want) {
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

enum class Outcome { Passed, Failed, Unsupported };

/// Runs one test; `Why` says what failed or was unsupported.
Outcome runTest(llvm::StringRef TestDir, std::string &Why) {
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
  for (const std::string &Set : Sets) {
    llvm::SmallString<256> SetDir(TestDir);
    llvm::sys::path::append(SetDir, Set);
    auto Inputs = readTensors(SetDir, "input");
    auto Expected = readTensors(SetDir, "output");
    if (!Inputs || !Expected) {
      Why = Set + ": " +
            llvm::toString(Inputs ? Expected.takeError() : Inputs.takeError());
      if (!Inputs)
        llvm::consumeError(Expected.takeError());
      return Outcome::Failed;
    }
    auto Got = runReference(**G, *Inputs);
    if (!Got) {
      Why = Set + ": " + llvm::toString(Got.takeError());
      return Outcome::Failed;
    }
    if (Got->size() != Expected->size()) {
      Why = Set + ": " + std::to_string(Got->size()) + " outputs, expected " +
            std::to_string(Expected->size());
      return Outcome::Failed;
    }
    for (size_t I = 0; I < Got->size(); ++I)
      if (auto Mismatch = compare((*Got)[I], (*Expected)[I])) {
        Why = Set + ": output " + std::to_string(I) + " (%" +
              (*G)->outputs()[I]->name() + "): " + *Mismatch;
        return Outcome::Failed;
      }
  }
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
    std::string Why;
    switch (runTest(TestDir, Why)) {
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
    llvm::outs().flush();
  }
  llvm::outs() << "onnx node tests: " << Passed << " passed, " << Failed
               << " failed, " << Unsupported << " unsupported\n";
  return Failed ? 1 : 0;
}
