//===- AttentionKernels.cpp - the lowering rule of Attention --------------===//
//
// Attention(q, k?, v?, mask?, spans?) {num_heads, scale} as one launch of
// attention.cuh: the tensor-core kernel (attention_mma), its tiling chosen
// by the grid's size or TargetInfo's Attention* fields, where it applies,
// else attention_simt. Packed tokens read spans in the mask slot (MaskKind
// 3). The tiles computed here mirror the constants at the top of
// attention.cuh; change both together.
//
//===----------------------------------------------------------------------===//
#include "codegen/FusedKernelsInternal.h"
#include "codegen/KernelLibrary.h"
#include "ir/Error.h"
#include "ir/ops/KilnOps.h"
#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <optional>

namespace kiln {
namespace {
using namespace fused;

/// attention.cuh's ShortKeys: the most keys a sequence attention_short takes.
constexpr int64_t ShortKeys = 128;

llvm::Expected<NodeLowering> lowerAttention(const Node &N,
                                            const TargetInfo &Target) {
  auto QSizes = sizesOf(N, N.operand(0));
  if (!QSizes)
    return QSizes.takeError();
  if (QSizes->size() != 3)
    return nodeError(N, "q must be [batch, seq, hidden], got " +
                            N.operand(0)->type().str());
  bool Packed = !N.operand(1);
  if (Packed != !N.operand(2))
    return nodeError(N, "k and v are both given or both absent (packed)");
  auto T = commonDType(N, {0, 1, 2}, "q, k and v");
  if (!T)
    return T.takeError();
  int64_t Batch = (*QSizes)[0], SeqQ = (*QSizes)[1];
  int64_t Hidden = Packed ? (*QSizes)[2] / 3 : (*QSizes)[2];
  int64_t Heads = N.getInt("num_heads", 0);
  if (Heads <= 0 || Hidden % Heads || (Packed && (*QSizes)[2] % 3))
    return nodeError(N, "hidden size " + llvm::Twine(Hidden) +
                            " does not split into " + llvm::Twine(Heads) +
                            " heads");
  int64_t HeadDim = Hidden / Heads, SeqK = SeqQ;
  // With spans, q, k and v are [1, tokens, ...]; each span is a sequence of
  // at most `Longest` tokens, one grid.z slice of CTAs.
  const Value *Spans = N.operand(ASpans);
  int64_t Sequences = Batch, Longest = SeqQ;
  if (Spans) {
    if (N.operand(AMask))
      return nodeError(N, "packed tokens (spans) take no additive mask");
    if (Batch != 1)
      return nodeError(N, "packed q must be [1, tokens, hidden], got " +
                              N.operand(0)->type().str());
    auto Count = spanCount(N, ASpans);
    if (!Count)
      return Count.takeError();
    Sequences = *Count;
    Longest = longestSpan(Spans, SeqQ);
  }
  if (!Packed) {
    auto KSizes = sizesOf(N, N.operand(1));
    auto VSizes = sizesOf(N, N.operand(2));
    if (!KSizes)
      return KSizes.takeError();
    if (!VSizes)
      return VSizes.takeError();
    if (KSizes->size() != 3 || *KSizes != *VSizes || (*KSizes)[0] != Batch ||
        (*KSizes)[2] != Hidden)
      return nodeError(N, "unsupported k " + N.operand(1)->type().str() +
                              " and v " + N.operand(2)->type().str() +
                              " for q " + N.operand(0)->type().str() +
                              " (both must be [batch, seq_k, hidden])");
    SeqK = (*KSizes)[1];
    if (Spans && SeqK != SeqQ)
      return nodeError(N, "packed k and v must have q's tokens, got k " +
                              N.operand(1)->type().str());
  }
  if (SeqQ > INT32_MAX || SeqK > INT32_MAX || Heads > 65535 ||
      Sequences > 65535)
    return nodeError(N, "unsupported size: batch and heads at most 65535");

  std::vector<int64_t> MaskStrides = {0, 0, 0, 0};
  const Value *Mask = N.operand(3);
  if (Mask) {
    auto MaskSizes = sizesOf(N, Mask);
    if (!MaskSizes)
      return MaskSizes.takeError();
    std::vector<int64_t> Full = {Batch, Heads, SeqQ, SeqK};
    auto Broadcast = broadcastSizes({*MaskSizes, Full});
    if (!Broadcast || *Broadcast != Full) {
      if (!Broadcast)
        llvm::consumeError(Broadcast.takeError());
      return nodeError(N, "mask " + Mask->type().str() +
                              " does not broadcast to the scores [" +
                              llvm::Twine(Batch) + ", " + llvm::Twine(Heads) +
                              ", " + llvm::Twine(SeqQ) + ", " +
                              llvm::Twine(SeqK) + "]");
    }
    MaskStrides = broadcastStrides(*MaskSizes, Full);
  }
  std::string MaskType = Spans  ? "int32_t"
                         : Mask ? typeName(Mask->dtype())
                                : "float";
  // attention.cuh's MaskKind.
  int MaskKind = Spans ? 3 : !Mask ? 0 : MaskStrides[2] == 0 ? 1 : 2;

  bool TensorCores = (*T == DType::F16 || *T == DType::BF16) &&
                     HeadDim % 16 == 0 && HeadDim <= 128 &&
                     archNumber(Target.Arch) >= 80;
  if (!TensorCores && HeadDim > 128)
    return nodeError(N, "unsupported head_dim " + llvm::Twine(HeadDim) +
                            " (at most 128)");

  NodeLowering Out;
  if (Sequences == 0 || Longest == 0)
    return Out;
  KernelLaunch L;
  L.Module = "attention.cuh";
  if (TensorCores) {
    // Grids this large fill the GPU (132 SMs on an H100) twice over with
    // 128-query CTAs, so the 8-warp kernel's halved K/V traffic costs no
    // parallelism.
    int64_t BigGridCtas = 2 * Target.SmCount;
    int Warps = Longest >= 128 &&
                        Sequences * Heads * ceilDiv(Longest, 128) >= BigGridCtas
                    ? 8
                    : 4;
    int RowTiles = 1;
    std::string Tiling; // MmaShape's last arguments when not the default
    bool Named = Target.AttentionRowTiles || Target.AttentionKeyTile ||
                 Target.AttentionWarps || Target.AttentionMinBlocks;
    // A grid of at most one 4-warp CTA an SM (MiniLM at 1 x 128: 24) has
    // no neighbours to hide a CTA's latency: there, every key of a short
    // head in one 128-key tile (one max, no rescaling) without the register
    // cap was faster (H200, 1 x 128: 0.0064 -> 0.0056 ms a layer, the
    // forward 0.153 -> 0.148; H100, the forward 0.155 -> 0.148;
    // docs/benchmarks.md, run 15).
    bool SmallGrid = !Named && HeadDim <= 32 &&
                     Sequences * Heads * ceilDiv(Longest, 64) <= Target.SmCount;
    if (SmallGrid) {
      Warps = 4;
      Tiling = ", 1, 128, 2";
    }
    // attention_short: every key of a short sequence in shared memory with
    // the CTA's queries, loaded in one batch (docs/runtime.md, Attention).
    int64_t KeysASequence = Spans ? Longest : SeqK;
    bool Short = Target.AttentionShort != TargetInfo::Switch::Off &&
                 (HeadDim == 16 || HeadDim == 32) &&
                 KeysASequence <= ShortKeys &&
                 (Target.AttentionShort == TargetInfo::Switch::On ||
                  (!Named && !SmallGrid));
    if (Short) {
      // 80 registers, as attention_mma's cap; on the small grid none, as its
      // 128-key tile.
      int MinBlocks = SmallGrid ? 1 : 24 / Warps;
      bool TwoBatches = false;
      if (Named) {
        // Keys a tile 64: the keys arrive in two cp.async batches of 64.
        if (Target.AttentionRowTiles > 1 ||
            (Target.AttentionKeyTile && Target.AttentionKeyTile != 64))
          return nodeError(N, "unsupported attention tiling for the short "
                              "kernel: it takes warps, CTAs an SM and 64 "
                              "keys a batch only");
        if (Target.AttentionWarps)
          Warps = Target.AttentionWarps;
        TwoBatches = Target.AttentionKeyTile == 64;
        if ((Warps != 1 && Warps != 2 && Warps != 4 && Warps != 8) ||
            (TwoBatches && HeadDim == 16 && Warps == 8))
          return nodeError(N, "unsupported attention tiling for the short "
                              "kernel: " +
                                  llvm::Twine(Warps) + " warps");
        MinBlocks = Target.AttentionMinBlocks ? Target.AttentionMinBlocks
                                              : std::max(1, 24 / Warps);
      }
      L.NameExpr = llvm::formatv(
          "kiln::attention_short<{0}, {1}, {2}, {3}, {4}, {5}{6}>", HeadDim,
          Warps, MinBlocks, typeName(*T), MaskType, MaskKind,
          TwoBatches ? ", true" : "");
      L.Grid[0] = ceilDiv(Longest, 16 * Warps);
      L.Block[0] = uint32_t(32 * Warps);
    } else if (Named) {
      RowTiles = Target.AttentionRowTiles ? Target.AttentionRowTiles : 1;
      if (Target.AttentionWarps)
        Warps = Target.AttentionWarps;
      int KeyTile = Target.AttentionKeyTile;
      int BK = KeyTile ? KeyTile : HeadDim <= 64 ? 64 : 32;
      if (RowTiles < 1 || RowTiles > 2 || Warps < 1 || Warps > 16 ||
          KeyTile < 0 || KeyTile % 16 || KeyTile > 128 ||
          Target.AttentionMinBlocks < 0 ||
          4 * BK * (HeadDim + 8) * 2 > 48 * 1024 || // K, V: two stages
          (MaskKind == 1 && BK > 32 * Warps))
        return nodeError(
            N, "unsupported attention tiling: " + llvm::Twine(RowTiles) +
                   " row tiles, " + llvm::Twine(KeyTile) + " keys, " +
                   llvm::Twine(Warps) + " warps");
      Tiling = llvm::formatv(", {0}, {1}, {2}", RowTiles, KeyTile,
                             Target.AttentionMinBlocks);
    }
    if (!Short) {
      L.NameExpr = llvm::formatv(
          "kiln::attention_mma<{0}, {1}, {2}, {3}, {4}{5}>", HeadDim, Warps,
          typeName(*T), MaskType, MaskKind, Tiling);
      L.Grid[0] = ceilDiv(Longest, 16 * RowTiles * Warps);
      L.Block[0] = uint32_t(32 * Warps);
    }
  } else {
    // attention_simt reads any mask per element (no kind 1).
    L.NameExpr =
        llvm::formatv("kiln::attention_simt<{0}, {1}, {2}, {3}>", HeadDim,
                      typeName(*T), MaskType, MaskKind == 1 ? 2 : MaskKind);
    L.Grid[0] = ceilDiv(Longest, 16);
    L.Block[0] = 128;
  }
  L.Grid[1] = uint32_t(Heads);
  L.Grid[2] = uint32_t(Sequences);
  int64_t QStride = (*QSizes)[2];
  L.Args = {LaunchArg::operand(0),
            LaunchArg::operand(Packed ? 0 : 1),
            LaunchArg::operand(Packed ? 0 : 2),
            Spans ? LaunchArg::operand(ASpans) : optionalOperand(N, AMask),
            LaunchArg::result(0),
            LaunchArg::i32(SeqQ),
            LaunchArg::i32(SeqK),
            LaunchArg::i32(Heads),
            LaunchArg::i64(QStride),
            LaunchArg::i64(Packed ? QStride : Hidden),
            LaunchArg::i64(Packed ? QStride : Hidden),
            LaunchArg::i64(Packed ? Hidden : 0),
            LaunchArg::i64(Packed ? 2 * Hidden : 0),
            LaunchArg::i64(MaskStrides[0]),
            LaunchArg::i64(MaskStrides[1]),
            LaunchArg::i64(MaskStrides[2]),
            LaunchArg::i64(MaskStrides[3]),
            LaunchArg::f32(N.getFloat("scale", 1.0f))};
  Out.Launches.push_back(std::move(L));
  return Out;
}
} // namespace

void registerAttentionKernels(KernelRegistry &R) {
  R.add("Attention", lowerAttention);
}

} // namespace kiln
