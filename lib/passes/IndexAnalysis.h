//===- IndexAnalysis.h - affine index tensors and re-indexings --*- C++ -*-===//
//
// Exporters write some broadcasts as index arithmetic: transformers 5 builds
// the [B, 1, 1, S] padding mask as
//
//   b = Unsqueeze(Range(0, B, 1), [1, 2, 3])              [B, 1, 1, 1]
//   k = Unsqueeze(Range(0, S, 1), [0, 1, 2])              [1, 1, 1, S]
//   m4 = Gather(Flatten(m, 2), b * S + k)                 [B, 1, 1, S, 1]
//
// (or GatherND(m, Concat(b, k)) in dynamo exports), which is m[b, k]: an
// Unsqueeze of m. This analysis gives each integer tensor it understands an
// affine form in its own coordinates,
//
//   x[c] = Offset + sum_j Coef_j * c_j       (Coef_j an integer, or an
//                                             integer times a symbolic dim)
//
// and each tensor that only re-indexes another a view,
//
//   x[c] = Source[c[Axes[0]], ..., c[Axes[n-1]]]
//
// Gather and GatherND start views when their indices are affine forms that
// visit every element of the source once, in order; Unsqueeze, Squeeze,
// Expand and Reshapes that only move unit axes carry them on.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_INDEXANALYSIS_H
#define KILN_PASSES_INDEXANALYSIS_H

#include "ir/ShapeInference.h"

#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// Factor * Symbol, or just Factor when Symbol is empty.
struct IndexCoef {
  int64_t Factor = 0;
  std::string Symbol;

  bool isZero() const { return Factor == 0; }
  /// True when this is exactly the size `D` (a static dim or a symbol).
  bool equals(const Dim &D) const;
  std::string str() const;
};

/// x[c] = Offset + sum_j Coefs[j] * c[j], one coefficient per axis of x.
struct AffineIndex {
  int64_t Offset = 0;
  std::vector<IndexCoef> Coefs;

  std::string str() const;
};

/// x[c] = Source[c[Axes[0]], ..., c[Axes[n-1]]]: axis i of Source is axis
/// Axes[i] of x, with the same size; x does not vary along its other axes.
struct SourceView {
  Value *Source = nullptr;
  std::vector<int64_t> Axes;
};

/// Lower and upper bounds of an affine index over its value's shape; an
/// upper bound is absent when a symbolic size makes it open.
struct IndexRange {
  std::optional<int64_t> Min, Max;
};

class IndexAnalysis {
public:
  /// Analyses every node of `G` in order. Types must be inferred.
  explicit IndexAnalysis(const Graph &G);

  const AffineIndex *affine(const Value *V) const;
  /// The view of `V` when a Gather or GatherND re-indexing it was found on
  /// the way from its source; null for plain values.
  const SourceView *view(const Value *V) const;
  /// The size held by a one-element integer tensor: a constant, or a shape
  /// value such as Gather(Shape(x), 1).
  std::optional<IndexCoef> scalar(const Value *V) const;
  IndexRange range(const Value *V) const;

  /// Why the last Gather or GatherND seen for `V` is no re-indexing, for
  /// --debug-only; empty when it is one or was not tried.
  std::string whyNoView(const Value *V) const { return WhyNot.lookup(V); }

private:
  void visit(const Node &N);
  std::optional<AffineIndex> affineOf(const Node &N) const;
  std::optional<SourceView> viewOf(const Node &N);
  std::optional<SourceView> gatherView(const Node &N);
  std::optional<SourceView> gatherNDView(const Node &N);

  ShapeValueMap ShapeValues;
  llvm::DenseMap<const Value *, AffineIndex> Affine;
  llvm::DenseMap<const Value *, SourceView> Views;
  llvm::DenseMap<const Value *, std::string> WhyNot;
};

} // namespace kiln

#endif
