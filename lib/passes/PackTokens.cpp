//===- PackTokens.cpp - run an encoder on its real tokens only ------------===//
//
// Rewrites a padded encoder ([batch, seq] ids and mask in, pooled
// [batch, hidden] out) into its padding-free form: the tokens the mask
// keeps are packed into one [1, tokens] row, every token-wise op runs on
// them alone, attention runs per sequence over the spans of the packed row
// (FlashAttention's varlen form) and pooling reads each sequence's span:
//
//   ids, types [B, S] --------------> EmbedLayerNorm -> ... -> Attention(qkv, mask')
//   mask [B, S] -> mask' [B,1,1,S]                  ...  -> PoolNormalize(h, mask)
//
//   PackTokens(mask, ids, types) {positions} -> spans [B, 2], ids', types' [1, T], p [1, T]
//   EmbedLayerNorm(ids', p, types') -> ... -> Attention(qkv, spans) ... -> PoolNormalize(h, spans)
//
// T is the symbol `tokens` (bound per token bucket, like batch and seq);
// slots past the packed tokens hold id 0 and are computed but never read.
//
// The result equals the padded graph's for any mask whose rows are 1s then
// 0s (the runtime runs the packed plan only for such masks), which the pass
// proves from the graph:
//  - every value of the [batch, seq, ...] token layout is made by an op that
//    works token by token (EmbedLayerNorm, FusedGemm, LayerNorm,
//    SkipLayerNorm, Glu, FusedElementwise over tokens and constants that do
//    not vary along the tokens) or by Attention, and is read by those ops
//    or by PoolNormalize only; no graph output is per token;
//  - every Attention's additive mask is a function of the mask input alone
//    that gives 0 to a kept key and at most -1e4 to a padded one, the same
//    for every query (probed by evaluating it on the mask [[1, 0]]);
//  - PoolNormalize's mask is the mask input (probed the same way) or, in
//    CLS mode, absent.
// A graph it cannot prove this for is left as is; `--debug-only=pack-tokens`
// says why, and packTokens() returns the reason to `kiln compile --tokens`.
//
//===----------------------------------------------------------------------===//
#include "ir/OpRegistry.h"
#include "ir/ops/KilnOps.h"
#include "passes/Passes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace kiln {
namespace {

constexpr llvm::StringLiteral PassName = "pack-tokens";

/// Evaluates `Root` from `Input` = `Probe` and the graph's constants.
class ProbeEvaluator {
public:
  ProbeEvaluator(Value *Input, Tensor Probe) : Input(Input) {
    Known[Input] = std::move(Probe);
  }

