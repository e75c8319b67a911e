//===- FuseGemmEpilogue.cpp - linear layers into FusedGemm ----------------===//
//
// A linear layer as the exporters write it, a product with a constant weight,
// a bias and an optional activation, becomes one FusedGemm: the GPU applies
// the bias and the activation in the GEMM's epilogue instead of reading and
// writing the whole output twice more.
//
//   act(MatMul(x, W) + b)   -> FusedGemm(x, W, b) {activation}
//   act(Gemm(x, W, c))      -> FusedGemm(x, W, c) {activation, trans_b}
//
// W is a constant matrix; b a constant vector of W's output width (either
// operand order of the Add), or absent under an activation: a missing bias
// is a zero bias (`act(MatMul(x, W))` -> FusedGemm(x, W) {activation}; a bare
// MatMul stays, it has no epilogue to fuse); Gemm must have alpha = beta = 1 and transA = 0,
// and its constant c must be the same for every row ([N], [1, N] or one
// element). act is Relu, Gelu (approximate "none" -> "gelu", "tanh" ->
// "gelu_tanh") or absent.
//
// Nodes are visited last to first, so the activation is tried before its
// bias Add. When the activation cannot join (the Add also feeds something
// else) the Add is tried on its own afterwards; a MatMul whose product is
// used elsewhere is left alone, since fusing it would compute it twice.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Pattern.h"
#include "passes/RewriteDriver.h"

namespace kiln {
namespace {

using namespace pat;

Pattern weightMatrix(llvm::StringRef Name) {
  return where(
      constant(Name), [](Value *V, const Match &) { return V->rank() == 2; },
      "the weight is not a 2-D matrix");
}

/// A bias vector as wide as the product of the weight bound to "w".
Pattern biasVector(llvm::StringRef Name) {
  return where(
      constant(Name),
      [](Value *V, const Match &M) {
        return V->rank() == 1 &&
               V->type().Dims[0].sameAs(M.value("w")->type().Dims[1]);
      },
      "the bias is not a vector of the weight's output width");
}

/// The output width of a Gemm's product: B's columns, or its rows with
/// transB.
int64_t gemmWidth(const Node &Gemm) {
  const Tensor &B = *Gemm.operand(1)->constantData();
  return Gemm.getInt("transB", 0) ? B.dim(0) : B.dim(1);
}

bool isPlainGemm(const Node &Gemm) {
  return Gemm.getFloat("alpha", 1.0f) == 1.0f &&
         Gemm.getFloat("beta", 1.0f) == 1.0f && Gemm.getInt("transA", 0) == 0;
}

/// A Gemm's c adds the same vector to every row when it has one element or
/// all of its dims but the last (the width) are 1.
bool isRowBias(const Node &Gemm) {
  const Value *C = Gemm.operand(2);
  if (!C)
    return true;
  const Tensor &T = *C->constantData();
  if (T.numElements() == 1)
    return true;
  for (int64_t I = 0; I + 1 < T.rank(); ++I)
    if (T.dim(I) != 1)
      return false;
  return T.rank() >= 1 && T.sizes().back() == gemmWidth(Gemm);
}

/// Gemm(x, W, c?) with a constant W and c, in the plain form FusedGemm has.
Pattern plainGemm() {
  Pattern Gemm =
      anyOf({op("Gemm", {capture("x"), constant("w"), constant("c")}, "gemm"),
             op("Gemm", {capture("x"), constant("w")}, "gemm")});
  Pattern Plain = where(
      Gemm,
      [](Value *V, const Match &) { return isPlainGemm(*V->definingNode()); },
      "alpha or beta is not 1, or transA is set");
  return where(
      Plain,
      [](Value *V, const Match &) { return isRowBias(*V->definingNode()); },
      "c differs between rows");
}

// x @ W
Pattern matmul() { return op("MatMul", {capture("x"), weightMatrix("w")}); }

// x @ W + b
Pattern matmulBias() { return op("Add", {matmul(), biasVector("b")}); }

/// The linear layer a candidate root ends: its activation's input for Relu
/// and Gelu, itself for Add and Gemm; null for other ops.
Pattern patternFor(const Node &Root) {
  llvm::StringRef Op = Root.opName();
  if (Op == "Add")
    return matmulBias();
  if (Op == "Gemm")
    return plainGemm();
  if (Op != "Relu" && Op != "Gelu")
    return nullptr;
  // Dispatching on the producer keeps the failure reason about the form
  // that is there (a bad bias, say) rather than "not produced by 'Gemm'".
  // A product without a bias (removed by canonicalize when it was zero) is
  // the layer with a zero bias.
  Node *Producer = Root.operand(0) ? Root.operand(0)->definingNode() : nullptr;
  llvm::StringRef From = Producer ? Producer->opName() : "";
  return op(Op, {From == "Gemm"     ? plainGemm()
                 : From == "MatMul" ? matmul()
                                    : matmulBias()});
}

std::string activationOf(const Node &Root) {
  if (Root.opName() == "Relu")
    return "relu";
  if (Root.opName() == "Gelu")
    return Root.getString("approximate", "none") == "tanh" ? "gelu_tanh"
                                                           : "gelu";
  return "none";
}

/// The bias FusedGemm takes: b, or a Gemm's c as a vector of the width.
Value *biasOperand(rewrite::Rewriter &R, const Match &M) {
  if (Value *B = M.value("b"))
    return B;
  Value *C = M.value("c");
  if (!C)
    return nullptr;
  const Tensor &T = *C->constantData();
  int64_t Width = gemmWidth(*M.node("gemm"));
  if (T.rank() == 1 && T.dim(0) == Width)
    return C;
  Tensor Row(T.dtype(), {Width});
  for (int64_t I = 0; I < Width; ++I)
    Row.setDouble(I, T.getDouble(T.numElements() == 1 ? 0 : I));
  return R.addConstant(C->name() + ".row", std::move(Row));
}

/// A linear layer, anchored at the node that ends it.
class GemmEpiloguePattern : public rewrite::OpRewritePattern<Match> {
public:
  GemmEpiloguePattern() : OpRewritePattern({"Add", "Gemm", "Relu", "Gelu"}) {}

