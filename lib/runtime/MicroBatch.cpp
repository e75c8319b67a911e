//===- MicroBatch.cpp - how a pipeline splits a batch ---------------------===//
#include "runtime/MicroBatch.h"

#include <algorithm>

namespace kiln {

double pipelineSeconds(const StageCosts &C, int64_t Batch, int64_t Seq,
                       int64_t Size, double CopyBytesPerSecond) {
  double Tokens = double(Size) * double(std::max<int64_t>(Seq, 1));
  double Planned = double(C.PlannedBatch) * double(C.PlannedSeq);
  double Scale = Planned > 0 ? Tokens / Planned : 1;
  double Slowest = 0;
  for (size_t S = 0; S < C.Seconds.size(); ++S) {
    double Copy = S < C.CopyBytes.size() && CopyBytesPerSecond > 0
                      ? C.CopyBytes[S] * Scale / CopyBytesPerSecond
                      : 0;
    Slowest = std::max(Slowest,
                       C.Seconds[S] * Scale + Copy + MicroBatchOverheadSeconds);
  }
  int64_t Count = (Batch + Size - 1) / Size;
  return double(Count + int64_t(C.Seconds.size()) - 1) * Slowest;
}

MicroBatchChoice chooseMicroBatch(const StageCosts &C,
                                  llvm::ArrayRef<int64_t> BatchBuckets,
                                  int64_t Batch, int64_t Seq,
                                  double CopyBytesPerSecond, int64_t Forced) {
  MicroBatchChoice Best;
  for (int64_t Size : BatchBuckets) {
    if (Forced > 0 && Size != Forced)
      continue;
    double T = pipelineSeconds(C, Batch, Seq, Size, CopyBytesPerSecond);
    if (!Best.Size || T <= Best.Seconds)
      Best = {Size, (Batch + Size - 1) / Size, T};
  }
  if (!Best.Size) // `Forced` is no bucket: the cost model decides
    return chooseMicroBatch(C, BatchBuckets, Batch, Seq, CopyBytesPerSecond);
  return Best;
}

} // namespace kiln
