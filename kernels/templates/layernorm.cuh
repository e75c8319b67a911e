// layernorm.cuh - LayerNorm and SkipLayerNorm over the last axis.
//
//   layernorm<W, T, P, HasBias, HasStats>      y = LN(x) * scale + bias
//   skip_layernorm<W, T, P, HasBias, HasExtra> y = LN(x + skip + extra) ...
//
// Specialized on W (the normalized width), T (storage of x, skip and y) and
// P (storage of scale, bias and extra bias). Statistics are fp32 and take
// two passes over the row held in registers (the mean, then the mean of
// squared deviations), so no cancellation.
//
// A row is read with accesses of Vec elements (the widest power of two that
// divides W, at most 16 bytes). One warp owns a row while each lane needs at
// most 4 accesses (W <= 1024 in 16-bit storage, 512 in fp32), four rows per
// 128-thread block; wider rows get 128, 512 or 1024 threads each and a
// block reduction. Hidden 384 in f16: 48 accesses of 8 elements per row,
// 2 per lane.
//
// With HasStats, layernorm also writes each row's mean and 1/sqrt(var + eps)
// as fp32 (ONNX LayerNormalization's Mean and InvStdDev outputs).
//
// An absent optional operand keeps its pointer slot; the launch passes 0.
#pragma once

#include "common.cuh"

