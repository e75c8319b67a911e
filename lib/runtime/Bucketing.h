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

/// Copies between a bucket-shaped buffer and a request-shaped one, for the
/// chunk of `Rows` rows starting at `Row0` along `BatchDim` (-1: none).
/// Into the bucket, rows past the chunk repeat its first row and positions
/// past the request's extent in other dims are zero; out of the bucket,
/// only the request's box is written.
void copyBox(const uint8_t *Src, uint8_t *Dst, llvm::ArrayRef<int64_t> Bucket,
             llvm::ArrayRef<int64_t> Request, int BatchDim, int64_t Row0,
             int64_t Rows, size_t Elem, bool ToBucket);

} // namespace kiln

#endif
