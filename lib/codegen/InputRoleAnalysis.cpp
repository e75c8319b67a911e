#include "codegen/InputRoleAnalysis.h"

#include "ir/ops/KilnOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringRef.h"

namespace kiln {
namespace {

/// The operands of fused ops that hold a role, by op.
struct RoleOperand {
  llvm::StringLiteral Op;
  unsigned Operand;
  IoRole Role;
};
constexpr RoleOperand RoleOperands[] = {
    {"Attention", AMask, IoRole::AttentionMask},
    {"Attention", ASpans, IoRole::AttentionMask},
    {"PoolNormalize", PMask, IoRole::AttentionMask},
    {"PoolNormalize", PSpans, IoRole::AttentionMask},
    {"EmbedLayerNorm", ETokenTypeIds, IoRole::TokenTypes},
};

/// The graph input `V` is computed from when every node on the way has a
/// single non-constant operand; null otherwise. PackTokens' results come
/// from one operand each: the spans from the mask, a packed value from the
/// value (its positions from no input of a role).
const Value *sourceInput(const Value *V) {
  for (unsigned Steps = 0; V && Steps < 16; ++Steps) {
    if (V->isInput())
      return V;
    const Node *N = V->definingNode();
    if (!N)
      return nullptr;
    if (N->opName() == "PackTokens") {
      V = V->resultIndex() < N->numOperands()
              ? N->operand(V->resultIndex() == 0 ? unsigned(PackMask)
                                                 : V->resultIndex())
              : nullptr;
      continue;
    }
    const Value *Next = nullptr;
    for (const Value *Op : N->operands()) {
      if (!Op || Op->isConstant())
        continue;
      if (Next)
        return nullptr;
      Next = Op;
    }
    V = Next;
  }
  return nullptr;
}

IoRole roleByName(const Value &V) {
  llvm::StringRef Name = V.name();
  if (!isInteger(V.dtype()) && V.dtype() != DType::Bool)
    return IoRole::None;
  if (Name.contains_insensitive("mask"))
    return IoRole::AttentionMask;
  if (Name.contains_insensitive("type"))
    return IoRole::TokenTypes;
  return IoRole::None;
}

} // namespace

std::vector<IoRole> inferInputRoles(const Graph &G) {
  llvm::DenseMap<const Value *, IoRole> Found;
  bool FoundAny[3] = {};
  for (const auto &N : G.nodes())
    for (const RoleOperand &R : RoleOperands) {
      if (N->opName() != R.Op || R.Operand >= N->numOperands())
        continue;
      const Value *In = sourceInput(N->operand(R.Operand));
      if (!In || FoundAny[unsigned(R.Role)])
        continue;
      if (Found.try_emplace(In, R.Role).second)
        FoundAny[unsigned(R.Role)] = true;
    }

  std::vector<IoRole> Roles;
  for (const Value *In : G.inputs()) {
    IoRole R = Found.lookup(In);
    if (R == IoRole::None) {
      IoRole ByName = roleByName(*In);
      if (ByName != IoRole::None && !FoundAny[unsigned(ByName)]) {
        R = ByName;
        FoundAny[unsigned(ByName)] = true;
      }
    }
    Roles.push_back(R);
  }
  return Roles;
}

} // namespace kiln
