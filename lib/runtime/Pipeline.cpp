//===- Pipeline.cpp - a pipeline artifact over several devices ------------===//
//
// The placement loads each stage's artifact through the factory; an
// executor owns one ExecutionContext per stage and runs a request so:
//
//   host: pad the request into k micro-batches of a batch bucket (pinned)
//   for each micro-batch j, for each stage t (issued in this order, so
//   every wait is issued after the record it waits for):
//     stream t: wait for the stages t reads from (their event, micro j);
//               inputs into t's arena (from the host, or from t's landing
//               buffer for j); t's CUDA graph for the bucket;
//               copy what later stages read into their landing buffers
//               for j (timed); record t's event; outputs to the host
//   host: wait for every stream once, unpad the outputs.
//
// A stage's arena is reused by the next micro-batch on its own stream, so
// everything read out of it is copied out before, in stream order.
//
//===----------------------------------------------------------------------===//
#include "runtime/Pipeline.h"

#include "ir/Error.h"
#include "passes/Partition.h"
#include "runtime/Bucketing.h"
#include "runtime/CudaCheck.h"
#include "runtime/EngineImpl.h"
#include "runtime/InputChecks.h"
#include "runtime/InputRoles.h"
#include "runtime/MicroBatch.h"

#include <cstdlib>
#include <set>

namespace kiln {

namespace {

/// Copy rates between two stages' devices, for the micro-batch choice: a
/// copy within one card's memory, NVLink peer copies, and PCIe both ways.
constexpr double SameDeviceRate = 1.5e12, PeerRate = 150e9, HostRate = 20e9;

/// Stage `Stage`'s input `Input` reads output `Output` of the producer.
struct Consumer {
  uint32_t Output;
  size_t Stage, Input;
};

class PipelinePlacement final : public Placement {
public:
  ArtifactMetadata Meta;
  PartitionPlan Plan;
  /// The whole model's buckets, without steps: their I/O shapes.
  std::vector<BucketPlan> Buckets;
  std::vector<int> Logical, Physical;
  std::vector<std::unique_ptr<Engine>> Engines;
  std::vector<std::vector<Consumer>> Consumers; // by producing stage
  std::vector<std::vector<CopyPath>> Paths;     // [from][to]
  StageCosts Costs;
  double CopyRate = SameDeviceRate;
  int64_t MicroBatch = 0;

  const std::vector<int> &devices() const override { return Logical; }
  llvm::Expected<std::unique_ptr<Executor>> createExecutor() override;
};

/// A buffer of a stage's inputs from earlier stages, one slot per
/// micro-batch: on the stage's device, or pinned host memory when the copy
/// goes through the host.
struct Landing {
  void *Data = nullptr;
  uint64_t Capacity = 0;
  bool Host = false;
  int Device = 0;
};

class PipelineExecutor final : public Executor {
public:
  explicit PipelineExecutor(PipelinePlacement &P) : P(P) {}
  ~PipelineExecutor() override;
  llvm::Error init();
  llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs) override;
  double lastCopySeconds() const override { return LastCopy; }

  int64_t LastSize = 0, LastCount = 0;

private:
  llvm::Error enqueue(int64_t Count, const std::vector<size_t> &StageBucket);
  llvm::Error grow(Landing &L, uint64_t Need);
  llvm::Error growHost(uint8_t *&Buf, uint64_t &Cap, uint64_t Need);
  cudaStream_t stream(size_t T) const {
    return ExecutionContext::Impl::of(*Ctx[T]).Stream;
  }
  const BucketPlan &bucket(size_t T, size_t B) const {
    return Engine::Impl::of(*P.Engines[T]).A.Plan.Buckets[B];
  }
  llvm::Error waitAll();

