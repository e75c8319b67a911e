//===- KilnOps.cpp - kiln's fused ops ---------------------------*- C++ -*-===//
//
// The ops that fusion passes introduce. Each is one kernel on the GPU; here
// each has its verifier, type inference and an fp32 reference
// implementation, so every fusion is checked against the unfused graph.
//
//   LayerNorm(x, scale, bias?)            LN over the last axis
//   SkipLayerNorm(x, skip, scale, bias?, extra_bias?)
//                                         LN(x + skip + extra_bias)
//   EmbedLayerNorm(ids, position_ids?, token_type_ids?, word, pos, type?,
//                  scale, bias)           LN(word[ids] + pos[p] + type[t]),
//                                         p = 0..seq-1 when absent,
//                                         t = 0 when absent
//   FusedGemm(a, b, bias?) {activation, trans_b}
//                                         act(a @ b + bias)
//   Attention(q, k?, v?, mask?, spans?) {num_heads, scale}
//                                         softmax(q k^T * scale + mask) v per
//                                         head (0 for a row masked with -inf
//                                         throughout); q, k, v are [B, S, H*D]; when
//                                         k and v are absent q is packed
//                                         [B, S, 3*H*D] (q | k | v). With
//                                         spans ([N, 2] i32: first token,
//                                         count), B is 1 and S counts packed
//                                         tokens: sequence n's tokens attend
//                                         to each other only; tokens in no
//                                         span are unspecified (0 here)
//   FusedElementwise(x0, x1, ...) {expr, dtype}
//                                         the expression (ElementwiseExpr.h)
//                                         over broadcast operands
//   PoolNormalize(h, mask?, spans?) {mode, normalize, min_count, epsilon,
//                 dtype?}                 masked mean (or CLS) pooling, then
//                                         x / max(|x|_2, epsilon); with spans,
//                                         h is [1, T, H] packed and row n
//                                         pools span n's tokens; stored as
//                                         dtype (default h's)
//   PackTokens and PeerCopy: PackingOps.cpp
//
//===----------------------------------------------------------------------===//
#include "ir/ops/KilnOps.h"
#include "ir/ops/ElementwiseExpr.h"
#include "ir/ops/MathKernels.h"
#include "ir/ops/OpUtils.h"

#include <cmath>

