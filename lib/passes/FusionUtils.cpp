#include "passes/FusionUtils.h"

#include "ir/ops/OpUtils.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <deque>

namespace kiln::fusion {

std::optional<double> scalarValue(const Value *V) {
  const Tensor *T = V->constantData();
  if (!T || T->numElements() != 1)
    return std::nullopt;
  return T->getDouble(0);
}

bool constantAxesAre(const Node &N, unsigned AxesIndex, int64_t Axis,
                     int64_t Rank) {
  Value *Axes = N.operand(AxesIndex);
  const Tensor *T = Axes ? Axes->constantData() : nullptr;
  if (!T || T->numElements() != 1 || !isInteger(T->dtype()))
    return false;
  std::optional<int64_t> Got = normalizeAxis(T->getInt(0), Rank);
  std::optional<int64_t> Want = normalizeAxis(Axis, Rank);
  return Got && Want && *Got == *Want;
}

bool reducesOnlyAxis(const Node &N, int64_t Axis, bool KeepDims) {
  Value *In = N.operand(0);
  return In && N.getInt("keepdims", 1) == int64_t(KeepDims) &&
         constantAxesAre(N, 1, Axis, In->rank());
}

bool isChannelVector(const Value *V, const Dim &Width) {
  const Tensor *T = V->constantData();
  if (!T || !Width.isStatic() || T->rank() < 1 ||
      T->sizes().back() != Width.value() || T->numElements() != Width.value())
    return false;
  return true;
}

Value *asVector(rewrite::Rewriter &R, Value *V) {
  const Tensor &T = *V->constantData();
  if (T.rank() == 1)
    return V;
  return R.addConstant(V->name() + ".vector", T.reshaped({T.numElements()}));
}

bool sameType(const TensorType &A, const TensorType &B) {
  if (A.Elem != B.Elem || A.rank() != B.rank())
    return false;
  for (int64_t I = 0; I < A.rank(); ++I)
    if (!A.Dims[I].sameAs(B.Dims[I]))
      return false;
  return true;
}

bool refinesTo(const TensorType &Declared, const TensorType &Known) {
  if (Declared.Elem != Known.Elem || Declared.rank() != Known.rank())
    return false;
  for (int64_t I = 0; I < Declared.rank(); ++I)
    if (!Declared.Dims[I].isUnknown() &&
        !Declared.Dims[I].sameAs(Known.Dims[I]))
      return false;
  return true;
}

bool constantsFit(const pat::Match &M, const TensorType &T) {
  for (Node *N : M.matchedNodes())
    for (Value *V : N->operands()) {
      const Tensor *C = V ? V->constantData() : nullptr;
      if (!C)
        continue;
      if (C->rank() > T.rank())
        return false;
      for (int64_t I = 0; I < C->rank(); ++I) {
        int64_t Size = C->dim(I);
        const Dim &D = T.Dims[T.rank() - C->rank() + I];
        if (Size != 1 && !(D.isStatic() && D.value() == Size))
          return false;
      }
    }
  return true;
}

std::vector<Reached> nodesBelow(Node *Anchor, unsigned MaxSteps,
                                llvm::ArrayRef<llvm::StringRef> Through) {
  std::vector<Reached> Found;
  llvm::DenseSet<Node *> Seen = {Anchor};
  std::deque<Reached> Queue = {{Anchor, 0}};
  while (!Queue.empty()) {
    Reached R = Queue.front();
    Queue.pop_front();
    if (R.Distance == MaxSteps)
      continue;
    for (Value *Result : R.N->results())
      for (const Use &U : Result->uses()) {
        if (!llvm::is_contained(Through, U.User->opName()) ||
            !Seen.insert(U.User).second)
          continue;
        Found.push_back({U.User, R.Distance + 1});
        Queue.push_back({U.User, R.Distance + 1});
      }
  }
  std::stable_sort(Found.begin(), Found.end(),
                   [](const Reached &A, const Reached &B) {
                     return A.Distance > B.Distance;
                   });
  return Found;
}

RootMatch matchFirst(llvm::ArrayRef<Reached> Roots, const pat::Pattern &P,
                     AcceptFn Accept) {
  RootMatch Out;
  std::optional<std::string> Refused;
  // A failure at pattern depth D below a root D' steps from the anchor got
  // D - D' steps past the anchor: the attempt that got furthest says best
  // what is wrong with the candidate.
  std::optional<int64_t> BestProgress;
  for (const Reached &R : Roots) {
    pat::MatchResult M = pat::match(P, R.N->result());
    if (!M.Matched) {
      int64_t Progress = int64_t(M.FailDepth) - int64_t(R.Distance);
      if (!BestProgress || Progress > *BestProgress) {
        BestProgress = Progress;
        Out.Why = M.Why;
      }
      continue;
    }
    if (std::optional<std::string> Why = Accept(R.N, M.Bindings)) {
      if (!Refused)
        Refused = std::move(*Why);
      continue;
    }
    Out.Root = R.N;
    Out.Bindings = std::move(M.Bindings);
    Out.Why.clear();
    return Out;
  }
  if (Refused)
    Out.Why = std::move(*Refused);
  else if (Roots.empty())
    Out.Why = "no candidate root below it";
  return Out;
}

} // namespace kiln::fusion
