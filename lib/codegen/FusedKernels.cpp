//===- FusedKernels.cpp - lowering rules for kiln's fused ops -------------===//
//
// LayerNorm, SkipLayerNorm, EmbedLayerNorm, PoolNormalize and PackTokens,
// each one launch of a template in kernels/templates (layernorm.cuh,
// embed_layernorm.cuh, pool_normalize.cuh, pack_tokens.cuh). Attention's
// rule is in AttentionKernels.cpp; the helpers both files use are declared
// in FusedKernelsInternal.h.
//
// Packed tokens: PackTokens packs a [batch, seq] mask's tokens into [1,
// tokens] rows and makes spans ([batch, 2] i32: first token, count), which
// Attention and PoolNormalize read in their mask slot (MaskKind 3 of their
// templates), one sequence per span.
//
// Absent optional operands: every kernel has a `Has...` template parameter
// for each optional operand and still takes its pointer parameter, which the
// launch fills with a 64-bit 0 (LaunchArg::i64(0), the size of a pointer).
// The kernel never reads it, so the parameter list is the same for every
// instantiation of a kernel.
//
// The thread layouts computed here (rowShape, poolAccesses, attention tiles)
// mirror the constants at the top of each template; change both together.
//
//===----------------------------------------------------------------------===//
#include "codegen/FusedKernelsInternal.h"
#include "codegen/KernelLibrary.h"
#include "ir/Error.h"
#include "ir/ops/KilnOps.h"
#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <numeric>
#include <optional>

