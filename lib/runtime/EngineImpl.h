//===- EngineImpl.h - the state behind Engine and ExecutionContext -*- C++ -*-===//
//
// What an Engine holds on its device (kernels, weights, the cuBLASLt
// handle, the engines compiled on demand) and what an ExecutionContext holds
// (stream, arena, staging memory, prepared GEMMs, CUDA graphs), shared by
// the files that implement them: Engine.cpp (load, kernels, weights),
// ExecutionContext.cpp (requests), ContextTiming.cpp (timing, profiles,
// autotuning).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ENGINEIMPL_H
#define KILN_RUNTIME_ENGINEIMPL_H

#include "kiln/Engine.h"
#include "runtime/CublasLt.h"
#include "runtime/CudaCheck.h"
#include "runtime/DeviceGroup.h"
#include "runtime/EngineInternal.h"

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace kiln {

struct Engine::Impl {
  Artifact A;
  EngineOptions Options;
  ModelInfo Info; // A's metadata in the API's terms (Engine::model)
  /// Weights [0, SharedBytes) live in another engine's buffer at Shared
  /// (an engine compiled on demand shares its base's); `Weights` holds the
  /// rest, from SharedBytes on.
  const uint8_t *Shared = nullptr;
  uint64_t SharedBytes = 0;
  void *Weights = nullptr;
  uint64_t OwnWeightBytes = 0;
  std::vector<cudaLibrary_t> Libraries;
  std::vector<cudaKernel_t> Kernels;
  cublasLtHandle_t Lt = nullptr;
  uint64_t MaxArena = 0;
  /// Each bucket's predictedMs (Bucketing.h), and the attention mask input
  /// (-1: none), for choosing packed-token buckets.
  std::vector<double> PredictedMs;
  int MaskInput = -1;
  /// Kernels launch with programmatic dependent launch (EngineOptions).
  bool Programmatic = false;
  uint64_t MaxStaging = 0;
  /// Engines compiled on demand for shapes without a bucket.
  std::mutex JitMutex;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Engine>> Jit;
  /// Asked before every launch (a logical device of a multi-device engine
  /// under fault injection); null otherwise.
  std::shared_ptr<FaultInjector> Fault;
  /// A multi-device engine runs everything through its group; the fields
  /// above are then unused, but for A, Options and Info.
  std::unique_ptr<DeviceGroup> Group;

  /// The engine for exactly (Batch, Seq), compiled on first use; null when
  /// the cap is reached.
  llvm::Expected<Engine *> jitEngine(int64_t Batch, int64_t Seq);

  ~Impl();

  /// createEngine (EngineInternal.h); as a member, it may construct an
  /// Engine.
  static llvm::Expected<std::unique_ptr<Engine>>
  create(Artifact A, const EngineOptions &Options);
  static Impl &of(const Engine &E) { return *E.P; }

  llvm::Error init();
  /// The device address of weight byte `Offset`.
  uint8_t *weightAt(uint64_t Offset) const {
    if (Offset < SharedBytes)
      return const_cast<uint8_t *>(Shared) + Offset;
    return static_cast<uint8_t *>(Weights) + (Offset - SharedBytes);
  }
};

struct ExecutionContext::Impl {
  Engine::Impl *E = nullptr;
  cudaStream_t Stream = nullptr;
  void *Arena = nullptr;
  void *Workspace = nullptr;
  uint8_t *Staging = nullptr; // pinned host memory for inputs and outputs
  /// The IndexFault record the gathers report to (Plan.h), cleared before
  /// a run that reads it, and its pinned copy on the host.
  void *Fault = nullptr;
  uint8_t *FaultHost = nullptr;
  cudaEvent_t Start = nullptr, Stop = nullptr;
  /// [bucket][step]: null for steps that are no GEMM.
  std::vector<std::vector<std::unique_ptr<PreparedGemm>>> Gemms;
  std::vector<cudaGraphExec_t> Graphs;
  /// This context's contexts on the engines compiled on demand.
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<ExecutionContext>>
      JitContexts;
  /// A multi-device engine's last request (lastRunInfo, DeviceGroup.h).
  DeviceGroup::RunInfo LastGroupRun;
  /// The buckets the last request ran in (lastBuckets, EngineInternal.h).
  std::vector<size_t> LastBuckets;

  ~Impl();

  static Impl &of(const ExecutionContext &C) { return *C.P; }

  void *address(const BufferRef &B) const {
    if (B.In == BufferRef::Space::Weights)
      return E->weightAt(B.Offset);
    if (B.In == BufferRef::Space::Fault)
      return Fault;
    return static_cast<uint8_t *>(Arena) + B.Offset;
  }

  llvm::Error init();
  /// An error for `What` on a multi-device engine (timing, profiles,
  /// autotuning and staging are single-device tools).
  llvm::Error singleDeviceOnly(const char *What) const;
  /// Describes `S` to cuBLASLt with this context's bias pointer
  /// (prepareGemm).
  llvm::Expected<std::unique_ptr<PreparedGemm>>
  prepare(const GemmStep &S, unsigned Count = 1,
          std::vector<cublasLtMatmulAlgo_t> *Candidates = nullptr) {
    return prepareGemm(E->Lt, S, address(S.Bias), Count, Candidates);
  }
  /// Runs `S` on this context's stream with algorithm `Algo`.
  cublasStatus_t matmul(const GemmStep &S, const PreparedGemm &G,
                        const cublasLtMatmulAlgo_t &Algo) {
    return runGemm(E->Lt, S, G, Algo, address(S.A), address(S.B),
                   hasResidual(S.Epi) ? address(S.C) : nullptr, address(S.D),
                   Workspace, Stream);
  }
  /// Launches the steps of a bucket; with `Events` (one per step plus
  /// one), records an event before each step and after the last.
  llvm::Error launchSteps(size_t Bucket,
                          std::vector<cudaEvent_t> *Events = nullptr);
  llvm::Error runBucket(size_t Bucket);
  /// Runs rows [Row0, Row0 + Rows) of a request in `Bucket`; with
  /// `ReadFaults` (an input on the device is checked by the kernels'
  /// reports), clears the fault record before and reads it after.
  llvm::Error runChunk(size_t Bucket, std::span<const TensorView> Inputs,
                       std::span<const TensorView> Outputs, int64_t Row0,
                       int64_t Rows, bool ReadFaults);
};

} // namespace kiln

#endif
