//===- Engine.cpp - kiln's GPU runtime ------------------------------------===//
//
// The CUDA runtime API (linked statically) and cuBLASLt, nothing else: no
// NVRTC, no driver library at link time, so a binary without a GPU starts
// and reports "no CUDA device".
//
//===----------------------------------------------------------------------===//
#include "kiln/Engine.h"

#include "ir/Error.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

namespace kiln {
namespace {

llvm::Error cudaFailure(cudaError_t E, const llvm::Twine &What) {
  return makeError(What + ": CUDA error " + cudaGetErrorName(E) + ": " +
                   cudaGetErrorString(E));
}

#define KILN_CUDA(Expr, What)                                                  \
  do {                                                                         \
    if (cudaError_t Err_ = (Expr); Err_ != cudaSuccess)                        \
      return cudaFailure(Err_, What);                                          \
  } while (0)

llvm::Error cublasFailure(cublasStatus_t S, const llvm::Twine &What) {
  return makeError(What + ": cuBLASLt error " + cublasLtGetStatusName(S) +
                   ": " + cublasLtGetStatusString(S));
}

#define KILN_CUBLAS(Expr, What)                                                \
  do {                                                                         \
    if (cublasStatus_t St_ = (Expr); St_ != CUBLAS_STATUS_SUCCESS)             \
      return cublasFailure(St_, What);                                         \
  } while (0)

cudaDataType cudaType(DType T) {
  switch (T) {
  case DType::F16: return CUDA_R_16F;
  case DType::BF16: return CUDA_R_16BF;
  default: return CUDA_R_32F;
  }
}

constexpr uint64_t WorkspaceBytes = 32ull << 20;

/// One GemmStep made ready for cuBLASLt in one context (the bias pointer
/// depends on where the arena is).
struct PreparedGemm {
  cublasLtMatmulDesc_t Desc = nullptr;
  cublasLtMatrixLayout_t LayoutA = nullptr, LayoutB = nullptr,
                         LayoutD = nullptr;
  cublasLtMatmulAlgo_t Algo;
  ~PreparedGemm() {
    if (LayoutA)
      cublasLtMatrixLayoutDestroy(LayoutA);
    if (LayoutB)
      cublasLtMatrixLayoutDestroy(LayoutB);
    if (LayoutD)
      cublasLtMatrixLayoutDestroy(LayoutD);
    if (Desc)
      cublasLtMatmulDescDestroy(Desc);
  }
};

} // namespace

//===-- Device discovery --------------------------------------------------===//

bool gpuAvailable(std::string *Why) {
  int Count = 0;
  cudaError_t E = cudaGetDeviceCount(&Count);
  if (E != cudaSuccess || Count == 0) {
    if (Why)
      *Why = E != cudaSuccess
                 ? std::string("no CUDA device (") + cudaGetErrorString(E) + ")"
                 : "no CUDA device";
    cudaGetLastError();
    return false;
  }
  return true;
}

//===-- Engine ------------------------------------------------------------===//

struct Engine::Impl {
  Artifact A;
  EngineOptions Options;
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
  uint64_t MaxStaging = 0;
  /// Engines compiled on demand for shapes without a bucket.
  std::mutex JitMutex;
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Engine>> Jit;

  /// The engine for exactly (Batch, Seq), compiled on first use; null when
  /// the cap is reached.
  llvm::Expected<Engine *> jitEngine(int64_t Batch, int64_t Seq);

  ~Impl() {
    cudaSetDevice(Options.Device);
    for (cudaLibrary_t L : Libraries)
      cudaLibraryUnload(L);
    if (Weights)
      cudaFree(Weights);
    if (Lt)
      cublasLtDestroy(Lt);
  }

