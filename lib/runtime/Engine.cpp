//===- Engine.cpp - kiln's GPU runtime: loading an artifact ---------------===//
//
// The CUDA runtime API (linked statically) and cuBLASLt, nothing else: no
// NVRTC, no driver library at link time, so a binary without a GPU starts
// and reports "no CUDA device". This file loads the kernels and uploads the
// weights; ExecutionContext.cpp runs requests.
//
//===----------------------------------------------------------------------===//
#include "runtime/EngineImpl.h"

#include "ir/Error.h"
#include "runtime/Bucketing.h"
#include "runtime/InputRoles.h"

#include <algorithm>

namespace kiln {

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

Engine::Impl::~Impl() {
  cudaSetDevice(Options.Device);
  for (cudaLibrary_t L : Libraries)
    cudaLibraryUnload(L);
  if (Weights)
    cudaFree(Weights);
  if (Lt)
    cublasLtDestroy(Lt);
}

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
  Programmatic = Options.ProgrammaticLaunch && Prop.major >= 9 &&
                 A.Meta.KernelsWaitForPredecessor;
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
  std::vector<IoRoles> Roles = inputRoles(A.Meta);
  for (size_t I = 0; I < Roles.size(); ++I)
    if (Roles[I].AttentionMask && MaskInput < 0 && Roles[I].Dims.size() == 2 &&
        Roles[I].batchDim() == 0 && Roles[I].seqDim() == 1)
      MaskInput = int(I);
  // Raise the dynamic shared-memory limit where a launch needs more than
  // the default 48 KiB.
  std::vector<uint32_t> MaxShared(Kernels.size(), 0);
  for (const BucketPlan &B : A.Plan.Buckets) {
    PredictedMs.push_back(predictedMs(B));
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
  Info = modelInfo(A.Meta, A.Plan);
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
  I->Fault = Fault;
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
Engine::load(const std::string &Path, const EngineOptions &Options) {
  auto A = readArtifact(Path);
  if (!A)
    return A.takeError();
  return createEngine(std::move(*A), Options);
}

llvm::Expected<std::unique_ptr<Engine>>
createEngine(Artifact A, const EngineOptions &Options) {
  return Engine::Impl::create(std::move(A), Options);
}

llvm::Expected<std::unique_ptr<Engine>>
Engine::Impl::create(Artifact A, const EngineOptions &Options) {
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
  if (!Options.Devices.empty()) {
    I->Info = modelInfo(I->A.Meta, I->A.Plan);
    auto G = DeviceGroup::create(I->A, I->Options);
    if (!G)
      return G.takeError();
    I->Group = std::move(*G);
  } else if (llvm::Error E = I->init()) {
    return std::move(E);
  }
  return std::unique_ptr<Engine>(new Engine(std::move(I)));
}

std::vector<DeviceState> Engine::devices() const {
  if (P->Group)
    return P->Group->devices();
  DeviceState S;
  S.Physical = P->Options.Device;
  return {S};
}

void setFaultInjector(Engine &E, std::shared_ptr<FaultInjector> F) {
  Engine::Impl::of(E).Fault = std::move(F);
}

const ModelInfo &Engine::model() const { return P->Info; }

const ArtifactMetadata &engineMetadata(const Engine &E) {
  return Engine::Impl::of(E).A.Meta;
}
const std::vector<double> &enginePredictedMs(const Engine &E) {
  return Engine::Impl::of(E).PredictedMs;
}

const ExecutablePlan &enginePlan(const Engine &E) {
  return Engine::Impl::of(E).A.Plan;
}

unsigned Engine::jitShapes() const {
  std::lock_guard<std::mutex> Lock(P->JitMutex);
  return unsigned(P->Jit.size());
}

EngineMemory Engine::memory() const {
  if (P->Group)
    return P->Group->memory();
  EngineMemory M{P->OwnWeightBytes, P->MaxArena, GemmWorkspaceBytes, 0};
  std::lock_guard<std::mutex> Lock(P->JitMutex);
  for (const auto &[Shape, E] : P->Jit)
    M.JitWeightBytes += E->P->OwnWeightBytes;
  return M;
}

} // namespace kiln
