//===- RandomLengths.cpp - seeded per-row lengths for benchmarks ----------===//
#include "common/RandomLengths.h"

#include "ir/Error.h"

#include <algorithm>

namespace kiln {

llvm::Expected<LengthRange> parseLengthRange(llvm::StringRef Text) {
  auto [MinText, MaxText] = Text.split(':');
  LengthRange R;
  if (!Text.contains(':') || MinText.getAsInteger(10, R.Min) ||
      MaxText.getAsInteger(10, R.Max))
    return makeError("--lengths: '" + Text + "' is not MIN:MAX (e.g. 8:128)");
  if (R.Min < 1 || R.Max < R.Min)
    return makeError("--lengths: '" + Text +
                     "' needs 1 <= MIN <= MAX (a row holds at least one "
                     "token)");
  return R;
}

std::vector<int64_t> randomLengths(int64_t Batch, LengthRange R,
                                   uint64_t Seed) {
  // splitmix64 (Steele, Lea, Flood 2014): small, and the same in Python.
  uint64_t State = Seed;
  auto Next = [&State] {
    State += 0x9E3779B97F4A7C15ull;
    uint64_t Z = State;
    Z = (Z ^ (Z >> 30)) * 0xBF58476D1CE4E5B9ull;
    Z = (Z ^ (Z >> 27)) * 0x94D049BB133111EBull;
    return Z ^ (Z >> 31);
  };
  uint64_t Span = uint64_t(R.Max - R.Min) + 1;
  std::vector<int64_t> Out;
  Out.reserve(size_t(std::max<int64_t>(Batch, 0)));
  for (int64_t I = 0; I < Batch; ++I)
    Out.push_back(R.Min + int64_t(Next() % Span));
  return Out;
}

std::string lengthsJson(const std::vector<int64_t> &Lengths, LengthRange R,
                        uint64_t Seed) {
  // Spelled as Python's json.dumps spells it, so that lengths.py's file and
  // this one are byte-identical.
  std::string Out = "{\"batch\": " + std::to_string(Lengths.size()) +
                    ", \"min\": " + std::to_string(R.Min) +
                    ", \"max\": " + std::to_string(R.Max) +
                    ", \"seed\": " + std::to_string(Seed) + ", \"lengths\": [";
  for (size_t I = 0; I < Lengths.size(); ++I)
    Out += (I ? ", " : "") + std::to_string(Lengths[I]);
  return Out + "]}\n";
}

llvm::Error padToLengths(Tensor &T, const std::vector<int64_t> &Lengths) {
  if (!isInteger(T.dtype()) && T.dtype() != DType::Bool)
    return llvm::Error::success();
  int64_t Longest = 0;
  for (int64_t L : Lengths)
    Longest = std::max(Longest, L);
  if (T.sizes().size() != 2 || T.sizes()[0] != int64_t(Lengths.size()) ||
      T.sizes()[1] < Longest) {
    std::string Shape;
    for (int64_t D : T.sizes())
      Shape += (Shape.empty() ? "" : "x") + std::to_string(D);
    return makeError("an integer input of shape [" + Shape + "] cannot hold " +
                     llvm::Twine(Lengths.size()) + " rows of up to " +
                     llvm::Twine(Longest) + " tokens (expected [batch, seq])");
  }
  int64_t Seq = T.sizes()[1];
  for (size_t B = 0; B < Lengths.size(); ++B)
    for (int64_t S = Lengths[B]; S < Seq; ++S)
      T.setInt(int64_t(B) * Seq + S, 0);
  return llvm::Error::success();
}

} // namespace kiln
