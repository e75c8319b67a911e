//===- IndexBounds.h - inputs that index tables, longest sequence -*- C++ -*-===//
//
// The reference executor rejects an index outside its table; a kernel
// cannot, so the compiler records what the runtime must check instead:
//
//  - which graph inputs index which table (token ids, token types, any
//    Gather index taken from an input through value-preserving ops: Cast,
//    Reshape, Unsqueeze, Squeeze, Flatten, Identity, and PackTokens, whose
//    packed values are the input's elements or 0), as IndexChecks the
//    runtime applies to every request;
//  - the longest sequence the position tables allow. Positions are either
//    the token's place (EmbedLayerNorm without position ids) or computed
//    (RoBERTa's cumsum of the non-padding mask plus padding_idx): a small
//    interval analysis bounds each index at a given sequence length, with
//    the attention mask (IoSpec::Role) in [0, 1] and every comparison in
//    [0, 1], and the longest length whose indices stay inside the table is
//    the limit. Nothing here looks at names.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_INDEXBOUNDS_H
#define KILN_CODEGEN_INDEXBOUNDS_H

#include "ir/Graph.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The index checks of `G`'s inputs, one per (input, node, table).
std::vector<IndexCheck> findIndexChecks(const Graph &G);

/// An integer interval [Lo, Hi].
struct IndexRange {
  int64_t Lo = 0, Hi = 0;
};

/// The values `V` can take when the graph runs at batch 1 and sequence
/// length `Seq` (dims named `batch` and `seq`), inputs of role
/// AttentionMask in [0, 1]; nullopt when unbounded or unknown.
std::optional<IndexRange> valueRange(const Value *V, int64_t Seq,
                                     llvm::ArrayRef<IoRole> InputRoles);

/// The longest sequence a table of `G` allows, and which table.
struct SequenceLimit {
  int64_t MaxSeq = 0;
  /// "position table %pos of 'EmbedLayerNorm' node "..." (66 rows)"
  std::string Table;
};

/// The tightest limit of `G` (whose inputs have roles `InputRoles`) on its
/// `seq` dim, or nullopt when no table bounds it.
std::optional<SequenceLimit> sequenceLimit(const Graph &G,
                                           llvm::ArrayRef<IoRole> InputRoles);

} // namespace kiln

#endif
