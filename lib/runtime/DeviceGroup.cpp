//===- DeviceGroup.cpp - one model served by several devices --------------===//
#include "runtime/DeviceGroup.h"
#include "runtime/Bucketing.h"
#include "runtime/EngineImpl.h"
#include "runtime/InputRoles.h"

#include "ir/Error.h"

#include <algorithm>
#include <cstring>
#include <future>

namespace kiln {

//===-- Splitting a request over devices ----------------------------------===//

/// Bytes of one row of `Dims` along `BatchDim`, and the count of outer
/// blocks before it.
static std::pair<size_t, int64_t> rowShape(const std::vector<int64_t> &Dims,
                                           int BatchDim, size_t Elem) {
  int64_t Outer = 1, Inner = 1;
  for (int I = 0; I < int(Dims.size()); ++I)
    (I < BatchDim ? Outer : Inner) *= I == BatchDim ? 1 : Dims[I];
  return {size_t(Inner) * Elem, Outer};
}

std::vector<std::vector<HostTensor>>
splitRequest(const ArtifactMetadata &Meta, std::span<const HostTensor> Inputs,
             std::span<const int64_t> Rows) {
  std::vector<std::vector<HostTensor>> Parts(Rows.size());
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const HostTensor &In = Inputs[I];
    int BD = ioRoles(Meta.Inputs[I]).batchDim();
    if (BD < 0 || BD >= int(In.Dims.size())) {
      for (auto &P : Parts)
        P.push_back(In);
      continue;
    }
    auto [RowBytes, Outer] = rowShape(In.Dims, BD, elementSize(In.Type));
    int64_t Row0 = 0;
    for (size_t P = 0; P < Rows.size(); ++P) {
      std::vector<int64_t> Dims = In.Dims;
      Dims[BD] = Rows[P];
      HostTensor T(In.Type, Dims);
      for (int64_t O = 0; O < Outer; ++O)
        std::memcpy(T.Bytes.data() + size_t(O * Rows[P]) * RowBytes,
                    In.Bytes.data() + size_t(O * In.Dims[BD] + Row0) * RowBytes,
                    size_t(Rows[P]) * RowBytes);
      Parts[P].push_back(std::move(T));
      Row0 += Rows[P];
    }
  }
  return Parts;
}

llvm::Expected<std::vector<HostTensor>>
joinOutputs(const ArtifactMetadata &Meta,
            std::vector<std::vector<HostTensor>> Parts) {
  std::vector<HostTensor> Out;
  for (size_t I = 0; I < Parts[0].size(); ++I) {
    int BD = ioRoles(Meta.Outputs[I]).batchDim();
    const HostTensor &First = Parts[0][I];
    if (BD < 0 || BD >= int(First.Dims.size())) {
      Out.push_back(std::move(Parts[0][I]));
      continue;
    }
    std::vector<int64_t> Dims = First.Dims;
    Dims[BD] = 0;
    for (auto &P : Parts)
      Dims[BD] += P[I].Dims[BD];
    HostTensor T(First.Type, Dims);
    auto [RowBytes, Outer] = rowShape(Dims, BD, elementSize(First.Type));
    int64_t Row0 = 0;
    for (auto &P : Parts) {
      int64_t Rows = P[I].Dims[BD];
      for (int64_t O = 0; O < Outer; ++O)
        std::memcpy(T.Bytes.data() + size_t(O * Dims[BD] + Row0) * RowBytes,
                    P[I].Bytes.data() + size_t(O * Rows) * RowBytes,
                    size_t(Rows) * RowBytes);
      Row0 += Rows;
    }
    Out.push_back(std::move(T));
  }
  return Out;
}

//===-- Setting up --------------------------------------------------------===//

/// How physical device `From` reaches `To`: peer access (enabled here) or
/// copies staged through pinned host memory.
static llvm::Expected<std::string> enablePeer(int From, int To) {
  if (From == To)
    return "same device";
  int Can = 0;
  KILN_CUDA(cudaDeviceCanAccessPeer(&Can, From, To),
            "checking peer access from device " + llvm::Twine(From) + " to " +
                llvm::Twine(To));
  if (!Can)
    return "host-staged";
  KILN_CUDA(cudaSetDevice(From), "selecting device " + llvm::Twine(From));
  cudaError_t E = cudaDeviceEnablePeerAccess(To, 0);
  if (E == cudaErrorPeerAccessAlreadyEnabled)
    cudaGetLastError(); // enabled by an earlier engine: clear the status
  else
    KILN_CUDA(E, "enabling peer access from device " + llvm::Twine(From) +
                     " to " + llvm::Twine(To));
  return "peer";
}

