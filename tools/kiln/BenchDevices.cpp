//===- BenchDevices.cpp - kiln bench --devices: a load over several GPUs --===//
//
// T threads, each with its own context of one multi-device engine, send
// requests of one shape for a duration or a count. Every request has an id;
// each answer (or error) is counted against it, so a request lost or
// answered twice shows. Answers are checked against one device's. With
// --inject-fault a device fails mid-run (docs/multi-gpu.md), and the
// report says what that cost: retries, throughput before and after, and
// how long until the survivors served at full speed.
//
//===----------------------------------------------------------------------===//
#include "BenchDevices.h"
#include "Kiln.h"

#include "common/RandomInputs.h"
#include "ir/Error.h"
#include "runtime/Bucketing.h"
#include "runtime/DeviceGroup.h"
#include "runtime/EngineInternal.h"
#include "runtime/FaultInjection.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string>
    Devices("devices", cl::init(""),
            cl::desc("Run a load on a multi-device engine over these CUDA "
                     "devices (0,0: two logical devices on one card)"),
            cl::value_desc("0,1"), cl::sub(benchSubcommand()));
static cl::opt<std::string>
    Mode("mode", cl::init(""),
         cl::desc("With --devices: replicate or pipeline (default: the "
                  "artifact's partition, else replicate)"),
         cl::value_desc("replicate|pipeline"), cl::sub(benchSubcommand()));
static cl::opt<unsigned> Threads("threads", cl::init(8),
                                 cl::desc("With --devices: client threads"),
                                 cl::sub(benchSubcommand()));
static cl::opt<double>
    Duration("duration", cl::init(0),
             cl::desc("With --devices: seconds of load (default 5 unless "
                      "--requests)"),
             cl::value_desc("S"), cl::sub(benchSubcommand()));
static cl::opt<uint64_t>
    Requests("requests", cl::init(0),
             cl::desc("With --devices: requests in all, instead of a "
                      "duration"),
             cl::value_desc("N"), cl::sub(benchSubcommand()));
static cl::opt<std::string> InjectFault(
    "inject-fault", cl::init(""),
    cl::desc("With --devices: logical device D fails from its K-th launch "
             "on (lost; or recoverable for N launches)"),
    cl::value_desc("D:after:K[:recoverable[:N]]"), cl::sub(benchSubcommand()));
static cl::opt<unsigned> ContextsPerDevice(
    "contexts-per-device", cl::init(0),
    cl::desc("With --devices: concurrent requests per device (default: "
             "threads / devices, rounded up)"),
    cl::sub(benchSubcommand()));

llvm::Expected<std::vector<int>> kiln::parseDeviceList(llvm::StringRef Spec,
                                                       llvm::StringRef Flag) {
  std::vector<int> Out;
  llvm::SmallVector<llvm::StringRef> Parts;
  Spec.split(Parts, ',');
  for (llvm::StringRef P : Parts) {
    int D;
    if (P.trim().getAsInteger(10, D) || D < 0)
      return makeError("--" + Flag + " " + Spec + ": '" + P +
                       "' is not a device number (expected a list like 0,1)");
    Out.push_back(D);
  }
  if (Out.empty())
    return makeError("--" + Flag + " needs at least one device");
  return Out;
}

bool kiln::benchDevicesRequested() {
  return !Devices.empty() || !Mode.empty() || !InjectFault.empty() ||
         Requests.getNumOccurrences() || Duration.getNumOccurrences() ||
         Threads.getNumOccurrences() || ContextsPerDevice.getNumOccurrences();
}