  llvm::Error init();
  /// The device address of weight byte `Offset`.
  uint8_t *weightAt(uint64_t Offset) const {
    if (Offset < SharedBytes)
      return const_cast<uint8_t *>(Shared) + Offset;
    return static_cast<uint8_t *>(Weights) + (Offset - SharedBytes);
  }
};

llvm::Error Engine::Impl::init() {
  std::string Why;
  if (!gpuAvailable(&Why))
    return makeError(Why);
  int Count = 0;
  KILN_CUDA(cudaGetDeviceCount(&Count), "counting devices");
  if (Options.Device < 0 || Options.Device >= Count)
    return makeError("device " + llvm::Twine(Options.Device) +
                     " does not exist (" + llvm::Twine(Count) + " found)");
  KILN_CUDA(cudaSetDevice(Options.Device), "selecting the device");
  cudaDeviceProp Prop;
  KILN_CUDA(cudaGetDeviceProperties(&Prop, Options.Device), "device query");
  std::string DeviceArch =
      "sm_" + std::to_string(Prop.major) + std::to_string(Prop.minor);
  llvm::StringRef PlanArch = A.Plan.Arch;
  bool CubinFits = PlanArch == DeviceArch || PlanArch == DeviceArch + "a";

  // Kernels: the CUBIN when it was built for this device, else the PTX.
  for (const KernelModule &M : A.Plan.Modules) {
    const std::string &Image = CubinFits && !M.Cubin.empty() ? M.Cubin : M.Ptx;
    if (Image.empty())
      return makeError("artifact built for " + PlanArch + " has no PTX for '" +
                       M.Name + "' to run on this " + DeviceArch + " (" +
                       Prop.name + ")");
    // PTX must be NUL-terminated for the loader.
    std::string Code = Image;
    if (&Image == &M.Ptx)
      Code.push_back('\0');
    cudaLibrary_t Lib;
    KILN_CUDA(cudaLibraryLoadData(&Lib, Code.data(), nullptr, nullptr, 0,
                                  nullptr, nullptr, 0),
              "loading kernels of '" + M.Name + "' (artifact arch " + PlanArch +
                  ", device " + DeviceArch + ")");
    Libraries.push_back(Lib);
  }
  for (const KernelRef &K : A.Plan.Kernels) {
    cudaKernel_t Kernel;
    KILN_CUDA(cudaLibraryGetKernel(&Kernel, Libraries[K.Module],
                                   K.LoweredName.c_str()),
              "finding kernel " + K.LoweredName);
    Kernels.push_back(Kernel);
  }
  // Raise the dynamic shared-memory limit where a launch needs more than
  // the default 48 KiB.
  std::vector<uint32_t> MaxShared(Kernels.size(), 0);
  for (const BucketPlan &B : A.Plan.Buckets) {
    MaxArena = std::max(MaxArena, B.ArenaBytes);
    uint64_t Io = 0;
    for (const IoBinding &IO : B.Inputs)
      Io += IO.Buffer.Bytes;
    for (const IoBinding &IO : B.Outputs)
      Io += IO.Buffer.Bytes;
    MaxStaging = std::max(MaxStaging, Io);
    for (const Step &S : B.Steps)
      if (const auto *K = std::get_if<KernelStep>(&S))
        MaxShared[K->Kernel] = std::max(MaxShared[K->Kernel], K->SharedBytes);
  }
  for (size_t I = 0; I < Kernels.size(); ++I)
    if (MaxShared[I] > 48 * 1024)
      KILN_CUDA(cudaKernelSetAttributeForDevice(
                    Kernels[I], cudaFuncAttributeMaxDynamicSharedMemorySize,
                    int(MaxShared[I]), Options.Device),
                "raising the shared memory of " +
                    A.Plan.Kernels[I].LoweredName);

  OwnWeightBytes = A.Weights.size() - SharedBytes;
  if (OwnWeightBytes) {
    KILN_CUDA(cudaMalloc(&Weights, OwnWeightBytes),
              "allocating " + llvm::Twine(OwnWeightBytes) +
                  " bytes of weights");
    KILN_CUDA(cudaMemcpy(Weights, A.Weights.data() + SharedBytes,
                         OwnWeightBytes, cudaMemcpyHostToDevice),
              "uploading weights");
  }
  KILN_CUBLAS(cublasLtCreate(&Lt), "creating the cuBLASLt handle");
  return llvm::Error::success();
}

llvm::Expected<Engine *> Engine::Impl::jitEngine(int64_t Batch, int64_t Seq) {
  std::lock_guard<std::mutex> Lock(JitMutex);
  auto Key = std::make_pair(Batch, Seq);
  if (auto It = Jit.find(Key); It != Jit.end())
    return It->second.get();
  if (Jit.size() >= Options.MaxJitShapes)
    return nullptr;
  auto Compiled = Options.JitCompiler(A, Batch, Seq);
  if (!Compiled)
    return withContext(Compiled.takeError(),
                       "compiling batch " + llvm::Twine(Batch) + " seq " +
                           llvm::Twine(Seq) + " on demand");
  if (llvm::Error E = validatePlan(Compiled->Plan))
    return std::move(E);
  auto I = std::make_unique<Impl>();
  I->Options = Options;
  I->Options.JitCompiler = nullptr;
  I->Options.CaptureAtCreate = false;
  // The compiler starts the new artifact's weights with this engine's
  // (CompileOptions::WeightsPrefix); the bytes are checked, not trusted.
  const std::string &Mine = A.Weights, &Theirs = Compiled->Weights;
  if (Weights && Theirs.size() >= Mine.size() &&
      std::equal(Mine.begin(), Mine.end(), Theirs.begin())) {
    I->Shared = weightAt(0);
    I->SharedBytes = Mine.size();
  }
  I->A = std::move(*Compiled);
  if (llvm::Error E = I->init())
    return std::move(E);
  // Only this engine compiles on demand, from its own artifact: the new
  // engine's host copy of the weights is not needed again.
  I->A.Weights = std::string();
  return (Jit[Key] = std::unique_ptr<Engine>(new Engine(std::move(I)))).get();
}

Engine::Engine(std::unique_ptr<Impl> I) : P(std::move(I)) {}
Engine::~Engine() = default;

llvm::Expected<std::unique_ptr<Engine>>
Engine::load(llvm::StringRef Path, const EngineOptions &Options) {
  auto A = readArtifact(Path);
  if (!A)
    return A.takeError();
  return create(std::move(*A), Options);
}

llvm::Expected<std::unique_ptr<Engine>>
Engine::create(Artifact A, const EngineOptions &Options) {
  if (!A.Meta.DataDependent.empty())
    return makeError("'" + A.Meta.ModelName +
                     "' has shapes that depend on the data (" +
                     A.Meta.DataDependent +
                     "): an Engine runs static plans; run it with "
                     "DataDependentRunner (lib/codegen/DataDependent.h), as "
                     "`kiln run` does");
  if (llvm::Error E = validatePlan(A.Plan))
    return std::move(E);
  auto I = std::make_unique<Impl>();
  I->A = std::move(A);
  I->Options = Options;
  if (llvm::Error E = I->init())
    return std::move(E);
  return std::unique_ptr<Engine>(new Engine(std::move(I)));
}

const ArtifactMetadata &Engine::metadata() const { return P->A.Meta; }
const ExecutablePlan &Engine::plan() const { return P->A.Plan; }
unsigned Engine::jitShapes() const {
  std::lock_guard<std::mutex> Lock(P->JitMutex);
  return unsigned(P->Jit.size());
}

EngineMemory Engine::memory() const {
  EngineMemory M{P->OwnWeightBytes, P->MaxArena, WorkspaceBytes, 0};
  std::lock_guard<std::mutex> Lock(P->JitMutex);
  for (const auto &[Shape, E] : P->Jit)
    M.JitWeightBytes += E->P->OwnWeightBytes;
  return M;
}

//===-- ExecutionContext --------------------------------------------------===//

struct ExecutionContext::Impl {
  Engine::Impl *E = nullptr;
  cudaStream_t Stream = nullptr;
  void *Arena = nullptr;
  void *Workspace = nullptr;
  uint8_t *Staging = nullptr; // pinned host memory for inputs and outputs
  cudaEvent_t Start = nullptr, Stop = nullptr;
  /// [bucket][step]: null for steps that are no GEMM.
  std::vector<std::vector<std::unique_ptr<PreparedGemm>>> Gemms;
  std::vector<cudaGraphExec_t> Graphs;
  /// This context's contexts on the engines compiled on demand.
  std::map<std::pair<int64_t, int64_t>, std::unique_ptr<ExecutionContext>>
      JitContexts;