/// `T` filled with ones of its type (a made-up attention mask).
static void fillOnes(HostTensor &T) {
  size_t N = size_t(T.numElements()), Size = elementSize(T.Type);
  for (size_t I = 0; I < N; ++I) {
    uint8_t *P = T.Bytes.data() + I * Size;
    switch (T.Type) {
    case ElementType::F32: {
      float One = 1;
      std::memcpy(P, &One, 4);
      break;
    }
    case ElementType::I64: {
      int64_t One = 1;
      std::memcpy(P, &One, 8);
      break;
    }
    case ElementType::I32: {
      int32_t One = 1;
      std::memcpy(P, &One, 4);
      break;
    }
    default: P[0] = 1; break; // bool and 8-bit integers
    }
  }
}

llvm::Expected<std::unique_ptr<DeviceGroup>>
DeviceGroup::create(const Artifact &A, const EngineOptions &Options) {
  std::unique_ptr<DeviceGroup> G(new DeviceGroup(A, Options));
  if (llvm::Error E = G->init())
    return std::move(E);
  return std::move(G);
}

llvm::Expected<std::unique_ptr<Engine>>
DeviceGroup::makeEngine(const Artifact &Of, int Logical) {
  EngineOptions O = Opts;
  O.Devices.clear();
  O.Faults.clear();
  O.Device = Opts.Devices[Logical];
  auto E = createEngine(Of, O);
  if (!E)
    return withDevice(E.takeError(), Logical);
  setFaultInjector(**E, Injectors[Logical]);
  std::lock_guard<std::mutex> Lock(MadeMutex);
  Made.push_back(E->get());
  return E;
}

llvm::Error DeviceGroup::init() {
  const std::vector<int> &Devs = Opts.Devices;
  size_t N = Devs.size();
  std::string Why;
  if (!gpuAvailable(&Why))
    return makeError(Why);
  int Count = 0;
  KILN_CUDA(cudaGetDeviceCount(&Count), "counting devices");
  for (size_t I = 0; I < N; ++I)
    if (Devs[I] < 0 || Devs[I] >= Count)
      return makeError("logical device " + llvm::Twine(I) + " is device " +
                       llvm::Twine(Devs[I]) + ", which does not exist (" +
                       llvm::Twine(Count) + " found)");
  if (Opts.ContextsPerDevice == 0)
    return makeError("ContextsPerDevice must be at least 1");
  auto Faults = engineFaultInjections(Opts.Faults, N);
  if (!Faults)
    return Faults.takeError();
  for (size_t I = 0; I < N; ++I) {
    std::vector<FaultInjection> Mine;
    for (const FaultInjection &F : *Faults)
      if (F.Device == int(I))
        Mine.push_back(F);
    Injectors.push_back(std::make_shared<FaultInjector>(int(I), Mine));
  }

  // Peer access between each pair of physical devices, said per device.
  Links.assign(N, "");
  for (size_t I = 0; I < N; ++I)
    for (size_t J = 0; J < N; ++J) {
      if (I == J)
        continue;
      auto How = enablePeer(Devs[I], Devs[J]);
      if (!How)
        return withDevice(How.takeError(), int(I));
      Links[I] +=
          (Links[I].empty() ? "" : ", ") + std::to_string(J) + ": " + *How;
    }

  bool PipelineArtifact =
      A.Partition && A.Partition->Kind == PartitionPlan::Mode::Pipeline;
  Mode = Opts.Partition == PartitionMode::FromArtifact
             ? (PipelineArtifact ? PartitionMode::Pipeline
                                 : PartitionMode::Replicate)
             : Opts.Partition;
  DeviceEngineFactory Factory = [this](const Artifact &Of, int Logical) {
    return makeEngine(Of, Logical);
  };
  std::vector<FailoverRoute> FRoutes;
  auto AddWhole = [&](int D, unsigned Tier) {
    Route R;
    R.Devices = {D};
    R.Make = [this, D, Factory] {
      return createWholeModelPlacement(A, D, Factory);
    };
    WholeRoute[D] = Routes.size();
    Routes.push_back(std::move(R));
    FRoutes.push_back({{D}, Opts.ContextsPerDevice, Tier});
  };
  WholeRoute.assign(N, 0);
  if (Mode == PartitionMode::Pipeline) {
    if (!PipelineArtifact)
      return makeError("pipeline mode needs an artifact compiled with "
                       "--partition pipeline; this one runs whole on each "
                       "device (use replicate)");
    if (A.Stages.size() != N)
      return makeError("the artifact's pipeline has " +
                       llvm::Twine(A.Stages.size()) + " stages; " +
                       llvm::Twine(N) + " devices were given");
    Route R;
    for (size_t I = 0; I < N; ++I)
      R.Devices.push_back(int(I));
    R.Make = [this, Factory, Ds = R.Devices] {
      return createPipelinePlacement(A, Ds, Factory);
    };
    Routes.push_back(std::move(R));
    FRoutes.push_back({Routes[0].Devices, Opts.ContextsPerDevice, 0});
    for (size_t I = 0; I < N; ++I)
      AddWhole(int(I), 1);
  } else {
    for (size_t I = 0; I < N; ++I)
      AddWhole(int(I), 0);
  }
  for (Route &R : Routes)
    R.Lanes.resize(FRoutes[&R - Routes.data()].Lanes);
  ProbeExec.resize(N);

  // The first tier is made now, so a device that cannot load the model
  // fails the engine's load; the pipeline's fallbacks are made on first
  // use (their weights are not uploaded unless a device fails).
  for (size_t I = 0; I < Routes.size(); ++I) {
    if (FRoutes[I].Tier != 0)
      continue;
    for (unsigned L = 0; L < FRoutes[I].Lanes; ++L)
      if (auto X = lane(I, L); !X)
        return X.takeError();
  }

  const BucketPlan *Small = &A.Plan.Buckets.front();
  for (const BucketPlan &B : paddedBuckets(A.Plan.Buckets)) {
    if (B.Batch * std::max<int64_t>(B.Seq, 1) <
        Small->Batch * std::max<int64_t>(Small->Seq, 1))
      Small = &B;
    SplitRows = std::max(SplitRows, B.Batch);
  }
  std::vector<IoRoles> Roles = inputRoles(A.Meta);
  for (size_t I = 0; I < Small->Inputs.size(); ++I) {
    ProbeInputs.emplace_back(toElementType(Small->Inputs[I].Type),
                             Small->Inputs[I].Dims);
    if (Roles[I].AttentionMask)
      fillOnes(ProbeInputs.back());
  }

  F = std::make_unique<Failover>(unsigned(N), std::move(FRoutes),
                                 [this](int D) { return probe(D); });
  Prober = std::make_unique<FailoverProber>(*F);
  return llvm::Error::success();
}

