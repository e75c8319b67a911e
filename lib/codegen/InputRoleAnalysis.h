//===- InputRoleAnalysis.h - which graph input is the mask -------*- C++ -*-===//
//
// The compiler records in the artifact what each graph input stands for
// (IoSpec::Role), so that the runtime pads requests without looking at
// names. After -O2 the fused ops say it: the mask operand of Attention and
// of PoolNormalize is computed from the attention mask, and EmbedLayerNorm's
// token-type operand is the token types. Each is traced back through nodes
// with a single non-constant operand (Unsqueeze, Cast, the FusedElementwise
// that makes the additive mask) to the graph input it comes from; packed
// plans' spans (Attention's and PoolNormalize's) through PackTokens to its
// mask, and packed token types to the token types. Where no
// fused op says it (a graph kiln could not fuse), an integer input named like
// the exporters name it ("attention_mask", "token_type_ids") takes the role:
// the compiler's best guess, recorded once.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_INPUTROLEANALYSIS_H
#define KILN_CODEGEN_INPUTROLEANALYSIS_H

#include "ir/Graph.h"
#include "runtime/Artifact.h"

#include <vector>

namespace kiln {

/// The role of each of `G`'s inputs, in order; at most one input per role.
std::vector<IoRole> inferInputRoles(const Graph &G);

} // namespace kiln

#endif
