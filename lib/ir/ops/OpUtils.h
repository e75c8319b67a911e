//===- OpUtils.h - helpers shared by the op definitions ---------*- C++ -*-===//
#ifndef KILN_IR_OPS_OPUTILS_H
#define KILN_IR_OPS_OPUTILS_H

#include "ir/OpRegistry.h"

#include <optional>

namespace kiln {

/// Numpy-style multidirectional broadcasting of symbolic shapes. A symbol
/// against 1 gives the symbol; a symbol against a constant > 1 gives the
/// constant; two different symbols (or unknowns) give unknown.
llvm::Expected<Shape> broadcastShapes(llvm::ArrayRef<Shape> Shapes);
/// The same for concrete sizes; fails when sizes are incompatible.
llvm::Expected<std::vector<int64_t>>
broadcastSizes(llvm::ArrayRef<std::vector<int64_t>> Sizes);

/// Strides (in elements) that read a tensor of `InSizes` broadcast to
/// `OutSizes`: 0 along broadcast dims, aligned to the right.
std::vector<int64_t> broadcastStrides(llvm::ArrayRef<int64_t> InSizes,
                                      llvm::ArrayRef<int64_t> OutSizes);

/// Axis in [-Rank, Rank) mapped to [0, Rank); nullopt when out of range.
std::optional<int64_t> normalizeAxis(int64_t Axis, int64_t Rank);

/// Walks every multi-index of `Sizes` in row-major order, keeping one flat
/// offset per stride set up to date:
///   forEachIndex(Out, {StridesA, StridesB}, [&](int64_t I, ArrayRef<int64_t> Offs) {...});
/// `I` is the row-major flat index into `Sizes`.
void forEachIndex(
    llvm::ArrayRef<int64_t> Sizes,
    llvm::ArrayRef<std::vector<int64_t>> StrideSets,
    llvm::function_ref<void(int64_t, llvm::ArrayRef<int64_t>)> Fn);

/// Shape values hold integers, and exporters put negative ones in them (-1,
/// Reshape's "infer this dim"), but Dim(-1) is the unknown dim. A negative
/// integer N is held as Dim(N - 1): code that does not ask sees an unknown
/// dim (isUnknown() holds), code that asks gets N back from shapeValueInt.
Dim shapeValueDim(int64_t V);
/// The integer a shape-value entry holds: a static dim, or a negative number
/// stored by shapeValueDim. Nullopt for symbols and unknowns.
std::optional<int64_t> shapeValueInt(const Dim &D);

/// Shape of a concrete tensor as Dims.
Shape shapeOf(llvm::ArrayRef<int64_t> Sizes);

} // namespace kiln

#endif