  PipelinePlacement &P;
  std::vector<std::unique_ptr<ExecutionContext>> Ctx;
  std::vector<cudaEvent_t> Done;
  std::vector<std::vector<cudaEvent_t>> CopyStart, CopyStop;
  std::vector<std::vector<Landing>> Land; // [stage][input]
  uint8_t *InHost = nullptr, *OutHost = nullptr;
  uint64_t InCap = 0, OutCap = 0;
  /// Per micro-batch, the offsets of each model input and output in
  /// InHost and OutHost, and their totals.
  std::vector<uint64_t> InOff, OutOff;
  uint64_t InTotal = 0, OutTotal = 0;
  double LastCopy = 0;
};

PipelineExecutor::~PipelineExecutor() {
  for (size_t T = 0; T < Done.size(); ++T) {
    cudaSetDevice(P.Physical[T]);
    if (T < Ctx.size() && Ctx[T])
      cudaStreamSynchronize(stream(T));
    cudaEventDestroy(Done[T]);
    for (cudaEvent_t E : CopyStart[T])
      cudaEventDestroy(E);
    for (cudaEvent_t E : CopyStop[T])
      cudaEventDestroy(E);
  }
  for (auto &Stage : Land)
    for (Landing &L : Stage) {
      cudaSetDevice(L.Device);
      if (L.Host)
        cudaFreeHost(L.Data);
      else
        cudaFree(L.Data);
    }
  cudaFreeHost(InHost);
  cudaFreeHost(OutHost);
}

llvm::Error PipelineExecutor::init() {
  size_t N = P.Engines.size();
  Done.assign(N, nullptr);
  CopyStart.resize(N);
  CopyStop.resize(N);
  Land.resize(N);
  for (size_t T = 0; T < N; ++T) {
    auto C = P.Engines[T]->createContext();
    if (!C)
      return withDevice(C.takeError(), P.Logical[T]);
    Ctx.push_back(std::move(*C));
    KILN_CUDA(cudaSetDevice(P.Physical[T]), "selecting the device");
    if (cudaError_t E =
            cudaEventCreateWithFlags(&Done[T], cudaEventDisableTiming))
      return withDevice(cudaFailure(E, "creating a stage's event"),
                        P.Logical[T]);
    Land[T].resize(P.Plan.Stages[T].Inputs.size());
    for (size_t I = 0; I < Land[T].size(); ++I) {
      const PartitionPlan::Source &S = P.Plan.Stages[T].Inputs[I];
      Land[T][I].Device = P.Physical[T];
      Land[T][I].Host = S.Stage >= 0 && P.Paths[S.Stage][T] == CopyPath::Host;
    }
  }
  return llvm::Error::success();
}

llvm::Error PipelineExecutor::grow(Landing &L, uint64_t Need) {
  if (Need <= L.Capacity)
    return llvm::Error::success();
  KILN_CUDA(cudaSetDevice(L.Device), "selecting the device");
  if (L.Host)
    cudaFreeHost(L.Data);
  else
    cudaFree(L.Data);
  L.Data = nullptr;
  L.Capacity = 0;
  if (L.Host)
    KILN_CUDA(cudaMallocHost(&L.Data, Need), "allocating a staging buffer");
  else
    KILN_CUDA(cudaMalloc(&L.Data, Need), "allocating a stage's inputs");
  L.Capacity = Need;
  return llvm::Error::success();
}

llvm::Error PipelineExecutor::growHost(uint8_t *&Buf, uint64_t &Cap,
                                       uint64_t Need) {
  if (Need <= Cap)
    return llvm::Error::success();
  cudaFreeHost(Buf);
  Buf = nullptr;
  Cap = 0;
  KILN_CUDA(cudaMallocHost(reinterpret_cast<void **>(&Buf), Need),
            "allocating pinned memory");
  Cap = Need;
  return llvm::Error::success();
}

llvm::Error PipelineExecutor::waitAll() {
  llvm::Error First = llvm::Error::success();
  for (size_t T = 0; T < Ctx.size(); ++T) {
    cudaSetDevice(P.Physical[T]);
    cudaError_t E = cudaStreamSynchronize(stream(T));
    if (E != cudaSuccess && !First)
      First = withDevice(cudaFailure(E, "running stage " + llvm::Twine(T)),
                         P.Logical[T]);
  }
  return First;
}

llvm::Error PipelineExecutor::enqueue(int64_t Count,
                                      const std::vector<size_t> &StageBucket) {
  size_t N = Ctx.size();
  for (int64_t J = 0; J < Count; ++J)
    for (size_t T = 0; T < N; ++T) {
      ExecutionContext::Impl &C = ExecutionContext::Impl::of(*Ctx[T]);
      const BucketPlan &B = bucket(T, StageBucket[T]);
      cudaStream_t S = C.Stream;
      auto Fail = [&](cudaError_t E, const llvm::Twine &What) {
        return withDevice(
            cudaFailure(E, "stage " + llvm::Twine(T) + ": " + What),
            P.Logical[T]);
      };
      if (cudaError_t E = cudaSetDevice(P.Physical[T]))
        return Fail(E, "selecting the device");
      const auto &Sources = P.Plan.Stages[T].Inputs;
      std::set<int32_t> Waited;
      for (const PartitionPlan::Source &Src : Sources)
        if (Src.Stage >= 0 && Waited.insert(Src.Stage).second)
          if (cudaError_t E = cudaStreamWaitEvent(S, Done[Src.Stage], 0))
            return Fail(E, "waiting for stage " + llvm::Twine(Src.Stage));
      for (size_t I = 0; I < Sources.size(); ++I) {
        const IoBinding &Bind = B.Inputs[I];
        void *Dst = C.address(Bind.Buffer);
        uint64_t Bytes = Bind.Buffer.Bytes;
        const PartitionPlan::Source &Src = Sources[I];
        if (Src.Stage < 0) {
          const uint8_t *From = InHost + J * InTotal + InOff[Src.Index];
          if (cudaError_t E =
                  cudaMemcpyAsync(Dst, From, Bytes, cudaMemcpyHostToDevice, S))
            return Fail(E, "copying input '" + Bind.Name + "'");
          continue;
        }
        const Landing &L = Land[T][I];
        const uint8_t *From = static_cast<const uint8_t *>(L.Data) + J * Bytes;
        if (cudaError_t E = cudaMemcpyAsync(
                Dst, From, Bytes,
                L.Host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice, S))
          return Fail(E, "taking in '" + Bind.Name + "'");
      }
      if (llvm::Error E = C.runBucket(StageBucket[T]))
        return withDevice(std::move(E), P.Logical[T]);
      if (!P.Consumers[T].empty()) {
        if (cudaError_t E = cudaEventRecord(CopyStart[T][J], S))
          return Fail(E, "recording an event");
        for (const Consumer &To : P.Consumers[T]) {
          const IoBinding &Out = B.Outputs[To.Output];
          const void *From = C.address(Out.Buffer);
          uint64_t Bytes = Out.Buffer.Bytes;
          Landing &L = Land[To.Stage][To.Input];
          void *Dst = static_cast<uint8_t *>(L.Data) + J * Bytes;
          cudaError_t E = cudaSuccess;
          switch (P.Paths[T][To.Stage]) {
          case CopyPath::SameDevice:
            E = cudaMemcpyAsync(Dst, From, Bytes, cudaMemcpyDeviceToDevice, S);
            break;
          case CopyPath::Peer:
            E = cudaMemcpyPeerAsync(Dst, P.Physical[To.Stage], From,
                                    P.Physical[T], Bytes, S);
            break;
          case CopyPath::Host:
            E = cudaMemcpyAsync(Dst, From, Bytes, cudaMemcpyDeviceToHost, S);
            break;
          }
          if (E != cudaSuccess)
            return Fail(E, "copying '" + Out.Name + "' to stage " +
                               llvm::Twine(To.Stage));
        }
        if (cudaError_t E = cudaEventRecord(CopyStop[T][J], S))
          return Fail(E, "recording an event");
      }
      if (cudaError_t E = cudaEventRecord(Done[T], S))
        return Fail(E, "recording an event");
      for (size_t O = 0; O < P.Plan.Outputs.size(); ++O) {
        const PartitionPlan::Source &Src = P.Plan.Outputs[O];
        if (size_t(Src.Stage) != T)
          continue;
        const IoBinding &Out = B.Outputs[Src.Index];
        uint8_t *Dst = OutHost + J * OutTotal + OutOff[O];
        if (cudaError_t E =
                cudaMemcpyAsync(Dst, C.address(Out.Buffer), Out.Buffer.Bytes,
                                cudaMemcpyDeviceToHost, S))
          return Fail(E, "copying output '" + Out.Name + "'");
      }
    }
  return llvm::Error::success();
}

llvm::Expected<std::vector<HostTensor>>
PipelineExecutor::run(std::span<const HostTensor> Inputs) {
  const ArtifactMetadata &Meta = P.Meta;
  LastCopy = 0;
  if (Inputs.size() != Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(Inputs.size()));
  std::vector<std::vector<int64_t>> Dims;
  std::vector<IndexInput> Views;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const HostTensor &T = Inputs[I];
    if (toDType(T.Type) != Meta.Inputs[I].Type)
      return makeError("input '" + Meta.Inputs[I].Name + "' must be " +
                       dtypeName(Meta.Inputs[I].Type) + ", got " +
                       dtypeName(toDType(T.Type)));
    size_t Want = size_t(T.numElements()) * elementSize(T.Type);
    if (T.Bytes.size() != Want)
      return makeError("input " + llvm::Twine(I) + " holds " +
                       llvm::Twine(T.Bytes.size()) +
                       " bytes; its dims and type need " + llvm::Twine(Want));
    Dims.push_back(T.Dims);
    Views.push_back({T.Bytes.data(), toDType(T.Type), T.numElements()});
  }
  auto Size = requestSize(Meta, Dims);
  if (!Size)
    return Size.takeError();
  auto Shapes = requestOutputShapes(Meta, P.Buckets.front(), *Size);
  if (!Shapes)
    return Shapes.takeError();
  std::vector<HostTensor> Outs;
  for (size_t O = 0; O < Shapes->size(); ++O)
    Outs.emplace_back(toElementType(Meta.Outputs[O].Type), (*Shapes)[O]);
  if (Size->Batch == 0)
    return std::move(Outs);
  if (llvm::Error E = checkSequenceLength(Meta, Size->Seq))
    return std::move(E);
  if (llvm::Error E = checkIndexInputs(Meta, Views))
    return std::move(E);

