#include "ir/OpRegistry.h"
#include "ir/ops/HalvesOps.h"

#include <algorithm>
#include <cassert>

namespace kiln {

const Tensor *InferContext::inputConstant(unsigned I) const {
  const Value *V = N.operand(I);
  return V ? V->constantData() : nullptr;
}

const std::vector<Dim> *InferContext::inputShapeValue(unsigned I) const {
  const Value *V = N.operand(I);
  if (!V)
    return nullptr;
  auto It = ShapeValues.find(V);
  return It == ShapeValues.end() ? nullptr : &It->second;
}

llvm::Error InferContext::error(const llvm::Twine &Message) const {
  return makeError(N.describe() + ": " + Message);
}

llvm::Error EvalContext::error(const llvm::Twine &Message) const {
  return makeError(N.describe() + ": " + Message);
}

const AttrSpec *OpDef::findAttr(llvm::StringRef N) const {
  for (const AttrSpec &A : Attrs)
    if (A.Name == N)
      return &A;
  return nullptr;
}

const OpRegistry &OpRegistry::get() {
  static const OpRegistry Registry;
  return Registry;
}

OpRegistry::OpRegistry() {
  registerUnaryOps(*this);
  registerElementwiseOps(*this);
  registerReductionOps(*this);
  registerShapeOps(*this);
  registerMovementOps(*this);
  registerGeneratorOps(*this);
  registerTensorOps(*this);
  registerNNOps(*this);
  registerKilnOps(*this);
  registerPackingOps(*this);
  registerHalvesOps(*this);
}

void OpRegistry::add(OpDef Def) {
  assert(!Ops.count(Def.Name) && "op registered twice");
  std::string Name = Def.Name;
  Ops[Name] = std::make_unique<OpDef>(std::move(Def));
}

const OpDef *OpRegistry::lookup(llvm::StringRef Name) const {
  auto It = Ops.find(Name);
  return It == Ops.end() ? nullptr : It->second.get();
}

std::vector<const OpDef *> OpRegistry::all() const {
  std::vector<const OpDef *> Out;
  for (const auto &E : Ops)
    Out.push_back(E.second.get());
  std::sort(Out.begin(), Out.end(),
            [](const OpDef *A, const OpDef *B) { return A->Name < B->Name; });
  return Out;
}

} // namespace kiln
