//===- FuseSkipLayerNorm.cpp - residual add + LayerNorm -------------------===//
//
// Folds the residual add in front of a LayerNorm into SkipLayerNorm:
//
//   LayerNorm((x + bias) + skip)  ->  SkipLayerNorm(x, skip, gamma, beta, bias)
//   LayerNorm(a + b)              ->  SkipLayerNorm(a, b, gamma, beta)
//
// where neither addend is a constant (a constant addend is a bias, not a
// residual), and `bias` is a constant vector of the last dim: the bias of
// the projection producing x when it is not yet folded into a Gemm. Runs
// after fuse-layernorm. The add must feed nothing but the LayerNorm:
// SkipLayerNorm does not return the sum, and the residual stream needs it
// when it is used elsewhere.
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-skip-layernorm";

Pattern residual(llvm::StringRef Name) {
  return where(
      capture(Name), [](Value *V, const Match &) { return !V->isConstant(); },
      "is a constant: a bias, not a residual");
}

/// LayerNorm(sum, gamma) and LayerNorm(sum, gamma, beta).
Pattern layerNormOf(Pattern Sum) {
  return anyOf({op("LayerNorm", {Sum, capture("gamma"), capture("beta")}),
                op("LayerNorm", {Sum, capture("gamma")})});
}

// LayerNorm((x + bias) + skip)
Pattern withBias() {
  Pattern BiasAdd = op("Add", {residual("x"), constant("bias")}, "bias_add");
  return layerNormOf(op("Add", {BiasAdd, residual("skip")}, "sum"));
}

// LayerNorm(x + skip)
Pattern plain() {
  return layerNormOf(op("Add", {residual("x"), residual("skip")}, "sum"));
}

/// Why the bias add of a `withBias` match cannot ride along, if it cannot.
std::optional<std::string> checkBias(const Match &M) {
  if (std::optional<std::string> Why = M.checkNoOutsideUses())
    return Why;
  Value *X = M.value("x"), *Bias = M.value("bias");
  if (!fusion::isChannelVector(Bias, X->type().Dims.back()) ||
      Bias->rank() > X->rank())
    return "%" + Bias->name() + " is not a vector of the last dim";
  return std::nullopt;
}

struct SkipMatch {
  Match Bindings;
  bool CarriesBias = false;
};

/// LayerNorm of a residual sum, anchored at the LayerNorm.
class SkipLayerNormPattern : public rewrite::OpRewritePattern<SkipMatch> {
public:
  SkipLayerNormPattern() : OpRewritePattern({"LayerNorm"}) {}

  rewrite::Matched<SkipMatch> match(Node &N) const override {
    static const Pattern WithBias = withBias(), Plain = plain();
    MatchResult M = pat::match(WithBias, N.result());
    bool CarriesBias = M.Matched && !checkBias(M.Bindings);
    if (!CarriesBias)
      M = pat::match(Plain, N.result());
    if (!M.Matched)
      return rewrite::Matched<SkipMatch>::failure(M.Why);
    return SkipMatch{std::move(M.Bindings), CarriesBias};
  }

  std::optional<std::string> check(Node &, SkipMatch &M) const override {
    std::optional<std::string> Why = M.Bindings.checkNoOutsideUses();
    if (Why)
      *Why += ": the residual sum is needed there, and SkipLayerNorm does "
              "not return it";
    return Why;
  }

  llvm::Error rewrite(Node &N, SkipMatch &M,
                      rewrite::Rewriter &R) const override {
    const Match &B = M.Bindings;
    std::vector<Value *> Operands = {B.value("x"), B.value("skip"),
                                     B.value("gamma"), B.value("beta")};
    if (M.CarriesBias)
      Operands.push_back(fusion::asVector(R, B.value("bias")));
    Node *Fused =
        R.createNode("SkipLayerNorm", Operands, {N.result()->type()},
                     {{"epsilon", Attribute(N.getFloat("epsilon", 1e-5f))}},
                     N.name(), {}, &N);
    R.replaceRoot(&N, Fused, B.matchedNodes());
    R.stat("skip-layernorm-fused");
    if (M.CarriesBias)
      R.stat("extra-bias-carried");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFuseSkipLayerNorm(Graph &G, const PassOptions &,
                                          PassContext &Ctx) {
  static const SkipLayerNormPattern SkipLayerNorm;
  return rewrite::applyPatterns(G, Ctx, PassName, {&SkipLayerNorm});
}

} // namespace kiln
