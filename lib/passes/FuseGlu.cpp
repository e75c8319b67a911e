//===- FuseGlu.cpp - gated linear units into Glu --------------------------===//
//
// Rewrites the gated linear unit of GeGLU and SwiGLU feed-forward layers
// whose up projection packs both halves (ModernBERT, Jina-BERT v2) into
// one Glu:
//
//   a, b = x[..., :n], x[..., n:]        (two Slices, or a Split in two)
//   act(a) * b                            -> Glu(x) {activation}
//
// with act one of Gelu {approximate = "none"} (gelu), Gelu {approximate =
// "tanh"} (gelu_tanh), or x * Sigmoid(x) (silu). fuse-gelu runs first, so
// GELU is one node here. Anchored at the Gelu or the Sigmoid; the halves must
// be the first and second half of the same tensor's last axis, the first
// one activated (the gate in the other half is another op and stays as it
// is).
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-glu";

// gelu(a) * b
Pattern geluGate() {
  return op("Mul", {op("Gelu", {capture("a")}, "act"), capture("b")});
}

// (a * sigmoid(a)) * b
Pattern siluGate() {
  Pattern A = capture("a");
  return op("Mul", {op("Mul", {A, op("Sigmoid", {A})}, "act"), capture("b")});
}

struct GluMatch {
  fusion::RootMatch Found;
  Value *X = nullptr;
  std::string Activation;
};

/// Why `a` and `b` are not x[..., :n] and x[..., n:] of one x.
std::optional<std::string> checkHalves(Value *A, Value *B, Value *&X) {
  auto Gate = fusion::lastAxisRange(A);
  if (!Gate)
    return "the activated %" + A->name() +
           " is not a part of a last axis: " + toString(Gate.takeError());
  auto Up = fusion::lastAxisRange(B);
  if (!Up)
    return "the gated %" + B->name() +
           " is not a part of a last axis: " + toString(Up.takeError());
  if (Gate->X != Up->X)
    return "%" + A->name() + " and %" + B->name() +
           " are parts of different tensors";
  int64_t Width = Gate->X->type().Dims.back().value();
  if (Width % 2 || Gate->Begin != 0 || Gate->End != Width / 2 ||
      Up->Begin != Width / 2 || Up->End != Width)
    return "the activated part [" + std::to_string(Gate->Begin) + ", " +
           std::to_string(Gate->End) + ") and the gated part [" +
           std::to_string(Up->Begin) + ", " + std::to_string(Up->End) +
           ") are not the first and second half of %" + Gate->X->name() +
           "'s last axis of " + std::to_string(Width);
  X = Gate->X;
  return std::nullopt;
}

class GluPattern : public rewrite::OpRewritePattern<GluMatch> {
public:
  GluPattern(llvm::StringRef Anchor, Pattern Formula, unsigned Depth)
      : OpRewritePattern({Anchor.str()}), Formula(std::move(Formula)),
        Depth(Depth) {}

  rewrite::Matched<GluMatch> match(Node &Anchor) const override {
    std::string Act;
    if (Anchor.opName() == "Gelu") {
      std::string Approximate = Anchor.getString("approximate", "none");
      if (Approximate != "none" && Approximate != "tanh")
        return rewrite::Matched<GluMatch>::failure(
            "unknown GELU approximation '" + Approximate + "'");
      Act = Approximate == "none" ? "gelu" : "gelu_tanh";
    } else {
      Act = "silu";
    }
    std::vector<fusion::Reached> Roots;
    for (const fusion::Reached &R : fusion::nodesBelow(&Anchor, Depth, {"Mul"}))
      if (R.Distance == Depth)
        Roots.push_back(R);
    GluMatch M;
    M.Activation = Act;
    auto Accept = [&](Node *, const Match &B) -> std::optional<std::string> {
      if (std::optional<std::string> Why = B.checkNoOutsideUses())
        return Why;
      return checkHalves(B.value("a"), B.value("b"), M.X);
    };
    M.Found = fusion::matchFirst(Roots, Formula, Accept);
    if (!M.Found.Root)
      return rewrite::Matched<GluMatch>::failure(M.Found.Why);
    return M;
  }

  llvm::Error rewrite(Node &, GluMatch &M,
                      rewrite::Rewriter &R) const override {
    Node *Root = M.Found.Root;
    Node *Glu = R.createNode("Glu", {M.X}, {Root->result()->type()},
                             {{"activation", Attribute(M.Activation)}},
                             Root->name(), {}, Root);
    std::vector<Node *> Dying = M.Found.Bindings.matchedNodes();
    for (llvm::StringRef Part : {"a", "b"})
      if (Node *Def = M.Found.Bindings.value(Part)->definingNode())
        Dying.push_back(Def);
    R.replaceRoot(Root, Glu, Dying);
    R.stat(M.Activation == "silu" ? "swiglu-fused" : "geglu-fused");
    return llvm::Error::success();
  }

private:
  Pattern Formula;
  unsigned Depth;
};

} // namespace

llvm::Expected<bool> runFuseGlu(Graph &G, const PassOptions &,
                                PassContext &Ctx) {
  static const GluPattern Gelu("Gelu", geluGate(), 1);
  static const GluPattern Silu("Sigmoid", siluGate(), 2);
  return rewrite::applyPatterns(G, Ctx, PassName, {&Gelu, &Silu});
}

} // namespace kiln
