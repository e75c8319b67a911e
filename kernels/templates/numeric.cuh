// numeric.cuh - typed loads, stores and block reductions of the generic
// kernels (reduce.cuh, softmax.cuh, range in copy.cuh).
//
// A kernel computes in one of three types, as the reference executor does:
// float for f32/f16/bf16, double for f64 (and where the reference uses
// double), long long for the integer types and bool. `load_as<C>` converts
// a stored element to the compute type C; `Store<T>::from` converts back,
// rounding 16-bit floats, truncating (and wrapping) integers and mapping
// nonzero to true.
#pragma once

#include "elementwise.cuh"

namespace kiln {

template <typename C, typename T> __device__ __forceinline__ C load_as(T X) {
  return C(X);
}
template <> __device__ __forceinline__ float load_as<float, __half>(__half X) {
  return to_float(X);
}
template <>
__device__ __forceinline__ double load_as<double, __half>(__half X) {
  return to_float(X);
}
template <>
__device__ __forceinline__ float
load_as<float, __nv_bfloat16>(__nv_bfloat16 X) {
  return to_float(X);
}
template <>
__device__ __forceinline__ double
load_as<double, __nv_bfloat16>(__nv_bfloat16 X) {
  return to_float(X);
}

__device__ __forceinline__ long long as_integer(long long X) { return X; }
__device__ __forceinline__ long long as_integer(float X) {
  return trunc_to_i64(X);
}
__device__ __forceinline__ long long as_integer(double X) {
  return trunc_to_i64(X);
}

/// Integer element types; the floating and bool ones are specialized below.
template <typename T> struct Store {
  template <typename C> static __device__ __forceinline__ T from(C X) {
    return T(as_integer(X));
  }
};
template <> struct Store<float> {
  template <typename C> static __device__ __forceinline__ float from(C X) {
    return float(X);
  }
};
template <> struct Store<double> {
  template <typename C> static __device__ __forceinline__ double from(C X) {
    return double(X);
  }
};
template <> struct Store<__half> {
  template <typename C> static __device__ __forceinline__ __half from(C X) {
    return from_float<__half>(float(X));
  }
};
template <> struct Store<__nv_bfloat16> {
  template <typename C>
  static __device__ __forceinline__ __nv_bfloat16 from(C X) {
    return from_float<__nv_bfloat16>(float(X));
  }
};
template <> struct Store<bool> {
  template <typename C> static __device__ __forceinline__ bool from(C X) {
    return X != C(0);
  }
};

/// The lowest and highest value of an element type, as the seeds of max
/// and min reductions.
template <typename T> struct Limits;
template <> struct Limits<float> {
  static __device__ double lowest() {
    return -__longlong_as_double(0x7ff0000000000000LL);
  }
  static __device__ double highest() {
    return __longlong_as_double(0x7ff0000000000000LL);
  }
};
template <> struct Limits<__half> : Limits<float> {};
template <> struct Limits<__nv_bfloat16> : Limits<float> {};
template <> struct Limits<double> : Limits<float> {};
template <> struct Limits<long long> {
  static __device__ long long lowest() { return -9223372036854775807LL - 1; }
  static __device__ long long highest() { return 9223372036854775807LL; }
};
template <> struct Limits<int> {
  static __device__ long long lowest() { return -2147483647LL - 1; }
  static __device__ long long highest() { return 2147483647LL; }
};
template <> struct Limits<signed char> {
  static __device__ long long lowest() { return -128; }
  static __device__ long long highest() { return 127; }
};
template <> struct Limits<unsigned char> {
  static __device__ long long lowest() { return 0; }
  static __device__ long long highest() { return 255; }
};
template <> struct Limits<bool> {
  static __device__ long long lowest() { return 0; }
  static __device__ long long highest() { return 1; }
};

/// Combines V over a block of exactly BlockThreads threads with Op (a
/// functor); every thread gets the result. Synchronizes the block.
template <int BlockThreads, typename A, typename Op>
__device__ __forceinline__ A block_reduce(A V, Op Combine) {
  __shared__ A Buf[BlockThreads];
  __syncthreads();
  Buf[threadIdx.x] = V;
  __syncthreads();
#pragma unroll
  for (int Half = BlockThreads / 2; Half > 0; Half /= 2) {
    if (threadIdx.x < Half)
      Buf[threadIdx.x] = Combine(Buf[threadIdx.x], Buf[threadIdx.x + Half]);
    __syncthreads();
  }
  return Buf[0];
}

} // namespace kiln
