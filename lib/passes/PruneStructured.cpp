//===- PruneStructured.cpp - remove dead heads and FFN neurons ------------===//
//
// Models pruned by zeroing whole attention heads and FFN neurons keep the
// zeros dense. This pass removes the units that provably contribute nothing
// and shrinks every shape they touched (Pruning.h names the structures):
//
//   attention head h is dead when
//     (a) its v columns of the projection and its v bias entries are all 0:
//         then v_j[h] = 0 for every position j, and the head's output
//         sum_j p_ij v_j[h] is 0 whatever the attention weights p_ij are; or
//     (b) its D input rows of the output projection are all 0: then the
//         head's output is multiplied by zeros.
//   Zero q and k columns alone do NOT kill a head: the scores are then 0,
//   softmax is uniform and the head outputs the mean of v.
//
//   FFN neuron j of down(act(x @ W1 + b1) @ W2 + b2) is dead when
//     (a) column j of W1 and b1[j] are 0: its value is act(0) = 0 (none,
//         relu, gelu and gelu_tanh all map 0 to 0); or
//     (b) row j of W2 is 0.
//
// Removing a dead unit drops only terms that are exactly 0 (for finite
// activations), so the outputs are those of the dense model up to the order
// of fp32 summation. Heads are removed from the q, k and v projections (each
// part of a packed [q | k | v] projection separately), num_heads and the
// attention width shrink, a mask with a heads axis (a per-head position
// bias) is gathered to the kept heads, and the output projection loses the
// heads' input rows; a neuron loses its column of W1, its bias entry and its
// row of W2.
//
// When every unit of a block is dead the block computes act(b_out) for every
// row. If its output projection has no activation and each use of its result
// is an Add or the x or skip operand of a SkipLayerNorm whose other operand
// has the full shape, the block is removed and those uses take the bias
// broadcast along the rows: the layer keeps only its residual path. Without
// a bias the block adds 0: an Add takes its other operand and a
// SkipLayerNorm becomes a LayerNorm (a zero vector stands in where an Add is
// a graph output). Otherwise one dead unit is kept so that the shapes stay
// non-empty.
//
//===----------------------------------------------------------------------===//
#include "passes/FusionUtils.h"
#include "passes/Passes.h"
#include "passes/Pruning.h"
#include "passes/RewriteDriver.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"

