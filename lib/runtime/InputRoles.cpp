//===- InputRoles.cpp - what a model's inputs and dims stand for ----------===//
#include "runtime/InputRoles.h"

namespace kiln {

DimRole dimRole(const Dim &D) {
  if (D.isSymbol() && D.symbol() == "batch")
    return DimRole::Batch;
  if (D.isSymbol() && D.symbol() == "seq")
    return DimRole::Seq;
  return DimRole::Other;
}

int IoRoles::firstDim(DimRole R) const {
  for (size_t I = 0; I < Dims.size(); ++I)
    if (Dims[I] == R)
      return int(I);
  return -1;
}

IoRoles ioRoles(IoRole Role, llvm::ArrayRef<Dim> Dims) {
  IoRoles R;
  R.AttentionMask = Role == IoRole::AttentionMask;
  R.TokenTypes = Role == IoRole::TokenTypes;
  for (const Dim &D : Dims)
    R.Dims.push_back(dimRole(D));
  return R;
}

std::vector<IoRoles> inputRoles(const ArtifactMetadata &Meta) {
  std::vector<IoRoles> Roles;
  for (const IoSpec &S : Meta.Inputs)
    Roles.push_back(ioRoles(S));
  return Roles;
}

} // namespace kiln
