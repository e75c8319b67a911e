// common.cuh - what every kiln kernel template shares.
//
// Element types are float, __half or __nv_bfloat16 for floating tensors
// (storage only: kernels compute in float) and int64_t/int32_t/int8_t/
// uint8_t/bool for the rest. `to_float`/`from_float` convert storage types.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef signed char int8_t;
typedef unsigned char uint8_t;

namespace kiln {

__device__ __forceinline__ float to_float(float X) { return X; }
__device__ __forceinline__ float to_float(__half X) { return __half2float(X); }
__device__ __forceinline__ float to_float(__nv_bfloat16 X) {
  return __bfloat162float(X);
}
__device__ __forceinline__ float to_float(double X) { return float(X); }
__device__ __forceinline__ float to_float(int64_t X) { return float(X); }
__device__ __forceinline__ float to_float(int32_t X) { return float(X); }
__device__ __forceinline__ float to_float(int8_t X) { return float(X); }
__device__ __forceinline__ float to_float(uint8_t X) { return float(X); }
__device__ __forceinline__ float to_float(bool X) { return X ? 1.0f : 0.0f; }

template <typename T> __device__ __forceinline__ T from_float(float X);
template <> __device__ __forceinline__ float from_float<float>(float X) {
  return X;
}
template <> __device__ __forceinline__ __half from_float<__half>(float X) {
  return __float2half_rn(X);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float X) {
  return __float2bfloat16_rn(X);
}

/// Every kernel calls this first. The runtime launches kernels with
/// programmatic dependent launch (Hopper's PDL): a kernel may be scheduled
/// while its predecessor in the stream still runs, so that its launch
/// overlaps the predecessor's tail. griddepcontrol.wait returns once the
/// predecessor has completed and its writes are visible, so nothing is read
/// or written before it; launch_dependents then lets the next kernel be
/// scheduled. Launched without PDL (or before sm_90), both are no-ops.
/// gemm_gelu.cuh's kernels with PREFETCH call it later, in GemmTile::run,
/// after the copies of weights no kernel writes (tests/unit/
/// KernelTemplatesTest.cpp checks every kernel for one or the other).
__device__ __forceinline__ void wait_for_predecessor() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

__device__ __forceinline__ float warp_sum(float V) {
#pragma unroll
  for (int Offset = 16; Offset > 0; Offset /= 2)
    V += __shfl_xor_sync(0xffffffffu, V, Offset);
  return V;
}

__device__ __forceinline__ float warp_max(float V) {
#pragma unroll
  for (int Offset = 16; Offset > 0; Offset /= 2)
    V = fmaxf(V, __shfl_xor_sync(0xffffffffu, V, Offset));
  return V;
}

/// Sum over a block of up to 1024 threads; every thread gets the result.
/// `Scratch` holds 32 floats; the block is synchronized on return.
__device__ __forceinline__ float block_sum(float V, float *Scratch) {
  int Lane = threadIdx.x % 32, Warp = threadIdx.x / 32;
  int Warps = (blockDim.x + 31) / 32;
  V = warp_sum(V);
  __syncthreads();
  if (Lane == 0)
    Scratch[Warp] = V;
  __syncthreads();
  V = Lane < Warps ? Scratch[Lane] : 0.0f;
  return warp_sum(V);
}

} // namespace kiln

namespace kiln {

/// N consecutive elements aligned so that one access moves them together.
template <typename T, int N> struct alignas(sizeof(T) * N) Pack {
  T V[N];
};

/// The widest power-of-two element count, at most 16 bytes of T, that
/// divides `Width`: rows of `Width` elements can then be read with accesses
/// of that many elements.
template <typename T> __host__ __device__ constexpr int widest_vec(int Width) {
  int Vec = int(16 / sizeof(T));
  while (Vec > 1 && Width % Vec)
    Vec /= 2;
  return Vec;
}

/// Loads N consecutive elements as floats in accesses of up to 16 bytes.
/// `P` is aligned to min(16, N * sizeof(T)) bytes; N is a power of two.
template <int N, typename T>
__device__ __forceinline__ void load_floats(const T *P, float *Out) {
  constexpr int Chunk = N * sizeof(T) <= 16 ? N : int(16 / sizeof(T));
#pragma unroll
  for (int C = 0; C < N; C += Chunk) {
    Pack<T, Chunk> V = *reinterpret_cast<const Pack<T, Chunk> *>(P + C);
#pragma unroll
    for (int I = 0; I < Chunk; ++I)
      Out[C + I] = to_float(V.V[I]);
  }
}

/// Stores N floats as consecutive elements of T; the alignment of
/// load_floats.
template <int N, typename T>
__device__ __forceinline__ void store_floats(T *P, const float *In) {
  constexpr int Chunk = N * sizeof(T) <= 16 ? N : int(16 / sizeof(T));
#pragma unroll
  for (int C = 0; C < N; C += Chunk) {
    Pack<T, Chunk> V;
#pragma unroll
    for (int I = 0; I < Chunk; ++I)
      V.V[I] = from_float<T>(In[C + I]);
    *reinterpret_cast<Pack<T, Chunk> *>(P + C) = V;
  }
}

/// Where a kernel reports the first table index it found out of range, for
/// the runtime to read after the run (docs/runtime.md, "Bad inputs"): the
/// number of the artifact's IndexCheck it broke and the value as given.
/// Check -1 means the index comes from no graph input the runtime checks,
/// and nothing is reported. The runtime keeps Set at 0 between runs.
struct IndexFault {
  int Set;
  int Check;
  long long Value;
};

__device__ __forceinline__ void report_index_fault(IndexFault *Fault, int Check,
                                                   long long Value) {
  // Once one is recorded, the rest only read: a request whose every index
  // is bad must not queue an atomic per thread on one address.
  if (Check < 0 || *reinterpret_cast<volatile int *>(&Fault->Set))
    return;
  if (atomicCAS(&Fault->Set, 0, 1) == 0) {
    Fault->Check = Check;
    Fault->Value = Value;
  }
}

} // namespace kiln
