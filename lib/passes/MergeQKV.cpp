//===- MergeQKV.cpp - one GEMM for the q, k and v projections -------------===//
//
// The three projections of one input that feed an Attention become one GEMM
// three times as wide, and the Attention reads the packed result:
//
//   Attention(x @ Wq + bq, x @ Wk + bk, x @ Wv + bv, mask)
//     -> Attention(FusedGemm(x, [Wq | Wk | Wv], [bq | bk | bv]), none, none,
//                  mask)
//
// One GEMM reads x once and fills the GPU better than three narrow ones.
// Each projection is a FusedGemm without activation (what fuse-gemm-epilogue
// makes), still a MatMul + Add, or a bare MatMul (no bias); weights are constant, of one shape and
// trans_b, and each projection's result feeds only the Attention. When only
// some projections have a bias, the others get zeros. Projections of one
// input that feed anything but an Attention are not merged.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Pattern.h"
#include "passes/RewriteDriver.h"

#include <cstring>

namespace kiln {
namespace {

using namespace pat;

Pattern weightMatrix(const std::string &Name) {
  return where(
      constant(Name), [](Value *V, const Match &) { return V->rank() == 2; },
      "the weight is not a 2-D matrix");
}

// proj(x) = x @ W + b, as a FusedGemm or a MatMul and an Add, b optional (a
// missing bias is a zero bias: a bare MatMul is the projection); the node
// producing it is bound to `P`, W to `P`.w and b to `P`.b.
Pattern projection(const std::string &P) {
  Pattern Gemm =
      anyOf({op("FusedGemm",
                {capture("x"), weightMatrix(P + ".w"), constant(P + ".b")}, P),
             op("FusedGemm", {capture("x"), weightMatrix(P + ".w")}, P)});
  return anyOf({Gemm,
                op("Add",
                   {op("MatMul", {capture("x"), weightMatrix(P + ".w")}),
                    constant(P + ".b")},
                   P),
                op("MatMul", {capture("x"), weightMatrix(P + ".w")}, P)});
}

// Attention(proj_q(x), proj_k(x), proj_v(x), mask?)
Pattern attentionOfProjections() {
  Pattern Q = projection("q"), K = projection("k"), V = projection("v");
  return anyOf({op("Attention", {Q, K, V, capture("mask")}, "attention"),
                op("Attention", {Q, K, V}, "attention")});
}

bool transposedB(const Match &M, const std::string &P) {
  Node *N = M.node(P);
  return N->opName() == "FusedGemm" && N->getInt("trans_b", 0);
}

/// Why the three projections cannot be one GEMM, if they cannot.
std::optional<std::string> checkCompatible(const Match &M) {
  for (const char *P : {"q", "k", "v"}) {
    std::string Act = M.node(P)->getString("activation", "none");
    if (Act != "none")
      return "the " + std::string(P) + " projection has activation " + Act;
  }
  const Tensor &Wq = *M.constant("q.w");
  bool TransB = transposedB(M, "q");
  for (const char *P : {"k", "v"}) {
    const Tensor &W = *M.constant(std::string(P) + ".w");
    if (transposedB(M, P) != TransB)
      return std::string("the projections differ in trans_b");
    if (W.dtype() != Wq.dtype() || W.sizes() != Wq.sizes())
      return "the weights differ in type: " + Wq.type().str() + " and " +
             W.type().str();
  }
  int64_t Width = TransB ? Wq.dim(0) : Wq.dim(1);
  for (const char *P : {"q", "k", "v"}) {
    const Tensor *B = M.constant(std::string(P) + ".b");
    if (B && (B->rank() != 1 || B->dim(0) != Width || B->dtype() != Wq.dtype()))
      return "the bias of " + std::string(P) + " is " + B->type().str() +
             ", not a vector of the projection width " + std::to_string(Width);
  }
  return std::nullopt;
}

/// The q, k and v weights side by side along the output axis: columns
/// ([K, N] each -> [K, 3N]), or rows with trans_b ([N, K] -> [3N, K]).
Tensor concatWeights(const Match &M, bool TransB) {
  const Tensor *Ws[] = {M.constant("q.w"), M.constant("k.w"),
                        M.constant("v.w")};
  const Tensor &Wq = *Ws[0];
  int64_t Rows = Wq.dim(0), Cols = Wq.dim(1);
  Tensor Out(Wq.dtype(), TransB ? std::vector<int64_t>{3 * Rows, Cols}
                                : std::vector<int64_t>{Rows, 3 * Cols});
  size_t Elem = dtypeSize(Wq.dtype());
  uint8_t *Dst = Out.mutableBytes();
  if (TransB) {
    for (const Tensor *W : Ws) {
      std::memcpy(Dst, W->bytes(), W->byteSize());
      Dst += W->byteSize();
    }
    return Out;
  }
  size_t RowBytes = size_t(Cols) * Elem;
  for (int64_t R = 0; R < Rows; ++R)
    for (const Tensor *W : Ws) {
      std::memcpy(Dst, W->bytes() + R * RowBytes, RowBytes);
      Dst += RowBytes;
    }
  return Out;
}

/// [bq | bk | bv], zeros standing in for an absent bias; an empty tensor when
/// none of them has one.
Tensor concatBiases(const Match &M, int64_t Width, DType Elem) {
  const Tensor *Bs[] = {M.constant("q.b"), M.constant("k.b"),
                        M.constant("v.b")};
  if (!Bs[0] && !Bs[1] && !Bs[2])
    return Tensor();
  Tensor Out(Elem, {3 * Width});
  size_t Bytes = size_t(Width) * dtypeSize(Elem);
  for (int I = 0; I < 3; ++I)
    if (Bs[I])
      std::memcpy(Out.mutableBytes() + I * Bytes, Bs[I]->bytes(), Bytes);
  return Out;
}

/// The projections of one Attention, anchored at the Attention.
class MergeQKVPattern : public rewrite::OpRewritePattern<Match> {
public:
  MergeQKVPattern() : OpRewritePattern({"Attention"}) {}

