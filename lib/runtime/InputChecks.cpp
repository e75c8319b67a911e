//===- InputChecks.cpp - refusing requests the model cannot answer --------===//
#include "runtime/InputChecks.h"

#include "ir/Error.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

namespace kiln {
namespace {

template <typename T> int64_t load(const void *Data, int64_t I) {
  T V;
  std::memcpy(&V, static_cast<const char *>(Data) + I * sizeof(T), sizeof(T));
  return int64_t(V);
}

/// Element I of an integer tensor, or nullopt for other dtypes.
std::optional<int64_t> element(const IndexInput &In, int64_t I) {
  switch (In.Type) {
  case DType::I64: return load<int64_t>(In.Data, I);
  case DType::I32: return load<int32_t>(In.Data, I);
  case DType::I8: return load<int8_t>(In.Data, I);
  case DType::U8: return load<uint8_t>(In.Data, I);
  default: return std::nullopt;
  }
}

/// Smallest and largest element, in one pass the compiler vectorizes.
template <typename T>
std::pair<int64_t, int64_t> minMaxOf(const void *Data, int64_t Count) {
  const T *P = static_cast<const T *>(Data);
  T Lo = P[0], Hi = P[0];
  for (int64_t I = 1; I < Count; ++I) {
    Lo = std::min(Lo, P[I]);
    Hi = std::max(Hi, P[I]);
  }
  return {int64_t(Lo), int64_t(Hi)};
}

std::optional<std::pair<int64_t, int64_t>> minMax(const IndexInput &In) {
  if (!In.Data || In.Count <= 0)
    return std::nullopt;
  switch (In.Type) {
  case DType::I64: return minMaxOf<int64_t>(In.Data, In.Count);
  case DType::I32: return minMaxOf<int32_t>(In.Data, In.Count);
  case DType::I8: return minMaxOf<int8_t>(In.Data, In.Count);
  case DType::U8: return minMaxOf<uint8_t>(In.Data, In.Count);
  default: return std::nullopt;
  }
}

bool inRange(const IndexCheck &C, int64_t V) {
  return V < C.TableSize && V >= (C.WrapNegative ? -C.TableSize : 0);
}

} // namespace

std::string indexErrorMessage(const IndexCheck &C, int64_t Value) {
  std::string V = std::to_string(Value), N = std::to_string(C.TableSize);
  std::string Msg = C.Kind == IndexCheck::Form::Embed
                        ? C.Node + ": " + C.Table + " index " + V +
                              " is out of range [0, " + N + ")"
                        : C.Node + ": index " + V + " is out of range for " +
                              C.Table + " of size " + N;
  return Msg + " (input '" + C.Input + "')";
}

llvm::Error checkSequenceLength(const ArtifactMetadata &Meta, int64_t Seq) {
  if (Meta.MaxSequenceLength <= 0 || Seq <= Meta.MaxSequenceLength)
    return llvm::Error::success();
  return makeError("sequence length " + llvm::Twine(Seq) +
                   " is longer than the model allows: its position table "
                   "holds positions for at most " +
                   llvm::Twine(Meta.MaxSequenceLength) + " tokens");
}

llvm::Error checkIndexInputs(const ArtifactMetadata &Meta,
                             llvm::ArrayRef<IndexInput> Inputs) {
  // One min/max pass per input, however many tables it indexes.
  std::vector<std::optional<std::optional<std::pair<int64_t, int64_t>>>> Cache(
      Inputs.size());
  for (const IndexCheck &C : Meta.IndexChecks) {
    size_t I = 0;
    while (I < Meta.Inputs.size() && Meta.Inputs[I].Name != C.Input)
      ++I;
    if (I >= Inputs.size())
      continue;
    const IndexInput &In = Inputs[I];
    if (!Cache[I])
      Cache[I] = minMax(In);
    const auto &Bounds = *Cache[I];
    if (!Bounds || (inRange(C, Bounds->first) && inRange(C, Bounds->second)))
      continue;
    // Out of range somewhere: report the first offending value, as the
    // reference's walk in order would.
    for (int64_t E = 0; E < In.Count; ++E)
      if (std::optional<int64_t> V = element(In, E); V && !inRange(C, *V))
        return makeError(indexErrorMessage(C, *V));
  }
  return llvm::Error::success();
}

} // namespace kiln
