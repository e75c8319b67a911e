//===- FusionUtils.h - shared pieces of the fusion patterns -----*- C++ -*-===//
//
// What the fusion patterns have in common: reading small constants (a
// scalar, a reduction's axes, a per-channel vector), checking types, and
// finding the root of a pattern below a distinctive anchor node (the Sqrt of
// a layer norm, the Erf of a GELU).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_FUSIONUTILS_H
#define KILN_PASSES_FUSIONUTILS_H

#include "passes/Pattern.h"
#include "passes/RewriteDriver.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace kiln::fusion {

/// The value of a constant holding exactly one element.
std::optional<double> scalarValue(const Value *V);

/// True when the reduction `N` (ReduceMean, ReduceSum, ReduceL2, ...) reduces
/// exactly axis `Axis` (negative counts from the end) of its first operand,
/// with the axes given as a constant operand, and keeps the reduced dim iff
/// `KeepDims`.
bool reducesOnlyAxis(const Node &N, int64_t Axis, bool KeepDims);

/// True when the constant operand `AxesIndex` of `N` lists exactly `Axis` of
/// a rank-`Rank` tensor (negative axes count from the end).
bool constantAxesAre(const Node &N, unsigned AxesIndex, int64_t Axis,
                     int64_t Rank);

/// True when `V` is a constant whose elements lie along its last axis
/// ([W], [1, W], [1, 1, W]) and number `Width`, which must be static: a
/// per-channel scale or bias of a `[..., Width]` tensor.
bool isChannelVector(const Value *V, const Dim &Width);

/// `V`, a constant accepted by isChannelVector, as a rank-1 value: `V`
/// itself or a reshaped copy added through `R`.
Value *asVector(rewrite::Rewriter &R, Value *V);

/// Two types that are known to be the same (dtype, rank, and each dim
/// provably equal).
bool sameType(const TensorType &A, const TensorType &B);

/// True when `Declared` may be refined to `Known`: same dtype and rank, and
/// each dim of `Declared` is unknown or provably equal to `Known`'s.
bool refinesTo(const TensorType &Declared, const TensorType &Known);

/// True when every constant operand of the matched nodes broadcasts into a
/// tensor of type `T` without growing it: rank no higher, each dim 1 or
/// `T`'s static dim. A formula of x and such constants (with reductions
/// that keep their dims) then has x's shape, whatever dims `T` leaves open.
bool constantsFit(const pat::Match &M, const TensorType &T);

/// The elements of a tensor's last axis that a value holds: `V` is
/// x[..., Begin:End], a unit-step Slice of x along its last axis only, or a
/// result of a Split of x along its last axis. x's last dim is static.
struct LastAxisRange {
  Value *X = nullptr;
  int64_t Begin = 0, End = 0;
};
/// The range `V` takes of its source's last axis, or why it is none.
llvm::Expected<LastAxisRange> lastAxisRange(Value *V);

struct Reached {
  Node *N;
  unsigned Distance;
};

/// The nodes reached from `Anchor` by following uses at most `MaxSteps`
/// times, walking only through nodes whose op is in `Through`, farthest first.
std::vector<Reached> nodesBelow(Node *Anchor, unsigned MaxSteps,
                                llvm::ArrayRef<llvm::StringRef> Through);

/// The outcome of trying one pattern at several candidate roots.
struct RootMatch {
  /// The accepted root; null when none was.
  Node *Root = nullptr;
  pat::Match Bindings;
  /// Why no root was accepted.
  std::string Why;
};

/// Why `Accept` refuses a match, or nullopt to take it.
using AcceptFn = llvm::function_ref<std::optional<std::string>(
    Node *Root, const pat::Match &)>;

/// Tries `P` at each of `Roots` in turn and returns the first match `Accept`
/// takes. When there is none, the reason is the first refusal of a match, or
/// else the failure that got furthest up from the anchor.
RootMatch matchFirst(llvm::ArrayRef<Reached> Roots, const pat::Pattern &P,
                     AcceptFn Accept);

} // namespace kiln::fusion

#endif
