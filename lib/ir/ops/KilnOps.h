//===- KilnOps.h - operand positions of kiln's fused ops ---------*- C++ -*-===//
//
// The ops that passes introduce (registered in KilnOps.cpp and
// PackingOps.cpp) take their operands by position. These enums are the one
// statement of which position is which, for the ops' own definitions, the
// codegen that lowers them and the analyses that read them (input roles,
// index checks); poolResultType reads PoolNormalize's result type for the
// same readers.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_KILNOPS_H
#define KILN_IR_OPS_KILNOPS_H

#include "ir/Graph.h"

#include <optional>

namespace kiln {

/// EmbedLayerNorm(ids, position_ids?, token_type_ids?, word, pos, type?,
///                scale, bias)
enum EmbedOperand : unsigned {
  EIds,
  EPositionIds,
  ETokenTypeIds,
  EWord,
  EPos,
  EType,
  EScale,
  EBias,
  ENumOperands
};

/// Attention(q or packed qkv, k?, v?, additive mask?, spans?)
/// With spans (packed tokens, PackTokens), q, k and v are [1, tokens, ...]
/// and token t of sequence b attends to the tokens of b's span only.
enum AttentionOperand : unsigned { AQuery, AKey, AValue, AMask, ASpans };

/// PoolNormalize(hidden states, attention mask?, spans?)
/// With spans, the hidden states are [1, tokens, hidden] (packed) and
/// sequence b pools the tokens of its span.
enum PoolNormalizeOperand : unsigned { PHidden, PMask, PSpans };

/// The element type a PoolNormalize stores its result in: its `dtype`
/// attribute (f32, f16 or bf16; the precision pass sets f32 on one whose
/// result is an f32 graph output, instead of a Cast after it), none without
/// one (the hidden states' type) or for anything else.
std::optional<DType> poolResultType(const Node &N);

/// PackTokens(mask, x1, ..., xn) {positions} -> (spans, packed x1, ...,
/// packed xn, positions?): the tokens whose mask is nonzero, row by row.
enum PackTokensOperand : unsigned { PackMask, PackFirstValue };

} // namespace kiln

#endif
