// pool_normalize.cuh - masked mean (or CLS) pooling, then L2 normalization.
//
//   pool_normalize<W, T, M, MaskKind, Mean, Normalize, O = T, Threads = 256>
//   mean: y[b] = sum_s h[b, s] * m[b, s] / max(sum_s m[b, s], min_count)
//   cls:  y[b] = h[b, 0]
//   then, with Normalize, y[b] /= max(|y[b]|_2, epsilon)
//
// MaskKind 0: no mask (m = 1). 1: m is the [batch, seq] mask. 3: packed
// tokens (PackTokens): h is [1, Seq, W] and the mask slot holds spans,
// [batch, 2] int32_t (first token, count); sequence b is span b's tokens
// (m = 1), clamped to the Seq tokens, and an empty span pools to 0.
//
// One block of Threads (256, or 1024 when there are fewer sequences than
// SMs) per sequence; W is the hidden size, T the storage of
// h, O that of y (an f32 embedding from f16 states: no Cast kernel after
// it), M the mask's element type (any; its values are weights). Rows
// are read with accesses of Vec elements (at most 16 bytes); when a row
// needs fewer than Threads accesses the block splits the sequence into
// Groups interleaved parts (hidden 384 in f16: 48 accesses, 5 groups of
// 256 threads, 21 of 1024) whose fp32 partial sums meet in shared memory:
// a group reads its tokens one after another, so more groups shorten the
// chain of loads of a long sequence. Tokens whose mask is 0 are not read.
#pragma once

#include "common.cuh"

namespace kiln {

template <int W, typename T, int BlockThreads = 256> struct PoolShape {
  static constexpr int Threads = BlockThreads;
  static constexpr int Vec = widest_vec<T>(W);
  static constexpr int Accesses = W / Vec;
  static constexpr int Groups = Accesses < Threads ? Threads / Accesses : 1;
  static constexpr int Items = (Accesses + Threads - 1) / Threads;
  static_assert(Items <= 8, "row too wide");
};

template <int W, typename T, typename M, int MaskKind, bool Mean,
          bool Normalize, typename O = T, int Threads = 256>
__global__ void __launch_bounds__(Threads)
    pool_normalize(const T *__restrict__ H, const M *__restrict__ Mask,
                   O *__restrict__ Out, int64_t Seq, float MinCount,
                   float Epsilon) {
  wait_for_predecessor();
  using S = PoolShape<W, T, Threads>;
  static_assert(MaskKind == 0 || MaskKind == 1 || MaskKind == 3,
                "pool_normalize: no mask, a mask, or spans");
  constexpr bool HasMask = MaskKind == 1;
  __shared__ float Scratch[32];
  // Partial sums of groups 1.. (group 0 keeps its own in registers).
  __shared__ float Partial[S::Groups > 1 ? S::Groups - 1 : 1][W];
  int64_t B = blockIdx.x;
  int Tid = threadIdx.x;
  int Group = Tid / S::Accesses, Lane = Tid % S::Accesses;
  if constexpr (S::Groups == 1)
    Group = 0, Lane = Tid;
  bool Active = Group < S::Groups;
  auto valid = [&](int I) {
    return Active && (S::Accesses % S::Threads == 0 ||
                      Lane + I * S::Threads < S::Accesses);
  };
  auto column = [&](int I) { return (Lane + I * S::Threads) * S::Vec; };

  float Acc[S::Items * S::Vec];
#pragma unroll
  for (int I = 0; I < S::Items * S::Vec; ++I)
    Acc[I] = 0.0f;
  const T *Seq0 = H + B * Seq * W;
  if constexpr (MaskKind == 3) {
    int64_t First = min(max(int64_t(Mask[2 * B]), int64_t(0)), Seq);
    int64_t Count = min(max(int64_t(Mask[2 * B + 1]), int64_t(0)), Seq - First);
    Seq0 = H + First * W;
    Seq = Count;
  }
  if constexpr (Mean) {
    float Count = 0.0f;
    for (int64_t Tok = Tid; Tok < Seq; Tok += S::Threads)
      Count += HasMask ? to_float(Mask[B * Seq + Tok]) : 1.0f;
    Count = fmaxf(block_sum(Count, Scratch), MinCount);
    for (int64_t Tok = Group; Active && Tok < Seq; Tok += S::Groups) {
      float Weight = HasMask ? to_float(Mask[B * Seq + Tok]) : 1.0f;
      if (Weight == 0.0f)
        continue;
#pragma unroll
      for (int I = 0; I < S::Items; ++I) {
        if (!valid(I))
          continue;
        float V[S::Vec];
        load_floats<S::Vec>(Seq0 + Tok * W + column(I), V);
#pragma unroll
        for (int E = 0; E < S::Vec; ++E)
          Acc[I * S::Vec + E] += V[E] * Weight;
      }
    }
    if constexpr (S::Groups > 1) {
      if (Active && Group > 0)
#pragma unroll
        for (int E = 0; E < S::Vec; ++E)
          Partial[Group - 1][column(0) + E] = Acc[E];
      __syncthreads();
      if (Group == 0)
        for (int G = 1; G < S::Groups; ++G)
#pragma unroll
          for (int E = 0; E < S::Vec; ++E)
            Acc[E] += Partial[G - 1][column(0) + E];
    }
#pragma unroll
    for (int I = 0; I < S::Items * S::Vec; ++I)
      Acc[I] /= Count;
  } else {
#pragma unroll
    for (int I = 0; I < S::Items; ++I)
      if (Group == 0 && valid(I) && Seq > 0)
        load_floats<S::Vec>(Seq0 + column(I), Acc + I * S::Vec);
  }

  // From here on only group 0 holds the result.
  bool Owner = Group == 0;
  if constexpr (Normalize) {
    float Squares = 0.0f;
#pragma unroll
    for (int I = 0; I < S::Items; ++I)
      if (Owner && valid(I))
#pragma unroll
        for (int E = 0; E < S::Vec; ++E)
          Squares += Acc[I * S::Vec + E] * Acc[I * S::Vec + E];
    float Denom = fmaxf(sqrtf(block_sum(Squares, Scratch)), Epsilon);
#pragma unroll
    for (int I = 0; I < S::Items * S::Vec; ++I)
      Acc[I] /= Denom;
  }
#pragma unroll
  for (int I = 0; I < S::Items; ++I)
    if (Owner && valid(I))
      store_floats<S::Vec>(Out + B * W + column(I), Acc + I * S::Vec);
}

} // namespace kiln
