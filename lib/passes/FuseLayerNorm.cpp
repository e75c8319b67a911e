//===- FuseLayerNorm.cpp - layer normalization to LayerNorm ---------------===//
//
// Rewrites layer normalization over the last axis into kiln's LayerNorm, in
// both forms exporters write it:
//
//  - decomposed (TorchScript below opset 17, hand-written modules):
//        d = x - ReduceMean(x, [-1])
//        y = d / Sqrt(ReduceMean(d^2, [-1]) + eps) * gamma + beta
//    with d^2 as Pow(d, 2) or d * d, "/ s" as "* Reciprocal(s)", the axes
//    as -1 or rank - 1, gamma and beta constants of the last dim, each
//    optional: a missing gamma is a unit scale and a missing beta a zero
//    shift (canonicalize removes `* 1` and `+ 0`, so fresh and affine-free
//    layer norms have neither). Each candidate is anchored at its Sqrt; the root is the
//    farthest node below it the pattern matches, so that gamma and beta are
//    taken in whenever they are there;
//  - ONNX LayerNormalization {axis = -1} whose Mean and InvStdDev results are
//    unused (kiln's LayerNorm does not produce them).
//
// Both become LayerNorm(x, gamma, beta) {epsilon}, gamma a vector of ones
// when there is none (an ONNX LayerNormalization without a scale too).
//
//===----------------------------------------------------------------------===//
#include "ir/ops/OpUtils.h"
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

constexpr llvm::StringLiteral PassName = "fuse-layernorm";

Pattern meanOverLastAxis(Pattern In) {
  return where(
      op("ReduceMean", {std::move(In), constant()}),
      [](Value *V, const Match &) {
        return fusion::reducesOnlyAxis(*V->definingNode(), -1,
                                       /*KeepDims=*/true);
      },
      "is not a mean over the last axis alone with keepdims = 1");
}

/// The decomposed layer norm; gamma and beta are each optional (a missing
/// one is a unit scale or a zero shift: canonicalize drops `* 1` and `+ 0`).
Pattern decomposedLayerNorm() {
  // d = x - mean(x)
  Pattern X = capture("x");
  Pattern D = op("Sub", {X, meanOverLastAxis(X)});
  // s = sqrt(mean(d^2) + eps)
  Pattern Square = anyOf({op("Pow", {D, scalar(2.0)}), op("Mul", {D, D})});
  Pattern S =
      op("Sqrt", {op("Add", {meanOverLastAxis(Square), constant("eps")})});
  // d / s * gamma (+ beta)
  Pattern Normalized =
      anyOf({op("Div", {D, S}), op("Mul", {D, op("Reciprocal", {S})})});
  // The constants come first: when one is not a constant, the matcher then
  // says so instead of trying it as the normalized value.
  Pattern Scaled = op("Mul", {constant("gamma"), Normalized});
  return anyOf({op("Add", {constant("beta"), Scaled}), Scaled,
                op("Add", {constant("beta"), Normalized}), Normalized});
}

/// A vector of `Width` ones: the scale of a layer norm that has none.
Value *unitScale(rewrite::Rewriter &R, const Value &X, int64_t Width) {
  Tensor Ones(X.dtype(), {Width});
  for (int64_t I = 0; I < Width; ++I)
    Ones.setDouble(I, 1.0);
  return R.addConstant(X.name() + ".unit_scale", std::move(Ones));
}

std::optional<std::string> checkDecomposed(Node *, const Match &M) {
  if (std::optional<std::string> Why = M.checkNoOutsideUses())
    return Why;
  Value *X = M.value("x");
  if (!isFloat(X->dtype()))
    return "%" + X->name() + " is not a float tensor";
  if (X->rank() < 1)
    return "%" + X->name() + " is a scalar";
  const Dim &Width = X->type().Dims.back();
  if (!M.value("gamma") && !Width.isStatic())
    return "without a scale the last dim " + Width.str() +
           " must be static (LayerNorm takes a vector of ones)";
  for (llvm::StringRef Param : {"gamma", "beta"}) {
    Value *V = M.value(Param);
    if (V && !fusion::isChannelVector(V, Width))
      return Param.str() + " %" + V->name() + " " + V->type().str() +
             " is not a vector of the last dim " + Width.str();
  }
  if (!fusion::scalarValue(M.value("eps")))
    return "epsilon %" + M.value("eps")->name() + " is not a scalar";
  if (!fusion::constantsFit(M, X->type()))
    return "a constant broadcasts %" + X->name() + " " + X->type().str() +
           " to a larger shape";
  return std::nullopt;
}

