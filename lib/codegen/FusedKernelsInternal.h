//===- FusedKernelsInternal.h - helpers of the fused ops' rules -*- C++ -*-===//
//
// What FusedKernels.cpp and AttentionKernels.cpp share: the checks and
// small computations their lowering rules make of a node's operands.
// Internal to lib/codegen.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_FUSEDKERNELSINTERNAL_H
#define KILN_CODEGEN_FUSEDKERNELSINTERNAL_H

#include "codegen/KernelLibrary.h"
#include "ir/Graph.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace kiln::fused {

/// An error naming `N`, then `Cause`.
llvm::Error nodeError(const Node &N, const llvm::Twine &Cause);

/// The static sizes of a value (codegen runs on specialized graphs).
llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V);

int64_t product(llvm::ArrayRef<int64_t> Sizes);

/// Floating storage the kernels read and write: f32, f16, bf16.
llvm::Error checkStorage(const Node &N, const Value *V, llvm::StringRef What);

/// Every present operand of `Indices` has the dtype of the first present
/// one; returns that dtype.
llvm::Expected<DType> commonDType(const Node &N,
                                  std::initializer_list<unsigned> Indices,
                                  llvm::StringRef What);

/// The CUDA type of a dtype, and a bool, as template arguments.
std::string typeName(DType T);
std::string flag(bool B);

/// Operand `I` of `N` as a launch argument, or a 64-bit 0 when absent.
LaunchArg optionalOperand(const Node &N, unsigned I);

uint32_t ceilDiv(int64_t A, int64_t B);

/// The number of sequences of the spans operand `I` of `N` ([sequences, 2]
/// i32: first token, count, as PackTokens makes them).
llvm::Expected<int64_t> spanCount(const Node &N, unsigned I);

/// The most tokens a span of `Spans` can hold when `Tokens` are packed: a
/// row of the mask when PackTokens made them, else all the tokens.
int64_t longestSpan(const Value *Spans, int64_t Tokens);

} // namespace kiln::fused

#endif
