//===- MathKernels.h - typed loops shared by the math ops -------*- C++ -*-===//
//
// The reference implementations of the elementwise, reduction and NN ops
// compute in one of three types: float for f32/f16/bf16, double for f64 and
// int64 for the integer types and bool. A tensor is converted to a plain
// vector of that type once, the op's loop runs over it with the scalar
// function inlined (no per-element dispatch), and the result is converted
// back once.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_MATHKERNELS_H
#define KILN_IR_OPS_MATHKERNELS_H

#include "ir/ops/OpUtils.h"

#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>

namespace kiln {

/// Calls `F` with a value of the compute type of `T`: float, double or
/// int64_t. Every instantiation of `F` must return the same type.
template <typename Fn> auto dispatchCompute(DType T, Fn &&F) {
  switch (T) {
  case DType::F64: return F(double());
  case DType::F32:
  case DType::F16:
  case DType::BF16: return F(float());
  default: return F(int64_t());
  }
}

/// dispatchCompute for ops defined on floating-point types only.
template <typename Fn> auto dispatchFloat(DType T, Fn &&F) {
  return T == DType::F64 ? F(double()) : F(float());
}

/// Integer arithmetic wraps around (two's complement, like numpy) instead of
/// overflowing into undefined behavior; floats are left alone.
template <typename T> T wrapAdd(T A, T B) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(A) + uint64_t(B));
  else
    return A + B;
}
template <typename T> T wrapSub(T A, T B) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(A) - uint64_t(B));
  else
    return A - B;
}
template <typename T> T wrapMul(T A, T B) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(A) * uint64_t(B));
  else
    return A * B;
}
template <typename T> T wrapNeg(T A) {
  if constexpr (std::is_integral_v<T>)
    return T(0ULL - uint64_t(A));
  else
    return -A;
}

/// Floating-point to integer conversion as Tensor::setDouble does it:
/// toward zero, NaN to 0, out-of-range values clamped.
template <typename C, typename S> C convertElement(S X) {
  if constexpr (std::is_integral_v<C> && std::is_floating_point_v<S>) {
    if (std::isnan(X))
      return 0;
    if (X >= S(9.2e18))
      return std::numeric_limits<int64_t>::max();
    if (X <= S(-9.2e18))
      return std::numeric_limits<int64_t>::min();
    return C(int64_t(X));
  } else {
    return C(X);
  }
}

/// The elements of `T` converted to `C`.
template <typename C> std::vector<C> loadAs(const Tensor &T) {
  int64_t N = T.numElements();
  std::vector<C> Out(N);
  auto Convert = [&](const auto *P) {
    for (int64_t I = 0; I < N; ++I)
      Out[I] = convertElement<C>(P[I]);
  };
  switch (T.dtype()) {
  case DType::F32: Convert(T.data<float>()); break;
  case DType::F64: Convert(T.data<double>()); break;
  case DType::I64: Convert(T.data<int64_t>()); break;
  case DType::I32: Convert(T.data<int32_t>()); break;
  case DType::I8: Convert(T.data<int8_t>()); break;
  case DType::U8: Convert(T.data<uint8_t>()); break;
  case DType::F16: {
    const uint16_t *P = T.data<uint16_t>();
    for (int64_t I = 0; I < N; ++I)
      Out[I] = convertElement<C>(halfToFloat(P[I]));
    break;
  }
  case DType::BF16: {
    const uint16_t *P = T.data<uint16_t>();
    for (int64_t I = 0; I < N; ++I)
      Out[I] = convertElement<C>(bfloat16ToFloat(P[I]));
    break;
  }
  case DType::Bool: {
    const uint8_t *P = T.data<uint8_t>();
    for (int64_t I = 0; I < N; ++I)
      Out[I] = C(P[I] != 0);
    break;
  }
  }
  return Out;
}

/// A tensor of `Elem` holding `Values` (rounded to 16-bit floats, truncated
/// toward zero and wrapped for integers, nonzero-is-true for bool).
template <typename C>
Tensor storeAs(DType Elem, std::vector<int64_t> Sizes,
               llvm::ArrayRef<C> Values) {
  Tensor T(Elem, std::move(Sizes));
  assert(int64_t(Values.size()) == T.numElements());
  int64_t N = T.numElements();
  auto Store = [&](auto *P) {
    using E = std::remove_pointer_t<decltype(P)>;
    for (int64_t I = 0; I < N; ++I)
      P[I] = E(
          convertElement<std::conditional_t<std::is_integral_v<E>, int64_t, E>>(
              Values[I]));
  };
  switch (Elem) {
  case DType::F32: Store(T.mutableData<float>()); break;
  case DType::F64: Store(T.mutableData<double>()); break;
  case DType::I64: Store(T.mutableData<int64_t>()); break;
  case DType::I32: Store(T.mutableData<int32_t>()); break;
  case DType::I8: Store(T.mutableData<int8_t>()); break;
  case DType::U8: Store(T.mutableData<uint8_t>()); break;
  case DType::F16: {
    uint16_t *P = T.mutableData<uint16_t>();
    for (int64_t I = 0; I < N; ++I)
      P[I] = floatToHalf(float(Values[I]));
    break;
  }
  case DType::BF16: {
    uint16_t *P = T.mutableData<uint16_t>();
    for (int64_t I = 0; I < N; ++I)
      P[I] = floatToBFloat16(float(Values[I]));
    break;
  }
  case DType::Bool: {
    uint8_t *P = T.mutableData<uint8_t>();
    for (int64_t I = 0; I < N; ++I)
      P[I] = Values[I] != C(0);
    break;
  }
  }
  return T;
}

