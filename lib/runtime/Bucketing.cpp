//===- Bucketing.cpp - fitting requests to a plan's buckets ---------------===//
#include "runtime/Bucketing.h"

#include "ir/Error.h"
#include "runtime/InputRoles.h"

#include <algorithm>
#include <cstring>
#include <variant>

namespace kiln {

llvm::Expected<RequestSize>
requestSize(const ArtifactMetadata &Meta,
            llvm::ArrayRef<std::vector<int64_t>> Dims) {
  if (Dims.size() != Meta.Inputs.size())
    return makeError("expected " + llvm::Twine(Meta.Inputs.size()) +
                     " inputs, got " + llvm::Twine(Dims.size()));
  RequestSize R;
  std::vector<IoRoles> Roles = inputRoles(Meta);
  for (size_t I = 0; I < Dims.size(); ++I) {
    const IoSpec &S = Meta.Inputs[I];
    if (Dims[I].size() != S.Dims.size())
      return makeError("input '" + S.Name + "' must have rank " +
                       llvm::Twine(S.Dims.size()) + ", got " +
                       llvm::Twine(Dims[I].size()));
    for (size_t D = 0; D < S.Dims.size(); ++D) {
      int64_t Size = Dims[I][D];
      const Dim &Want = S.Dims[D];
      auto Bind = [&](int64_t &Slot, llvm::StringRef What) -> llvm::Error {
        if (Slot >= 0 && Slot != Size)
          return makeError("input '" + S.Name + "' has " + What + " " +
                           llvm::Twine(Size) + ", other inputs have " +
                           llvm::Twine(Slot));
        Slot = Size;
        return llvm::Error::success();
      };
      if (Want.isStatic()) {
        if (Want.value() != Size)
          return makeError("input '" + S.Name + "' dim " + llvm::Twine(D) +
                           " must be " + llvm::Twine(Want.value()) + ", got " +
                           llvm::Twine(Size));
      } else if (Roles[I].Dims[D] == DimRole::Batch) {
        if (llvm::Error E = Bind(R.Batch, "batch"))
          return std::move(E);
      } else if (Roles[I].Dims[D] == DimRole::Seq) {
        if (llvm::Error E = Bind(R.Seq, "sequence length"))
          return std::move(E);
      }
    }
  }
  return R;
}

llvm::Expected<std::vector<std::vector<int64_t>>>
requestOutputShapes(const ArtifactMetadata &Meta, const BucketPlan &First,
                    RequestSize Size) {
  std::vector<std::vector<int64_t>> Shapes;
  for (size_t I = 0; I < Meta.Outputs.size(); ++I) {
    std::vector<int64_t> Dims = First.Outputs[I].Dims;
    const IoSpec &S = Meta.Outputs[I];
    IoRoles Roles = ioRoles(S);
    for (size_t D = 0; D < S.Dims.size() && D < Dims.size(); ++D) {
      if (Roles.Dims[D] == DimRole::Batch)
        Dims[D] = Size.Batch;
      else if (Roles.Dims[D] == DimRole::Seq)
        Dims[D] = Size.Seq;
      else if (!S.Dims[D].isStatic())
        return makeError("output '" + S.Name + "' dim " + llvm::Twine(D) +
                         " (" + S.Dims[D].str() +
                         ") does not follow the batch or the sequence: its "
                         "size depends on the bucket");
    }
    Shapes.push_back(std::move(Dims));
  }
  return Shapes;
}

bool hasExactBucket(llvm::ArrayRef<BucketPlan> Buckets, RequestSize Size) {
  bool Exact = false;
  for (const BucketPlan &B : Buckets)
    Exact |= (Size.Batch < 0 || B.Batch == Size.Batch) &&
             (Size.Seq < 0 || B.Seq == Size.Seq);
  return Exact;
}

llvm::Expected<int64_t> chooseSeqBucket(const ArtifactMetadata &Meta,
                                        llvm::ArrayRef<BucketPlan> Buckets,
                                        int64_t Seq) {
  if (Seq < 0)
    return 0;
  int64_t SeqBucket = INT64_MAX;
  for (const BucketPlan &B : Buckets)
    if (B.Seq >= Seq)
      SeqBucket = std::min(SeqBucket, B.Seq);
  if (SeqBucket == INT64_MAX)
    return makeError("sequence length " + llvm::Twine(Seq) +
                     " exceeds the largest seq bucket");
  if (SeqBucket != Seq) {
    bool HasMask = false;
    for (const IoRoles &R : inputRoles(Meta))
      HasMask |= R.AttentionMask;
    if (!HasMask)
      return makeError("sequence length " + llvm::Twine(Seq) +
                       " has no bucket of its own, and padding needs an "
                       "attention mask input");
  }
  return SeqBucket;
}

size_t chooseBatchBucket(llvm::ArrayRef<BucketPlan> Buckets, int64_t Seq,
                         int64_t SeqBucket, int64_t Rows) {
  size_t Best = SIZE_MAX;
  for (size_t I = 0; I < Buckets.size(); ++I) {
    if (Seq >= 0 && Buckets[I].Seq != SeqBucket)
      continue;
    bool Fits = Buckets[I].Batch >= Rows;
    if (Best == SIZE_MAX) {
      Best = I;
      continue;
    }
    bool BestFits = Buckets[Best].Batch >= Rows;
    if ((Fits && (!BestFits || Buckets[I].Batch < Buckets[Best].Batch)) ||
        (!Fits && !BestFits && Buckets[I].Batch > Buckets[Best].Batch))
      Best = I;
  }
  return Best;
}

llvm::ArrayRef<BucketPlan> paddedBuckets(llvm::ArrayRef<BucketPlan> Buckets) {
  size_t N = 0;
  while (N < Buckets.size() && Buckets[N].Tokens == 0)
    ++N;
  return Buckets.take_front(N);
}

double predictedMs(const BucketPlan &B) {
  // H100-class rates; only ratios within one plan matter.
  constexpr double FlopsPerMs = 500e9, BytesPerMs = 2.5e9, StepMs = 0.0025;
  double Ms = 0;
  for (const Step &S : B.Steps) {
    Ms += StepMs;
    if (const auto *G = std::get_if<GemmStep>(&S)) {
      Ms += 2.0 * double(G->M) * double(G->N) * double(G->K) *
            double(G->Batch) / FlopsPerMs;
    } else if (const auto *K = std::get_if<KernelStep>(&S)) {
      for (const KernelArg &A : K->Args)
        if (A.K == KernelArg::Kind::Buffer)
          Ms += double(A.Buffer.Bytes) / BytesPerMs;
    } else if (const auto *C = std::get_if<CopyStep>(&S)) {
      Ms += 2.0 * double(C->Src.Bytes) / BytesPerMs;
    }
  }
  return Ms;
}

int64_t maskedTokens(const void *Mask, DType T, int64_t Seq, int64_t Row0,
                     int64_t Rows) {
  auto Value = [&](int64_t I) -> double {
    switch (T) {
    case DType::I64: return double(static_cast<const int64_t *>(Mask)[I]);
    case DType::I32: return double(static_cast<const int32_t *>(Mask)[I]);
    case DType::I8: return double(static_cast<const int8_t *>(Mask)[I]);
    case DType::F64: return static_cast<const double *>(Mask)[I];
    case DType::F32: return double(static_cast<const float *>(Mask)[I]);
    case DType::Bool:
    case DType::U8: return double(static_cast<const uint8_t *>(Mask)[I]);
    default: return -1;
    }
  };
  int64_t Tokens = 0;
  for (int64_t R = Row0; R < Row0 + Rows; ++R) {
    bool Kept = true;
    for (int64_t S = 0; S < Seq; ++S) {
      double V = Value(R * Seq + S);
      if (V == 1 && Kept)
        ++Tokens;
      else if (V == 0)
        Kept = false;
      else
        return -1;
    }
  }
  return Tokens;
}

size_t choosePackedBucket(llvm::ArrayRef<BucketPlan> Buckets,
                          llvm::ArrayRef<double> PredictedMs, size_t Padded,
                          int64_t Tokens, bool Always) {
  const BucketPlan &P = Buckets[Padded];
  size_t Best = SIZE_MAX;
  for (size_t I = 0; I < Buckets.size(); ++I) {
    const BucketPlan &B = Buckets[I];
    if (B.Tokens > 0 && B.Tokens >= Tokens && B.Batch == P.Batch &&
        B.Seq == P.Seq && (Best == SIZE_MAX || B.Tokens < Buckets[Best].Tokens))
      Best = I;
  }
  if (Best == SIZE_MAX || (!Always && PredictedMs[Best] >= PredictedMs[Padded]))
    return Padded;
  return Best;
}

void copyBox(const uint8_t *Src, uint8_t *Dst, llvm::ArrayRef<int64_t> Bucket,
             llvm::ArrayRef<int64_t> Request, int BatchDim, int64_t Row0,
             int64_t Rows, size_t Elem, bool ToBucket, bool ZeroRows) {
  int64_t Rank = int64_t(Bucket.size());
  if (Rank == 0) {
    std::memcpy(Dst, Src, Elem);
    return;
  }
  // The innermost dim moves as one run unless it is the batch dim.
  bool RunInner = BatchDim != Rank - 1;
  int64_t Outer = RunInner ? Rank - 1 : Rank;
  int64_t Run = RunInner ? Bucket.back() : 1;
  int64_t Valid = RunInner ? std::min(Bucket.back(), Request.back()) : 1;
  std::vector<int64_t> Index(Outer, 0);
  int64_t Lines = 1;
  for (int64_t D = 0; D < Outer; ++D)
    Lines *= Bucket[D];
  for (int64_t Line = 0; Line < Lines; ++Line) {
    bool Inside = true;
    int64_t ReqOffset = 0;
    for (int64_t D = 0; D < Outer; ++D) {
      int64_t I = Index[D];
      if (D == BatchDim) {
        if (I >= Rows) {
          if (!ToBucket || ZeroRows)
            Inside = false;
          I = 0;
        }
        I += Row0;
      } else if (I >= Request[D]) {
        Inside = false;
        I = 0;
      }
      ReqOffset = ReqOffset * Request[D] + I;
    }
    if (RunInner)
      ReqOffset *= Request.back();
    uint8_t *BucketLine =
        (ToBucket ? Dst : const_cast<uint8_t *>(Src)) + Line * Run * Elem;
    if (ToBucket) {
      if (Inside) {
        std::memcpy(BucketLine, Src + ReqOffset * Elem, Valid * Elem);
        std::memset(BucketLine + Valid * Elem, 0, (Run - Valid) * Elem);
      } else {
        std::memset(BucketLine, 0, Run * Elem);
      }
    } else if (Inside) {
      std::memcpy(Dst + ReqOffset * Elem, BucketLine, Valid * Elem);
    }
    for (int64_t D = Outer - 1; D >= 0; --D) {
      if (++Index[D] < Bucket[D])
        break;
      Index[D] = 0;
    }
  }
}

} // namespace kiln
