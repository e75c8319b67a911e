//===- StageReference.cpp - a pipeline's stages on the CPU ----------------===//
#include "runtime/StageReference.h"

#include "ir/Error.h"
#include "runtime/ReferenceExecutor.h"

namespace kiln {

llvm::Expected<std::vector<Tensor>>
runStagesReference(const Artifact &A, llvm::ArrayRef<Tensor> Inputs) {
  if (!A.Partition || A.Partition->Kind != PartitionPlan::Mode::Pipeline)
    return makeError("the artifact is not a pipeline");
  const PartitionPlan &P = *A.Partition;
  if (Inputs.size() != A.Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(A.Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(Inputs.size()));
  std::vector<std::vector<Tensor>> Made(P.Stages.size());
  // validateArtifact checked that every source is in range and earlier.
  auto Take = [&](const PartitionPlan::Source &S) -> const Tensor & {
    return S.Stage < 0 ? Inputs[S.Index] : Made[S.Stage][S.Index];
  };
  for (size_t S = 0; S < P.Stages.size(); ++S) {
    auto G = artifactGraph(A.Stages[S]);
    if (!G)
      return makeError("stage " + llvm::Twine(S) + ": " +
                       llvm::toString(G.takeError()));
    std::vector<Tensor> In;
    for (const PartitionPlan::Source &Src : P.Stages[S].Inputs)
      In.push_back(Take(Src));
    auto Out = runReference(**G, In);
    if (!Out)
      return makeError("stage " + llvm::Twine(S) + ": " +
                       llvm::toString(Out.takeError()));
    Made[S] = std::move(*Out);
  }
  std::vector<Tensor> Outputs;
  for (const PartitionPlan::Source &Src : P.Outputs)
    Outputs.push_back(Take(Src));
  return Outputs;
}

} // namespace kiln