  rewrite::Matched<Match> match(Node &Attention) const override {
    static const Pattern QKV = attentionOfProjections();
    if (!Attention.operand(1))
      return rewrite::Matched<Match>::failure("q, k and v are packed already");
    MatchResult R = pat::match(QKV, Attention.result());
    if (!R.Matched)
      return rewrite::Matched<Match>::failure(R.Why);
    return std::move(R.Bindings);
  }

  std::optional<std::string> check(Node &, Match &M) const override {
    if (std::optional<std::string> Why = checkCompatible(M))
      return Why;
    return M.checkNoOutsideUses();
  }

  llvm::Error rewrite(Node &Attention, Match &M,
                      rewrite::Rewriter &R) const override {
    Graph &G = R.graph();
    bool TransB = transposedB(M, "q");
    Tensor W = concatWeights(M, TransB);
    int64_t Width = (TransB ? W.dim(0) : W.dim(1)) / 3;
    Tensor B = concatBiases(M, Width, W.dtype());
    std::string Base = M.value("x")->name() + ".qkv";
    std::vector<Value *> GemmOperands = {M.value("x"),
                                         R.addConstant(Base + "_weight", W)};
    if (!B.isNull())
      GemmOperands.push_back(R.addConstant(Base + "_bias", std::move(B)));
    AttrMap GemmAttrs = {{"activation", "none"}};
    if (TransB)
      GemmAttrs["trans_b"] = int64_t(1);
    TensorType PackedType = M.value("x")->type();
    PackedType.Dims.back() = Dim(3 * Width);
    Node *Gemm = R.createNode("FusedGemm", GemmOperands, {PackedType},
                              std::move(GemmAttrs), "", {G.uniqueName(Base)},
                              &Attention);

    std::vector<Value *> Operands = {Gemm->result(), nullptr, nullptr};
    if (Value *Mask = M.value("mask"))
      Operands.push_back(Mask);
    Value *Old = Attention.result();
    Node *Packed = R.createNode(
        "Attention", Operands, {Old->type()}, Attention.attrs(),
        Attention.name(), {G.uniqueName(Old->name() + ".packed")}, &Attention);
    R.replaceRoot(&Attention, Packed, M.matchedNodes());
    R.stat("qkv-merged");
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runMergeQKV(Graph &G, const PassOptions &,
                                 PassContext &Ctx) {
  static const MergeQKVPattern MergeQKV;
  return rewrite::applyPatterns(G, Ctx, "merge-qkv", {&MergeQKV});
}

} // namespace kiln
