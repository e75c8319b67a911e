// copy.cuh - data movement and tensors made from nothing.
//
// Specialized on the element *size* (T is uint8_t, unsigned short, uint32_t
// or uint64_t) wherever only bytes move, and on every size and stride as a
// template constant, so that index arithmetic divides by constants.
//
//   strided_copy  Transpose, Slice, Expand, Tile, Split, Concat, copies
//   fill          ConstantOfShape, Dropout's mask
//   write_i64     Shape, Size (values known when compiling)
//   pad, pad_fill Pad (constant, edge, reflect)
//   trilu         Trilu
//   eye           EyeLike
//   range         Range
//
// One thread per output element, in output order, so stores coalesce.
#pragma once

#include "numeric.cuh"

namespace kiln {

constexpr int CopyThreads = 256;

template <int Rank, int Stride>
__host__ __device__ constexpr long long
product_of(const long long (&D)[Rank * Stride + 1]) {
  long long P = 1;
  for (int K = 0; K < Rank; ++K)
    P *= D[K * Stride];
  return P;
}

__device__ __forceinline__ long long global_thread() {
  return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

/// Out[OutOffset + sum c_d * OutStride_d] = In[InOffset + sum c_d *
/// InStride_d] over every multi-index c; Dims lists (size, in stride, out
/// stride) per dim, outermost first.
template <typename T, long long InOffset, long long OutOffset,
          long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    strided_copy(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr int Rank = sizeof...(Dims) / 3;
  constexpr long long D[] = {Dims..., 0};
  constexpr long long Count = product_of<Rank, 3>(D);
  long long I = global_thread();
  if (I >= Count)
    return;
  long long Rest = I, InAt = InOffset, OutAt = OutOffset;
#pragma unroll
  for (int K = Rank - 1; K >= 0; --K) {
    long long C = K ? Rest % D[3 * K] : Rest;
    Rest /= D[3 * K];
    InAt += C * D[3 * K + 1];
    OutAt += C * D[3 * K + 2];
  }
  Out[OutAt] = In[InAt];
}

template <typename T, unsigned long long Bits, long long Count>
__global__ void __launch_bounds__(CopyThreads) fill(T *__restrict__ Out) {
  wait_for_predecessor();
  long long I = global_thread();
  if (I < Count)
    Out[I] = T(Bits);
}

template <long long... Values>
__global__ void write_i64(long long *__restrict__ Out) {
  wait_for_predecessor();
  constexpr long long V[] = {Values...};
  if (threadIdx.x < sizeof...(Values))
    Out[threadIdx.x] = V[threadIdx.x];
}

/// The input index that output index O reads along a dim of Size with
/// Begin padded in front, or -1 for the fill value. Mode 0 is constant,
/// 1 reflect, 2 edge.
template <int Mode>
__device__ __forceinline__ long long pad_source(long long O, long long Begin,
                                                long long Size) {
  long long I = O - Begin;
  if (I >= 0 && I < Size)
    return I;
  if (Mode == 0)
    return -1;
  if (Mode == 2)
    return I < 0 ? 0 : Size - 1;
  if (Size == 1)
    return 0;
  long long Period = 2 * (Size - 1);
  I = ((I % Period) + Period) % Period;
  return I < Size ? I : Period - I;
}

/// Dims lists (out size, in size, begin, in stride) per dim, outermost
/// first.
template <typename T, int Mode, long long... Dims>
__device__ __forceinline__ void pad_element(const T *__restrict__ In, T Fill,
                                            T *__restrict__ Out) {
  constexpr int Rank = sizeof...(Dims) / 4;
  constexpr long long D[] = {Dims..., 0};
  constexpr long long Count = product_of<Rank, 4>(D);
  long long I = global_thread();
  if (I >= Count)
    return;
  long long Rest = I, At = 0;
  bool Inside = true;
#pragma unroll
  for (int K = Rank - 1; K >= 0; --K) {
    long long C = Rest % D[4 * K];
    Rest /= D[4 * K];
    long long S = pad_source<Mode>(C, D[4 * K + 2], D[4 * K + 1]);
    Inside = Inside && S >= 0;
    At += S * D[4 * K + 3];
  }
  Out[I] = Inside ? In[At] : Fill;
}

template <typename T, int Mode, long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    pad(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  pad_element<T, Mode, Dims...>(In, T(0), Out);
}

/// Pad with the constant_value operand (one element).
template <typename T, int Mode, long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    pad_fill(const T *__restrict__ In, const T *__restrict__ Fill,
             T *__restrict__ Out) {
  wait_for_predecessor();
  pad_element<T, Mode, Dims...>(In, *Fill, Out);
}

/// Keeps the triangle j - i >= K (Upper) or j - i <= K of each [Rows, Cols]
/// matrix; zero (all bits clear, in every dtype) elsewhere.
template <typename T, bool Upper, long long Matrices, long long Rows,
          long long Cols>
__device__ __forceinline__ void
trilu_element(const T *__restrict__ In, long long K, T *__restrict__ Out) {
  long long I = global_thread();
  if (I >= Matrices * Rows * Cols)
    return;
  long long J = I % Cols, Row = (I / Cols) % Rows;
  bool Keep = Upper ? J - Row >= K : J - Row <= K;
  Out[I] = Keep ? In[I] : T(0);
}

template <typename T, bool Upper, long long K, long long Matrices,
          long long Rows, long long Cols>
__global__ void __launch_bounds__(CopyThreads)
    trilu(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  trilu_element<T, Upper, Matrices, Rows, Cols>(In, K, Out);
}

/// Trilu whose k is an operand computed at run time.
template <typename T, typename KT, bool Upper, long long Matrices,
          long long Rows, long long Cols>
__global__ void __launch_bounds__(CopyThreads)
    trilu_k(const T *__restrict__ In, const KT *__restrict__ K,
            T *__restrict__ Out) {
  wait_for_predecessor();
  trilu_element<T, Upper, Matrices, Rows, Cols>(In, (long long)*K, Out);
}

/// Ones (the bit pattern One) on the K-th diagonal of a [Rows, Cols] matrix.
template <typename T, unsigned long long One, long long K, long long Rows,
          long long Cols>
__global__ void __launch_bounds__(CopyThreads) eye(T *__restrict__ Out) {
  wait_for_predecessor();
  long long I = global_thread();
  if (I >= Rows * Cols)
    return;
  Out[I] = I % Cols - I / Cols == K ? T(One) : T(0);
}

/// Start + I * Delta: in double for floating-point types (as the reference
/// computes it), wrapping int64 arithmetic for integers.
__device__ __forceinline__ double range_element(double S, double D,
                                                long long I) {
  return S + double(I) * D;
}
__device__ __forceinline__ long long range_element(long long S, long long D,
                                                   long long I) {
  return wrap_add(S, wrap_mul(I, D));
}

template <typename T, typename C, long long Count>
__global__ void __launch_bounds__(CopyThreads)
    range(const T *__restrict__ Start, const T *__restrict__ Delta,
          T *__restrict__ Out) {
  wait_for_predecessor();
  long long I = global_thread();
  if (I >= Count)
    return;
  C S = load_as<C>(*Start), D = load_as<C>(*Delta);
  Out[I] = Store<T>::from(range_element(S, D, I));
}

} // namespace kiln
