//===- Bench.cpp - kiln bench: time an artifact on the GPU ----------------===//
//
// Times every requested bucket (GPU time per replay, host latency of whole
// requests, optionally each step), runs the peers' command for the same
// shapes, and prints one table of both.
//
//===----------------------------------------------------------------------===//
#include "BenchDevices.h"
#include "Kiln.h"

#include "common/ModelFlops.h"
#include "common/RandomInputs.h"
#include "common/RandomLengths.h"
#include "ir/Error.h"
#include "runtime/Bucketing.h"
#include "runtime/EngineInternal.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string> BenchModel(cl::Positional, cl::Required,
                                       cl::desc("<model.kiln>"),
                                       cl::sub(benchSubcommand()));
static cl::opt<std::string>
    BenchShapes("shapes", cl::init(""),
                cl::desc("batch x seq shapes to time (default: every "
                         "bucket)"),
                cl::value_desc("1x128,32x128"), cl::sub(benchSubcommand()));
static cl::opt<unsigned> BenchIters("iters", cl::init(50),
                                    cl::desc("Timed runs per shape"),
                                    cl::sub(benchSubcommand()));
static cl::opt<unsigned> BenchWarmup("warmup", cl::init(5),
                                     cl::desc("Untimed runs first"),
                                     cl::sub(benchSubcommand()));
static cl::opt<std::string> BenchJson("json", cl::init(""),
                                      cl::desc("Write the records as JSON"),
                                      cl::value_desc("file.json"),
                                      cl::sub(benchSubcommand()));
static cl::opt<bool> BenchProfile(
    "profile",
    cl::desc("Also time every step of each shape (without CUDA graphs) and "
             "print the time per kernel family"),
    cl::sub(benchSubcommand()));
static cl::opt<std::string> BenchPeers(
    "peers", cl::init(""),
    cl::desc("A command timing the peers; it is run with --shapes S "
             "--precision P --json FILE appended and must write records of "
             "the same form"),
    cl::value_desc("command"), cl::sub(benchSubcommand()));

static cl::opt<unsigned>
    BenchBatch("batch", cl::init(0),
               cl::desc("With --lengths: the rows of the batch to time"),
               cl::sub(benchSubcommand()));
static cl::opt<std::string> BenchLengths(
    "lengths", cl::init(""),
    cl::desc("Time one batch of --batch rows whose real lengths are drawn "
             "uniformly from MIN..MAX (padded to the smallest seq bucket "
             "that holds the longest, as a caller sends them)"),
    cl::value_desc("MIN:MAX"), cl::sub(benchSubcommand()));
static cl::opt<uint64_t> BenchSeed("seed", cl::init(0),
                                   cl::desc("With --lengths: the draw's seed"),
                                   cl::sub(benchSubcommand()));
static cl::opt<std::string> BenchLengthsOut(
    "lengths-out", cl::init(""),
    cl::desc("With --lengths: write the drawn lengths as JSON (the file "
             "scripts/bench/peers.py --lengths-file reads)"),
    cl::value_desc("file.json"), cl::sub(benchSubcommand()));

static cl::opt<std::string> BenchPacked(
    "packed", cl::init("auto"),
    cl::desc("With --lengths and packed-token buckets in the artifact: 'auto' "
             "times the bucket the runtime picks and, when it is packed, the "
             "padded bucket too (as kiln-padded); 'on' the same, packed "
             "whenever a token bucket holds the rows, whatever the plans "
             "predict; 'off' times the padded bucket alone and runs requests "
             "padded"),
    cl::sub(benchSubcommand()));

static cl::opt<bool> BenchProgrammatic(
    "programmatic-launch", cl::init(true),
    cl::desc("Launch kernels with programmatic dependent launch where the "
             "GPU and the artifact allow it (default true; "
             "--programmatic-launch=false for plain launches)"),
    cl::sub(benchSubcommand()));

struct BenchRecord {
  std::string Impl;
  int64_t Batch = 0, Seq = 0;
  double GpuMs = 0, HostP50 = 0, HostP95 = 0, SeqPerS = 0, Tflops = 0,
         PeakMb = 0, CompileS = 0;
  std::string Lengths; // "MIN:MAX seed S" for a mixed-length batch
};

static double percentile(std::vector<double> V, double P) {
  std::sort(V.begin(), V.end());
  if (V.empty())
    return 0;
  size_t I = size_t(P * double(V.size() - 1) + 0.5);
  return V[std::min(I, V.size() - 1)];
}

