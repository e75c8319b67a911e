//===- FuseRotary.cpp - rotary position embeddings into Rotary ------------===//
//
// Rewrites the rotary embedding that encoders written with transformers'
// rotate_half (ModernBERT, and the half-split, non-interleaved rotary of
// RoFormer's descendants) apply to their queries and keys into one Rotary:
//
//   rotate_half(x) = Concat(-x[..., n:], x[..., :n], axis = -1)
//   x * cos + rotate_half(x) * sin        -> Rotary(x, cos, sin)
//
// n = D/2 of x's last dim D. cos and sin may be anything that broadcasts to
// x over the whole last axis: the table transformers computes from
// position ids (Cos and Sin of the angles, Unsqueezed over the heads), a
// constant table, or rows of a table gathered by position ids. Anchored at
// the Concat; the root is the Add two steps below.
//
// The exporters rotate q and k after moving the heads before the sequence,
// x = Transpose(y, [0, 2, 1, 3]). Rotary works along the last axis only, so
// it commutes with any Transpose that keeps the last axis in place (cos and
// sin take the inverse permutation: a view when it only moves their dims of
// size 1, as for [1, 1, S, D]), and the pass rotates y instead:
//
//   Rotary(Transpose(y, p), cos, sin) = Transpose(Rotary(y, cos', sin'), p)
//
// fuse-attention then takes y, [B, S, H, D] (a view of the projection), as
// it is, and the Transposes that moved the heads back and forth cancel.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/OpUtils.h"
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-rotary";

/// x[..., a:b] along one axis, with or without its steps.
Pattern slice(Pattern X, llvm::StringRef Name) {
  return anyOf(
      {op("Slice", {X, constant(), constant(), constant()}, Name),
       op("Slice", {X, constant(), constant(), constant(), constant()}, Name)});
}

// x * cos + Concat(-x[..., n:], x[..., :n]) * sin
Pattern rotaryFormula() {
  Pattern X = capture("x");
  Pattern RotateHalf =
      op("Concat", {op("Neg", {slice(X, "hi")}), slice(X, "lo")}, "concat");
  // rotate_half first: its Slices bind x, so that the product x * cos can
  // be told from cos * x (the matcher does not backtrack across operands).
  return op("Add", {op("Mul", {RotateHalf, capture("sin")}),
                    op("Mul", {X, capture("cos")})});
}

struct RotaryMatch {
  fusion::RootMatch Found;
  /// The Transpose x comes out of, when Rotary moves above it.
  Node *Transpose = nullptr;
};

/// Why the concat is not rotate_half of x.
std::optional<std::string> checkRotateHalf(const Match &M) {
  Value *X = M.value("x");
  if (X->rank() < 1 || !X->type().Dims.back().isStatic() ||
      X->type().Dims.back().value() % 2)
    return "%" + X->name() + " " + X->type().str() +
           " has no static even last dim";
  int64_t D = X->type().Dims.back().value();
  Node *Concat = M.node("concat");
  std::optional<int64_t> Axis =
      normalizeAxis(Concat->getInt("axis", 0), X->rank());
  if (!Axis || *Axis != X->rank() - 1)
    return "the Concat is not along the last axis";
  auto Hi = fusion::lastAxisRange(M.node("hi")->result());
  auto Lo = fusion::lastAxisRange(M.node("lo")->result());
  if (!Hi)
    return toString(Hi.takeError());
  if (!Lo)
    return toString(Lo.takeError());
  if (Hi->Begin != D / 2 || Hi->End != D || Lo->Begin != 0 || Lo->End != D / 2)
    return "the negated part [" + std::to_string(Hi->Begin) + ", " +
           std::to_string(Hi->End) + ") and the kept part [" +
           std::to_string(Lo->Begin) + ", " + std::to_string(Lo->End) +
           ") do not swap the halves of " + std::to_string(D);
  return std::nullopt;
}

/// Why cos and sin are not tables that broadcast to x over its last axis.
std::optional<std::string> checkTables(const Match &M) {
  Value *X = M.value("x"), *Cos = M.value("cos"), *Sin = M.value("sin");
  if (!isFloat(X->dtype()) || !isFloat(Cos->dtype()))
    return "%" + X->name() + " and %" + Cos->name() + " are not float tensors";
  if (!fusion::sameType(Cos->type(), Sin->type()))
    return "cos %" + Cos->name() + " " + Cos->type().str() + " and sin %" +
           Sin->name() + " " + Sin->type().str() + " differ";
  const TensorType &T = Cos->type();
  if (T.rank() < 1 || T.rank() > X->rank() ||
      T.Dims.back() != X->type().Dims.back())
    return "cos " + T.str() + " does not span the last axis of x " +
           X->type().str();
  auto Out = broadcastShapes({X->type().Dims, T.Dims});
  if (!Out || !fusion::sameType(TensorType(X->dtype(), *Out), X->type()))
    return "cos " + T.str() + " does not broadcast to x " + X->type().str();
  return std::nullopt;
}

/// The Transpose that `x` comes out of when Rotary can move above it: the
/// permutation keeps the last axis, and cos has x's rank.
Node *movableTranspose(const Match &M) {
  Value *X = M.value("x");
  Node *T = X->definingNode();
  if (!T || T->opName() != "Transpose" || M.value("cos")->rank() != X->rank())
    return nullptr;
  std::vector<int64_t> Perm = T->getInts("perm");
  if (int64_t(Perm.size()) != X->rank() || Perm.back() != X->rank() - 1)
    return nullptr;
  return T;
}

bool isUnit(const Dim &D) { return D.isStatic() && D.value() == 1; }

