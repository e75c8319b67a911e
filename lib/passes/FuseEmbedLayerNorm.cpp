//===- FuseEmbedLayerNorm.cpp - embedding gathers + LayerNorm -------------===//
//
// Folds the embedding layer of BERT-family encoders into EmbedLayerNorm:
//
//   LayerNorm(word[ids] + pos[position_ids] (+ type[token_type_ids]))
//     -> EmbedLayerNorm(ids, position_ids?, token_type_ids?, word, pos, type?,
//                       gamma, beta)
//
// The three Gathers read rows of constant tables and are added in any order
// (also as SkipLayerNorm(a, b) without extra bias, when fuse-skip-layernorm
// ran first). The word table is the largest; of the other two, the one
// indexed by zeros is the token type table, else the one indexed by 0, 1,
// 2, ... is the position table, else the larger one is. Whatever the
// assignment, passing the indices along keeps the sum the same.
//
// Index operands are dropped when the op's defaults compute them:
//  - position ids that count 0..seq-1 along the last axis: a constant
//    arange, or a Slice from 0 of a constant arange buffer (BERT's
//    TorchScript export), or Range(0, n, 1), through Unsqueeze, Expand and
//    Cast, whose last dim is provably seq (by its type, or by the Slice's
//    end being the ids' seq);
//  - token type ids that are all zeros: a zero constant, or one sliced,
//    expanded, reshaped or gathered (the buffer transformers use when the
//    model input is absent).
// Other index tensors (a graph input, RoBERTa's ids computed with CumSum)
// are passed as operands; the subgraph computing them stays. What computed
// only dropped operands (the Shape -> Gather chain giving the slice's end)
// is erased with the matched nodes.
//
//===----------------------------------------------------------------------===//
#include "ir/ShapeInference.h"
#include "ir/ops/OpUtils.h"
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

#include "llvm/ADT/STLExtras.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-embed-layernorm";

/// table[ids], a Gather of rows of a constant matrix; captures table<I> and
/// ids<I>.
Pattern embedding(int I) {
  std::string Suffix = std::to_string(I);
  return where(
      op("Gather", {constant("table" + Suffix), capture("ids" + Suffix)},
         "gather" + Suffix),
      [](Value *V, const Match &) {
        Node *N = V->definingNode();
        Value *Table = N->operand(0), *Ids = N->operand(1);
        return Table->rank() == 2 && isFloat(Table->dtype()) &&
               isInteger(Ids->dtype()) &&
               normalizeAxis(N->getInt("axis", 0), 2) == 0;
      },
      "does not gather rows of a constant float matrix by integer ids");
}

Pattern embedLayerNorm() {
  Pattern Gamma = capture("gamma"), Beta = capture("beta");
  // Three terms in any order: every binary tree of three leaves is
  // Add(Add(a, b), c) up to the commutative swaps the matcher tries.
  Pattern Pair = op("Add", {embedding(1), embedding(2)});
  Pattern Triple = op("Add", {Pair, embedding(3)});
  std::vector<Pattern> Forms;
  for (const Pattern &Sum : {Triple, Pair}) {
    Forms.push_back(op("LayerNorm", {Sum, Gamma, Beta}));
    Forms.push_back(op("LayerNorm", {Sum, Gamma}));
  }
  // SkipLayerNorm(a, b, gamma, beta?) without an extra bias is LN(a + b).
  for (auto [A, B] :
       {std::pair{Pair, embedding(3)}, std::pair{embedding(3), Pair},
        std::pair{embedding(1), embedding(2)}}) {
    Forms.push_back(op("SkipLayerNorm", {A, B, Gamma, Beta}));
    Forms.push_back(op("SkipLayerNorm", {A, B, Gamma}));
  }
  return anyOf(std::move(Forms));
}