static llvm::json::Value recordJson(const BenchRecord &R) {
  llvm::json::Object O{{"impl", R.Impl},
                       {"batch", R.Batch},
                       {"seq", R.Seq},
                       {"gpu_ms_median", R.GpuMs},
                       {"host_ms_p50", R.HostP50},
                       {"host_ms_p95", R.HostP95},
                       {"seq_per_s", R.SeqPerS},
                       {"tflops", R.Tflops},
                       {"peak_mem_mb", R.PeakMb},
                       {"compile_s", R.CompileS}};
  if (!R.Lengths.empty())
    O["lengths"] = R.Lengths;
  return O;
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
    if (auto L = O->getString("lengths"))
      R.Lengths = L->str();
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
      if (K.Impl == "kiln" && K.Batch == R.Batch &&
          (K.Lengths.empty() ? K.Seq == R.Seq : K.Lengths == R.Lengths))
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

llvm::Error kiln::benchCommand() {
  if (benchDevicesRequested()) {
    if (!BenchLengths.empty())
      return makeError("--lengths times one engine; it does not combine with "
                       "the device-group options");
    return benchDevicesCommand(BenchModel, BenchShapes, BenchJson);
  }
  // Mixed lengths: checked, drawn and written before the model is read.
  std::vector<int64_t> Lengths;
  LengthRange Range;
  std::string LengthsTag;
  if (!BenchLengths.empty()) {
    if (!BenchShapes.empty())
      return makeError("--lengths times one batch of --batch rows; it does "
                       "not combine with --shapes");
    if (BenchBatch == 0)
      return makeError("--lengths needs --batch N (the rows to draw)");
    auto R = parseLengthRange(BenchLengths);
    if (!R)
      return R.takeError();
    Range = *R;
    Lengths = randomLengths(BenchBatch, Range, BenchSeed);
    LengthsTag = std::string(BenchLengths) + " seed " +
                 std::to_string(uint64_t(BenchSeed));
    if (!BenchLengthsOut.empty()) {
      std::error_code EC;
      llvm::raw_fd_ostream OS(BenchLengthsOut, EC);
      if (EC)
        return makeError("writing " + BenchLengthsOut + ": " + EC.message());
      OS << lengthsJson(Lengths, Range, BenchSeed);
    }
  } else if (BenchBatch != 0 || !BenchLengthsOut.empty() ||
             BenchSeed.getNumOccurrences()) {
    return makeError("--batch, --seed and --lengths-out go with --lengths "
                     "MIN:MAX (for fixed shapes use --shapes)");
  }

  auto A = readArtifact(BenchModel);
  if (!A)
    return A.takeError();
  auto G = artifactGraph(*A);
  if (!G)
    return G.takeError();
  std::vector<std::pair<int64_t, int64_t>> Shapes;
  if (!Lengths.empty()) {
    // The smallest seq bucket of this batch that holds the longest row.
    int64_t Longest = *std::max_element(Lengths.begin(), Lengths.end());
    int64_t Seq = 0;
    for (const BucketPlan &B : A->Plan.Buckets)
      if (B.Batch == int64_t(BenchBatch) && B.Seq >= Longest &&
          (Seq == 0 || B.Seq < Seq))
        Seq = B.Seq;
    if (Seq == 0)
      return makeError("no bucket of " + BenchModel + " has batch " +
                       llvm::Twine(unsigned(BenchBatch)) +
                       " and seq >= " + llvm::Twine(Longest) +
                       " (compile with --batch and --seq including them)");
    Shapes.push_back({int64_t(BenchBatch), Seq});
  } else if (BenchShapes.empty()) {
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
  EngineOptions EOpts;
  if (llvm::Error Err = setPackedMode(BenchPacked, EOpts))
    return Err;
  EOpts.ProgrammaticLaunch = BenchProgrammatic;
  auto E = createEngine(std::move(*A), EOpts);
  if (!E)
    return E.takeError();
  auto Ctx = (*E)->createContext();
  if (!Ctx)
    return Ctx.takeError();
  if (Autotune)
    if (llvm::Error Err = (*Ctx)->autotuneGemms())
      return withContext(std::move(Err), "--autotune");
  EngineMemory Mem = (*E)->memory();
  const std::vector<ModelBucket> &BucketShapes = (*E)->model().Buckets;
  const std::vector<BucketPlan> &Buckets = enginePlan(**E).Buckets;

  std::vector<BenchRecord> Records;
  std::mt19937_64 Rng(0);
  for (auto [Batch, Seq] : Shapes) {
    size_t Bucket = SIZE_MAX;
    for (size_t I = 0; I < BucketShapes.size(); ++I)
      if (BucketShapes[I].Batch == Batch && BucketShapes[I].Seq == Seq)
        Bucket = I;
    if (Bucket == SIZE_MAX)
      return makeError("shape " + llvm::Twine(Batch) + "x" + llvm::Twine(Seq) +
                       " is no bucket of " + BenchModel +
                       " (compile with --batch and --seq including it)");
    // A bucket binds the model's inputs in their order.
    const std::vector<IoSpec> &Specs = engineMetadata(**E).Inputs;
    std::vector<HostTensor> Inputs;
    for (size_t I = 0; I < Buckets[Bucket].Inputs.size(); ++I) {
      Tensor T = benchmarkInput(Buckets[Bucket].Inputs[I], Specs[I].Role, Rng,
                                engineMetadata(**E).IndexChecks);
      if (!Lengths.empty())
        if (llvm::Error Err = padToLengths(T, Lengths))
          return withContext(std::move(Err),
                             "--lengths: input '" +
                                 Buckets[Bucket].Inputs[I].Name + "'");
      Inputs.push_back(toHostTensor(T));
    }
    // What the runtime runs for these rows: with --lengths, a packed-token
    // bucket when the plans predict it faster (with --packed on, whenever
    // one holds the rows); then the padded one too.
    std::vector<std::pair<size_t, std::string>> Timed = {{Bucket, "kiln"}};
    int64_t Real = 0;
    for (int64_t L : Lengths)
      Real += L;
    if (!Lengths.empty() && EOpts.PackTokens) {
      const std::vector<double> &Predicted = enginePredictedMs(**E);
      size_t Packed = choosePackedBucket(Buckets, Predicted, Bucket, Real,
                                         EOpts.PackTokensAlways);
      if (Packed != Bucket) {
        llvm::outs() << "lengths: " << Real << " real tokens run packed in "
                     << "the bucket of " << Buckets[Packed].Tokens
                     << " tokens (predicted "
                     << llvm::format("%.3f", Predicted[Packed])
                     << " ms against "
                     << llvm::format("%.3f", Predicted[Bucket])
                     << " ms padded)\n";
        Timed = {{Packed, "kiln"}, {Bucket, "kiln-padded"}};
      }
    }
    for (auto [Bucket, Impl] : Timed) {
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
      for (unsigned I = 0; Impl == "kiln" && I < BenchWarmup + BenchIters;
           ++I) {
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
      R.Impl = Impl;
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
      R.Lengths = LengthsTag;
      if (!Lengths.empty() && Impl == "kiln") {
        llvm::outs() << "lengths " << LengthsTag << ": " << Batch << " rows, "
                     << Real << " real tokens of " << Batch * Seq
                     << " padded to " << Batch << "x" << Seq << " ("
                     << llvm::format("%.1f",
                                     100.0 * double(Real) / double(Batch * Seq))
                     << "%)\n";
      }
      Records.push_back(R);
    }
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
    llvm::SmallString<128> LengthsFile;
    std::string What = " --shapes " + ShapeList;
    if (!Lengths.empty()) {
      // The peers run the same rows: the lengths go to them as a file.
      if (std::error_code EC = llvm::sys::fs::createTemporaryFile(
              "kiln-lengths", "json", LengthsFile))
        return makeError("creating a temporary file: " + EC.message());
      std::error_code EC;
      llvm::raw_fd_ostream OS(LengthsFile, EC);
      if (EC)
        return makeError("writing " + LengthsFile + ": " + EC.message());
      OS << lengthsJson(Lengths, Range, BenchSeed);
      What = " --lengths-file " + LengthsFile.str().str();
    }
    std::string Cmd = BenchPeers + What + " --precision " +
                      (Precision == "f16" ? "fp16" : Precision) + " --json " +
                      Tmp.str().str();
    llvm::errs() << "running peers: " << Cmd << "\n";
    std::string ErrMsg;
    int Rc = llvm::sys::ExecuteAndWait("/bin/sh", {"/bin/sh", "-c", Cmd},
                                       std::nullopt, {}, 0, 0, &ErrMsg);
    if (Rc != 0) {
      llvm::sys::fs::remove(Tmp);
      if (!LengthsFile.empty())
        llvm::sys::fs::remove(LengthsFile);
      return makeError("the peers' command failed (exit " + llvm::Twine(Rc) +
                       (ErrMsg.empty() ? "" : ": " + ErrMsg) + "): " + Cmd);
    }
    auto Peers = readPeerRecords(Tmp);
    llvm::sys::fs::remove(Tmp);
    if (!LengthsFile.empty())
      llvm::sys::fs::remove(LengthsFile);
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
