//===- FuseExpandGather.cpp - GatherElements of an expanded index ---------===//
//
// Rewrites a GatherElements whose indices are an Expand into one
// ExpandGatherElements that reads the small indices through broadcast
// strides:
//
//   GatherElements(data, Expand(idx, shape)) {axis}
//       -> ExpandGatherElements(data, idx, shape) {axis}
//
// DeBERTa-v2's disentangled attention gathers its c2p and p2c scores with
// one relative-position index [1, S, S] that the exporters expand to
// [B*H, S, S] first; the fused op never stores that expanded copy. The
// result is the Expand's shape by definition, so nothing about the data's
// (often unknown, B*H) leading dim needs proving: the rewrite holds for any
// idx and shape, including an idx that varies over the batch. It applies
// only when every user of the Expand is such a GatherElements (otherwise
// the expanded copy stays anyway) and the Expand is not known to broadcast
// nothing (canonicalize drops such an Expand).
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-expand-gather";

// GatherElements(data, Expand(idx, shape))
Pattern expandGather() {
  return op("GatherElements",
            {capture("data"),
             op("Expand", {capture("idx"), capture("shape")}, "expand")});
}

/// Why the expansion cannot be left out, if it cannot.
std::optional<std::string> checkExpandGather(const Match &M) {
  Value *Idx = M.value("idx"), *Expanded = M.node("expand")->result();
  if (Expanded->graph()->isOutput(Expanded))
    return "%" + Expanded->name() + " is a graph output";
  // Each GatherElements of the expanded index is fused on its own; the
  // Expand dies with the last (dynamo shares one across layers).
  for (const Use &U : Expanded->uses())
    if (U.User->opName() != "GatherElements" || U.OperandIndex != 1)
      return "%" + Expanded->name() + " is also used by " + U.User->describe();
  if (Idx->type().isStatic() && Expanded->type().isStatic() &&
      Idx->type().staticSizes() == Expanded->type().staticSizes())
    return "the Expand of %" + Idx->name() + " " + Idx->type().str() +
           " broadcasts nothing";
  return std::nullopt;
}

class ExpandGatherPattern
    : public rewrite::OpRewritePattern<fusion::RootMatch> {
public:
  ExpandGatherPattern() : OpRewritePattern({"GatherElements"}) {}

  rewrite::Matched<fusion::RootMatch> match(Node &Anchor) const override {
    static const Pattern Formula = expandGather();
    MatchResult R = pat::match(Formula, Anchor.result());
    if (!R.Matched)
      return rewrite::Matched<fusion::RootMatch>::failure(R.Why);
    fusion::RootMatch Found;
    Found.Root = &Anchor;
    Found.Bindings = std::move(R.Bindings);
    return Found;
  }

  std::optional<std::string> check(Node &,
                                   fusion::RootMatch &Found) const override {
    return checkExpandGather(Found.Bindings);
  }

  llvm::Error rewrite(Node &Anchor, fusion::RootMatch &Found,
                      rewrite::Rewriter &R) const override {
    const Match &M = Found.Bindings;
    Node *Fused =
        R.createNode("ExpandGatherElements",
                     {M.value("data"), M.value("idx"), M.value("shape")},
                     {Anchor.result()->type()},
                     {{"axis", Attribute(Anchor.getInt("axis", 0))}},
                     Anchor.name(), {}, &Anchor);
    R.replaceRoot(&Anchor, Fused, M.matchedNodes());
    R.stat("expand-gathers-fused");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFuseExpandGather(Graph &G, const PassOptions &,
                                         PassContext &Ctx) {
  static const ExpandGatherPattern Pattern;
  return rewrite::applyPatterns(G, Ctx, PassName, {&Pattern});
}

} // namespace kiln
