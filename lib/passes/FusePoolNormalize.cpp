//===- FusePoolNormalize.cpp - sentence-embedding pooling + L2 norm -------===//
//
// Folds the pooling head of sentence-transformers models into PoolNormalize:
//
//   masked mean pooling, m = float(mask[:, :, None]) (expanded to h's shape
//   or not, the Cast anywhere in the chain):
//     sum(h * m, axis 1) / max(sum(m, axis 1), min_count)
//   CLS pooling:
//     h[:, 0]  (Gather(h, 0) {axis = 1}, or Squeeze(Slice(h, 0, 1, axis 1)))
//   followed by F.normalize:
//     x / max(|x|_2, eps)  (ReduceL2 over the last axis with keepdims = 1,
//                           Clip or Max, the denominator expanded or not)
//
//   -> PoolNormalize(h, mask) {mode = "mean", normalize = 1, min_count,
//   epsilon}
//      PoolNormalize(h) {mode = "cls", normalize = 1, epsilon}
//
// Mean pooling without the normalize becomes PoolNormalize {normalize = 0};
// CLS pooling without it is a plain Gather and stays. The clamps (Clip or
// Max with a scalar) are kept as they are: min_count and epsilon carry their
// constants. Candidates are the Div nodes, last first, so that the normalize
// is tried before the mean it divides.
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

#include <variant>

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-pool-normalize";

Pattern toFloat(Pattern In) {
  return where(
      op("Cast", {std::move(In)}),
      [](Value *V, const Match &) { return isFloat(V->dtype()); },
      "does not cast to a float type");
}

Pattern appendAxis(Pattern In) {
  return where(
      op("Unsqueeze", {std::move(In), constant()}),
      [](Value *V, const Match &) {
        return fusion::constantAxesAre(*V->definingNode(), 1, -1, V->rank());
      },
      "does not append a last axis");
}

// m = float(mask[:, :, None]), expanded to h's shape or not.
Pattern maskAsFloat() {
  Pattern Mask = capture("mask");
  Pattern CastLast = toFloat(appendAxis(Mask));
  Pattern CastFirst = appendAxis(toFloat(Mask));
  // expand(h.size()) reads h's shape: Shape(h) belongs to the match.
  Pattern ShapeOfH = anyOf({op("Shape", {capture("h")}), capture()});
  return anyOf({CastLast, CastFirst,
                toFloat(op("Expand", {appendAxis(Mask), ShapeOfH})),
                op("Expand", {CastLast, ShapeOfH}),
                op("Expand", {CastFirst, ShapeOfH})});
}

Pattern sumOverSeq(Pattern In) {
  return where(
      op("ReduceSum", {std::move(In), constant()}),
      [](Value *V, const Match &) {
        return fusion::reducesOnlyAxis(*V->definingNode(), 1,
                                       /*KeepDims=*/false);
      },
      "is not a sum over axis 1 alone with keepdims = 0");
}

/// max(x, c) as torch.clamp(min=c) exports it: Clip(x, c) or Max(x, c);
/// `c` is a constant unless `Strict` is off.
Pattern clampMin(Pattern In, llvm::StringRef Name, bool Strict = true) {
  Pattern C = Strict ? constant(Name) : capture();
  return anyOf({op("Clip", {In, C}), op("Max", {In, C})});
}

// sum(h * m, 1) / max(sum(m, 1), min_count)
Pattern meanPooling() {
  Pattern M = maskAsFloat();
  return op("Div", {sumOverSeq(op("Mul", {capture("h"), M})),
                    clampMin(sumOverSeq(M), "min_count")});
}

// h[:, 0]
Pattern clsPooling() {
  Pattern H = capture("h");
  Pattern Gather = where(
      op("Gather", {H, scalar(0.0)}),
      [](Value *V, const Match &) {
        Node *N = V->definingNode();
        return N->getInt("axis", 0) == 1 && N->operand(1)->rank() == 0;
      },
      "does not take index 0 of axis 1");
  auto FirstOfAxis1 = [](Value *V, const Match &) {
    return fusion::constantAxesAre(*V->definingNode(), 3, 1, 3);
  };
  Pattern Slice =
      where(anyOf({op("Slice", {H, scalar(0.0), scalar(1.0), constant()}),
                   op("Slice",
                      {H, scalar(0.0), scalar(1.0), constant(), scalar(1.0)})}),
            FirstOfAxis1, "does not slice [0, 1) of axis 1");
  Pattern Squeeze = where(
      op("Squeeze", {Slice, constant()}),
      [](Value *V, const Match &) {
        return fusion::constantAxesAre(*V->definingNode(), 1, 1, 3);
      },
      "does not squeeze axis 1");
  return anyOf({Gather, Squeeze});
}

// x / max(|x|_2, eps), the denominator expanded to x's shape or not. The
// loose form leaves out the checks of axes and constants: a Div that matches
// it is a normalize, and why the strict form fails is the reason to report.
Pattern l2Normalize(bool Strict) {
  Pattern X = capture("x");
  Pattern Norm = op("ReduceL2", {X, Strict ? constant() : capture()});
  if (Strict)
    Norm = where(
        Norm,
        [](Value *V, const Match &) {
          return fusion::reducesOnlyAxis(*V->definingNode(), -1,
                                         /*KeepDims=*/true);
        },
        "is not an L2 norm over the last axis alone with keepdims = 1");
  Pattern Denominator = clampMin(Norm, "eps", Strict);
  // expand_as(x) reads x's shape: Shape(x) belongs to the match.
  Pattern ShapeOfX = anyOf({op("Shape", {X}), capture()});
  return op("Div",
            {X, anyOf({op("Expand", {Denominator, ShapeOfX}), Denominator})});
}

