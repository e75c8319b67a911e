#include "passes/FusionUtils.h"

#include "ir/ops/OpUtils.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
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

namespace {

/// The integers of a constant operand, or nullopt.
std::optional<std::vector<int64_t>> constantInts(const Value *V) {
  const Tensor *T = V ? V->constantData() : nullptr;
  if (!T || !isInteger(T->dtype()))
    return std::nullopt;
  std::vector<int64_t> Out;
  for (int64_t I = 0; I < T->numElements(); ++I)
    Out.push_back(T->getInt(I));
  return Out;
}

} // namespace

llvm::Expected<LastAxisRange> lastAxisRange(Value *V) {
  Node *N = V->definingNode();
  if (!N || (N->opName() != "Slice" && N->opName() != "Split"))
    return makeError("%" + V->name() + " is no Slice or Split");
  Value *X = N->operand(0);
  int64_t Rank = X->rank();
  if (Rank < 1 || !X->type().Dims.back().isStatic())
    return makeError("%" + X->name() + " " + X->type().str() +
                     " has no static last dim");
  int64_t Width = X->type().Dims.back().value();
  if (N->opName() == "Split") {
    std::optional<int64_t> Axis = normalizeAxis(N->getInt("axis", 0), Rank);
    if (!Axis || *Axis != Rank - 1)
      return makeError("the Split of %" + X->name() +
                       " is not along its last axis");
    std::vector<int64_t> Sizes;
    if (N->operand(1)) {
      std::optional<std::vector<int64_t>> Given = constantInts(N->operand(1));
      if (!Given)
        return makeError("the Split of %" + X->name() +
                         " has no constant sizes");
      Sizes = *Given;
    } else {
      int64_t Parts = N->numResults();
      Sizes.assign(Parts, (Width + Parts - 1) / Parts);
      Sizes.back() = Width - (Parts - 1) * Sizes.front();
    }
    if (Sizes.size() != N->numResults())
      return makeError("the Split of %" + X->name() +
                       " does not size each result");
    int64_t Begin = 0;
    for (unsigned I = 0; I < V->resultIndex(); ++I)
      Begin += Sizes[I];
    return LastAxisRange{X, Begin, Begin + Sizes[V->resultIndex()]};
  }
  std::optional<std::vector<int64_t>> Starts = constantInts(N->operand(1)),
                                      Ends = constantInts(N->operand(2));
  std::optional<std::vector<int64_t>> Axes =
      N->operand(3) ? constantInts(N->operand(3)) : std::vector<int64_t>{0};
  std::optional<std::vector<int64_t>> Steps =
      N->operand(4) ? constantInts(N->operand(4)) : std::vector<int64_t>{1};
  if (!Starts || !Ends || !Axes || !Steps || Starts->size() != 1 ||
      Ends->size() != 1 || Axes->size() != 1 || Steps->size() != 1)
    return makeError("the Slice of %" + X->name() +
                     " is not one constant range");
  std::optional<int64_t> Axis = normalizeAxis(Axes->front(), Rank);
  if (!Axis || *Axis != Rank - 1)
    return makeError("the Slice of %" + X->name() +
                     " is not along its last axis");
  if (Steps->front() != 1)
    return makeError("the Slice of %" + X->name() + " has a step of " +
                     std::to_string(Steps->front()));
  auto Clamp = [&](int64_t I) {
    if (I < 0)
      I += Width;
    return std::clamp<int64_t>(I, 0, Width);
  };
  return LastAxisRange{X, Clamp(Starts->front()), Clamp(Ends->front())};
}

} // namespace kiln::fusion