/// Ops whose result holds only elements of their first operand.
bool movesElementsOnly(llvm::StringRef Op) {
  return llvm::is_contained({"Slice", "Expand", "Reshape", "Unsqueeze",
                             "Squeeze", "Flatten", "Tile", "Transpose",
                             "Identity", "Gather", "GatherElements", "Cast"},
                            Op);
}

/// True when every element of `V` is zero. The nodes walked through are
/// appended to `Chain`.
bool allZeros(Value *V, std::vector<Node *> &Chain) {
  if (const Tensor *T = V->constantData())
    return T->isAllZero();
  Node *N = V->definingNode();
  if (!N)
    return false;
  Chain.push_back(N);
  if (N->opName() == "ConstantOfShape") {
    const Attribute *Fill = N->attr("value");
    return !Fill ||
           (Fill->kind() == AttrKind::Tensor && Fill->getTensor().isAllZero());
  }
  return movesElementsOnly(N->opName()) && allZeros(N->operand(0), Chain);
}

bool isScalarConstant(Value *V, int64_t Want) {
  std::optional<double> X = V ? fusion::scalarValue(V) : std::nullopt;
  return X && *X == double(Want);
}

bool allConstant(Value *V, int64_t Want) {
  const Tensor *T = V ? V->constantData() : nullptr;
  if (!T)
    return false;
  for (int64_t I = 0; I < T->numElements(); ++I)
    if (T->getInt(I) != Want)
      return false;
  return true;
}

/// True when `V[..., j] == j` everywhere: every row along the last axis
/// counts 0, 1, 2, ... The nodes walked through are appended to `Chain`.
bool countsAlongLastAxis(Value *V, std::vector<Node *> &Chain) {
  if (V->rank() < 1 || !isInteger(V->dtype()))
    return false;
  if (const Tensor *T = V->constantData()) {
    int64_t Width = T->sizes().back();
    for (int64_t I = 0; I < T->numElements(); ++I)
      if (T->getInt(I) != I % Width)
        return false;
    return true;
  }
  Node *N = V->definingNode();
  if (!N)
    return false;
  Chain.push_back(N);
  llvm::StringRef Op = N->opName();
  Value *In = N->operand(0);
  if (Op == "Range")
    return isScalarConstant(In, 0) && isScalarConstant(N->operand(2), 1);
  if (Op == "Cast")
    return countsAlongLastAxis(In, Chain);
  if (Op == "Slice") {
    // A slice from 0 with step 1 keeps a prefix of every row.
    bool FromZero = allConstant(N->operand(1), 0);
    bool StepOne = !N->operand(4) || allConstant(N->operand(4), 1);
    return FromZero && StepOne && countsAlongLastAxis(In, Chain);
  }
  if (Op == "Unsqueeze") {
    // The new axes must leave the last axis last.
    const Tensor *Axes =
        N->operand(1) ? N->operand(1)->constantData() : nullptr;
    if (!Axes)
      return false;
    for (int64_t A : Axes->toInts())
      if (normalizeAxis(A, V->rank()) == V->rank() - 1)
        return false;
    return countsAlongLastAxis(In, Chain);
  }
  if (Op == "Expand")
    return In->rank() >= 1 &&
           In->type().Dims.back().sameAs(V->type().Dims.back()) &&
           countsAlongLastAxis(In, Chain);
  return false;
}

/// The symbolic contents of the graph's small integer values (Shape ->
/// Gather -> Unsqueeze chains), as type inference sees them.
ShapeValueMap shapeValuesOf(const Graph &G) {
  ShapeValueMap Map;
  collectConstantShapeValues(G, Map);
  for (const auto &N : G.nodes())
    if (auto Types = inferNodeTypes(*N, Map); !Types)
      llvm::consumeError(Types.takeError());
  return Map;
}

