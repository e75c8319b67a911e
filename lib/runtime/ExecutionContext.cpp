//===- ExecutionContext.cpp - kiln's GPU runtime: running requests --------===//
//
// A context prepares its GEMMs, launches a bucket's steps (or replays the
// bucket's CUDA graph), and fits requests to buckets: it pads and splits
// them (Bucketing.h) and sends shapes without a bucket to the engines
// compiled on demand.
//
//===----------------------------------------------------------------------===//
#include "runtime/EngineImpl.h"

#include "ir/Error.h"
#include "runtime/Bucketing.h"
#include "runtime/CutlassGemm.h"
#include "runtime/InputChecks.h"
#include "runtime/InputRoles.h"

#include <algorithm>
#include <cstring>

namespace kiln {

//===-- ExecutionContext --------------------------------------------------===//

llvm::Error ExecutionContext::Impl::singleDeviceOnly(const char *What) const {
  if (!E->Group)
    return llvm::Error::success();
  return makeError(llvm::Twine(What) +
                   " needs a single-device engine; this one runs over " +
                   llvm::Twine(E->Options.Devices.size()) + " devices");
}

ExecutionContext::Impl::~Impl() {
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
  if (FaultHost)
    cudaFreeHost(FaultHost);
  if (Fault)
    cudaFree(Fault);
  if (Workspace)
    cudaFree(Workspace);
  if (Arena)
    cudaFree(Arena);
  if (Stream)
    cudaStreamDestroy(Stream);
}

llvm::Error ExecutionContext::Impl::init() {
  KILN_CUDA(cudaSetDevice(E->Options.Device), "selecting the device");
  KILN_CUDA(cudaStreamCreateWithFlags(&Stream, cudaStreamNonBlocking),
            "creating a stream");
  if (E->MaxArena)
    KILN_CUDA(cudaMalloc(&Arena, E->MaxArena),
              "allocating the arena (" + llvm::Twine(E->MaxArena) + " bytes)");
  KILN_CUDA(cudaMalloc(&Workspace, GemmWorkspaceBytes),
            "allocating the cuBLASLt workspace");
  KILN_CUDA(cudaMallocHost(reinterpret_cast<void **>(&Staging),
                           std::max<uint64_t>(E->MaxStaging, 1)),
            "allocating pinned staging memory");
  KILN_CUDA(cudaMalloc(&Fault, IndexFaultBytes),
            "allocating the index fault record");
  KILN_CUDA(cudaMemset(Fault, 0, IndexFaultBytes),
            "clearing the index fault record");
  KILN_CUDA(
      cudaMallocHost(reinterpret_cast<void **>(&FaultHost), IndexFaultBytes),
      "allocating pinned memory for the index fault record");
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
      cudaLaunchConfig_t Config = {};
      Config.gridDim = dim3(K->Grid[0], K->Grid[1], K->Grid[2]);
      Config.blockDim = dim3(K->Block[0], K->Block[1], K->Block[2]);
      Config.dynamicSmemBytes = K->SharedBytes;
      Config.stream = Stream;
      // Scheduled while its predecessor finishes: the kernel waits for it
      // (wait_for_predecessor) before it touches memory.
      cudaLaunchAttribute Pdl = {};
      Pdl.id = cudaLaunchAttributeProgrammaticStreamSerialization;
      Pdl.val.programmaticStreamSerializationAllowed = 1;
      if (E->Programmatic) {
        Config.attrs = &Pdl;
        Config.numAttrs = 1;
      }
      KILN_CUDA(cudaLaunchKernelExC(
                    &Config,
                    reinterpret_cast<const void *>(E->Kernels[K->Kernel]),
                    ArgPtrs.data()),
                "launching " + E->A.Plan.Kernels[K->Kernel].LoweredName +
                    " for " + K->Label);
    } else if (const auto *G = std::get_if<GemmStep>(&S)) {
      if (runsOnCutlass(G->Epi)) {
        if (llvm::Error Err = runCutlassGemm(
                *G, address(G->A), address(G->B), address(G->Bias),
                hasResidual(G->Epi) ? address(G->C) : nullptr, address(G->D),
                Workspace, GemmWorkspaceBytes, Stream, CutlassTile::Auto,
                E->Programmatic))
          return Err;
        continue;
      }
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
  if (E->Fault)
    if (llvm::Error Err = E->Fault->onLaunch())
      return Err;
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

/// The error a kernel reported to the fault record `Host` (a copy on the
/// host), in the reference executor's words; success when it holds none.
static llvm::Error faultError(const ArtifactMetadata &Meta,
                              const uint8_t *Host) {
  int32_t Set, Check;
  int64_t Value;
  std::memcpy(&Set, Host, 4);
  std::memcpy(&Check, Host + 4, 4);
  std::memcpy(&Value, Host + 8, 8);
  if (!Set)
    return llvm::Error::success();
  if (Check < 0 || size_t(Check) >= Meta.IndexChecks.size())
    return makeError("a kernel reported index " + llvm::Twine(Value) +
                     " out of range for index check " + llvm::Twine(Check) +
                     ", which the artifact does not have");
  return makeError(indexErrorMessage(Meta.IndexChecks[Check], Value));
}

llvm::Error
ExecutionContext::Impl::runChunk(size_t Bucket,
                                 std::span<const TensorView> Inputs,
                                 std::span<const TensorView> Outputs,
                                 int64_t Row0, int64_t Rows, bool ReadFaults) {
  const BucketPlan &B = E->A.Plan.Buckets[Bucket];
  const ArtifactMetadata &Meta = E->A.Meta;
  uint64_t StagingOffset = 0;
  for (size_t I = 0; I < B.Inputs.size(); ++I) {
    const IoBinding &Bind = B.Inputs[I];
    const TensorView &In = Inputs[I];
    int BatchDim = ioRoles(Meta.Inputs[I]).batchDim();
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
            BatchDim, Row0, Rows, dtypeSize(Bind.Type), /*ToBucket=*/true,
            /*ZeroRows=*/B.Tokens > 0);
    KILN_CUDA(cudaMemcpyAsync(Dst, Stage, Bind.Buffer.Bytes,
                              cudaMemcpyHostToDevice, Stream),
              "copying input '" + Bind.Name + "'");
  }
  if (ReadFaults)
    KILN_CUDA(cudaMemsetAsync(Fault, 0, IndexFaultBytes, Stream),
              "clearing the index fault record");
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
  if (ReadFaults)
    KILN_CUDA(cudaMemcpyAsync(FaultHost, Fault, IndexFaultBytes,
                              cudaMemcpyDeviceToHost, Stream),
              "reading the index fault record");
  KILN_CUDA(cudaStreamSynchronize(Stream),
            "running bucket batch=" + llvm::Twine(B.Batch) +
                " seq=" + llvm::Twine(B.Seq) +
                (B.Tokens ? " tokens=" + llvm::Twine(B.Tokens) : ""));
  if (ReadFaults)
    if (llvm::Error Err = faultError(Meta, FaultHost))
      return Err;
  for (auto [I, Stage] : HostOutputs) {
    const IoBinding &Bind = B.Outputs[I];
    int BatchDim = ioRoles(Meta.Outputs[I]).batchDim();
    copyBox(Stage, static_cast<uint8_t *>(Outputs[I].Data), Bind.Dims,
            Outputs[I].Dims, BatchDim, Row0, Rows, dtypeSize(Bind.Type),
            /*ToBucket=*/false);
  }
  return llvm::Error::success();
}

/// The request's values that index tables, checked against their tables
/// (InputChecks.h). Host inputs are checked here, before the run. Device
/// views are checked by the kernels that gather with them, which report to
/// the context's fault record (read by runChunk: returns true when it must
/// be); an artifact whose kernels do not report them all (made before they
/// did) has its device views read back and checked here.
static llvm::Expected<bool> checkIndices(const ArtifactMetadata &Meta,
                                         cudaStream_t Stream,
                                         std::span<const TensorView> Inputs) {
  if (Meta.IndexChecks.empty())
    return false;
  bool ReadFaults = false;
  std::vector<IndexInput> Views(Inputs.size());
  std::vector<std::vector<uint8_t>> Copies(Inputs.size());
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const TensorView &In = Inputs[I];
    int64_t Count = 1;
    for (int64_t D : In.Dims)
      Count *= D;
    DType T = toDType(In.Type);
    bool Indexes = false, Reported = true;
    for (const IndexCheck &C : Meta.IndexChecks)
      if (C.Input == Meta.Inputs[I].Name) {
        Indexes = true;
        Reported &= C.ReportedOnDevice;
      }
    if (!Indexes || !isInteger(T) || Count == 0)
      continue;
    const void *Data = In.Data;
    if (In.OnDevice && Reported) {
      ReadFaults = true;
      continue;
    }
    if (In.OnDevice) {
      Copies[I].resize(size_t(Count) * dtypeSize(T));
      KILN_CUDA(cudaMemcpyAsync(Copies[I].data(), In.Data, Copies[I].size(),
                                cudaMemcpyDeviceToHost, Stream),
                "reading input '" + Meta.Inputs[I].Name + "' to check it");
      KILN_CUDA(cudaStreamSynchronize(Stream),
                "reading input '" + Meta.Inputs[I].Name + "' to check it");
      Data = Copies[I].data();
    }
    Views[I] = {Data, T, Count};
  }
  if (llvm::Error E = checkIndexInputs(Meta, Views))
    return std::move(E);
  return ReadFaults;
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> I) : P(std::move(I)) {}
ExecutionContext::~ExecutionContext() = default;