  int64_t Batch = Size->Batch < 0 ? 1 : Size->Batch;
  auto SeqBucket = chooseSeqBucket(Meta, P.Buckets, Size->Seq);
  if (!SeqBucket)
    return SeqBucket.takeError();
  MicroBatchChoice MB = chooseMicroBatch(P.Costs, Meta.BatchBuckets, Batch,
                                         *SeqBucket, P.CopyRate, P.MicroBatch);
  int64_t Micro = MB.Size, Count = MB.Count;
  LastSize = Micro;
  LastCount = Count;
  const BucketPlan *Whole = nullptr;
  for (const BucketPlan &B : P.Buckets)
    if (B.Batch == Micro && B.Seq == *SeqBucket)
      Whole = &B;
  if (!Whole)
    return makeError("no bucket of batch " + llvm::Twine(Micro) + ", seq " +
                     llvm::Twine(*SeqBucket));
  std::vector<size_t> StageBucket;
  for (size_t T = 0; T < Ctx.size(); ++T) {
    const auto &Bs = Engine::Impl::of(*P.Engines[T]).A.Plan.Buckets;
    bool HasSeq = !Engine::Impl::of(*P.Engines[T]).A.Meta.SeqBuckets.empty();
    size_t Found = Bs.size();
    for (size_t B = 0; B < Bs.size(); ++B)
      if (Bs[B].Batch == Micro && Bs[B].Seq == (HasSeq ? *SeqBucket : 0))
        Found = B;
    if (Found == Bs.size())
      return makeError("stage " + llvm::Twine(T) + " has no bucket of batch " +
                       llvm::Twine(Micro) + ", seq " + llvm::Twine(*SeqBucket));
    StageBucket.push_back(Found);
  }