  rewrite::Matched<Match> match(Node &Root) const override {
    MatchResult R = pat::match(patternFor(Root), Root.result());
    if (!R.Matched)
      return rewrite::Matched<Match>::failure(R.Why);
    return std::move(R.Bindings);
  }

  std::optional<std::string> check(Node &, Match &M) const override {
    return M.checkNoOutsideUses();
  }

  llvm::Error rewrite(Node &Root, Match &M,
                      rewrite::Rewriter &R) const override {
    AttrMap Attrs = {{"activation", activationOf(Root)}};
    if (Node *Gemm = M.node("gemm"); Gemm && Gemm->getInt("transB", 0))
      Attrs["trans_b"] = int64_t(1);
    std::vector<Value *> Operands = {M.value("x"), M.value("w")};
    if (Value *Bias = biasOperand(R, M))
      Operands.push_back(Bias);
    Value *Old = Root.result();
    Node *Fused = R.createNode(
        "FusedGemm", Operands, {Old->type()}, std::move(Attrs), Root.name(),
        {R.graph().uniqueName(Old->name() + ".fused")}, &Root);
    R.replaceRoot(&Root, Fused, M.matchedNodes());
    R.stat("gemms-fused");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runFuseGemmEpilogue(Graph &G, const PassOptions &,
                                         PassContext &Ctx) {
  static const GemmEpiloguePattern GemmEpilogue;
  // Last to first, so the activation is tried before its bias Add.
  return rewrite::applyPatterns(G, Ctx, "fuse-gemm-epilogue", {&GemmEpilogue},
                                rewrite::Order::Reverse);
}

} // namespace kiln
