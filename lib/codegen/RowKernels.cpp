//===- RowKernels.cpp - lowering rules for Rotary and Glu -----------------===//
//
// Rotary and Glu (ir/ops/HalvesOps.h), one launch each of a template in
// kernels/templates (rotary.cuh, glu.cuh). Both are bound by memory: each
// thread moves Vec elements of each half of a row, grid-stride over the
// rows; the grid covers every item once up to 32 blocks per SM.
//
// The access width Vec computed here mirrors the templates' (widest_vec in
// common.cuh); change both together.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelLibrary.h"
#include "ir/Error.h"
#include "ir/ops/HalvesOps.h"
#include "ir/ops/OpUtils.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace kiln {
namespace {

constexpr int64_t BlockThreads = 256;
constexpr int64_t MaxLeadDims = 5;

llvm::Error nodeError(const Node &N, const llvm::Twine &Cause) {
  return makeError(N.describe() + ": " + Cause);
}

llvm::Error checkStorage(const Node &N, const Value *V, llvm::StringRef What) {
  DType T = V->dtype();
  if (T == DType::F32 || T == DType::F16 || T == DType::BF16)
    return llvm::Error::success();
  return nodeError(N, "unsupported dtype " + dtypeName(T) + " for " + What +
                          " (the kernel stores f32, f16 or bf16)");
}

llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V) {
  if (!V->type().isStatic())
    return nodeError(N, "needs static shapes, got " + V->type().str());
  return V->type().staticSizes();
}

/// common.cuh's widest_vec: elements per access of a row of `Width`.
int64_t widestVec(int64_t Width, DType T) {
  int64_t Vec = 16 / int64_t(dtypeSize(T));
  while (Vec > 1 && Width % Vec)
    Vec /= 2;
  return Vec;
}

/// A grid-stride launch over `Items` items.
void setItemsLaunch(KernelLaunch &L, int64_t Items, const TargetInfo &Target) {
  int64_t Blocks =
      std::max<int64_t>(1, (Items + BlockThreads - 1) / BlockThreads);
  L.Grid[0] = uint32_t(std::min(Blocks, Target.SmCount * 32));
  L.Block[0] = uint32_t(BlockThreads);
}

//===----------------------------------------------------------------------===//
// Glu(x) {activation}
//===----------------------------------------------------------------------===//

llvm::Expected<NodeLowering> lowerGlu(const Node &N, const TargetInfo &Target) {
  const Value *X = N.operand(0), *Y = N.result();
  if (auto E = checkStorage(N, X, "x"))
    return std::move(E);
  if (X->dtype() != Y->dtype())
    return nodeError(N, "x and the result differ in dtype");
  auto Sizes = sizesOf(N, X);
  if (!Sizes)
    return Sizes.takeError();
  if (Sizes->empty() || Sizes->back() % 2)
    return nodeError(N, "x " + X->type().str() + " has no two halves");
  int64_t Half = Sizes->back() / 2;
  int64_t Rows = Half ? Y->type().staticNumElements() / Half : 0;
  std::string Act = N.getString("activation", "");
  int Code = Act == "gelu"        ? 0
             : Act == "gelu_tanh" ? 1
             : Act == "silu"      ? 2
                                  : -1;
  if (Code < 0)
    return nodeError(N, "unknown activation '" + Act + "'");
  NodeLowering Out;
  if (Rows == 0)
    return Out;
  KernelLaunch L;
  L.Module = "glu.cuh";
  L.NameExpr = llvm::formatv("kiln::glu<{0}, {1}, {2}>", Half,
                             cudaTypeName(X->dtype()), Code);
  setItemsLaunch(L, Rows * (Half / widestVec(Half, X->dtype())), Target);
  L.Args = {LaunchArg::operand(0), LaunchArg::result(0), LaunchArg::i64(Rows)};
  Out.Launches.push_back(std::move(L));
  return Out;
}

//===----------------------------------------------------------------------===//
// Rotary(x, cos, sin)
//===----------------------------------------------------------------------===//

llvm::Expected<NodeLowering> lowerRotary(const Node &N,
                                         const TargetInfo &Target) {
  const Value *X = N.operand(RX), *Cos = N.operand(RCos),
              *Sin = N.operand(RSin);
  if (auto E = checkStorage(N, X, "x"))
    return std::move(E);
  if (auto E = checkStorage(N, Cos, "cos and sin"))
    return std::move(E);
  if (Cos->dtype() != Sin->dtype())
    return nodeError(N, "cos and sin differ in dtype");
  auto Sizes = sizesOf(N, X);
  auto TableSizes = sizesOf(N, Cos);
  if (!Sizes)
    return Sizes.takeError();
  if (!TableSizes)
    return TableSizes.takeError();
  if (Sin->type() != Cos->type())
    return nodeError(N, "cos " + Cos->type().str() + " and sin " +
                            Sin->type().str() + " differ");
  if (Sizes->empty() || Sizes->back() % 2 || TableSizes->empty() ||
      TableSizes->back() != Sizes->back())
    return nodeError(N, "cos " + Cos->type().str() +
                            " does not span the last axis of x " +
                            X->type().str());
  std::vector<int64_t> Strides = broadcastStrides(*TableSizes, *Sizes);
  // The leading dims, those of size 1 dropped (they index nothing).
  std::vector<int64_t> Lead, LeadStrides;
  for (size_t I = 0; I + 1 < Sizes->size(); ++I)
    if ((*Sizes)[I] != 1) {
      Lead.push_back((*Sizes)[I]);
      LeadStrides.push_back(Strides[I]);
    }
  if (int64_t(Lead.size()) > MaxLeadDims)
    return nodeError(N, "unsupported: x " + X->type().str() + " has " +
                            llvm::Twine(Lead.size()) +
                            " leading dims (the kernel takes 5)");
  if (Lead.empty()) {
    Lead.push_back(1);
    LeadStrides.push_back(0);
  }
  int64_t D = Sizes->back(), Half = D / 2;
  int64_t Rows = D ? X->type().staticNumElements() / D : 0;
  NodeLowering Out;
  if (Rows == 0)
    return Out;
  int64_t Vec =
      std::min(widestVec(Half, X->dtype()), widestVec(Half, Cos->dtype()));
  KernelLaunch L;
  L.Module = "rotary.cuh";
  L.NameExpr = llvm::formatv("kiln::rotary<{0}, {1}, {2}, {3}>", D,
                             cudaTypeName(X->dtype()),
                             cudaTypeName(Cos->dtype()), Lead.size());
  setItemsLaunch(L, Rows * (Half / Vec), Target);
  L.Args = {LaunchArg::operand(RX), LaunchArg::operand(RCos),
            LaunchArg::operand(RSin), LaunchArg::result(0),
            LaunchArg::i64(Rows)};
  for (int64_t I = 0; I < MaxLeadDims; ++I)
    L.Args.push_back(LaunchArg::i64(I < int64_t(Lead.size()) ? Lead[I] : 1));
  for (int64_t I = 0; I < MaxLeadDims; ++I)
    L.Args.push_back(
        LaunchArg::i64(I < int64_t(LeadStrides.size()) ? LeadStrides[I] : 0));
  Out.Launches.push_back(std::move(L));
  return Out;
}

} // namespace

void registerRowKernels(KernelRegistry &R) {
  R.add("Glu", lowerGlu);
  R.add("Rotary", lowerRotary);
}

} // namespace kiln
