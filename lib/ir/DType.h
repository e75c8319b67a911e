//===- DType.h - element types of kiln tensors ------------------*- C++ -*-===//
//
// The element types a kiln value can hold, their sizes and names, and the
// 16-bit float conversions every stage needs (round to nearest even).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_DTYPE_H
#define KILN_IR_DTYPE_H

#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace kiln {

enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I8, U8, Bool };

/// Bytes per element.
size_t dtypeSize(DType T);
/// The name used in the text form: f32, f16, bf16, f64, i64, i32, i8, u8, bool.
llvm::StringRef dtypeName(DType T);
std::optional<DType> parseDType(llvm::StringRef Name);

inline bool isFloat(DType T) {
  return T == DType::F32 || T == DType::F16 || T == DType::BF16 ||
         T == DType::F64;
}
inline bool isInteger(DType T) {
  return T == DType::I64 || T == DType::I32 || T == DType::I8 || T == DType::U8;
}

uint16_t floatToHalf(float F);
float halfToFloat(uint16_t H);
uint16_t floatToBFloat16(float F);
float bfloat16ToFloat(uint16_t B);

} // namespace kiln

#endif
