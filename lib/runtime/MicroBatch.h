//===- MicroBatch.h - how a pipeline splits a batch -------------*- C++ -*-===//
//
// A pipeline (Pipeline.h) runs a request as micro-batches flowing through
// its stages, so that while stage 1 works on micro-batch j, stage 0 works
// on j + 1. Its time for k micro-batches over S stages is about
//
//   (k + S - 1) * max over stages of (compute + copy out + overhead),
//
// each stage's compute scaled from the partition's cost at its planned
// shape (PartitionPlan::Stages) by the tokens of a micro-batch, its copy
// out at the rate between the devices, and a fixed overhead per stage and
// micro-batch (a CUDA graph launch, the copies and events). Small
// micro-batches fill the pipeline sooner but pay the overhead more often;
// micro-batches are batch buckets, so a last partial one is padded. The
// size with the least estimated time wins (the larger on ties).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_MICROBATCH_H
#define KILN_RUNTIME_MICROBATCH_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace kiln {

/// Per stage, at the planned shape: its compute seconds and the bytes it
/// copies to later stages.
struct StageCosts {
  std::vector<double> Seconds;
  std::vector<double> CopyBytes;
  int64_t PlannedBatch = 1, PlannedSeq = 1;
};

/// What a stage costs per micro-batch beyond its compute: launching its
/// CUDA graph, its copies and event waits (measured on an H100, order of
/// tens of microseconds; docs/multi-gpu.md).
inline constexpr double MicroBatchOverheadSeconds = 30e-6;

struct MicroBatchChoice {
  int64_t Size = 0;   // a batch bucket
  int64_t Count = 0;  // micro-batches: ceil(Batch / Size)
  double Seconds = 0; // the estimate
};

/// The estimated time of `Batch` rows at sequence `Seq` in micro-batches
/// of `Size` rows.
double pipelineSeconds(const StageCosts &C, int64_t Batch, int64_t Seq,
                       int64_t Size, double CopyBytesPerSecond);

/// The micro-batch among `BatchBuckets` (sorted, non-empty) with the least
/// estimated time for `Batch` (>= 1) rows. `Forced` > 0 (an override) is
/// used instead when it is a bucket.
MicroBatchChoice chooseMicroBatch(const StageCosts &C,
                                  llvm::ArrayRef<int64_t> BatchBuckets,
                                  int64_t Batch, int64_t Seq,
                                  double CopyBytesPerSecond,
                                  int64_t Forced = 0);

} // namespace kiln

#endif
