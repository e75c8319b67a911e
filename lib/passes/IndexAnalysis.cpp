//===- IndexAnalysis.cpp - affine index tensors and re-indexings ----------===//
#include "passes/IndexAnalysis.h"

#include "ir/ops/OpUtils.h"
#include "ir/ops/ShapeOpUtils.h"

#include "llvm/ADT/SmallSet.h"

namespace kiln {

bool IndexCoef::equals(const Dim &D) const {
  if (D.isStatic())
    return Symbol.empty() && Factor == D.value();
  return D.isSymbol() && Factor == 1 && Symbol == D.symbol();
}

std::string IndexCoef::str() const {
  if (Symbol.empty())
    return std::to_string(Factor);
  return Factor == 1 ? Symbol : std::to_string(Factor) + "*" + Symbol;
}

std::string AffineIndex::str() const {
  std::string S = std::to_string(Offset);
  for (size_t J = 0; J < Coefs.size(); ++J)
    if (!Coefs[J].isZero())
      S += " + " + Coefs[J].str() + "*c" + std::to_string(J);
  return S;
}

namespace {

bool isUnit(const Dim &D) { return D.isStatic() && D.value() == 1; }

std::optional<IndexCoef> addCoefs(const IndexCoef &A, const IndexCoef &B) {
  if (A.isZero())
    return B;
  if (B.isZero())
    return A;
  if (A.Symbol != B.Symbol)
    return std::nullopt;
  auto Sum = checkedAdd(A.Factor, B.Factor);
  if (!Sum)
    return std::nullopt;
  return IndexCoef{*Sum, *Sum ? A.Symbol : ""};
}

std::optional<IndexCoef> mulCoefs(const IndexCoef &A, const IndexCoef &B) {
  if (A.isZero() || B.isZero())
    return IndexCoef{};
  if (!A.Symbol.empty() && !B.Symbol.empty())
    return std::nullopt;
  auto Product = checkedMul(A.Factor, B.Factor);
  if (!Product)
    return std::nullopt;
  return IndexCoef{*Product, A.Symbol.empty() ? B.Symbol : A.Symbol};
}

/// `A`, a form over `From`'s axes, as a form over the axes of `To`, which
/// `From` broadcasts to (aligned to the right).
std::optional<AffineIndex> broadcastTo(const AffineIndex &A, const Shape &From,
                                       const Shape &To) {
  if (From.size() > To.size())
    return std::nullopt;
  AffineIndex R;
  R.Offset = A.Offset;
  R.Coefs.resize(To.size());
  size_t Shift = To.size() - From.size();
  for (size_t J = 0; J < From.size(); ++J)
    R.Coefs[Shift + J] = A.Coefs[J];
  return R;
}

/// Constant axes operand `I` of `N`, normalized against `Rank`.
std::optional<std::vector<int64_t>> constantAxes(const Node &N, unsigned I,
                                                 int64_t Rank) {
  const Value *Axes = N.operand(I);
  if (!Axes || !Axes->constantData())
    return std::nullopt;
  auto Normalized = normalizeAxes(Axes->constantData()->toInts(), Rank, "axes");
  if (!Normalized) {
    llvm::consumeError(Normalized.takeError());
    return std::nullopt;
  }
  return *Normalized;
}

/// The value a chain of Reshapes and Flattens starts from.
const Value *throughReshapes(const Value *V) {
  while (const Node *N = V->definingNode()) {
    if (N->opName() != "Reshape" && N->opName() != "Flatten")
      break;
    V = N->operand(0);
  }
  return V;
}

/// For a reshape from `From` to `To` that only inserts or removes unit
/// axes: each axis of `From` that is not 1, mapped to its axis in `To`.
std::optional<llvm::DenseMap<int64_t, int64_t>> unitAxesMoved(const Shape &From,
                                                              const Shape &To) {
  llvm::SmallVector<int64_t> A, B;
  for (size_t J = 0; J < From.size(); ++J)
    if (!isUnit(From[J]))
      A.push_back(int64_t(J));
  for (size_t J = 0; J < To.size(); ++J)
    if (!isUnit(To[J]))
      B.push_back(int64_t(J));
  if (A.size() != B.size())
    return std::nullopt;
  llvm::DenseMap<int64_t, int64_t> Map;
  for (size_t I = 0; I < A.size(); ++I) {
    if (!From[A[I]].sameAs(To[B[I]]))
      return std::nullopt;
    Map[A[I]] = B[I];
  }
  return Map;
}

} // namespace

IndexAnalysis::IndexAnalysis(const Graph &G) {
  collectConstantShapeValues(G, ShapeValues);
  for (const Value *C : G.constants()) {
    const Tensor *T = C->constantData();
    if (T && isInteger(C->dtype()) && T->numElements() == 1)
      Affine[C] = AffineIndex{T->getInt(0), std::vector<IndexCoef>(C->rank())};
  }
  for (Node *N : G.nodeList())
    visit(*N);
}

const AffineIndex *IndexAnalysis::affine(const Value *V) const {
  auto It = Affine.find(V);
  return It == Affine.end() ? nullptr : &It->second;
}

const SourceView *IndexAnalysis::view(const Value *V) const {
  auto It = Views.find(V);
  return It == Views.end() ? nullptr : &It->second;
}

std::optional<IndexCoef> IndexAnalysis::scalar(const Value *V) const {
  if (!V || !isInteger(V->dtype()))
    return std::nullopt;
  if (const AffineIndex *A = affine(V);
      A &&
      llvm::all_of(A->Coefs, [](const IndexCoef &C) { return C.isZero(); }))
    return IndexCoef{A->Offset, ""};
  auto It = ShapeValues.find(V);
  if (It == ShapeValues.end() || It->second.size() != 1)
    return std::nullopt;
  const Dim &D = It->second[0];
  if (auto Int = shapeValueInt(D))
    return IndexCoef{*Int, ""};
  if (D.isSymbol())
    return IndexCoef{1, D.symbol()};
  return std::nullopt;
}

IndexRange IndexAnalysis::range(const Value *V) const {
  const AffineIndex *A = affine(V);
  if (!A)
    return {};
  std::optional<int64_t> Min = A->Offset, Max = A->Offset;
  const Shape &Dims = V->type().Dims;
  for (size_t J = 0; J < A->Coefs.size(); ++J) {
    const IndexCoef &C = A->Coefs[J];
    if (C.isZero())
      continue;
    // c_j runs over [0, dim - 1]; a symbol stands for a size, never negative.
    std::optional<int64_t> Last;
    if (Dims[J].isStatic() && C.Symbol.empty())
      Last = std::max<int64_t>(Dims[J].value() - 1, 0);
    std::optional<int64_t> Far;
    if (Last)
      Far = checkedMul(C.Factor, *Last);
    std::optional<int64_t> &Open = C.Factor > 0 ? Max : Min;
    Open = Open && Far ? checkedAdd(*Open, *Far) : std::nullopt;
  }
  return {Min, Max};
}

void IndexAnalysis::visit(const Node &N) {
  if (N.numResults() != 1)
    return;
  const Value *R = N.result();
  if (isInteger(R->dtype()))
    if (auto A = affineOf(N)) {
      for (size_t J = 0; J < A->Coefs.size(); ++J)
        if (isUnit(R->type().Dims[J]))
          A->Coefs[J] = IndexCoef{};
      Affine[R] = std::move(*A);
    }
  if (auto V = viewOf(N))
    Views[R] = std::move(*V);
  // Shape values of the results, for the sizes later Muls scale by.
  auto Types = inferNodeTypes(N, ShapeValues);
  if (!Types)
    llvm::consumeError(Types.takeError());
}

std::optional<AffineIndex> IndexAnalysis::affineOf(const Node &N) const {
  const Shape &Out = N.result()->type().Dims;
  llvm::StringRef Op = N.opName();
  auto Operand = [&](unsigned I) -> std::optional<AffineIndex> {
    const Value *V = N.operand(I);
    const AffineIndex *A = V ? affine(V) : nullptr;
    if (!A)
      return std::nullopt;
    return broadcastTo(*A, V->type().Dims, Out);
  };

  // Range(start, limit, delta)[c] = start + delta * c
  if (Op == "Range") {
    auto Start = scalar(N.operand(0)), Delta = scalar(N.operand(2));
    if (!Start || !Delta || !Start->Symbol.empty() || !Delta->Symbol.empty())
      return std::nullopt;
    return AffineIndex{Start->Factor, {*Delta}};
  }
  if (Op == "Identity" || Op == "Expand")
    return Operand(0);
  if (Op == "Unsqueeze" || Op == "Squeeze") {
    const AffineIndex *In = affine(N.operand(0));
    if (!In)
      return std::nullopt;
    bool Unsqueeze = Op == "Unsqueeze";
    int64_t Rank = Unsqueeze ? int64_t(Out.size()) : N.operand(0)->rank();
    std::vector<int64_t> Axes;
    if (N.operand(1)) {
      auto Given = constantAxes(N, 1, Rank);
      if (!Given)
        return std::nullopt;
      Axes = *Given;
    } else {
      for (int64_t J = 0; J < Rank; ++J)
        if (isUnit(N.operand(0)->type().Dims[J]))
          Axes.push_back(J);
    }
    llvm::SmallSet<int64_t, 4> Listed;
    Listed.insert(Axes.begin(), Axes.end());
    AffineIndex R{In->Offset, {}};
    for (int64_t J = 0, From = 0; J < Rank; ++J) {
      if (Unsqueeze) {
        R.Coefs.push_back(Listed.count(J) ? IndexCoef{} : In->Coefs[From++]);
      } else if (!Listed.count(J)) {
        R.Coefs.push_back(In->Coefs[J]);
      } else if (!In->Coefs[J].isZero()) {
        return std::nullopt;
      }
    }
    return R;
  }
  if (Op == "Add" || Op == "Sub") {
    auto A = Operand(0), B = Operand(1);
    if (!A || !B)
      return std::nullopt;
    if (Op == "Sub") {
      for (IndexCoef &C : B->Coefs)
        C.Factor = -C.Factor;
      B->Offset = -B->Offset;
    }
    auto Offset = checkedAdd(A->Offset, B->Offset);
    if (!Offset)
      return std::nullopt;
    AffineIndex R{*Offset, {}};
    for (size_t J = 0; J < Out.size(); ++J) {
      auto C = addCoefs(A->Coefs[J], B->Coefs[J]);
      if (!C)
        return std::nullopt;
      R.Coefs.push_back(*C);
    }
    return R;
  }
  // x * s for a one-element s, which may be a symbolic size (b * seq).
  if (Op == "Mul") {
    for (unsigned I : {0u, 1u}) {
      auto X = Operand(I);
      auto S = scalar(N.operand(1 - I));
      if (!X || !S)
        continue;
      auto Offset = mulCoefs({X->Offset, ""}, *S);
      if (!Offset || !Offset->Symbol.empty())
        continue;
      AffineIndex R{Offset->Factor, {}};
      for (const IndexCoef &C : X->Coefs) {
        auto Scaled = mulCoefs(C, *S);
        if (!Scaled)
          break;
        R.Coefs.push_back(*Scaled);
      }
      if (R.Coefs.size() == Out.size())
        return R;
    }
  }
  return std::nullopt;
}

std::optional<SourceView> IndexAnalysis::viewOf(const Node &N) {
  llvm::StringRef Op = N.opName();
  if (Op == "Gather")
    return gatherView(N);
  if (Op == "GatherND")
    return gatherNDView(N);
  const Shape &Out = N.result()->type().Dims;
  if (Op == "Reshape" || Op == "Flatten") {
    const Value *From = throughReshapes(N.operand(0));
    const SourceView *In = view(From);
    if (!In)
      return std::nullopt;
    auto Moved = unitAxesMoved(From->type().Dims, Out);
    if (!Moved)
      return std::nullopt;
    SourceView R{In->Source, {}};
    for (int64_t A : In->Axes) {
      auto It = Moved->find(A);
      if (It == Moved->end())
        return std::nullopt;
      R.Axes.push_back(It->second);
    }
    return R;
  }
  const SourceView *In = N.numOperands() ? view(N.operand(0)) : nullptr;
  if (!In)
    return std::nullopt;
  if (Op == "Identity")
    return *In;
  if (Op == "Expand") {
    int64_t Shift = int64_t(Out.size()) - N.operand(0)->rank();
    if (Shift < 0)
      return std::nullopt;
    SourceView R{In->Source, {}};
    for (size_t I = 0; I < In->Axes.size(); ++I) {
      int64_t A = In->Axes[I] + Shift;
      if (!Out[A].sameAs(In->Source->type().Dims[I]))
        return std::nullopt;
      R.Axes.push_back(A);
    }
    return R;
  }
  if (Op == "Unsqueeze" || Op == "Squeeze") {
    bool Unsqueeze = Op == "Unsqueeze";
    int64_t Rank = Unsqueeze ? int64_t(Out.size()) : N.operand(0)->rank();
    if (!N.operand(1))
      return std::nullopt;
    auto Axes = constantAxes(N, 1, Rank);
    if (!Axes)
      return std::nullopt;
    llvm::SmallSet<int64_t, 4> Listed;
    Listed.insert(Axes->begin(), Axes->end());
    // Where each axis of the operand goes (-1: squeezed away).
    std::vector<int64_t> NewAxis;
    for (int64_t J = 0, Next = 0; J < Rank; ++J) {
      if (Unsqueeze && !Listed.count(J))
        NewAxis.push_back(J);
      if (!Unsqueeze)
        NewAxis.push_back(Listed.count(J) ? -1 : Next++);
    }
    SourceView R{In->Source, {}};
    for (int64_t A : In->Axes) {
      if (NewAxis[A] < 0)
        return std::nullopt;
      R.Axes.push_back(NewAxis[A]);
    }
    return R;
  }
  return std::nullopt;
}

// Gather(data, idx, axis) reads data along `axis` at idx. When data is
// Flatten(m, k) (axis 0) or Reshape(m, [-1]), that axis linearises m's first
// k axes, and idx = sum_i stride_i * c_{t_i} with each c_{t_i} running over
// m's axis i reads m[c_{t_0}, ..., c_{t_{k-1}}, ...]: a view of m.
std::optional<SourceView> IndexAnalysis::gatherView(const Node &N) {
  Value *Data = N.operand(0);
  const Value *Idx = N.operand(1), *R = N.result();
  auto Fail = [&](const std::string &Why) -> std::optional<SourceView> {
    WhyNot[R] = Why;
    return std::nullopt;
  };
  const AffineIndex *A = affine(Idx);
  if (!A)
    return Fail("the indices are no affine function of their position");
  auto Axis = normalizeAxis(N.getInt("axis", 0), Data->rank());
  if (!Axis)
    return std::nullopt;

  // Which axes of the source the data's axes are: those before and after
  // `Axis` one each, `Axis` itself the linearised axes Lin.
  Value *Source = Data;
  std::vector<int64_t> Before, Lin, After;
  bool TrailingUnit = false;
  const Node *Def = Data->definingNode();
  if (Def && *Axis == 0 &&
      (Def->opName() == "Flatten" ||
       (Def->opName() == "Reshape" && Data->rank() == 1))) {
    Source = Def->operand(0);
    int64_t Rank = Source->rank();
    int64_t K = Rank;
    if (Def->opName() == "Flatten") {
      auto Split = normalizeAxis(Def->getInt("axis", 1), Rank + 1);
      if (!Split)
        return std::nullopt;
      K = *Split;
      if (Rank - K > 1)
        return Fail("the flattened trailing axes are not one axis");
      TrailingUnit = Rank == K;
      if (Rank == K + 1)
        After.push_back(K);
    }
    for (int64_t I = 0; I < K; ++I)
      Lin.push_back(I);
  } else {
    for (int64_t I = 0; I < Data->rank(); ++I)
      (I < *Axis ? Before : I == *Axis ? Lin : After).push_back(I);
  }

  // idx must be sum_i stride_i * c_{t_i}, stride_i the row-major stride of
  // Lin[i] among the linearised axes.
  const Shape &SrcDims = Source->type().Dims, &IdxDims = Idx->type().Dims;
  if (A->Offset != 0)
    return Fail("the indices start at " + std::to_string(A->Offset) +
                ", not 0");
  std::vector<int64_t> IdxAxisOf(Lin.size(), -1);
  Dim Stride(1);
  for (size_t I = Lin.size(); I-- > 0;) {
    const Dim &Size = SrcDims[Lin[I]];
    if (isUnit(Size))
      return Fail("source axis " + std::to_string(Lin[I]) + " has size 1");
    for (size_t T = 0; T < A->Coefs.size(); ++T)
      if (A->Coefs[T].equals(Stride) && IdxDims[T].sameAs(Size) &&
          !llvm::is_contained(IdxAxisOf, int64_t(T)))
        IdxAxisOf[I] = int64_t(T);
    if (IdxAxisOf[I] < 0)
      return Fail("no axis of the indices of size " + Size.str() +
                  " steps by " + Stride.str() + " in " + A->str());
    Stride = mulDims(Stride, Size);
  }
  for (size_t T = 0; T < A->Coefs.size(); ++T)
    if (!A->Coefs[T].isZero() && !llvm::is_contained(IdxAxisOf, int64_t(T)))
      return Fail("the indices also vary along their axis " +
                  std::to_string(T) + ": " + A->str());

  // The result is data.dims[:axis] ++ idx.dims ++ data.dims[axis+1:].
  SourceView V{Source, std::vector<int64_t>(Source->rank(), -1)};
  for (size_t I = 0; I < Before.size(); ++I)
    V.Axes[Before[I]] = int64_t(I);
  for (size_t I = 0; I < Lin.size(); ++I)
    V.Axes[Lin[I]] = *Axis + IdxAxisOf[I];
  int64_t AfterStart = *Axis + Idx->rank() + (TrailingUnit ? 1 : 0);
  for (size_t I = 0; I < After.size(); ++I)
    V.Axes[After[I]] = AfterStart + int64_t(I);
  const Shape &Out = R->type().Dims;
  for (size_t I = 0; I < V.Axes.size(); ++I)
    if (V.Axes[I] >= int64_t(Out.size()) || !Out[V.Axes[I]].sameAs(SrcDims[I]))
      return Fail("the result's type " + R->type().str() +
                  " does not show the source's dims");
  return V;
}

// GatherND(data, Concat(i_0, ..., i_{n-1}, axis = -1)) with each i_j = c_{t_j}
// running over data's axis j reads data[c_{t_0}, ..., c_{t_{n-1}}, ...].
std::optional<SourceView> IndexAnalysis::gatherNDView(const Node &N) {
  Value *Data = N.operand(0);
  const Value *Idx = N.operand(1), *R = N.result();
  auto Fail = [&](const std::string &Why) -> std::optional<SourceView> {
    WhyNot[R] = Why;
    return std::nullopt;
  };
  if (N.getInt("batch_dims", 0) != 0)
    return Fail("batch_dims is not 0");
  const Node *Cat = Idx->definingNode();
  if (!Cat || Cat->opName() != "Concat" ||
      normalizeAxis(Cat->getInt("axis", 0), Idx->rank()) !=
          std::optional<int64_t>(Idx->rank() - 1))
    return Fail("the indices are no Concat along their last axis");
  int64_t Tuple = Cat->numOperands();
  if (Tuple > Data->rank())
    return Fail("the index tuples are longer than the data's rank");
  const Shape &DataDims = Data->type().Dims;
  std::vector<int64_t> Axes;
  for (int64_t I = 0; I < Tuple; ++I) {
    const Value *Part = Cat->operand(unsigned(I));
    const AffineIndex *A = affine(Part);
    if (!A || !isUnit(Part->type().Dims.back()))
      return Fail("index column " + std::to_string(I) +
                  " is no affine function of its position");
    int64_t At = -1;
    for (size_t T = 0; T < A->Coefs.size(); ++T) {
      if (A->Coefs[T].isZero())
        continue;
      if (At >= 0 || !A->Coefs[T].equals(Dim(1)))
        return Fail("index column " + std::to_string(I) + " is " + A->str() +
                    ", not one coordinate");
      At = int64_t(T);
    }
    if (At < 0 || A->Offset != 0 || isUnit(DataDims[I]) ||
        !Part->type().Dims[At].sameAs(DataDims[I]))
      return Fail("index column " + std::to_string(I) +
                  " does not run over the data's axis " + std::to_string(I));
    if (llvm::is_contained(Axes, At))
      return Fail("two index columns follow the same coordinate");
    Axes.push_back(At);
  }
  // The result is idx.dims[:-1] ++ data.dims[Tuple:].
  for (int64_t I = Tuple; I < Data->rank(); ++I)
    Axes.push_back(Idx->rank() - 1 + (I - Tuple));
  const Shape &Out = R->type().Dims;
  for (size_t I = 0; I < Axes.size(); ++I)
    if (Axes[I] >= int64_t(Out.size()) || !Out[Axes[I]].sameAs(DataDims[I]))
      return Fail("the result's type " + R->type().str() +
                  " does not show the data's dims");
  return SourceView{Data, std::move(Axes)};
}

} // namespace kiln
