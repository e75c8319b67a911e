//===- FuseAttention.cpp - scaled dot-product attention into Attention ----===//
//
// Multi-head attention as the exporters write it for BERT-family encoders,
// with q, k, v the [B, S, H*D] projections:
//
//   heads(x) = Transpose(Reshape(x, [B, S, H, D]), perm = [0, 2, 1, 3]),
//              or any [B, H, S, D] value x4 (ModernBERT's q and k after the
//              rotary embedding, v split from a packed projection): Attention
//              then takes Reshape(Transpose(x4, [0, 2, 1, 3]), [B, S, H*D])
//   keysT(k) = heads(k) with its last two axes swapped, [B, H, D, S]: one
//              Transpose [0, 2, 3, 1], Transpose [0, 1, 3, 2] of heads(k), or
//              torchlib's Reshape [-1, S, D], Transpose [0, 2, 1], Reshape
//   scores   = ((heads(q) * sq) @ (keysT(k) * sk)) * s     (each scale
//              optional, a Mul or a Div by a one-element constant)
//   probs    = Softmax(scores + bias + mask, axis = -1)    (bias and mask
//              optional: terms broadcastable to [B, H, S, S], such as a
//              sliding-window mask [B, 1, S, S]), or SDPA's
//              NaN guard of it, Where(IsNaN(probs), 0, probs)
//   out      = Reshape(Transpose(probs @ heads(v), [0, 2, 1, 3]), [B, S, H*D])
//
// becomes out = Attention(q, k, v, bias + mask) {num_heads = H, scale = sq *
// sk * s}. The mask's computation stays in the graph (it is cheap, and other
// fusions take it); two additive terms, such as MPNet's relative position
// bias and the padding mask, are summed into one mask operand. A row
// masked with -inf throughout (SDPA's Where(mask, 0, -inf) on a padding-only
// row) is NaN after the Softmax, 0 after SDPA's guard, and 0 in Attention;
// a mask of -FLT_MAX keeps such a row finite (it averages v), as before.
//
// Each Softmax is a candidate: from it the pass follows the only MatMul,
// Transpose and Reshape that consume it to the root, then matches the whole
// formula from there. Shapes are checked on the inferred types (rank-4
// [B, S, H, D] with static H and D), whatever computes the Reshape targets;
// the Shape -> Slice -> Concat chains that compute them from the replaced
// intermediates go away with the match.
//
// A graph whose inputs leave a dim unnamed (`?`) has unknown dims all
// through the attention, so the match and the checks read types in which
// each unknown dim has a name of its own (NamedTypes, inferred on a copy of
// the graph, so that matching never mutates it): Shape(x)[1] then carries
// x's dim into the Reshape targets. The exporters' graphs no longer need
// this (type inference names the sequence after the position-id Slice), but
// such inputs do. The checks also type each mask sum as its scores: a mask
// whose dims the types cannot relate to the scores' is taken not to make
// them larger (it is built from the same batch and sequence), which the
// reference Attention checks when it runs.
//
//===----------------------------------------------------------------------===//
#include "ir/ShapeInference.h"
#include "ir/ops/OpUtils.h"
#include "passes/Passes.h"
#include "passes/Pattern.h"
#include "passes/RewriteDriver.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace kiln {
namespace {

using namespace pat;

std::string formatInts(llvm::ArrayRef<int64_t> Xs) {
  return "[" +
         llvm::join(
             llvm::map_range(Xs, [](int64_t X) { return std::to_string(X); }),
             ", ") +
         "]";
}

std::string formatDims(llvm::ArrayRef<Dim> Dims) {
  return "[" +
         llvm::join(llvm::map_range(Dims, [](const Dim &D) { return D.str(); }),
                    ", ") +
         "]";
}

/// The types of a graph's values with every dim that type inference leaves
/// unknown given a symbol of its own ("?0", "?1", ...), so that the checks
/// can tell two unknown dims that are the same from two that merely are both
/// unknown: Shape(x)[1] then carries x's dim into the Reshape targets
/// computed from it, as a symbol carries `seq`. A node in `SameTypeAs` takes
/// the type of the value given instead of its inferred one (a mask Add taken
/// not to grow the scores). Inference runs on a copy: the graph keeps its
/// types.
class NamedTypes {
public:
  NamedTypes(const Graph &G,
             const llvm::DenseMap<const Node *, Value *> &SameTypeAs) {
    std::unique_ptr<Graph> Copy = G.clone();
    for (auto [In, CopyIn] : llvm::zip_equal(G.inputs(), Copy->inputs()))
      name(In, *CopyIn, CopyIn->type());
    ShapeValueMap ShapeValues;
    collectConstantShapeValues(*Copy, ShapeValues);
    std::vector<Node *> Nodes = G.nodeList(), Copies = Copy->nodeList();
    for (auto [N, C] : llvm::zip_equal(Nodes, Copies)) {
      if (Value *Like = SameTypeAs.lookup(N)) {
        name(N->result(), *C->result(), of(Like));
        continue;
      }
      auto Inferred = inferNodeTypes(*C, ShapeValues);
      for (unsigned I = 0; I < C->numResults(); ++I) {
        Value *R = C->result(I);
        llvm::Expected<TensorType> T =
            Inferred ? mergeTypes((*Inferred)[I], R->type()) : R->type();
        if (!T) {
          llvm::consumeError(T.takeError());
          T = R->type();
        }
        name(N->result(I), *R, *T);
      }
      if (!Inferred)
        llvm::consumeError(Inferred.takeError());
    }
  }

