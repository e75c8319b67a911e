#include "ir/Tensor.h"

#include <cassert>
#include <cmath>
#include <limits>

namespace kiln {

int64_t numElementsOf(llvm::ArrayRef<int64_t> Sizes) {
  int64_t N = 1;
  for (int64_t S : Sizes)
    N *= S;
  return N;
}

std::vector<int64_t> stridesOf(llvm::ArrayRef<int64_t> Sizes) {
  std::vector<int64_t> Strides(Sizes.size(), 1);
  for (int64_t I = int64_t(Sizes.size()) - 2; I >= 0; --I)
    Strides[I] = Strides[I + 1] * Sizes[I + 1];
  return Strides;
}

Tensor::Tensor(DType Elem, std::vector<int64_t> Sizes)
    : Elem(Elem), Sizes(std::move(Sizes)) {
  NumElements = numElementsOf(this->Sizes);
  assert(NumElements >= 0 && "negative size");
  Buf = std::make_shared<std::vector<uint8_t>>(byteSize(), 0);
}

Tensor Tensor::fromBytes(DType Elem, std::vector<int64_t> Sizes,
                         llvm::ArrayRef<uint8_t> Bytes) {
  Tensor T(Elem, std::move(Sizes));
  assert(Bytes.size() == T.byteSize() && "byte count does not match shape");
  if (!Bytes.empty())
    std::memcpy(T.mutableBytes(), Bytes.data(), Bytes.size());
  return T;
}

Tensor Tensor::fromDoubles(DType Elem, std::vector<int64_t> Sizes,
                           llvm::ArrayRef<double> Values) {
  Tensor T(Elem, std::move(Sizes));
  assert(int64_t(Values.size()) == T.numElements());
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setDouble(I, Values[I]);
  return T;
}

Tensor Tensor::fromInts(DType Elem, std::vector<int64_t> Sizes,
                        llvm::ArrayRef<int64_t> Values) {
  Tensor T(Elem, std::move(Sizes));
  assert(int64_t(Values.size()) == T.numElements());
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setInt(I, Values[I]);
  return T;
}

double Tensor::getDouble(int64_t I) const {
  const uint8_t *P = bytes();
  switch (Elem) {
  case DType::F32: return reinterpret_cast<const float *>(P)[I];
  case DType::F16: return halfToFloat(reinterpret_cast<const uint16_t *>(P)[I]);
  case DType::BF16:
    return bfloat16ToFloat(reinterpret_cast<const uint16_t *>(P)[I]);
  case DType::F64: return reinterpret_cast<const double *>(P)[I];
  case DType::I64: return double(reinterpret_cast<const int64_t *>(P)[I]);
  case DType::I32: return reinterpret_cast<const int32_t *>(P)[I];
  case DType::I8: return reinterpret_cast<const int8_t *>(P)[I];
  case DType::U8: return P[I];
  case DType::Bool: return P[I] ? 1.0 : 0.0;
  }
  return 0;
}

int64_t Tensor::getInt(int64_t I) const {
  const uint8_t *P = bytes();
  switch (Elem) {
  case DType::I64: return reinterpret_cast<const int64_t *>(P)[I];
  case DType::I32: return reinterpret_cast<const int32_t *>(P)[I];
  case DType::I8: return reinterpret_cast<const int8_t *>(P)[I];
  case DType::U8: return P[I];
  case DType::Bool: return P[I] ? 1 : 0;
  default: {
    double D = getDouble(I);
    if (std::isnan(D))
      return 0;
    if (D >= 9.2e18)
      return std::numeric_limits<int64_t>::max();
    if (D <= -9.2e18)
      return std::numeric_limits<int64_t>::min();
    return int64_t(D);
  }
  }
}

void Tensor::setDouble(int64_t I, double V) {
  uint8_t *P = mutableBytes();
  switch (Elem) {
  case DType::F32: reinterpret_cast<float *>(P)[I] = float(V); return;
  case DType::F16:
    reinterpret_cast<uint16_t *>(P)[I] = floatToHalf(float(V));
    return;
  case DType::BF16:
    reinterpret_cast<uint16_t *>(P)[I] = floatToBFloat16(float(V));
    return;
  case DType::F64: reinterpret_cast<double *>(P)[I] = V; return;
  case DType::Bool: P[I] = V != 0.0; return;
  default: {
    // Float to integer conversion truncates toward zero (ONNX Cast);
    // out-of-range values are clamped instead of being undefined behavior.
    int64_t X = 0;
    if (!std::isnan(V))
      X = V >= 9.2e18    ? std::numeric_limits<int64_t>::max()
          : V <= -9.2e18 ? std::numeric_limits<int64_t>::min()
                         : int64_t(V);
    setInt(I, X);
    return;
  }
  }
}

void Tensor::setInt(int64_t I, int64_t V) {
  uint8_t *P = mutableBytes();
  switch (Elem) {
  case DType::I64: reinterpret_cast<int64_t *>(P)[I] = V; return;
  case DType::I32: reinterpret_cast<int32_t *>(P)[I] = int32_t(V); return;
  case DType::I8: reinterpret_cast<int8_t *>(P)[I] = int8_t(V); return;
  case DType::U8: P[I] = uint8_t(V); return;
  case DType::Bool: P[I] = V != 0; return;
  default: setDouble(I, double(V)); return;
  }
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> Out(NumElements);
  for (int64_t I = 0; I < NumElements; ++I)
    Out[I] = getInt(I);
  return Out;
}

std::vector<double> Tensor::toDoubles() const {
  std::vector<double> Out(NumElements);
  for (int64_t I = 0; I < NumElements; ++I)
    Out[I] = getDouble(I);
  return Out;
}

Tensor Tensor::clone() const {
  if (isNull())
    return Tensor();
  return fromBytes(Elem, Sizes, llvm::ArrayRef<uint8_t>(bytes(), byteSize()));
}

Tensor Tensor::reshaped(std::vector<int64_t> NewSizes) const {
  assert(numElementsOf(NewSizes) == NumElements && "reshape changes count");
  Tensor T = *this;
  T.Sizes = std::move(NewSizes);
  return T;
}

Tensor Tensor::castTo(DType To) const {
  if (To == Elem)
    return *this;
  Tensor T(To, Sizes);
  bool IntPath = !isFloat(Elem) && !isFloat(To);
  for (int64_t I = 0; I < NumElements; ++I) {
    if (IntPath)
      T.setInt(I, getInt(I));
    else if (To == DType::Bool)
      T.setInt(I, getDouble(I) != 0.0);
    else
      T.setDouble(I, getDouble(I));
  }
  return T;
}

bool Tensor::identical(const Tensor &O) const {
  if (Elem != O.Elem || Sizes != O.Sizes)
    return false;
  if (byteSize() == 0)
    return true;
  return std::memcmp(bytes(), O.bytes(), byteSize()) == 0;
}

bool Tensor::isAllZero() const {
  for (int64_t I = 0; I < NumElements; ++I)
    if (getDouble(I) != 0.0)
      return false;
  return true;
}

} // namespace kiln
