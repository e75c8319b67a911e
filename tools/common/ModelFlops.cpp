//===- ModelFlops.cpp - the arithmetic a model does -----------------------===//
//
// The FLOPs are the partition pass's cost model's (passes/Partition.h), so
// that `kiln bench` and the stages of `kiln inspect` count alike.
//
//===----------------------------------------------------------------------===//
#include "common/ModelFlops.h"

#include "passes/Partition.h"

namespace kiln {

double modelFlops(const Graph &G, int64_t Batch, int64_t Seq) {
  PlanShape Shape{Batch, Seq};
  double Flops = 0;
  for (const auto &N : G.nodes())
    Flops += nodeCost(*N, Shape).Flops;
  return Flops;
}

} // namespace kiln
