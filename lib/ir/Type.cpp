#include "ir/Type.h"

#include "llvm/ADT/StringExtras.h"

#include <cassert>

namespace kiln {

bool isBareIdentifier(llvm::StringRef Name) {
  if (Name.empty() || llvm::isDigit(Name[0]) || Name[0] == '-')
    return false;
  for (char C : Name)
    if (!llvm::isAlnum(C) && C != '_' && C != '.' && C != '$' && C != '-' &&
        C != '/')
      return false;
  return true;
}

std::string quoteString(llvm::StringRef S) {
  std::string Out = "\"";
  for (unsigned char C : S) {
    if (C == '"' || C == '\\') {
      Out += '\\';
      Out += char(C);
    } else if (C < 0x20 || C >= 0x7f) {
      Out += '\\';
      Out += llvm::hexdigit(C >> 4, /*LowerCase=*/true);
      Out += llvm::hexdigit(C & 15, /*LowerCase=*/true);
    } else {
      Out += char(C);
    }
  }
  Out += '"';
  return Out;
}

std::string Dim::str() const {
  if (isStatic())
    return std::to_string(Value);
  if (isUnknown())
    return "?";
  if (isBareIdentifier(Symbol) && !parseDType(Symbol))
    return Symbol;
  return quoteString(Symbol);
}

TensorType TensorType::get(DType Elem, llvm::ArrayRef<int64_t> Sizes) {
  Shape Dims;
  for (int64_t S : Sizes)
    Dims.push_back(Dim(S));
  return TensorType(Elem, std::move(Dims));
}

bool TensorType::isStatic() const {
  for (const Dim &D : Dims)
    if (!D.isStatic())
      return false;
  return true;
}

int64_t TensorType::staticNumElements() const {
  int64_t N = 1;
  for (const Dim &D : Dims) {
    if (!D.isStatic())
      return -1;
    N *= D.value();
  }
  return N;
}

std::vector<int64_t> TensorType::staticSizes() const {
  assert(isStatic() && "type has non-static dims");
  std::vector<int64_t> Sizes;
  for (const Dim &D : Dims)
    Sizes.push_back(D.value());
  return Sizes;
}

std::string TensorType::str() const {
  std::string S = dtypeName(Elem).str() + "[";
  for (size_t I = 0; I < Dims.size(); ++I) {
    if (I)
      S += ", ";
    S += Dims[I].str();
  }
  return S + "]";
}

} // namespace kiln
