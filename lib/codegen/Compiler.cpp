//===- Compiler.cpp - a graph to an executable artifact -------------------===//
//
// The compile driver: binds inputs, names the batch and seq dims, runs the
// pipeline, then per bucket specializes a copy and lowers it
// (BucketLowering.h), and compiles every distinct kernel program once with
// NVRTC.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"

#include "codegen/BucketLowering.h"
#include "codegen/IndexBounds.h"
#include "codegen/InputRoleAnalysis.h"
#include "codegen/Nvrtc.h"
#include "ir/Error.h"
#include "ir/Printer.h"
#include "passes/Passes.h"
#include "passes/Pruning.h"

#include <chrono>
#include <map>
#include <thread>

namespace kiln {
namespace {

std::vector<IoSpec> ioSpecs(llvm::ArrayRef<Value *> Values) {
  std::vector<IoSpec> Specs;
  for (const Value *V : Values)
    Specs.push_back(
        {V->name(), V->dtype(),
         std::vector<Dim>(V->type().Dims.begin(), V->type().Dims.end())});
  return Specs;
}

} // namespace

llvm::Error specializeGraph(Graph &G, const PassOptions &Bindings) {
  PipelineOptions PO;
  if (!Bindings.all().empty()) {
    PipelineStep Specialize = passStep("specialize");
    Specialize.Options = Bindings;
    if (llvm::Error E = runPassPipeline(G, {Specialize}, PO))
      return E;
  }
  // Shape arithmetic (an expanded ONNX function's Shape, Div, Where and
  // Concat feeding an Expand) folds a step per round.
  static const PassPipeline Fold = {
      passStep("fold-constants"), passStep("infer-shapes"),
      passStep("canonicalize"), passStep("cse"), passStep("dce")};
  return runPassPipelineToFixpoint(G, Fold, PO, /*MaxRounds=*/8);
}

Node *firstUnknownShape(const Graph &G, std::string *Why) {
  for (Node *N : G.nodeList()) {
    // A NonZero's size is its operand's count of nonzeros, whatever type
    // the exporter declared for it, until a `count` fixes it.
    if (N->opName() == "NonZero" && N->operand(0) &&
        !N->operand(0)->isConstant() && !N->hasAttr("count")) {
      if (Why)
        *Why = N->describe() +
               ": its result size is the count of nonzeros in %" +
               N->operand(0)->name();
      return N;
    }
    for (const Value *R : N->results())
      if (!R->type().isStatic()) {
        if (Why)
          *Why = N->describe() + ": result %" + R->name() + " has type " +
                 R->type().str() + " once every input dim is bound";
        return N;
      }
  }
  return nullptr;
}

BucketCompiler makeJitCompiler(std::string CacheDir) {
  return [CacheDir](const Artifact &Base, int64_t Batch,
                    int64_t Seq) -> llvm::Expected<Artifact> {
    auto G = artifactGraph(Base);
    if (!G)
      return G.takeError();
    CompileOptions O;
    O.Batches = {Batch};
    O.Seqs = {Seq > 0 ? Seq : 1};
    // The stored IR is already optimized and in its storage precision.
    O.Pipeline = {};
    O.Precision = Precision::F32;
    O.Target = targetFor(Base.Meta.Arch);
    O.CacheDir = CacheDir;
    O.EmitPtx = false;
    O.ModelName = Base.Meta.ModelName;
    O.WeightsPrefix = &Base.Weights;
    O.WeightsPrefixEntries = &Base.WeightEntries;
    O.CompileCommand = Base.Meta.CompileCommand + " (on demand: batch " +
                       std::to_string(Batch) + ", seq " + std::to_string(Seq) +
                       ")";
    auto A = compileGraph(std::move(*G), O);
    if (!A)
      return A.takeError();
    A->Meta.Precision = Base.Meta.Precision;
    return A;
  };
}

llvm::Expected<Artifact> compileGraph(std::unique_ptr<Graph> G,
                                      const CompileOptions &Options,
                                      CompileStats *Stats) {
  auto Start = std::chrono::steady_clock::now();
  if (llvm::Error E = checkArch(Options.Target.Arch))
    return std::move(E);
  if (Options.Batches.empty())
    return makeError("no batch bucket given");
  for (int64_t B : Options.Batches)
    if (B <= 0)
      return makeError("batch bucket " + llvm::Twine(B) + " is not positive");
  for (int64_t S : Options.Seqs)
    if (S <= 0)
      return makeError("seq bucket " + llvm::Twine(S) + " is not positive");
  for (int64_t T : Options.Tokens)
    if (T <= 0)
      return makeError("token bucket " + llvm::Twine(T) + " is not positive");

  for (const auto &[Name, Data] : Options.BoundInputs)
    if (llvm::Error E = bindInput(*G, Name, Data))
      return makeError("--bind " + Name + ": " + llvm::toString(std::move(E)));
  BatchSeqSymbols Symbols = canonicalizeSymbols(*G);
  bool HasBatch = Symbols.HasBatch, HasSeq = Symbols.HasSeq;
  // In 16 bits, the precision pass runs last; after an optimizing pipeline,
  // elementwise chains it retyped are fused again.
  PassPipeline Pipeline = Options.Pipeline;
  if (Options.Precision != Precision::F32) {
    Pipeline.push_back(precisionStep(Options.Precision));
    if (!Options.Pipeline.empty())
      for (llvm::StringRef Pass :
           {"canonicalize", "fuse-elementwise", "cse", "dce"})
        Pipeline.push_back(passStep(Pass));
  }
  PipelineOptions PO;
  if (!Options.Prune.empty()) {
    if (llvm::Error E = prune::runPipelineWithPruning(
            *G, Pipeline, Options.Prune, PO, llvm::errs()))
      return std::move(E);
  } else if (!Pipeline.empty()) {
    if (llvm::Error E = runPassPipeline(*G, Pipeline, PO))
      return std::move(E);
  }

  Artifact A;
  A.Meta.ModelName = Options.ModelName.empty() ? G->name() : Options.ModelName;
  A.Meta.Producer = "kiln 0.1";
  A.Meta.Precision = precisionName(Options.Precision).str();
  A.Meta.Arch = Options.Target.Arch;
  A.Meta.KernelsWaitForPredecessor = true;
  A.Meta.CompileCommand = Options.CompileCommand;
  A.Meta.Inputs = ioSpecs(G->inputs());
  std::vector<IoRole> Roles = inferInputRoles(*G);
  for (size_t I = 0; I < Roles.size(); ++I)
    A.Meta.Inputs[I].Role = Roles[I];
  A.Meta.Outputs = ioSpecs(G->outputs());
  A.Meta.IndexChecks = findIndexChecks(*G);
  PrintOptions Print;
  Print.ElideWeights = true;
  A.IrText = printGraphToString(*G, Print);

  WeightTable Weights;
  if (Options.WeightsPrefix)
    Weights.seed(*Options.WeightsPrefix,
                 Options.WeightsPrefixEntries
                     ? llvm::ArrayRef(*Options.WeightsPrefixEntries)
                     : llvm::ArrayRef<WeightEntry>());
  for (const Value *C : G->constants())
    if (const Tensor *T = C->constantData())
      A.WeightEntries.push_back(
          {C->name(), Weights.add(*T), T->dtype(), T->sizes().vec()});

  auto Sorted = [](std::vector<int64_t> V) {
    llvm::sort(V);
    V.erase(std::unique(V.begin(), V.end()), V.end());
    return V;
  };
  // A model without a batch symbol has one bucket, recorded as batch 1.
  std::vector<int64_t> Batches =
      HasBatch ? Sorted(Options.Batches) : std::vector<int64_t>{1};
  std::vector<int64_t> Seqs =
      HasSeq ? Sorted(Options.Seqs) : std::vector<int64_t>{0};
  if (HasSeq && Seqs.empty())
    return makeError("the model has a sequence dimension: give seq buckets");
  A.Meta.BatchBuckets = Batches;
  A.Meta.SeqBuckets = HasSeq ? Seqs : std::vector<int64_t>{};
  if (HasSeq)
    if (std::optional<SequenceLimit> Limit = sequenceLimit(*G, Roles)) {
      A.Meta.MaxSequenceLength = Limit->MaxSeq;
      if (Seqs.back() > Limit->MaxSeq)
        return makeError("seq bucket " + llvm::Twine(Seqs.back()) +
                         " is longer than the model allows: the " +
                         Limit->Table + " holds positions for at most " +
                         llvm::Twine(Limit->MaxSeq) + " tokens");
    }

  KernelTable Kernels;
  // Binds one bucket's dims in a copy of `From`.
  auto Specialize = [&](const Graph &From, int64_t B, int64_t S,
                        int64_t T) -> llvm::Expected<std::unique_ptr<Graph>> {
    std::unique_ptr<Graph> Bucket = From.clone();
    PassOptions Bind;
    if (HasBatch)
      Bind.set("batch", std::to_string(B));
    if (HasSeq)
      Bind.set("seq", std::to_string(S));
    if (T)
      Bind.set("tokens", std::to_string(T));
    if (llvm::Error E = specializeGraph(*Bucket, Bind))
      return std::move(E);
    return std::move(Bucket);
  };
  // Lowers a specialized bucket and appends its plan.
  auto AddPlan = [&](const Graph &Bucket, int64_t B, int64_t S,
                     int64_t T) -> llvm::Error {
    auto Plan = lowerBucket(Bucket, A.Plan.Buckets.size(), Options.Target,
                            Weights, Kernels, A.Meta.IndexChecks);
    if (!Plan)
      return Plan.takeError();
    Plan->Batch = B;
    Plan->Seq = HasSeq ? S : 0;
    Plan->Tokens = T;
    A.Plan.Buckets.push_back(std::move(*Plan));
    return llvm::Error::success();
  };
  auto Where = [&](int64_t B, int64_t S, int64_t T) {
    return "bucket batch=" + std::to_string(B) +
           (HasSeq ? " seq=" + std::to_string(S) : "") +
           (T ? " tokens=" + std::to_string(T) : "") + ": ";
  };
  auto LowerBuckets = [&]() -> llvm::Error {
    for (int64_t B : Batches)
      for (int64_t S : Seqs) {
        auto Bucket = Specialize(*G, B, S, 0);
        if (!Bucket)
          return makeError(Where(B, S, 0) + llvm::toString(Bucket.takeError()));
        // Every bucket has the same nodes: the first one tells whether a
        // size depends on the data.
        std::string Why;
        if (firstUnknownShape(**Bucket, &Why)) {
          A.Meta.DataDependent = Why;
          A.Meta.BatchBuckets.clear();
          A.Meta.SeqBuckets.clear();
          A.Plan.Buckets.clear();
          return llvm::Error::success();
        }
        if (llvm::Error E = AddPlan(**Bucket, B, S, 0))
          return makeError(Where(B, S, 0) + llvm::toString(std::move(E)));
      }
    if (Options.Tokens.empty() || !A.Meta.DataDependent.empty())
      return llvm::Error::success();
    // Packed-token plans, after the padded ones: the same inputs, only the
    // tokens the mask keeps. A token bucket serves the (batch, seq) buckets
    // that hold more tokens than it.
    if (!HasBatch || !HasSeq)
      return makeError("--tokens: the model has no batch and sequence dims "
                       "to pack");
    std::unique_ptr<Graph> Packed = G->clone();
    std::string Why;
    auto Changed = packTokens(*Packed, &Why);
    if (!Changed)
      return Changed.takeError();
    if (!*Changed)
      return makeError("--tokens: the model cannot run on packed tokens: " +
                       Why);
    A.Meta.TokenBuckets = Sorted(Options.Tokens);
    for (int64_t B : Batches)
      for (int64_t S : Seqs)
        for (int64_t T : A.Meta.TokenBuckets) {
          // A bucket at least as large as the padded batch saves nothing;
          // one below a token a row serves no real batch.
          if (T >= B * S || T < B)
            continue;
          auto Bucket = Specialize(*Packed, B, S, T);
          if (!Bucket)
            return makeError(Where(B, S, T) +
                             llvm::toString(Bucket.takeError()));
          if (llvm::Error E = AddPlan(**Bucket, B, S, T))
            return makeError(Where(B, S, T) + llvm::toString(std::move(E)));
        }
    return llvm::Error::success();
  };
  if (llvm::Error E = LowerBuckets())
    return std::move(E);

  NvrtcOptions NO;
  NO.Arch = Options.Target.Arch;
  NO.EmitPtx = Options.EmitPtx;
  NO.CacheDir = Options.CacheDir;
  unsigned Jobs = Options.Jobs
                      ? Options.Jobs
                      : std::max(1u, std::thread::hardware_concurrency());
  // Buckets often need the same instantiations (a LayerNorm of one width
  // serves every batch): compile each distinct program once.
  std::vector<ModuleSource> Unique;
  std::vector<size_t> UniqueOf;
  std::map<std::string, size_t> Seen;
  for (const ModuleSource &M : Kernels.Modules) {
    std::string Key = M.Source;
    for (const std::string &E : M.NameExprs)
      Key += '\0' + E;
    auto [It, New] = Seen.try_emplace(Key, Unique.size());
    if (New)
      Unique.push_back(M);
    UniqueOf.push_back(It->second);
  }
  auto NvrtcStart = std::chrono::steady_clock::now();
  auto Compiled = compileModules(Unique, NO, Jobs);
  if (!Compiled)
    return Compiled.takeError();
  double NvrtcSeconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - NvrtcStart)
                            .count();
  unsigned Hits = 0;
  for (size_t I = 0; I < Compiled->size(); ++I) {
    CompiledModule &C = (*Compiled)[I];
    Hits += C.FromCache;
    A.Plan.Modules.push_back(
        {Unique[I].Name, std::move(C.Cubin), std::move(C.Ptx)});
  }
  // Kernel indices point into the distinct programs.
  for (const KernelTable::Entry &K : Kernels.Kernels) {
    uint32_t Module = uint32_t(UniqueOf[K.Module]);
    A.Plan.Kernels.push_back(
        {Module, (*Compiled)[Module].LoweredNames[K.Expr]});
  }
  A.Weights = Weights.take();
  A.Plan.WeightBytes = A.Weights.size();
  A.Plan.Arch = Options.Target.Arch;
  // What the runtime will check at load, checked where it is made.
  if (llvm::Error E = validateArtifact(A))
    return makeError("internal error: the compiled plan is invalid: " +
                     llvm::toString(std::move(E)));

  if (Stats) {
    Stats->Seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - Start)
            .count();
    Stats->NvrtcSeconds = NvrtcSeconds;
    Stats->Modules = unsigned(Unique.size());
    Stats->CacheHits = Hits;
    Stats->Kernels = unsigned(Kernels.Kernels.size());
  }
  return A;
}

} // namespace kiln