  /// `V`'s type with its unknown dims named; its own type for a value the
  /// graph did not have (or a constant).
  const TensorType &of(const Value *V) const {
    auto It = Types.find(V);
    return It == Types.end() ? V->type() : It->second;
  }

private:
  /// Records `T` with fresh symbols as the type of `V`, and of its copy `C`
  /// for the inference of the nodes after it.
  void name(const Value *V, Value &C, TensorType T) {
    for (Dim &D : T.Dims)
      if (D.isUnknown())
        D = Dim::symbol("?" + std::to_string(Fresh++));
    C.setType(T);
    Types[V] = std::move(T);
  }

  llvm::DenseMap<const Value *, TensorType> Types;
  int64_t Fresh = 0;
};

/// Transpose(P) with exactly this permutation.
Pattern transposed(Pattern P, std::vector<int64_t> Perm) {
  std::string Why = "the permutation is not " + formatInts(Perm);
  return where(
      op("Transpose", {std::move(P)}),
      [Perm](Value *V, const Match &) {
        return V->definingNode()->getInts("perm") == Perm;
      },
      Why);
}

/// A one-element constant bound to `Name`.
Pattern scalarConstant(llvm::StringRef Name) {
  return where(
      constant(Name),
      [](Value *V, const Match &) {
        return V->constantData()->numElements() == 1 && isFloat(V->dtype());
      },
      "the scale is not a one-element float constant");
}

/// P, P * c or P / c; the Mul or Div node is bound to `Name`.mul / .div and
/// c to `Name`.
Pattern scaled(Pattern P, const std::string &Name) {
  return anyOf({op("Div", {P, scalarConstant(Name)}, Name + ".div"),
                op("Mul", {P, scalarConstant(Name)}, Name + ".mul"), P});
}

// Transpose(Reshape(x, [B, S, H, D]), [0, 2, 1, 3]): x is bound to `X`.
Pattern splitHeads(const std::string &X) {
  return transposed(op("Reshape", {capture(X), capture()}, X + ".split"),
                    {0, 2, 1, 3});
}

// heads(x): x split into heads, or else any [B, H, S, D] value, bound to
// `X`.heads (the checks read its type).
Pattern heads(const std::string &X) {
  return anyOf({splitHeads(X), capture(X + ".heads")});
}

/// Reshape(Transpose(Reshape(k4, [-1, S, D]), [0, 2, 1]), [B, H, D, S]) swaps
/// the last two axes of the rank-4 k4 when the types say so.
bool swapsLastTwoAxes(const NamedTypes &Types, Value *Out) {
  Node *Outer = Out->definingNode();
  Value *Squeezed = Outer->operand(0)->definingNode()->operand(0);
  Value *K4 = Squeezed->definingNode()->operand(0);
  const Shape &In = Types.of(K4).Dims, &Mid = Types.of(Squeezed).Dims,
              &Res = Types.of(Out).Dims;
  if (In.size() != 4 || Mid.size() != 3 || Res.size() != 4)
    return false;
  return Mid[1].sameAs(In[2]) && Mid[2].sameAs(In[3]) && Res[0].sameAs(In[0]) &&
         Res[1].sameAs(In[1]) && Res[2].sameAs(In[3]) && Res[3].sameAs(In[2]);
}

// keysT(k): heads(k) with the last two axes swapped, [B, H, D, S].
Pattern keysTransposed(const NamedTypes &Types) {
  return anyOf(
      {transposed(op("Reshape", {capture("k"), capture()}, "k.split"),
                  {0, 2, 3, 1}),
       transposed(heads("k"), {0, 1, 3, 2}),
       where(
           op("Reshape",
              {transposed(op("Reshape", {heads("k"), capture()}), {0, 2, 1}),
               capture()}),
           [&Types](Value *Out, const Match &) {
             return swapsLastTwoAxes(Types, Out);
           },
           "the Reshape, Transpose, Reshape does not swap the last two axes "
           "of the key heads")});
}

bool softmaxOverLastAxis(const NamedTypes &Types, const Node &Softmax) {
  int64_t Rank = Types.of(Softmax.result()).rank();
  return normalizeAxis(Softmax.getInt("axis", -1), Rank) ==
         std::optional<int64_t>(Rank - 1);
}

// out = Reshape(Transpose(probs @ heads(v)), [B, S, H*D]),
// probs = Softmax(scores + bias + mask) (the axis is checked per candidate)
Pattern attentionPattern(const NamedTypes &Types) {
  Pattern Scores =
      scaled(op("MatMul", {scaled(heads("q"), "q.scale"),
                           scaled(keysTransposed(Types), "k.scale")}),
             "scale");
  Pattern Logits =
      anyOf({op("Add",
                {op("Add", {Scores, capture("bias")}, "logits.inner"),
                 capture("mask")},
                "logits"),
             op("Add", {Scores, capture("mask")}, "logits"), Scores});
  Pattern Softmax = op("Softmax", {Logits}, "softmax");
  // SDPA's NaN guard for rows masked with -inf throughout, which Attention
  // writes as 0 too: Where(IsNaN(p), 0, p).
  Pattern Guarded = where(
      op("Where", {op("IsNaN", {capture("guarded")}), scalar(0.0), Softmax},
         "nan_guard"),
      [](Value *, const Match &M) {
        return M.value("guarded") == M.node("softmax")->result();
      },
      "the NaN guard tests another value than the softmax it guards");
  Pattern Probs = anyOf({Guarded, Softmax});
  return op(
      "Reshape",
      {transposed(op("MatMul", {Probs, heads("v")}), {0, 2, 1, 3}), capture()},
      "root");
}

/// The head split Reshape(x [B, S, H*D]) -> [B, S, H, D].
struct HeadSplit {
  Dim Batch, Seq;
  int64_t Heads = 0, HeadDim = 0;
};

/// The heads of a [B, H, S, D] value, with static H and D.
llvm::Expected<HeadSplit> headsOfValue(const NamedTypes &Named, const Match &M,
                                       const std::string &X) {
  const TensorType &T = Named.of(M.value(X + ".heads"));
  if (T.rank() != 4 || !T.Dims[1].isStatic() || !T.Dims[3].isStatic())
    return makeError(
        X + "'s heads are not [B, H, S, D] with static H and D: " + T.str());
  return HeadSplit{T.Dims[0], T.Dims[2], T.Dims[1].value(), T.Dims[3].value()};
}

llvm::Expected<HeadSplit> headSplit(const NamedTypes &Named, const Match &M,
                                    const std::string &X) {
  Node *Split = M.node(X + ".split");
  if (!Split)
    return headsOfValue(Named, M, X);
  const Shape &In = Named.of(Split->operand(0)).Dims;
  const Shape &Out = Named.of(Split->result()).Dims;
  std::string Types = Named.of(Split->operand(0)).str() + " -> " +
                      Named.of(Split->result()).str();
  if (In.size() != 3 || Out.size() != 4 || !Out[2].isStatic() ||
      !Out[3].isStatic())
    return makeError(X +
                     " is not split as [B, S, hidden] -> [B, S, H, D] "
                     "with static H and D: " +
                     Types);
  if (!Out[0].sameAs(In[0]) || !Out[1].sameAs(In[1]) || !In[2].isStatic() ||
      In[2].value() != Out[2].value() * Out[3].value())
    return makeError(X + "'s split is not a split of its last axis: " + Types);
  return HeadSplit{In[0], In[1], Out[2].value(), Out[3].value()};
}

/// True when adding a term of type `T` to scores of `Target`'s dims can make
/// the sum larger than the scores: a dim of 1 or the scores' own never does;
/// against a static scores dim, anything else does; against a symbolic one,
/// a different dim is taken to be the same size or 1 (the mask is built from
/// the same batch and sequence), which the reference Attention checks when
/// it runs.
bool growsScores(const TensorType &T, llvm::ArrayRef<Dim> Target) {
  if (T.rank() > int64_t(Target.size()))
    return true;
  size_t Offset = Target.size() - T.Dims.size();
  for (size_t I = 0; I < T.Dims.size(); ++I) {
    const Dim &D = T.Dims[I], &Score = Target[Offset + I];
    if ((D.isStatic() && D.value() == 1) || D.sameAs(Score))
      continue;
    if (Score.isStatic() && (Score.value() == 1 || D.isStatic()))
      return true;
  }
  return false;
}

/// What the Attention's operand `X` is made from: x itself when it was split
/// into heads, else its [B, H, S, D] heads.
Value *source(const Match &M, const std::string &X) {
  Value *V = M.value(X);
  return V ? V : M.value(X + ".heads");
}

/// The scale a bound Mul or Div applies: c or 1 / c (1 when absent).
double scaleOf(const Match &M, const std::string &Name) {
  const Tensor *C = M.constant(Name);
  if (!C)
    return 1.0;
  double V = C->getDouble(0);
  return M.node(Name + ".div") ? 1.0 / V : V;
}

/// Everything the rewrite removes: the matched nodes and the nodes only they
/// use, such as the Shape -> Slice -> Concat chain that computes the root
/// Reshape's target from an intermediate's shape. The producers of `Kept`
/// (the fused node's operands) stay.
llvm::DenseSet<Node *> dyingWith(const Graph &G, const Match &M,
                                 llvm::ArrayRef<Value *> Kept) {
  llvm::DenseSet<Node *> Dying(M.matchedNodes().begin(),
                               M.matchedNodes().end());
  llvm::DenseSet<Node *> Live;
  for (Value *V : Kept)
    if (V && V->definingNode())
      Live.insert(V->definingNode());
  // Users come after their operands' producers, so one pass from the end
  // usually finds the whole closure; repeat until nothing is added.
  bool Grew = true;
  while (Grew) {
    Grew = false;
    std::vector<Node *> Nodes = G.nodeList();
    for (auto It = Nodes.rbegin(); It != Nodes.rend(); ++It) {
      Node *N = *It;
      if (Dying.count(N) || Live.count(N))
        continue;
      bool OnlyFeedsDying = true, FeedsAny = false;
      for (Value *R : N->results()) {
        OnlyFeedsDying &= !G.isOutput(R);
        for (const Use &U : R->uses()) {
          OnlyFeedsDying &= bool(Dying.count(U.User));
          FeedsAny = true;
        }
      }
      if (OnlyFeedsDying && FeedsAny) {
        Dying.insert(N);
        Grew = true;
      }
    }
  }
  return Dying;
}

/// Why replacing the root would leave a matched intermediate needed, if it
/// would.
std::optional<std::string> outsideUse(const Graph &G, const Match &M,
                                      const llvm::DenseSet<Node *> &Dying) {
  for (Node *N : llvm::drop_begin(M.matchedNodes()))
    for (Value *R : N->results()) {
      if (G.isOutput(R))
        return "%" + R->name() + " is a graph output";
      for (const Use &U : R->uses())
        if (!Dying.count(U.User))
          return "%" + R->name() + " is also used by " + U.User->describe();
    }
  return std::nullopt;
}

/// A fusion that passed every check: what the Attention node takes.
struct Plan {
  int64_t Heads = 0, HeadDim = 0;
  double Scale = 1.0;
};

/// The side conditions the pattern cannot state: consistent head splits, an
/// output of [B, S, H*D] and masks that broadcast to [B, H, S, S].
llvm::Expected<Plan> checkShapes(const NamedTypes &Types, const Match &M) {
  auto Q = headSplit(Types, M, "q");
  if (!Q)
    return Q.takeError();
  auto K = headSplit(Types, M, "k");
  if (!K)
    return K.takeError();
  auto V = headSplit(Types, M, "v");
  if (!V)
    return V.takeError();
  if (Q->Heads != K->Heads || Q->Heads != V->Heads ||
      Q->HeadDim != K->HeadDim || Q->HeadDim != V->HeadDim)
    return makeError("q, k and v are split differently: [" +
                     llvm::Twine(Q->Heads) + " x " + llvm::Twine(Q->HeadDim) +
                     "], [" + llvm::Twine(K->Heads) + " x " +
                     llvm::Twine(K->HeadDim) + "], [" + llvm::Twine(V->Heads) +
                     " x " + llvm::Twine(V->HeadDim) + "] heads");
  if (!Q->Batch.sameAs(K->Batch) || !Q->Batch.sameAs(V->Batch) ||
      !K->Seq.sameAs(V->Seq))
    return makeError("q, k and v do not share the batch, or k and v the "
                     "sequence: " +
                     Types.of(source(M, "q")).str() + ", " +
                     Types.of(source(M, "k")).str() + ", " +
                     Types.of(source(M, "v")).str());
  Shape ScoreDims = {Q->Batch, Dim(Q->Heads), Q->Seq, K->Seq};
  for (const char *Term : {"bias", "mask"})
    if (Value *T = M.value(Term); T && growsScores(Types.of(T), ScoreDims))
      return makeError("mask %" + T->name() + " of type " + Types.of(T).str() +
                       " is not broadcastable to [B, heads, S, S] = " +
                       formatDims(ScoreDims));
  const TensorType &Out = Types.of(M.node("root")->result());
  if (Out.rank() != 3 || !Out.Dims[0].sameAs(Q->Batch) ||
      !Out.Dims[1].sameAs(Q->Seq) || !Out.Dims[2].isStatic() ||
      Out.Dims[2].value() != Q->Heads * Q->HeadDim)
    return makeError("the heads are not merged back into [B, S, H*D]: " +
                     Out.str());
  Plan P;
  P.Heads = Q->Heads;
  P.HeadDim = Q->HeadDim;
  P.Scale = scaleOf(M, "q.scale") * scaleOf(M, "k.scale") * scaleOf(M, "scale");
  return P;
}

/// The Attention's type: the root's, refined by what q's type knows.
TensorType outputType(const Match &M, const Plan &P) {
  const TensorType &Root = M.node("root")->result()->type();
  const Value *Q = source(M, "q");
  const TensorType &QT = Q->type();
  if (!M.value("q") && QT.rank() != 4)
    return Root;
  Dim Seq = M.value("q") ? QT.Dims[1] : QT.Dims[2];
  TensorType FromQ(QT.Elem, {QT.Dims[0], Seq, Dim(P.Heads * P.HeadDim)});
  auto T = mergeTypes(FromQ, Root);
  if (!T) {
    llvm::consumeError(T.takeError());
    return Root;
  }
  return *T;
}

/// The Reshape that ends the attention around `Softmax`, following the only
/// MatMul, Transpose and Reshape users of the probabilities (the Softmax, or
/// the Where of its NaN guard); null when the chain is not there.
Node *rootBelow(Node *Softmax) {
  Node *N = Softmax;
  for (const Use &U : Softmax->result()->uses())
    if (U.User->opName() == "Where")
      N = U.User;
  for (llvm::StringRef Op : {"MatMul", "Transpose", "Reshape"}) {
    Node *Next = nullptr;
    for (const Use &U : N->result()->uses()) {
      if (U.User->opName() != Op)
        continue;
      if (Next)
        return nullptr;
      Next = U.User;
    }
    if (!Next)
      return nullptr;
    N = Next;
  }
  return N;
}

/// Creates `Op` before `Before` with its inferred result type.
llvm::Expected<Node *> createInferred(rewrite::Rewriter &R, llvm::StringRef Op,
                                      llvm::ArrayRef<Value *> Operands,
                                      llvm::StringRef Name, Node *Before,
                                      AttrMap Attrs = {}) {
  Node *N = R.createNode(Op, Operands, {TensorType()}, std::move(Attrs), "",
                         {R.graph().uniqueName(Name)}, Before);
  ShapeValueMap ShapeValues;
  auto Types = inferNodeTypes(*N, ShapeValues);
  if (!Types) {
    R.eraseDeadNodes({N});
    return Types.takeError();
  }
  R.setType(*N->result(), (*Types)[0]);
  return N;
}

/// The Attention operand `X` in [B, S, H*D]: x itself when it was split into
/// heads, else its heads merged back, Reshape(Transpose(x4, [0, 2, 1, 3]),
/// [0, 0, H*D]). A Transpose of a Transpose that this leaves behind (v taken
/// from a packed projection) folds in canonicalize.
llvm::Expected<Value *> mergedHeads(rewrite::Rewriter &R, const Match &M,
                                    const std::string &X, const Plan &P,
                                    Node *Before) {
  if (Value *V = M.value(X))
    return V;
  Value *Heads = M.value(X + ".heads");
  auto T = createInferred(R, "Transpose", {Heads}, Heads->name() + ".bshd",
                          Before, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  if (!T)
    return T.takeError();
  Value *Shape = R.addConstant(
      Heads->name() + ".merge",
      Tensor::fromInts(DType::I64, {3}, {0, 0, P.Heads * P.HeadDim}));
  auto Merged = createInferred(R, "Reshape", {(*T)->result(), Shape},
                               Heads->name() + ".merged", Before);
  if (!Merged)
    return Merged.takeError();
  return (*Merged)->result();
}

/// An attention the formula matched at a Softmax, and what the checks
/// worked out.
struct Candidate {
  Match M;
  Plan P;
  llvm::DenseSet<Node *> Dying;
};

/// The formula matched at `Softmax`, or why not.
rewrite::Matched<Candidate> matchAt(const Pattern &Formula,
                                    const NamedTypes &Types, Node &Softmax) {
  using Result = rewrite::Matched<Candidate>;
  if (!softmaxOverLastAxis(Types, Softmax))
    return Result::failure("the softmax is not over the last axis");
  Node *Root = rootBelow(&Softmax);
  if (!Root)
    return Result::failure("the probabilities do not feed one MatMul, "
                           "Transpose and Reshape");
  MatchResult R = match(Formula, Root->result());
  if (!R.Matched)
    return Result::failure(R.Why);
  return Candidate{std::move(R.Bindings), {}, {}};
}

/// Scaled dot-product attention, anchored at its Softmax. The match reads
/// `Named` types; the shape checks read `Scored` ones, where each mask sum
/// has the type of its scores.
class AttentionPattern : public rewrite::OpRewritePattern<Candidate> {
public:
  AttentionPattern(Pattern Formula, const NamedTypes &Named,
                   const NamedTypes &Scored)
      : OpRewritePattern({"Softmax"}), Formula(std::move(Formula)),
        Named(Named), Scored(Scored) {}

  rewrite::Matched<Candidate> match(Node &Softmax) const override {
    return matchAt(Formula, Named, Softmax);
  }

  std::optional<std::string> check(Node &Softmax, Candidate &C) const override {
    auto P = checkShapes(Scored, C.M);
    if (!P)
      return llvm::toString(P.takeError());
    C.P = *P;
    const Match &M = C.M;
    C.Dying = dyingWith(*Softmax.graph(), M,
                        {source(M, "q"), source(M, "k"), source(M, "v"),
                         M.value("bias"), M.value("mask")});
    return outsideUse(*Softmax.graph(), M, C.Dying);
  }

  llvm::Error rewrite(Node &, Candidate &C,
                      rewrite::Rewriter &R) const override {
    const Match &M = C.M;
    Node *Root = M.node("root");
    Value *Mask = M.value("mask");
    if (Value *Bias = M.value("bias")) {
      auto Sum = createInferred(R, "Add", {Bias, Mask},
                                Mask->name() + ".with_bias", Root);
      if (!Sum)
        return Sum.takeError();
      Mask = (*Sum)->result();
    }
    std::vector<Value *> Operands;
    for (const char *X : {"q", "k", "v"}) {
      auto Operand = mergedHeads(R, M, X, C.P, Root);
      if (!Operand)
        return Operand.takeError();
      Operands.push_back(*Operand);
    }
    if (Mask)
      Operands.push_back(Mask);
    Value *Old = Root->result();
    Node *Fused = R.createNode(
        "Attention", Operands, {outputType(M, C.P)},
        {{"num_heads", C.P.Heads}, {"scale", float(C.P.Scale)}}, Root->name(),
        {R.graph().uniqueName(Old->name() + ".fused")}, Root);
    std::vector<Node *> Remove(C.Dying.begin(), C.Dying.end());
    R.replaceRoot(Root, Fused, Remove);
    R.stat("attention-fused");
    return llvm::Error::success();
  }

private:
  Pattern Formula;
  const NamedTypes &Named, &Scored;
};

} // namespace

llvm::Expected<bool> runFuseAttention(Graph &G, const PassOptions &,
                                      PassContext &Ctx) {
  NamedTypes Named(G, llvm::DenseMap<const Node *, Value *>());
  Pattern Formula = attentionPattern(Named);
  // The shape checks type each mask sum as its scores: what the types can
  // then show of the output holds whenever the mask does not grow the
  // scores, which checkShapes makes sure the types do not contradict. The
  // sums are those of every attention the formula matches.
  llvm::DenseMap<const Node *, Value *> NoGrowth;
  for (Node *Softmax : G.nodeList()) {
    if (Softmax->opName() != "Softmax")
      continue;
    rewrite::Matched<Candidate> C = matchAt(Formula, Named, *Softmax);
    if (!C)
      continue;
    for (auto [Sum, Term] :
         {std::pair{"logits.inner", "bias"}, std::pair{"logits", "mask"}})
      if (Node *Add = C->M.node(Sum))
        NoGrowth[Add] = Add->operand(Add->operand(0) == C->M.value(Term));
  }
  NamedTypes Scored(G, NoGrowth);
  AttentionPattern Attention(Formula, Named, Scored);
  // Last to first: the names the rewrites give new values (the mask sums)
  // follow the order in which the attentions were always fused.
  return rewrite::applyPatterns(G, Ctx, "fuse-attention", {&Attention},
                                rewrite::Order::Reverse);
}

} // namespace kiln