  // Host staging: the padded inputs and the outputs of every micro-batch.
  InOff.clear();
  InTotal = 0;
  for (const IoBinding &B : Whole->Inputs) {
    InOff.push_back(InTotal);
    InTotal += B.Buffer.Bytes;
  }
  OutOff.clear();
  OutTotal = 0;
  for (const PartitionPlan::Source &Src : P.Plan.Outputs) {
    OutOff.push_back(OutTotal);
    OutTotal += bucket(Src.Stage, StageBucket[Src.Stage])
                    .Outputs[Src.Index]
                    .Buffer.Bytes;
  }
  if (llvm::Error E = growHost(InHost, InCap, uint64_t(Count) * InTotal))
    return std::move(E);
  if (llvm::Error E = growHost(OutHost, OutCap, uint64_t(Count) * OutTotal))
    return std::move(E);
  for (size_t T = 0; T < Ctx.size(); ++T) {
    for (size_t I = 0; I < Land[T].size(); ++I) {
      const PartitionPlan::Source &Src = P.Plan.Stages[T].Inputs[I];
      uint64_t Bytes = bucket(T, StageBucket[T]).Inputs[I].Buffer.Bytes;
      uint64_t Made = Src.Stage < 0 ? Whole->Inputs[Src.Index].Buffer.Bytes
                                    : bucket(Src.Stage, StageBucket[Src.Stage])
                                          .Outputs[Src.Index]
                                          .Buffer.Bytes;
      if (Bytes != Made)
        return makeError("stage " + llvm::Twine(T) + " input " +
                         llvm::Twine(I) + " takes " + llvm::Twine(Bytes) +
                         " bytes; its source makes " + llvm::Twine(Made));
      if (Src.Stage >= 0)
        if (llvm::Error E = grow(Land[T][I], uint64_t(Count) * Bytes))
          return withDevice(std::move(E), P.Logical[T]);
    }
    if (!P.Consumers[T].empty())
      while (CopyStart[T].size() < size_t(Count)) {
        KILN_CUDA(cudaSetDevice(P.Physical[T]), "selecting the device");
        cudaEvent_t A = nullptr, B = nullptr;
        KILN_CUDA(cudaEventCreate(&A), "creating a timing event");
        CopyStart[T].push_back(A);
        KILN_CUDA(cudaEventCreate(&B), "creating a timing event");
        CopyStop[T].push_back(B);
      }
  }
  for (int64_t J = 0; J < Count; ++J) {
    int64_t Row0 = J * Micro, Rows = std::min(Micro, Batch - Row0);
    for (size_t I = 0; I < Inputs.size(); ++I)
      copyBox(Inputs[I].Bytes.data(), InHost + J * InTotal + InOff[I],
              Whole->Inputs[I].Dims, Inputs[I].Dims,
              ioRoles(Meta.Inputs[I]).batchDim(), Row0, Rows,
              dtypeSize(Meta.Inputs[I].Type), /*ToBucket=*/true);
  }