namespace kiln {
namespace {

using namespace prune;

std::string listOf(llvm::ArrayRef<int64_t> Indices) {
  return "[" +
         llvm::join(llvm::map_range(
                        Indices, [](int64_t I) { return std::to_string(I); }),
                    ", ") +
         "]";
}

/// Why the uses of `Out`'s result cannot take a broadcast vector instead,
/// or nullopt.
std::optional<std::string> checkReplaceableByBias(const Graph &G,
                                                  const Node &Out) {
  const Value *R = Out.result();
  if (G.isOutput(R))
    return "the output projection's result is a graph output";
  std::string Act = Out.getString("activation", "none");
  if (Act != "none")
    return "the output projection has activation " + Act;
  const Dim &Width = R->type().Dims.back();
  if (!Width.isStatic())
    return "the output projection's width is not static";
  const Value *Bias = Out.operand(2);
  if (Bias && !fusion::sameType(Bias->type(), TensorType(R->dtype(), {Width})))
    return "the output projection's bias is " + Bias->type().str() +
           ", not a vector of its result's width and type";
  for (const Use &U : R->uses()) {
    llvm::StringRef Op = U.User->opName();
    const Value *Other =
        U.OperandIndex < 2 && (Op == "Add" || Op == "SkipLayerNorm")
            ? U.User->operand(1 - U.OperandIndex)
            : nullptr;
    if (!Other || Other == R || !fusion::sameType(Other->type(), R->type()))
      return U.User->describe() + " (operand " +
             std::to_string(U.OperandIndex) +
             ") does not broadcast a vector to the full shape";
  }
  return std::nullopt;
}

/// The residual operand of `User`, an Add of `Zero` and a full-shape value
/// (x + 0 is x) whose result is no graph output (which would lose its name),
/// or a SkipLayerNorm without extra bias of them (LN(0 + x) is LN(x), a
/// LayerNorm that takes the name). Null when `User` is not of that form.
Value *residualOf(const Graph &G, const Node &User, const Value *Zero) {
  llvm::StringRef Op = User.opName();
  bool Foldable = Op == "Add" ? !G.isOutput(User.result())
                              : Op == "SkipLayerNorm" && !User.operand(4);
  if (!Foldable)
    return nullptr;
  return User.operand(User.operand(0) == Zero ? 1 : 0);
}

/// Drops the terms `Zero` (a block without bias whose units are all dead)
/// adds: its Add users take their other operand, its SkipLayerNorm users
/// become LayerNorms of it. Returns false, changing nothing, when a user is
/// of another form (checkReplaceableByBias accepted it for a zero vector).
bool dropZeroTerm(rewrite::Rewriter &R, Value *Zero) {
  const Graph &G = R.graph();
  std::vector<Node *> Users;
  for (const Use &U : Zero->uses())
    Users.push_back(U.User);
  for (Node *User : Users)
    if (!residualOf(G, *User, Zero))
      return false;
  for (Node *User : Users) {
    Value *Residual = residualOf(G, *User, Zero);
    if (User->opName() == "Add") {
      R.replaceAllUsesWith(User->result(), Residual);
      R.eraseDeadNodes({User});
      continue;
    }
    Node *Norm = R.createNode(
        "LayerNorm", {Residual, User->operand(2), User->operand(3)},
        {User->result()->type()},
        {{"epsilon", User->getFloat("epsilon", 1e-5f)}}, User->name(),
        {R.graph().uniqueName(User->result()->name() + ".ln")}, User);
    R.replaceRoot(User, Norm, {User});
  }
  return true;
}

/// Replaces the result of `Out` (every unit of its block dead) by its bias
/// or, without bias, drops the zero term it adds (else zeros, broadcast by
/// its users), and erases `Nodes` and the constants only they used.
void removeBlock(rewrite::Rewriter &R, Node &Out,
                 llvm::ArrayRef<Node *> Nodes) {
  const Graph &G = R.graph();
  Value *Result = Out.result();
  Value *Bias = Out.operand(2);
  if (!Bias && !dropZeroTerm(R, Result)) {
    int64_t Width = Result->type().Dims.back().value();
    Bias = R.addConstant(Result->name() + ".zero",
                         Tensor(Result->dtype(), {Width}));
  }
  if (Bias)
    R.replaceAllUsesWith(Result, Bias);
  std::vector<Value *> Constants;
  for (Node *N : Nodes)
    for (Value *V : N->operands())
      if (V && V->isConstant() && V != Bias)
        Constants.push_back(V);
  R.eraseDeadNodes(Nodes);
  llvm::DenseSet<Value *> Seen;
  for (Value *V : Constants)
    if (Seen.insert(V).second && !V->hasUses() && !G.isOutput(V))
      R.eraseValue(V);
}

/// The indices I with `Dead[I] == Value`.
std::vector<int64_t> indicesWhere(const std::vector<bool> &Dead, bool Value) {
  std::vector<int64_t> Out;
  for (size_t I = 0; I < Dead.size(); ++I)
    if (Dead[I] == Value)
      Out.push_back(int64_t(I));
  return Out;
}

struct HeadsMatch {
  AttentionBlock B;
  std::vector<bool> Dead;
};

/// Dead heads of an attention block, anchored at its Attention.
class PruneHeads : public rewrite::OpRewritePattern<HeadsMatch> {
public:
  PruneHeads() : OpRewritePattern({"Attention"}) {}

  rewrite::Matched<HeadsMatch> match(Node &Attention) const override {
    HeadsMatch M;
    if (auto Why = findAttentionBlock(Attention, M.B))
      return rewrite::Matched<HeadsMatch>::failure(*Why);
    return M;
  }

  std::optional<std::string> check(Node &, HeadsMatch &M) const override {
    const AttentionBlock &B = M.B;
    std::vector<double> VL1 = weightL1(*B.Proj[2], true);
    std::vector<double> OutL1 = weightL1(*B.Out, false);
    M.Dead.assign(B.Heads, false);
    for (int64_t H = 0; H < B.Heads; ++H) {
      bool VZero = true, OutZero = true;
      for (int64_t C : B.columns(2, H))
        VZero &= outputIsZero(*B.Proj[2], VL1, C);
      for (int64_t E = 0; E < B.HeadDim; ++E)
        OutZero &= OutL1[H * B.HeadDim + E] == 0;
      M.Dead[H] = VZero || OutZero;
    }
    if (llvm::none_of(M.Dead, [](bool D) { return D; }))
      return std::string("no head is dead: each has a nonzero v weight or "
                         "bias and a nonzero output-projection row");
    return std::nullopt;
  }