  llvm::Expected<Tensor> eval(Value *V) {
    if (auto It = Known.find(V); It != Known.end())
      return It->second;
    if (V->isInput())
      return makeError("it depends on input %" + V->name() + " besides %" +
                       Input->name());
    if (V->isConstant()) {
      if (!V->constantData())
        return makeError("constant %" + V->name() + " has no data");
      return *V->constantData();
    }
    Node *N = V->definingNode();
    if (!N || !N->def() || !N->def()->Eval)
      return makeError("%" + V->name() + " has no reference implementation");
    if (++Steps > 256)
      return makeError("its computation is longer than 256 nodes");
    std::vector<Tensor> Args(N->numOperands());
    std::vector<const Tensor *> Ptrs(N->numOperands(), nullptr);
    for (unsigned I = 0; I < N->numOperands(); ++I)
      if (Value *O = N->operand(I)) {
        auto T = eval(O);
        if (!T)
          return T.takeError();
        Args[I] = std::move(*T);
        Ptrs[I] = &Args[I];
      }
    EvalContext Ctx(*N, Ptrs);
    if (llvm::Error E = N->def()->Eval(Ctx))
      return std::move(E);
    for (unsigned I = 0; I < N->numResults(); ++I)
      Known[N->result(I)] = Ctx.Outputs[I];
    return Known[V];
  }

private:
  Value *Input;
  std::map<Value *, Tensor> Known;
  unsigned Steps = 0;
};

/// The padding mask probe: one sequence of two tokens, the second padding.
Tensor probeMask(DType Type) {
  return Tensor::fromDoubles(Type, {1, 2}, {1.0, 0.0});
}

/// Why `AddMask` is not the additive padding mask of `Mask`, if it is not.
std::optional<std::string> checkAttentionMask(Value *AddMask, Value *Mask) {
  ProbeEvaluator P(Mask, probeMask(Mask->dtype()));
  auto T = P.eval(AddMask);
  if (!T)
    return "its mask %" + AddMask->name() +
           " is not the padding mask: " + llvm::toString(T.takeError());
  // [..., 1 query or 2, 2 keys] with every other dim 1 in the probe.
  llvm::ArrayRef<int64_t> S = T->sizes();
  bool Shape = S.size() >= 1 && S.back() == 2;
  for (size_t D = 0; D + 2 < S.size(); ++D)
    Shape = Shape && S[D] == 1;
  if (S.size() >= 2)
    Shape = Shape && S[S.size() - 2] == 1;
  if (!Shape)
    return "its mask %" + AddMask->name() + " " + AddMask->type().str() +
           " varies along more than the keys";
  double Kept = T->getDouble(0), Padded = T->getDouble(1);
  auto Text = [](double X) {
    char Buf[32];
    std::snprintf(Buf, sizeof(Buf), "%g", X == 0 ? 0.0 : X);
    return std::string(Buf);
  };
  if (Kept != 0 || !(Padded <= -1e4))
    return "its mask %" + AddMask->name() + " gives " + Text(Kept) +
           " to a kept key and " + Text(Padded) +
           " to a padded one, not 0 and at most -1e4";
  return std::nullopt;
}

/// Why the pooling mask `PoolMask` is not `Mask` itself, if it is not.
std::optional<std::string> checkPoolMask(Value *PoolMask, Value *Mask) {
  if (PoolMask == Mask)
    return std::nullopt;
  ProbeEvaluator P(Mask, probeMask(Mask->dtype()));
  auto T = P.eval(PoolMask);
  if (!T)
    return "its mask %" + PoolMask->name() +
           " is not the padding mask: " + llvm::toString(T.takeError());
  if (T->numElements() != 2 || T->getDouble(0) != 1 || T->getDouble(1) != 0)
    return "its mask %" + PoolMask->name() +
           " weighs tokens differently from %" + Mask->name();
  return std::nullopt;
}

struct Plan {
  Value *Mask = nullptr;
  Node *Embed = nullptr;
  std::vector<Node *> Attentions, Pools;
  std::vector<Value *> TokenValues; // retyped [batch, seq, ...] -> [1, T, ...]
};

bool isTokenLayout(const Value *V, const Value *Mask) {
  const TensorType &T = V->type();
  const TensorType &M = Mask->type();
  return !V->isConstant() && T.rank() >= 3 && T.Dims[0].sameAs(M.Dims[0]) &&
         T.Dims[1].sameAs(M.Dims[1]);
}

/// Whether `V` does not vary along the tokens: a constant (or input) of
/// rank <= 1, or whose every dim but the last is 1.
bool isPerFeature(const Value *V) {
  const TensorType &T = V->type();
  for (int64_t D = 0; D + 1 < T.rank(); ++D)
    if (!T.Dims[D].isStatic() || T.Dims[D].value() != 1)
      return false;
  return V->isConstant() || T.rank() <= 1;
}

/// Why node `N`, which makes or reads token values, does not work token by
/// token, if it does not.
std::optional<std::string> checkTokenWise(const Node &N, const Plan &P) {
  llvm::StringRef Op = N.opName();
  auto Token = [&](unsigned I) {
    return N.operand(I) && isTokenLayout(N.operand(I), P.Mask);
  };
  if (Op == "FusedGemm") {
    if (!Token(0) || (N.operand(1) && !N.operand(1)->isConstant()) ||
        (N.operand(2) && !isPerFeature(N.operand(2))))
      return N.describe() + " multiplies tokens by a non-constant weight";
    return std::nullopt;
  }
  if (Op == "LayerNorm" || Op == "SkipLayerNorm" || Op == "Glu" ||
      Op == "FusedElementwise") {
    for (unsigned I = 0; I < N.numOperands(); ++I) {
      const Value *O = N.operand(I);
      if (O && !Token(I) && !isPerFeature(O))
        return N.describe() + " combines the tokens with %" + O->name() + " " +
               O->type().str() + ", which varies along them";
    }
    for (const Value *R : N.results())
      if (!isTokenLayout(R, P.Mask))
        return N.describe() + " gives %" + R->name() + " " + R->type().str() +
               ", not one row per token";
    return std::nullopt;
  }
  if (Op == "Attention") {
    for (unsigned I : {AQuery, AKey, AValue})
      if (N.operand(I) && !Token(I))
        return N.describe() + " attends over %" + N.operand(I)->name() + " " +
               N.operand(I)->type().str() + ", not the tokens";
    return std::nullopt;
  }
  return N.describe() + " does not work token by token";
}

std::optional<std::string> planPacking(Graph &G, Plan &P) {
  for (Node *N : G.nodeList()) {
    if (N->opName() == "EmbedLayerNorm") {
      if (P.Embed)
        return std::string("the graph has two EmbedLayerNorms");
      P.Embed = N;
    } else if (N->opName() == "Attention") {
      P.Attentions.push_back(N);
    } else if (N->opName() == "PoolNormalize") {
      P.Pools.push_back(N);
    } else if (N->opName() == "PackTokens") {
      return std::string("the tokens are packed already");
    }
  }
  if (!P.Embed)
    return std::string("no EmbedLayerNorm makes the token states");
  if (P.Attentions.empty())
    return std::string("no Attention");
  if (P.Pools.empty())
    return std::string("no PoolNormalize pools the tokens");

  // The mask: the input every Attention's padding mask is computed from.
  for (Node *A : P.Attentions) {
    Value *AddMask = A->operand(AMask);
    if (!AddMask)
      return A->describe() + " has no padding mask: padding tokens are "
                             "attended to";
    // The candidates are the [batch, seq] inputs; the reason given is the
    // last one's, the mask's when the graph has only ids and a mask.
    std::optional<std::string> Why;
    if (!P.Mask)
      for (Value *In : G.inputs())
        if (In->rank() == 2) {
          Why = checkAttentionMask(AddMask, In);
          if (!Why) {
            P.Mask = In;
            break;
          }
        }
    if (!P.Mask)
      return A->describe() + ": " +
             Why.value_or("no [batch, seq] input gives its mask");
    if (auto Why = checkAttentionMask(AddMask, P.Mask))
      return A->describe() + ": " + *Why;
  }
  for (Node *Pool : P.Pools) {
    Value *PoolMask = Pool->operand(PMask);
    if (!PoolMask) {
      if (Pool->getString("mode", "") != "cls")
        return Pool->describe() + " averages every position, padding included";
    } else if (auto Why = checkPoolMask(PoolMask, P.Mask)) {
      return Pool->describe() + ": " + *Why;
    }
    if (!isTokenLayout(Pool->operand(PHidden), P.Mask))
      return Pool->describe() + " pools %" + Pool->operand(PHidden)->name() +
             ", which is not per token";
  }
  for (unsigned I : {EIds, EPositionIds, ETokenTypeIds})
    if (Value *V = P.Embed->operand(I)) {
      const TensorType &T = V->type(), &M = P.Mask->type();
      if (T.rank() != 2 || !T.Dims[0].sameAs(M.Dims[0]) ||
          !T.Dims[1].sameAs(M.Dims[1]))
        return P.Embed->describe() + " reads %" + V->name() + " " + T.str() +
               ", not one value per token of %" + P.Mask->name() + " " +
               M.str();
    }
  if (!isTokenLayout(P.Embed->result(), P.Mask))
    return P.Embed->describe() + " does not give one row per token";

  // Every token value, from the embedding on, is made and read token-wise.
  llvm::DenseSet<Value *> Seen;
  std::vector<Value *> Work = {P.Embed->result()};
  while (!Work.empty()) {
    Value *V = Work.back();
    Work.pop_back();
    if (!Seen.insert(V).second)
      continue;
    P.TokenValues.push_back(V);
    if (G.isOutput(V))
      return "graph output %" + V->name() + " " + V->type().str() +
             " is per token";
    for (const Use &U : V->uses()) {
      Node &N = *U.User;
      if (N.opName() == "PoolNormalize" && U.OperandIndex == PHidden)
        continue;
      if (auto Why = checkTokenWise(N, P))
        return *Why;
      for (Value *R : N.results())
        Work.push_back(R);
    }
  }
  // Token values made from elsewhere (a second input's states) are not
  // packed.
  for (Value *V : P.TokenValues)
    if (Node *N = V->definingNode(); N && N != P.Embed)
      for (Value *O : N->operands())
        if (O && isTokenLayout(O, P.Mask) && !Seen.contains(O))
          return N->describe() + " reads %" + O->name() +
                 ", which the embedding does not make";
  return std::nullopt;
}

void applyPacking(Graph &G, Plan &P) {
  const Dim Tokens = Dim::symbol("tokens");
  // PackTokens(mask, ids, position ids?, types?) before the embedding.
  Node *E = P.Embed;
  std::vector<Value *> Packed = {P.Mask};
  std::vector<unsigned> Slots;
  for (unsigned I : {EIds, EPositionIds, ETokenTypeIds})
    if (Value *V = E->operand(I)) {
      Packed.push_back(V);
      Slots.push_back(I);
    }
  bool Positions = !E->operand(EPositionIds);
  std::vector<TensorType> Types = {
      TensorType(DType::I32, {P.Mask->type().Dims[0], Dim(2)})};
  for (size_t I = 1; I < Packed.size(); ++I)
    Types.push_back(TensorType(Packed[I]->dtype(), {Dim(1), Tokens}));
  if (Positions)
    Types.push_back(TensorType(DType::I32, {Dim(1), Tokens}));
  AttrMap Attrs;
  if (Positions)
    Attrs["positions"] = Attribute(int64_t(1));
  std::vector<std::string> Names = {G.uniqueName("spans")};
  for (size_t I = 1; I < Packed.size(); ++I)
    Names.push_back(G.uniqueName(Packed[I]->name() + "_packed"));
  if (Positions)
    Names.push_back(G.uniqueName("positions_packed"));
  Node *Pack = G.createNode("PackTokens", Packed, Types, std::move(Attrs),
                            "pack_tokens", Names, E);
  Value *Spans = Pack->result(0);
  for (size_t I = 0; I < Slots.size(); ++I)
    E->setOperand(Slots[I], Pack->result(unsigned(I + 1)));
  if (Positions)
    E->setOperand(EPositionIds, Pack->result(Pack->numResults() - 1));

  for (Value *V : P.TokenValues) {
    TensorType T = V->type();
    T.Dims[0] = Dim(1);
    T.Dims[1] = Tokens;
    V->setType(std::move(T));
  }
  for (Node *A : P.Attentions) {
    std::vector<Value *> Ops(ASpans + 1, nullptr);
    for (unsigned I : {AQuery, AKey, AValue})
      Ops[I] = A->operand(I);
    Ops[ASpans] = Spans;
    A->setOperands(Ops);
  }
  for (Node *Pool : P.Pools) {
    Pool->setOperands({Pool->operand(PHidden), nullptr, Spans});
    TensorType T = Pool->result()->type();
    T.Dims[0] = P.Mask->type().Dims[0];
    Pool->result()->setType(std::move(T));
  }
}

} // namespace

llvm::Expected<bool> packTokens(Graph &G, std::string *Why) {
  Plan P;
  if (std::optional<std::string> Refused = planPacking(G, P)) {
    if (Why)
      *Why = *Refused;
    return false;
  }
  applyPacking(G, P);
  PassContext Quiet({}, llvm::nulls());
  auto Inferred = runInferShapes(G, {}, Quiet);
  if (!Inferred)
    return Inferred.takeError();
  auto Dead = runDCE(G, {}, Quiet);
  if (!Dead)
    return Dead.takeError();
  return true;
}

llvm::Expected<bool> runPackTokens(Graph &G, const PassOptions &,
                                   PassContext &Ctx) {
  std::string Why;
  auto Changed = packTokens(G, &Why);
  if (Changed && !*Changed)
    Ctx.debug() << PassName << ": not packed: " << Why << "\n";
  if (Changed && *Changed)
    Ctx.bumpStat("graphs-packed");
  return Changed;
}

} // namespace kiln