  ~Impl() {
    cudaSetDevice(E->Options.Device);
    if (Stream)
      cudaStreamSynchronize(Stream);
    for (cudaGraphExec_t G : Graphs)
      if (G)
        cudaGraphExecDestroy(G);
    Gemms.clear();
    if (Start)
      cudaEventDestroy(Start);
    if (Stop)
      cudaEventDestroy(Stop);
    if (Staging)
      cudaFreeHost(Staging);
    if (Workspace)
      cudaFree(Workspace);
    if (Arena)
      cudaFree(Arena);
    if (Stream)
      cudaStreamDestroy(Stream);
  }

  void *address(const BufferRef &B) const {
    if (B.In == BufferRef::Space::Weights)
      return E->weightAt(B.Offset);
    return static_cast<uint8_t *>(Arena) + B.Offset;
  }

  llvm::Error init();
  /// Describes `S` to cuBLASLt and picks its algorithm: the stored one,
  /// else the heuristic's first. With `Candidates`, also lists up to
  /// `Count` of the heuristic's choices (for autotuning).
  llvm::Expected<std::unique_ptr<PreparedGemm>>
  prepare(const GemmStep &S, unsigned Count = 1,
          std::vector<cublasLtMatmulAlgo_t> *Candidates = nullptr);
  /// Launches the steps of a bucket; with `Events` (one per step plus
  /// one), records an event before each step and after the last.
  /// D = epilogue(alpha op(A) op(B)) with algorithm `Algo` (the row-major
  /// to column-major operand swap is in the prepared layouts).
  cublasStatus_t matmul(const GemmStep &S, const PreparedGemm &G,
                        const cublasLtMatmulAlgo_t &Algo) {
    float Alpha = S.Alpha, Beta = 0.0f;
    void *D = address(S.D);
    return cublasLtMatmul(E->Lt, G.Desc, &Alpha, address(S.B), G.LayoutA,
                          address(S.A), G.LayoutB, &Beta, D, G.LayoutD, D,
                          G.LayoutD, &Algo, Workspace, WorkspaceBytes, Stream);
  }
  llvm::Error launchSteps(size_t Bucket,
                          std::vector<cudaEvent_t> *Events = nullptr);
  llvm::Error runBucket(size_t Bucket);
  llvm::Error runChunk(size_t Bucket, llvm::ArrayRef<TensorView> Inputs,
                       llvm::ArrayRef<TensorView> Outputs, int64_t Row0,
                       int64_t Rows);
};

llvm::Expected<std::unique_ptr<PreparedGemm>>
ExecutionContext::Impl::prepare(const GemmStep &S, unsigned Count,
                                std::vector<cublasLtMatmulAlgo_t> *Candidates) {
  // Row-major D[M,N] = op(A) op(B) is column-major D^T[N,M] = op(B)^T
  // op(A)^T: cuBLASLt's first matrix is our B, its second our A.
  auto G = std::make_unique<PreparedGemm>();
  std::string Where = "preparing the GEMM of " + S.Label;
  KILN_CUBLAS(
      cublasLtMatmulDescCreate(&G->Desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
      Where);
  cublasOperation_t OpB = S.TransB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t OpA = S.TransA ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_TRANSA, &OpB, sizeof(OpB)),
              Where);
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_TRANSB, &OpA, sizeof(OpA)),
              Where);
  cublasLtEpilogue_t Epi = CUBLASLT_EPILOGUE_DEFAULT;
  bool Bias = false;
  switch (S.Epi) {
  case GemmStep::Epilogue::None: break;
  case GemmStep::Epilogue::Bias:
    Epi = CUBLASLT_EPILOGUE_BIAS;
    Bias = true;
    break;
  case GemmStep::Epilogue::Relu: Epi = CUBLASLT_EPILOGUE_RELU; break;
  case GemmStep::Epilogue::ReluBias:
    Epi = CUBLASLT_EPILOGUE_RELU_BIAS;
    Bias = true;
    break;
  case GemmStep::Epilogue::GeluTanh: Epi = CUBLASLT_EPILOGUE_GELU; break;
  case GemmStep::Epilogue::GeluTanhBias:
    Epi = CUBLASLT_EPILOGUE_GELU_BIAS;
    Bias = true;
    break;
  }
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &Epi, sizeof(Epi)),
              Where);
  if (Bias) {
    const void *BiasPtr = address(S.Bias);
    KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                    G->Desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &BiasPtr,
                    sizeof(BiasPtr)),
                Where);
  }
  auto Layout = [&](cublasLtMatrixLayout_t &L, DType T, int64_t Rows,
                    int64_t Cols, int64_t Ld, int64_t Stride) -> llvm::Error {
    KILN_CUBLAS(cublasLtMatrixLayoutCreate(&L, cudaType(T), Rows, Cols, Ld),
                Where);
    if (S.Batch > 1) {
      int32_t Count = int32_t(S.Batch);
      KILN_CUBLAS(
          cublasLtMatrixLayoutSetAttribute(
              L, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &Count, sizeof(Count)),
          Where);
      KILN_CUBLAS(cublasLtMatrixLayoutSetAttribute(
                      L, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &Stride,
                      sizeof(Stride)),
                  Where);
    }
    return llvm::Error::success();
  };
  // Our B, stored row-major [K,N] (or [N,K] transposed), is column-major
  // N x K with ld N (or K x N with ld K).
  if (llvm::Error Err =
          Layout(G->LayoutA, S.BType, S.TransB ? S.K : S.N,
                 S.TransB ? S.N : S.K, S.TransB ? S.K : S.N, S.StrideB))
    return std::move(Err);
  if (llvm::Error Err =
          Layout(G->LayoutB, S.AType, S.TransA ? S.M : S.K,
                 S.TransA ? S.K : S.M, S.TransA ? S.M : S.K, S.StrideA))
    return std::move(Err);
  if (llvm::Error Err = Layout(G->LayoutD, S.DType_, S.N, S.M, S.N, S.StrideD))
    return std::move(Err);

  if (!S.Algo.empty() && !Candidates) {
    if (S.Algo.size() != sizeof(G->Algo))
      return makeError(Where + ": the stored algorithm has " +
                       llvm::Twine(S.Algo.size()) + " bytes, expected " +
                       llvm::Twine(sizeof(G->Algo)));
    std::memcpy(&G->Algo, S.Algo.data(), sizeof(G->Algo));
    return std::move(G);
  }
  cublasLtMatmulPreference_t Pref;
  KILN_CUBLAS(cublasLtMatmulPreferenceCreate(&Pref), Where);
  auto DestroyPref =
      llvm::make_scope_exit([&] { cublasLtMatmulPreferenceDestroy(Pref); });
  uint64_t Ws = WorkspaceBytes;
  KILN_CUBLAS(
      cublasLtMatmulPreferenceSetAttribute(
          Pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &Ws, sizeof(Ws)),
      Where);
  std::vector<cublasLtMatmulHeuristicResult_t> Results(std::max(Count, 1u));
  int Found = 0;
  KILN_CUBLAS(cublasLtMatmulAlgoGetHeuristic(E->Lt, G->Desc, G->LayoutA,
                                             G->LayoutB, G->LayoutD, G->LayoutD,
                                             Pref, int(Results.size()),
                                             Results.data(), &Found),
              Where);
  if (Found == 0)
    return makeError(Where +
                     ": cuBLASLt has no algorithm for M=" + llvm::Twine(S.M) +
                     " N=" + llvm::Twine(S.N) + " K=" + llvm::Twine(S.K));
  G->Algo = Results[0].algo;
  if (Candidates)
    for (int I = 0; I < Found; ++I)
      Candidates->push_back(Results[I].algo);
  return std::move(G);
}