/// Why the pooling `M` (rooted at `Root`) cannot become a PoolNormalize.
std::optional<std::string> checkPooling(Node *Root, const Match &M) {
  if (std::optional<std::string> Why = M.checkNoOutsideUses())
    return Why;
  Value *H = M.value("h");
  const TensorType &HType = H->type();
  if (HType.rank() != 3 || !isFloat(HType.Elem))
    return "%" + H->name() + " " + HType.str() +
           " is not a float [batch, seq, hidden] tensor";
  if (Value *Mask = M.value("mask")) {
    const TensorType &MaskType = Mask->type();
    if (MaskType.rank() != 2 || !MaskType.Dims[0].sameAs(HType.Dims[0]) ||
        !MaskType.Dims[1].sameAs(HType.Dims[1]))
      return "the mask %" + Mask->name() + " " + MaskType.str() +
             " is not provably [batch, seq] of %" + H->name() + " " +
             HType.str();
  }
  TensorType Pooled(HType.Elem, {HType.Dims[0], HType.Dims[2]});
  if (!fusion::refinesTo(Root->result()->type(), Pooled))
    return "the result " + Root->result()->type().str() + " is not " +
           Pooled.str();
  for (llvm::StringRef Name : {"min_count", "eps"})
    if (Value *V = M.value(Name); V && !fusion::scalarValue(V))
      return "%" + V->name() + " is not a scalar";
  return std::nullopt;
}

struct Pooling {
  Match Bindings;
  bool Normalize = false;
};

/// The pooling (and normalize) rooted at Div node `Root`, or why there is
/// none.
std::variant<Pooling, std::string> matchPooling(Node *Root) {
  static const Pattern Normalize = l2Normalize(true),
                       LooksLikeNormalize = l2Normalize(false),
                       Pooled = anyOf({meanPooling(), clsPooling()}),
                       Mean = meanPooling();
  MatchResult Norm = match(Normalize, Root->result());
  if (Norm.Matched) {
    Value *X = Norm.Bindings.value("x");
    MatchResult Pool = match(Pooled, X);
    if (!Pool.Matched)
      return "the normalized %" + X->name() + " is no pooling: " + Pool.Why;
    Pooling P{std::move(Norm.Bindings), true};
    for (const auto &Entry : Pool.Bindings.Values)
      P.Bindings.Values.try_emplace(Entry.first(), Entry.second);
    const std::vector<Node *> &Inner = Pool.Bindings.matchedNodes();
    P.Bindings.Matched.insert(P.Bindings.Matched.end(), Inner.begin(),
                              Inner.end());
    if (std::optional<std::string> Why = checkPooling(Root, P.Bindings))
      return *Why;
    return P;
  }
  MatchResult Unnormalized = match(Mean, Root->result());
  if (!Unnormalized.Matched)
    return match(LooksLikeNormalize, Root->result()).Matched ? Norm.Why
                                                             : Unnormalized.Why;
  if (std::optional<std::string> Why =
          checkPooling(Root, Unnormalized.Bindings))
    return *Why;
  return Pooling{std::move(Unnormalized.Bindings), false};
}

/// Pooling (and its normalize) rooted at a Div.
class PoolNormalizePattern : public rewrite::OpRewritePattern<Pooling> {
public:
  PoolNormalizePattern() : OpRewritePattern({"Div"}) {}

  rewrite::Matched<Pooling> match(Node &Root) const override {
    std::variant<Pooling, std::string> Found = matchPooling(&Root);
    if (auto *Why = std::get_if<std::string>(&Found))
      return rewrite::Matched<Pooling>::failure(std::move(*Why));
    return std::move(std::get<Pooling>(Found));
  }

  llvm::Error rewrite(Node &Root, Pooling &P,
                      rewrite::Rewriter &R) const override {
    const Match &M = P.Bindings;
    Value *Mask = M.value("mask");
    AttrMap Attrs = {{"mode", Attribute(Mask ? "mean" : "cls")},
                     {"normalize", Attribute(int64_t(P.Normalize))}};
    if (Mask)
      Attrs["min_count"] =
          Attribute(float(*fusion::scalarValue(M.value("min_count"))));
    if (P.Normalize)
      Attrs["epsilon"] = Attribute(float(*fusion::scalarValue(M.value("eps"))));
    std::vector<Value *> Operands = {M.value("h")};
    if (Mask)
      Operands.push_back(Mask);
    const TensorType &H = M.value("h")->type();
    Node *Fused = R.createNode("PoolNormalize", Operands,
                               {TensorType(H.Elem, {H.Dims[0], H.Dims[2]})},
                               std::move(Attrs), Root.name(), {}, &Root);
    R.replaceRoot(&Root, Fused, M.matchedNodes());
    R.stat(!Mask         ? "cls-pool-normalize-fused"
           : P.Normalize ? "mean-pool-normalize-fused"
                         : "mean-pool-fused");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFusePoolNormalize(Graph &G, const PassOptions &,
                                          PassContext &Ctx) {
  static const PoolNormalizePattern PoolNormalize;
  // Last to first, so that the normalize is tried before the mean it divides.
  return rewrite::applyPatterns(G, Ctx, PassName, {&PoolNormalize},
                                rewrite::Order::Reverse);
}

} // namespace kiln
