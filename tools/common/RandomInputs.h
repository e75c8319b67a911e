//===- RandomInputs.h - made-up inputs for a model --------------*- C++ -*-===//
//
// Inputs the tools make up when the user gives none, each by the role of
// the input (IoSpec::Role: the artifact's record, or for a graph
// inferInputRoles of codegen/InputRoleAnalysis.h): `kiln run --random-inputs`, the inputs
// `kiln bench` times, and those `kiln compile --prune-report` compares on.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_RANDOMINPUTS_H
#define KILN_TOOLS_RANDOMINPUTS_H

#include "ir/Graph.h"
#include "ir/Tensor.h"
#include "runtime/Artifact.h"
#include "runtime/Plan.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace kiln {

/// --random-inputs refuses larger inputs rather than exhaust memory.
inline constexpr int64_t MaxRandomElements = int64_t(1) << 30;

/// An input following `kiln run --random-inputs`: floats uniform in
/// [-1, 1), integers uniform in [0, IntRange), integer attention masks all
/// ones, bools all true. Symbolic dims take their size from `Symbols`.
llvm::Expected<Tensor> randomInput(const Value &V, IoRole Role,
                                   const llvm::StringMap<int64_t> &Symbols,
                                   int64_t IntRange, std::mt19937_64 &Rng);

/// An input of a bucket for benchmarks: attention masks all ones, token
/// types zero, other integers uniform in [1000, 30000) (token ids), floats
/// uniform in [-1, 1). Integers wrap into every table that `Checks` (the
/// artifact's) says the input indexes, so a small model's tables hold them
/// and the run is one the runtime would accept.
Tensor benchmarkInput(const IoBinding &B, IoRole Role, std::mt19937_64 &Rng,
                      llvm::ArrayRef<IndexCheck> Checks = {});

/// Seeded inputs comparing two versions of a model on the reference
/// executor (symbolic dims 2 for the first, else 16): masks all ones but
/// the last quarter of rows after the first, ids that index a constant table
/// through a Gather in range of it.
std::map<std::string, Tensor> comparisonInputs(const Graph &G);

} // namespace kiln

#endif