namespace {

struct Settings {
  std::vector<int> Devs;
  PartitionMode M = PartitionMode::FromArtifact;
  std::vector<FaultInjection> Faults;
  double Seconds = 0;
  uint64_t Count = 0;
};

/// Every option checked before the artifact is read.
llvm::Expected<Settings> checkOptions() {
  Settings S;
  if (Devices.empty())
    return makeError("--mode, --threads, --duration, --requests, "
                     "--inject-fault and --contexts-per-device go with "
                     "--devices");
  auto D = parseDeviceList(Devices, "devices");
  if (!D)
    return D.takeError();
  S.Devs = *D;
  if (Mode == "replicate")
    S.M = PartitionMode::Replicate;
  else if (Mode == "pipeline")
    S.M = PartitionMode::Pipeline;
  else if (!Mode.empty())
    return makeError("--mode '" + Mode + "': expected replicate or pipeline");
  if (Threads == 0)
    return makeError("--threads must be at least 1");
  if (Duration.getNumOccurrences() && Requests.getNumOccurrences())
    return makeError("give --duration or --requests, not both");
  if (Duration.getNumOccurrences() && !(Duration > 0))
    return makeError("--duration must be positive");
  if (Requests.getNumOccurrences() && Requests == 0)
    return makeError("--requests must be at least 1");
  S.Count = Requests;
  S.Seconds = S.Count ? 0 : (Duration > 0 ? double(Duration) : 5.0);
  if (!InjectFault.empty()) {
    auto F = parseFaultInjections(InjectFault, /*Prefixed=*/false);
    if (!F)
      return withContext(F.takeError(), "--inject-fault");
    for (const FaultInjection &X : *F)
      if (size_t(X.Device) >= S.Devs.size())
        return makeError("--inject-fault: logical device " +
                         llvm::Twine(X.Device) + " is not one of the " +
                         llvm::Twine(S.Devs.size()) + " given by --devices");
    S.Faults = *F;
  }
  return S;
}

double percentile(std::vector<double> V, double P) {
  if (V.empty())
    return 0;
  std::sort(V.begin(), V.end());
  return V[std::min(V.size() - 1, size_t(P * double(V.size() - 1) + 0.5))];
}

/// Equal within what a different kernel schedule may change (a pipeline's
/// stages are compiled apart from the whole model).
bool close(const std::vector<HostTensor> &A, const std::vector<HostTensor> &B,
           bool Exact) {
  if (A.size() != B.size())
    return false;
  for (size_t I = 0; I < A.size(); ++I) {
    if (A[I].Dims != B[I].Dims || A[I].Type != B[I].Type)
      return false;
    if (A[I].Bytes == B[I].Bytes)
      continue;
    if (Exact)
      return false;
    Tensor X = toTensor(A[I]), Y = toTensor(B[I]);
    for (int64_t E = 0; E < X.numElements(); ++E)
      if (std::fabs(X.getDouble(E) - Y.getDouble(E)) >
          1e-2 + 1e-2 * std::fabs(Y.getDouble(E)))
        return false;
  }
  return true;
}

struct Done {
  uint64_t Id;
  double EndS, LatencyMs, CopyMs;
  unsigned Attempts;
  bool Ok, Right;
};

} // namespace

