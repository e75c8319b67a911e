//===- StageSplit.h - a partitioned graph as one graph per stage -*- C++ -*-===//
//
// `kiln compile --partition pipeline` runs the partition pass, which puts
// each node on a device and routes every value crossing a cut through a
// PeerCopy, then splits the graph here into one graph per stage, each
// compiled as a complete artifact:
//
//   stage s's inputs:  the whole-model inputs its nodes read (model order),
//                      then one per PeerCopy into stage s, taking the value
//                      where it was made (a chain of copies through stages
//                      in between is one input from the producing stage);
//   stage s's outputs: the values later stages read (node order), then the
//                      whole-model outputs it makes.
//
// The PartitionPlan records, per stage input and whole-model output, where
// it comes from. Stage graphs carry no device attributes and no PeerCopy:
// each is a plain one-device graph.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_STAGESPLIT_H
#define KILN_CODEGEN_STAGESPLIT_H

#include "ir/Graph.h"
#include "runtime/Artifact.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

namespace kiln {

struct StageGraphs {
  std::vector<std::unique_ptr<Graph>> Stages;
  /// Kind Pipeline, Devices = Stages.size(), the planned shape, and per
  /// stage its nodes (PeerCopies included), cost and input sources; the
  /// output sources.
  PartitionPlan Plan;
};

/// Splits `G`, partitioned by the partition pass into `NumStages` stages
/// (every node has a device attribute), into its stage graphs. Errors when
/// a node has no device, a stage is empty, a value crosses stages without a
/// PeerCopy, or a whole-model output is no node's result.
llvm::Expected<StageGraphs> splitStages(const Graph &G, unsigned NumStages);

struct CompileOptions; // codegen/Compiler.h

/// Makes `A` (the whole model, compiled with `Options`) a pipeline over
/// `Devices` devices: partitions its optimized graph at its largest bucket
/// (partition{stages=Devices,batch=B,seq=S}), splits it, and compiles each
/// stage with every bucket of the model and only the weights it uses
/// (PipelineCompile.cpp). `A` itself stays the whole model.
llvm::Error addPipelineStages(Artifact &A, unsigned Devices,
                              const CompileOptions &Options);

} // namespace kiln

#endif
