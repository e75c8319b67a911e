//===- kiln/Engine.h - kiln's GPU runtime API -------------------*- C++ -*-===//
//
// Load a compiled artifact once, run it from many threads:
//
//   auto Engine = kiln::Engine::load("model.kiln");        // Expected<...>
//   auto Ctx = (*Engine)->createContext();                 // one per thread
//   std::vector<kiln::HostTensor> In = {Ids, Mask, TokenTypes};
//   auto Out = (*Ctx)->run(In);                            // host tensors
//
// An Engine owns the weights on the device (uploaded once) and the loaded
// kernels; it is immutable after load and shared by its contexts. An
// ExecutionContext owns a stream, an arena and one CUDA graph per bucket,
// captured on first use and replayed; one context runs one request at a
// time, and contexts run concurrently. Every error (a bad input shape, a
// corrupt artifact, a CUDA or cuBLASLt failure) is returned as a value.
//
// A request of batch b runs in the smallest batch bucket >= b, padded with
// copies of its first row; a larger batch is split over the largest bucket.
// Its sequence length runs in the smallest seq bucket >= it, padded with
// zeros (masked positions); longer sequences are refused.
//
// This header and kiln/Tensor.h are the whole public API: they include the
// standard library and llvm/Support/Error.h (errors as values) only, never
// the IR, so a service does not recompile when the IR changes. What
// lib/codegen, the tools and the tests use beyond it (an engine for an
// artifact in memory, its plan, IR tensors) is in
// lib/runtime/EngineInternal.h.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ENGINE_H
#define KILN_ENGINE_H

#include "kiln/Tensor.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kiln {

struct Artifact; // lib/runtime/Artifact.h

/// True when a CUDA device can be used; otherwise `Why` says why not.
bool gpuAvailable(std::string *Why = nullptr);

/// Compiles a plan for exactly one (batch, seq) from an artifact's IR and
/// weights (seq is -1 for a model without a sequence dim). The runtime does
/// not link NVRTC or the passes: lib/codegen's makeJitCompiler() makes one.
using BucketCompiler = std::function<llvm::Expected<Artifact>(
    const Artifact &Base, int64_t Batch, int64_t Seq)>;

/// Makes logical device `Device` of a multi-device engine fail as if the
/// GPU had, from its `AfterLaunches`-th launch (bucket run) on, without
/// harming the GPU: what KILN_FAULT_INJECT=device:D:after:K[:recoverable[:N]]
/// sets (docs/multi-gpu.md). Lost: every launch from then on fails;
/// recoverable: `Launches` of them fail, then the device works again.
struct FaultInjection {
  int Device = 0;
  uint64_t AfterLaunches = 1;
  bool Recoverable = false;
  uint64_t Launches = 1;
};

/// How a multi-device engine uses its devices.
enum class PartitionMode {
  FromArtifact, // the artifact's partition plan; replicate when it has none
  Replicate,    // the whole model on every device
  Pipeline,     // the artifact's stages, one per device
};

struct EngineOptions {
  int Device = 0;
  /// Non-empty: a multi-device engine over these logical devices, each the
  /// CUDA ordinal of its physical device ({0, 0}: two logical devices on
  /// one card, each with its own engine, streams and arenas). Its contexts
  /// run requests through the device group (docs/multi-gpu.md): the least
  /// loaded device takes a request, and a device that fails is taken out
  /// while its requests run again elsewhere. `Device` is then unused.
  std::vector<int> Devices;
  PartitionMode Partition = PartitionMode::FromArtifact;
  /// Concurrent requests per logical device (contexts it holds).
  unsigned ContextsPerDevice = 2;
  /// Faults to inject; with none, KILN_FAULT_INJECT is read.
  std::vector<FaultInjection> Faults;
  /// Replay one CUDA graph per bucket (captured on first use); off launches
  /// every step each time.
  bool UseCudaGraphs = true;
  /// Capture every bucket's graph when a context is created.
  bool CaptureAtCreate = false;
  /// With a compiler, a request whose (batch, seq) is no bucket gets a plan
  /// compiled for exactly its shape on first use, shared by every context
  /// (its own kernels; the weights on the device are the engine's); past
  /// MaxJitShapes such shapes, requests are padded or split as without one.
  BucketCompiler JitCompiler;
  unsigned MaxJitShapes = 16;
  /// With packed-token buckets in the artifact (`kiln compile --tokens`),
  /// a host request whose attention mask rows are 1s then 0s runs on the
  /// smallest token bucket that holds its real tokens when the plans
  /// predict it faster than the padded bucket; off: padded buckets only.
  bool PackTokens = true;
  /// With PackTokens: take the token bucket whenever one holds the
  /// request's tokens, whatever the plans predict (`kiln run/bench --packed
  /// on`: traffic measured to gain, and tests of the packed path).
  bool PackTokensAlways = false;
  /// Launch kernels with programmatic dependent launch (sm_90 and later,
  /// artifacts whose kernels wait for their predecessor): each kernel is
  /// scheduled while the one before it finishes. Off: plain launches.
  bool ProgrammaticLaunch = true;
};