/// forEachIndex specialized for N inputs: calls Body(Flat, Offsets) for
/// every element of `OutSizes` in row-major order, Offsets[K] being the
/// element of input K read with Strides[K] (see broadcastStrides). The
/// innermost dimension is a plain loop, so `Body` inlines there.
template <size_t N, typename F>
void forEachBroadcast(llvm::ArrayRef<int64_t> OutSizes,
                      const std::array<std::vector<int64_t>, N> &Strides,
                      F &&Body) {
  if (numElementsOf(OutSizes) == 0)
    return;
  if (OutSizes.empty()) {
    std::array<int64_t, N> Offsets{};
    Body(int64_t(0), Offsets);
    return;
  }
  int64_t Inner = OutSizes.back();
  std::array<int64_t, N> InnerStrides;
  std::vector<std::vector<int64_t>> OuterStrides(N);
  for (size_t K = 0; K < N; ++K) {
    InnerStrides[K] = Strides[K].back();
    OuterStrides[K].assign(Strides[K].begin(), Strides[K].end() - 1);
  }
  forEachIndex(OutSizes.drop_back(), OuterStrides,
               [&](int64_t Row, llvm::ArrayRef<int64_t> Base) {
                 std::array<int64_t, N> Offsets;
                 for (size_t K = 0; K < N; ++K)
                   Offsets[K] = Base[K];
                 for (int64_t J = 0; J < Inner; ++J) {
                   Body(Row * Inner + J, Offsets);
                   for (size_t K = 0; K < N; ++K)
                     Offsets[K] += InnerStrides[K];
                 }
               });
}

/// Sizes split around one axis: Outer x N x Inner elements.
struct AxisSplit {
  int64_t Outer = 1, N = 1, Inner = 1;
};

inline AxisSplit splitAt(llvm::ArrayRef<int64_t> Sizes, int64_t Axis) {
  AxisSplit S;
  for (int64_t I = 0; I < int64_t(Sizes.size()); ++I)
    (I < Axis ? S.Outer : I == Axis ? S.N : S.Inner) *= Sizes[I];
  return S;
}

/// The dtypes an operand accepts, as ONNX's type constraints restricted to
/// kiln's dtypes.
enum class TypeClass { Any, Numeric, Signed, Float, Bool };

inline bool inTypeClass(DType T, TypeClass Class) {
  switch (Class) {
  case TypeClass::Any: return true;
  case TypeClass::Numeric: return T != DType::Bool;
  case TypeClass::Signed: return T != DType::Bool && T != DType::U8;
  case TypeClass::Float: return isFloat(T);
  case TypeClass::Bool: return T == DType::Bool;
  }
  return false;
}

inline llvm::StringRef typeClassName(TypeClass Class) {
  switch (Class) {
  case TypeClass::Any: return "any";
  case TypeClass::Numeric: return "a numeric";
  case TypeClass::Signed: return "a signed numeric";
  case TypeClass::Float: return "a floating-point";
  case TypeClass::Bool: return "a bool";
  }
  return "";
}

/// Fails unless operand `I` (present) has a dtype of `Class`.
inline llvm::Error checkInputClass(const InferContext &Ctx, unsigned I,
                                   TypeClass Class) {
  const TensorType &T = Ctx.inputType(I);
  if (inTypeClass(T.Elem, Class))
    return llvm::Error::success();
  return Ctx.error("operand " + llvm::Twine(I) + " must be " +
                   typeClassName(Class) + " tensor, got " + T.str());
}

/// Fails unless operand `I` (present) has the dtype of operand 0.
inline llvm::Error checkSameDType(const InferContext &Ctx, unsigned I) {
  if (Ctx.inputType(I).Elem == Ctx.inputType(0).Elem)
    return llvm::Error::success();
  return Ctx.error("operand " + llvm::Twine(I) + " has type " +
                   Ctx.inputType(I).str() + ", expected element type " +
                   dtypeName(Ctx.inputType(0).Elem) + " like operand 0 (" +
                   Ctx.inputType(0).str() + ")");
}

/// Registers `D`, making its Eval run D.Verify first: the reference
/// executor may run graphs that were never verified, and Eval must not act
/// on attribute values Verify rejects.
inline void addOp(OpRegistry &R, OpDef D) {
  if (D.Verify && D.Eval)
    D.Eval = [Verify = D.Verify, Eval = D.Eval](EvalContext &Ctx) {
      if (llvm::Error E = Verify(Ctx.node()))
        return E;
      return Eval(Ctx);
    };
  R.add(std::move(D));
}

/// `[2, 3]` for messages about concrete tensors.
inline std::string sizesStr(llvm::ArrayRef<int64_t> Sizes) {
  std::string S = "[";
  for (size_t I = 0; I < Sizes.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Sizes[I]);
  return S + "]";
}

/// The Make function of an elementwise op without attributes: whatever the
/// node, the scalar function `Fn`.
template <typename F> auto plain(F Fn) {
  return [Fn](const Node &) { return Fn; };
}

} // namespace kiln

#endif
