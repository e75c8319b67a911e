// The pipeline's micro-batch choice: the estimated time of each bucket,
// the least wins, an override that is a bucket is taken as is.
#include "runtime/MicroBatch.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

StageCosts twoEqualStages() {
  StageCosts C;
  C.Seconds = {1e-3, 1e-3}; // at 256 x 128
  C.CopyBytes = {0, 0};
  C.PlannedBatch = 256;
  C.PlannedSeq = 128;
  return C;
}

TEST(MicroBatch, EstimateFillsThePipeline) {
  StageCosts C = twoEqualStages();
  // One micro-batch of 256: two stage times, one after the other.
  EXPECT_NEAR(pipelineSeconds(C, 256, 128, 256, 1e12),
              2 * (1e-3 + MicroBatchOverheadSeconds), 1e-12);
  // Eight of 32: nine steps of an eighth of a stage.
  EXPECT_NEAR(pipelineSeconds(C, 256, 128, 32, 1e12),
              9 * (1e-3 / 8 + MicroBatchOverheadSeconds), 1e-12);
  // Copies count on the stage that sends them.
  C.CopyBytes = {1e9, 0};
  EXPECT_NEAR(pipelineSeconds(C, 256, 128, 256, 1e12),
              2 * (1e-3 + 1e-3 + MicroBatchOverheadSeconds), 1e-12);
}

TEST(MicroBatch, LeastEstimatedTimeWins) {
  StageCosts C = twoEqualStages();
  std::vector<int64_t> Buckets = {1, 8, 32, 128, 256};
  MicroBatchChoice M = chooseMicroBatch(C, Buckets, 256, 128, 1e12);
  EXPECT_EQ(M.Size, 32);
  EXPECT_EQ(M.Count, 8);
  // Three rows: one padded micro-batch of 8 beats three of 1.
  M = chooseMicroBatch(C, Buckets, 3, 128, 1e12);
  EXPECT_EQ(M.Size, 8);
  EXPECT_EQ(M.Count, 1);
  // A slow link makes copies dominate: still the least estimate.
  C.CopyBytes = {64e6, 0};
  M = chooseMicroBatch(C, Buckets, 256, 128, 20e9);
  double Best = M.Seconds;
  for (int64_t B : Buckets)
    EXPECT_LE(Best, pipelineSeconds(C, 256, 128, B, 20e9) + 1e-15);
}

TEST(MicroBatch, OverrideIsTakenWhenItIsABucket) {
  StageCosts C = twoEqualStages();
  std::vector<int64_t> Buckets = {1, 8, 32, 128, 256};
  MicroBatchChoice M = chooseMicroBatch(C, Buckets, 256, 128, 1e12, 128);
  EXPECT_EQ(M.Size, 128);
  EXPECT_EQ(M.Count, 2);
  M = chooseMicroBatch(C, Buckets, 256, 128, 1e12, 5);
  EXPECT_EQ(M.Size, 32);
}

} // namespace