namespace kiln {
namespace fused {

llvm::Error nodeError(const Node &N, const llvm::Twine &Cause) {
  return makeError(N.describe() + ": " + Cause);
}

llvm::Expected<std::vector<int64_t>> sizesOf(const Node &N, const Value *V) {
  if (!V->type().isStatic())
    return nodeError(N, "needs static shapes, got " + V->type().str());
  return V->type().staticSizes();
}

int64_t product(llvm::ArrayRef<int64_t> Sizes) {
  return std::accumulate(Sizes.begin(), Sizes.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

llvm::Error checkStorage(const Node &N, const Value *V, llvm::StringRef What) {
  DType T = V->dtype();
  if (T == DType::F32 || T == DType::F16 || T == DType::BF16)
    return llvm::Error::success();
  return nodeError(N, "unsupported dtype " + dtypeName(T) + " for " + What +
                          " (the kernel stores f32, f16 or bf16)");
}

llvm::Expected<DType> commonDType(const Node &N,
                                  std::initializer_list<unsigned> Indices,
                                  llvm::StringRef What) {
  std::optional<DType> Common;
  for (unsigned I : Indices) {
    const Value *V = N.operand(I);
    if (!V)
      continue;
    if (auto E = checkStorage(N, V, What))
      return std::move(E);
    if (Common && *Common != V->dtype())
      return nodeError(N, "unsupported: " + What + " operands mix " +
                              dtypeName(*Common) + " and " +
                              dtypeName(V->dtype()));
    Common = V->dtype();
  }
  assert(Common && "at least one operand is required");
  return *Common;
}

std::string typeName(DType T) { return cudaTypeName(T).str(); }
std::string flag(bool B) { return B ? "true" : "false"; }

LaunchArg optionalOperand(const Node &N, unsigned I) {
  return N.operand(I) ? LaunchArg::operand(I) : LaunchArg::i64(0);
}

uint32_t ceilDiv(int64_t A, int64_t B) { return uint32_t((A + B - 1) / B); }

} // namespace fused

namespace {
using namespace fused;

/// common.cuh's widest_vec: elements per access of a row of `Width`.
int64_t widestVec(int64_t Width, DType T) {
  int64_t Vec = 16 / int64_t(dtypeSize(T));
  while (Vec > 1 && Width % Vec)
    Vec /= 2;
  return Vec;
}

/// layernorm.cuh's RowShape.
struct RowShape {
  int64_t Threads = 32, RowsPerBlock = 4;
};

llvm::Expected<RowShape> rowShape(const Node &N, int64_t Width, DType T) {
  int64_t Accesses = Width / widestVec(Width, T);
  if (Width < 1 || Accesses > 4096)
    return nodeError(N, "unsupported normalized width " + llvm::Twine(Width) +
                            " (at most 4096 accesses of 16 bytes)");
  RowShape S;
  S.Threads = Accesses <= 128    ? 32
              : Accesses <= 512  ? 128
              : Accesses <= 2048 ? 512
                                 : 1024;
  S.RowsPerBlock = S.Threads == 32 ? 4 : 1;
  return S;
}

void setRowLaunch(KernelLaunch &L, const RowShape &S, int64_t Rows) {
  L.Grid[0] = ceilDiv(Rows, S.RowsPerBlock);
  L.Block[0] = uint32_t(S.Threads * S.RowsPerBlock);
}

/// Rows of `Operand` when it repeats along the leading dims of `Out`
/// (its sizes, leading 1s dropped, are a suffix of Out's), as SkipLayerNorm's
/// `row % rows` indexing needs.
llvm::Expected<int64_t> repeatedRows(const Node &N, llvm::ArrayRef<int64_t> In,
                                     llvm::ArrayRef<int64_t> Out,
                                     llvm::StringRef What) {
  while (!In.empty() && In.front() == 1 && In.size() > 1)
    In = In.drop_front();
  if (In.size() > Out.size() || In != Out.take_back(In.size()) ||
      In.back() != Out.back())
    return nodeError(
        N, "unsupported broadcast of " + What + " [" +
               llvm::join(llvm::map_range(
                              In, [](int64_t V) { return std::to_string(V); }),
                          ", ") +
               "] to the result (only along leading dims)");
  return product(In) / Out.back();
}

//===----------------------------------------------------------------------===//
// LayerNorm(x, scale, bias?), SkipLayerNorm(x, skip, scale, bias?, extra?)
//===----------------------------------------------------------------------===//

/// LayerNorm(x, scale, bias?) over rows of `Width` of a tensor of
/// `Elements`: the launch LayerNorm and ONNX LayerNormalization share, with
/// their dtype checks; the scale is operand `Scale` and the bias the one
/// after it (SkipLayerNorm's are 2 and 3).
/// `Stats` of the node's results after the first receive each row's mean
/// and 1/stddev (fp32); a 1/stddev nobody asked for goes to scratch.
llvm::Expected<NodeLowering> layerNormRows(const Node &N, int64_t Width,
                                           int64_t Elements, unsigned Stats = 0,
                                           unsigned Scale = 1) {
  auto T = commonDType(N, {0}, "x");
  auto P = commonDType(N, {Scale, Scale + 1}, "scale and bias");
  if (!T)
    return T.takeError();
  if (!P)
    return P.takeError();
  int64_t Rows = Width ? Elements / Width : 0;
  auto Shape = rowShape(N, Width, *T);
  if (!Shape)
    return Shape.takeError();
  NodeLowering Out;
  if (Rows == 0)
    return Out;
  if (Stats == 1)
    Out.ScratchBytes.push_back(uint64_t(Rows) * sizeof(float));
  KernelLaunch L;
  L.Module = "layernorm.cuh";
  L.NameExpr = llvm::formatv("kiln::layernorm<{0}, {1}, {2}, {3}, {4}>", Width,
                             typeName(*T), typeName(*P),
                             flag(N.operand(Scale + 1)), flag(Stats > 0));
  setRowLaunch(L, *Shape, Rows);
  L.Args = {LaunchArg::operand(0),
            LaunchArg::operand(Scale),
            optionalOperand(N, Scale + 1),
            LaunchArg::result(0),
            Stats > 0 ? LaunchArg::result(1) : LaunchArg::i64(0),
            Stats > 1   ? LaunchArg::result(2)
            : Stats > 0 ? LaunchArg::scratch(0)
                        : LaunchArg::i64(0),
            LaunchArg::i64(Rows),
            LaunchArg::f32(N.getFloat("epsilon", 1e-5f))};
  Out.Launches.push_back(std::move(L));
  return Out;
}

llvm::Expected<NodeLowering> lowerLayerNorm(const Node &N, const TargetInfo &) {
  auto Sizes = sizesOf(N, N.result());
  if (!Sizes)
    return Sizes.takeError();
  return layerNormRows(N, Sizes->back(), product(*Sizes));
}

/// ONNX LayerNormalization normalizes over dims [axis, rank): over the
/// flattened trailing block that is a last-axis LayerNorm of the block's
/// width; the scale and bias hold the whole block. Mean and InvStdDev, when
/// the node has them, are written per row in fp32. -O2 turns the usual
/// axis = -1 form into LayerNorm; this serves the rest.
llvm::Expected<NodeLowering> lowerOnnxLayerNormalization(const Node &N,
                                                         const TargetInfo &) {
  // The statistics are computed in fp32 whatever the stash type asks.
  if (std::string Stash = N.getString("stash_type", "f32"); Stash != "f32")
    return makeError(N.describe() + ": unsupported on the GPU: stash_type " +
                     Stash + " (the kernel keeps its statistics in f32)");
  unsigned Stats = N.numResults() - 1;
  for (unsigned R = 1; R < N.numResults(); ++R)
    if (N.result(R)->dtype() != DType::F32)
      return makeError(N.describe() + ": unsupported on the GPU: result " +
                       llvm::Twine(R) + " is " +
                       dtypeName(N.result(R)->dtype()) +
                       " (the kernel writes Mean and InvStdDev in f32)");
  auto Sizes = sizesOf(N, N.operand(0));
  if (!Sizes)
    return Sizes.takeError();
  int64_t Rank = int64_t(Sizes->size());
  int64_t Axis = N.getInt("axis", -1);
  if (Axis < 0)
    Axis += Rank;
  if (Axis < 0 || Axis >= Rank)
    return makeError(N.describe() + ": axis out of range");
  int64_t Width = 1;
  for (int64_t D = Axis; D < Rank; ++D)
    Width *= (*Sizes)[D];
  for (unsigned I : {1u, 2u})
    if (const Value *V = N.operand(I);
        V && V->type().staticNumElements() != Width)
      return makeError(N.describe() + ": unsupported on the GPU: operand " +
                       llvm::Twine(I) + " of type " + V->type().str() +
                       " does not hold the whole normalized block of " +
                       llvm::Twine(Width) + " elements");
  return layerNormRows(N, Width, product(*Sizes), Stats);
}

llvm::Expected<NodeLowering> lowerSkipLayerNorm(const Node &N,
                                                const TargetInfo &) {
  auto Sizes = sizesOf(N, N.result());
  auto XSizes = sizesOf(N, N.operand(0));
  auto SkipSizes = sizesOf(N, N.operand(1));
  if (!Sizes)
    return Sizes.takeError();
  if (!XSizes)
    return XSizes.takeError();
  if (!SkipSizes)
    return SkipSizes.takeError();
  auto T = commonDType(N, {0, 1}, "x and skip");
  auto P = commonDType(N, {2, 3, 4}, "scale, bias and extra bias");
  if (!T)
    return T.takeError();
  if (!P)
    return P.takeError();
  int64_t Width = Sizes->back(), Rows = Width ? product(*Sizes) / Width : 0;
  auto Shape = rowShape(N, Width, *T);
  if (!Shape)
    return Shape.takeError();
  NodeLowering Out;
  if (Rows == 0)
    return Out;
  auto XRows = repeatedRows(N, *XSizes, *Sizes, "x");
  if (!XRows)
    return XRows.takeError();
  auto SkipRows = repeatedRows(N, *SkipSizes, *Sizes, "skip");
  if (!SkipRows)
    return SkipRows.takeError();
  KernelLaunch L;
  L.Module = "layernorm.cuh";
  L.NameExpr = llvm::formatv("kiln::skip_layernorm<{0}, {1}, {2}, {3}, {4}>",
                             Width, typeName(*T), typeName(*P),
                             flag(N.operand(3)), flag(N.operand(4)));
  setRowLaunch(L, *Shape, Rows);
  L.Args = {
      LaunchArg::operand(0),     LaunchArg::operand(1),
      LaunchArg::operand(2),     optionalOperand(N, 3),
      optionalOperand(N, 4),     LaunchArg::result(0),
      LaunchArg::i64(Rows),      LaunchArg::i64(*XRows),
      LaunchArg::i64(*SkipRows), LaunchArg::f32(N.getFloat("epsilon", 1e-5f))};
  Out.Launches.push_back(std::move(L));
  return Out;
}

} // namespace

llvm::Expected<NodeLowering> lowerSkipLayerNormAsLayerNorm(const Node &N) {
  auto Sizes = fused::sizesOf(N, N.result());
  if (!Sizes)
    return Sizes.takeError();
  return layerNormRows(N, Sizes->back(), fused::product(*Sizes), 0,
                       /*Scale=*/2);
}

namespace {

//===----------------------------------------------------------------------===//
// EmbedLayerNorm(ids, position_ids?, token_type_ids?, word, pos, type?,
//                scale, bias)
//===----------------------------------------------------------------------===//

/// Strides that read an id tensor broadcast to [batch, seq].
llvm::Expected<std::vector<int64_t>>
idStrides(const Node &N, unsigned I, llvm::ArrayRef<int64_t> BatchSeq) {
  const Value *V = N.operand(I);
  if (!V)
    return std::vector<int64_t>{0, 0};
  if (!isInteger(V->dtype()))
    return nodeError(N, "operand " + llvm::Twine(I) +
                            " must hold integers, got " + V->type().str());
  auto Sizes = sizesOf(N, V);
  if (!Sizes)
    return Sizes.takeError();
  auto Full = broadcastSizes({*Sizes, BatchSeq.vec()});
  if (!Full || *Full != BatchSeq.vec()) {
    if (!Full)
      llvm::consumeError(Full.takeError());
    return nodeError(N, "operand " + llvm::Twine(I) + " " + V->type().str() +
                            " does not broadcast to the ids' shape");
  }
  return broadcastStrides(*Sizes, BatchSeq);
}

llvm::Expected<NodeLowering> lowerEmbedLayerNorm(const Node &N,
                                                 const TargetInfo &) {
  for (unsigned I : {EIds, EWord, EPos, EScale, EBias})
    if (!N.operand(I))
      return nodeError(N, "operand " + llvm::Twine(I) + " is required");
  auto Ids = sizesOf(N, N.operand(EIds));
  auto Word = sizesOf(N, N.operand(EWord));
  auto Pos = sizesOf(N, N.operand(EPos));
  if (!Ids)
    return Ids.takeError();
  if (!Word)
    return Word.takeError();
  if (!Pos)
    return Pos.takeError();
  if (!isInteger(N.operand(EIds)->dtype()) || Ids->size() != 2)
    return nodeError(N, "ids must be an integer [batch, seq] tensor, got " +
                            N.operand(EIds)->type().str());
  auto T = commonDType(N, {EWord, EPos, EType}, "embedding tables");
  auto P = commonDType(N, {EScale, EBias}, "scale and bias");
  if (!T)
    return T.takeError();
  if (!P)
    return P.takeError();
  int64_t Width = (*Word)[1];
  int64_t TypeRows = 0;
  if (const Value *Type = N.operand(EType)) {
    auto TypeSizes = sizesOf(N, Type);
    if (!TypeSizes)
      return TypeSizes.takeError();
    if ((*TypeSizes)[1] != Width || (*TypeSizes)[0] < 1)
      return nodeError(N, "the token type table " + Type->type().str() +
                              " does not match the word table's width");
    TypeRows = (*TypeSizes)[0];
  }
  if ((*Pos)[1] != Width || (*Word)[0] < 1 || (*Pos)[0] < 1)
    return nodeError(N, "the position table " + N.operand(EPos)->type().str() +
                            " does not match the word table's width, or a "
                            "table is empty");
  auto PosStrides = idStrides(N, EPositionIds, *Ids);
  if (!PosStrides)
    return PosStrides.takeError();
  auto TypeStrides = idStrides(N, ETokenTypeIds, *Ids);
  if (!TypeStrides)
    return TypeStrides.takeError();
  if (N.operand(ETokenTypeIds) && !N.operand(EType))
    return nodeError(N, "token type ids given without a type embedding");
  auto Shape = rowShape(N, Width, *T);
  if (!Shape)
    return Shape.takeError();
  int64_t Rows = (*Ids)[0] * (*Ids)[1];
  NodeLowering Out;
  if (Rows == 0)
    return Out;

  auto IdType = [&](unsigned I) {
    return N.operand(I) ? typeName(N.operand(I)->dtype()) : "int64_t";
  };
  KernelLaunch L;
  L.Module = "embed_layernorm.cuh";
  L.NameExpr = llvm::formatv(
      "kiln::embed_layernorm<{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}>",
      Width, typeName(*T), typeName(*P), IdType(EIds), IdType(EPositionIds),
      IdType(ETokenTypeIds), flag(N.operand(EPositionIds)),
      flag(N.operand(EType)), flag(N.operand(ETokenTypeIds)));
  setRowLaunch(L, *Shape, Rows);
  L.Args = {LaunchArg::operand(EIds),
            optionalOperand(N, EPositionIds),
            optionalOperand(N, ETokenTypeIds),
            LaunchArg::operand(EWord),
            LaunchArg::operand(EPos),
            optionalOperand(N, EType),
            LaunchArg::operand(EScale),
            LaunchArg::operand(EBias),
            LaunchArg::result(0),
            LaunchArg::i64(Rows),
            LaunchArg::i64((*Ids)[1]),
            LaunchArg::i64((*Word)[0]),
            LaunchArg::i64((*Pos)[0]),
            LaunchArg::i64(TypeRows),
            LaunchArg::i64((*PosStrides)[0]),
            LaunchArg::i64((*PosStrides)[1]),
            LaunchArg::i64((*TypeStrides)[0]),
            LaunchArg::i64((*TypeStrides)[1]),
            LaunchArg::f32(N.getFloat("epsilon", 1e-5f)),
            LaunchArg::indexFault(),
            LaunchArg::indexCheck("word"),
            LaunchArg::indexCheck("position"),
            LaunchArg::indexCheck("token type")};
  Out.Launches.push_back(std::move(L));
  return Out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Spans ([sequences, 2] i32: first token, count), made by PackTokens
//===----------------------------------------------------------------------===//

namespace fused {

llvm::Expected<int64_t> spanCount(const Node &N, unsigned I) {
  const Value *Spans = N.operand(I);
  auto Sizes = sizesOf(N, Spans);
  if (!Sizes)
    return Sizes.takeError();
  if (Spans->dtype() != DType::I32 || Sizes->size() != 2 || (*Sizes)[1] != 2)
    return nodeError(N, "spans must be [sequences, 2] i32, got " +
                            Spans->type().str());
  return (*Sizes)[0];
}

int64_t longestSpan(const Value *Spans, int64_t Tokens) {
  const Node *Def = Spans->definingNode();
  if (!Def || Def->opName() != "PackTokens" || Spans->resultIndex() != 0)
    return Tokens;
  const Value *Mask = Def->operand(PackMask);
  if (!Mask || Mask->rank() != 2 || !Mask->type().Dims[1].isStatic())
    return Tokens;
  return std::min(Tokens, Mask->type().Dims[1].value());
}

} // namespace fused

namespace {

//===----------------------------------------------------------------------===//
// PoolNormalize(h, mask?, spans?) {mode, normalize, min_count, epsilon}
//===----------------------------------------------------------------------===//

llvm::Expected<NodeLowering> lowerPoolNormalize(const Node &N,
                                                const TargetInfo &Target) {
  auto Sizes = sizesOf(N, N.operand(0));
  if (!Sizes)
    return Sizes.takeError();
  if (Sizes->size() != 3)
    return nodeError(N, "input must be [batch, seq, hidden], got " +
                            N.operand(0)->type().str());
  auto T = commonDType(N, {0}, "the input");
  if (!T)
    return T.takeError();
  int64_t Batch = (*Sizes)[0], Seq = (*Sizes)[1], Width = (*Sizes)[2];
  std::string Mode = N.getString("mode", "");
  if (Mode != "mean" && Mode != "cls")
    return nodeError(N, "mode must be \"mean\" or \"cls\"");
  bool Mean = Mode == "mean";
  const Value *Mask = N.operand(PMask);
  // With spans, h is [1, tokens, hidden] and each span is one sequence.
  const Value *Spans = N.operand(PSpans);
  int64_t Sequences = Batch;
  if (Spans) {
    if (Mask)
      return nodeError(N, "packed tokens (spans) take no mask");
    if (Batch != 1)
      return nodeError(N, "packed input must be [1, tokens, hidden], got " +
                              N.operand(0)->type().str());
    auto Count = spanCount(N, PSpans);
    if (!Count)
      return Count.takeError();
    Sequences = *Count;
  }
  if (Mask && Mean) {
    auto MaskSizes = sizesOf(N, Mask);
    if (!MaskSizes)
      return MaskSizes.takeError();
    if (*MaskSizes != std::vector<int64_t>{Batch, Seq})
      return nodeError(N, "mask " + Mask->type().str() + " must be [" +
                              llvm::Twine(Batch) + ", " + llvm::Twine(Seq) +
                              "]");
  }
  if (!Mean && Seq == 0 && !Spans)
    return nodeError(N, "cls pooling of an empty sequence");
  // pool_normalize.cuh's PoolShape: at most 8 accesses per thread.
  if (Width < 1 || Width / widestVec(Width, *T) > 8 * 256)
    return nodeError(N, "unsupported hidden size " + llvm::Twine(Width) +
                            " (at most 2048 accesses of 16 bytes)");
  NodeLowering Out;
  if (Sequences == 0)
    return Out;
  if (Sequences > INT32_MAX)
    return nodeError(N, "unsupported: more than 2^31 - 1 sequences");
  bool HasMask = Mask && Mean;
  // pool_normalize.cuh's MaskKind: 0 none, 1 the mask, 3 spans.
  int MaskKind = Spans ? 3 : HasMask ? 1 : 0;
  // The result's storage, which may differ from the input's (an f32
  // embedding from f16 hidden states).
  DType OutType = N.result(0)->dtype();
  if (OutType != DType::F32 && OutType != DType::F16 && OutType != DType::BF16)
    return nodeError(N, "unsupported result type " + N.result(0)->type().str());
  // Fewer sequences than SMs: 1024 threads a sequence, whose 4x the token
  // groups read a quarter of the tokens each one after another (at 1 x 128
  // in f16, 6 where 256 threads read 26).
  uint32_t Threads = Sequences < Target.SmCount ? 1024 : 256;
  // The template's defaulted last arguments (O = T, Threads = 256), named
  // from the first that differs on.
  std::string Defaulted;
  if (Threads != 256)
    Defaulted = ", " + typeName(OutType) + ", " + std::to_string(Threads);
  else if (OutType != *T)
    Defaulted = ", " + typeName(OutType);
  KernelLaunch L;
  L.Module = "pool_normalize.cuh";
  L.NameExpr = llvm::formatv(
      "kiln::pool_normalize<{0}, {1}, {2}, {3}, {4}, {5}{6}>", Width,
      typeName(*T),
      Spans     ? "int32_t"
      : HasMask ? typeName(Mask->dtype())
                : "float",
      MaskKind, flag(Mean), flag(N.getInt("normalize", 1) != 0), Defaulted);
  L.Grid[0] = uint32_t(Sequences);
  L.Block[0] = Threads;
  L.Args = {LaunchArg::operand(0),
            Spans     ? LaunchArg::operand(PSpans)
            : HasMask ? LaunchArg::operand(PMask)
                      : LaunchArg::i64(0),
            LaunchArg::result(0),
            LaunchArg::i64(Seq),
            LaunchArg::f32(N.getFloat("min_count", 1e-9f)),
            LaunchArg::f32(N.getFloat("epsilon", 1e-12f))};
  Out.Launches.push_back(std::move(L));
  return Out;
}

//===----------------------------------------------------------------------===//
// PackTokens(mask, x1, ..., xn) {positions}
//===----------------------------------------------------------------------===//

/// pack_tokens.cuh's PackShape.
constexpr int64_t PackThreads = 1024, PackMaxValues = 4, PackGatherWarps = 8;

llvm::Expected<NodeLowering> lowerPackTokens(const Node &N,
                                             const TargetInfo &) {
  auto MaskSizes = sizesOf(N, N.operand(PackMask));
  if (!MaskSizes)
    return MaskSizes.takeError();
  if (MaskSizes->size() != 2)
    return nodeError(N, "mask must be [batch, seq], got " +
                            N.operand(PackMask)->type().str());
  int64_t Batch = (*MaskSizes)[0], Seq = (*MaskSizes)[1];
  int64_t Values = int64_t(N.numOperands()) - PackFirstValue;
  if (Values > PackMaxValues)
    return nodeError(N, "unsupported: " + llvm::Twine(Values) +
                            " packed values (the kernel packs at most " +
                            llvm::Twine(PackMaxValues) + ")");
  bool Positions = N.getInt("positions", 0) != 0;
  if (N.numResults() != unsigned(1 + Values + (Positions ? 1 : 0)))
    return nodeError(N, "expected a result for the spans, each packed value" +
                            llvm::Twine(Positions ? " and the positions" : ""));
  // The packed results' token count; with none, the spans alone are made
  // and no span can be longer than the whole mask.
  int64_t Tokens = Batch * Seq;
  for (unsigned R = 1; R < N.numResults(); ++R) {
    auto Sizes = sizesOf(N, N.result(R));
    if (!Sizes)
      return Sizes.takeError();
    if (Sizes->size() != 2 || (*Sizes)[0] != 1 ||
        (R > 1 && (*Sizes)[1] != Tokens))
      return nodeError(N, "packed results must all be [1, tokens], got " +
                              N.result(R)->type().str());
    Tokens = (*Sizes)[1];
  }
  if (Tokens > INT32_MAX || Batch * Seq > (int64_t(1) << 40))
    return nodeError(N, "unsupported size: at most 2^31 - 1 tokens");
  NodeLowering Out;
  if (Batch == 0)
    return Out;
  std::string Types;
  for (int64_t I = 0; I < PackMaxValues; ++I)
    Types +=
        ", " + (I < Values
                    ? typeName(N.operand(unsigned(PackFirstValue + I))->dtype())
                    : std::string("float"));
  // The spans (one CTA scans the rows' counts), then the values (a warp a
  // row) at the slots they give.
  KernelLaunch Spans;
  Spans.Module = "pack_tokens.cuh";
  Spans.NameExpr = llvm::formatv("kiln::pack_spans<{0}>",
                                 typeName(N.operand(PackMask)->dtype()));
  Spans.Block[0] = uint32_t(PackThreads);
  Spans.Args = {LaunchArg::operand(PackMask), LaunchArg::result(0),
                LaunchArg::i64(Batch), LaunchArg::i64(Seq),
                LaunchArg::i64(Tokens)};
  Out.Launches.push_back(std::move(Spans));
  KernelLaunch L;
  L.Module = "pack_tokens.cuh";
  L.NameExpr = llvm::formatv("kiln::pack_tokens<{0}{1}, {2}, {3}>",
                             typeName(N.operand(PackMask)->dtype()), Types,
                             Values, flag(Positions));
  L.Grid[0] = uint32_t(ceilDiv(Batch, PackGatherWarps));
  L.Block[0] = uint32_t(32 * PackGatherWarps);
  L.Args = {LaunchArg::operand(PackMask), LaunchArg::result(0)};
  for (int64_t I = 0; I < PackMaxValues; ++I) {
    bool Used = I < Values;
    L.Args.push_back(Used ? LaunchArg::operand(unsigned(PackFirstValue + I))
                          : LaunchArg::i64(0));
    L.Args.push_back(Used ? LaunchArg::result(unsigned(1 + I))
                          : LaunchArg::i64(0));
  }
  L.Args.push_back(Positions ? LaunchArg::result(unsigned(1 + Values))
                             : LaunchArg::i64(0));
  L.Args.push_back(LaunchArg::i64(Batch));
  L.Args.push_back(LaunchArg::i64(Seq));
  L.Args.push_back(LaunchArg::i64(Tokens));
  Out.Launches.push_back(std::move(L));
  return Out;
}

} // namespace

void registerFusedKernels(KernelRegistry &R) {
  R.add("EmbedLayerNorm", lowerEmbedLayerNorm);
  R.add("LayerNorm", lowerLayerNorm);
  R.add("LayerNormalization", lowerOnnxLayerNormalization);
  R.add("PackTokens", lowerPackTokens);
  R.add("PoolNormalize", lowerPoolNormalize);
  R.add("SkipLayerNorm", lowerSkipLayerNorm);
}

} // namespace kiln