/// The decomposed layer norm whose standard deviation its Sqrt anchor
/// computes; the root is the farthest node below it the pattern matches.
class DecomposedLayerNorm
    : public rewrite::OpRewritePattern<fusion::RootMatch> {
public:
  DecomposedLayerNorm() : OpRewritePattern({"Sqrt"}) {}

  rewrite::Matched<fusion::RootMatch> match(Node &Sqrt) const override {
    static const Pattern Pattern = decomposedLayerNorm();
    std::vector<fusion::Reached> Roots;
    for (const fusion::Reached &R :
         fusion::nodesBelow(&Sqrt, 4, {"Reciprocal", "Div", "Mul", "Add"}))
      if (R.N->opName() != "Reciprocal")
        Roots.push_back(R);
    fusion::RootMatch Found =
        fusion::matchFirst(Roots, Pattern, checkDecomposed);
    if (!Found.Root)
      return rewrite::Matched<fusion::RootMatch>::failure(Found.Why);
    return Found;
  }

  llvm::Error rewrite(Node &, fusion::RootMatch &Found,
                      rewrite::Rewriter &R) const override {
    const Match &M = Found.Bindings;
    Value *X = M.value("x");
    Value *Gamma = M.value("gamma");
    std::vector<Value *> Operands = {
        X, Gamma ? fusion::asVector(R, Gamma)
                 : unitScale(R, *X, X->type().Dims.back().value())};
    if (Value *Beta = M.value("beta"))
      Operands.push_back(fusion::asVector(R, Beta));
    float Epsilon = float(*fusion::scalarValue(M.value("eps")));
    Node *Fused = R.createNode("LayerNorm", Operands, {X->type()},
                               {{"epsilon", Attribute(Epsilon)}},
                               Found.Root->name(), {}, Found.Root);
    R.replaceRoot(Found.Root, Fused, M.matchedNodes());
    R.stat("decomposed-layernorm-fused");
    return llvm::Error::success();
  }
};

/// ONNX LayerNormalization over the last axis, its Mean and InvStdDev
/// unused.
class OnnxLayerNorm : public rewrite::OpRewritePattern<Node *> {
public:
  OnnxLayerNorm() : OpRewritePattern({"LayerNormalization"}) {}

  rewrite::Matched<Node *> match(Node &N) const override { return &N; }

  std::optional<std::string> check(Node &N, Node *&) const override {
    const Graph &G = *N.graph();
    Value *X = N.operand(0);
    int64_t Rank = X->rank();
    int64_t Axis = N.getInt("axis", -1);
    std::optional<int64_t> Normalized = normalizeAxis(Axis, Rank);
    if (!Normalized || *Normalized != Rank - 1)
      return "normalizes from axis " + std::to_string(Axis) + " of " +
             X->type().str() + ", not over the last axis alone";
    for (unsigned I = 1; I < N.numResults(); ++I) {
      Value *R = N.result(I);
      if (R->hasUses() || G.isOutput(R))
        return std::string(I == 1 ? "its Mean" : "its InvStdDev") +
               " result %" + R->name() +
               " is used, and LayerNorm does not compute it";
    }
    if (!N.operand(1) && !X->type().Dims.back().isStatic())
      return "it has no scale and the last dim " + X->type().Dims.back().str() +
             " is not static";
    // Scale and bias must be vectors of the last dim; a constant of shape
    // [1, W] is reshaped, after both were checked.
    const Dim &Width = X->type().Dims.back();
    for (unsigned I : {1u, 2u})
      if (Value *V = N.operand(I);
          V && V->rank() != 1 && !fusion::isChannelVector(V, Width))
        return "%" + V->name() + " " + V->type().str() +
               " is not a vector of the last dim " + Width.str();
    return std::nullopt;
  }

  llvm::Error rewrite(Node &N, Node *&, rewrite::Rewriter &R) const override {
    Value *X = N.operand(0);
    std::vector<Value *> Operands = {X};
    if (!N.operand(1))
      Operands.push_back(unitScale(R, *X, X->type().Dims.back().value()));
    for (unsigned I : {1u, 2u})
      if (Value *V = N.operand(I))
        Operands.push_back(V->rank() == 1 ? V : fusion::asVector(R, V));
    Node *Fused =
        R.createNode("LayerNorm", Operands, {X->type()},
                     {{"epsilon", Attribute(N.getFloat("epsilon", 1e-5f))}},
                     N.name(), {}, &N);
    R.replaceRoot(&N, Fused, {&N});
    R.stat("onnx-layernorm-fused");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFuseLayerNorm(Graph &G, const PassOptions &,
                                      PassContext &Ctx) {
  static const OnnxLayerNorm Onnx;
  static const DecomposedLayerNorm Decomposed;
  return rewrite::applyPatterns(G, Ctx, PassName, {&Onnx, &Decomposed});
}

} // namespace kiln