llvm::Error ExecutionContext::Impl::init() {
  KILN_CUDA(cudaSetDevice(E->Options.Device), "selecting the device");
  KILN_CUDA(cudaStreamCreateWithFlags(&Stream, cudaStreamNonBlocking),
            "creating a stream");
  if (E->MaxArena)
    KILN_CUDA(cudaMalloc(&Arena, E->MaxArena),
              "allocating the arena (" + llvm::Twine(E->MaxArena) + " bytes)");
  KILN_CUDA(cudaMalloc(&Workspace, WorkspaceBytes),
            "allocating the cuBLASLt workspace");
  KILN_CUDA(cudaMallocHost(reinterpret_cast<void **>(&Staging),
                           std::max<uint64_t>(E->MaxStaging, 1)),
            "allocating pinned staging memory");
  KILN_CUDA(cudaEventCreate(&Start), "creating an event");
  KILN_CUDA(cudaEventCreate(&Stop), "creating an event");
  const auto &Buckets = E->A.Plan.Buckets;
  Graphs.assign(Buckets.size(), nullptr);
  for (const BucketPlan &B : Buckets) {
    Gemms.emplace_back();
    for (const Step &S : B.Steps) {
      if (const auto *G = std::get_if<GemmStep>(&S)) {
        auto Prepared = prepare(*G);
        if (!Prepared)
          return Prepared.takeError();
        Gemms.back().push_back(std::move(*Prepared));
      } else {
        Gemms.back().push_back(nullptr);
      }
    }
  }
  if (E->Options.UseCudaGraphs && E->Options.CaptureAtCreate)
    for (size_t I = 0; I < Buckets.size(); ++I)
      if (llvm::Error Err = runBucket(I))
        return Err;
  return llvm::Error::success();
}

llvm::Error
ExecutionContext::Impl::launchSteps(size_t Bucket,
                                    std::vector<cudaEvent_t> *Events) {
  const BucketPlan &B = E->A.Plan.Buckets[Bucket];
  std::vector<uint64_t> ArgStorage;
  std::vector<void *> ArgPtrs;
  for (size_t I = 0; I < B.Steps.size(); ++I) {
    if (Events)
      KILN_CUDA(cudaEventRecord((*Events)[I], Stream), "recording an event");
    const Step &S = B.Steps[I];
    if (const auto *K = std::get_if<KernelStep>(&S)) {
      ArgStorage.assign(K->Args.size(), 0);
      ArgPtrs.assign(K->Args.size(), nullptr);
      for (size_t A = 0; A < K->Args.size(); ++A) {
        const KernelArg &Arg = K->Args[A];
        void *Slot = &ArgStorage[A];
        switch (Arg.K) {
        case KernelArg::Kind::Buffer: {
          void *Ptr = address(Arg.Buffer);
          std::memcpy(Slot, &Ptr, sizeof(Ptr));
          break;
        }
        case KernelArg::Kind::I32: {
          int32_t V = int32_t(Arg.Int);
          std::memcpy(Slot, &V, sizeof(V));
          break;
        }
        case KernelArg::Kind::I64:
          std::memcpy(Slot, &Arg.Int, sizeof(Arg.Int));
          break;
        case KernelArg::Kind::F32:
          std::memcpy(Slot, &Arg.Float, sizeof(Arg.Float));
          break;
        }
        ArgPtrs[A] = Slot;
      }
      KILN_CUDA(cudaLaunchKernel(
                    reinterpret_cast<const void *>(E->Kernels[K->Kernel]),
                    dim3(K->Grid[0], K->Grid[1], K->Grid[2]),
                    dim3(K->Block[0], K->Block[1], K->Block[2]), ArgPtrs.data(),
                    K->SharedBytes, Stream),
                "launching " + E->A.Plan.Kernels[K->Kernel].LoweredName +
                    " for " + K->Label);
    } else if (const auto *G = std::get_if<GemmStep>(&S)) {
      const PreparedGemm &P = *Gemms[Bucket][I];
      KILN_CUBLAS(matmul(*G, P, P.Algo), "GEMM of " + G->Label);
    } else {
      const auto &C = std::get<CopyStep>(S);
      KILN_CUDA(cudaMemcpyAsync(address(C.Dst), address(C.Src), C.Src.Bytes,
                                cudaMemcpyDeviceToDevice, Stream),
                C.Label);
    }
  }
  if (Events)
    KILN_CUDA(cudaEventRecord(Events->back(), Stream), "recording an event");
  return llvm::Error::success();
}