/// True when the last dim of position ids `V` is provably `Seq`: by its
/// type, or because `V` slices its last axis up to an end whose symbolic
/// value is `Seq`, from a constant buffer of N >= 2 elements along it.
/// Type inference gives the slice min(seq, N) elements, an unknown dim; but
/// where the graph runs at all it is seq: for seq > N the original add of
/// [1, N] position rows to [batch, seq] word rows fails to broadcast (and
/// EmbedLayerNorm's lookup of position seq - 1 fails alike).
bool lastDimIsSeq(const Graph &G, Value *V, const Dim &Seq) {
  if (V->rank() >= 1 && V->type().Dims.back().sameAs(Seq))
    return true;
  Node *N = V->definingNode();
  if (!N || N->opName() != "Slice" || !N->operand(2))
    return false;
  const TensorType &Data = N->operand(0)->type();
  int64_t Last = Data.rank() - 1;
  if (Last < 0 || !Data.Dims[Last].isStatic() || Data.Dims[Last].value() < 2)
    return false;
  std::vector<int64_t> Axes;
  if (Value *AxesV = N->operand(3)) {
    const Tensor *T = AxesV->constantData();
    if (!T)
      return false;
    for (int64_t A : T->toInts())
      Axes.push_back(normalizeAxis(A, Data.rank()).value_or(-1));
  } else {
    for (int64_t A = 0; A < N->operand(2)->type().staticNumElements(); ++A)
      Axes.push_back(A);
  }
  auto It = llvm::find(Axes, Last);
  if (It == Axes.end())
    return false;
  ShapeValueMap Values = shapeValuesOf(G);
  auto Ends = Values.find(N->operand(2));
  size_t Index = size_t(It - Axes.begin());
  return Ends != Values.end() && Index < Ends->second.size() &&
         Ends->second[Index].sameAs(Seq);
}

/// True when index tensor `T` provably broadcasts to [Batch, Seq].
bool broadcastsTo(const TensorType &T, const Dim &Batch, const Dim &Seq) {
  if (T.rank() > 2)
    return false;
  const Dim *Target[] = {&Batch, &Seq};
  for (int64_t I = 0; I < T.rank(); ++I) {
    const Dim &D = T.Dims[I];
    const Dim &Want = *Target[2 - T.rank() + I];
    if (!(D.isStatic() && D.value() == 1) && !D.sameAs(Want))
      return false;
  }
  return true;
}

struct Term {
  Value *Table = nullptr;
  Value *Ids = nullptr;
  int64_t rows() const { return Table->constantData()->dim(0); }
};

struct EmbedPlan {
  Term Word, Pos;
  std::optional<Term> Type;
  Value *PositionIds = nullptr, *TokenTypeIds = nullptr;
  std::vector<Node *> Dropped; // nodes computing dropped index operands
  TensorType Result;           // [batch, seq, hidden] of the ids and tables
};

