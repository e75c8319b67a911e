// glu.cuh - gated linear units over the last axis.
//
//   glu<N, T, Act>   y[r, j] = act(x[r, j]) * x[r, N + j],  j < N
//
// Specialized on N (the output width, half of x's last dim), T (storage of
// x and y: float, __half or __nv_bfloat16) and Act (GluAct: the activation).
// Math is fp32. Bound by memory: each thread reads Vec elements of each half
// and writes Vec outputs (Vec = the widest access of at most 16 bytes that
// divides N), grid-stride over rows * N / Vec items. Buffers start 256-byte
// aligned (arena), so every access is aligned.
#pragma once
#include "common.cuh"

namespace kiln {

enum GluAct { GluGelu = 0, GluGeluTanh = 1, GluSilu = 2 };

template <int Act> __device__ __forceinline__ float glu_activation(float V) {
  if constexpr (Act == GluGelu)
    return 0.5f * V * (1.0f + erff(V * 0.70710678118654752f));
  else if constexpr (Act == GluGeluTanh)
    return 0.5f * V *
           (1.0f + tanhf(0.7978845608f * (V + 0.044715f * V * V * V)));
  else
    return V / (1.0f + __expf(-V));
}

template <int N, typename T, int Act>
__global__ void glu(const T *__restrict__ X, T *__restrict__ Y, int64_t Rows) {
  wait_for_predecessor();
  constexpr int Vec = widest_vec<T>(N);
  constexpr int PerRow = N / Vec;
  int64_t Items = Rows * PerRow;
  int64_t Stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t I = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; I < Items;
       I += Stride) {
    int64_t Row = I / PerRow;
    int Col = int(I % PerRow) * Vec;
    const T *In = X + Row * (2 * N) + Col;
    float Gate[Vec], Up[Vec], Out[Vec];
    load_floats<Vec>(In, Gate);
    load_floats<Vec>(In + N, Up);
#pragma unroll
    for (int J = 0; J < Vec; ++J)
      Out[J] = glu_activation<Act>(Gate[J]) * Up[J];
    store_floats<Vec>(Y + Row * N + Col, Out);
  }
}

} // namespace kiln