llvm::Expected<std::unique_ptr<ExecutionContext>> Engine::createContext() {
  auto I = std::make_unique<ExecutionContext::Impl>();
  I->E = P.get();
  if (llvm::Error E = P->Group ? llvm::Error::success() : I->init())
    return std::move(E);
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(I)));
}

llvm::Expected<std::vector<std::vector<int64_t>>>
ExecutionContext::outputShapes(
    std::span<const std::vector<int64_t>> InputDims) const {
  const ArtifactMetadata &Meta = P->E->A.Meta;
  auto Size = requestSize(Meta, {InputDims.data(), InputDims.size()});
  if (!Size)
    return Size.takeError();
  return requestOutputShapes(Meta, P->E->A.Plan.Buckets.front(), *Size);
}

llvm::Error ExecutionContext::run(std::span<const TensorView> Inputs,
                                  std::span<const TensorView> Outputs) {
  if (P->E->Group)
    return runOnGroup(*P->E->Group, Inputs, Outputs, &P->LastGroupRun);
  const ArtifactMetadata &Meta = P->E->A.Meta;
  const auto &AllBuckets = P->E->A.Plan.Buckets;
  llvm::ArrayRef<BucketPlan> Buckets = paddedBuckets(AllBuckets);
  std::vector<std::vector<int64_t>> InDims;
  for (const TensorView &V : Inputs)
    InDims.push_back(V.Dims);
  auto Size = requestSize(Meta, InDims);
  if (!Size)
    return Size.takeError();
  int64_t Batch = Size->Batch, Seq = Size->Seq;
  for (size_t I = 0; I < Inputs.size(); ++I)
    if (toDType(Inputs[I].Type) != Meta.Inputs[I].Type)
      return makeError("input '" + Meta.Inputs[I].Name + "' must be " +
                       dtypeName(Meta.Inputs[I].Type) + ", got " +
                       dtypeName(toDType(Inputs[I].Type)));
  if (Outputs.size() != Meta.Outputs.size())
    return makeError("expected " + llvm::Twine(Meta.Outputs.size()) +
                     " outputs, got " + llvm::Twine(Outputs.size()));
  auto Shapes = outputShapes(InDims);
  if (!Shapes)
    return Shapes.takeError();
  for (size_t I = 0; I < Outputs.size(); ++I)
    if (Outputs[I].Dims != (*Shapes)[I] ||
        toDType(Outputs[I].Type) != Meta.Outputs[I].Type)
      return makeError("output '" + Meta.Outputs[I].Name +
                       "' view has the wrong shape or dtype");
  if (Batch == 0)
    return llvm::Error::success();
  // What the reference executor would refuse, refused before any work.
  if (llvm::Error E = checkSequenceLength(Meta, Seq))
    return E;
  auto ReadFaults = checkIndices(Meta, P->Stream, Inputs);
  if (!ReadFaults)
    return ReadFaults.takeError();

  // A shape without a bucket of its own runs on a plan compiled for it,
  // when the engine can compile one.
  if (!hasExactBucket(Buckets, *Size) && P->E->Options.JitCompiler &&
      Batch > 0) {
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
  auto SeqBucket = chooseSeqBucket(Meta, Buckets, Seq);
  if (!SeqBucket)
    return SeqBucket.takeError();
  // Packed-token buckets serve host requests whose mask the host can read.
  const TensorView *Mask = nullptr;
  if (P->E->Options.PackTokens && AllBuckets.size() > Buckets.size() &&
      P->E->MaskInput >= 0 && Seq > 0) {
    Mask = &Inputs[size_t(P->E->MaskInput)];
    for (const TensorView &V : Inputs)
      if (V.OnDevice)
        Mask = nullptr;
  }
  // Split the batch over the largest bucket, run the rest in the smallest
  // that fits.
  int64_t Done = 0, Total = Batch < 0 ? 1 : Batch;
  P->LastBuckets.clear();
  while (Done < Total) {
    int64_t Left = Total - Done;
    size_t Best = chooseBatchBucket(Buckets, Seq, *SeqBucket, Left);
    int64_t Rows =
        std::min<int64_t>(Left, std::max<int64_t>(Buckets[Best].Batch, 1));
    if (Mask) {
      int64_t Tokens =
          maskedTokens(Mask->Data, toDType(Mask->Type), Seq, Done, Rows);
      if (Tokens >= 0)
        Best = choosePackedBucket(AllBuckets, P->E->PredictedMs, Best, Tokens,
                                  P->E->Options.PackTokensAlways);
    }
    P->LastBuckets.push_back(Best);
    if (llvm::Error E =
            P->runChunk(Best, Inputs, Outputs, Done, Rows, *ReadFaults))
      return E;
    Done += Rows;
  }
  return llvm::Error::success();
}

/// A HostTensor's fields are the caller's: its bytes must be as many as its
/// dims and type say before the runtime reads them.
static llvm::Error checkBytes(const HostTensor &T, const std::string &What) {
  size_t Want = size_t(T.numElements()) * elementSize(T.Type);
  if (T.Bytes.size() == Want)
    return llvm::Error::success();
  return makeError(What + " holds " + llvm::Twine(T.Bytes.size()) +
                   " bytes; its dims and type need " + llvm::Twine(Want));
}

/// The output shapes of a request of host tensors with these dims, after
/// checking their count.
static llvm::Expected<std::vector<std::vector<int64_t>>>
hostOutputShapes(const ExecutionContext &Ctx, const ArtifactMetadata &Meta,
                 const std::vector<std::vector<int64_t>> &InDims) {
  if (InDims.size() != Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(InDims.size()));
  return Ctx.outputShapes(InDims);
}

llvm::Expected<std::vector<HostTensor>>
ExecutionContext::run(std::span<const HostTensor> Inputs) {
  if (P->E->Group)
    return P->E->Group->run(Inputs, &P->LastGroupRun);
  const ArtifactMetadata &Meta = P->E->A.Meta;
  std::vector<TensorView> In;
  std::vector<std::vector<int64_t>> InDims;
  for (const HostTensor &T : Inputs) {
    if (llvm::Error E = checkBytes(T, "input " + std::to_string(In.size())))
      return E;
    In.push_back(T.view());
    InDims.push_back(T.Dims);
  }
  auto Shapes = hostOutputShapes(*this, Meta, InDims);
  if (!Shapes)
    return Shapes.takeError();
  std::vector<HostTensor> Outs;
  Outs.reserve(Shapes->size()); // the views point into their bytes
  std::vector<TensorView> OutViews;
  for (size_t I = 0; I < Shapes->size(); ++I) {
    Outs.emplace_back(toElementType(Meta.Outputs[I].Type), (*Shapes)[I]);
    OutViews.push_back(Outs.back().view());
  }
  if (llvm::Error E = run(In, OutViews))
    return std::move(E);
  return std::move(Outs);
}

const std::vector<size_t> &lastBuckets(const ExecutionContext &Ctx) {
  return ExecutionContext::Impl::of(Ctx).LastBuckets;
}

llvm::Expected<std::vector<Tensor>> runTensors(ExecutionContext &Ctx,
                                               llvm::ArrayRef<Tensor> Inputs) {
  const ArtifactMetadata &Meta = ExecutionContext::Impl::of(Ctx).E->A.Meta;
  std::vector<TensorView> In;
  std::vector<std::vector<int64_t>> InDims;
  for (const Tensor &T : Inputs) {
    In.push_back({const_cast<uint8_t *>(T.bytes()), toElementType(T.dtype()),
                  T.sizes().vec(), false});
    InDims.push_back(T.sizes().vec());
  }
  auto Shapes = hostOutputShapes(Ctx, Meta, InDims);
  if (!Shapes)
    return Shapes.takeError();
  std::vector<Tensor> Outs;
  std::vector<TensorView> OutViews;
  for (size_t I = 0; I < Shapes->size(); ++I) {
    Outs.emplace_back(Meta.Outputs[I].Type, (*Shapes)[I]);
    OutViews.push_back({Outs.back().mutableBytes(),
                        toElementType(Outs.back().dtype()), (*Shapes)[I],
                        false});
  }
  if (llvm::Error E = Ctx.run(In, OutViews))
    return std::move(E);
  return std::move(Outs);
}

llvm::Error ExecutionContext::stage(size_t Bucket,
                                    std::span<const HostTensor> Inputs) {
  if (llvm::Error E = P->singleDeviceOnly("staging a bucket"))
    return E;
  const auto &Buckets = P->E->A.Plan.Buckets;
  if (Bucket >= Buckets.size())
    return makeError("no bucket " + llvm::Twine(Bucket));
  const BucketPlan &B = Buckets[Bucket];
  if (Inputs.size() != B.Inputs.size())
    return makeError("expected " + llvm::Twine(B.Inputs.size()) + " inputs");
  // Timed runs read no fault record: what they stage is checked here, as a
  // request would be.
  std::vector<IndexInput> Views;
  for (const HostTensor &T : Inputs)
    Views.push_back({T.Bytes.data(), toDType(T.Type),
                     int64_t(T.Bytes.size() / elementSize(T.Type))});
  if (llvm::Error E = checkIndexInputs(P->E->A.Meta, Views))
    return E;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (Inputs[I].Dims != B.Inputs[I].Dims ||
        toDType(Inputs[I].Type) != B.Inputs[I].Type)
      return makeError("input '" + B.Inputs[I].Name +
                       "' does not have the bucket's shape");
    if (llvm::Error E =
            checkBytes(Inputs[I], "input '" + B.Inputs[I].Name + "'"))
      return E;
    KILN_CUDA(cudaMemcpy(P->address(B.Inputs[I].Buffer), Inputs[I].Bytes.data(),
                         B.Inputs[I].Buffer.Bytes, cudaMemcpyHostToDevice),
              "staging input '" + B.Inputs[I].Name + "'");
  }
  return llvm::Error::success();
}

} // namespace kiln
