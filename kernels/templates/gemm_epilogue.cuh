// gemm_epilogue.cuh - what runs after a cuBLASLt GEMM when its epilogue
// cannot: cuBLASLt's GELU is the tanh approximation, so the erf GELU of
// BERT-family FFNs is applied here, in place, in one pass.
//
// Specialized on: T (float, __half, __nv_bfloat16).
#pragma once
#include "common.cuh"

namespace kiln {

template <typename T>
__global__ void gelu_erf_inplace(T *__restrict__ X, int64_t N) {
  for (int64_t I = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; I < N;
       I += int64_t(gridDim.x) * blockDim.x) {
    float V = to_float(X[I]);
    X[I] = from_float<T>(0.5f * V * (1.0f + erff(V * 0.70710678118654752f)));
  }
}

} // namespace kiln