// The prober goes first: its probes use the routes and executors.
DeviceGroup::~DeviceGroup() { Prober.reset(); }

//===-- Running -----------------------------------------------------------===//

llvm::Error DeviceGroup::placeRoute(Route &R) {
  std::lock_guard<std::mutex> Lock(*R.MakeMutex);
  if (R.P)
    return llvm::Error::success();
  auto P = R.Make();
  if (!P)
    return P.takeError();
  R.P = std::move(*P);
  return llvm::Error::success();
}

llvm::Expected<Executor *> DeviceGroup::lane(size_t RouteIndex, unsigned Lane) {
  Route &R = Routes[RouteIndex];
  if (!R.Lanes[Lane]) {
    if (llvm::Error E = placeRoute(R))
      return std::move(E);
    auto X = R.P->createExecutor();
    if (!X)
      return X.takeError();
    R.Lanes[Lane] = std::move(*X);
  }
  return R.Lanes[Lane].get();
}

llvm::Error DeviceGroup::probe(int Logical) {
  // Failover probes a device from one thread at a time; requests use the
  // lanes, never this executor, so it is the probe's alone.
  std::unique_ptr<Executor> &X = ProbeExec[Logical];
  if (!X) {
    Route &R = Routes[WholeRoute[Logical]];
    if (llvm::Error E = placeRoute(R))
      return E;
    auto Made = R.P->createExecutor();
    if (!Made)
      return Made.takeError();
    X = std::move(*Made);
  }
  auto Out = X->run(ProbeInputs);
  if (!Out)
    return withDevice(Out.takeError(), Logical);
  return llvm::Error::success();
}

llvm::Expected<std::vector<HostTensor>>
DeviceGroup::runWhole(std::span<const HostTensor> Inputs, RunInfo *Info) {
  std::vector<HostTensor> Out;
  double Copy = 0;
  Failover::RunInfo FI;
  llvm::Error E = F->run(
      [&](size_t Route, unsigned Lane) -> llvm::Error {
        auto X = lane(Route, Lane);
        if (!X)
          return X.takeError();
        auto R = (*X)->run(Inputs);
        if (!R)
          return R.takeError();
        Out = std::move(*R);
        Copy = (*X)->lastCopySeconds();
        return llvm::Error::success();
      },
      &FI);
  if (Info)
    *Info = {FI.Attempts ? Routes[FI.Route].Devices[0] : -1, FI.Attempts, 1,
             Copy};
  if (E)
    return std::move(E);
  return Out;
}

