//===- Pruning.cpp - the structures that structured pruning removes -------===//
#include "passes/Pruning.h"
#include "ir/Error.h"
#include "passes/Pattern.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"

#include <cmath>
#include <cstring>

namespace kiln::prune {

using namespace pat;

std::vector<Node *> AttentionBlock::projections() const {
  std::vector<Node *> Nodes;
  for (Node *P : Proj)
    if (!llvm::is_contained(Nodes, P))
      Nodes.push_back(P);
  return Nodes;
}

std::vector<int64_t> AttentionBlock::columns(int Part, int64_t H) const {
  std::vector<int64_t> Cols(HeadDim);
  for (int64_t E = 0; E < HeadDim; ++E)
    Cols[E] = Offset[Part] + H * HeadDim + E;
  return Cols;
}

namespace {

bool transposedB(const Node &Gemm) { return Gemm.getInt("trans_b", 0); }

const Tensor &weightOf(const Node &Gemm) {
  return *Gemm.operand(1)->constantData();
}

/// The axis of a GEMM's weight that indexes its outputs (columns of
/// [K, N]; rows with trans_b) or its inputs.
int64_t weightAxis(const Node &Gemm, bool Outputs) {
  return Outputs != transposedB(Gemm) ? 1 : 0;
}

int64_t gemmWidth(const Node &Gemm, bool Outputs) {
  return weightOf(Gemm).dim(weightAxis(Gemm, Outputs));
}

Pattern weightMatrix(const std::string &Name) {
  return where(
      constant(Name), [](Value *V, const Match &) { return V->rank() == 2; },
      "the weight is not a 2-D matrix");
}

/// act(x @ W + b?) with a constant weight (and bias), the node bound to `P`:
/// a FusedGemm or a MatMul. The bias is checked once the node is bound,
/// hence the outer `where`.
Pattern gemm(const std::string &P, Pattern X) {
  Pattern WithBias =
      op("FusedGemm", {X, weightMatrix(P + ".w"), constant(P + ".b")}, P);
  Pattern Plain = op("FusedGemm", {X, weightMatrix(P + ".w")}, P);
  Pattern MatMul = op("MatMul", {X, weightMatrix(P + ".w")}, P);
  return where(
      anyOf({WithBias, Plain, MatMul}),
      [P](Value *V, const Match &M) {
        const Value *B = M.value(P + ".b");
        const Node &N = *V->definingNode();
        return !B || (B->rank() == 1 && B->type().Dims[0].isStatic() &&
                      B->type().Dims[0].value() == gemmWidth(N, true));
      },
      "the bias is not a vector as long as the GEMM's outputs");
}

/// proj(x) = x @ W + b?: a GEMM without activation.
Pattern projection(const std::string &P) {
  return where(
      gemm(P, capture()),
      [](Value *V, const Match &) {
        return V->definingNode()->getString("activation", "none") == "none";
      },
      "the projection has an activation");
}

// out(heads) = act(heads @ Wo + bo?); the bias need not be constant.
Pattern outProjection() {
  return anyOf(
      {op("FusedGemm",
          {capture("heads"), weightMatrix("out.w"), capture("out.b")}, "out"),
       op("FusedGemm", {capture("heads"), weightMatrix("out.w")}, "out"),
       op("MatMul", {capture("heads"), weightMatrix("out.w")}, "out")});
}

/// Whether `V` is used exactly once, by operand `Index` of `User`, and is
/// no graph output.
bool onlyUse(const Value *V, const Node *User, unsigned Index) {
  return V->uses().size() == 1 && V->uses()[0].User == User &&
         V->uses()[0].OperandIndex == Index && !V->graph()->isOutput(V);
}

/// `T` with only the entries `Indices` (in this order) along `Axis`.
Tensor selectAlong(const Tensor &T, int64_t Axis,
                   llvm::ArrayRef<int64_t> Indices) {
  std::vector<int64_t> Sizes = T.sizes().vec();
  int64_t Extent = Sizes[Axis];
  Sizes[Axis] = int64_t(Indices.size());
  int64_t Outer = 1, Inner = 1;
  for (int64_t I = 0; I < Axis; ++I)
    Outer *= Sizes[I];
  for (int64_t I = Axis + 1; I < T.rank(); ++I)
    Inner *= Sizes[I];
  Tensor Out(T.dtype(), std::move(Sizes));
  size_t Chunk = size_t(Inner) * dtypeSize(T.dtype());
  uint8_t *Dst = Out.mutableBytes();
  for (int64_t O = 0; O < Outer; ++O)
    for (int64_t Index : Indices) {
      std::memcpy(Dst, T.bytes() + (O * Extent + Index) * Chunk, Chunk);
      Dst += Chunk;
    }
  return Out;
}

/// A copy of `T` with the entries `Indices` along `Axis` zeroed (all-zero
/// bytes are 0.0 in every float dtype).
Tensor zeroAlong(const Tensor &T, int64_t Axis,
                 llvm::ArrayRef<int64_t> Indices) {
  Tensor Out = T.clone();
  int64_t Extent = T.dim(Axis), Outer = 1, Inner = 1;
  for (int64_t I = 0; I < Axis; ++I)
    Outer *= T.dim(I);
  for (int64_t I = Axis + 1; I < T.rank(); ++I)
    Inner *= T.dim(I);
  size_t Chunk = size_t(Inner) * dtypeSize(T.dtype());
  for (int64_t O = 0; O < Outer; ++O)
    for (int64_t Index : Indices)
      std::memset(Out.mutableBytes() + (O * Extent + Index) * Chunk, 0, Chunk);
  return Out;
}

/// Gives operand `Index` of `N` (a constant) the data `T`: in place when
/// nothing else reads the constant, else as a new constant.
void replaceConstant(Graph &G, Node &N, unsigned Index, Tensor T) {
  Value *Old = N.operand(Index);
  if (onlyUse(Old, &N, Index)) {
    Old->setConstantData(std::move(T));
    return;
  }
  N.setOperand(Index, G.addConstant(G.uniqueName(Old->name() + ".pruned"),
                                    std::move(T)));
}

void setWidth(Value *V, int64_t Width) {
  TensorType T = V->type();
  T.Dims.back() = Dim(Width);
  V->setType(std::move(T));
}

struct Census {
  int64_t Parameters = 0, Heads = 0, Neurons = 0;
};

Census census(const Graph &G) {
  Census C;
  C.Parameters = countParameters(G);
  for (const auto &N : G.nodes()) {
    if (N->opName() == "Attention")
      C.Heads += N->getInt("num_heads", 0);
    FfnBlock F;
    if (isFfnCandidate(*N) && !findFfnBlock(*N, F))
      C.Neurons += F.Width;
  }
  return C;
}

} // namespace

std::optional<std::string> findAttentionBlock(Node &Attention,
                                              AttentionBlock &Block) {
  Value *Heads = Attention.result();
  if (Heads->uses().size() != 1 || Attention.graph()->isOutput(Heads))
    return std::string("the attention result is not used by exactly one "
                       "output projection");
  Node *User = Heads->uses()[0].User;
  MatchResult Out = match(outProjection(), User->result());
  if (!Out.Matched)
    return "output projection: " + Out.Why;
  if (!onlyUse(Heads, User, 0))
    return "the attention result is not the output projection's input";

  const TensorType &T = Heads->type();
  int64_t NumHeads = Attention.getInt("num_heads", 0);
  if (T.rank() != 3 || !T.Dims[2].isStatic())
    return "the attention result " + T.str() + " has no static width";
  int64_t Hidden = T.Dims[2].value();
  if (NumHeads <= 0 || Hidden % NumHeads)
    return "the width " + std::to_string(Hidden) +
           " is not a multiple of num_heads";
  Block.MaskHeadAxis = -1;
  if (Value *Mask = Attention.operand(3)) {
    // The mask broadcasts to [batch, heads, seq, seq]: its heads axis, if it
    // has one, is 1 or H long.
    const TensorType &MT = Mask->type();
    if (MT.rank() >= 3) {
      const Dim &D = MT.Dims[MT.rank() - 3];
      if (!D.isStatic() || (D.value() != 1 && D.value() != NumHeads))
        return "the mask " + MT.str() + " has no heads axis of size 1 or " +
               std::to_string(NumHeads);
      if (D.value() == NumHeads && NumHeads != 1)
        Block.MaskHeadAxis = MT.rank() - 3;
    }
  }

  bool Packed = !Attention.operand(1);
  const char *Names[] = {"q", "k", "v"};
  for (int Part = 0; Part < 3; ++Part) {
    if (Packed && Part > 0) {
      Block.Proj[Part] = Block.Proj[0];
      Block.Offset[Part] = Part * Hidden;
      continue;
    }
    Value *V = Attention.operand(unsigned(Part));
    MatchResult R = match(projection(Names[Part]), V);
    if (!R.Matched)
      return (Packed ? std::string("the packed qkv") : Names[Part]) +
             " projection: " + R.Why;
    Node *P = R.Bindings.node(Names[Part]);
    // cse merges identical projections (zero ones, say) into one value that
    // is then q, k and v at once.
    bool OnlyThisAttention =
        !V->graph()->isOutput(V) && llvm::all_of(V->uses(), [&](const Use &U) {
          return U.User == &Attention && U.OperandIndex < 3;
        });
    if (!OnlyThisAttention)
      return "the " + std::string(Packed ? "qkv" : Names[Part]) +
             " projection's result has other uses";
    int64_t Width = gemmWidth(*P, true);
    if (Width != (Packed ? 3 : 1) * Hidden)
      return "the " + std::string(Packed ? "qkv" : Names[Part]) +
             " projection has " + std::to_string(Width) +
             " outputs for an attention of width " + std::to_string(Hidden);
    Block.Proj[Part] = P;
    Block.Offset[Part] = 0;
  }
  Node *OutNode = Out.Bindings.node("out");
  if (gemmWidth(*OutNode, false) != Hidden)
    return "the output projection's weight does not have " +
           std::to_string(Hidden) + " input rows";
  Block.Attention = &Attention;
  Block.Packed = Packed;
  Block.Out = OutNode;
  Block.Heads = NumHeads;
  Block.HeadDim = Hidden / NumHeads;
  return std::nullopt;
}

bool isFfnCandidate(const Node &N) {
  auto IsGemm = [](const Node *G) {
    return G && (G->opName() == "FusedGemm" || G->opName() == "MatMul");
  };
  return IsGemm(&N) && N.operand(0) && IsGemm(N.operand(0)->definingNode());
}

std::optional<std::string> findFfnBlock(Node &Down, FfnBlock &Block) {
  // down(act(x @ W1 + b1?)) with act(0) = 0
  Pattern Ffn = gemm("down", gemm("up", capture("x")));
  MatchResult R = match(Ffn, Down.result());
  if (!R.Matched)
    return R.Why;
  Node *Up = R.Bindings.node("up");
  std::string Act = Up->getString("activation", "none");
  // A dead neuron's value is act(0): it contributes nothing only if that is
  // 0. Every activation FusedGemm has today maps 0 to 0.
  if (Act != "none" && Act != "relu" && Act != "gelu" && Act != "gelu_tanh")
    return "activation " + Act + " may not map 0 to 0";
  if (!onlyUse(Up->result(), &Down, 0))
    return "the hidden value %" + Up->result()->name() + " has other uses";
  int64_t Width = gemmWidth(*Up, true);
  if (gemmWidth(Down, false) != Width)
    return "the GEMMs' widths differ";
  Block = {Up, &Down, Width};
  return std::nullopt;
}

std::vector<double> weightL1(const Node &Gemm, bool Outputs) {
  const Tensor &W = weightOf(Gemm);
  int64_t Rows = W.dim(0), Cols = W.dim(1);
  bool ByColumn = weightAxis(Gemm, Outputs) == 1;
  std::vector<double> Sums(ByColumn ? Cols : Rows, 0.0);
  std::vector<double> Data = W.toDoubles();
  for (int64_t I = 0; I < Rows; ++I)
    for (int64_t J = 0; J < Cols; ++J)
      Sums[ByColumn ? J : I] += std::fabs(Data[I * Cols + J]);
  return Sums;
}

bool outputIsZero(const Node &Gemm, const std::vector<double> &ColumnL1,
                  int64_t J) {
  // A NaN or infinite weight makes the sum non-zero, so zero sums mean
  // zero weights.
  if (ColumnL1[J] != 0)
    return false;
  const Value *Bias = Gemm.operand(2);
  return !Bias || Bias->constantData()->getDouble(J) == 0;
}

void keepOutputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Kept) {
  replaceConstant(G, Gemm, 1,
                  selectAlong(weightOf(Gemm), weightAxis(Gemm, true), Kept));
  if (const Value *Bias = Gemm.operand(2))
    replaceConstant(G, Gemm, 2, selectAlong(*Bias->constantData(), 0, Kept));
  setWidth(Gemm.result(), int64_t(Kept.size()));
}

void keepInputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Kept) {
  replaceConstant(G, Gemm, 1,
                  selectAlong(weightOf(Gemm), weightAxis(Gemm, false), Kept));
}

void zeroOutputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Zeroed) {
  replaceConstant(G, Gemm, 1,
                  zeroAlong(weightOf(Gemm), weightAxis(Gemm, true), Zeroed));
  if (const Value *Bias = Gemm.operand(2))
    replaceConstant(G, Gemm, 2, zeroAlong(*Bias->constantData(), 0, Zeroed));
}

void zeroInputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Zeroed) {
  replaceConstant(G, Gemm, 1,
                  zeroAlong(weightOf(Gemm), weightAxis(Gemm, false), Zeroed));
}

int64_t countParameters(const Graph &G) {
  int64_t N = 0;
  for (const Value *C : G.constants())
    if (isFloat(C->dtype()) && (C->hasUses() || G.isOutput(C)))
      N += C->constantData() ? C->constantData()->numElements()
                             : C->type().staticNumElements();
  return N;
}

llvm::Expected<double> parseRatio(llvm::StringRef Name, llvm::StringRef Text) {
  double R;
  if (Text.trim().getAsDouble(R) || !(R >= 0 && R <= 1))
    return makeError("pruning ratio '" + Name +
                     "' must be a number in [0, 1], "
                     "got '" +
                     Text + "'");
  return R;
}

