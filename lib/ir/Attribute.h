//===- Attribute.h - node attributes ----------------------------*- C++ -*-===//
#ifndef KILN_IR_ATTRIBUTE_H
#define KILN_IR_ATTRIBUTE_H

#include "ir/Tensor.h"

#include "llvm/ADT/StringRef.h"

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace kiln {

enum class AttrKind { Int, Float, String, Ints, Floats, Strings, Tensor };

llvm::StringRef attrKindName(AttrKind K);

/// One attribute value. Floats are stored as float, as in ONNX.
class Attribute {
public:
  Attribute() : V(int64_t(0)) {}
  Attribute(int64_t I) : V(I) {}
  Attribute(int I) : V(int64_t(I)) {}
  Attribute(float F) : V(F) {}
  Attribute(std::string S) : V(std::move(S)) {}
  Attribute(const char *S) : V(std::string(S)) {}
  Attribute(std::vector<int64_t> I) : V(std::move(I)) {}
  Attribute(std::vector<float> F) : V(std::move(F)) {}
  Attribute(std::vector<std::string> S) : V(std::move(S)) {}
  Attribute(kiln::Tensor T) : V(std::move(T)) {}

  AttrKind kind() const { return AttrKind(V.index()); }
  int64_t getInt() const { return std::get<int64_t>(V); }
  float getFloat() const { return std::get<float>(V); }
  const std::string &getString() const { return std::get<std::string>(V); }
  const std::vector<int64_t> &getInts() const {
    return std::get<std::vector<int64_t>>(V);
  }
  const std::vector<float> &getFloats() const {
    return std::get<std::vector<float>>(V);
  }
  const std::vector<std::string> &getStrings() const {
    return std::get<std::vector<std::string>>(V);
  }
  const kiln::Tensor &getTensor() const { return std::get<kiln::Tensor>(V); }

  bool operator==(const Attribute &O) const;
  bool operator!=(const Attribute &O) const { return !(*this == O); }

private:
  std::variant<int64_t, float, std::string, std::vector<int64_t>,
               std::vector<float>, std::vector<std::string>, kiln::Tensor>
      V;
};

/// Attributes by name, sorted so that printing is deterministic.
using AttrMap = std::map<std::string, Attribute, std::less<>>;

} // namespace kiln

#endif