/// Assigns the matched gathers to word, position and token type and decides
/// which index operands to keep; returns why not when it cannot.
std::optional<std::string> plan(const Match &M, Node *Root, EmbedPlan &P) {
  std::vector<Term> Terms;
  for (int I = 1; I <= 3; ++I)
    if (Value *Table = M.value("table" + std::to_string(I)))
      Terms.push_back({Table, M.value("ids" + std::to_string(I))});
  llvm::stable_sort(
      Terms, [](const Term &A, const Term &B) { return A.rows() > B.rows(); });
  if (Terms[0].rows() == Terms[1].rows())
    return "two tables have " + std::to_string(Terms[0].rows()) +
           " rows: cannot tell the word embedding";
  const TensorType &WordType = Terms[0].Table->type();
  for (const Term &T : Terms)
    if (T.Table->type().Dims[1] != WordType.Dims[1] ||
        T.Table->dtype() != WordType.Elem)
      return "tables %" + Terms[0].Table->name() + " " + WordType.str() +
             " and %" + T.Table->name() + " " + T.Table->type().str() +
             " differ in width or dtype";
  P.Word = Terms[0];
  const TensorType &IdsType = P.Word.Ids->type();
  if (IdsType.rank() != 2)
    return "the word ids %" + P.Word.Ids->name() + " " + IdsType.str() +
           " are not [batch, seq]";
  const Dim &Batch = IdsType.Dims[0], &Seq = IdsType.Dims[1];

  std::vector<Node *> PosChain, TypeChain;
  if (Terms.size() == 3) {
    // Terms[1] has at least as many rows as Terms[2]. The token type ids are
    // the zeros; else the position ids are the ones counting 0, 1, 2, ...;
    // else the position table is the larger.
    std::vector<Node *> Scratch;
    auto Zeros = [&](int I) { return allZeros(Terms[I].Ids, Scratch); };
    auto Counts = [&](int I) {
      return countsAlongLastAxis(Terms[I].Ids, Scratch);
    };
    int TypeIndex;
    if (Zeros(1) != Zeros(2))
      TypeIndex = Zeros(1) ? 1 : 2;
    else if (Counts(1) != Counts(2))
      TypeIndex = Counts(1) ? 2 : 1;
    else if (Terms[1].rows() != Terms[2].rows())
      TypeIndex = 2;
    else
      return "the position and token type tables both have " +
             std::to_string(Terms[1].rows()) + " rows";
    P.Type = Terms[TypeIndex];
    P.Pos = Terms[3 - TypeIndex];
    if (allZeros(P.Type->Ids, TypeChain))
      P.Dropped.insert(P.Dropped.end(), TypeChain.begin(), TypeChain.end());
    else
      P.TokenTypeIds = P.Type->Ids;
  } else {
    P.Pos = Terms[1];
  }
  // Positions counting 0..seq-1 along a last dim of seq, broadcast over
  // the batch, are what EmbedLayerNorm computes when they are absent.
  const TensorType &PosType = P.Pos.Ids->type();
  bool LeadingFit =
      PosType.rank() == 1 ||
      (PosType.rank() == 2 &&
       ((PosType.Dims[0].isStatic() && PosType.Dims[0].value() == 1) ||
        PosType.Dims[0].sameAs(Batch)));
  if (LeadingFit && countsAlongLastAxis(P.Pos.Ids, PosChain) &&
      lastDimIsSeq(*Root->graph(), P.Pos.Ids, Seq))
    P.Dropped.insert(P.Dropped.end(), PosChain.begin(), PosChain.end());
  else
    P.PositionIds = P.Pos.Ids;

  for (Value *Ids : {P.PositionIds, P.TokenTypeIds})
    if (Ids && !broadcastsTo(Ids->type(), Batch, Seq))
      return "the index tensor %" + Ids->name() + " " + Ids->type().str() +
             " does not provably broadcast to the ids' [" + Batch.str() + ", " +
             Seq.str() + "]";
  P.Result = TensorType(WordType.Elem, {Batch, Seq, WordType.Dims[1]});
  if (!fusion::refinesTo(Root->result()->type(), P.Result))
    return "the result " + Root->result()->type().str() + " is not " +
           P.Result.str() + ", the shape of the word embeddings";
  return std::nullopt;
}

