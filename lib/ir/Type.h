//===- Type.h - tensor types with symbolic dimensions -----------*- C++ -*-===//
//
// A value's type is a dtype and a ranked shape. Each dimension is a constant,
// a named symbol (`batch`, `seq`) or unknown (`?`, a size nothing names).
// Two symbols are equal when their names are; an unknown dim equals nothing,
// not even another unknown.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_TYPE_H
#define KILN_IR_TYPE_H

#include "ir/DType.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace kiln {

class Dim {
public:
  Dim() = default; // unknown
  Dim(int64_t Value) : Value(Value) {}
  static Dim symbol(std::string Name) {
    Dim D;
    D.Symbol = std::move(Name);
    return D;
  }
  static Dim unknown() { return Dim(); }

  bool isStatic() const { return Value >= 0; }
  bool isSymbol() const { return Value < 0 && !Symbol.empty(); }
  bool isUnknown() const { return Value < 0 && Symbol.empty(); }
  int64_t value() const { return Value; }
  const std::string &symbol() const { return Symbol; }

  /// True when both are known to be the same size.
  bool sameAs(const Dim &O) const {
    if (isStatic() || O.isStatic())
      return Value == O.Value;
    return isSymbol() && Symbol == O.Symbol;
  }
  /// Structural equality (unknown == unknown), for comparing printed types.
  bool operator==(const Dim &O) const {
    return Value == O.Value && Symbol == O.Symbol;
  }
  bool operator!=(const Dim &O) const { return !(*this == O); }

  /// `384`, `batch`, `"s0 + 1"` (a name that is no identifier) or `?`.
  std::string str() const;

private:
  int64_t Value = -1;
  std::string Symbol;
};

using Shape = llvm::SmallVector<Dim, 4>;

struct TensorType {
  DType Elem = DType::F32;
  Shape Dims;

  TensorType() = default;
  TensorType(DType Elem, Shape Dims) : Elem(Elem), Dims(std::move(Dims)) {}
  static TensorType get(DType Elem, llvm::ArrayRef<int64_t> Sizes);

  int64_t rank() const { return int64_t(Dims.size()); }
  bool isStatic() const;
  /// Static element count, or -1 if any dim is not static.
  int64_t staticNumElements() const;
  /// The static sizes; asserts isStatic().
  std::vector<int64_t> staticSizes() const;

  bool operator==(const TensorType &O) const {
    return Elem == O.Elem && Dims == O.Dims;
  }
  bool operator!=(const TensorType &O) const { return !(*this == O); }

  /// `f32[batch, seq, 384]`; a scalar is `f32[]`.
  std::string str() const;
};

/// True when `Name` prints bare (letters, digits, `_`, `.`, `$`, `-`, `/`,
/// not starting with a digit or `-`); otherwise it is printed quoted.
bool isBareIdentifier(llvm::StringRef Name);
/// Quotes and escapes `S` as a string literal of the text form.
std::string quoteString(llvm::StringRef S);

} // namespace kiln

#endif
