//===- DimProducts.cpp - dims that are products of symbols ----------------===//
#include "ir/DimProducts.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>

namespace kiln {

/// Separates the factors in a product symbol's name.
static constexpr char FactorSeparator = '*';

std::optional<DimProduct> asDimProduct(const Dim &D) {
  DimProduct P;
  if (D.isStatic()) {
    P.Coef = D.value();
    return P;
  }
  if (!D.isSymbol())
    return std::nullopt;
  if (!isProductSymbol(D)) {
    P.Factors.push_back(D.symbol());
    return P;
  }
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  llvm::StringRef(D.symbol()).split(Parts, FactorSeparator);
  for (llvm::StringRef Part : Parts) {
    int64_t V;
    if (!Part.getAsInteger(10, V)) {
      if (V < 0 || __builtin_mul_overflow(P.Coef, V, &P.Coef))
        return std::nullopt;
    } else {
      P.Factors.push_back(Part.str());
    }
  }
  llvm::sort(P.Factors);
  return P;
}

Dim dimFromProduct(const DimProduct &P) {
  if (P.Coef == 0 || P.Factors.empty())
    return Dim(P.Coef);
  if (P.Coef == 1 && P.Factors.size() == 1)
    return Dim::symbol(P.Factors[0]);
  std::vector<std::string> Parts;
  if (P.Coef != 1)
    Parts.push_back(std::to_string(P.Coef));
  Parts.insert(Parts.end(), P.Factors.begin(), P.Factors.end());
  return Dim::symbol(llvm::join(Parts, std::string(1, FactorSeparator)));
}

Dim mulDimProducts(const Dim &A, const Dim &B) {
  std::optional<DimProduct> PA = asDimProduct(A), PB = asDimProduct(B);
  if (!PA || !PB)
    return Dim::unknown();
  DimProduct R;
  if (__builtin_mul_overflow(PA->Coef, PB->Coef, &R.Coef))
    return Dim::unknown();
  std::merge(PA->Factors.begin(), PA->Factors.end(), PB->Factors.begin(),
             PB->Factors.end(), std::back_inserter(R.Factors));
  return dimFromProduct(R);
}

Dim divDimProducts(const Dim &A, const Dim &B) {
  std::optional<DimProduct> PA = asDimProduct(A), PB = asDimProduct(B);
  if (!PA || !PB || PB->Coef == 0 || PA->Coef % PB->Coef != 0)
    return Dim::unknown();
  DimProduct R;
  R.Coef = PA->Coef / PB->Coef;
  R.Factors = PA->Factors;
  for (const std::string &F : PB->Factors) {
    auto It = llvm::find(R.Factors, F);
    if (It == R.Factors.end())
      return Dim::unknown();
    R.Factors.erase(It);
  }
  return dimFromProduct(R);
}

bool isProductSymbol(const Dim &D) {
  return D.isSymbol() && llvm::StringRef(D.symbol()).contains(FactorSeparator);
}

TensorType eraseProductSymbols(TensorType T) {
  for (Dim &D : T.Dims)
    if (isProductSymbol(D))
      D = Dim::unknown();
  return T;
}

} // namespace kiln
