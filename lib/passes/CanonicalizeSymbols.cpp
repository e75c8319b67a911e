//===- CanonicalizeSymbols.cpp - name the batch and seq dims --------------===//
//
// Renames the first graph input's first two symbolic dims to `batch` and
// `seq` in every value's type, so that buckets bind them whatever the
// exporter called them (`batch_size`, `sequence_length`, `s0`...):
//
//   %ids: i64[N, L]  ->  %ids: i64[batch, seq]    (N and L renamed everywhere)
//
// A first dim that is static leaves `batch` unnamed; a second dim that is
// static or the same symbol as the first leaves `seq` unnamed, unless an
// input already has a dim of that name.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "llvm/ADT/StringMap.h"

namespace kiln {

BatchSeqSymbols canonicalizeSymbols(Graph &G, PassContext *Ctx) {
  if (G.inputs().empty())
    return {};
  const TensorType &T = G.inputs()[0]->type();
  llvm::StringMap<std::string> Renames;
  BatchSeqSymbols Found;
  if (T.rank() >= 1 && T.Dims[0].isSymbol()) {
    Renames[T.Dims[0].symbol()] = "batch";
    Found.HasBatch = true;
  }
  if (T.rank() >= 2 && T.Dims[1].isSymbol() &&
      T.Dims[1].symbol() != T.Dims[0].symbol()) {
    Renames[T.Dims[1].symbol()] = "seq";
    Found.HasSeq = true;
  }
  // A graph already named so (a pipeline's stage, whose first input may be
  // a mask of [batch, 1, 1, seq]) keeps its names.
  for (const Value *V : G.inputs())
    for (const Dim &D : V->type().Dims)
      if (D.isSymbol()) {
        Found.HasBatch |= D.symbol() == "batch";
        Found.HasSeq |= D.symbol() == "seq";
      }
  auto Rename = [&](Value *V) {
    TensorType NT = V->type();
    bool Changed = false;
    for (Dim &D : NT.Dims)
      if (D.isSymbol())
        if (auto It = Renames.find(D.symbol()); It != Renames.end()) {
          Changed |= D.symbol() != It->second;
          D = Dim::symbol(It->second);
        }
    if (Changed) {
      V->setType(std::move(NT));
      Found.Changed = true;
      if (Ctx)
        Ctx->bumpStat("types-renamed");
    }
  };
  for (Value *V : G.inputs())
    Rename(V);
  for (Node *N : G.nodeList())
    for (Value *R : N->results())
      Rename(R);
  return Found;
}

llvm::Expected<bool> runCanonicalizeSymbols(Graph &G, const PassOptions &,
                                            PassContext &Ctx) {
  return canonicalizeSymbols(G, &Ctx).Changed;
}

} // namespace kiln
