//===- StageSplit.cpp - a partitioned graph as one graph per stage --------===//
//
// Each stage graph is a clone of the whole partitioned graph cut down to
// the stage: the PeerCopies into it become graph inputs (named after the
// copy), the whole-model inputs it reads are re-added after them in order,
// every node of another stage and every constant left unused is erased.
//
//===----------------------------------------------------------------------===//
#include "codegen/StageSplit.h"

#include "ir/Error.h"
#include "ir/Verifier.h"
#include "passes/Partition.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

namespace kiln {

namespace {

bool isCopy(const Node *N) { return N && N->opName() == "PeerCopy"; }

/// The value a chain of PeerCopies starts from.
const Value *origin(const Value *V) {
  while (isCopy(V->definingNode()))
    V = V->definingNode()->operand(0);
  return V;
}

bool hasDims(const Value *V, llvm::StringRef D0, llvm::StringRef D1) {
  const TensorType &T = V->type();
  if (T.rank() < 1 || !T.Dims[0].isSymbol() || T.Dims[0].symbol() != D0)
    return false;
  return D1.empty() ||
         (T.rank() >= 2 && T.Dims[1].isSymbol() && T.Dims[1].symbol() == D1);
}

/// One stage input: the value of the whole graph it stands for (a model
/// input, or the PeerCopy result its nodes read) and where it comes from.
struct StageInput {
  const Value *Stands;
  PartitionPlan::Source From;
};

} // namespace

llvm::Expected<StageGraphs> splitStages(const Graph &G, unsigned NumStages) {
  if (NumStages < 2)
    return makeError("a pipeline needs at least 2 stages, got " +
                     llvm::Twine(NumStages));
  std::vector<Node *> Nodes = G.nodeList();
  llvm::DenseMap<const Node *, unsigned> StageOf;
  for (Node *N : Nodes) {
    std::optional<int64_t> D = N->device();
    if (!D)
      return makeError(N->describe() +
                       " has no device: run the partition pass first");
    if (*D < 0 || *D >= int64_t(NumStages))
      return makeError(N->describe() + " is on device " + llvm::Twine(*D) +
                       ", outside the " + llvm::Twine(NumStages) + " stages");
    StageOf[N] = unsigned(*D);
  }
  StageGraphs Out;
  PartitionPlan &Plan = Out.Plan;
  Plan.Kind = PartitionPlan::Mode::Pipeline;
  Plan.Devices = NumStages;
  PlanShape Shape = plannedShape(G);
  Plan.PlannedBatch = Shape.Batch;
  Plan.PlannedSeq = Shape.Seq;
  Plan.Stages.resize(NumStages);

  // Costs, the model inputs each stage reads, the copies it takes in, and
  // the values each stage must hand on.
  std::vector<llvm::DenseSet<const Value *>> ReadsInput(NumStages);
  std::vector<std::vector<const Node *>> CopiesIn(NumStages);
  llvm::DenseSet<const Value *> HandedOn;
  std::vector<unsigned> Real(NumStages, 0);
  for (Node *N : Nodes) {
    unsigned S = StageOf[N];
    PartitionPlan::StageInfo &Info = Plan.Stages[S];
    ++Info.Nodes;
    NodeCost C = nodeCost(*N, Shape);
    Info.Flops += C.Flops;
    Info.Bytes += C.Bytes;
    if (isCopy(N)) {
      bool Read = llvm::any_of(N->result()->uses(), [&](const Use &U) {
        return !isCopy(U.User) && StageOf.lookup(U.User) == S;
      });
      if (Read) {
        CopiesIn[S].push_back(N);
        HandedOn.insert(origin(N->result()));
      }
      continue;
    }
    ++Real[S];
    for (const Value *V : N->operands()) {
      if (!V)
        continue;
      if (V->isInput())
        ReadsInput[S].insert(V);
      const Node *D = V->definingNode();
      if (D && !isCopy(D) && StageOf.lookup(D) != S)
        return makeError(N->describe() + " on stage " + llvm::Twine(S) +
                         " reads %" + V->name() + " of stage " +
                         llvm::Twine(StageOf.lookup(D)) +
                         " without a PeerCopy");
    }
  }
  for (unsigned S = 0; S < NumStages; ++S)
    if (!Real[S])
      return makeError("stage " + llvm::Twine(S) +
                       " has no node besides copies");

  // Each stage's outputs: what later stages read, then model outputs.
  std::vector<std::vector<const Value *>> Outputs(NumStages);
  llvm::DenseMap<const Value *, PartitionPlan::Source> OutputAt;
  auto AddOutput = [&](const Value *V) {
    unsigned S = StageOf.lookup(V->definingNode());
    if (OutputAt.count(V))
      return;
    OutputAt[V] = {int32_t(S), uint32_t(Outputs[S].size())};
    Outputs[S].push_back(V);
  };
  for (Node *N : Nodes)
    if (!isCopy(N))
      for (const Value *R : N->results())
        if (HandedOn.count(R))
          AddOutput(R);
  for (const Value *V : G.outputs()) {
    const Value *O = origin(V);
    if (!O->definingNode())
      return makeError("whole-model output %" + V->name() +
                       " is no node's result; a pipeline cannot make it");
    AddOutput(O);
    Plan.Outputs.push_back(OutputAt[O]);
  }

  for (unsigned S = 0; S < NumStages; ++S) {
    std::vector<StageInput> Ins;
    for (unsigned I = 0; I < G.inputs().size(); ++I)
      if (ReadsInput[S].count(G.inputs()[I]))
        Ins.push_back({G.inputs()[I], {-1, I}});
    for (const Node *C : CopiesIn[S])
      Ins.push_back({C->result(), OutputAt[origin(C->result())]});
    // compileGraph names the batch and seq dims after the first input's
    // first two: lead with one that has both.
    auto Lead = llvm::find_if(Ins, [](const StageInput &I) {
      return hasDims(I.Stands, "batch", "seq");
    });
    if (Lead == Ins.end())
      Lead = llvm::find_if(Ins, [](const StageInput &I) {
        return hasDims(I.Stands, "batch", "");
      });
    if (Lead != Ins.end())
      std::rotate(Ins.begin(), Lead, Lead + 1);

    std::unique_ptr<Graph> C = G.clone();
    C->setName(G.name() + "_stage" + std::to_string(S));
    std::vector<Value *> OldInputs(C->inputs().begin(), C->inputs().end());
    for (const StageInput &In : Ins) {
      Value *Old = C->lookup(In.Stands->name());
      std::string Name = Old->name();
      C->rename(Old, C->uniqueName(Name + ".split"));
      Value *New = C->addInput(Name, Old->type());
      Old->replaceAllUsesWith(New);
      Plan.Stages[S].Inputs.push_back(In.From);
    }
    std::vector<Value *> Outs;
    for (const Value *V : Outputs[S])
      Outs.push_back(C->lookup(V->name()));
    C->setOutputs(std::move(Outs));
    std::vector<Node *> CNodes = C->nodeList();
    for (auto It = CNodes.rbegin(); It != CNodes.rend(); ++It) {
      Node *N = *It;
      if (isCopy(N) || N->device() != std::optional<int64_t>(S))
        C->eraseNode(N);
      else
        N->removeAttr(DeviceAttr);
    }
    for (Value *V : OldInputs)
      C->eraseValue(V);
    std::vector<Value *> Consts(C->constants().begin(), C->constants().end());
    for (Value *V : Consts)
      if (!V->hasUses() && !C->isOutput(V))
        C->eraseValue(V);
    C->attrs().erase(PlanBatchAttr.str());
    C->attrs().erase(PlanSeqAttr.str());
    if (llvm::Error E = verifyGraph(*C))
      return makeError("stage " + llvm::Twine(S) + " is not a valid graph: " +
                       llvm::toString(std::move(E)));
    Out.Stages.push_back(std::move(C));
  }
  return Out;
}

} // namespace kiln