  llvm::Error Enqueued = enqueue(Count, StageBucket);
  // Whatever was issued finishes before the buffers are touched again.
  llvm::Error Waited = waitAll();
  if (Enqueued) {
    llvm::consumeError(std::move(Waited));
    return std::move(Enqueued);
  }
  if (Waited)
    return std::move(Waited);

  for (size_t T = 0; T < Ctx.size(); ++T)
    if (!P.Consumers[T].empty())
      for (int64_t J = 0; J < Count; ++J) {
        float Ms = 0;
        KILN_CUDA(cudaEventElapsedTime(&Ms, CopyStart[T][J], CopyStop[T][J]),
                  "timing a copy");
        LastCopy += Ms / 1e3;
      }
  for (int64_t J = 0; J < Count; ++J) {
    int64_t Row0 = J * Micro, Rows = std::min(Micro, Batch - Row0);
    for (size_t O = 0; O < Outs.size(); ++O) {
      const PartitionPlan::Source &Src = P.Plan.Outputs[O];
      const IoBinding &Bind =
          bucket(Src.Stage, StageBucket[Src.Stage]).Outputs[Src.Index];
      copyBox(OutHost + J * OutTotal + OutOff[O], Outs[O].Bytes.data(),
              Bind.Dims, Outs[O].Dims, ioRoles(Meta.Outputs[O]).batchDim(),
              Row0, Rows, dtypeSize(Meta.Outputs[O].Type), /*ToBucket=*/false);
    }
  }
  return std::move(Outs);
}