/// Collects in `Dying` the nodes that die with the rewrite: the matched
/// ones, the chains computing dropped index operands, and every node whose
/// results then feed only dying nodes (such as the Shape -> Gather chain
/// that computes where the position buffer is sliced, from the word
/// embeddings' shape). Returns why a matched value must outlive the rewrite.
std::optional<std::string> collectDying(const Graph &G, const Match &M,
                                        const EmbedPlan &P,
                                        std::vector<Node *> &Dying) {
  const std::vector<Node *> &Matched = M.matchedNodes();
  llvm::DenseSet<Node *> Dead(Matched.begin(), Matched.end());
  Dead.insert(P.Dropped.begin(), P.Dropped.end());
  // The fused node reads these: what computes them stays.
  llvm::DenseSet<const Value *> Kept = {P.Word.Ids, P.PositionIds,
                                        P.TokenTypeIds, M.value("gamma"),
                                        M.value("beta")};
  auto FeedsOnlyDead = [&](const Node *N) {
    for (Value *R : N->results()) {
      if (Kept.count(R) || G.isOutput(R))
        return false;
      for (const Use &U : R->uses())
        if (!Dead.count(U.User))
          return false;
    }
    return true;
  };
  // A node is rechecked whenever one of its users dies, so the last one to
  // die lets it die too.
  std::vector<Node *> Work(Dead.begin(), Dead.end());
  while (!Work.empty()) {
    Node *N = Work.back();
    Work.pop_back();
    for (Value *V : N->operands()) {
      Node *Def = V ? V->definingNode() : nullptr;
      if (Def && !Dead.count(Def) && FeedsOnlyDead(Def)) {
        Dead.insert(Def);
        Work.push_back(Def);
      }
    }
  }
  for (size_t I = 1; I < Matched.size(); ++I)
    for (Value *R : Matched[I]->results()) {
      if (G.isOutput(R))
        return "%" + R->name() + " is a graph output";
      for (const Use &U : R->uses())
        if (!Dead.count(U.User))
          return "%" + R->name() + " is also used by " + U.User->describe();
    }
  Dying.assign(Dead.begin(), Dead.end());
  return std::nullopt;
}

struct EmbedMatch {
  Match Bindings;
  EmbedPlan Plan;
  std::vector<Node *> Dying;
};

/// The embedding sum below a LayerNorm (or a SkipLayerNorm without extra
/// bias), anchored at the normalization.
class EmbedLayerNormPattern : public rewrite::OpRewritePattern<EmbedMatch> {
public:
  EmbedLayerNormPattern() : OpRewritePattern({"LayerNorm", "SkipLayerNorm"}) {}

  rewrite::Matched<EmbedMatch> match(Node &N) const override {
    static const Pattern Pattern = embedLayerNorm();
    // A SkipLayerNorm with an extra bias is a projection's residual: no
    // embedding sum has a bias.
    if (N.opName() == "SkipLayerNorm" && N.operand(4))
      return rewrite::Matched<EmbedMatch>::notCandidate();
    MatchResult M = pat::match(Pattern, N.result());
    if (!M.Matched)
      return rewrite::Matched<EmbedMatch>::failure(M.Why);
    return EmbedMatch{std::move(M.Bindings), {}, {}};
  }

  std::optional<std::string> check(Node &N, EmbedMatch &M) const override {
    if (std::optional<std::string> Why = plan(M.Bindings, &N, M.Plan))
      return Why;
    return collectDying(*N.graph(), M.Bindings, M.Plan, M.Dying);
  }

  llvm::Error rewrite(Node &N, EmbedMatch &M,
                      rewrite::Rewriter &R) const override {
    const EmbedPlan &P = M.Plan;
    Value *Beta = M.Bindings.value("beta");
    const TensorType &WordType = P.Word.Table->type();
    if (!Beta)
      Beta = R.addConstant(N.result()->name() + ".beta",
                           Tensor(WordType.Elem, {WordType.Dims[1].value()}));
    Node *Fused = R.createNode(
        "EmbedLayerNorm",
        {P.Word.Ids, P.PositionIds, P.TokenTypeIds, P.Word.Table, P.Pos.Table,
         P.Type ? P.Type->Table : nullptr, M.Bindings.value("gamma"), Beta},
        {P.Result}, {{"epsilon", Attribute(N.getFloat("epsilon", 1e-5f))}},
        N.name(), {}, &N);
    R.replaceRoot(&N, Fused, M.Dying);
    R.stat("embed-layernorm-fused");
    if (!P.PositionIds)
      R.stat("position-ids-dropped");
    if (P.Type && !P.TokenTypeIds)
      R.stat("token-type-ids-dropped");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFuseEmbedLayerNorm(Graph &G, const PassOptions &,
                                           PassContext &Ctx) {
  static const EmbedLayerNormPattern EmbedLayerNorm;
  return rewrite::applyPatterns(G, Ctx, PassName, {&EmbedLayerNorm});
}

} // namespace kiln
