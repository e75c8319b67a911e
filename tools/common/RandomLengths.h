//===- RandomLengths.h - seeded per-row lengths for benchmarks --*- C++ -*-===//
//
// Real traffic is not full-length: `kiln bench --batch N --lengths MIN:MAX
// --seed S` times batches whose rows hold MIN..MAX real tokens each, padded
// to the bucket as a caller sends them. The draw is spelled out (splitmix64,
// then MIN + x mod (MAX - MIN + 1)) rather than left to <random>'s
// distributions, whose output differs between standard libraries, so that
// scripts/bench/lengths.py draws the same lengths for the peers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_RANDOMLENGTHS_H
#define KILN_TOOLS_RANDOMLENGTHS_H

#include "ir/Tensor.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct LengthRange {
  int64_t Min = 1, Max = 1;
};

/// "MIN:MAX" with 1 <= MIN <= MAX, or an error naming what is wrong.
llvm::Expected<LengthRange> parseLengthRange(llvm::StringRef Text);

/// `Batch` lengths uniform in [R.Min, R.Max]; the same seed gives the same
/// lengths on every platform.
std::vector<int64_t> randomLengths(int64_t Batch, LengthRange R, uint64_t Seed);

/// {"batch": N, "min": MIN, "max": MAX, "seed": S, "lengths": [...]}, the
/// file scripts/bench/peers.py --lengths-file reads.
std::string lengthsJson(const std::vector<int64_t> &Lengths, LengthRange R,
                        uint64_t Seed);

/// Pads integer input `T` ([batch, seq]) to per-row `Lengths`: positions at
/// and past a row's length become 0 (the attention mask's padding, the pad
/// token id 0, token type 0); other inputs are left as they are. An error
/// when `T` is integer but not [Lengths.size(), >= max length].
llvm::Error padToLengths(Tensor &T, const std::vector<int64_t> &Lengths);

} // namespace kiln

#endif