/// The positions of the dims of size 1.
std::vector<int64_t> unitDims(const Shape &Dims) {
  std::vector<int64_t> Out;
  for (size_t I = 0; I < Dims.size(); ++I)
    if (isUnit(Dims[I]))
      Out.push_back(int64_t(I));
  return Out;
}

/// Whether permuting `Dims` by `Perm` moves only dims of size 1 (the
/// others keep their order), so that the result is a view.
bool movesOnlyUnitDims(const Shape &Dims, llvm::ArrayRef<int64_t> Perm) {
  int64_t Last = -1;
  for (int64_t P : Perm) {
    if (isUnit(Dims[P]))
      continue;
    if (P < Last)
      return false;
    Last = P;
  }
  return true;
}

class RotaryPattern : public rewrite::OpRewritePattern<RotaryMatch> {
public:
  RotaryPattern() : OpRewritePattern({"Concat"}), Formula(rotaryFormula()) {}

  rewrite::Matched<RotaryMatch> match(Node &Anchor) const override {
    // Concat -> Mul -> Add.
    std::vector<fusion::Reached> Roots;
    for (const fusion::Reached &R :
         fusion::nodesBelow(&Anchor, 2, {"Mul", "Add"}))
      if (R.N->opName() == "Add")
        Roots.push_back(R);
    if (Roots.empty())
      return rewrite::Matched<RotaryMatch>::notCandidate();
    auto Accept = [](Node *, const Match &M) -> std::optional<std::string> {
      if (std::optional<std::string> Why = M.checkNoOutsideUses())
        return Why;
      if (std::optional<std::string> Why = checkRotateHalf(M))
        return Why;
      return checkTables(M);
    };
    RotaryMatch M;
    M.Found = fusion::matchFirst(Roots, Formula, Accept);
    if (!M.Found.Root)
      return rewrite::Matched<RotaryMatch>::failure(M.Found.Why);
    M.Transpose = movableTranspose(M.Found.Bindings);
    return M;
  }

  llvm::Error rewrite(Node &, RotaryMatch &M,
                      rewrite::Rewriter &R) const override {
    const Match &B = M.Found.Bindings;
    Node *Root = M.Found.Root;
    Value *X = B.value("x"), *Cos = B.value("cos"), *Sin = B.value("sin");
    if (!M.Transpose) {
      Node *Rotary = R.createNode("Rotary", {X, Cos, Sin}, {X->type()}, {},
                                  Root->name(), {}, Root);
      R.replaceRoot(Root, Rotary, B.matchedNodes());
      R.stat("rotary-fused");
      return llvm::Error::success();
    }
    std::vector<int64_t> Perm = M.Transpose->getInts("perm");
    std::vector<int64_t> Inverse(Perm.size());
    for (size_t I = 0; I < Perm.size(); ++I)
      Inverse[Perm[I]] = int64_t(I);
    auto Permuted = [&](Value *V) -> Value * {
      Shape Dims;
      for (int64_t P : Inverse)
        Dims.push_back(V->type().Dims[P]);
      if (!movesOnlyUnitDims(V->type().Dims, Inverse)) {
        Node *T =
            R.createNode("Transpose", {V}, {TensorType(V->dtype(), Dims)},
                         {{"perm", Attribute(Inverse)}}, "",
                         {R.graph().uniqueName(V->name() + ".rotary")}, Root);
        return T->result();
      }
      // The table's other dims keep their order: a view, its unit dims
      // squeezed and unsqueezed where the permutation puts them.
      std::vector<int64_t> From = unitDims(V->type().Dims), To = unitDims(Dims);
      if (From.empty())
        return V;
      Shape Squeezed;
      for (const Dim &D : V->type().Dims)
        if (!isUnit(D))
          Squeezed.push_back(D);
      Value *FromAxes = R.addConstant(
          V->name() + ".unit_axes",
          Tensor::fromInts(DType::I64, {int64_t(From.size())}, From));
      Value *ToAxes =
          R.addConstant(V->name() + ".rotary_axes",
                        Tensor::fromInts(DType::I64, {int64_t(To.size())}, To));
      Node *Squeeze = R.createNode(
          "Squeeze", {V, FromAxes}, {TensorType(V->dtype(), Squeezed)}, {}, "",
          {R.graph().uniqueName(V->name() + ".squeezed")}, Root);
      Node *Unsqueeze =
          R.createNode("Unsqueeze", {Squeeze->result(), ToAxes},
                       {TensorType(V->dtype(), Dims)}, {}, "",
                       {R.graph().uniqueName(V->name() + ".rotary")}, Root);
      return Unsqueeze->result();
    };
    Value *Y = M.Transpose->operand(0);
    Node *Rotary = R.createNode(
        "Rotary", {Y, Permuted(Cos), Permuted(Sin)}, {Y->type()}, {}, "",
        {R.graph().uniqueName(Root->result()->name() + ".unpermuted")}, Root);
    Node *Back =
        R.createNode("Transpose", {Rotary->result()}, {X->type()},
                     {{"perm", Attribute(Perm)}}, Root->name(), {}, Root);
    std::vector<Node *> Dying = B.matchedNodes();
    Dying.push_back(M.Transpose);
    R.replaceRoot(Root, Back, Dying);
    R.stat("rotary-fused");
    R.stat("rotary-moved-above-transpose");
    return llvm::Error::success();
  }

private:
  Pattern Formula;
};

} // namespace

llvm::Expected<bool> runFuseRotary(Graph &G, const PassOptions &,
                                   PassContext &Ctx) {
  static const RotaryPattern Rotary;
  return rewrite::applyPatterns(G, Ctx, PassName, {&Rotary});
}

} // namespace kiln
