#include "ir/ops/OpUtils.h"

#include <algorithm>
#include <climits>

namespace kiln {

llvm::Expected<Shape> broadcastShapes(llvm::ArrayRef<Shape> Shapes) {
  size_t Rank = 0;
  for (const Shape &S : Shapes)
    Rank = std::max(Rank, S.size());
  Shape Out(Rank, Dim(1));
  for (size_t I = 0; I < Rank; ++I) {
    std::optional<Dim> Result;
    for (const Shape &S : Shapes) {
      if (I + S.size() < Rank)
        continue;
      const Dim &D = S[I + S.size() - Rank];
      if (D.isStatic() && D.value() == 1)
        continue;
      if (!Result) {
        Result = D;
      } else if (Result->isStatic() && D.isStatic()) {
        if (Result->value() != D.value())
          return makeError("cannot broadcast dimension " + Result->str() +
                           " with " + D.str());
      } else if (Result->isStatic()) {
        // Keep the constant: a symbol broadcast against it must equal it.
      } else if (D.isStatic()) {
        Result = D;
      } else if (!Result->sameAs(D)) {
        Result = Dim::unknown();
      }
    }
    Out[I] = Result ? *Result : Dim(1);
  }
  return Out;
}

llvm::Expected<std::vector<int64_t>>
broadcastSizes(llvm::ArrayRef<std::vector<int64_t>> Sizes) {
  size_t Rank = 0;
  for (const auto &S : Sizes)
    Rank = std::max(Rank, S.size());
  std::vector<int64_t> Out(Rank, 1);
  for (size_t I = 0; I < Rank; ++I) {
    bool Set = false;
    for (const auto &S : Sizes) {
      if (I + S.size() < Rank)
        continue;
      int64_t D = S[I + S.size() - Rank];
      if (D == 1)
        continue;
      if (Set && Out[I] != D)
        return makeError("cannot broadcast dimension " + llvm::Twine(Out[I]) +
                         " with " + llvm::Twine(D));
      Out[I] = D;
      Set = true;
    }
  }
  return Out;
}

std::vector<int64_t> broadcastStrides(llvm::ArrayRef<int64_t> InSizes,
                                      llvm::ArrayRef<int64_t> OutSizes) {
  std::vector<int64_t> Strides(OutSizes.size(), 0);
  std::vector<int64_t> InStrides = stridesOf(InSizes);
  size_t Offset = OutSizes.size() - InSizes.size();
  for (size_t I = 0; I < InSizes.size(); ++I)
    Strides[I + Offset] = InSizes[I] == 1 ? 0 : InStrides[I];
  return Strides;
}

std::optional<int64_t> normalizeAxis(int64_t Axis, int64_t Rank) {
  if (Axis < -Rank || Axis >= Rank)
    return std::nullopt;
  return Axis < 0 ? Axis + Rank : Axis;
}

void forEachIndex(
    llvm::ArrayRef<int64_t> Sizes,
    llvm::ArrayRef<std::vector<int64_t>> StrideSets,
    llvm::function_ref<void(int64_t, llvm::ArrayRef<int64_t>)> Fn) {
  int64_t Total = numElementsOf(Sizes);
  if (Total == 0)
    return;
  size_t Rank = Sizes.size();
  std::vector<int64_t> Index(Rank, 0);
  std::vector<int64_t> Offsets(StrideSets.size(), 0);
  for (int64_t Flat = 0; Flat < Total; ++Flat) {
    Fn(Flat, Offsets);
    for (size_t D = Rank; D-- > 0;) {
      ++Index[D];
      for (size_t S = 0; S < StrideSets.size(); ++S)
        Offsets[S] += StrideSets[S][D];
      if (Index[D] < Sizes[D])
        break;
      for (size_t S = 0; S < StrideSets.size(); ++S)
        Offsets[S] -= StrideSets[S][D] * Sizes[D];
      Index[D] = 0;
    }
  }
}

Dim shapeValueDim(int64_t V) {
  if (V >= 0)
    return Dim(V);
  if (V == INT64_MIN)
    return Dim::unknown();
  return Dim(V - 1);
}

std::optional<int64_t> shapeValueInt(const Dim &D) {
  if (D.isStatic())
    return D.value();
  if (D.isSymbol() || D.value() >= -1)
    return std::nullopt;
  return D.value() + 1;
}

Shape shapeOf(llvm::ArrayRef<int64_t> Sizes) {
  Shape S;
  for (int64_t X : Sizes)
    S.push_back(Dim(X));
  return S;
}

} // namespace kiln
