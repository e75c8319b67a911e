//===- FoldConstants.cpp - evaluate nodes of constants --------------------===//
//
// A node whose operands are all constants with data is evaluated with its
// reference implementation and its results become constants, keeping their
// names. Results larger than `max-elements` are left alone so that folding
// never blows a small graph up (an Expand to a huge shape, say).
//
//===----------------------------------------------------------------------===//
#include "ir/OpRegistry.h"
#include "passes/Passes.h"

namespace kiln {

llvm::Expected<bool> runFoldConstants(Graph &G, const PassOptions &Options,
                                      PassContext &Ctx) {
  auto MaxElements = Options.getInt("max-elements", int64_t(1) << 24);
  if (!MaxElements)
    return MaxElements.takeError();
  bool Changed = false;
  for (Node *N : G.nodeList()) {
    const OpDef *Def = N->def();
    if (!Def || !Def->Eval)
      continue;
    std::vector<const Tensor *> Args;
    bool AllConstant = true;
    for (Value *V : N->operands()) {
      if (V && !V->constantData())
        AllConstant = false;
      Args.push_back(V ? V->constantData() : nullptr);
    }
    if (!AllConstant)
      continue;
    bool Small = true;
    for (Value *R : N->results()) {
      int64_t Count = R->type().staticNumElements();
      Small &= Count >= 0 && Count <= *MaxElements;
    }
    if (!Small) {
      Ctx.debug() << N->describe() << ": result too large to fold\n";
      continue;
    }
    EvalContext Eval(*N, std::move(Args));
    if (llvm::Error E = Def->Eval(Eval))
      return std::move(E);
    // The constants take over the results' names once the node is gone.
    std::vector<std::pair<Value *, std::string>> Folded;
    for (unsigned I = 0; I < N->numResults(); ++I) {
      Value *R = N->result(I);
      Value *C = G.addConstant(G.uniqueName(R->name() + ".folded"),
                               std::move(Eval.Outputs[I]));
      Folded.push_back({C, R->name()});
      R->replaceAllUsesWith(C);
    }
    G.eraseNode(N);
    for (auto &[C, Name] : Folded)
      if (C->name() != Name)
        G.rename(C, Name);
    Ctx.bumpStat("nodes-folded");
    Changed = true;
  }
  return Changed;
}

} // namespace kiln