namespace kiln {

template <int W, typename T> struct RowShape {
  static constexpr int Vec = widest_vec<T>(W);
  static constexpr int Accesses = W / Vec;
  static constexpr int Threads = Accesses <= 128    ? 32
                                 : Accesses <= 512  ? 128
                                 : Accesses <= 2048 ? 512
                                                    : 1024;
  static constexpr int Items = (Accesses + Threads - 1) / Threads;
  static constexpr int RowsPerBlock = Threads == 32 ? 4 : 1;
  static constexpr int BlockThreads = Threads * RowsPerBlock;
  /// Floats per thread.
  static constexpr int Values = Items * Vec;
  static_assert(Items <= 4, "row too wide for one block");

  /// Whether item I of a thread lies inside the row.
  __device__ static bool valid(int Lane, int I) {
    return Accesses % Threads == 0 || Lane + I * Threads < Accesses;
  }
  /// The first column of item I.
  __device__ static int column(int Lane, int I) {
    return (Lane + I * Threads) * Vec;
  }
  /// The row this thread works on and its index within the row's threads.
  __device__ static int64_t row() {
    return int64_t(blockIdx.x) * RowsPerBlock + threadIdx.x / Threads;
  }
  __device__ static int lane() { return threadIdx.x % Threads; }
};

/// Sum over the threads of one row.
template <int Threads>
__device__ __forceinline__ float row_sum(float V, float *Scratch) {
  if constexpr (Threads == 32)
    return warp_sum(V);
  else
    return block_sum(V, Scratch);
}

struct RowStats {
  float Mean, InvStdDev;
};

/// Normalizes the row a thread holds in `V` (its items, see RowShape) and
/// writes it to `Out`, the row's first element. Returns the row's statistics.
template <int W, typename T, typename P, bool HasBias>
__device__ __forceinline__ RowStats layernorm_row(float *V, int Lane,
                                                  const P *__restrict__ Scale,
                                                  const P *__restrict__ Bias,
                                                  float Epsilon, T *Out,
                                                  float *Scratch) {
  using S = RowShape<W, T>;
  float Sum = 0.0f;
#pragma unroll
  for (int I = 0; I < S::Items; ++I)
    if (S::valid(Lane, I))
#pragma unroll
      for (int E = 0; E < S::Vec; ++E)
        Sum += V[I * S::Vec + E];
  float Mean = row_sum<S::Threads>(Sum, Scratch) * (1.0f / W);
  float Squares = 0.0f;
#pragma unroll
  for (int I = 0; I < S::Items; ++I)
    if (S::valid(Lane, I))
#pragma unroll
      for (int E = 0; E < S::Vec; ++E) {
        float D = V[I * S::Vec + E] - Mean;
        Squares += D * D;
      }
  float Inv =
      rsqrtf(row_sum<S::Threads>(Squares, Scratch) * (1.0f / W) + Epsilon);
#pragma unroll
  for (int I = 0; I < S::Items; ++I) {
    if (!S::valid(Lane, I))
      continue;
    int Col = S::column(Lane, I);
    float G[S::Vec], B[S::Vec];
    load_floats<S::Vec>(Scale + Col, G);
    if constexpr (HasBias)
      load_floats<S::Vec>(Bias + Col, B);
    float Y[S::Vec];
#pragma unroll
    for (int E = 0; E < S::Vec; ++E) {
      Y[E] = (V[I * S::Vec + E] - Mean) * Inv * G[E];
      if constexpr (HasBias)
        Y[E] += B[E];
    }
    store_floats<S::Vec>(Out + Col, Y);
  }
  return {Mean, Inv};
}

template <int W, typename T, typename P, bool HasBias, bool HasStats>
__global__ void __launch_bounds__(RowShape<W, T>::BlockThreads)
    layernorm(const T *__restrict__ X, const P *__restrict__ Scale,
              const P *__restrict__ Bias, T *__restrict__ Out,
              float *__restrict__ Mean, float *__restrict__ InvStdDev,
              int64_t Rows, float Epsilon) {
  wait_for_predecessor();
  using S = RowShape<W, T>;
  __shared__ float Scratch[32];
  int64_t Row = S::row();
  int Lane = S::lane();
  if (Row >= Rows)
    return;
  float V[S::Values];
#pragma unroll
  for (int I = 0; I < S::Items; ++I)
    if (S::valid(Lane, I))
      load_floats<S::Vec>(X + Row * W + S::column(Lane, I), V + I * S::Vec);
  RowStats Stats = layernorm_row<W, T, P, HasBias>(
      V, Lane, Scale, Bias, Epsilon, Out + Row * W, Scratch);
  if constexpr (HasStats)
    if (Lane == 0) {
      Mean[Row] = Stats.Mean;
      InvStdDev[Row] = Stats.InvStdDev;
    }
}

/// `XRows` and `SkipRows` are the rows of x and skip: an operand broadcast
/// along the leading dims repeats its rows (row % XRows).
template <int W, typename T, typename P, bool HasBias, bool HasExtra>
__global__ void __launch_bounds__(RowShape<W, T>::BlockThreads)
    skip_layernorm(const T *__restrict__ X, const T *__restrict__ Skip,
                   const P *__restrict__ Scale, const P *__restrict__ Bias,
                   const P *__restrict__ Extra, T *__restrict__ Out,
                   int64_t Rows, int64_t XRows, int64_t SkipRows,
                   float Epsilon) {
  wait_for_predecessor();
  using S = RowShape<W, T>;
  __shared__ float Scratch[32];
  int64_t Row = S::row();
  int Lane = S::lane();
  if (Row >= Rows)
    return;
  const T *XRow = X + (Row % XRows) * W;
  const T *SkipRow = Skip + (Row % SkipRows) * W;
  float V[S::Values];
#pragma unroll
  for (int I = 0; I < S::Items; ++I) {
    if (!S::valid(Lane, I))
      continue;
    int Col = S::column(Lane, I);
    float A[S::Vec], B[S::Vec], C[S::Vec];
    load_floats<S::Vec>(XRow + Col, A);
    load_floats<S::Vec>(SkipRow + Col, B);
    if constexpr (HasExtra)
      load_floats<S::Vec>(Extra + Col, C);
#pragma unroll
    for (int E = 0; E < S::Vec; ++E) {
      // The reference's order: (x + skip) + extra, each rounded to float.
      float Sum = A[E] + B[E];
      if constexpr (HasExtra)
        Sum += C[E];
      V[I * S::Vec + E] = Sum;
    }
  }
  layernorm_row<W, T, P, HasBias>(V, Lane, Scale, Bias, Epsilon, Out + Row * W,
                                  Scratch);
}

} // namespace kiln
