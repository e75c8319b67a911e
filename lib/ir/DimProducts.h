//===- DimProducts.h - dims that are products of symbols --------*- C++ -*-===//
//
// Exporters fold attention heads into the batch and unfold them again:
//   [batch, 4, seq, 8] -> Reshape [-1, seq, 8] -> ... -> Reshape [-1, 4, seq, 8]
// Shape inference follows such a dim as a product symbol, a symbol named by
// its factors ("4*batch", "batch*seq"), so that the Reshape back can divide
// it out again and the graph's outputs keep their batch and seq dims.
// Product symbols exist only while inference runs (in result types inside
// inferGraphTypes, and in shape values): stored types never keep one
// (eraseProductSymbols), so passes, codegen and the runtime only ever see
// the symbols of the graph's inputs.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_DIMPRODUCTS_H
#define KILN_IR_DIMPRODUCTS_H

#include "ir/Type.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// Coef times the product of Factors (symbol names, sorted).
struct DimProduct {
  int64_t Coef = 1;
  std::vector<std::string> Factors;
};

/// A static dim or a symbol (plain or product) as a product; nullopt for
/// unknown dims and the negative entries of shape values.
std::optional<DimProduct> asDimProduct(const Dim &D);

/// The dim for P: static without factors, a plain symbol for one factor
/// with coefficient 1, else a product symbol.
Dim dimFromProduct(const DimProduct &P);

/// A * B, symbolically; unknown when either is unknown or on overflow.
Dim mulDimProducts(const Dim &A, const Dim &B);

/// A / B when B divides A exactly (B's factors among A's, the coefficients
/// divide); unknown otherwise. Static by static is left to the caller.
Dim divDimProducts(const Dim &A, const Dim &B);

/// Whether D is a product symbol (only inference makes them).
bool isProductSymbol(const Dim &D);

/// T with every product symbol replaced by an unknown dim.
TensorType eraseProductSymbols(TensorType T);

} // namespace kiln

#endif
