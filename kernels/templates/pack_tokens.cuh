// pack_tokens.cuh - the tokens a [batch, seq] mask keeps, packed row by row.
//
//   pack_tokens<M, X0, X1, X2, X3, Values, Positions>
//   kept = the (b, s) with mask[b, s] != 0, in row-major order
//   out_i[t] = x_i[kept[t]]        for t < min(|kept|, Tokens), else 0
//   positions[t] = column of kept[t] (likewise, else 0)
//   spans[b] = (first, count): row b's kept tokens, clamped to [0, Tokens]
//
// Two kernels, launched one after the other:
// - pack_spans (one CTA of Threads = 1024 threads): warp w counts the kept
//   entries of rows w, w + 32, ... (lanes read a row's entries side by
//   side), a block-wide exclusive scan of the counts, in chunks of 1024
//   rows, gives each row its first slot; spans are written clamped to
//   [0, Tokens].
// - pack_tokens (one warp per row, GatherWarps rows a CTA): the warp walks
//   its row 32 entries at a time; a ballot of the kept flags ranks each kept
//   entry within the row, so entry (b, s) goes to slot first(b) + rank. A
//   slot at or past Tokens is not written, so no mask makes the kernels
//   write outside their results. The slots past the last row's end are
//   zero-filled by every CTA's threads in turn.
// (One CTA doing both took 46 us at 256 x 128 on an H200: its scans ran
// 32 chunks in series.)
// Nothing is read back to the host, so the launches can live in a CUDA
// graph.
//
// Values (0 to MaxValues) tensors are packed; X_i is the element type of
// value i (any storage type: they are copied, not converted); unused value
// slots keep their pointer parameters, which the launch fills with 0.
#pragma once

#include "common.cuh"

