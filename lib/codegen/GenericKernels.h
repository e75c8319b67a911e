//===- GenericKernels.h - what the generic kernel families share -*- C++ -*-===//
//
// The helpers of the generic lowering rules, one file per template family:
//
//   CopyKernels.cpp     copy.cuh     Transpose Slice Expand Tile Concat Split
//                                    Pad Dropout ConstantOfShape Shape Size
//                                    Range Trilu EyeLike
//   GatherKernels.cpp   gather.cuh   Gather GatherElements GatherND ScatterND,
//                                    ExpandGatherElements, and NonZero once
//                                    its count is known
//   ReduceKernels.cpp   reduce.cuh   ReduceX ArgMax ArgMin CumSum, and the
//                                    MatMuls cuBLASLt does not take
//   SoftmaxKernels.cpp  softmax.cuh  Softmax LogSoftmax
//
// GenericKernels.cpp registers them with the elementwise ops and defines
// the helpers that return errors.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_GENERICKERNELS_H
#define KILN_CODEGEN_GENERICKERNELS_H

#include "codegen/KernelLibrary.h"
#include "ir/Error.h"
#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringExtras.h"

#include <array>
#include <numeric>
#include <optional>

namespace kiln::generic {

/// Threads per block of every generic kernel.
inline constexpr int64_t Threads = 256;

inline std::string lit(int64_t V) { return std::to_string(V) + "LL"; }
inline std::string flag(bool B) { return B ? "true" : "false"; }

/// The type moving an element of `T` as bytes.
inline std::string storageType(DType T) {
  switch (dtypeSize(T)) {
  case 1: return "uint8_t";
  case 2: return "unsigned short";
  case 4: return "uint32_t";
  default: return "uint64_t";
  }
}

/// The type of an element of `T` in arithmetic kernels.
inline std::string elementType(DType T) {
  return T == DType::Bool ? "bool" : cudaTypeName(T).str();
}

/// The type the reference computes `T` in: float, double or long long.
inline std::string computeType(DType T) {
  if (T == DType::F64)
    return "double";
  return isFloat(T) ? "float" : "long long";
}

inline std::string instance(llvm::StringRef Name,
                            llvm::ArrayRef<std::string> Args) {
  return "kiln::" + Name.str() + "<" + llvm::join(Args, ", ") + ">";
}

/// A launch of `Count` threads in blocks of Threads.
inline KernelLaunch launch(llvm::StringRef Module, std::string NameExpr,
                           int64_t Count, std::vector<LaunchArg> Args) {
  KernelLaunch L;
  L.Module = Module.str();
  L.NameExpr = std::move(NameExpr);
  L.Grid[0] = uint32_t((Count + Threads - 1) / Threads);
  L.Block[0] = uint32_t(Threads);
  L.Args = std::move(Args);
  return L;
}

inline NodeLowering single(std::optional<KernelLaunch> L) {
  NodeLowering NL;
  if (L)
    NL.Launches.push_back(std::move(*L));
  return NL;
}

llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V);

/// The contents of integer operand I, which must be a constant.
llvm::Expected<std::vector<int64_t>> constantInts(const Node &N, unsigned I,
                                                  llvm::StringRef What);

/// Operand I's constant contents when present, nullopt when absent.
llvm::Expected<std::optional<std::vector<int64_t>>>
optionalInts(const Node &N, unsigned I, llvm::StringRef What);

llvm::Expected<int64_t> axisOf(const Node &N, int64_t Axis, int64_t Rank);

inline int64_t product(llvm::ArrayRef<int64_t> Sizes) {
  return std::accumulate(Sizes.begin(), Sizes.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

struct CopyDim {
  int64_t Size, InStride, OutStride;
};

/// strided_copy over `Dims` (outermost first) after dropping dims of 1 and
/// merging neighbours both sides walk contiguously; nullopt when nothing is
/// copied.
std::optional<KernelLaunch> copyLaunch(DType T, llvm::ArrayRef<CopyDim> Dims,
                                       int64_t InOffset, int64_t OutOffset,
                                       LaunchArg In, LaunchArg Out);
/// Reading `In` (sizes `InSizes`) at `InStrides` into a contiguous result of
/// `OutSizes`.
std::optional<KernelLaunch> gatherCopy(DType T,
                                       llvm::ArrayRef<int64_t> OutSizes,
                                       llvm::ArrayRef<int64_t> InStrides,
                                       int64_t InOffset, LaunchArg In,
                                       LaunchArg Out);

/// Sizes as [Outer, N, Inner] around `Axis`.
inline std::array<int64_t, 3> aroundAxis(llvm::ArrayRef<int64_t> Sizes,
                                         int64_t Axis) {
  return {product(Sizes.take_front(Axis)), Sizes[Axis],
          product(Sizes.drop_front(Axis + 1))};
}

void registerCopyKernels(KernelRegistry &R);
void registerGatherKernels(KernelRegistry &R);
void registerReduceKernels(KernelRegistry &R);
void registerSoftmaxKernels(KernelRegistry &R);

} // namespace kiln::generic

#endif
