// softmax.cuh - Softmax and LogSoftmax along any axis.
//
// The input is viewed as [Outer, N, Inner] around the axis. T is the
// element type, C the compute type (float, or double for f64):
//
//   softmax_rows     Inner == 1: one block of SoftmaxThreads per row of N
//                    contiguous elements, block-wide max and sum
//   softmax_columns  Inner > 1: one thread per (outer, inner) column, so
//                    that neighbouring threads read neighbouring elements
#pragma once

#include "numeric.cuh"

namespace kiln {

constexpr int SoftmaxThreads = 256;

template <typename C> struct MaxOf {
  __device__ __forceinline__ C operator()(C A, C B) const {
    return B > A || B != B ? B : A;
  }
};
template <typename C> struct SumOf {
  __device__ __forceinline__ C operator()(C A, C B) const { return A + B; }
};

__device__ __forceinline__ float exp_of(float X) { return expf(X); }
__device__ __forceinline__ double exp_of(double X) { return exp(X); }
__device__ __forceinline__ float log_of(float X) { return logf(X); }
__device__ __forceinline__ double log_of(double X) { return log(X); }

template <typename T, typename C, bool Log, long long N>
__global__ void __launch_bounds__(SoftmaxThreads)
    softmax_rows(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  const T *Row = In + (long long)blockIdx.x * N;
  T *Dst = Out + (long long)blockIdx.x * N;
  C Max = -C(__longlong_as_double(0x7ff0000000000000LL));
  for (long long K = threadIdx.x; K < N; K += SoftmaxThreads)
    Max = MaxOf<C>()(Max, load_as<C>(Row[K]));
  Max = block_reduce<SoftmaxThreads>(Max, MaxOf<C>());
  C Sum = C(0);
  for (long long K = threadIdx.x; K < N; K += SoftmaxThreads)
    Sum += exp_of(load_as<C>(Row[K]) - Max);
  Sum = block_reduce<SoftmaxThreads>(Sum, SumOf<C>());
  C LogSum = log_of(Sum);
  for (long long K = threadIdx.x; K < N; K += SoftmaxThreads) {
    C X = load_as<C>(Row[K]) - Max;
    Dst[K] = Store<T>::from(Log ? X - LogSum : exp_of(X) / Sum);
  }
}

template <typename T, typename C, bool Log, long long Outer, long long N,
          long long Inner>
__global__ void __launch_bounds__(SoftmaxThreads)
    softmax_columns(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  long long I = (long long)blockIdx.x * SoftmaxThreads + threadIdx.x;
  if (I >= Outer * Inner)
    return;
  long long Base = I / Inner * N * Inner + I % Inner;
  C Max = -C(__longlong_as_double(0x7ff0000000000000LL));
  for (long long K = 0; K < N; ++K)
    Max = MaxOf<C>()(Max, load_as<C>(In[Base + K * Inner]));
  C Sum = C(0);
  for (long long K = 0; K < N; ++K)
    Sum += exp_of(load_as<C>(In[Base + K * Inner]) - Max);
  C LogSum = log_of(Sum);
  for (long long K = 0; K < N; ++K) {
    C X = load_as<C>(In[Base + K * Inner]) - Max;
    Out[Base + K * Inner] = Store<T>::from(Log ? X - LogSum : exp_of(X) / Sum);
  }
}

} // namespace kiln
