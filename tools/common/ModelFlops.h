//===- ModelFlops.h - the arithmetic a model does ---------------*- C++ -*-===//
//
// The FLOPs of one run of a model at a (batch, seq), for the TFLOP/s that
// `kiln bench` reports: the multiply-adds of the matrix products and of
// attention, each counted as 2 FLOPs: the partition pass's nodeCost
// (passes/Partition.h), the one formula both use.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_MODELFLOPS_H
#define KILN_TOOLS_MODELFLOPS_H

#include "ir/Graph.h"

#include <cstdint>

namespace kiln {

/// FLOPs of `G` with its `batch` and `seq` dims at `Batch` and `Seq`;
/// dims of other unknown sizes count as 1, as in the partition pass.
double modelFlops(const Graph &G, int64_t Batch, int64_t Seq);

} // namespace kiln

#endif
