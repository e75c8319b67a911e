//===- PipelineCompile.cpp - the stage artifacts of a pipeline ------------===//
//
// `kiln compile --devices N --partition pipeline`: the whole model's
// optimized graph (the artifact's IR with its weights) is partitioned at
// the largest bucket, split into stage graphs (StageSplit.cpp), and each is
// compiled like a model already optimized (no pipeline runs again), so a
// stage's kernels are those the whole model has for the same nodes.
//
//===----------------------------------------------------------------------===//
#include "codegen/Compiler.h"
#include "codegen/StageSplit.h"

#include "ir/Error.h"

#include <algorithm>

namespace kiln {

llvm::Error addPipelineStages(Artifact &A, unsigned Devices,
                              const CompileOptions &Options) {
  if (!A.Meta.DataDependent.empty())
    return makeError("a model whose shapes depend on the data cannot be "
                     "pipelined (" +
                     A.Meta.DataDependent + ")");
  auto G = artifactGraph(A);
  if (!G)
    return G.takeError();
  int64_t Batch = A.Meta.BatchBuckets.empty() ? 1 : A.Meta.BatchBuckets.back();
  int64_t Seq = A.Meta.SeqBuckets.empty() ? 1 : A.Meta.SeqBuckets.back();
  std::string Pass = "partition{stages=" + std::to_string(Devices) +
                     ",batch=" + std::to_string(Batch) +
                     ",seq=" + std::to_string(Seq) + "}";
  if (llvm::Error E = runPassPipeline(**G, Pass, PipelineOptions()))
    return E;
  auto Split = splitStages(**G, Devices);
  if (!Split)
    return Split.takeError();
  std::vector<Artifact> Stages;
  for (size_t S = 0; S < Split->Stages.size(); ++S) {
    CompileOptions O = Options;
    O.Batches = A.Meta.BatchBuckets;
    if (!A.Meta.SeqBuckets.empty())
      O.Seqs = A.Meta.SeqBuckets;
    O.Pipeline = {};
    // A stage is not a whole encoder: it runs padded (the whole model keeps
    // its packed-token plans for one device and failover).
    O.Tokens.clear();
    // The IR is already in its storage precision.
    O.Precision = Precision::F32;
    O.Prune.clear();
    O.BoundInputs.clear();
    O.WeightsPrefix = nullptr;
    O.WeightsPrefixEntries = nullptr;
    O.ModelName = A.Meta.ModelName + ".stage" + std::to_string(S);
    O.CompileCommand = A.Meta.CompileCommand + " (stage " + std::to_string(S) +
                       " of " + std::to_string(Devices) + ")";
    auto Stage = compileGraph(std::move(Split->Stages[S]), O);
    if (!Stage)
      return makeError("stage " + llvm::Twine(S) + ": " +
                       llvm::toString(Stage.takeError()));
    if (!Stage->Meta.DataDependent.empty())
      return makeError("stage " + llvm::Twine(S) +
                       " has shapes unknown at its buckets (" +
                       Stage->Meta.DataDependent + ")");
    Stage->Meta.Precision = A.Meta.Precision;
    Stages.push_back(std::move(*Stage));
  }
  A.Partition = std::move(Split->Plan);
  A.Stages = std::move(Stages);
  if (llvm::Error E = validateArtifact(A))
    return makeError("internal error: the pipeline artifact is invalid: " +
                     llvm::toString(std::move(E)));
  return llvm::Error::success();
}

} // namespace kiln
