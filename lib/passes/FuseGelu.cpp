//===- FuseGelu.cpp - decomposed GELU to ONNX Gelu ------------------------===//
//
// Rewrites the two GELU formulas exporters spell out into ONNX's Gelu:
//
//   x * 0.5 * (1 + erf(x / sqrt(2)))                           {approximate = "none"}
//   x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))      {approximate = "tanh"}
//
// in every association of the three factors x, 0.5 and (1 + ...) that
// exporters write: TorchScript's x * (1 + erf) * 0.5, torchlib's
// x * (0.5 * (1 + erf)), transformers' 0.5 * x * (1 + tanh(...)); with
// x / sqrt(2) as x * 0.70710678 and x^3 as Pow(x, 3) or x * x * x. Each
// candidate is anchored at its Erf or Tanh; the root is the first Mul below
// it (farthest first) where the whole formula matches. Gelu nodes already in
// the graph are left as they are.
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

#include <cmath>

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-gelu";

/// x * 0.5 * s, however the product is associated.
Pattern halfProduct(Pattern X, Pattern S) {
  Pattern Half = scalar(0.5);
  return anyOf({op("Mul", {op("Mul", {X, Half}), S}),
                op("Mul", {op("Mul", {X, S}), Half}),
                op("Mul", {X, op("Mul", {Half, S})})});
}

// x * 0.5 * (1 + erf(x / sqrt(2)))
Pattern erfGelu() {
  Pattern X = capture("x");
  Pattern Scaled = anyOf(
      {op("Div", {X, scalar(M_SQRT2)}), op("Mul", {X, scalar(M_SQRT1_2)})});
  return halfProduct(X, op("Add", {op("Erf", {Scaled}), scalar(1.0)}));
}

// x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
Pattern tanhGelu() {
  Pattern X = capture("x");
  Pattern Cube =
      anyOf({op("Pow", {X, scalar(3.0)}), op("Mul", {X, op("Mul", {X, X})})});
  Pattern Inner =
      op("Mul", {scalar(std::sqrt(2.0 / M_PI)),
                 op("Add", {X, op("Mul", {scalar(0.044715), Cube})})});
  return halfProduct(X, op("Add", {op("Tanh", {Inner}), scalar(1.0)}));
}

std::optional<std::string> checkGelu(Node *, const Match &M) {
  if (std::optional<std::string> Why = M.checkNoOutsideUses())
    return Why;
  Value *X = M.value("x");
  if (!isFloat(X->dtype()))
    return "%" + X->name() + " is not a float tensor";
  if (!fusion::constantsFit(M, X->type()))
    return "a constant broadcasts %" + X->name() + " " + X->type().str() +
           " to a larger shape";
  return std::nullopt;
}

/// A GELU formula anchored at its Erf or Tanh, becoming Gelu {approximate}.
class GeluPattern : public rewrite::OpRewritePattern<fusion::RootMatch> {
public:
  GeluPattern(llvm::StringRef Anchor, Pattern Formula,
              llvm::StringRef Approximate, llvm::StringRef Stat)
      : OpRewritePattern({Anchor.str()}), Formula(std::move(Formula)),
        Approximate(Approximate), Stat(Stat) {}

  rewrite::Matched<fusion::RootMatch> match(Node &Anchor) const override {
    // Erf -> Add(1) -> Mul -> Mul: the root is at most three steps below.
    std::vector<fusion::Reached> Roots;
    for (const fusion::Reached &R :
         fusion::nodesBelow(&Anchor, 3, {"Add", "Mul"}))
      if (R.N->opName() == "Mul")
        Roots.push_back(R);
    fusion::RootMatch Found = fusion::matchFirst(Roots, Formula, checkGelu);
    if (!Found.Root)
      return rewrite::Matched<fusion::RootMatch>::failure(Found.Why);
    return Found;
  }

  llvm::Error rewrite(Node &, fusion::RootMatch &Found,
                      rewrite::Rewriter &R) const override {
    Value *X = Found.Bindings.value("x");
    Node *Gelu = R.createNode("Gelu", {X}, {X->type()},
                              {{"approximate", Attribute(Approximate.str())}},
                              Found.Root->name(), {}, Found.Root);
    R.replaceRoot(Found.Root, Gelu, Found.Bindings.matchedNodes());
    R.stat(Stat);
    return llvm::Error::success();
  }

private:
  Pattern Formula;
  llvm::StringRef Approximate, Stat;
};

} // namespace

llvm::Expected<bool> runFuseGelu(Graph &G, const PassOptions &,
                                 PassContext &Ctx) {
  static const GeluPattern Erf("Erf", erfGelu(), "none", "gelu-fused");
  static const GeluPattern Tanh("Tanh", tanhGelu(), "tanh", "gelu-tanh-fused");
  return rewrite::applyPatterns(G, Ctx, PassName, {&Erf, &Tanh});
}

} // namespace kiln
