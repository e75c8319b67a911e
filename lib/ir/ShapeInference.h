//===- ShapeInference.h - types of every node, in order ---------*- C++ -*-===//
#ifndef KILN_IR_SHAPEINFERENCE_H
#define KILN_IR_SHAPEINFERENCE_H

#include "ir/OpRegistry.h"

namespace kiln {

/// Symbolic contents of small integer tensors, as seen by type inference.
using ShapeValueMap = InferContext::ShapeValueMap;

/// Seeds `Map` with the shape values of the graph's small integer constants.
void collectConstantShapeValues(const Graph &G, ShapeValueMap &Map);

/// Infers `N`'s result types from its operands. Results inference leaves
/// open keep their current type. Shape values of the results go into `Map`
/// (they may hold product symbols, DimProducts.h; the types never do).
llvm::Expected<std::vector<TensorType>> inferNodeTypes(const Node &N,
                                                       ShapeValueMap &Map);

/// Runs inference over every node in order and sets the result types. Where
/// inference leaves a dim unknown, the type the value had (from the model or
/// the text) is kept; where both are known and disagree, it is an error.
/// Dims that are products of symbols (batch * heads, DimProducts.h) are
/// followed while inference runs, so a Reshape that folds heads into the
/// batch and one that unfolds them again keep `batch`; the stored types
/// have them as unknown dims.
/// When `ShapeValues` is given, it receives the shape values of every value.
llvm::Error inferGraphTypes(Graph &G, ShapeValueMap *ShapeValues = nullptr);

/// `Inferred` refined by `Declared`: unknown dims of one take the other's.
/// Fails when both know a dim and differ, or rank or dtype differ.
llvm::Expected<TensorType> mergeTypes(const TensorType &Inferred,
                                      const TensorType &Declared);

} // namespace kiln

#endif
