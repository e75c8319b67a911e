//===- Passes.h - entry points of every pass --------------------*- C++ -*-===//
//
// Each pass lives in its own file, lib/passes/<Name>.cpp, and is listed in the
// registry in Passes.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "passes/PassManager.h"

namespace kiln {

#define KILN_PASS(Fn)                                                          \
  llvm::Expected<bool> Fn(Graph &G, const PassOptions &Options,                \
                          PassContext &Ctx)

KILN_PASS(runBindInput);
KILN_PASS(runCanonicalize);
KILN_PASS(runCanonicalizeSymbols);
KILN_PASS(runCSE);
KILN_PASS(runDCE);
KILN_PASS(runFoldConstants);
KILN_PASS(runFuseAttention);
KILN_PASS(runFuseElementwise);
KILN_PASS(runFuseEmbedLayerNorm);
KILN_PASS(runFuseGelu);
KILN_PASS(runFuseGemmEpilogue);
KILN_PASS(runFuseExpandGather);
KILN_PASS(runFuseGlu);
KILN_PASS(runFuseLayerNorm);
KILN_PASS(runFusePoolNormalize);
KILN_PASS(runFuseRotary);
KILN_PASS(runFuseSkipLayerNorm);
KILN_PASS(runInferShapes);
KILN_PASS(runMergeQKV);
KILN_PASS(runPackTokens);
KILN_PASS(runPartition);
KILN_PASS(runPrecision);
KILN_PASS(runPruneMagnitude);
KILN_PASS(runPruneStructured);
KILN_PASS(runSimplifyIndexing);
KILN_PASS(runSpecialize);

#undef KILN_PASS

/// What bind-input does, for a caller holding the tensor (`kiln compile
/// --bind NAME=FILE.npy`): graph input `Name` becomes a constant holding
/// `Data`, whose dtype and rank must be the input's and whose sizes must
/// match its static dims.
llvm::Error bindInput(Graph &G, llvm::StringRef Name, const Tensor &Data);

struct BatchSeqSymbols {
  bool HasBatch = false, HasSeq = false;
  bool Changed = false; // whether a type was renamed
};
/// What canonicalize-symbols does: renames the first input's first two
/// symbolic dims to `batch` and `seq` and says which of the two the model
/// has. Counts renamed types in `Ctx` when given.
BatchSeqSymbols canonicalizeSymbols(Graph &G, PassContext *Ctx = nullptr);

/// What pack-tokens does (PackTokens.cpp): rewrites a padded encoder to run
/// on its packed tokens, with the symbol `tokens` as their count. Returns
/// false, and the reason in `Why`, when the graph cannot be proven to give
/// the padded graph's results that way.
llvm::Expected<bool> packTokens(Graph &G, std::string *Why = nullptr);

} // namespace kiln

#endif
