// elementwise.cuh - what generated elementwise kernels call.
//
// lib/codegen/ElementwiseCodegen.cpp writes one kernel per elementwise node
// and includes this file. Integer arithmetic follows the ONNX reference:
// int64 wrapping on overflow, division truncating toward zero (0 for a zero
// divisor), float-to-integer conversion truncating with NaN as 0 and
// out-of-range values clamped.
#pragma once

#include "common.cuh"

namespace kiln {

__device__ __forceinline__ long long wrap_add(long long A, long long B) {
  return (long long)((unsigned long long)A + (unsigned long long)B);
}
__device__ __forceinline__ long long wrap_sub(long long A, long long B) {
  return (long long)((unsigned long long)A - (unsigned long long)B);
}
__device__ __forceinline__ long long wrap_mul(long long A, long long B) {
  return (long long)((unsigned long long)A * (unsigned long long)B);
}
__device__ __forceinline__ long long wrap_neg(long long A) {
  return (long long)(0ull - (unsigned long long)A);
}

__device__ __forceinline__ long long int_div(long long A, long long B) {
  if (B == 0)
    return 0;
  if (B == -1)
    return wrap_neg(A);
  return A / B;
}

/// ONNX Mod: with Fmod the remainder takes the dividend's sign, without it
/// the divisor's.
__device__ __forceinline__ long long int_mod(long long A, long long B,
                                             bool Fmod) {
  if (B == 0 || B == -1)
    return 0;
  long long R = A % B;
  if (!Fmod && R != 0 && ((R < 0) != (B < 0)))
    R += B;
  return R;
}

__device__ __forceinline__ long long int_pow(long long Base, long long Exp) {
  if (Exp < 0)
    return Base == 1 ? 1 : Base == -1 ? (Exp % 2 ? -1 : 1) : 0;
  long long Result = 1;
  for (; Exp; Exp >>= 1, Base = wrap_mul(Base, Base))
    if (Exp & 1)
      Result = wrap_mul(Result, Base);
  return Result;
}

__device__ __forceinline__ long long trunc_to_i64(double X) {
  if (X != X)
    return 0;
  if (X >= 9.2e18)
    return 9223372036854775807LL;
  if (X <= -9.2e18)
    return -9223372036854775807LL - 1;
  return (long long)X;
}

__device__ __forceinline__ float round_to_half(float X) {
  return __half2float(__float2half_rn(X));
}
__device__ __forceinline__ float round_to_bf16(float X) {
  return __bfloat162float(__float2bfloat16_rn(X));
}

/// max and min that return NaN when either operand is NaN.
template <typename T> __device__ __forceinline__ T nan_max(T A, T B) {
  return A != A ? A : B != B ? B : A < B ? B : A;
}
template <typename T> __device__ __forceinline__ T nan_min(T A, T B) {
  return A != A ? A : B != B ? B : B < A ? B : A;
}

/// Remainder with the divisor's sign (Python's %).
__device__ __forceinline__ float floor_mod(float A, float B) {
  float R = fmodf(A, B);
  return R != 0 && ((R < 0) != (B < 0)) ? R + B : R;
}
__device__ __forceinline__ double floor_mod(double A, double B) {
  double R = fmod(A, B);
  return R != 0 && ((R < 0) != (B < 0)) ? R + B : R;
}

} // namespace kiln
