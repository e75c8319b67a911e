//===- CSE.cpp - common subexpression elimination -------------------------===//
//
// Two constants with the same type and bytes are one; two nodes with the same
// op, operands, attributes and result types compute the same values (every
// registered op is a pure function of its operands), so the later one is
// replaced by the earlier.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "llvm/ADT/Hashing.h"

#include <unordered_map>

namespace kiln {
namespace {

bool sameNode(const Node &A, const Node &B) {
  if (A.opName() != B.opName() || A.operands() != B.operands() ||
      A.numResults() != B.numResults())
    return false;
  for (unsigned I = 0; I < A.numResults(); ++I)
    if (A.result(I)->type() != B.result(I)->type())
      return false;
  if (A.attrs().size() != B.attrs().size())
    return false;
  for (const auto &[Name, Attr] : A.attrs()) {
    const Attribute *Other = B.attr(Name);
    if (!Other || *Other != Attr)
      return false;
  }
  return true;
}

size_t hashNode(const Node &N) {
  size_t H = llvm::hash_value(N.opName());
  for (Value *V : N.operands())
    H = llvm::hash_combine(H, V);
  for (const auto &Entry : N.attrs())
    H = llvm::hash_combine(H, llvm::StringRef(Entry.first));
  return H;
}

size_t hashConstant(const Tensor &T) {
  return llvm::hash_combine(
      T.dtype(), llvm::hash_combine_range(T.sizes().begin(), T.sizes().end()),
      llvm::hash_combine_range(T.bytes(), T.bytes() + T.byteSize()));
}

} // namespace

llvm::Expected<bool> runCSE(Graph &G, const PassOptions &, PassContext &Ctx) {
  bool Changed = false;

  std::unordered_multimap<size_t, Value *> Constants;
  for (Value *C :
       std::vector<Value *>(G.constants().begin(), G.constants().end())) {
    const Tensor *T = C->constantData();
    if (!T)
      continue;
    size_t H = hashConstant(*T);
    auto [Begin, End] = Constants.equal_range(H);
    Value *Same = nullptr;
    for (auto It = Begin; It != End && !Same; ++It)
      if (It->second->constantData()->identical(*T))
        Same = It->second;
    if (!Same) {
      Constants.emplace(H, C);
      continue;
    }
    if (G.isOutput(C) && G.isOutput(Same))
      continue;
    C->replaceAllUsesWith(Same);
    G.eraseValue(C);
    Ctx.bumpStat("constants-merged");
    Changed = true;
  }

  std::unordered_multimap<size_t, Node *> Seen;
  for (Node *N : G.nodeList()) {
    size_t H = hashNode(*N);
    auto [Begin, End] = Seen.equal_range(H);
    Node *Same = nullptr;
    for (auto It = Begin; It != End && !Same; ++It)
      if (sameNode(*It->second, *N))
        Same = It->second;
    if (!Same) {
      Seen.emplace(H, N);
      continue;
    }
    // Two graph outputs computing the same value both stay: each name is
    // part of the graph's interface.
    bool BothOutputs = false;
    for (unsigned I = 0; I < N->numResults(); ++I)
      BothOutputs |= G.isOutput(N->result(I)) && G.isOutput(Same->result(I));
    if (BothOutputs)
      continue;
    for (unsigned I = 0; I < N->numResults(); ++I)
      N->result(I)->replaceAllUsesWith(Same->result(I));
    G.eraseNode(N);
    Ctx.bumpStat("nodes-merged");
    Changed = true;
  }
  return Changed;
}

} // namespace kiln
