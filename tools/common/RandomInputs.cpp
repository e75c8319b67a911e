//===- RandomInputs.cpp - made-up inputs for a model ----------------------===//
#include "common/RandomInputs.h"

#include "codegen/InputRoleAnalysis.h"
#include "ir/Error.h"
#include "runtime/InputRoles.h"

#include <algorithm>

namespace kiln {

llvm::Expected<Tensor> randomInput(const Value &V, IoRole Role,
                                   const llvm::StringMap<int64_t> &Symbols,
                                   int64_t IntRange, std::mt19937_64 &Rng) {
  std::vector<int64_t> Sizes;
  for (const Dim &D : V.type().Dims) {
    if (D.isStatic()) {
      Sizes.push_back(D.value());
      continue;
    }
    if (D.isUnknown())
      return makeError("input %" + V.name() + " of type " + V.type().str() +
                       " has a dim of unknown size; give it with --input");
    auto It = Symbols.find(D.symbol());
    if (It == Symbols.end())
      return makeError("input %" + V.name() + " of type " + V.type().str() +
                       " needs a size for '" + D.symbol() + "': add --dim " +
                       D.symbol() + "=N");
    Sizes.push_back(It->second);
  }
  int64_t Count = 1;
  for (int64_t S : Sizes)
    if (__builtin_mul_overflow(Count, S, &Count) || Count > MaxRandomElements)
      return makeError(
          "input %" + V.name() + " of type " + V.type().str() +
          " would be too large to generate; check the --dim sizes");
  Tensor T(V.dtype(), std::move(Sizes));
  bool Ones = V.dtype() == DType::Bool ||
              (isInteger(V.dtype()) && Role == IoRole::AttentionMask);
  std::uniform_real_distribution<double> Float(-1.0, 1.0);
  std::uniform_int_distribution<int64_t> Int(0, IntRange - 1);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (Ones)
      T.setInt(I, 1);
    else if (isFloat(V.dtype()))
      T.setDouble(I, Float(Rng));
    else
      T.setInt(I, Int(Rng));
  }
  return T;
}

Tensor benchmarkInput(const IoBinding &B, IoRole Role, std::mt19937_64 &Rng,
                      llvm::ArrayRef<IndexCheck> Checks) {
  Tensor T(B.Type, B.Dims);
  IoRoles Roles = ioRoles(Role, {});
  std::uniform_int_distribution<int64_t> Ids(1000, 29999);
  std::uniform_real_distribution<double> Real(-1, 1);
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (isFloat(B.Type))
      T.setDouble(I, Real(Rng));
    else if (Roles.AttentionMask || B.Type == DType::Bool)
      T.setInt(I, 1);
    else if (Roles.TokenTypes)
      T.setInt(I, 0);
    else
      T.setInt(I, Ids(Rng));
  }
  if (isInteger(B.Type))
    for (const IndexCheck &C : Checks)
      if (C.Input == B.Name && C.TableSize > 0)
        for (int64_t I = 0; I < T.numElements(); ++I)
          T.setInt(I, T.getInt(I) % C.TableSize);
  return T;
}

std::map<std::string, Tensor> comparisonInputs(const Graph &G) {
  std::map<std::string, Tensor> Inputs;
  std::mt19937_64 Rng(0);
  std::vector<IoRole> Roles = inferInputRoles(G);
  for (size_t In = 0; In < Roles.size(); ++In) {
    const Value *V = G.inputs()[In];
    std::vector<int64_t> Sizes;
    for (int64_t I = 0; I < V->rank(); ++I) {
      const Dim &D = V->type().Dims[I];
      Sizes.push_back(D.isStatic() ? D.value() : I == 0 ? 2 : 16);
    }
    int64_t Range = 2;
    for (const Use &U : V->uses()) {
      const Value *Table = U.User->operand(0);
      if (U.User->opName() == "Gather" && U.OperandIndex == 1 &&
          Table->isConstant() && Table->rank() >= 1 &&
          Table->type().Dims[0].isStatic())
        Range = std::max(Range, Table->type().Dims[0].value());
    }
    bool Mask = Roles[In] == IoRole::AttentionMask;
    int64_t Padded = Sizes.empty() ? 0 : Sizes.back() - Sizes.back() / 4;
    Tensor T(V->dtype(), Sizes);
    std::uniform_real_distribution<double> Float(-1.0, 1.0);
    std::uniform_int_distribution<int64_t> Int(0, Range - 1);
    int64_t Row = Sizes.empty() ? 1 : Sizes.back();
    for (int64_t I = 0; I < T.numElements(); ++I) {
      if (isFloat(V->dtype()))
        T.setDouble(I, Float(Rng));
      else if (Mask || V->dtype() == DType::Bool)
        T.setInt(I, I < Row || I % Row < Padded);
      else
        T.setInt(I, Int(Rng));
    }
    Inputs.emplace(V->name(), std::move(T));
  }
  return Inputs;
}

} // namespace kiln
