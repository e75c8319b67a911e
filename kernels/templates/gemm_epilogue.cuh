// gemm_epilogue.cuh - what runs after a cuBLASLt GEMM when its epilogue
// cannot: cuBLASLt's GELU is the tanh approximation, so the erf GELU of
// BERT-family FFNs is applied here, in place, in one pass over the GEMM's
// output.
//
// Specialized on: T (float, __half, __nv_bfloat16). The pass is bound by
// memory, so each thread moves 16 bytes at a time (8 halves or 4 floats)
// when the length allows; the buffer starts 256-byte aligned (arena).
#pragma once
#include "common.cuh"

namespace kiln {

__device__ __forceinline__ float gelu_erf(float V) {
  return 0.5f * V * (1.0f + erff(V * 0.70710678118654752f));
}

template <typename T>
__global__ void gelu_erf_inplace(T *__restrict__ X, int64_t N) {
  wait_for_predecessor();
  constexpr int Vec = 16 / sizeof(T);
  union Chunk {
    uint4 Raw;
    T Elems[Vec];
  };
  int64_t Stride = int64_t(gridDim.x) * blockDim.x;
  int64_t First = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t Chunks = N / Vec;
  uint4 *Vecs = reinterpret_cast<uint4 *>(X);
  for (int64_t I = First; I < Chunks; I += Stride) {
    Chunk C;
    C.Raw = Vecs[I];
#pragma unroll
    for (int J = 0; J < Vec; ++J)
      C.Elems[J] = from_float<T>(gelu_erf(to_float(C.Elems[J])));
    Vecs[I] = C.Raw;
  }
  for (int64_t I = Chunks * Vec + First; I < N; I += Stride)
    X[I] = from_float<T>(gelu_erf(to_float(X[I])));
}

} // namespace kiln