struct EngineMemory {
  uint64_t WeightBytes = 0;
  uint64_t ArenaBytes = 0;     // per context: the largest bucket's arena
  uint64_t WorkspaceBytes = 0; // per context: cuBLASLt's workspace
  /// Weights the shapes compiled on demand added: they share the engine's
  /// weights and store only constants folded for their shape.
  uint64_t JitWeightBytes = 0;
};

enum class DeviceHealth {
  Up,   // takes requests
  Down, // failed recoverably; probed again with backoff
  Lost, // unusable for the rest of the process
};

/// A logical device of an engine, as the embedding program's health check
/// sees it.
struct DeviceState {
  int Logical = 0, Physical = 0;
  DeviceHealth Health = DeviceHealth::Up;
  std::string LastError; // what took it down; empty while it never failed
  uint64_t Runs = 0;     // attempts that succeeded on it
  uint64_t Failures = 0; // attempts and probes that failed on it
  uint64_t Probes = 0;
  unsigned InFlight = 0;
  /// Seconds with at least one request running on it.
  double BusySeconds = 0;
  /// How it reaches each other physical device the engine uses: "peer",
  /// "host-staged" or "same device", e.g. "1: peer".
  std::string Links;
};

const char *deviceHealthName(DeviceHealth H); // "up", "down", "lost"

class ExecutionContext;

class Engine {
public:
  /// Reads and checks the artifact, selects the device, loads the kernels
  /// and uploads the weights.
  static llvm::Expected<std::unique_ptr<Engine>>
  load(const std::string &Path, const EngineOptions &Options = {});
  ~Engine();

  /// The model's inputs, outputs and buckets.
  const ModelInfo &model() const;
  EngineMemory memory() const;
  /// How many shapes were compiled on demand (EngineOptions::JitCompiler).
  unsigned jitShapes() const;
  /// Each logical device's health: one entry for a single-device engine.
  std::vector<DeviceState> devices() const;
  llvm::Expected<std::unique_ptr<ExecutionContext>> createContext();

  struct Impl;

private:
  explicit Engine(std::unique_ptr<Impl> I);
  std::unique_ptr<Impl> P;
};

class ExecutionContext {
public:
  ~ExecutionContext();

  /// Runs one request. `Inputs` are the graph inputs in order; returns the
  /// graph outputs in order, on the host.
  llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs);

  /// Runs with caller-owned memory. Inputs and outputs are in graph order;
  /// each output view must have the shape `outputShapes` gives. Device
  /// views must match a bucket's shape exactly (no padding on the device).
  llvm::Error run(std::span<const TensorView> Inputs,
                  std::span<const TensorView> Outputs);

  /// The output shapes for inputs of these shapes.
  llvm::Expected<std::vector<std::vector<int64_t>>>
  outputShapes(std::span<const std::vector<int64_t>> InputDims) const;

  /// For benchmarks: runs bucket `Bucket` (an index into
  /// ModelInfo::Buckets) on whatever its arena holds, `Iterations` times,
  /// and returns the GPU milliseconds of each run (timed with events around
  /// each replay).
  llvm::Expected<std::vector<float>> timeBucket(size_t Bucket,
                                                unsigned Iterations);
  /// For profiles: runs bucket `Bucket` step by step (no CUDA graph),
  /// `Iterations` times, and returns each step's median GPU milliseconds.
  struct StepTime {
    std::string What;  // the kernel's name, "gemm M x N x K" or "copy"
    std::string Label; // the node it came from
    float Ms = 0;
  };
  llvm::Expected<std::vector<StepTime>> profileBucket(size_t Bucket,
                                                      unsigned Iterations);

  /// Times up to `Candidates` of cuBLASLt's algorithms for every GEMM of
  /// every bucket (`Iterations` runs each, on this context's arena); this
  /// context uses the fastest from then on. (`kiln compile --autotune`
  /// stores them in the artifact: autotunedPlan, EngineInternal.h.)
  llvm::Error autotuneGemms(unsigned Candidates = 8, unsigned Iterations = 20);

  /// Stages `Inputs` (host, exactly the bucket's shapes) into the bucket's
  /// arena without running, for timeBucket.
  llvm::Error stage(size_t Bucket, std::span<const HostTensor> Inputs);

  struct Impl;

private:
  friend class Engine;
  explicit ExecutionContext(std::unique_ptr<Impl> I);
  std::unique_ptr<Impl> P;
};

} // namespace kiln

#endif