llvm::Error checkPruneSpec(llvm::StringRef Spec) {
  llvm::SmallVector<llvm::StringRef> Parts;
  Spec.split(Parts, ',', -1, /*KeepEmpty=*/false);
  if (Parts.empty())
    return makeError("--prune expects heads=R,ffn=R, got '" + Spec + "'");
  for (llvm::StringRef Part : Parts) {
    auto [Key, Value] = Part.split('=');
    Key = Key.trim();
    if ((Key != "heads" && Key != "ffn") || !Part.contains('='))
      return makeError("--prune expects heads=R,ffn=R, got '" + Spec + "'");
    if (auto R = parseRatio(Key, Value); !R)
      return R.takeError();
  }
  return llvm::Error::success();
}

llvm::Error runPipelineWithPruning(Graph &G,
                                   llvm::ArrayRef<PipelineStep> Pipeline,
                                   llvm::StringRef Spec,
                                   const PipelineOptions &Options,
                                   llvm::raw_ostream &Report) {
  if (llvm::Error E = checkPruneSpec(Spec))
    return E;
  auto At = llvm::find_if(Pipeline, [](const PipelineStep &S) {
    return S.Pass->Name == "prune-structured";
  });
  llvm::ArrayRef<PipelineStep> Before(Pipeline.begin(), At);
  PassPipeline After(At, Pipeline.end());
  if (At == Pipeline.end())
    After.push_back(passStep("prune-structured"));

  if (!Before.empty())
    if (llvm::Error E = runPassPipeline(G, Before, Options))
      return E;
  // The counts to compare are those of the whole pipeline with and without
  // pruning: the unpruned one runs on a copy (weights are shared), quietly.
  std::unique_ptr<Graph> Unpruned = G.clone();
  PipelineOptions Quiet;
  Quiet.VerifyEach = Options.VerifyEach;
  if (llvm::Error E = runPassPipeline(*Unpruned, After, Quiet))
    return E;
  Census Old = census(*Unpruned);
  Unpruned.reset();
  PipelineStep Magnitude = passStep("prune-magnitude");
  llvm::SmallVector<llvm::StringRef> Parts;
  Spec.split(Parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef Part : Parts) {
    auto [Key, Value] = Part.split('=');
    Magnitude.Options.set(Key.trim(), Value.trim());
  }
  After.insert(After.begin(), std::move(Magnitude));
  if (llvm::Error E = runPassPipeline(G, After, Options))
    return E;
  Census New = census(G);
  double Drop = Old.Parameters
                    ? 100.0 * double(Old.Parameters - New.Parameters) /
                          double(Old.Parameters)
                    : 0.0;
  Report << "pruning (" << Spec << "): parameters " << Old.Parameters << " -> "
         << New.Parameters << " (-" << llvm::format("%.1f", Drop)
         << "%), attention heads " << Old.Heads << " -> " << New.Heads
         << ", FFN neurons " << Old.Neurons << " -> " << New.Neurons << "\n";
  return llvm::Error::success();
}

} // namespace kiln::prune
