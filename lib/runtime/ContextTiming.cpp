//===- ContextTiming.cpp - timing, profiling and autotuning a context -----===//
//
// What benchmarks and `kiln compile --autotune` ask of a context: time a
// bucket's replays, time each step of a bucket, and time cuBLASLt's
// candidate algorithms for every GEMM.
//
//===----------------------------------------------------------------------===//
#include "runtime/EngineImpl.h"

#include "ir/Error.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace kiln {

llvm::Expected<std::vector<ExecutionContext::StepTime>>
ExecutionContext::profileBucket(size_t Bucket, unsigned Iterations) {
  if (llvm::Error E = P->singleDeviceOnly("profiling a bucket"))
    return std::move(E);
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
autotunedPlan(ExecutionContext &Ctx, unsigned Candidates, unsigned Iterations) {
  ExecutionContext::Impl *P = &ExecutionContext::Impl::of(Ctx);
  if (llvm::Error E = P->singleDeviceOnly("autotuning"))
    return std::move(E);
  ExecutablePlan Plan = P->E->A.Plan;
  // Equal GEMMs (same shapes, layouts, types and epilogue) tune once.
  std::map<std::string, std::vector<uint8_t>> Tuned;
  for (size_t B = 0; B < Plan.Buckets.size(); ++B) {
    for (size_t I = 0; I < Plan.Buckets[B].Steps.size(); ++I) {
      auto *S = std::get_if<GemmStep>(&Plan.Buckets[B].Steps[I]);
      // The CUTLASS GEMMs have no cuBLASLt algorithm to choose.
      if (!S || runsOnCutlass(S->Epi))
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

llvm::Error ExecutionContext::autotuneGemms(unsigned Candidates,
                                            unsigned Iterations) {
  auto Plan = autotunedPlan(*this, Candidates, Iterations);
  if (!Plan)
    return Plan.takeError();
  return llvm::Error::success();
}

llvm::Expected<std::vector<float>>
ExecutionContext::timeBucket(size_t Bucket, unsigned Iterations) {
  if (llvm::Error E = P->singleDeviceOnly("timing a bucket"))
    return std::move(E);
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