llvm::Error ExecutionContext::Impl::runBucket(size_t Bucket) {
  if (!E->Options.UseCudaGraphs)
    return launchSteps(Bucket);
  if (!Graphs[Bucket]) {
    KILN_CUDA(cudaStreamBeginCapture(Stream, cudaStreamCaptureModeThreadLocal),
              "starting graph capture");
    llvm::Error Launched = launchSteps(Bucket);
    cudaGraph_t Graph = nullptr;
    cudaError_t Ended = cudaStreamEndCapture(Stream, &Graph);
    if (Launched) {
      if (Graph)
        cudaGraphDestroy(Graph);
      return Launched;
    }
    KILN_CUDA(Ended,
              "capturing the CUDA graph of bucket " + llvm::Twine(Bucket));
    cudaError_t Inst = cudaGraphInstantiate(&Graphs[Bucket], Graph, 0);
    cudaGraphDestroy(Graph);
    KILN_CUDA(Inst,
              "instantiating the CUDA graph of bucket " + llvm::Twine(Bucket));
  }
  KILN_CUDA(cudaGraphLaunch(Graphs[Bucket], Stream),
            "replaying bucket " + llvm::Twine(Bucket));
  return llvm::Error::success();
}

namespace {

/// Which dims of an input or output follow the batch and the sequence.
struct DimRoles {
  int Batch = -1, Seq = -1;
};

DimRoles rolesOf(const IoSpec &S) {
  DimRoles R;
  for (size_t I = 0; I < S.Dims.size(); ++I)
    if (S.Dims[I].isSymbol()) {
      if (S.Dims[I].symbol() == "batch" && R.Batch < 0)
        R.Batch = int(I);
      else if (S.Dims[I].symbol() == "seq" && R.Seq < 0)
        R.Seq = int(I);
    }
  return R;
}

/// Copies between a bucket-shaped buffer and a request-shaped one, for the
/// chunk of `Rows` rows starting at `Row0` along `BatchDim` (-1: none).
/// Into the bucket, rows past the chunk repeat its first row and positions
/// past the request's extent in other dims are zero; out of the bucket,
/// only the request's box is written.
void copyBox(const uint8_t *Src, uint8_t *Dst, llvm::ArrayRef<int64_t> Bucket,
             llvm::ArrayRef<int64_t> Request, int BatchDim, int64_t Row0,
             int64_t Rows, size_t Elem, bool ToBucket) {
  int64_t Rank = int64_t(Bucket.size());
  if (Rank == 0) {
    std::memcpy(Dst, Src, Elem);
    return;
  }
  // The innermost dim moves as one run unless it is the batch dim.
  bool RunInner = BatchDim != Rank - 1;
  int64_t Outer = RunInner ? Rank - 1 : Rank;
  int64_t Run = RunInner ? Bucket.back() : 1;
  int64_t Valid = RunInner ? std::min(Bucket.back(), Request.back()) : 1;
  std::vector<int64_t> Index(Outer, 0);
  int64_t Lines = 1;
  for (int64_t D = 0; D < Outer; ++D)
    Lines *= Bucket[D];
  for (int64_t Line = 0; Line < Lines; ++Line) {
    bool Inside = true;
    int64_t ReqOffset = 0;
    for (int64_t D = 0; D < Outer; ++D) {
      int64_t I = Index[D];
      if (D == BatchDim) {
        if (I >= Rows) {
          if (!ToBucket)
            Inside = false;
          I = 0;
        }
        I += Row0;
      } else if (I >= Request[D]) {
        Inside = false;
        I = 0;
      }
      ReqOffset = ReqOffset * Request[D] + I;
    }
    if (RunInner)
      ReqOffset *= Request.back();
    uint8_t *BucketLine =
        (ToBucket ? Dst : const_cast<uint8_t *>(Src)) + Line * Run * Elem;
    if (ToBucket) {
      if (Inside) {
        std::memcpy(BucketLine, Src + ReqOffset * Elem, Valid * Elem);
        std::memset(BucketLine + Valid * Elem, 0, (Run - Valid) * Elem);
      } else {
        std::memset(BucketLine, 0, Run * Elem);
      }
    } else if (Inside) {
      std::memcpy(Dst + ReqOffset * Elem, BucketLine, Valid * Elem);
    }
    for (int64_t D = Outer - 1; D >= 0; --D) {
      if (++Index[D] < Bucket[D])
        break;
      Index[D] = 0;
    }
  }
}

} // namespace

