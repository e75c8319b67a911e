#include "ir/DType.h"

#include <bit>
#include <cmath>

namespace kiln {

size_t dtypeSize(DType T) {
  switch (T) {
  case DType::F64:
  case DType::I64: return 8;
  case DType::F32:
  case DType::I32: return 4;
  case DType::F16:
  case DType::BF16: return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool: return 1;
  }
  return 0;
}

llvm::StringRef dtypeName(DType T) {
  switch (T) {
  case DType::F32: return "f32";
  case DType::F16: return "f16";
  case DType::BF16: return "bf16";
  case DType::F64: return "f64";
  case DType::I64: return "i64";
  case DType::I32: return "i32";
  case DType::I8: return "i8";
  case DType::U8: return "u8";
  case DType::Bool: return "bool";
  }
  return "?";
}

std::optional<DType> parseDType(llvm::StringRef Name) {
  for (DType T : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                  DType::I32, DType::I8, DType::U8, DType::Bool})
    if (dtypeName(T) == Name)
      return T;
  return std::nullopt;
}

uint16_t floatToHalf(float F) {
  uint32_t X = std::bit_cast<uint32_t>(F);
  uint32_t Sign = (X >> 16) & 0x8000u;
  uint32_t Abs = X & 0x7fffffffu;
  if (Abs >= 0x7f800000u) // Inf or NaN; keep NaN quiet.
    return Sign | 0x7c00u | (Abs > 0x7f800000u ? 0x200u : 0u);
  if (Abs >= 0x477ff000u) // Rounds to a value at or past 65520: overflow.
    return Sign | 0x7c00u;
  if (Abs < 0x38800000u) { // Subnormal or zero in half precision.
    // Adding 0.5 shifts the mantissa so that the FPU rounds to nearest even.
    float Sub = std::bit_cast<float>(Abs) + 0.5f;
    return Sign | (std::bit_cast<uint32_t>(Sub) - 0x3f000000u);
  }
  uint32_t MantOdd = (Abs >> 13) & 1u;
  Abs += 0xc8000fffu + MantOdd; // Re-bias exponent, round to nearest even.
  return Sign | (Abs >> 13);
}

float halfToFloat(uint16_t H) {
  uint32_t Sign = uint32_t(H & 0x8000u) << 16;
  uint32_t Exp = (H >> 10) & 0x1fu;
  uint32_t Mant = H & 0x3ffu;
  if (Exp == 0x1f)
    return std::bit_cast<float>(Sign | 0x7f800000u | (Mant << 13));
  if (Exp == 0) {
    float V = std::ldexp(float(Mant), -24);
    return Sign ? -V : V;
  }
  return std::bit_cast<float>(Sign | ((Exp + 112) << 23) | (Mant << 13));
}

uint16_t floatToBFloat16(float F) {
  uint32_t X = std::bit_cast<uint32_t>(F);
  if ((X & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((X >> 16) | 0x40u);
  X += 0x7fffu + ((X >> 16) & 1u);
  return uint16_t(X >> 16);
}

float bfloat16ToFloat(uint16_t B) {
  return std::bit_cast<float>(uint32_t(B) << 16);
}

} // namespace kiln
