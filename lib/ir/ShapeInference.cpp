#include "ir/ShapeInference.h"
#include "ir/DimProducts.h"
#include "ir/ops/OpUtils.h"

namespace kiln {

/// Integer constants of up to this many elements carry a shape value.
static constexpr int64_t MaxShapeValueElements = 64;

void collectConstantShapeValues(const Graph &G, ShapeValueMap &Map) {
  for (const Value *V : G.constants()) {
    const Tensor *T = V->constantData();
    if (!T || !isInteger(T->dtype()) || T->rank() > 1 ||
        T->numElements() > MaxShapeValueElements)
      continue;
    std::vector<Dim> Dims;
    for (int64_t X : T->toInts())
      Dims.push_back(shapeValueDim(X));
    Map[V] = std::move(Dims);
  }
}

llvm::Expected<TensorType> mergeTypes(const TensorType &Inferred,
                                      const TensorType &Declared) {
  if (Inferred.Elem != Declared.Elem)
    return makeError("element type " + dtypeName(Inferred.Elem) +
                     " does not match the declared " +
                     dtypeName(Declared.Elem));
  if (Inferred.rank() != Declared.rank())
    return makeError("inferred type " + Inferred.str() +
                     " does not match the declared " + Declared.str());
  TensorType Out = Inferred;
  for (int64_t I = 0; I < Inferred.rank(); ++I) {
    const Dim &A = Inferred.Dims[I], &B = Declared.Dims[I];
    if (A.isUnknown()) {
      Out.Dims[I] = B;
    } else if (A.isStatic() && B.isStatic() && A.value() != B.value()) {
      return makeError("inferred type " + Inferred.str() +
                       " does not match the declared " + Declared.str());
    } else if (A.isSymbol() && B.isStatic()) {
      Out.Dims[I] = B; // The model knows more than the symbols say.
    }
  }
  return Out;
}

/// inferNodeTypes, keeping product symbols in the types (for
/// inferGraphTypes, which erases them once every node is inferred).
static llvm::Expected<std::vector<TensorType>>
inferNodeTypesWithProducts(const Node &N, ShapeValueMap &Map) {
  const OpDef *Def = N.def();
  if (!Def)
    return makeError(N.describe() + ": unknown op");
  for (Value *V : N.operands())
    if (V && V->rank() < 0)
      return makeError(N.describe() + ": operand %" + V->name() +
                       " has no rank");
  InferContext Ctx(N, Map);
  if (Def->Infer)
    if (llvm::Error E = Def->Infer(Ctx))
      return std::move(E);
  std::vector<TensorType> Types;
  for (unsigned I = 0; I < N.numResults(); ++I) {
    Types.push_back(Ctx.Types[I] ? *Ctx.Types[I] : N.result(I)->type());
    if (Ctx.OutShapeValues[I])
      Map[N.result(I)] = std::move(*Ctx.OutShapeValues[I]);
    else
      Map.erase(N.result(I));
  }
  return Types;
}

llvm::Expected<std::vector<TensorType>> inferNodeTypes(const Node &N,
                                                       ShapeValueMap &Map) {
  auto Types = inferNodeTypesWithProducts(N, Map);
  if (Types)
    for (TensorType &T : *Types)
      T = eraseProductSymbols(std::move(T));
  return Types;
}

llvm::Error inferGraphTypes(Graph &G, ShapeValueMap *ShapeValues) {
  ShapeValueMap Local;
  ShapeValueMap &Map = ShapeValues ? *ShapeValues : Local;
  collectConstantShapeValues(G, Map);
  for (const auto &N : G.nodes()) {
    auto Types = inferNodeTypesWithProducts(*N, Map);
    if (!Types)
      return Types.takeError();
    for (unsigned I = 0; I < N->numResults(); ++I) {
      Value *R = N->result(I);
      auto Merged = mergeTypes((*Types)[I], R->type());
      if (!Merged)
        return makeError(N->describe() + ": result %" + R->name() + ": " +
                         llvm::toString(Merged.takeError()));
      R->setType(std::move(*Merged));
    }
  }
  // Product symbols served the inference of later nodes; no type keeps one.
  for (const auto &N : G.nodes())
    for (Value *R : N->results())
      if (llvm::any_of(R->type().Dims, isProductSymbol))
        R->setType(eraseProductSymbols(R->type()));
  return llvm::Error::success();
}

} // namespace kiln
