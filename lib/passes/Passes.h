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

KILN_PASS(runCanonicalize);
KILN_PASS(runCSE);
KILN_PASS(runDCE);
KILN_PASS(runFoldConstants);
KILN_PASS(runFuseAttention);
KILN_PASS(runFuseElementwise);
KILN_PASS(runFuseEmbedLayerNorm);
KILN_PASS(runFuseGelu);
KILN_PASS(runFuseGemmEpilogue);
KILN_PASS(runFuseLayerNorm);
KILN_PASS(runFusePoolNormalize);
KILN_PASS(runFuseSkipLayerNorm);
KILN_PASS(runInferShapes);
KILN_PASS(runMergeQKV);
KILN_PASS(runPrecision);
KILN_PASS(runPruneMagnitude);
KILN_PASS(runPruneStructured);
KILN_PASS(runSimplifyIndexing);
KILN_PASS(runSpecialize);

#undef KILN_PASS

} // namespace kiln

#endif