llvm::Error ExecutionContext::Impl::runChunk(size_t Bucket,
                                             llvm::ArrayRef<TensorView> Inputs,
                                             llvm::ArrayRef<TensorView> Outputs,
                                             int64_t Row0, int64_t Rows) {
  const BucketPlan &B = E->A.Plan.Buckets[Bucket];
  const ArtifactMetadata &Meta = E->A.Meta;
  uint64_t StagingOffset = 0;
  for (size_t I = 0; I < B.Inputs.size(); ++I) {
    const IoBinding &Bind = B.Inputs[I];
    const TensorView &In = Inputs[I];
    DimRoles Roles = rolesOf(Meta.Inputs[I]);
    void *Dst = address(Bind.Buffer);
    if (In.OnDevice) {
      if (In.Dims != Bind.Dims)
        return makeError("input '" + Bind.Name +
                         "' is on the device: its shape must be a bucket's "
                         "shape exactly");
      KILN_CUDA(cudaMemcpyAsync(Dst, In.Data, Bind.Buffer.Bytes,
                                cudaMemcpyDeviceToDevice, Stream),
                "copying input '" + Bind.Name + "'");
      continue;
    }
    uint8_t *Stage = Staging + StagingOffset;
    StagingOffset += Bind.Buffer.Bytes;
    copyBox(static_cast<const uint8_t *>(In.Data), Stage, Bind.Dims, In.Dims,
            Roles.Batch, Row0, Rows, dtypeSize(Bind.Type), /*ToBucket=*/true);
    KILN_CUDA(cudaMemcpyAsync(Dst, Stage, Bind.Buffer.Bytes,
                              cudaMemcpyHostToDevice, Stream),
              "copying input '" + Bind.Name + "'");
  }
  if (llvm::Error Err = runBucket(Bucket))
    return Err;
  std::vector<std::pair<size_t, uint8_t *>> HostOutputs;
  for (size_t I = 0; I < B.Outputs.size(); ++I) {
    const IoBinding &Bind = B.Outputs[I];
    const TensorView &Out = Outputs[I];
    const void *Src = address(Bind.Buffer);
    if (Out.OnDevice) {
      if (Out.Dims != Bind.Dims)
        return makeError("output '" + Bind.Name +
                         "' is on the device: its shape must be the "
                         "bucket's shape exactly");
      KILN_CUDA(cudaMemcpyAsync(Out.Data, Src, Bind.Buffer.Bytes,
                                cudaMemcpyDeviceToDevice, Stream),
                "copying output '" + Bind.Name + "'");
      continue;
    }
    uint8_t *Stage = Staging + StagingOffset;
    StagingOffset += Bind.Buffer.Bytes;
    KILN_CUDA(cudaMemcpyAsync(Stage, Src, Bind.Buffer.Bytes,
                              cudaMemcpyDeviceToHost, Stream),
              "copying output '" + Bind.Name + "'");
    HostOutputs.push_back({I, Stage});
  }
  KILN_CUDA(cudaStreamSynchronize(Stream),
            "running bucket batch=" + llvm::Twine(B.Batch) +
                " seq=" + llvm::Twine(B.Seq));
  for (auto [I, Stage] : HostOutputs) {
    const IoBinding &Bind = B.Outputs[I];
    DimRoles Roles = rolesOf(Meta.Outputs[I]);
    copyBox(Stage, static_cast<uint8_t *>(Outputs[I].Data), Bind.Dims,
            Outputs[I].Dims, Roles.Batch, Row0, Rows, dtypeSize(Bind.Type),
            /*ToBucket=*/false);
  }
  return llvm::Error::success();
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> I) : P(std::move(I)) {}
ExecutionContext::~ExecutionContext() = default;

llvm::Expected<std::unique_ptr<ExecutionContext>> Engine::createContext() {
  auto I = std::make_unique<ExecutionContext::Impl>();
  I->E = P.get();
  if (llvm::Error E = I->init())
    return std::move(E);
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(I)));
}

