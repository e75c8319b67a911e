//===- DCE.cpp - dead code elimination ------------------------------------===//
//
// Removes nodes none of whose results is used or a graph output, then
// constants nothing uses. Graph inputs stay: they are the graph's signature.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

namespace kiln {

llvm::Expected<bool> runDCE(Graph &G, const PassOptions &, PassContext &Ctx) {
  bool Changed = false;
  std::vector<Node *> Nodes = G.nodeList();
  for (auto It = Nodes.rbegin(); It != Nodes.rend(); ++It) {
    Node *N = *It;
    bool Live = false;
    for (Value *R : N->results())
      Live |= R->hasUses() || G.isOutput(R);
    if (Live)
      continue;
    G.eraseNode(N);
    Ctx.bumpStat("nodes-removed");
    Changed = true;
  }
  for (Value *C :
       std::vector<Value *>(G.constants().begin(), G.constants().end())) {
    if (C->hasUses() || G.isOutput(C))
      continue;
    G.eraseValue(C);
    Ctx.bumpStat("constants-removed");
    Changed = true;
  }
  return Changed;
}

} // namespace kiln
