//===- ShapeOpUtils.h - helpers of the shape and tensor ops -----*- C++ -*-===//
//
// What ShapeOps.cpp, MovementOps.cpp, GeneratorOps.cpp and TensorOps.cpp
// share: reading integer operands that are known during inference
// (constants, Constant nodes, static shape values), shape values, symbolic
// dim arithmetic, and byte-moving loops that work for every dtype.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_SHAPEOPUTILS_H
#define KILN_IR_OPS_SHAPEOPUTILS_H

#include "ir/OpRegistry.h"
#include "ir/ops/OpUtils.h"

#include <cstring>
#include <optional>

namespace kiln {

/// Results with at most this many elements carry a shape value (the limit
/// collectConstantShapeValues uses for constants).
constexpr int64_t MaxShapeValueElements = 64;

/// An op definition with its counts, attributes, inference and reference
/// implementation (one result unless the caller changes it).
OpDef makeOp(llvm::StringRef Name, llvm::StringRef Summary, unsigned MinInputs,
             unsigned MaxInputs, std::vector<AttrSpec> Attrs,
             std::function<llvm::Error(InferContext &)> Infer,
             std::function<llvm::Error(EvalContext &)> Eval);

/// The tensor a Constant node produces from its attributes (exactly one of
/// value, value_float, value_floats, value_int, value_ints).
llvm::Expected<Tensor> constantNodeValue(const Node &N);

/// Operand I's data when inference knows it exactly: a graph constant or
/// the result of a Constant node. Null otherwise.
std::optional<Tensor> knownTensor(const InferContext &Ctx, unsigned I);

/// Operand I's integer contents when inference knows them: from
/// knownTensor, or a shape value whose entries are all integers.
std::optional<std::vector<int64_t>> knownInts(const InferContext &Ctx,
                                              unsigned I);

/// Operand I's contents as dims (for result types): the known ints, else its
/// shape value. Negative numbers become unknown dims.
std::optional<std::vector<Dim>> knownDims(const InferContext &Ctx, unsigned I);

/// Whether a result of this type may carry a shape value: an integer tensor
/// of rank 0 or 1 with a small static size.
bool carriesShapeValue(const TensorType &T);

/// The most elements a reference result whose size comes from data (a
/// shape operand, pads, repeats) may have; anything larger is refused
/// rather than allocated.
constexpr int64_t MaxEvalElements = int64_t(1) << 31;

/// Fails unless every size is non-negative and their product is at most
/// MaxEvalElements.
llvm::Error checkResultSizes(llvm::ArrayRef<int64_t> Sizes);

/// A + B and A * B, or nullopt when they overflow int64.
std::optional<int64_t> checkedAdd(int64_t A, int64_t B);
std::optional<int64_t> checkedMul(int64_t A, int64_t B);

/// Symbolic arithmetic: exact on static dims, `x * 1 = x`, `x + 0 = x`;
/// anything else (or an overflow) is unknown.
Dim mulDims(const Dim &A, const Dim &B);
Dim addDims(const Dim &A, const Dim &B);
/// The product of Dims, as a product symbol (DimProducts.h) where it has
/// symbols; unknown when any is unknown or on overflow.
Dim productOfDims(llvm::ArrayRef<Dim> Dims);

/// Axes in [-Rank, Rank) normalized; fails on out-of-range or repeated axes.
/// `What` names the list in messages ("axes", "perm").
llvm::Expected<std::vector<int64_t>>
normalizeAxes(llvm::ArrayRef<int64_t> Axes, int64_t Rank, llvm::StringRef What);

/// Copies one element of `Size` bytes (fast paths for the common sizes).
inline void copyElement(uint8_t *Dst, const uint8_t *Src, size_t Size) {
  switch (Size) {
  case 1: *Dst = *Src; return;
  case 2: std::memcpy(Dst, Src, 2); return;
  case 4: std::memcpy(Dst, Src, 4); return;
  case 8: std::memcpy(Dst, Src, 8); return;
  default: std::memcpy(Dst, Src, Size); return;
  }
}

/// A tensor of `OutSizes` whose element at multi-index i is In's element at
/// flat offset `InOffset + sum(i[d] * InStrides[d])`. Transpose, Slice,
/// Split, Expand and Tile are all this copy with different strides.
Tensor stridedCopy(const Tensor &In, std::vector<int64_t> OutSizes,
                   llvm::ArrayRef<int64_t> InStrides, int64_t InOffset = 0);

/// Calls Fn(Index) for every multi-index of `Sizes`, in row-major order.
void forEachMultiIndex(llvm::ArrayRef<int64_t> Sizes,
                       llvm::function_ref<void(llvm::ArrayRef<int64_t>)> Fn);

/// `[2, 3]`, for messages.
std::string sizesStr(llvm::ArrayRef<int64_t> Sizes);

/// `Dims[Begin, End)` as a shape value.
std::vector<Dim> dimRange(llvm::ArrayRef<Dim> Dims, size_t Begin, size_t End);

/// Sets result I's shape value when its type may carry one.
void setShapeValueIfSmall(InferContext &Ctx, unsigned I, const TensorType &Type,
                          std::vector<Dim> Value);

/// Forwards operand 0's shape value to result 0 (ops that only relabel the
/// shape of a small 1-D value: Identity, Reshape, Squeeze, Unsqueeze).
void forwardShapeValue(InferContext &Ctx, const TensorType &Result);

/// How many entries operand I (a 1-D shape-like operand) has, when its type
/// says and the number is small enough to be a rank; nullopt otherwise.
std::optional<int64_t> staticLength(const InferContext &Ctx, unsigned I);

/// An error unless operand I is a 1-D integer tensor.
llvm::Error requireIntegerVector(const InferContext &Ctx, unsigned I,
                                 llvm::StringRef What);

} // namespace kiln

#endif