llvm::Expected<std::unique_ptr<Executor>> PipelinePlacement::createExecutor() {
  auto E = std::make_unique<PipelineExecutor>(*this);
  if (llvm::Error Err = E->init())
    return std::move(Err);
  return std::unique_ptr<Executor>(std::move(E));
}

/// A value's bytes with `batch` and `seq` at the planned shape.
double plannedBytes(const IoSpec &S, const PartitionPlan &P) {
  double N = double(dtypeSize(S.Type));
  for (const Dim &D : S.Dims)
    N *= D.isStatic()                            ? double(D.value())
         : D.isSymbol() && D.symbol() == "batch" ? double(P.PlannedBatch)
         : D.isSymbol() && D.symbol() == "seq"   ? double(P.PlannedSeq)
                                                 : 1.0;
  return N;
}

llvm::Expected<int64_t> microBatchFromEnv() {
  const char *Env = std::getenv("KILN_PIPELINE_MICROBATCH");
  if (!Env || !*Env)
    return 0;
  int64_t N = 0;
  if (llvm::StringRef(Env).getAsInteger(10, N) || N <= 0)
    return makeError("KILN_PIPELINE_MICROBATCH: '" + llvm::Twine(Env) +
                     "' is not a positive integer");
  return N;
}

} // namespace

const char *copyPathName(CopyPath P) {
  switch (P) {
  case CopyPath::SameDevice: return "same device";
  case CopyPath::Peer: return "peer";
  case CopyPath::Host: return "through the host";
  }
  return "?";
}

