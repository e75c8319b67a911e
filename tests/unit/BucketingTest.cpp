#include "runtime/Bucketing.h"

#include <gtest/gtest.h>

#include <vector>

using namespace kiln;

namespace {

BucketPlan plan(int64_t Batch, int64_t Seq, int64_t Tokens) {
  BucketPlan B;
  B.Batch = Batch;
  B.Seq = Seq;
  B.Tokens = Tokens;
  // One GEMM over the rows the bucket computes, one kernel over them.
  int64_t Rows = Tokens ? Tokens : Batch * Seq;
  GemmStep &G = B.Steps.emplace_back().emplace<GemmStep>();
  G.M = Rows;
  G.N = 1536;
  G.K = 384;
  KernelStep &K = B.Steps.emplace_back().emplace<KernelStep>();
  KernelArg A;
  A.K = KernelArg::Kind::Buffer;
  A.Buffer.Bytes = uint64_t(Rows) * 384 * 2;
  K.Args = {A, A};
  return B;
}

} // namespace

TEST(Bucketing, PaddedBucketsEndAtTheFirstPackedOne) {
  std::vector<BucketPlan> Buckets = {plan(1, 128, 0), plan(8, 128, 0),
                                     plan(8, 128, 256), plan(8, 128, 512)};
  EXPECT_EQ(paddedBuckets(Buckets).size(), 2u);
  EXPECT_EQ(paddedBuckets(llvm::ArrayRef(Buckets).drop_front(2)).size(), 0u);
}

TEST(Bucketing, PredictedTimeGrowsWithTheTokens) {
  EXPECT_LT(predictedMs(plan(8, 128, 256)), predictedMs(plan(8, 128, 512)));
  EXPECT_LT(predictedMs(plan(8, 128, 512)), predictedMs(plan(8, 128, 0)));
  EXPECT_GT(predictedMs(BucketPlan()), -1e-12);
}

TEST(Bucketing, MaskedTokensCountsPrefixRowsOnly) {
  // 3 rows of 4: lengths 2, 4, 0.
  std::vector<int64_t> Mask = {1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};
  EXPECT_EQ(maskedTokens(Mask.data(), DType::I64, 4, 0, 3), 6);
  EXPECT_EQ(maskedTokens(Mask.data(), DType::I64, 4, 1, 1), 4);
  EXPECT_EQ(maskedTokens(Mask.data(), DType::I64, 4, 2, 1), 0);
  std::vector<float> F = {1, 1, 1, 0};
  EXPECT_EQ(maskedTokens(F.data(), DType::F32, 4, 0, 1), 3);
  std::vector<int32_t> Hole = {1, 0, 1, 0};
  EXPECT_EQ(maskedTokens(Hole.data(), DType::I32, 4, 0, 1), -1);
  std::vector<int32_t> Two = {1, 2, 0, 0};
  EXPECT_EQ(maskedTokens(Two.data(), DType::I32, 4, 0, 1), -1);
  std::vector<uint16_t> Half = {0x3c00, 0, 0, 0};
  EXPECT_EQ(maskedTokens(Half.data(), DType::F16, 4, 0, 1), -1);
}

TEST(Bucketing, PackedBucketIsTheSmallestThatHoldsTheTokensWhenFaster) {
  std::vector<BucketPlan> Buckets = {plan(8, 64, 0),    plan(8, 128, 0),
                                     plan(8, 128, 256), plan(8, 128, 512),
                                     plan(8, 64, 256),  plan(4, 128, 256)};
  std::vector<double> Ms;
  for (const BucketPlan &B : Buckets)
    Ms.push_back(predictedMs(B));
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 100), 2u);
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 256), 2u);
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 257), 3u);
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 1000), 1u); // none holds them
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 0, 200), 4u);  // its own seq
  // A packed bucket predicted no faster than the padded one is not taken,
  // unless asked to always pack (then still only one that holds them).
  Ms[2] = Ms[3] = Ms[1];
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 100), 1u);
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 100, true), 2u);
  EXPECT_EQ(choosePackedBucket(Buckets, Ms, 1, 1000, true), 1u);
}

TEST(Bucketing, CopyBoxZeroesRowsPastTheChunkForPackedBuckets) {
  // A request of 1 row of 3 into a bucket of 2 rows of 4.
  std::vector<int32_t> Request = {1, 1, 1};
  std::vector<int32_t> Bucket(8, -1);
  copyBox(reinterpret_cast<const uint8_t *>(Request.data()),
          reinterpret_cast<uint8_t *>(Bucket.data()), {2, 4}, {1, 3}, 0, 0, 1,
          4, /*ToBucket=*/true);
  EXPECT_EQ(Bucket, (std::vector<int32_t>{1, 1, 1, 0, 1, 1, 1, 0}));
  copyBox(reinterpret_cast<const uint8_t *>(Request.data()),
          reinterpret_cast<uint8_t *>(Bucket.data()), {2, 4}, {1, 3}, 0, 0, 1,
          4, /*ToBucket=*/true, /*ZeroRows=*/true);
  EXPECT_EQ(Bucket, (std::vector<int32_t>{1, 1, 1, 0, 0, 0, 0, 0}));
}
