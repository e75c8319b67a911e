//===- Partition.h - the cost model behind pipeline partitions --*- C++ -*-===//
//
// What the partition pass (Partition.cpp) balances and `kiln inspect` reports
// per stage: each node's FLOPs and the bytes it moves, with symbolic dims
// evaluated at the shape a partition is planned for, and their time at two
// rates calibrated from a measured `kiln bench --profile` (docs/multi-gpu.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PARTITION_H
#define KILN_PASSES_PARTITION_H

#include "ir/Graph.h"

namespace kiln {

/// GEMM rate and memory rate of one H100 at fp16, from the all-MiniLM-L6-v2
/// profile at 256x128 in docs/benchmarks.md (how: docs/multi-gpu.md).
inline constexpr double PartitionFlopRate = 490e12; // FLOP/s
inline constexpr double PartitionByteRate = 2.6e12; // bytes/s

/// The shape a partition is planned for: `batch` and `seq` dims take these
/// sizes; other symbolic or unknown dims count as 1.
struct PlanShape {
  int64_t Batch = 256;
  int64_t Seq = 128;
};

/// The graph attributes where the partition pass records its PlanShape.
inline constexpr llvm::StringLiteral PlanBatchAttr = "partition_batch";
inline constexpr llvm::StringLiteral PlanSeqAttr = "partition_seq";

/// The shape recorded in `G`'s attributes, or the default one.
PlanShape plannedShape(const Graph &G);

struct NodeCost {
  double Flops = 0; // matrix products and attention, 2 per multiply-add
  double Bytes = 0; // operands read (weights included) and results written
  double seconds() const {
    return Flops / PartitionFlopRate + Bytes / PartitionByteRate;
  }
  NodeCost &operator+=(const NodeCost &O) {
    Flops += O.Flops;
    Bytes += O.Bytes;
    return *this;
  }
};

/// The bytes of a value of type `T` at shape `S`.
double valueBytes(const TensorType &T, const PlanShape &S);
NodeCost nodeCost(const Node &N, const PlanShape &S);

} // namespace kiln

#endif