  llvm::Error rewrite(Node &Attention, HeadsMatch &M,
                      rewrite::Rewriter &R) const override {
    Graph &G = R.graph();
    const AttentionBlock &B = M.B;
    std::vector<bool> &Dead = M.Dead;
    std::vector<int64_t> Kept = indicesWhere(Dead, false);
    if (Kept.empty()) {
      auto Why = checkReplaceableByBias(G, *B.Out);
      if (!Why) {
        R.note(Attention) << "all " << B.Heads
                          << " heads are dead: the output projection becomes "
                             "its bias\n";
        std::vector<Node *> Nodes = B.projections();
        Nodes.insert(Nodes.begin(), {B.Out, B.Attention});
        removeBlock(R, *B.Out, Nodes);
        R.stat("heads-removed", B.Heads);
        return llvm::Error::success();
      }
      R.note(Attention) << "all heads are dead, head 0 is kept: " << *Why
                        << "\n";
      Kept = {0};
      Dead[0] = false;
    }
    R.note(Attention) << "removing heads " << listOf(indicesWhere(Dead, true))
                      << " of " << B.Heads << "\n";
    R.stat("heads-removed", B.Heads - int64_t(Kept.size()));

    std::vector<int64_t> Rows;
    for (int64_t H : Kept)
      for (int64_t E = 0; E < B.HeadDim; ++E)
        Rows.push_back(H * B.HeadDim + E);
    if (B.Packed) {
      std::vector<int64_t> Cols;
      for (int Part = 0; Part < 3; ++Part)
        for (int64_t H : Kept)
          llvm::append_range(Cols, B.columns(Part, H));
      keepOutputs(G, *B.Proj[0], Cols);
      R.modified(*B.Proj[0]);
    } else {
      for (Node *P : B.projections()) {
        keepOutputs(G, *P, Rows);
        R.modified(*P);
      }
    }
    if (B.MaskHeadAxis >= 0) {
      // A per-head mask keeps the kept heads' slices.
      Value *Mask = Attention.operand(3);
      TensorType T = Mask->type();
      T.Dims[B.MaskHeadAxis] = Dim(int64_t(Kept.size()));
      Value *Indices = R.addConstant(
          Mask->name() + ".heads",
          Tensor::fromInts(DType::I64, {int64_t(Kept.size())}, Kept));
      Node *Slice = R.createNode(
          "Gather", {Mask, Indices}, {T}, {{"axis", B.MaskHeadAxis}}, "",
          {G.uniqueName(Mask->name() + ".pruned")}, &Attention);
      R.setOperand(Attention, 3, Slice->result());
    }
    R.setAttr(Attention, "num_heads", int64_t(Kept.size()));
    TensorType T = Attention.result()->type();
    T.Dims.back() = Dim(int64_t(Rows.size()));
    R.setType(*Attention.result(), std::move(T));
    keepInputs(G, *B.Out, Rows);
    R.modified(*B.Out);
    return llvm::Error::success();
  }
};

struct NeuronsMatch {
  FfnBlock F;
  std::vector<bool> Dead;
};

/// Dead neurons of an FFN block, anchored at its second GEMM.
class PruneNeurons : public rewrite::OpRewritePattern<NeuronsMatch> {
public:
  PruneNeurons() : OpRewritePattern({"FusedGemm", "MatMul"}) {}

  rewrite::Matched<NeuronsMatch> match(Node &Down) const override {
    // Only GEMMs of GEMMs are FFN candidates: the others are not worth a
    // debug line.
    if (!isFfnCandidate(Down))
      return rewrite::Matched<NeuronsMatch>::notCandidate();
    NeuronsMatch M;
    if (auto Why = findFfnBlock(Down, M.F))
      return rewrite::Matched<NeuronsMatch>::failure(*Why);
    return M;
  }

  std::optional<std::string> check(Node &Down, NeuronsMatch &M) const override {
    const FfnBlock &F = M.F;
    std::vector<double> UpL1 = weightL1(*F.Up, true);
    std::vector<double> DownL1 = weightL1(Down, false);
    M.Dead.assign(F.Width, false);
    for (int64_t J = 0; J < F.Width; ++J)
      M.Dead[J] = outputIsZero(*F.Up, UpL1, J) || DownL1[J] == 0;
    if (llvm::none_of(M.Dead, [](bool D) { return D; }))
      return std::string("no neuron is dead: each has a nonzero input weight "
                         "or bias and a nonzero output row");
    return std::nullopt;
  }

  llvm::Error rewrite(Node &Down, NeuronsMatch &M,
                      rewrite::Rewriter &R) const override {
    Graph &G = R.graph();
    const FfnBlock &F = M.F;
    std::vector<int64_t> Kept = indicesWhere(M.Dead, false);
    if (Kept.empty()) {
      auto Why = checkReplaceableByBias(G, Down);
      if (!Why) {
        R.note(Down) << "all " << F.Width
                     << " neurons are dead: the block becomes its output "
                        "bias\n";
        removeBlock(R, Down, {&Down, F.Up});
        R.stat("neurons-removed", F.Width);
        return llvm::Error::success();
      }
      R.note(Down) << "all neurons are dead, neuron 0 is kept: " << *Why
                   << "\n";
      Kept = {0};
    }
    R.stat("neurons-removed", F.Width - int64_t(Kept.size()));
    R.note(Down) << "removing " << F.Width - int64_t(Kept.size()) << " of "
                 << F.Width << " neurons\n";
    keepOutputs(G, *F.Up, Kept);
    keepInputs(G, Down, Kept);
    R.modified(*F.Up);
    R.modified(Down);
    return llvm::Error::success();
  }
};

} // namespace

llvm::Expected<bool> runPruneStructured(Graph &G, const PassOptions &,
                                        PassContext &Ctx) {
  static const PruneHeads Heads;
  static const PruneNeurons Neurons;
  return rewrite::applyPatterns(G, Ctx, "prune-structured", {&Heads, &Neurons});
}

} // namespace kiln
