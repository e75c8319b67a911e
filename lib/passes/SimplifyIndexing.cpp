//===- SimplifyIndexing.cpp - index arithmetic into plain broadcasts ------===//
//
// With the affine forms and views of IndexAnalysis.h:
//
//   x = Gather(Flatten(m), b * S + k) ...   (a view of m)  -> Unsqueeze(m, a)
//   Reshape, Squeeze, Expand of such a view                 -> Unsqueeze(m, a)
//   iota >= c, iota < c, ... decided by iota's range        -> true or false
//   And(true, x), And(x, true), Or(false, x), Or(x, false)  -> x
//
// so that a mask built by index arithmetic becomes an Unsqueeze of the
// [B, S] mask, and the index computation (Range, Shape, Mul, Add, Flatten,
// Gather, GatherND, Concat, Expand, Reshape) dies.
//
// The decided comparison and the And it feeds are broadcasts of smaller
// tensors ([1, 1, S, 1] of true). Replacing them by a one-element constant,
// or by x, shrinks their result; that is done only where every consumer
// broadcasts it anyway: elementwise ops whose results keep their types or
// shrink in turn under the same rule, and Attention's mask operand, which
// takes anything broadcastable to [B, heads, S, S]. Types are re-inferred
// downstream of a shrunk value.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/OpUtils.h"
#include "passes/IndexAnalysis.h"
#include "passes/Passes.h"
#include "passes/Pattern.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

namespace kiln {
namespace {

/// Ops whose result broadcasts their operands elementwise.
bool isBroadcastingElementwise(llvm::StringRef Op) {
  static const llvm::StringSet<> Ops = {"Add",
                                        "Sub",
                                        "Mul",
                                        "Div",
                                        "Pow",
                                        "Max",
                                        "Min",
                                        "And",
                                        "Or",
                                        "Xor",
                                        "Not",
                                        "Neg",
                                        "Abs",
                                        "Cast",
                                        "Exp",
                                        "Sqrt",
                                        "Relu",
                                        "Sigmoid",
                                        "Tanh",
                                        "Erf",
                                        "Identity",
                                        "Less",
                                        "Greater",
                                        "Equal",
                                        "Where",
                                        "LessOrEqual",
                                        "GreaterOrEqual",
                                        "FusedElementwise"};
  return Ops.contains(Op);
}

bool sameDims(const Shape &A, const Shape &B) {
  return A.size() == B.size() &&
         llvm::all_of(llvm::zip(A, B), [](const auto &P) {
           return std::get<0>(P).sameAs(std::get<1>(P));
         });
}

/// True when `V` may be replaced by a value of type `Smaller`, which
/// broadcasts to V's type: every consumer broadcasts it to the same result,
/// or to a smaller one that may shrink in turn, or is Attention's mask.
bool broadcastsAway(const Graph &G, const Value *V, const TensorType &Smaller) {
  if (G.isOutput(V))
    return false;
  for (const Use &U : V->uses()) {
    const Node *User = U.User;
    if (User->opName() == "Attention" && U.OperandIndex == 3)
      continue;
    if (!isBroadcastingElementwise(User->opName()) || User->numResults() != 1)
      return false;
    std::vector<Shape> Shapes;
    for (const Value *O : User->operands())
      if (O)
        Shapes.push_back(O == V ? Smaller.Dims : O->type().Dims);
    auto Out = broadcastShapes(Shapes);
    if (!Out) {
      llvm::consumeError(Out.takeError());
      return false;
    }
    const TensorType &Old = User->result()->type();
    if (sameDims(*Out, Old.Dims))
      continue;
    if (!broadcastsAway(G, User->result(), TensorType(Old.Elem, *Out)))
      return false;
  }
  return true;
}

/// Re-infers the types of everything downstream of `V` whose type changes.
llvm::Error reinferUsers(Value *V) {
  ShapeValueMap NoShapeValues;
  std::vector<Value *> Work = {V};
  while (!Work.empty()) {
    Value *Changed = Work.back();
    Work.pop_back();
    for (const Use &U : Changed->uses()) {
      auto Types = inferNodeTypes(*U.User, NoShapeValues);
      if (!Types)
        return Types.takeError();
      for (unsigned I = 0; I < U.User->numResults(); ++I) {
        Value *R = U.User->result(I);
        if (R->type() == (*Types)[I])
          continue;
        R->setType((*Types)[I]);
        Work.push_back(R);
      }
    }
  }
  return llvm::Error::success();
}

/// The value every element of the boolean constant `V` holds, if one.
std::optional<bool> uniformBool(const Value *V) {
  const Tensor *T = V ? V->constantData() : nullptr;
  if (!T || V->dtype() != DType::Bool || T->numElements() == 0)
    return std::nullopt;
  bool First = T->getInt(0) != 0;
  for (int64_t I = 1; I < T->numElements(); ++I)
    if ((T->getInt(I) != 0) != First)
      return std::nullopt;
  return First;
}

/// `a op b` when the ranges of a and b decide it for every element.
std::optional<bool> decide(llvm::StringRef Op, const IndexRange &A,
                           const IndexRange &B) {
  // a < b everywhere / a >= b everywhere, and the like.
  auto Below = [](const IndexRange &X, const IndexRange &Y, int64_t Gap) {
    return X.Max && Y.Min && *X.Max + Gap <= *Y.Min;
  };
  if (Op == "Less" || Op == "GreaterOrEqual") {
    bool Less = Op == "Less";
    if (Below(A, B, 1))
      return Less;
    if (Below(B, A, 0))
      return !Less;
  }
  if (Op == "Greater" || Op == "LessOrEqual") {
    bool Greater = Op == "Greater";
    if (Below(B, A, 1))
      return Greater;
    if (Below(A, B, 0))
      return !Greater;
  }
  return std::nullopt;
}

class Simplifier {
public:
  Simplifier(Graph &G, PassContext &Ctx) : G(G), Ctx(Ctx) {}