namespace kiln {
namespace {

llvm::Error requireRank(const InferContext &Ctx, unsigned I, int64_t Rank,
                        llvm::StringRef What) {
  if (Ctx.inputType(I).rank() != Rank)
    return Ctx.error(What + " must have rank " + llvm::Twine(Rank) + ", got " +
                     Ctx.inputType(I).str());
  return llvm::Error::success();
}

/// Normalizes `Rows` rows of `Width` floats in place: (x - mean) / sqrt(var +
/// eps) * scale + bias.
void layerNormRows(std::vector<float> &X, int64_t Rows, int64_t Width,
                   const Tensor &Scale, const Tensor *Bias, float Epsilon) {
  for (int64_t R = 0; R < Rows; ++R) {
    float *Row = X.data() + R * Width;
    double Mean = 0, Var = 0;
    for (int64_t I = 0; I < Width; ++I)
      Mean += Row[I];
    Mean /= double(Width);
    for (int64_t I = 0; I < Width; ++I)
      Var += (Row[I] - Mean) * (Row[I] - Mean);
    Var /= double(Width);
    float Inv = float(1.0 / std::sqrt(Var + Epsilon));
    for (int64_t I = 0; I < Width; ++I) {
      float Y = float(Row[I] - Mean) * Inv * float(Scale.getDouble(I));
      Row[I] = Bias ? Y + float(Bias->getDouble(I)) : Y;
    }
  }
}

/// Checks that the scale (and bias) of a LayerNorm are vectors of the
/// normalized width.
llvm::Error checkNormParams(const InferContext &Ctx, const Dim &Width,
                            unsigned ScaleIdx, unsigned BiasIdx) {
  for (unsigned I : {ScaleIdx, BiasIdx}) {
    if (!Ctx.hasInput(I))
      continue;
    const TensorType &T = Ctx.inputType(I);
    if (T.rank() != 1 || (Width.isStatic() && T.Dims[0].isStatic() &&
                          T.Dims[0].value() != Width.value()))
      return Ctx.error("operand " + llvm::Twine(I) + " must be a vector of " +
                       Width.str() + " elements, got " + T.str());
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// LayerNorm and SkipLayerNorm
//===----------------------------------------------------------------------===//

OpDef layerNormDef() {
  OpDef D;
  D.Name = "LayerNorm";
  D.Summary = "Layer normalization over the last axis";
  D.MinInputs = 2;
  D.MaxInputs = 3;
  D.Attrs = {{"epsilon", AttrKind::Float, true}};
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &X = Ctx.inputType(0);
    if (X.rank() < 1)
      return Ctx.error("input must have rank >= 1");
    if (auto E = checkNormParams(Ctx, X.Dims.back(), 1, 2))
      return E;
    Ctx.setOutputType(0, X);
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &X = *Ctx.input(0);
    int64_t Width = X.rank() ? X.sizes().back() : 1;
    std::vector<float> Data = loadAs<float>(X);
    layerNormRows(Data, Width ? X.numElements() / Width : 0, Width,
                  *Ctx.input(1), Ctx.input(2),
                  Ctx.node().getFloat("epsilon", 1e-5f));
    Ctx.setOutput(0, storeAs<float>(X.dtype(), X.sizes().vec(), Data));
    return llvm::Error::success();
  };
  return D;
}

OpDef skipLayerNormDef() {
  OpDef D;
  D.Name = "SkipLayerNorm";
  D.Summary = "Residual add (plus an optional bias) then LayerNorm";
  D.MinInputs = 3;
  D.MaxInputs = 5;
  D.Attrs = {{"epsilon", AttrKind::Float, true}};
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    auto Shape =
        broadcastShapes({Ctx.inputType(0).Dims, Ctx.inputType(1).Dims});
    if (!Shape)
      return Ctx.error(llvm::toString(Shape.takeError()));
    if (Shape->empty())
      return Ctx.error("inputs must have rank >= 1");
    if (auto E = checkNormParams(Ctx, Shape->back(), 2, 3))
      return E;
    if (auto E = checkNormParams(Ctx, Shape->back(), 4, 4))
      return E;
    Ctx.setOutputType(0, TensorType(Ctx.inputType(0).Elem, *Shape));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &X = *Ctx.input(0), &Skip = *Ctx.input(1);
    auto Sizes = broadcastSizes({X.sizes().vec(), Skip.sizes().vec()});
    if (!Sizes)
      return Ctx.error(llvm::toString(Sizes.takeError()));
    int64_t Width = Sizes->back();
    std::vector<float> Sum(numElementsOf(*Sizes));
    const Tensor *Extra = Ctx.input(4);
    forEachIndex(*Sizes,
                 {broadcastStrides(X.sizes(), *Sizes),
                  broadcastStrides(Skip.sizes(), *Sizes)},
                 [&](int64_t I, llvm::ArrayRef<int64_t> Off) {
                   float V = float(X.getDouble(Off[0])) +
                             float(Skip.getDouble(Off[1]));
                   if (Extra)
                     V += float(Extra->getDouble(I % Width));
                   Sum[I] = V;
                 });
    layerNormRows(Sum, Width ? int64_t(Sum.size()) / Width : 0, Width,
                  *Ctx.input(2), Ctx.input(3),
                  Ctx.node().getFloat("epsilon", 1e-5f));
    Ctx.setOutput(0, storeAs<float>(X.dtype(), *Sizes, Sum));
    return llvm::Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// EmbedLayerNorm
//===----------------------------------------------------------------------===//

OpDef embedLayerNormDef() {
  OpDef D;
  D.Name = "EmbedLayerNorm";
  D.Summary = "Word + position + token-type embedding gathers, then LayerNorm";
  // Position and token type ids may be absent; Verify names the operands
  // that are required.
  D.MinInputs = EPositionIds;
  D.MaxInputs = ENumOperands;
  D.Attrs = {{"epsilon", AttrKind::Float, true}};
  D.Verify = [](const Node &N) -> llvm::Error {
    for (unsigned I : {EIds, EWord, EPos, EScale, EBias})
      if (!N.operand(I))
        return makeError(N.describe() + ": operand " + llvm::Twine(I) +
                         " is required");
    if (N.operand(ETokenTypeIds) && !N.operand(EType))
      return makeError(N.describe() +
                       ": token type ids given without a type embedding");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &Ids = Ctx.inputType(EIds);
    if (Ids.rank() != 2 || !isInteger(Ids.Elem))
      return Ctx.error("ids must be an integer [batch, seq] tensor, got " +
                       Ids.str());
    if (auto E = requireRank(Ctx, EWord, 2, "the word embedding"))
      return E;
    if (auto E = requireRank(Ctx, EPos, 2, "the position embedding"))
      return E;
    if (Ctx.hasInput(EType))
      if (auto E = requireRank(Ctx, EType, 2, "the token type embedding"))
        return E;
    const Dim &Hidden = Ctx.inputType(EWord).Dims[1];
    if (auto E = checkNormParams(Ctx, Hidden, EScale, EBias))
      return E;
    Ctx.setOutputType(0, TensorType(Ctx.inputType(EWord).Elem,
                                    {Ids.Dims[0], Ids.Dims[1], Hidden}));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &Ids = *Ctx.input(EIds);
    const Tensor &Word = *Ctx.input(EWord), &Pos = *Ctx.input(EPos);
    const Tensor *Type = Ctx.input(EType);
    const Tensor *PosIds = Ctx.input(EPositionIds);
    const Tensor *TypeIds = Ctx.input(ETokenTypeIds);
    int64_t Batch = Ids.dim(0), Seq = Ids.dim(1), Hidden = Word.dim(1);
    std::vector<int64_t> IdSizes = {Batch, Seq};
    std::vector<int64_t> PosStrides, TypeStrides;
    if (PosIds)
      PosStrides = broadcastStrides(PosIds->sizes(), IdSizes);
    if (TypeIds)
      TypeStrides = broadcastStrides(TypeIds->sizes(), IdSizes);
    std::vector<float> Out(Batch * Seq * Hidden);
    auto Row = [&](const Tensor &Table, int64_t Index, llvm::StringRef What,
                   int64_t At) -> llvm::Error {
      int64_t Rows = Table.dim(0);
      if (Index < -Rows || Index >= Rows)
        return Ctx.error(What + " index " + llvm::Twine(Index) +
                         " is out of range [0, " + llvm::Twine(Rows) + ")");
      if (Index < 0)
        Index += Rows;
      for (int64_t H = 0; H < Hidden; ++H)
        Out[At + H] += float(Table.getDouble(Index * Hidden + H));
      return llvm::Error::success();
    };
    for (int64_t B = 0; B < Batch; ++B)
      for (int64_t S = 0; S < Seq; ++S) {
        int64_t At = (B * Seq + S) * Hidden;
        if (auto E = Row(Word, Ids.getInt(B * Seq + S), "word", At))
          return E;
        int64_t P =
            PosIds ? PosIds->getInt(B * PosStrides[0] + S * PosStrides[1]) : S;
        if (auto E = Row(Pos, P, "position", At))
          return E;
        if (Type) {
          int64_t T =
              TypeIds ? TypeIds->getInt(B * TypeStrides[0] + S * TypeStrides[1])
                      : 0;
          if (auto E = Row(*Type, T, "token type", At))
            return E;
        }
      }
    layerNormRows(Out, Batch * Seq, Hidden, *Ctx.input(EScale),
                  Ctx.input(EBias), Ctx.node().getFloat("epsilon", 1e-5f));
    Ctx.setOutput(0, storeAs<float>(Word.dtype(), {Batch, Seq, Hidden}, Out));
    return llvm::Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// FusedGemm
//===----------------------------------------------------------------------===//

float applyActivation(llvm::StringRef Act, float X) {
  if (Act == "gelu")
    return 0.5f * X * (1.0f + std::erf(X * float(M_SQRT1_2)));
  if (Act == "gelu_tanh")
    return 0.5f * X *
           (1.0f + std::tanh(0.7978845608f * (X + 0.044715f * X * X * X)));
  if (Act == "relu")
    return X > 0 ? X : 0;
  return X;
}

OpDef fusedGemmDef() {
  OpDef D;
  D.Name = "FusedGemm";
  D.Summary = "Matrix product with bias and activation epilogue";
  D.MinInputs = 2;
  D.MaxInputs = 3;
  D.Attrs = {{"activation", AttrKind::String, false},
             {"trans_b", AttrKind::Int, false}};
  D.Verify = [](const Node &N) -> llvm::Error {
    std::string Act = N.getString("activation", "none");
    if (Act != "none" && Act != "gelu" && Act != "gelu_tanh" && Act != "relu")
      return makeError(N.describe() + ": unknown activation '" + Act + "'");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &A = Ctx.inputType(0), &B = Ctx.inputType(1);
    if (A.rank() < 1)
      return Ctx.error("a must have rank >= 1");
    if (auto E = requireRank(Ctx, 1, 2, "b"))
      return E;
    bool TransB = Ctx.node().getInt("trans_b", 0);
    const Dim &K = TransB ? B.Dims[1] : B.Dims[0];
    const Dim &N = TransB ? B.Dims[0] : B.Dims[1];
    if (A.Dims.back().isStatic() && K.isStatic() &&
        A.Dims.back().value() != K.value())
      return Ctx.error("inner dimensions differ: " + A.str() + " and " +
                       B.str());
    if (Ctx.hasInput(2) && Ctx.inputType(2).rank() != 1)
      return Ctx.error("bias must be a vector, got " + Ctx.inputType(2).str());
    Shape Out = A.Dims;
    Out.back() = N;
    Ctx.setOutputType(0, TensorType(A.Elem, Out));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &A = *Ctx.input(0), &B = *Ctx.input(1);
    const Tensor *Bias = Ctx.input(2);
    bool TransB = Ctx.node().getInt("trans_b", 0);
    std::string Act = Ctx.node().getString("activation", "none");
    int64_t K = A.sizes().back();
    int64_t N = TransB ? B.dim(0) : B.dim(1);
    if ((TransB ? B.dim(1) : B.dim(0)) != K)
      return Ctx.error("inner dimensions differ");
    int64_t M = K ? A.numElements() / K : 0;
    std::vector<float> AF = loadAs<float>(A), BF = loadAs<float>(B);
    std::vector<float> Out(M * N, 0.0f);
    for (int64_t I = 0; I < M; ++I) {
      float *Row = Out.data() + I * N;
      for (int64_t P = 0; P < K; ++P) {
        float AV = AF[I * K + P];
        if (TransB)
          for (int64_t J = 0; J < N; ++J)
            Row[J] += AV * BF[J * K + P];
        else
          for (int64_t J = 0; J < N; ++J)
            Row[J] += AV * BF[P * N + J];
      }
      for (int64_t J = 0; J < N; ++J)
        Row[J] = applyActivation(Act, Bias ? Row[J] + float(Bias->getDouble(J))
                                           : Row[J]);
    }
    std::vector<int64_t> Sizes = A.sizes().vec();
    Sizes.back() = N;
    Ctx.setOutput(0, storeAs<float>(A.dtype(), Sizes, Out));
    return llvm::Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// Packed tokens: the spans that PackTokens makes and Attention and
// PoolNormalize read
//===----------------------------------------------------------------------===//

/// Operand I is spans: [N, 2] i32 (first token, count) per sequence.
llvm::Error checkSpans(const InferContext &Ctx, unsigned I) {
  const TensorType &T = Ctx.inputType(I);
  if (T.rank() != 2 || T.Elem != DType::I32 || !T.Dims[1].isStatic() ||
      T.Dims[1].value() != 2)
    return Ctx.error("spans must be [sequences, 2] i32, got " + T.str());
  return llvm::Error::success();
}

/// The spans' (first, count) pairs, each checked to lie within `Tokens`.
llvm::Expected<std::vector<std::pair<int64_t, int64_t>>>
readSpans(const EvalContext &Ctx, const Tensor &Spans, int64_t Tokens) {
  std::vector<std::pair<int64_t, int64_t>> Out;
  for (int64_t N = 0; N < Spans.dim(0); ++N) {
    int64_t First = int64_t(Spans.getDouble(2 * N));
    int64_t Count = int64_t(Spans.getDouble(2 * N + 1));
    if (First < 0 || Count < 0 || First + Count > Tokens)
      return Ctx.error("span " + llvm::Twine(N) + " (" + llvm::Twine(First) +
                       ", " + llvm::Twine(Count) + ") is not within the " +
                       llvm::Twine(Tokens) + " tokens");
    Out.push_back({First, Count});
  }
  return Out;
}

llvm::Error evalPackedAttention(EvalContext &Ctx);

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

OpDef attentionDef() {
  OpDef D;
  D.Name = "Attention";
  D.Summary = "Multi-head scaled dot-product attention with additive mask";
  D.MinInputs = 1;
  D.MaxInputs = 5;
  D.Attrs = {{"num_heads", AttrKind::Int, true},
             {"scale", AttrKind::Float, true}};
  D.Verify = [](const Node &N) -> llvm::Error {
    if (bool(N.operand(1)) != bool(N.operand(2)))
      return makeError(N.describe() +
                       ": k and v are both given or both absent (packed)");
    if (N.getInt("num_heads", 0) <= 0)
      return makeError(N.describe() + ": num_heads must be positive");
    if (N.operand(ASpans) && N.operand(AMask))
      return makeError(N.describe() +
                       ": packed tokens (spans) take no additive mask");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &Q = Ctx.inputType(0);
    if (Q.rank() != 3)
      return Ctx.error("q must be [batch, seq, hidden], got " + Q.str());
    if (Ctx.hasInput(ASpans)) {
      if (llvm::Error E = checkSpans(Ctx, ASpans))
        return E;
      if (!Q.Dims[0].isStatic() || Q.Dims[0].value() != 1)
        return Ctx.error("packed q must be [1, tokens, hidden], got " +
                         Q.str());
    }
    Shape Out = Q.Dims;
    bool Packed = !Ctx.hasInput(1);
    if (Packed) {
      if (!Q.Dims[2].isStatic() || Q.Dims[2].value() % 3)
        return Ctx.error("packed qkv width must be a multiple of 3, got " +
                         Q.str());
      Out[2] = Dim(Q.Dims[2].value() / 3);
    }
    int64_t Heads = Ctx.node().getInt("num_heads", 1);
    if (Out[2].isStatic() && Out[2].value() % Heads)
      return Ctx.error("hidden size " + Out[2].str() +
                       " is not a multiple of num_heads " + llvm::Twine(Heads));
    if (!Packed && Ctx.inputType(1).rank() != 3)
      return Ctx.error("k must be [batch, seq, hidden], got " +
                       Ctx.inputType(1).str());
    if (Ctx.hasInput(3) && Ctx.inputType(3).rank() > 4)
      return Ctx.error("mask must broadcast to [batch, heads, seq, seq], got " +
                       Ctx.inputType(3).str());
    Ctx.setOutputType(0, TensorType(Q.Elem, Out));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    if (Ctx.hasInput(ASpans))
      return evalPackedAttention(Ctx);
    const Tensor &Q = *Ctx.input(0);
    bool Packed = !Ctx.hasInput(1);
    int64_t Batch = Q.dim(0), SeqQ = Q.dim(1);
    int64_t Hidden = Packed ? Q.dim(2) / 3 : Q.dim(2);
    int64_t SeqK = Packed ? SeqQ : Ctx.input(1)->dim(1);
    int64_t Heads = Ctx.node().getInt("num_heads", 1);
    int64_t HeadDim = Hidden / Heads;
    float Scale = Ctx.node().getFloat("scale", 1.0f);
    std::vector<float> QF = loadAs<float>(Q);
    std::vector<float> KF = Packed ? QF : loadAs<float>(*Ctx.input(1));
    std::vector<float> VF = Packed ? QF : loadAs<float>(*Ctx.input(2));
    int64_t QStride = Packed ? 3 * Hidden : Hidden;
    int64_t KOff = Packed ? Hidden : 0, VOff = Packed ? 2 * Hidden : 0;
    int64_t KStride = Packed ? 3 * Hidden : Ctx.input(1)->dim(2);
    int64_t VStride = Packed ? 3 * Hidden : Ctx.input(2)->dim(2);
    const Tensor *Mask = Ctx.input(3);
    std::vector<int64_t> Full = {Batch, Heads, SeqQ, SeqK}, MaskStrides;
    if (Mask) {
      auto Sizes = broadcastSizes({Mask->sizes().vec(), Full});
      if (!Sizes)
        return Ctx.error("mask does not broadcast to the scores: " +
                         llvm::toString(Sizes.takeError()));
      // A mask larger than the scores along some dim is no additive mask of
      // these scores (fuse-attention relies on this check).
      if (*Sizes != Full)
        return Ctx.error("mask would broadcast the scores to a larger shape");
      MaskStrides = broadcastStrides(Mask->sizes(), Full);
    }
    std::vector<float> Out(Batch * SeqQ * Hidden);
    std::vector<float> Scores(SeqK);
    for (int64_t B = 0; B < Batch; ++B)
      for (int64_t H = 0; H < Heads; ++H)
        for (int64_t I = 0; I < SeqQ; ++I) {
          const float *QRow = &QF[(B * SeqQ + I) * QStride + H * HeadDim];
          float Max = -INFINITY;
          for (int64_t J = 0; J < SeqK; ++J) {
            const float *KRow =
                &KF[(B * SeqK + J) * KStride + KOff + H * HeadDim];
            float Dot = 0;
            for (int64_t E = 0; E < HeadDim; ++E)
              Dot += QRow[E] * KRow[E];
            Dot *= Scale;
            if (Mask)
              Dot += float(
                  Mask->getDouble(B * MaskStrides[0] + H * MaskStrides[1] +
                                  I * MaskStrides[2] + J * MaskStrides[3]));
            Scores[J] = Dot;
            Max = std::max(Max, Dot);
          }
          // A row whose every key is masked with -inf attends to nothing and
          // writes 0, as SDPA's NaN guard and the GPU kernel do (a mask of
          // -FLT_MAX stays finite: such a row averages v).
          if (Max == -INFINITY)
            continue;
          double Sum = 0;
          for (int64_t J = 0; J < SeqK; ++J) {
            Scores[J] = std::exp(Scores[J] - Max);
            Sum += Scores[J];
          }
          float *ORow = &Out[(B * SeqQ + I) * Hidden + H * HeadDim];
          for (int64_t J = 0; J < SeqK; ++J) {
            float P = float(Scores[J] / Sum);
            const float *VRow =
                &VF[(B * SeqK + J) * VStride + VOff + H * HeadDim];
            for (int64_t E = 0; E < HeadDim; ++E)
              ORow[E] += P * VRow[E];
          }
        }
    Ctx.setOutput(0, storeAs<float>(Q.dtype(), {Batch, SeqQ, Hidden}, Out));
    return llvm::Error::success();
  };
  return D;
}

/// Attention over packed tokens: each span of `Spans` ([N, 2]: first token,
/// count) attends within itself, as a batch of its own would.
llvm::Error evalPackedAttention(EvalContext &Ctx) {
  const Tensor &Q = *Ctx.input(0);
  bool Packed = !Ctx.hasInput(1);
  int64_t Tokens = Q.dim(1);
  int64_t Hidden = Packed ? Q.dim(2) / 3 : Q.dim(2);
  int64_t Heads = Ctx.node().getInt("num_heads", 1);
  int64_t HeadDim = Hidden / Heads;
  float Scale = Ctx.node().getFloat("scale", 1.0f);
  std::vector<float> QF = loadAs<float>(Q);
  std::vector<float> KF = Packed ? QF : loadAs<float>(*Ctx.input(1));
  std::vector<float> VF = Packed ? QF : loadAs<float>(*Ctx.input(2));
  int64_t QStride = Packed ? 3 * Hidden : Hidden;
  int64_t KOff = Packed ? Hidden : 0, VOff = Packed ? 2 * Hidden : 0;
  int64_t KStride = Packed ? 3 * Hidden : Ctx.input(1)->dim(2);
  int64_t VStride = Packed ? 3 * Hidden : Ctx.input(2)->dim(2);
  if (!Packed &&
      (Ctx.input(1)->dim(1) != Tokens || Ctx.input(2)->dim(1) != Tokens))
    return Ctx.error("packed k and v must have q's tokens");
  auto Spans = readSpans(Ctx, *Ctx.input(ASpans), Tokens);
  if (!Spans)
    return Spans.takeError();
  std::vector<float> Out(Tokens * Hidden, 0.0f);
  std::vector<float> Scores;
  for (auto [First, Count] : *Spans) {
    Scores.resize(size_t(Count));
    for (int64_t H = 0; H < Heads; ++H)
      for (int64_t I = First; I < First + Count; ++I) {
        const float *QRow = &QF[I * QStride + H * HeadDim];
        float Max = -INFINITY;
        for (int64_t J = 0; J < Count; ++J) {
          const float *KRow = &KF[(First + J) * KStride + KOff + H * HeadDim];
          float Dot = 0;
          for (int64_t E = 0; E < HeadDim; ++E)
            Dot += QRow[E] * KRow[E];
          Scores[J] = Dot * Scale;
          Max = std::max(Max, Scores[J]);
        }
        double Sum = 0;
        for (int64_t J = 0; J < Count; ++J) {
          Scores[J] = std::exp(Scores[J] - Max);
          Sum += Scores[J];
        }
        float *ORow = &Out[I * Hidden + H * HeadDim];
        for (int64_t J = 0; J < Count; ++J) {
          float P = float(Scores[J] / Sum);
          const float *VRow = &VF[(First + J) * VStride + VOff + H * HeadDim];
          for (int64_t E = 0; E < HeadDim; ++E)
            ORow[E] += P * VRow[E];
        }
      }
  }
  Ctx.setOutput(0, storeAs<float>(Q.dtype(), {1, Tokens, Hidden}, Out));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// PoolNormalize
//===----------------------------------------------------------------------===//

} // namespace

std::optional<DType> poolResultType(const Node &N) {
  if (!N.attr("dtype"))
    return std::nullopt;
  std::optional<DType> T = parseDType(N.getString("dtype", ""));
  if (!T || (*T != DType::F32 && *T != DType::F16 && *T != DType::BF16))
    return std::nullopt;
  return T;
}

namespace {

OpDef poolNormalizeDef() {
  OpDef D;
  D.Name = "PoolNormalize";
  D.Summary = "Masked mean or CLS pooling, then optional L2 normalization";
  D.MinInputs = 1;
  D.MaxInputs = 3;
  D.Attrs = {{"mode", AttrKind::String, true},
             {"normalize", AttrKind::Int, false},
             {"min_count", AttrKind::Float, false},
             {"epsilon", AttrKind::Float, false},
             {"dtype", AttrKind::String, false}};
  D.Verify = [](const Node &N) -> llvm::Error {
    std::string Mode = N.getString("mode", "");
    if (Mode != "mean" && Mode != "cls")
      return makeError(N.describe() + ": mode must be \"mean\" or \"cls\"");
    if (N.attr("dtype") && !poolResultType(N))
      return makeError(N.describe() +
                       ": dtype must be f32, f16 or bf16, got '" +
                       N.getString("dtype", "") + "'");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &H = Ctx.inputType(0);
    if (H.rank() != 3)
      return Ctx.error("input must be [batch, seq, hidden], got " + H.str());
    if (Ctx.hasInput(1) && Ctx.inputType(1).rank() != 2)
      return Ctx.error("mask must be [batch, seq], got " +
                       Ctx.inputType(1).str());
    if (Ctx.hasInput(PSpans)) {
      if (Ctx.hasInput(PMask))
        return Ctx.error("packed tokens (spans) take no mask");
      if (llvm::Error E = checkSpans(Ctx, PSpans))
        return E;
      if (!H.Dims[0].isStatic() || H.Dims[0].value() != 1)
        return Ctx.error("packed input must be [1, tokens, hidden], got " +
                         H.str());
      Ctx.setOutputType(0,
                        TensorType(poolResultType(Ctx.node()).value_or(H.Elem),
                                   {Ctx.inputType(PSpans).Dims[0], H.Dims[2]}));
      return llvm::Error::success();
    }
    Ctx.setOutputType(0, TensorType(poolResultType(Ctx.node()).value_or(H.Elem),
                                    {H.Dims[0], H.Dims[2]}));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &H = *Ctx.input(0);
    const Tensor *Mask = Ctx.input(1);
    int64_t Seq = H.dim(1), Hidden = H.dim(2);
    // Row b pools tokens [First, First + Count) of its sequence, weighted by
    // the mask; packed tokens are one sequence whose spans are the rows.
    std::vector<std::pair<int64_t, int64_t>> Rows;
    if (const Tensor *Spans = Ctx.input(PSpans)) {
      auto Read = readSpans(Ctx, *Spans, Seq);
      if (!Read)
        return Read.takeError();
      Rows = std::move(*Read);
    } else {
      for (int64_t B = 0; B < H.dim(0); ++B)
        Rows.push_back({B * Seq, Seq});
    }
    int64_t Batch = int64_t(Rows.size());
    bool Mean = Ctx.node().getString("mode", "mean") == "mean";
    float MinCount = Ctx.node().getFloat("min_count", 1e-9f);
    float Eps = Ctx.node().getFloat("epsilon", 1e-12f);
    std::vector<float> HF = loadAs<float>(H);
    std::vector<float> Out(Batch * Hidden, 0.0f);
    for (int64_t B = 0; B < Batch; ++B) {
      float *Row = &Out[B * Hidden];
      auto [First, Count] = Rows[B];
      if (Mean) {
        float Weight = 0;
        for (int64_t T = First; T < First + Count; ++T) {
          float M = Mask ? float(Mask->getDouble(T)) : 1.0f;
          Weight += M;
          for (int64_t E = 0; E < Hidden; ++E)
            Row[E] += HF[T * Hidden + E] * M;
        }
        Weight = std::max(Weight, MinCount);
        for (int64_t E = 0; E < Hidden; ++E)
          Row[E] /= Weight;
      } else if (Count > 0) {
        std::copy_n(&HF[First * Hidden], Hidden, Row);
      }
      if (Ctx.node().getInt("normalize", 1)) {
        double Norm = 0;
        for (int64_t E = 0; E < Hidden; ++E)
          Norm += double(Row[E]) * Row[E];
        float Denom = std::max(float(std::sqrt(Norm)), Eps);
        for (int64_t E = 0; E < Hidden; ++E)
          Row[E] /= Denom;
      }
    }
    Ctx.setOutput(0,
                  storeAs<float>(poolResultType(Ctx.node()).value_or(H.dtype()),
                                 {Batch, Hidden}, Out));
    return llvm::Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// FusedElementwise
//===----------------------------------------------------------------------===//

OpDef fusedElementwiseDef() {
  OpDef D;
  D.Name = "FusedElementwise";
  D.Summary = "A chain of elementwise ops as one expression";
  D.MinInputs = 1;
  D.MaxInputs = Variadic;
  D.Elementwise = true;
  D.Attrs = {{"expr", AttrKind::String, true},
             {"dtype", AttrKind::String, true}};
  D.Verify = [](const Node &N) -> llvm::Error {
    auto E = parseExpr(N.getString("expr", ""));
    if (!E)
      return makeError(N.describe() + ": " + llvm::toString(E.takeError()));
    if ((*E)->numOperands() > N.numOperands())
      return makeError(N.describe() + ": the expression uses x" +
                       llvm::Twine((*E)->numOperands() - 1) +
                       " but the node has " + llvm::Twine(N.numOperands()) +
                       " operands");
    if (!parseDType(N.getString("dtype", "")))
      return makeError(N.describe() + ": unknown dtype '" +
                       N.getString("dtype", "") + "'");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    std::vector<Shape> Shapes;
    for (unsigned I = 0; I < Ctx.numInputs(); ++I)
      Shapes.push_back(Ctx.inputType(I).Dims);
    auto Out = broadcastShapes(Shapes);
    if (!Out)
      return Ctx.error(llvm::toString(Out.takeError()));
    auto Elem = parseDType(Ctx.node().getString("dtype", "f32"));
    if (!Elem)
      return Ctx.error("unknown dtype");
    Ctx.setOutputType(0, TensorType(*Elem, *Out));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    auto E = parseExpr(Ctx.node().getString("expr", ""));
    if (!E)
      return Ctx.error(llvm::toString(E.takeError()));
    std::vector<std::vector<int64_t>> Sizes;
    for (unsigned I = 0; I < Ctx.numInputs(); ++I)
      Sizes.push_back(Ctx.input(I)->sizes().vec());
    auto OutSizes = broadcastSizes(Sizes);
    if (!OutSizes)
      return Ctx.error(llvm::toString(OutSizes.takeError()));
    std::vector<std::vector<int64_t>> Strides;
    for (const auto &S : Sizes)
      Strides.push_back(broadcastStrides(S, *OutSizes));
    Tensor Out(*parseDType(Ctx.node().getString("dtype", "f32")), *OutSizes);
    std::vector<double> Args(Ctx.numInputs());
    forEachIndex(*OutSizes, Strides,
                 [&](int64_t I, llvm::ArrayRef<int64_t> Offsets) {
                   for (unsigned A = 0; A < Args.size(); ++A)
                     Args[A] = Ctx.input(A)->getDouble(Offsets[A]);
                   Out.setDouble(I, (*E)->eval(Args.data()));
                 });
    Ctx.setOutput(0, std::move(Out));
    return llvm::Error::success();
  };
  return D;
}

} // namespace

void registerKilnOps(OpRegistry &R) {
  R.add(fusedElementwiseDef());
  R.add(layerNormDef());
  R.add(skipLayerNormDef());
  R.add(embedLayerNormDef());
  R.add(fusedGemmDef());
  R.add(attentionDef());
  R.add(poolNormalizeDef());
}

} // namespace kiln
