// pack_tokens.cuh - the tokens a [batch, seq] mask keeps, packed row by row.
//
//   pack_tokens<M, X0, X1, X2, X3, Values, Positions>
//   kept = the (b, s) with mask[b, s] != 0, in row-major order
//   out_i[t] = x_i[kept[t]]        for t < min(|kept|, Tokens), else 0
//   positions[t] = column of kept[t] (likewise, else 0)
//   spans[b] = (first, count): row b's kept tokens, clamped to [0, Tokens]
//
// One CTA of Threads = 1024 threads walks the Batch * Seq mask entries in
// chunks of 1024: each thread tests one entry, a block-wide exclusive scan
// of the 0/1 flags (warp shuffles, then the 32 warp totals) plus the count
// of the chunks before gives each kept token its packed slot. A slot at or
// past Tokens is not written, so no mask makes the kernel write outside its
// results: spans then hold the clamped counts. Row b's first slot is the
// scan value at entry (b, 0); its count is the next row's first slot (or
// the clamped total) minus it. Slots past the kept tokens are zero-filled.
// Nothing is read back to the host, so the launch can live in a CUDA graph.
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

template <typename M, typename X0, typename X1, typename X2, typename X3,
          int Values, bool Positions>
__global__ void __launch_bounds__(PackShape::Threads)
    pack_tokens(const M *__restrict__ Mask, int32_t *Spans,
                const X0 *__restrict__ In0, X0 *__restrict__ Out0,
                const X1 *__restrict__ In1, X1 *__restrict__ Out1,
                const X2 *__restrict__ In2, X2 *__restrict__ Out2,
                const X3 *__restrict__ In3, X3 *__restrict__ Out3,
                int32_t *__restrict__ PositionsOut, int64_t Batch, int64_t Seq,
                int64_t Tokens) {
  wait_for_predecessor();
  static_assert(Values >= 0 && Values <= PackShape::MaxValues,
                "at most MaxValues packed values");
  __shared__ int Scratch[PackShape::Warps + 1];
  const int Tid = threadIdx.x;
  const int64_t Entries = Batch * Seq;
  int64_t Before = 0; // kept tokens in the chunks already done
  for (int64_t Chunk = 0; Chunk < Entries; Chunk += PackShape::Threads) {
    int64_t E = Chunk + Tid;
    bool Keep = E < Entries && to_float(Mask[E]) != 0.0f;
    int ChunkTotal;
    int64_t Slot =
        Before + block_exclusive_scan(Keep ? 1 : 0, Scratch, ChunkTotal);
    if (E < Entries && E % Seq == 0)
      Spans[2 * (E / Seq)] = int32_t(min(Slot, Tokens));
    if (Keep && Slot < Tokens) {
      if constexpr (Values > 0)
        pack_value(In0, Out0, E, Slot);
      if constexpr (Values > 1)
        pack_value(In1, Out1, E, Slot);
      if constexpr (Values > 2)
        pack_value(In2, Out2, E, Slot);
      if constexpr (Values > 3)
        pack_value(In3, Out3, E, Slot);
      if constexpr (Positions)
        PositionsOut[Slot] = int32_t(E % Seq);
    }
    Before += ChunkTotal;
  }
  const int64_t Kept = min(Before, Tokens);
  if (Seq == 0)
    for (int64_t B = Tid; B < Batch; B += PackShape::Threads)
      Spans[2 * B] = 0;
  __syncthreads(); // every row's first slot is written
  for (int64_t B = Tid; B < Batch; B += PackShape::Threads) {
    int64_t Next = B + 1 < Batch ? int64_t(Spans[2 * (B + 1)]) : Kept;
    Spans[2 * B + 1] = int32_t(Next - Spans[2 * B]);
  }
  for (int64_t T = Kept + Tid; T < Tokens; T += PackShape::Threads) {
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