namespace kiln {

struct PackShape {
  static constexpr int Threads = 1024;
  static constexpr int Warps = Threads / 32;
  static constexpr int MaxValues = 4;
  static constexpr int GatherWarps = 8;
};

/// The exclusive prefix sum of `Flag` over the block, and the block's total
/// in `Total`. `Scratch` holds Warps + 1 ints; the block is synchronized
/// before the call writes it and on return.
__device__ __forceinline__ int block_exclusive_scan(int Flag, int *Scratch,
                                                    int &Total) {
  static_assert(PackShape::Warps == 32, "warp 0 scans one total a lane");
  const int Lane = threadIdx.x % 32, Warp = threadIdx.x / 32;
  int Inclusive = Flag;
#pragma unroll
  for (int Offset = 1; Offset < 32; Offset *= 2) {
    int Other = __shfl_up_sync(0xffffffffu, Inclusive, Offset);
    if (Lane >= Offset)
      Inclusive += Other;
  }
  __syncthreads(); // the previous call's readers are done with Scratch
  if (Lane == 31)
    Scratch[Warp] = Inclusive;
  __syncthreads();
  if (Warp == 0) {
    int Own = Scratch[Lane], Sum = Own;
#pragma unroll
    for (int Offset = 1; Offset < 32; Offset *= 2) {
      int Other = __shfl_up_sync(0xffffffffu, Sum, Offset);
      if (Lane >= Offset)
        Sum += Other;
    }
    Scratch[Lane] = Sum - Own; // the warps before this lane's
    if (Lane == 31)
      Scratch[PackShape::Warps] = Sum;
  }
  __syncthreads();
  Total = Scratch[PackShape::Warps];
  return Scratch[Warp] + Inclusive - Flag;
}

template <typename X>
__device__ __forceinline__ void pack_value(const X *In, X *Out, int64_t From,
                                           int64_t To) {
  Out[To] = In[From];
}

template <typename X>
__device__ __forceinline__ void zero_value(X *Out, int64_t To) {
  Out[To] = X{};
}

/// Spans[b] = (first slot, count) of row b, clamped to [0, Tokens].
template <typename M>
__global__ void __launch_bounds__(PackShape::Threads)
    pack_spans(const M *__restrict__ Mask, int32_t *Spans, int64_t Batch,
               int64_t Seq, int64_t Tokens) {
  wait_for_predecessor();
  __shared__ int Scratch[PackShape::Warps + 1];
  __shared__ int Counts[PackShape::Threads];
  const int Tid = threadIdx.x, Lane = Tid % 32, Warp = Tid / 32;
  int64_t Before = 0; // kept tokens in the rows already done
  for (int64_t Row0 = 0; Row0 < Batch; Row0 += PackShape::Threads) {
    // Warp w counts rows Row0 + w, Row0 + w + 32, ... of this chunk.
    for (int R = Warp; R < PackShape::Threads; R += PackShape::Warps) {
      int64_t Row = Row0 + R;
      int Count = 0;
      if (Row < Batch)
        for (int64_t S = Lane; S < Seq; S += 32)
          Count += to_float(Mask[Row * Seq + S]) != 0.0f;
#pragma unroll
      for (int Offset = 16; Offset > 0; Offset /= 2)
        Count += __shfl_xor_sync(0xffffffffu, Count, Offset);
      if (Lane == 0)
        Counts[R] = Count;
    }
    __syncthreads();
    int Count = Counts[Tid], ChunkTotal;
    int64_t First = Before + block_exclusive_scan(Count, Scratch, ChunkTotal);
    int64_t Row = Row0 + Tid;
    if (Row < Batch) {
      int64_t From = min(First, Tokens), To = min(First + Count, Tokens);
      Spans[2 * Row] = int32_t(From);
      Spans[2 * Row + 1] = int32_t(To - From);
    }
    Before += ChunkTotal;
    __syncthreads(); // Counts is rewritten by the next chunk
  }
}

/// The packed values and positions of the kept entries, at the slots
/// pack_spans gave their rows; zeros past the last row's end.
template <typename M, typename X0, typename X1, typename X2, typename X3,
          int Values, bool Positions>
__global__ void __launch_bounds__(PackShape::GatherWarps * 32)
    pack_tokens(const M *__restrict__ Mask, const int32_t *Spans,
                const X0 *__restrict__ In0, X0 *__restrict__ Out0,
                const X1 *__restrict__ In1, X1 *__restrict__ Out1,
                const X2 *__restrict__ In2, X2 *__restrict__ Out2,
                const X3 *__restrict__ In3, X3 *__restrict__ Out3,
                int32_t *__restrict__ PositionsOut, int64_t Batch, int64_t Seq,
                int64_t Tokens) {
  wait_for_predecessor();
  static_assert(Values >= 0 && Values <= PackShape::MaxValues,
                "at most MaxValues packed values");
  const int Lane = threadIdx.x % 32;
  const int64_t Row =
      int64_t(blockIdx.x) * PackShape::GatherWarps + threadIdx.x / 32;
  if (Row < Batch) {
    int64_t Slot = Spans[2 * Row]; // clamped: past Tokens nothing is written
    for (int64_t S0 = 0; S0 < Seq; S0 += 32) {
      int64_t S = S0 + Lane;
      int64_t E = Row * Seq + S;
      bool Keep = S < Seq && to_float(Mask[E]) != 0.0f;
      unsigned Kept = __ballot_sync(0xffffffffu, Keep);
      int64_t To = Slot + __popc(Kept & ((1u << Lane) - 1u));
      if (Keep && To < Tokens) {
        if constexpr (Values > 0)
          pack_value(In0, Out0, E, To);
        if constexpr (Values > 1)
          pack_value(In1, Out1, E, To);
        if constexpr (Values > 2)
          pack_value(In2, Out2, E, To);
        if constexpr (Values > 3)
          pack_value(In3, Out3, E, To);
        if constexpr (Positions)
          PositionsOut[To] = int32_t(S);
      }
      Slot += __popc(Kept);
    }
  }
  // Zeros past the last row's (clamped) end.
  const int64_t Kept =
      Batch > 0 ? int64_t(Spans[2 * (Batch - 1)]) + Spans[2 * (Batch - 1) + 1]
                : 0;
  for (int64_t T = Kept + int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
       T < Tokens; T += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (Values > 0)
      zero_value(Out0, T);
    if constexpr (Values > 1)
      zero_value(Out1, T);
    if constexpr (Values > 2)
      zero_value(Out2, T);
    if constexpr (Values > 3)
      zero_value(Out3, T);
    if constexpr (Positions)
      PositionsOut[T] = 0;
  }
}

} // namespace kiln