llvm::Error kiln::benchDevicesCommand(llvm::StringRef Model,
                                      llvm::StringRef Shapes,
                                      llvm::StringRef JsonPath) {
  auto S = checkOptions();
  if (!S)
    return S.takeError();
  auto A = readArtifact(Model);
  if (!A)
    return A.takeError();

  // The request shape: the first of --shapes, else the largest bucket.
  const BucketPlan *Bucket = &A->Plan.Buckets.front();
  for (const BucketPlan &B : paddedBuckets(A->Plan.Buckets))
    if (B.Batch * std::max<int64_t>(B.Seq, 1) >
        Bucket->Batch * std::max<int64_t>(Bucket->Seq, 1))
      Bucket = &B;
  if (!Shapes.empty()) {
    auto [First, Rest] = Shapes.split(',');
    auto [BText, SText] = First.split('x');
    int64_t Bt, Sq;
    if (BText.getAsInteger(10, Bt) || SText.getAsInteger(10, Sq))
      return makeError("--shapes: '" + First + "' is not BATCHxSEQ");
    Bucket = nullptr;
    for (const BucketPlan &B : paddedBuckets(A->Plan.Buckets))
      if (B.Batch == Bt && B.Seq == Sq)
        Bucket = &B;
    if (!Bucket)
      return makeError("shape " + First + " is no bucket of " + Model);
  }
  int64_t Batch = std::max<int64_t>(Bucket->Batch, 1);
  std::string Shape =
      std::to_string(Bucket->Batch) + "x" + std::to_string(Bucket->Seq);

  // A pool of requests and one device's answers to them.
  std::mt19937_64 Rng(0);
  std::vector<std::vector<HostTensor>> Pool, Want;
  {
    EngineOptions One;
    One.Device = S->Devs[0];
    auto E = createEngine(*A, One);
    if (!E)
      return withContext(E.takeError(), "the single-device reference");
    auto Ctx = (*E)->createContext();
    if (!Ctx)
      return Ctx.takeError();
    for (int I = 0; I < 8; ++I) {
      std::vector<HostTensor> In;
      for (size_t J = 0; J < Bucket->Inputs.size(); ++J) {
        In.push_back(toHostTensor(benchmarkInput(Bucket->Inputs[J],
                                                 A->Meta.Inputs[J].Role, Rng,
                                                 A->Meta.IndexChecks)));
      }
      auto Out = (*Ctx)->run(In);
      if (!Out)
        return Out.takeError();
      Pool.push_back(std::move(In));
      Want.push_back(std::move(*Out));
    }
  }

  EngineOptions O;
  O.Devices = S->Devs;
  O.Partition = S->M;
  O.Faults = S->Faults;
  O.ContextsPerDevice =
      ContextsPerDevice
          ? unsigned(ContextsPerDevice)
          : unsigned((Threads + S->Devs.size() - 1) / S->Devs.size());
  auto E = createEngine(std::move(*A), O);
  if (!E)
    return E.takeError();
  // The faults the engine runs with (--inject-fault, else the environment).
  bool Faulted = !S->Faults.empty() || std::getenv("KILN_FAULT_INJECT");
  auto Start = (*E)->devices();
  bool Pipeline = enginePartitionMode(**E) == PartitionMode::Pipeline;

  // The load.
  using Clock = std::chrono::steady_clock;
  auto T0 = Clock::now();
  auto Since = [&](Clock::time_point T) {
    return std::chrono::duration<double>(T - T0).count();
  };
  std::atomic<uint64_t> Next{0};
  std::atomic<bool> Stop{false};
  std::atomic<double> FaultAt{-1};
  std::mutex DoneMutex;
  std::vector<Done> All;
  std::string FirstError;
  std::thread Monitor([&] {
    while (!Stop) {
      for (const DeviceState &D : (*E)->devices())
        if (D.Health != DeviceHealth::Up && FaultAt < 0)
          FaultAt = Since(Clock::now());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> Workers;
  llvm::Error SetupError = llvm::Error::success();
  for (unsigned T = 0; T < Threads; ++T)
    Workers.emplace_back([&] {
      auto Ctx = (*E)->createContext();
      if (!Ctx) {
        std::lock_guard<std::mutex> Lock(DoneMutex);
        SetupError = joinErrors(std::move(SetupError), Ctx.takeError());
        return;
      }
      std::vector<Done> Mine;
      while (true) {
        if (S->Seconds > 0 && Since(Clock::now()) >= S->Seconds)
          break;
        uint64_t Id = Next++;
        if (S->Count && Id >= S->Count)
          break;
        size_t Which = size_t(Id % Pool.size());
        auto Begin = Clock::now();
        auto Out = (*Ctx)->run(Pool[Which]);
        auto End = Clock::now();
        DeviceGroup::RunInfo Info = lastRunInfo(**Ctx);
        Done D{Id,
               Since(End),
               std::chrono::duration<double, std::milli>(End - Begin).count(),
               Info.CopySeconds * 1000,
               Info.Attempts,
               bool(Out),
               false};
        if (Out) {
          D.Right = close(*Out, Want[Which], /*Exact=*/!Pipeline);
        } else {
          std::lock_guard<std::mutex> Lock(DoneMutex);
          std::string Msg = llvm::toString(Out.takeError());
          if (FirstError.empty())
            FirstError = Msg;
        }
        Mine.push_back(D);
      }
      std::lock_guard<std::mutex> Lock(DoneMutex);
      All.insert(All.end(), Mine.begin(), Mine.end());
    });
  for (std::thread &W : Workers)
    W.join();
  double Wall = Since(Clock::now());
  Stop = true;
  Monitor.join();
  if (SetupError)
    return SetupError;
  auto End = (*E)->devices();

  // Every submitted id answered exactly once: a thread that takes an id
  // always runs it (a duration run checks the time before taking one).
  uint64_t Submitted =
      S->Count ? std::min<uint64_t>(Next.load(), S->Count) : Next.load();
  std::vector<unsigned> Answers(size_t(Submitted), 0);
  uint64_t Ok = 0, Failed = 0, Wrong = 0, Retried = 0, Unknown = 0;
  std::vector<double> Lat, Copy;
  for (const Done &D : All) {
    if (D.Id < Answers.size())
      ++Answers[D.Id];
    else
      ++Unknown;
    Ok += D.Ok;
    Failed += !D.Ok;
    Wrong += D.Ok && !D.Right;
    Retried += D.Attempts > 1;
    if (D.Ok) {
      Lat.push_back(D.LatencyMs);
      Copy.push_back(D.CopyMs);
    }
  }
  uint64_t Lost = 0, Twice = Unknown;
  for (uint64_t Id = 0; Id < Submitted; ++Id) {
    Twice += Answers[Id] > 1;
    Lost += Answers[Id] == 0;
  }

  double Seqs = double(Ok) * double(Batch);
  double MeanCopy = 0;
  for (double C : Copy)
    MeanCopy += C / double(Copy.size());

  // Throughput around the fault, and how long the survivors took to reach
  // 90% of their steady rate (50 ms windows).
  double Fault = FaultAt, Before = 0, After = 0, ToFull = -1;
  if (Fault >= 0) {
    double SeqBefore = 0, SeqAfter = 0;
    for (const Done &D : All)
      if (D.Ok)
        (D.EndS < Fault ? SeqBefore : SeqAfter) += double(Batch);
    Before = Fault > 0 ? SeqBefore / Fault : 0;
    After = Wall > Fault ? SeqAfter / (Wall - Fault) : 0;
    const double W = 0.05;
    size_t NW = size_t((Wall - Fault) / W);
    if (NW >= 2) {
      std::vector<double> Rate(NW, 0);
      for (const Done &D : All)
        if (D.Ok && D.EndS >= Fault) {
          size_t I = size_t((D.EndS - Fault) / W);
          if (I < NW)
            Rate[I] += double(Batch) / W;
        }
      double Steady = percentile(Rate, 0.5);
      for (size_t I = 0; I < NW; ++I)
        if (Rate[I] >= 0.9 * Steady) {
          ToFull = double(I + 1) * W;
          break;
        }
    }
  }

  llvm::raw_ostream &OS = llvm::outs();
  OS << "kiln bench --devices " << Devices << ": "
     << (Pipeline ? "pipeline" : "replicate") << ", " << S->Devs.size()
     << " logical devices, " << Threads << " threads, " << O.ContextsPerDevice
     << " contexts per device, requests " << Shape << "\n";
  for (const DeviceState &D : End)
    if (!D.Links.empty())
      OS << "  device " << D.Logical << " reaches " << D.Links << "\n";
  OS << llvm::format("requests: %llu submitted, %llu answered, %llu failed, "
                     "%llu lost, %llu answered twice, %llu wrong, %llu "
                     "retried\n",
                     (unsigned long long)Submitted, (unsigned long long)Ok,
                     (unsigned long long)Failed, (unsigned long long)Lost,
                     (unsigned long long)Twice, (unsigned long long)Wrong,
                     (unsigned long long)Retried);
  OS << llvm::format("throughput: %.1f seq/s (%.1f requests/s) over %.2f s\n",
                     Seqs / Wall, double(Ok) / Wall, Wall);
  OS << llvm::format("latency ms: p50 %.3f  p95 %.3f  p99 %.3f\n",
                     percentile(Lat, 0.5), percentile(Lat, 0.95),
                     percentile(Lat, 0.99));
  OS << llvm::format("copy between devices per request: %.3f ms\n", MeanCopy);
  llvm::json::Array DevJson;
  for (size_t I = 0; I < End.size(); ++I) {
    const DeviceState &D = End[I];
    double Busy = (D.BusySeconds - Start[I].BusySeconds) / Wall;
    OS << llvm::format("device %d (gpu %d): %-4s busy %5.1f%%  runs %llu  "
                       "failures %llu  probes %llu",
                       D.Logical, D.Physical, deviceHealthName(D.Health),
                       100 * Busy, (unsigned long long)D.Runs,
                       (unsigned long long)D.Failures,
                       (unsigned long long)D.Probes);
    if (!D.LastError.empty())
      OS << "  last error: " << D.LastError;
    OS << "\n";
    DevJson.push_back(llvm::json::Object{{"logical", D.Logical},
                                         {"physical", D.Physical},
                                         {"health", deviceHealthName(D.Health)},
                                         {"busy_share", Busy},
                                         {"runs", int64_t(D.Runs)},
                                         {"failures", int64_t(D.Failures)},
                                         {"probes", int64_t(D.Probes)},
                                         {"links", D.Links},
                                         {"last_error", D.LastError}});
  }
  if (Fault >= 0)
    OS << llvm::format(
        "fault at %.3f s: throughput before %.1f seq/s, after "
        "%.1f seq/s; full speed (90%% of the survivors' "
        "median) %s\n",
        Fault, Before, After,
        ToFull < 0
            ? "not measured (run too short)"
            : llvm::formatv("{0:F3} s after the fault", ToFull).str().c_str());
  else if (Faulted)
    OS << "no device failed during the run (the fault's launch was not "
          "reached)\n";
  if (!FirstError.empty())
    OS << "first error: " << FirstError << "\n";

  if (!JsonPath.empty()) {
    llvm::json::Object J{{"impl", "kiln"},
                         {"devices", Devices.getValue()},
                         {"mode", Pipeline ? "pipeline" : "replicate"},
                         {"threads", int64_t(Threads)},
                         {"contexts_per_device", int64_t(O.ContextsPerDevice)},
                         {"shape", Shape},
                         {"submitted", int64_t(Submitted)},
                         {"answered", int64_t(Ok)},
                         {"failed", int64_t(Failed)},
                         {"lost", int64_t(Lost)},
                         {"answered_twice", int64_t(Twice)},
                         {"wrong", int64_t(Wrong)},
                         {"retried", int64_t(Retried)},
                         {"seconds", Wall},
                         {"seq_per_s", Seqs / Wall},
                         {"latency_ms_p50", percentile(Lat, 0.5)},
                         {"latency_ms_p95", percentile(Lat, 0.95)},
                         {"latency_ms_p99", percentile(Lat, 0.99)},
                         {"copy_ms_per_request", MeanCopy},
                         {"device_states", std::move(DevJson)}};
    if (Fault >= 0) {
      J["fault_at_s"] = Fault;
      J["seq_per_s_before_fault"] = Before;
      J["seq_per_s_after_fault"] = After;
      J["seconds_to_full_speed"] = ToFull;
    }
    std::error_code EC;
    llvm::raw_fd_ostream F(JsonPath, EC);
    if (EC)
      return makeError("writing " + JsonPath + ": " + EC.message());
    F << llvm::formatv("{0:2}", llvm::json::Value(std::move(J))) << "\n";
  }
  if (Lost || Twice || Wrong || Failed)
    return makeError(llvm::Twine(Lost) + " requests lost, " +
                     llvm::Twine(Twice) + " answered twice, " +
                     llvm::Twine(Wrong) + " wrong, " + llvm::Twine(Failed) +
                     " failed");
  return llvm::Error::success();
}
