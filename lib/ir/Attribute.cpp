#include "ir/Attribute.h"

namespace kiln {

llvm::StringRef attrKindName(AttrKind K) {
  switch (K) {
  case AttrKind::Int: return "int";
  case AttrKind::Float: return "float";
  case AttrKind::String: return "string";
  case AttrKind::Ints: return "ints";
  case AttrKind::Floats: return "floats";
  case AttrKind::Strings: return "strings";
  case AttrKind::Tensor: return "tensor";
  }
  return "?";
}

bool Attribute::operator==(const Attribute &O) const {
  if (kind() != O.kind())
    return false;
  switch (kind()) {
  case AttrKind::Int: return getInt() == O.getInt();
  case AttrKind::Float: return getFloat() == O.getFloat();
  case AttrKind::String: return getString() == O.getString();
  case AttrKind::Ints: return getInts() == O.getInts();
  case AttrKind::Floats: return getFloats() == O.getFloats();
  case AttrKind::Strings: return getStrings() == O.getStrings();
  case AttrKind::Tensor: return getTensor().identical(O.getTensor());
  }
  return false;
}

} // namespace kiln
