//===- KilnOps.h - operand positions of kiln's fused ops ---------*- C++ -*-===//
//
// The fused ops that passes introduce (registered in KilnOps.cpp) take their
// operands by position. These enums are the one statement of which position
// is which, for the ops' own definitions, the codegen that lowers them and
// the analyses that read them (input roles, index checks).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_KILNOPS_H
#define KILN_IR_OPS_KILNOPS_H

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

/// Attention(q or packed qkv, k?, v?, additive mask?)
enum AttentionOperand : unsigned { AQuery, AKey, AValue, AMask };

/// PoolNormalize(hidden states, attention mask?)
enum PoolNormalizeOperand : unsigned { PHidden, PMask };

} // namespace kiln

#endif