llvm::Expected<std::unique_ptr<Placement>>
createPipelinePlacement(const Artifact &A, std::span<const int> Logical,
                        const DeviceEngineFactory &MakeEngine,
                        const PipelineRunOptions &Options) {
  if (!A.Partition || A.Partition->Kind != PartitionPlan::Mode::Pipeline)
    return makeError("the artifact is not a pipeline (compile it with "
                     "--devices N --partition pipeline)");
  const PartitionPlan &Plan = *A.Partition;
  if (Logical.size() != A.Stages.size())
    return makeError("a pipeline of " + llvm::Twine(A.Stages.size()) +
                     " stages needs as many devices, got " +
                     llvm::Twine(Logical.size()));
  auto P = std::make_unique<PipelinePlacement>();
  P->Meta = A.Meta;
  P->Plan = Plan;
  P->Buckets = paddedBuckets(A.Plan.Buckets).vec();
  for (BucketPlan &B : P->Buckets)
    B.Steps.clear();
  if (P->Buckets.empty())
    return makeError("the artifact has no buckets");
  P->Logical.assign(Logical.begin(), Logical.end());
  P->MicroBatch = Options.MicroBatch;
  size_t N = A.Stages.size();
  for (size_t T = 0; T < N; ++T) {
    auto E = MakeEngine(A.Stages[T], Logical[T]);
    if (!E)
      return withDevice(E.takeError(), Logical[T]);
    P->Physical.push_back(Engine::Impl::of(**E).Options.Device);
    P->Engines.push_back(std::move(*E));
  }
  P->Consumers.resize(N);
  for (size_t T = 0; T < N; ++T)
    for (size_t I = 0; I < Plan.Stages[T].Inputs.size(); ++I) {
      const PartitionPlan::Source &S = Plan.Stages[T].Inputs[I];
      if (S.Stage >= 0)
        P->Consumers[S.Stage].push_back({S.Index, T, I});
    }
  // Peer access where the cards allow it; a copy within one card needs
  // none, and without it copies go through pinned host memory.
  P->Paths.assign(N, std::vector<CopyPath>(N, CopyPath::SameDevice));
  for (size_t From = 0; From < N; ++From)
    for (size_t To = From + 1; To < N; ++To) {
      int Src = P->Physical[From], Dst = P->Physical[To];
      if (Src == Dst)
        continue;
      int Can = 0;
      KILN_CUDA(cudaDeviceCanAccessPeer(&Can, Dst, Src),
                "checking peer access");
      CopyPath Path = CopyPath::Host;
      if (Can) {
        // The destination's pointers are used from the source's copies.
        KILN_CUDA(cudaSetDevice(Src), "selecting the device");
        cudaError_t E = cudaDeviceEnablePeerAccess(Dst, 0);
        if (E == cudaErrorPeerAccessAlreadyEnabled) {
          cudaGetLastError();
          E = cudaSuccess;
        }
        if (E != cudaSuccess)
          return withDevice(cudaFailure(E, "enabling peer access"),
                            Logical[From]);
        Path = CopyPath::Peer;
      }
      P->Paths[From][To] = Path;
    }
  // The cost model's view of the stages.
  P->Costs.PlannedBatch = Plan.PlannedBatch;
  P->Costs.PlannedSeq = Plan.PlannedSeq;
  for (size_t T = 0; T < N; ++T) {
    const PartitionPlan::StageInfo &S = Plan.Stages[T];
    P->Costs.Seconds.push_back(S.Flops / PartitionFlopRate +
                               S.Bytes / PartitionByteRate);
    double Bytes = 0;
    for (const Consumer &C : P->Consumers[T]) {
      Bytes += plannedBytes(A.Stages[T].Meta.Outputs[C.Output], Plan);
      double Rate = P->Paths[T][C.Stage] == CopyPath::Host   ? HostRate
                    : P->Paths[T][C.Stage] == CopyPath::Peer ? PeerRate
                                                             : SameDeviceRate;
      P->CopyRate = std::min(P->CopyRate, Rate);
    }
    P->Costs.CopyBytes.push_back(Bytes);
  }
  return std::unique_ptr<Placement>(std::move(P));
}

llvm::Expected<std::unique_ptr<Placement>>
createPipelinePlacement(const Artifact &A, std::span<const int> Logical,
                        const DeviceEngineFactory &MakeEngine) {
  auto Micro = microBatchFromEnv();
  if (!Micro)
    return Micro.takeError();
  PipelineRunOptions O;
  O.MicroBatch = *Micro;
  return createPipelinePlacement(A, Logical, MakeEngine, O);
}

std::optional<CopyPath> pipelineCopyPath(const Placement &P, size_t From,
                                         size_t To) {
  const auto *PP = dynamic_cast<const PipelinePlacement *>(&P);
  if (!PP || From >= PP->Paths.size() || To >= PP->Paths.size())
    return std::nullopt;
  return PP->Paths[From][To];
}

std::pair<int64_t, int64_t> lastMicroBatches(const Executor &E) {
  const auto *PE = dynamic_cast<const PipelineExecutor *>(&E);
  if (!PE)
    return {0, 0};
  return {PE->LastSize, PE->LastCount};
}

} // namespace kiln
