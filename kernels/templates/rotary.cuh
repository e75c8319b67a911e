// rotary.cuh - rotary position embedding along the last axis.
//
//   rotary<D, T, P, Lead>
//     y[..., j]     = x[..., j] * cos[..., j]         - x[..., j + n] * sin[..., j]
//     y[..., j + n] = x[..., j + n] * cos[..., j + n] + x[..., j] * sin[..., j + n]
//   for j < n = D / 2: x * cos + rotate_half(x) * sin.
//
// Specialized on D (x's last dim), T (storage of x and y), P (storage of the
// cos and sin tables: float, __half or __nv_bfloat16) and Lead (x's leading
// dims, 1 to 5). Math is fp32. The tables broadcast to x: the launch passes
// x's leading sizes and, for each, the tables' stride along it (0 where
// they broadcast), padded to 5; each table row is contiguous over D.
//
// Each thread moves Vec elements of each half (Vec = the widest access of
// at most 16 bytes that divides n), grid-stride over rows * n / Vec items.
// Buffers start 256-byte aligned (arena) and rows are multiples of Vec, so
// every access is aligned.
#pragma once
#include "common.cuh"

namespace kiln {

template <int D, typename T, typename P, int Lead>
__global__ void rotary(const T *__restrict__ X, const P *__restrict__ Cos,
                       const P *__restrict__ Sin, T *__restrict__ Y,
                       int64_t Rows, int64_t S0, int64_t S1, int64_t S2,
                       int64_t S3, int64_t S4, int64_t C0, int64_t C1,
                       int64_t C2, int64_t C3, int64_t C4) {
  wait_for_predecessor();
  static_assert(D % 2 == 0, "rotary pairs the two halves of the last axis");
  static_assert(Lead >= 1 && Lead <= 5, "1 to 5 leading dims");
  constexpr int Half = D / 2;
  constexpr int Vec = widest_vec<T>(Half) < widest_vec<P>(Half)
                          ? widest_vec<T>(Half)
                          : widest_vec<P>(Half);
  constexpr int PerRow = Half / Vec;
  const int64_t Size[5] = {S0, S1, S2, S3, S4};
  const int64_t Stride[5] = {C0, C1, C2, C3, C4};
  int64_t Items = Rows * PerRow;
  int64_t Step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t I = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; I < Items;
       I += Step) {
    int64_t Row = I / PerRow;
    int Col = int(I % PerRow) * Vec;
    // The table row: Row's multi-index over the leading dims, last fastest.
    int64_t TableRow = 0, Rest = Row;
#pragma unroll
    for (int K = Lead - 1; K >= 0; --K) {
      TableRow += (Rest % Size[K]) * Stride[K];
      Rest /= Size[K];
    }
    const T *In = X + Row * D + Col;
    float Lo[Vec], Hi[Vec], CosLo[Vec], CosHi[Vec], SinLo[Vec], SinHi[Vec];
    load_floats<Vec>(In, Lo);
    load_floats<Vec>(In + Half, Hi);
    load_floats<Vec>(Cos + TableRow + Col, CosLo);
    load_floats<Vec>(Cos + TableRow + Half + Col, CosHi);
    load_floats<Vec>(Sin + TableRow + Col, SinLo);
    load_floats<Vec>(Sin + TableRow + Half + Col, SinHi);
    float OutLo[Vec], OutHi[Vec];
#pragma unroll
    for (int J = 0; J < Vec; ++J) {
      OutLo[J] = Lo[J] * CosLo[J] - Hi[J] * SinLo[J];
      OutHi[J] = Hi[J] * CosHi[J] + Lo[J] * SinHi[J];
    }
    T *Out = Y + Row * D + Col;
    store_floats<Vec>(Out, OutLo);
    store_floats<Vec>(Out + Half, OutHi);
  }
}

} // namespace kiln
