//===- IndexBounds.cpp - inputs that index tables, longest sequence -------===//
#include "codegen/IndexBounds.h"

#include "ir/Tensor.h"
#include "ir/ops/KilnOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <cmath>

namespace kiln {
namespace {

/// Ops whose result holds only values of their first operand.
bool preservesValues(llvm::StringRef Op) {
  return llvm::is_contained(
      {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity"}, Op);
}

/// The value PackTokens' result `V` holds the kept elements of (its packed
/// value operand), or null for the spans and positions and other ops.
const Value *packedFrom(const Value *V) {
  const Node *N = V->definingNode();
  if (!N || N->opName() != "PackTokens" || V->resultIndex() < PackFirstValue ||
      V->resultIndex() >= N->numOperands())
    return nullptr;
  return N->operand(V->resultIndex());
}

/// The graph input `V` is a copy of (through value-preserving ops and
/// PackTokens, whose packed values are elements of their operand or 0, a
/// valid index of any table), or null.
const Value *sourceInput(const Value *V) {
  for (int Depth = 0; V && Depth < 32; ++Depth) {
    if (V->isInput())
      return V;
    if (const Value *Packed = packedFrom(V)) {
      V = Packed;
      continue;
    }
    const Node *N = V->definingNode();
    if (!N || !preservesValues(N->opName()) || !N->operand(0) ||
        !isInteger(N->operand(0)->dtype()))
      return nullptr;
    V = N->operand(0);
  }
  return nullptr;
}

std::optional<int64_t> staticDim(const Value *V, int64_t I) {
  if (!V || I < 0 || I >= V->rank() || !V->type().Dims[I].isStatic())
    return std::nullopt;
  return V->type().Dims[I].value();
}

/// Calls F(index operand, table size, table words, form) for every index
/// use whose table size is known.
template <typename Fn> void forEachIndexUse(const Graph &G, Fn F) {
  for (const Node *N : G.nodeList()) {
    if (N->opName() == "Gather" && N->operand(0) && N->operand(1)) {
      int64_t Rank = N->operand(0)->rank();
      int64_t Axis = N->getInt("axis", 0);
      if (Axis < 0)
        Axis += Rank;
      if (auto Size = staticDim(N->operand(0), Axis))
        F(*N, N->operand(1), *Size, "axis " + std::to_string(Axis),
          IndexCheck::Form::Gather);
    } else if (N->opName() == "EmbedLayerNorm") {
      const std::pair<unsigned, unsigned> Uses[] = {
          {EIds, EWord}, {EPositionIds, EPos}, {ETokenTypeIds, EType}};
      const char *Words[] = {"word", "position", "token type"};
      for (size_t I = 0; I < 3; ++I)
        if (auto Size = staticDim(N->operand(Uses[I].second), 0))
          F(*N, N->operand(Uses[I].first), *Size, std::string(Words[I]),
            IndexCheck::Form::Embed);
    }
  }
}

//===-- Interval analysis -------------------------------------------------===//

class RangeAnalysis {
public:
  RangeAnalysis(int64_t Seq, llvm::ArrayRef<IoRole> Roles) : Seq(Seq) {
    for (size_t I = 0; I < Roles.size(); ++I)
      RoleOf[I] = Roles[I];
  }

  std::optional<IndexRange> of(const Value *V, int Depth = 0) {
    if (!V || Depth > 64)
      return std::nullopt;
    if (auto It = Memo.find(V); It != Memo.end())
      return It->second;
    std::optional<IndexRange> R = compute(V, Depth);
    Memo[V] = R;
    return R;
  }

  /// Size of dim I of V at this sequence length (batch 1).
  std::optional<int64_t> dim(const Value *V, int64_t I) const {
    if (!V || I < 0 || I >= V->rank())
      return std::nullopt;
    const Dim &D = V->type().Dims[I];
    if (D.isStatic())
      return D.value();
    if (D.isSymbol() && D.symbol() == "seq")
      return Seq;
    if (D.isSymbol() && D.symbol() == "batch")
      return 1;
    return std::nullopt;
  }

private:
  int64_t Seq;
  llvm::DenseMap<size_t, IoRole> RoleOf;
  llvm::DenseMap<const Value *, std::optional<IndexRange>> Memo;

  static std::optional<IndexRange> make(__int128 Lo, __int128 Hi) {
    if (Lo < INT64_MIN || Hi > INT64_MAX)
      return std::nullopt;
    return IndexRange{int64_t(Lo), int64_t(Hi)};
  }

  std::optional<IndexRange> constant(const Tensor &T) {
    if (T.numElements() == 0 || T.numElements() > (int64_t(1) << 20))
      return std::nullopt;
    double Lo = T.getDouble(0), Hi = Lo;
    for (int64_t I = 1; I < T.numElements(); ++I) {
      double X = T.getDouble(I);
      Lo = std::min(Lo, X);
      Hi = std::max(Hi, X);
    }
    if (!(Lo >= -0x1p62 && Hi <= 0x1p62))
      return std::nullopt;
    return IndexRange{int64_t(std::floor(Lo)), int64_t(std::ceil(Hi))};
  }

  /// Whether a FusedElementwise expression's value is 0 or 1: a comparison
  /// or logical op, possibly under casts.
  static bool booleanExpr(llvm::StringRef Expr) {
    Expr = Expr.trim();
    while (Expr.starts_with("cast_")) {
      size_t Open = Expr.find('(');
      if (Open == llvm::StringRef::npos || !Expr.ends_with(")"))
        return false;
      Expr = Expr.slice(Open + 1, Expr.size() - 1).trim();
    }
    for (llvm::StringRef Op : {"not(", "eq(", "ne(", "lt(", "le(", "gt(", "ge(",
                               "and(", "or(", "xor(", "isnan(", "isinf("})
      if (Expr.starts_with(Op))
        return true;
    return false;
  }

  std::optional<IndexRange> compute(const Value *V, int Depth) {
    if (V->dtype() == DType::Bool)
      return IndexRange{0, 1};
    if (const Tensor *T = V->constantData())
      return constant(*T);
    if (V->isInput()) {
      const auto &Inputs = V->graph()->inputs();
      auto It = llvm::find(Inputs, V);
      auto Role = RoleOf.find(size_t(It - Inputs.begin()));
      if (Role != RoleOf.end() && Role->second == IoRole::AttentionMask)
        return IndexRange{0, 1};
      return std::nullopt;
    }
    const Node *N = V->definingNode();
    if (!N)
      return std::nullopt;
    llvm::StringRef Op = N->opName();
    auto In = [&](unsigned I) { return of(N->operand(I), Depth + 1); };
    if (Op == "PackTokens") {
      // A packed value: its operand's elements, or 0 past the tokens.
      if (const Value *From = packedFrom(V)) {
        auto R = of(From, Depth + 1);
        return R ? std::optional<IndexRange>(
                       IndexRange{std::min(R->Lo, int64_t(0)),
                                  std::max(R->Hi, int64_t(0))})
                 : std::nullopt;
      }
      // The positions: a column of the mask, or 0.
      if (V->resultIndex() == N->numOperands())
        if (auto Seq = dim(N->operand(PackMask), 1))
          return IndexRange{0, std::max<int64_t>(*Seq - 1, 0)};
      return std::nullopt;
    }
    if (preservesValues(Op) ||
        llvm::is_contained({"Expand", "Slice", "Transpose", "Tile", "Gather",
                            "ReduceMax", "ReduceMin"},
                           Op))
      return In(0);
    if (Op == "FusedElementwise")
      return booleanExpr(N->getString("expr", ""))
                 ? std::optional<IndexRange>(IndexRange{0, 1})
                 : std::nullopt;
    if (Op == "Concat" || Op == "Max" || Op == "Min" || Op == "Where") {
      std::optional<IndexRange> R;
      for (unsigned I = Op == "Where" ? 1 : 0; I < N->numOperands(); ++I) {
        auto X = In(I);
        if (!X)
          return std::nullopt;
        R = R ? IndexRange{std::min(R->Lo, X->Lo), std::max(R->Hi, X->Hi)} : *X;
      }
      return R;
    }
    if (Op == "Neg") {
      auto A = In(0);
      return A ? make(-__int128(A->Hi), -__int128(A->Lo)) : std::nullopt;
    }
    if (Op == "Add" || Op == "Sub" || Op == "Mul") {
      auto A = In(0), B = In(1);
      if (!A || !B)
        return std::nullopt;
      __int128 AL = A->Lo, AH = A->Hi, BL = B->Lo, BH = B->Hi;
      if (Op == "Add")
        return make(AL + BL, AH + BH);
      if (Op == "Sub")
        return make(AL - BH, AH - BL);
      __int128 P[] = {AL * BL, AL * BH, AH * BL, AH * BH};
      return make(*std::min_element(P, P + 4), *std::max_element(P, P + 4));
    }
    if (Op == "CumSum") {
      // A sum of 1 to n elements in [Lo, Hi] along the axis.
      auto A = In(0);
      const Tensor *AxisT =
          N->operand(1) ? N->operand(1)->constantData() : nullptr;
      if (!A || !AxisT || AxisT->numElements() != 1)
        return std::nullopt;
      int64_t Axis = AxisT->getInt(0);
      if (Axis < 0)
        Axis += N->operand(0)->rank();
      auto Count = dim(N->operand(0), Axis);
      if (!Count || *Count < 1)
        return std::nullopt;
      __int128 L = A->Lo, H = A->Hi;
      return make(std::min(L, L * *Count), std::max(H, H * *Count));
    }
    return std::nullopt;
  }
};

bool inside(IndexRange R, int64_t Size) { return R.Lo >= -Size && R.Hi < Size; }

} // namespace

std::vector<IndexCheck> findIndexChecks(const Graph &G) {
  std::vector<IndexCheck> Checks;
  forEachIndexUse(G, [&](const Node &N, const Value *Index, int64_t Size,
                         std::string Table, IndexCheck::Form Form) {
    const Value *In = sourceInput(Index);
    if (!In)
      return;
    IndexCheck C{
        In->name(),           N.describe(), std::move(Table), Form, Size,
        /*WrapNegative=*/true};
    bool Seen = llvm::any_of(Checks, [&](const IndexCheck &O) {
      return O.Input == C.Input && O.Node == C.Node && O.Table == C.Table;
    });
    if (!Seen)
      Checks.push_back(std::move(C));
  });
  return Checks;
}

std::optional<IndexRange> valueRange(const Value *V, int64_t Seq,
                                     llvm::ArrayRef<IoRole> InputRoles) {
  return RangeAnalysis(Seq, InputRoles).of(V);
}

std::optional<SequenceLimit> sequenceLimit(const Graph &G,
                                           llvm::ArrayRef<IoRole> InputRoles) {
  // Past this, a limit is no practical bound.
  constexpr int64_t Cap = int64_t(1) << 24;
  std::optional<SequenceLimit> Best;
  forEachIndexUse(G, [&](const Node &N, const Value *Index, int64_t Size,
                         std::string Table, IndexCheck::Form Form) {
    // EmbedLayerNorm without position ids takes the token's place.
    bool Implicit =
        Form == IndexCheck::Form::Embed && !Index && Table == "position";
    if (!Index && !Implicit)
      return;
    auto Fits = [&](int64_t Seq) {
      if (Implicit) {
        RangeAnalysis A(Seq, InputRoles);
        auto Len = A.dim(N.operand(EIds), 1);
        return Len && *Len <= Size;
      }
      auto R = valueRange(Index, Seq, InputRoles);
      return R && inside(*R, Size);
    };
    // Only a bound that depends on the length limits it.
    if (!Fits(1) || Fits(Cap))
      return;
    int64_t Lo = 1, Hi = Cap; // Fits(Lo), !Fits(Hi)
    while (Hi - Lo > 1) {
      int64_t Mid = Lo + (Hi - Lo) / 2;
      (Fits(Mid) ? Lo : Hi) = Mid;
    }
    if (Best && Best->MaxSeq <= Lo)
      return;
    const Value *TableV = nullptr;
    if (N.opName() == "Gather")
      TableV = N.operand(0);
    else
      TableV = N.operand(Table == "word"       ? EWord
                         : Table == "position" ? EPos
                                               : EType);
    std::string Name = TableV ? "%" + TableV->name() : "";
    Best = SequenceLimit{
        Lo, (Form == IndexCheck::Form::Embed ? Table + " table " : "table ") +
                Name + " of " + N.describe() + " (" + std::to_string(Size) +
                " rows)"};
  });
  return Best;
}

} // namespace kiln