llvm::Expected<std::vector<HostTensor>>
DeviceGroup::run(std::span<const HostTensor> Inputs, RunInfo *Info) {
  // A batch large enough that every device up gets at least the largest
  // bucket is split over them (replicate only: a pipeline already keeps
  // every device busy with micro-batches).
  unsigned Up = 0;
  for (const DeviceState &S : F->states())
    Up += S.Health == DeviceHealth::Up;
  int64_t Batch = -1;
  if (Mode == PartitionMode::Replicate && Up > 1 && SplitRows > 0 &&
      Inputs.size() == A.Meta.Inputs.size()) {
    std::vector<std::vector<int64_t>> Dims;
    for (const HostTensor &T : Inputs)
      Dims.push_back(T.Dims);
    if (auto Size = requestSize(A.Meta, Dims))
      Batch = Size->Batch;
    else
      llvm::consumeError(Size.takeError()); // the executor will say why
  }
  int64_t Parts = Batch > 0 ? std::min<int64_t>(Up, Batch / SplitRows) : 1;
  if (Parts < 2)
    return runWhole(Inputs, Info);

  std::vector<int64_t> Rows(size_t(Parts), Batch / Parts);
  for (int64_t I = 0; I < Batch % Parts; ++I)
    ++Rows[size_t(I)];
  auto PartInputs = splitRequest(A.Meta, Inputs, Rows);
  std::vector<RunInfo> Infos(PartInputs.size());
  std::vector<std::future<llvm::Expected<std::vector<HostTensor>>>> Futures;
  for (size_t P = 1; P < PartInputs.size(); ++P)
    Futures.push_back(std::async(std::launch::async, [&, P] {
      return runWhole(PartInputs[P], &Infos[P]);
    }));
  std::vector<std::vector<HostTensor>> Outs;
  llvm::Error Err = llvm::Error::success();
  auto Take = [&](llvm::Expected<std::vector<HostTensor>> R) {
    if (!R)
      Err = llvm::joinErrors(std::move(Err), R.takeError());
    else
      Outs.push_back(std::move(*R));
  };
  Take(runWhole(PartInputs[0], &Infos[0]));
  for (auto &Fu : Futures)
    Take(Fu.get());
  if (Info) {
    *Info = Infos[0];
    Info->Parts = unsigned(Parts);
    for (const RunInfo &I : llvm::ArrayRef(Infos).drop_front()) {
      Info->Attempts = std::max(Info->Attempts, I.Attempts);
      Info->CopySeconds += I.CopySeconds;
    }
  }
  if (Err)
    return std::move(Err);
  return joinOutputs(A.Meta, std::move(Outs));
}

EngineMemory DeviceGroup::memory() const {
  std::lock_guard<std::mutex> Lock(MadeMutex);
  EngineMemory M;
  for (const Engine *E : Made) {
    EngineMemory One = E->memory();
    M.WeightBytes += One.WeightBytes;
    M.JitWeightBytes += One.JitWeightBytes;
    M.ArenaBytes = std::max(M.ArenaBytes, One.ArenaBytes);
    M.WorkspaceBytes = std::max(M.WorkspaceBytes, One.WorkspaceBytes);
  }
  return M;
}

std::vector<DeviceState> DeviceGroup::devices() const {
  std::vector<DeviceState> S = F->states();
  for (size_t I = 0; I < S.size(); ++I) {
    S[I].Physical = Opts.Devices[I];
    S[I].Links = Links[I];
  }
  return S;
}

llvm::Error runOnGroup(DeviceGroup &G, std::span<const TensorView> Inputs,
                       std::span<const TensorView> Outputs,
                       DeviceGroup::RunInfo *Info) {
  std::vector<HostTensor> In;
  for (const TensorView &V : Inputs) {
    if (V.OnDevice)
      return makeError("a multi-device engine takes inputs and outputs in "
                       "host memory (each device copies its own)");
    HostTensor T(V.Type, V.Dims);
    std::memcpy(T.Bytes.data(), V.Data, T.Bytes.size());
    In.push_back(std::move(T));
  }
  for (const TensorView &V : Outputs)
    if (V.OnDevice)
      return makeError("a multi-device engine takes inputs and outputs in "
                       "host memory (each device copies its own)");
  auto Out = G.run(In, Info);
  if (!Out)
    return Out.takeError();
  if (Out->size() != Outputs.size())
    return makeError("expected " + llvm::Twine(Out->size()) +
                     " output views, got " + llvm::Twine(Outputs.size()));
  for (size_t I = 0; I < Outputs.size(); ++I) {
    if ((*Out)[I].Dims != Outputs[I].Dims || (*Out)[I].Type != Outputs[I].Type)
      return makeError("output " + llvm::Twine(I) +
                       " view has the wrong shape or dtype");
    std::memcpy(Outputs[I].Data, (*Out)[I].Bytes.data(),
                (*Out)[I].Bytes.size());
  }
  return llvm::Error::success();
}

PartitionMode enginePartitionMode(const Engine &E) {
  Engine::Impl &I = Engine::Impl::of(E);
  return I.Group ? I.Group->mode() : PartitionMode::Replicate;
}

DeviceGroup::RunInfo lastRunInfo(const ExecutionContext &Ctx) {
  return ExecutionContext::Impl::of(Ctx).LastGroupRun;
}

} // namespace kiln