  /// Decides comparisons of affine indices and drops And/Or identities.
  llvm::Expected<bool> foldPredicates() {
    IndexAnalysis Index(G);
    bool Changed = false;
    for (Node *N : G.nodeList()) {
      llvm::StringRef Op = N->opName();
      Value *R = N->numResults() == 1 ? N->result() : nullptr;
      if (!R || N->numOperands() != 2 || !N->operand(0) || !N->operand(1))
        continue;
      if (Op == "And" || Op == "Or") {
        // And(true, x) = x, Or(false, x) = x
        bool Neutral = Op == "And";
        for (unsigned I : {0u, 1u}) {
          if (uniformBool(N->operand(I)) != std::optional<bool>(Neutral))
            continue;
          auto Done = replace(N, N->operand(1 - I), "identities-removed");
          if (!Done)
            return Done.takeError();
          Changed |= *Done;
          break;
        }
        continue;
      }
      if (Op != "Less" && Op != "LessOrEqual" && Op != "Greater" &&
          Op != "GreaterOrEqual")
        continue;
      IndexRange A = Index.range(N->operand(0)), B = Index.range(N->operand(1));
      if (!Index.affine(N->operand(0)) || !Index.affine(N->operand(1)))
        continue;
      std::optional<bool> Known = decide(Op, A, B);
      if (!Known) {
        Ctx.debug() << "simplify-indexing: " << N->describe()
                    << ": the index ranges do not decide it\n";
        continue;
      }
      Value *C = G.addConstant(G.uniqueName(R->name() + ".decided"),
                               Tensor::fromInts(DType::Bool, {}, {*Known}));
      auto Done = replace(N, C, "comparisons-decided");
      if (!Done)
        return Done.takeError();
      if (!*Done)
        G.eraseValue(C);
      Changed |= *Done;
    }
    return Changed;
  }

  /// Replaces each re-indexing by an Unsqueeze of its source, last to first
  /// so that the end of a chain is replaced and the rest of it dies.
  llvm::Expected<bool> replaceViews() {
    IndexAnalysis Index(G);
    bool Changed = false;
    // Nodes whose results only replaced nodes (or nothing) use: users come
    // after their operands, so walking backwards sees a node's users first.
    llvm::DenseSet<const Node *> Unused(Replaced.begin(), Replaced.end());
    std::vector<Node *> Nodes = G.nodeList();
    for (Node *N : llvm::reverse(Nodes)) {
      bool Needed = false;
      for (Value *R : N->results()) {
        Needed |= G.isOutput(R);
        for (const Use &U : R->uses())
          Needed |= !Unused.count(U.User);
      }
      if (!Needed) {
        Unused.insert(N);
        continue;
      }
      if (N->numResults() != 1)
        continue;
      const SourceView *View = Index.view(N->result());
      if (!View) {
        reportGather(Index, *N);
        continue;
      }
      auto Done = replaceView(*N, *View);
      if (!Done)
        return Done.takeError();
      if (*Done)
        Unused.insert(N);
      Changed |= *Done;
    }
    return Changed;
  }

  /// Erases the replaced nodes and whatever else only they used, and gives
  /// each replacement the name of the value it replaced.
  void eraseDead() {
    llvm::DenseSet<Node *> Erased;
    std::vector<Node *> Work = Replaced;
    while (!Work.empty()) {
      Node *N = Work.back();
      Work.pop_back();
      if (Erased.count(N) || llvm::any_of(N->results(), [&](Value *R) {
            return R->hasUses() || G.isOutput(R);
          }))
        continue;
      std::vector<Value *> Operands(N->operands().begin(), N->operands().end());
      Erased.insert(N);
      G.eraseNode(N);
      for (Value *O : Operands) {
        if (!O || O->hasUses() || G.isOutput(O))
          continue;
        if (Node *Def = O->definingNode())
          Work.push_back(Def);
        else if (O->isConstant())
          G.eraseValue(O);
      }
    }
    Replaced.clear();
    for (auto &[V, Name] : Renames)
      if (!G.lookup(Name))
        G.rename(V, Name);
    Renames.clear();
  }

private:
  /// Replaces `N`'s result by `By`, which must equal it after broadcasting;
  /// false (with the reason under --debug-only) when a consumer needs the
  /// result's full shape.
  llvm::Expected<bool> replace(Node *N, Value *By, llvm::StringRef Stat) {
    Value *R = N->result();
    bool Shrinks = !sameDims(By->type().Dims, R->type().Dims);
    if (Shrinks && !broadcastsAway(G, R, By->type())) {
      Ctx.debug() << "simplify-indexing: " << N->describe() << ": "
                  << By->type().str() << " would replace " << R->type().str()
                  << ", and a consumer needs the full shape\n";
      return false;
    }
    R->replaceAllUsesWith(By);
    Replaced.push_back(N);
    Ctx.bumpStat(Stat);
    if (Shrinks)
      if (llvm::Error E = reinferUsers(By))
        return std::move(E);
    return true;
  }