namespace {

/// The request's batch and sequence length, checked against the inputs'
/// specs.
llvm::Error requestSize(const ArtifactMetadata &Meta,
                        llvm::ArrayRef<std::vector<int64_t>> Dims,
                        int64_t &Batch, int64_t &Seq) {
  if (Dims.size() != Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(Dims.size()));
  Batch = -1;
  Seq = -1;
  for (size_t I = 0; I < Dims.size(); ++I) {
    const IoSpec &S = Meta.Inputs[I];
    if (Dims[I].size() != S.Dims.size())
      return makeError("input '" + S.Name + "' must have rank " +
                       llvm::Twine(S.Dims.size()) + ", got " +
                       llvm::Twine(Dims[I].size()));
    for (size_t D = 0; D < S.Dims.size(); ++D) {
      int64_t Size = Dims[I][D];
      const Dim &Want = S.Dims[D];
      auto Bind = [&](int64_t &Slot, llvm::StringRef What) -> llvm::Error {
        if (Slot >= 0 && Slot != Size)
          return makeError("input '" + S.Name + "' has " + What + " " +
                           llvm::Twine(Size) + ", other inputs have " +
                           llvm::Twine(Slot));
        Slot = Size;
        return llvm::Error::success();
      };
      if (Want.isStatic()) {
        if (Want.value() != Size)
          return makeError("input '" + S.Name + "' dim " + llvm::Twine(D) +
                           " must be " + llvm::Twine(Want.value()) + ", got " +
                           llvm::Twine(Size));
      } else if (Want.isSymbol() && Want.symbol() == "batch") {
        if (llvm::Error E = Bind(Batch, "batch"))
          return E;
      } else if (Want.isSymbol() && Want.symbol() == "seq") {
        if (llvm::Error E = Bind(Seq, "sequence length"))
          return E;
      }
    }
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::vector<std::vector<int64_t>>>
ExecutionContext::outputShapes(
    llvm::ArrayRef<std::vector<int64_t>> InputDims) const {
  const ArtifactMetadata &Meta = P->E->A.Meta;
  int64_t Batch, Seq;
  if (llvm::Error E = requestSize(Meta, InputDims, Batch, Seq))
    return std::move(E);
  // Static dims come from the first bucket; batch and seq from the request.
  const BucketPlan &B0 = P->E->A.Plan.Buckets.front();
  std::vector<std::vector<int64_t>> Shapes;
  for (size_t I = 0; I < Meta.Outputs.size(); ++I) {
    std::vector<int64_t> Dims = B0.Outputs[I].Dims;
    const IoSpec &S = Meta.Outputs[I];
    for (size_t D = 0; D < S.Dims.size() && D < Dims.size(); ++D) {
      if (S.Dims[D].isSymbol() && S.Dims[D].symbol() == "batch")
        Dims[D] = Batch;
      else if (S.Dims[D].isSymbol() && S.Dims[D].symbol() == "seq")
        Dims[D] = Seq;
      else if (!S.Dims[D].isStatic())
        return makeError("output '" + S.Name + "' dim " + llvm::Twine(D) +
                         " (" + S.Dims[D].str() +
                         ") does not follow the batch or the sequence: its "
                         "size depends on the bucket");
    }
    Shapes.push_back(std::move(Dims));
  }
  return Shapes;
}

llvm::Error ExecutionContext::run(llvm::ArrayRef<TensorView> Inputs,
                                  llvm::ArrayRef<TensorView> Outputs) {
  const ArtifactMetadata &Meta = P->E->A.Meta;
  const auto &Buckets = P->E->A.Plan.Buckets;
  std::vector<std::vector<int64_t>> InDims;
  for (const TensorView &V : Inputs)
    InDims.push_back(V.Dims);
  int64_t Batch, Seq;
  if (llvm::Error E = requestSize(Meta, InDims, Batch, Seq))
    return E;
  for (size_t I = 0; I < Inputs.size(); ++I)
    if (Inputs[I].Type != Meta.Inputs[I].Type)
      return makeError("input '" + Meta.Inputs[I].Name + "' must be " +
                       dtypeName(Meta.Inputs[I].Type) + ", got " +
                       dtypeName(Inputs[I].Type));
  if (Outputs.size() != Meta.Outputs.size())
    return makeError("expected " + llvm::Twine(Meta.Outputs.size()) +
                     " outputs, got " + llvm::Twine(Outputs.size()));
  auto Shapes = outputShapes(InDims);
  if (!Shapes)
    return Shapes.takeError();
  for (size_t I = 0; I < Outputs.size(); ++I)
    if (Outputs[I].Dims != (*Shapes)[I] ||
        Outputs[I].Type != Meta.Outputs[I].Type)
      return makeError("output '" + Meta.Outputs[I].Name +
                       "' view has the wrong shape or dtype");
  if (Batch == 0)
    return llvm::Error::success();

  // A shape without a bucket of its own runs on a plan compiled for it,
  // when the engine can compile one.
  bool Exact = false;
  for (const BucketPlan &B : Buckets)
    Exact |= (Batch < 0 || B.Batch == Batch) && (Seq < 0 || B.Seq == Seq);
  if (!Exact && P->E->Options.JitCompiler && Batch > 0) {
    auto Child = P->E->jitEngine(Batch, Seq);
    if (!Child)
      return Child.takeError();
    if (*Child) {
      auto &Ctx = P->JitContexts[{Batch, Seq}];
      if (!Ctx) {
        auto Created = (*Child)->createContext();
        if (!Created)
          return Created.takeError();
        Ctx = std::move(*Created);
      }
      return Ctx->run(Inputs, Outputs);
    }
  }

  // The seq bucket: the smallest that holds the request.
  int64_t SeqBucket = 0;
  if (Seq >= 0) {
    SeqBucket = INT64_MAX;
    for (const BucketPlan &B : Buckets)
      if (B.Seq >= Seq)
        SeqBucket = std::min(SeqBucket, B.Seq);
    if (SeqBucket == INT64_MAX)
      return makeError("sequence length " + llvm::Twine(Seq) +
                       " exceeds the largest seq bucket");
    if (SeqBucket != Seq) {
      bool HasMask = false;
      for (const IoSpec &S : Meta.Inputs)
        HasMask |= llvm::StringRef(S.Name).contains_insensitive("mask");
      if (!HasMask)
        return makeError("sequence length " + llvm::Twine(Seq) +
                         " has no bucket of its own, and padding needs an "
                         "attention mask input");
    }
  }
  // Split the batch over the largest bucket, run the rest in the smallest
  // that fits.
  int64_t Done = 0, Total = Batch < 0 ? 1 : Batch;
  while (Done < Total) {
    int64_t Left = Total - Done;
    size_t Best = SIZE_MAX;
    for (size_t I = 0; I < Buckets.size(); ++I) {
      if (Seq >= 0 && Buckets[I].Seq != SeqBucket)
        continue;
      bool Fits = Buckets[I].Batch >= Left;
      if (Best == SIZE_MAX) {
        Best = I;
        continue;
      }
      bool BestFits = Buckets[Best].Batch >= Left;
      if ((Fits && (!BestFits || Buckets[I].Batch < Buckets[Best].Batch)) ||
          (!Fits && !BestFits && Buckets[I].Batch > Buckets[Best].Batch))
        Best = I;
    }
    int64_t Rows =
        std::min<int64_t>(Left, std::max<int64_t>(Buckets[Best].Batch, 1));
    if (llvm::Error E = P->runChunk(Best, Inputs, Outputs, Done, Rows))
      return E;
    Done += Rows;
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<Tensor>>
ExecutionContext::run(llvm::ArrayRef<Tensor> Inputs) {
  std::vector<TensorView> In;
  std::vector<std::vector<int64_t>> InDims;
  for (const Tensor &T : Inputs) {
    In.push_back(
        {const_cast<uint8_t *>(T.bytes()), T.dtype(), T.sizes().vec(), false});
    InDims.push_back(T.sizes().vec());
  }
  if (In.size() != P->E->A.Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(P->E->A.Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(In.size()));
  auto Shapes = outputShapes(InDims);
  if (!Shapes)
    return Shapes.takeError();
  std::vector<Tensor> Outs;
  std::vector<TensorView> OutViews;
  for (size_t I = 0; I < Shapes->size(); ++I) {
    Outs.emplace_back(P->E->A.Meta.Outputs[I].Type, (*Shapes)[I]);
    OutViews.push_back(
        {Outs.back().mutableBytes(), Outs.back().dtype(), (*Shapes)[I], false});
  }
  if (llvm::Error E = run(In, OutViews))
    return std::move(E);
  return std::move(Outs);
}

llvm::Error ExecutionContext::stage(size_t Bucket,
                                    llvm::ArrayRef<Tensor> Inputs) {
  const auto &Buckets = P->E->A.Plan.Buckets;
  if (Bucket >= Buckets.size())
    return makeError("no bucket " + llvm::Twine(Bucket));
  const BucketPlan &B = Buckets[Bucket];
  if (Inputs.size() != B.Inputs.size())
    return makeError("expected " + llvm::Twine(B.Inputs.size()) + " inputs");
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (Inputs[I].sizes().vec() != B.Inputs[I].Dims ||
        Inputs[I].dtype() != B.Inputs[I].Type)
      return makeError("input '" + B.Inputs[I].Name +
                       "' does not have the bucket's shape");
    KILN_CUDA(cudaMemcpy(P->address(B.Inputs[I].Buffer), Inputs[I].bytes(),
                         B.Inputs[I].Buffer.Bytes, cudaMemcpyHostToDevice),
              "staging input '" + B.Inputs[I].Name + "'");
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<ExecutionContext::StepTime>>
ExecutionContext::profileBucket(size_t Bucket, unsigned Iterations) {
  const auto &Buckets = P->E->A.Plan.Buckets;
  if (Bucket >= Buckets.size())
    return makeError("no bucket " + llvm::Twine(Bucket));
  const BucketPlan &B = Buckets[Bucket];
  std::vector<cudaEvent_t> Events(B.Steps.size() + 1, nullptr);
  auto Destroy = llvm::make_scope_exit([&] {
    for (cudaEvent_t E : Events)
      if (E)
        cudaEventDestroy(E);
  });
  for (cudaEvent_t &E : Events)
    KILN_CUDA(cudaEventCreate(&E), "creating an event");
  std::vector<std::vector<float>> Samples(B.Steps.size());
  for (unsigned It = 0; It < std::max(Iterations, 1u); ++It) {
    if (llvm::Error Err = P->launchSteps(Bucket, &Events))
      return std::move(Err);
    KILN_CUDA(cudaEventSynchronize(Events.back()), "profiling");
    for (size_t I = 0; I < B.Steps.size(); ++I) {
      float Ms = 0;
      KILN_CUDA(cudaEventElapsedTime(&Ms, Events[I], Events[I + 1]),
                "reading a timer");
      Samples[I].push_back(Ms);
    }
  }
  std::vector<StepTime> Out;
  for (size_t I = 0; I < B.Steps.size(); ++I) {
    StepTime T;
    std::sort(Samples[I].begin(), Samples[I].end());
    T.Ms = Samples[I][Samples[I].size() / 2];
    const Step &S = B.Steps[I];
    if (const auto *K = std::get_if<KernelStep>(&S)) {
      T.What =
          P->E->A.Plan.Modules[P->E->A.Plan.Kernels[K->Kernel].Module].Name;
      T.Label = K->Label;
    } else if (const auto *G = std::get_if<GemmStep>(&S)) {
      T.What = "gemm " + std::to_string(G->M) + "x" + std::to_string(G->N) +
               "x" + std::to_string(G->K) +
               (G->Batch > 1 ? " batch " + std::to_string(G->Batch) : "");
      T.Label = G->Label;
    } else {
      T.What = "copy";
      T.Label = std::get<CopyStep>(S).Label;
    }
    Out.push_back(std::move(T));
  }
  return Out;
}

llvm::Expected<ExecutablePlan>
ExecutionContext::autotuneGemms(unsigned Candidates, unsigned Iterations) {
  ExecutablePlan Plan = P->E->A.Plan;
  // Equal GEMMs (same shapes, layouts, types and epilogue) tune once.
  std::map<std::string, std::vector<uint8_t>> Tuned;
  for (size_t B = 0; B < Plan.Buckets.size(); ++B) {
    for (size_t I = 0; I < Plan.Buckets[B].Steps.size(); ++I) {
      auto *S = std::get_if<GemmStep>(&Plan.Buckets[B].Steps[I]);
      if (!S)
        continue;
      std::string Key;
      llvm::raw_string_ostream(Key)
          << S->M << ',' << S->N << ',' << S->K << ',' << S->Batch << ','
          << S->StrideA << ',' << S->StrideB << ',' << S->StrideD << ','
          << S->TransA << S->TransB << ',' << int(S->AType) << int(S->BType)
          << int(S->DType_) << ',' << int(S->Epi) << ',' << S->Alpha;
      auto It = Tuned.find(Key);
      if (It == Tuned.end()) {
        std::vector<cublasLtMatmulAlgo_t> Algos;
        auto G = P->prepare(*S, Candidates, &Algos);
        if (!G)
          return G.takeError();
        float Best = INFINITY;
        cublasLtMatmulAlgo_t BestAlgo = Algos.front();
        for (const cublasLtMatmulAlgo_t &Algo : Algos) {
          auto Run = [&] { return P->matmul(*S, **G, Algo); };
          if (Run() != CUBLAS_STATUS_SUCCESS)
            continue; // an algorithm the heuristic offered but cannot run
          KILN_CUDA(cudaEventRecord(P->Start, P->Stream), "autotuning");
          for (unsigned R = 0; R < Iterations; ++R)
            Run();
          KILN_CUDA(cudaEventRecord(P->Stop, P->Stream), "autotuning");
          KILN_CUDA(cudaEventSynchronize(P->Stop), "autotuning " + S->Label);
          float Ms = 0;
          KILN_CUDA(cudaEventElapsedTime(&Ms, P->Start, P->Stop), "autotuning");
          if (Ms < Best) {
            Best = Ms;
            BestAlgo = Algo;
          }
        }
        std::vector<uint8_t> Bytes(sizeof(BestAlgo));
        std::memcpy(Bytes.data(), &BestAlgo, sizeof(BestAlgo));
        It = Tuned.emplace(Key, std::move(Bytes)).first;
      }
      S->Algo = It->second;
      // This context runs the tuned algorithm from now on.
      std::memcpy(&P->Gemms[B][I]->Algo, S->Algo.data(), S->Algo.size());
    }
    if (P->Graphs[B]) {
      cudaGraphExecDestroy(P->Graphs[B]);
      P->Graphs[B] = nullptr;
    }
  }
  return Plan;
}

llvm::Expected<std::vector<float>>
ExecutionContext::timeBucket(size_t Bucket, unsigned Iterations) {
  if (Bucket >= P->E->A.Plan.Buckets.size())
    return makeError("no bucket " + llvm::Twine(Bucket));
  std::vector<float> Ms;
  for (unsigned I = 0; I < Iterations; ++I) {
    KILN_CUDA(cudaEventRecord(P->Start, P->Stream), "recording an event");
    if (llvm::Error E = P->runBucket(Bucket))
      return std::move(E);
    KILN_CUDA(cudaEventRecord(P->Stop, P->Stream), "recording an event");
    KILN_CUDA(cudaEventSynchronize(P->Stop),
              "running bucket " + llvm::Twine(Bucket));
    float T = 0;
    KILN_CUDA(cudaEventElapsedTime(&T, P->Start, P->Stop), "reading a timer");
    Ms.push_back(T);
  }
  return Ms;
}

} // namespace kiln
