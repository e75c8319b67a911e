#include "passes/RewriteDriver.h"

#include "passes/Pattern.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <deque>

namespace kiln::rewrite {

Node *Rewriter::createNode(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                           llvm::ArrayRef<TensorType> ResultTypes,
                           AttrMap Attrs, llvm::StringRef NodeName,
                           llvm::ArrayRef<std::string> ResultNames,
                           Node *Before) {
  Node *N = G.createNode(Op, Operands, ResultTypes, std::move(Attrs), NodeName,
                         ResultNames, Before);
  // The allocator may hand out an erased node's address again.
  Erased.erase(N);
  Created.push_back(N);
  ++NumCreated;
  ++Changes;
  return N;
}

Value *Rewriter::addConstant(llvm::StringRef Base, Tensor Data) {
  ++Changes;
  return G.addConstant(G.uniqueName(Base), std::move(Data));
}

void Rewriter::replaceAllUsesWith(Value *Old, Value *New) {
  ++Changes;
  Old->replaceAllUsesWith(New);
}

void Rewriter::setOperand(Node &N, unsigned I, Value *V) {
  ++Changes;
  N.setOperand(I, V);
}

void Rewriter::setAttr(Node &N, llvm::StringRef Name, Attribute A) {
  ++Changes;
  N.setAttr(Name, std::move(A));
}

void Rewriter::setType(Value &V, TensorType T) {
  ++Changes;
  V.setType(std::move(T));
}

void Rewriter::replaceRoot(Node *Root, Node *Fused,
                           llvm::ArrayRef<Node *> Dying) {
  std::string Name = Root->result()->name();
  replaceAllUsesWith(Root->result(), Fused->result());
  eraseDeadNodes(Dying);
  if (!G.lookup(Name))
    G.rename(Fused->result(), Name);
}

void Rewriter::eraseDeadNodes(llvm::ArrayRef<Node *> Nodes) {
  pat::eraseDeadNodes(G, Nodes, [&](Node *N) {
    Erased.insert(N);
    ++NumErased;
    ++Changes;
  });
}

void Rewriter::eraseValue(Value *V) {
  ++Changes;
  G.eraseValue(V);
}

llvm::raw_ostream &Rewriter::note(const Node &About) {
  return Ctx.debug() << PassName << ": " << About.describe() << ": ";
}

llvm::Expected<bool>
applyPatterns(Graph &G, PassContext &Ctx, llvm::StringRef PassName,
              llvm::ArrayRef<const RewritePattern *> Patterns,
              Order VisitOrder) {
  auto Anchored = [&](const Node &N) {
    return llvm::any_of(Patterns, [&](const RewritePattern *P) {
      return llvm::is_contained(P->anchors(), N.opName());
    });
  };
  std::deque<Node *> Work;
  for (Node *N : G.nodeList())
    if (Anchored(*N))
      Work.push_back(N);
  if (VisitOrder == Order::Reverse)
    std::reverse(Work.begin(), Work.end());
  // Each live node is visited once: an entry left behind by a node whose
  // address a created node took is visited in its place, and the created
  // node's own entry is then skipped.
  llvm::DenseSet<Node *> Pending(Work.begin(), Work.end());
  llvm::DenseSet<Node *> FromRewrites;

  Rewriter R(G, Ctx, PassName);
  while (!Work.empty()) {
    Node *N = Work.front();
    Work.pop_front();
    if (!Pending.erase(N) || R.isErased(N))
      continue;
    std::optional<std::string> Why;
    for (const RewritePattern *P : Patterns) {
      if (!llvm::is_contained(P->anchors(), N->opName()))
        continue;
      llvm::Expected<Attempt> A = P->apply(*N, R);
      if (!A)
        return A.takeError();
      if (A->What == Attempt::Applied) {
        Why.reset();
        break;
      }
      if (A->What == Attempt::Failed && !Why)
        Why = std::move(A->Why);
    }
    if (Why && !FromRewrites.count(N))
      Ctx.debug() << PassName << ": " << N->describe() << ": " << *Why << "\n";
    for (Node *C : R.takeCreated())
      if (Anchored(*C)) {
        FromRewrites.insert(C);
        if (Pending.insert(C).second)
          Work.push_back(C);
      }
  }
  return R.changed();
}

} // namespace kiln::rewrite
