//===- Bucketing.h - fitting requests to a plan's buckets -------*- C++ -*-===//
//
// A request of batch b runs in the smallest batch bucket >= b, padded with
// copies of its first row; a larger batch is split over the largest bucket.
// Its sequence length runs in the smallest seq bucket >= it, padded with
// zeros (masked positions), which needs an attention mask input. These
// functions choose the buckets and move the data between a request's shape
// and a bucket's; they touch host memory only.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_BUCKETING_H
#define KILN_RUNTIME_BUCKETING_H

#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln {

/// A request's batch and sequence length (-1 where no input has the dim),
/// checked against the inputs' specs.
struct RequestSize {
  int64_t Batch = -1, Seq = -1;
};
llvm::Expected<RequestSize>
requestSize(const ArtifactMetadata &Meta,
            llvm::ArrayRef<std::vector<int64_t>> InputDims);

/// The output shapes of a request: static dims from `First` (the plan's
/// first bucket), batch and seq dims from the request.
llvm::Expected<std::vector<std::vector<int64_t>>>
requestOutputShapes(const ArtifactMetadata &Meta, const BucketPlan &First,
                    RequestSize Size);

/// Whether a bucket has exactly the request's size.
bool hasExactBucket(llvm::ArrayRef<BucketPlan> Buckets, RequestSize Size);

/// The seq bucket a request runs in (0 when it has no sequence): the
/// smallest that holds it. Padding the sequence needs an attention mask.
llvm::Expected<int64_t> chooseSeqBucket(const ArtifactMetadata &Meta,
                                        llvm::ArrayRef<BucketPlan> Buckets,
                                        int64_t Seq);

/// The bucket for the next `Rows` rows of a request in seq bucket
/// `SeqBucket` (`Seq` < 0: any): the smallest that holds them, else the
/// largest.
size_t chooseBatchBucket(llvm::ArrayRef<BucketPlan> Buckets, int64_t Seq,
                         int64_t SeqBucket, int64_t Rows);

/// The padded buckets: the plan's first ones, before any packed-token
/// bucket (BucketPlan::Tokens). Shapes are matched against these only.
llvm::ArrayRef<BucketPlan> paddedBuckets(llvm::ArrayRef<BucketPlan> Buckets);

/// A bucket's forward time as its plan predicts it, in ms: each GEMM at
/// the tensor cores' rate, each kernel moving the bytes of the buffers it
/// is given at memory bandwidth, and a launch cost per step. Only the
/// ratio between two buckets of one plan is used (padded against packed).
double predictedMs(const BucketPlan &B);

/// The tokens rows [Row0, Row0 + Rows) of a [batch, Seq] mask of type `T`
/// keep, or -1 when one of them is not 1s then 0s (other values included)
/// or the type is not one a mask has.
int64_t maskedTokens(const void *Mask, DType T, int64_t Seq, int64_t Row0,
                     int64_t Rows);

/// The bucket a chunk that the padded bucket `Padded` would run and that
/// keeps `Tokens` tokens runs in: the smallest token bucket of the same
/// batch and seq that holds them, if `PredictedMs` (predictedMs of each
/// bucket) says it is faster or `Always`; else `Padded`.
size_t choosePackedBucket(llvm::ArrayRef<BucketPlan> Buckets,
                          llvm::ArrayRef<double> PredictedMs, size_t Padded,
                          int64_t Tokens, bool Always = false);

/// Copies between a bucket-shaped buffer and a request-shaped one, for the
/// chunk of `Rows` rows starting at `Row0` along `BatchDim` (-1: none).
/// Into the bucket, rows past the chunk repeat its first row (are zero with
/// `ZeroRows`: a packed bucket must see no tokens there) and positions
/// past the request's extent in other dims are zero; out of the bucket,
/// only the request's box is written.
void copyBox(const uint8_t *Src, uint8_t *Dst, llvm::ArrayRef<int64_t> Bucket,
             llvm::ArrayRef<int64_t> Request, int BatchDim, int64_t Row0,
             int64_t Rows, size_t Elem, bool ToBucket, bool ZeroRows = false);

} // namespace kiln

#endif
