//===- Canonicalize.cpp - local simplifications ---------------------------===//
//
// Rewrites that make a graph smaller without changing what it computes:
//   Identity(x), Dropout(x) (inference)          -> x
//   Cast(x) to x's dtype, Reshape/Expand/Transpose that keep x's type and
//   layout                                       -> x
//   x + 0, x - 0, x * 1, x / 1, Pow(x, 1)        -> x  (when the type is kept)
//   Reshape(Reshape(x, s1), s2)                  -> Reshape(x, s2)
//   Transpose(Transpose(x, p1), p2)              -> Transpose(x, p1∘p2)
//   Squeeze(Unsqueeze(x, a), a), Neg(Neg(x))     -> x
//   Cast(Cast(x, t1), t2) where t1 widens x      -> Cast(x, t2)
// Each rewrite applies only when the result keeps the replaced value's type,
// so that no broadcast is lost.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Pattern.h"

#include "ir/OpRegistry.h"

#include <numeric>

namespace kiln {
namespace {

using namespace pat;

/// True when the constant `V` holds a shape value with no 0 entry (so a
/// Reshape to it does not depend on its input's dims).
bool hasNoZeroEntry(Value *V) {
  const Tensor *T = V->constantData();
  if (!T)
    return false;
  for (int64_t X : T->toInts())
    if (X == 0)
      return false;
  return true;
}

std::vector<int64_t> permOf(const Node &N) {
  std::vector<int64_t> Perm = N.getInts("perm");
  if (Perm.empty()) {
    Perm.resize(N.operand(0)->rank());
    std::iota(Perm.rbegin(), Perm.rend(), 0);
  }
  return Perm;
}

bool isIdentityPerm(llvm::ArrayRef<int64_t> Perm) {
  for (size_t I = 0; I < Perm.size(); ++I)
    if (Perm[I] != int64_t(I))
      return false;
  return true;
}

/// Precision of a dtype, for deciding whether a cast loses information.
int rankOfDType(DType T) {
  switch (T) {
  case DType::Bool: return 0;
  case DType::U8:
  case DType::I8: return 1;
  case DType::I32: return 2;
  case DType::I64: return 3;
  default: return -1;
  }
}

/// True when casting from `From` to `To` is exact for every value of `From`.
bool castIsExact(DType From, DType To) {
  if (From == To)
    return true;
  if (isFloat(From))
    return To == DType::F64 || (To == DType::F32 && From != DType::F64);
  if (From == DType::Bool)
    return true;
  if (isFloat(To))
    return To == DType::F64 || rankOfDType(From) <= 1;
  return rankOfDType(From) < rankOfDType(To) &&
         !(From == DType::U8 && To == DType::I8);
}

/// The value `N` simplifies to, or null. Builds nothing.
Value *simplifiesTo(Node &N) {
  Value *Result = N.result(0);
  llvm::StringRef Op = N.opName();
  if (N.numResults() != 1 && Op != "Dropout")
    return nullptr;
  Value *X = N.operand(0);
  if (!X)
    return nullptr;
  auto KeepsType = [&](Value *V) { return V->type() == Result->type(); };

  if (Op == "Identity")
    return X;
  if (Op == "Dropout") {
    if (N.numResults() > 1 && N.result(1)->hasUses())
      return nullptr;
    return X;
  }
  // A reshape or expand whose result has exactly the input's type moves no
  // element, unless an unknown dim hides a difference.
  if ((Op == "Reshape" || Op == "Expand") && KeepsType(X) &&
      llvm::none_of(X->type().Dims, [](const Dim &D) { return D.isUnknown(); }))
    return X;
  if (Op == "Cast" && X->dtype() == Result->dtype())
    return X;
  if (Op == "Transpose" && isIdentityPerm(permOf(N)))
    return X;

  // x + 0, x - 0, x * 1, x / 1, Pow(x, 1): the identity element must be the
  // second operand for Sub, Div and Pow.
  static const struct {
    const char *Op;
    double Identity;
  } Neutral[] = {
      {"Add", 0.0}, {"Sub", 0.0}, {"Mul", 1.0}, {"Div", 1.0}, {"Pow", 1.0}};
  for (const auto &E : Neutral) {
    if (Op != E.Op || N.numOperands() != 2)
      continue;
    bool Commutative = N.def() && N.def()->Commutative;
    for (unsigned Side = 0; Side < (Commutative ? 2u : 1u); ++Side) {
      Value *Kept = N.operand(Side), *Other = N.operand(1 - Side);
      if (match(scalar(E.Identity, 0.0), Other).Matched && KeepsType(Kept))
        return Kept;
    }
  }

  // Squeeze(Unsqueeze(x, a), a) and Neg(Neg(x)).
  for (const char *Pair : {"Squeeze", "Neg"}) {
    if (Op != Pair)
      continue;
    Node *Inner = X->definingNode();
    if (!Inner)
      continue;
    bool Inverse =
        Op == "Neg" ? Inner->opName() == "Neg" : Inner->opName() == "Unsqueeze";
    if (!Inverse || !KeepsType(Inner->operand(0)))
      continue;
    if (Op == "Squeeze") {
      const Tensor *A = N.operand(1) ? N.operand(1)->constantData() : nullptr;
      const Tensor *B =
          Inner->operand(1) ? Inner->operand(1)->constantData() : nullptr;
      if (!A || !B || A->toInts() != B->toInts())
        continue;
    }
    return Inner->operand(0);
  }
  return nullptr;
}

/// Rewrites `N` into a simpler node of the same kind; returns true if done.
bool composeChain(Graph &G, Node &N, PassContext &Ctx) {
  Value *X = N.operand(0);
  Node *Inner = X ? X->definingNode() : nullptr;
  if (!Inner || Inner->opName() != N.opName())
    return false;
  if (N.opName() == "Reshape" && N.operand(1) && hasNoZeroEntry(N.operand(1))) {
    N.setOperand(0, Inner->operand(0));
    Ctx.bumpStat("reshape-chains");
  } else if (N.opName() == "Transpose") {
    std::vector<int64_t> Outer = permOf(N), InnerPerm = permOf(*Inner);
    std::vector<int64_t> Composed(Outer.size());
    for (size_t I = 0; I < Outer.size(); ++I)
      Composed[I] = InnerPerm[Outer[I]];
    N.setAttr("perm", Composed);
    N.setOperand(0, Inner->operand(0));
    Ctx.bumpStat("transpose-chains");
  } else if (N.opName() == "Cast" &&
             castIsExact(Inner->operand(0)->dtype(), X->dtype())) {
    N.setOperand(0, Inner->operand(0));
    Ctx.bumpStat("cast-chains");
  } else {
    return false;
  }
  if (!Inner->result(0)->hasUses() && !G.isOutput(Inner->result(0)))
    G.eraseNode(Inner);
  return true;
}

} // namespace

llvm::Expected<bool> runCanonicalize(Graph &G, const PassOptions &,
                                     PassContext &Ctx) {
  bool Changed = false;
  bool Progress = true;
  while (Progress) {
    Progress = false;
    for (Node *N : G.nodeList()) {
      if (composeChain(G, *N, Ctx)) {
        Progress = true;
        continue;
      }
      Value *Replacement = simplifiesTo(*N);
      if (!Replacement)
        continue;
      Value *Result = N->result(0);
      // A graph output keeps its name; an input cannot take it over.
      if (G.isOutput(Result) &&
          (Replacement->isInput() || G.isOutput(Replacement))) {
        Ctx.debug() << "canonicalize: " << N->describe()
                    << ": result is a graph output fed by an input\n";
        continue;
      }
      Result->replaceAllUsesWith(Replacement);
      pat::eraseDeadNodes(G, {N});
      Ctx.bumpStat("nodes-simplified");
      Progress = true;
    }
    Changed |= Progress;
  }
  // What the rewrites left unused goes too (every op is pure).
  auto Cleaned = runDCE(G, {}, Ctx);
  if (!Cleaned)
    return Cleaned.takeError();
  return Changed || *Cleaned;
}

} // namespace kiln
