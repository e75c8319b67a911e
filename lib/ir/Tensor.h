//===- Tensor.h - host tensor data ------------------------------*- C++ -*-===//
//
// A dense, row-major tensor on the host: the data of weights and constants,
// and the values the reference executor computes. Copies share the buffer
// (tensors are immutable once produced); clone() makes a deep copy.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_TENSOR_H
#define KILN_IR_TENSOR_H

#include "ir/Type.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace kiln {

class Tensor {
public:
  Tensor() = default;
  /// A zero-filled tensor.
  Tensor(DType Elem, std::vector<int64_t> Sizes);
  static Tensor fromBytes(DType Elem, std::vector<int64_t> Sizes,
                          llvm::ArrayRef<uint8_t> Bytes);
  /// Builds from values converted to `Elem` (rounded for 16-bit floats).
  static Tensor fromDoubles(DType Elem, std::vector<int64_t> Sizes,
                            llvm::ArrayRef<double> Values);
  static Tensor fromInts(DType Elem, std::vector<int64_t> Sizes,
                         llvm::ArrayRef<int64_t> Values);
  static Tensor scalarInt(DType Elem, int64_t V) {
    return fromInts(Elem, {}, {V});
  }

  bool isNull() const { return !Buf; }
  DType dtype() const { return Elem; }
  llvm::ArrayRef<int64_t> sizes() const { return Sizes; }
  int64_t rank() const { return int64_t(Sizes.size()); }
  int64_t dim(int64_t I) const { return Sizes[I]; }
  int64_t numElements() const { return NumElements; }
  size_t byteSize() const { return size_t(NumElements) * dtypeSize(Elem); }
  TensorType type() const { return TensorType::get(Elem, Sizes); }

  const uint8_t *bytes() const { return Buf ? Buf->data() : nullptr; }
  uint8_t *mutableBytes() { return Buf ? Buf->data() : nullptr; }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(bytes());
  }
  template <typename T> T *mutableData() {
    return reinterpret_cast<T *>(mutableBytes());
  }

  /// Element I (flat index) converted to double / int64 whatever the dtype.
  double getDouble(int64_t I) const;
  int64_t getInt(int64_t I) const;
  void setDouble(int64_t I, double V);
  void setInt(int64_t I, int64_t V);
  /// All elements as int64 (for shape-like tensors).
  std::vector<int64_t> toInts() const;
  std::vector<double> toDoubles() const;

  /// A deep copy.
  Tensor clone() const;
  /// Same data, new sizes with the same element count.
  Tensor reshaped(std::vector<int64_t> NewSizes) const;
  /// Elementwise conversion to another dtype (ONNX Cast semantics).
  Tensor castTo(DType To) const;

  /// True when dtype, sizes and every byte agree.
  bool identical(const Tensor &O) const;
  /// True when every element is zero.
  bool isAllZero() const;

private:
  DType Elem = DType::F32;
  std::vector<int64_t> Sizes;
  int64_t NumElements = 0;
  std::shared_ptr<std::vector<uint8_t>> Buf;
};

/// Product of sizes (1 for a scalar).
int64_t numElementsOf(llvm::ArrayRef<int64_t> Sizes);
/// Row-major strides in elements.
std::vector<int64_t> stridesOf(llvm::ArrayRef<int64_t> Sizes);

} // namespace kiln

#endif
