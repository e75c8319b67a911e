// embed_layernorm.cuh - embedding gathers, their sum and LayerNorm.
//
//   embed_layernorm<W, T, P, Id, PosId, TypeId, HasPosIds, HasType,
//                   HasTypeIds>
//   y[b, s] = LN(word[ids[b, s]] + pos[p] + type[t]) * scale + bias
//   p = position_ids[b, s] (broadcast strides), or s when absent
//   t = token_type_ids[b, s], or 0 when absent; no type term without a table
//
// One token per row, spread over threads as LayerNorm's rows are (see
// layernorm.cuh): W is the hidden size, T the tables' storage, P that of
// scale and bias, Id/PosId/TypeId the integer types of the id tensors.
//
// Ids out of range: the reference rejects them; a kernel cannot stop, so
// it wraps negative ids once (as the reference does for -rows..-1), reports
// the rest to `Fault` (common.cuh: WordCheck, PosCheck and TypeCheck are the
// IndexCheck numbers of the three id inputs, -1 for none), and clamps them
// into the table, which never reads outside it. The runtime turns the
// report into the reference executor's error.
#pragma once

#include "common.cuh"
#include "layernorm.cuh"

namespace kiln {

/// The table row of `Index`, clamped into the table; an index out of range
/// is reported by the row's first lane (`Reports`).
__device__ __forceinline__ int64_t table_row(int64_t Index, int64_t Rows,
                                             IndexFault *Fault, int Check,
                                             bool Reports) {
  int64_t Row = Index < 0 ? Index + Rows : Index;
  if (Row >= 0 && Row < Rows)
    return Row;
  if (Reports)
    report_index_fault(Fault, Check, Index);
  return Row < 0 ? 0 : Rows - 1;
}

template <int W, typename T, typename P, typename Id, typename PosId,
          typename TypeId, bool HasPosIds, bool HasType, bool HasTypeIds>
__global__ void __launch_bounds__(RowShape<W, T>::BlockThreads)
    embed_layernorm(const Id *__restrict__ Ids,
                    const PosId *__restrict__ PosIds,
                    const TypeId *__restrict__ TypeIds,
                    const T *__restrict__ Word, const T *__restrict__ Pos,
                    const T *__restrict__ Type, const P *__restrict__ Scale,
                    const P *__restrict__ Bias, T *__restrict__ Out,
                    int64_t Rows, int64_t Seq, int64_t WordRows,
                    int64_t PosRows, int64_t TypeRows, int64_t PosIdStrideB,
                    int64_t PosIdStrideS, int64_t TypeIdStrideB,
                    int64_t TypeIdStrideS, float Epsilon, IndexFault *Fault,
                    int WordCheck, int PosCheck, int TypeCheck) {
  wait_for_predecessor();
  static_assert(!HasTypeIds || HasType, "token type ids need a type table");
  using S = RowShape<W, T>;
  __shared__ float Scratch[32];
  int64_t Row = S::row();
  int Lane = S::lane();
  if (Row >= Rows)
    return;
  int64_t B = Row / Seq, Tok = Row % Seq;
  const T *WordRow =
      Word +
      table_row(int64_t(Ids[Row]), WordRows, Fault, WordCheck, Lane == 0) * W;
  int64_t PosIndex = Tok;
  if constexpr (HasPosIds)
    PosIndex = int64_t(PosIds[B * PosIdStrideB + Tok * PosIdStrideS]);
  const T *PosRow =
      Pos + table_row(PosIndex, PosRows, Fault, PosCheck, Lane == 0) * W;
  const T *TypeRow = nullptr;
  if constexpr (HasType) {
    int64_t TypeIndex = 0;
    if constexpr (HasTypeIds)
      TypeIndex = int64_t(TypeIds[B * TypeIdStrideB + Tok * TypeIdStrideS]);
    TypeRow =
        Type + table_row(TypeIndex, TypeRows, Fault, TypeCheck, Lane == 0) * W;
  }
  float V[S::Values];
#pragma unroll
  for (int I = 0; I < S::Items; ++I) {
    if (!S::valid(Lane, I))
      continue;
    int Col = S::column(Lane, I);
    float A[S::Vec], C[S::Vec], D[S::Vec];
    load_floats<S::Vec>(WordRow + Col, A);
    load_floats<S::Vec>(PosRow + Col, C);
    if constexpr (HasType)
      load_floats<S::Vec>(TypeRow + Col, D);
#pragma unroll
    for (int E = 0; E < S::Vec; ++E) {
      // The reference's order: word, then position, then type.
      float Sum = A[E] + C[E];
      if constexpr (HasType)
        Sum += D[E];
      V[I * S::Vec + E] = Sum;
    }
  }
  layernorm_row<W, T, P, true>(V, Lane, Scale, Bias, Epsilon, Out + Row * W,
                               Scratch);
}

} // namespace kiln