  llvm::Expected<bool> replaceView(Node &N, const SourceView &View) {
    Value *R = N.result();
    for (size_t I = 1; I < View.Axes.size(); ++I)
      if (View.Axes[I] <= View.Axes[I - 1]) {
        Ctx.debug() << "simplify-indexing: " << N.describe()
                    << ": the re-indexing of %" << View.Source->name()
                    << " permutes its axes\n";
        return false;
      }
    // Unsqueeze(source) at the axes the view does not take from it.
    std::vector<int64_t> NewAxes;
    Shape Dims = R->type().Dims;
    for (int64_t J = 0; J < R->rank(); ++J)
      if (!llvm::is_contained(View.Axes, J)) {
        NewAxes.push_back(J);
        Dims[J] = Dim(1);
      }
    if (NewAxes.empty())
      return replace(&N, View.Source, "reindexings-simplified");
    if (!sameDims(Dims, R->type().Dims) &&
        !broadcastsAway(G, R, TensorType(R->dtype(), Dims))) {
      Ctx.debug() << "simplify-indexing: " << N.describe()
                  << ": the re-indexing broadcasts %" << View.Source->name()
                  << ", and a consumer needs the full shape\n";
      return false;
    }
    // Unsqueeze renames axes only, so it commutes with the casts and Nots
    // that make the source (Cast(mask, bool)): placed before them, it leaves
    // them next to the mask arithmetic that follows, for fuse-elementwise.
    std::vector<Node *> Unary;
    Value *Base = View.Source;
    while (Node *Def = Base->definingNode()) {
      if ((Def->opName() != "Cast" && Def->opName() != "Not") ||
          Def->numOperands() != 1)
        break;
      Unary.push_back(Def);
      Base = Def->operand(0);
    }
    Value *Axes = G.addConstant(
        G.uniqueName(R->name() + ".axes"),
        Tensor::fromInts(DType::I64, {int64_t(NewAxes.size())}, NewAxes));
    Value *By = G.createNode("Unsqueeze", {Base, Axes},
                             {TensorType(Base->dtype(), Dims)}, {}, N.name(),
                             {G.uniqueName(R->name() + ".reindexed")}, &N)
                    ->result();
    for (Node *U : llvm::reverse(Unary))
      By = G.createNode(U->opName(), {By},
                        {TensorType(U->result()->dtype(), Dims)}, U->attrs(),
                        U->name(), {G.uniqueName(U->result()->name())}, &N)
               ->result();
    auto Done = replace(&N, By, "reindexings-simplified");
    if (Done && *Done)
      Renames.push_back({By, R->name()});
    return Done;
  }

  /// Says why a Gather or GatherND over index arithmetic is no re-indexing.
  void reportGather(const IndexAnalysis &Index, const Node &N) {
    if (N.opName() != "Gather" && N.opName() != "GatherND")
      return;
    std::string Why = Index.whyNoView(N.result());
    if (Why.empty())
      return;
    const AffineIndex *A = Index.affine(N.operand(1));
    bool Arithmetic = N.opName() == "GatherND" ||
                      (A && llvm::any_of(A->Coefs, [](const IndexCoef &C) {
                         return !C.isZero();
                       }));
    if (Arithmetic)
      Ctx.debug() << "simplify-indexing: " << N.describe() << ": " << Why
                  << "\n";
  }

  Graph &G;
  PassContext &Ctx;
  std::vector<Node *> Replaced;
  std::vector<std::pair<Value *, std::string>> Renames;
};

} // namespace

llvm::Expected<bool> runSimplifyIndexing(Graph &G, const PassOptions &,
                                         PassContext &Ctx) {
  Simplifier S(G, Ctx);
  auto Folded = S.foldPredicates();
  if (!Folded)
    return Folded.takeError();
  // Replaced nodes stay (unused) until the end, so that no new value reuses
  // an address the analysis knows.
  S.eraseDead();
  auto Views = S.replaceViews();
  if (!Views)
    return Views.takeError();
  S.eraseDead();
  return *Folded || *Views;
}

} // namespace kiln
