#include "ir/Verifier.h"
#include "ir/Printer.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/DenseSet.h"

namespace kiln {

namespace {

/// `2`, `1 to 3` or `at least 1`, for count messages.
std::string describeRange(unsigned Min, unsigned Max) {
  if (Min == Max)
    return std::to_string(Min);
  if (Max == Variadic)
    return "at least " + std::to_string(Min);
  return std::to_string(Min) + " to " + std::to_string(Max);
}

llvm::Error nodeError(const Node &N, const llvm::Twine &Message) {
  return makeError(N.describe() + ": " + Message);
}

llvm::Error verifyOperands(const Graph &G, const Node &N, const OpDef &Def,
                           const llvm::DenseSet<const Value *> &Defined) {
  if (N.numOperands() < Def.MinInputs || N.numOperands() > Def.MaxInputs)
    return nodeError(N, "has " + llvm::Twine(N.numOperands()) +
                            " operands, but " + Def.Name + " takes " +
                            describeRange(Def.MinInputs, Def.MaxInputs));
  for (unsigned I = 0; I < N.numOperands(); ++I) {
    const Value *V = N.operand(I);
    if (!V) {
      if (I < Def.MinInputs)
        return nodeError(N, "operand #" + llvm::Twine(I) +
                                " is required but absent");
      continue;
    }
    if (V->graph() != &G)
      return nodeError(N, "operand #" + llvm::Twine(I) + " %" + V->name() +
                              " belongs to another graph");
    if (!Defined.contains(V))
      return nodeError(N, "operand #" + llvm::Twine(I) + " %" + V->name() +
                              " is used before its definition");
  }
  return llvm::Error::success();
}

llvm::Error verifyAttributes(const Node &N, const OpDef &Def) {
  for (const AttrSpec &Spec : Def.Attrs)
    if (Spec.Required && !N.hasAttr(Spec.Name))
      return nodeError(N, "missing required attribute '" + Spec.Name + "'");
  for (const auto &[Name, A] : N.attrs()) {
    if (Name == DeviceAttr) {
      if (A.kind() != AttrKind::Int || A.getInt() < 0)
        return nodeError(N, "attribute 'device' must be an int >= 0");
      continue;
    }
    const AttrSpec *Spec = Def.findAttr(Name);
    if (!Spec) {
      std::string Known;
      for (const AttrSpec &S : Def.Attrs)
        Known += (Known.empty() ? "" : ", ") + S.Name;
      return nodeError(N, "unknown attribute '" + Name + "' (" + Def.Name +
                              (Known.empty() ? " has no attributes)"
                                             : " has: " + Known + ")"));
    }
    if (Spec->Kind != A.kind())
      return nodeError(N, "attribute '" + Name + "' is " +
                              attrKindName(A.kind()) + ", expected " +
                              attrKindName(Spec->Kind));
  }
  return llvm::Error::success();
}

/// Re-runs inference and checks that each recorded type agrees with it.
llvm::Error verifyResultTypes(const Node &N, ShapeValueMap &ShapeValues) {
  auto Inferred = inferNodeTypes(N, ShapeValues);
  if (!Inferred)
    return Inferred.takeError();
  for (unsigned I = 0; I < N.numResults(); ++I) {
    const TensorType &Declared = N.result(I)->type();
    auto Merged = mergeTypes((*Inferred)[I], Declared);
    if (!Merged) {
      llvm::consumeError(Merged.takeError());
      return nodeError(N, "result #" + llvm::Twine(I) + " %" +
                              N.result(I)->name() + " has type " +
                              printType(Declared) + ", but inference gives " +
                              printType((*Inferred)[I]));
    }
  }
  return llvm::Error::success();
}

llvm::Error verifyNode(const Graph &G, const Node &N,
                       const llvm::DenseSet<const Value *> &Defined,
                       ShapeValueMap &ShapeValues) {
  const OpDef *Def = N.def();
  if (!Def)
    return nodeError(N, "unknown op '" + N.opName() + "'");
  if (llvm::Error E = verifyOperands(G, N, *Def, Defined))
    return E;
  if (N.numResults() < Def->MinOutputs || N.numResults() > Def->MaxOutputs)
    return nodeError(N, "has " + llvm::Twine(N.numResults()) +
                            " results, but " + Def->Name + " produces " +
                            describeRange(Def->MinOutputs, Def->MaxOutputs));
  if (llvm::Error E = verifyAttributes(N, *Def))
    return E;
  if (Def->Verify)
    if (llvm::Error E = Def->Verify(N)) {
      // Op hooks name the node themselves; one that did not gets it here.
      std::string Message = llvm::toString(std::move(E));
      if (!llvm::StringRef(Message).contains(N.describe()))
        return nodeError(N, Message);
      return makeError(Message);
    }
  return verifyResultTypes(N, ShapeValues);
}

/// In a partitioned graph (a node has a device), every node has one, and
/// what a node on device D reads is made on D, or is a graph input or a
/// constant (which every device holds); a value crossing devices goes
/// through a PeerCopy, whose operand is on its `from` device and which runs
/// on its `to` device.
llvm::Error verifyDevices(const Graph &G) {
  bool Partitioned = llvm::any_of(
      G.nodes(), [](const auto &N) { return N->device().has_value(); });
  if (!Partitioned)
    return llvm::Error::success();
  for (const auto &N : G.nodes()) {
    std::optional<int64_t> D = N->device();
    if (!D)
      return nodeError(*N, "has no device, but the graph is partitioned");
    bool IsCopy = N->opName() == "PeerCopy";
    if (IsCopy && N->getInt("to", -1) != *D)
      return nodeError(*N, "runs on device " + llvm::Twine(*D) +
                               ", but copies to device " +
                               llvm::Twine(N->getInt("to", -1)));
    int64_t Expected = IsCopy ? N->getInt("from", -1) : *D;
    for (unsigned I = 0; I < N->numOperands(); ++I) {
      const Value *V = N->operand(I);
      const Node *Producer = V ? V->definingNode() : nullptr;
      if (!Producer || Producer->device() == Expected)
        continue;
      std::string Where = "operand #" + std::to_string(I) + " %" + V->name() +
                          " is on device " +
                          std::to_string(*Producer->device());
      if (IsCopy)
        return nodeError(*N, "copies from device " + llvm::Twine(Expected) +
                                 ", but its " + Where);
      return nodeError(*N, "runs on device " + llvm::Twine(Expected) +
                               ", but its " + Where +
                               " (values cross devices through PeerCopy)");
    }
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error verifyGraph(const Graph &G) {
  llvm::DenseSet<const Value *> Defined;
  for (const Value *V : G.inputs())
    Defined.insert(V);
  for (const Value *V : G.constants())
    Defined.insert(V);
  ShapeValueMap ShapeValues;
  collectConstantShapeValues(G, ShapeValues);
  for (const auto &N : G.nodes()) {
    if (llvm::Error E = verifyNode(G, *N, Defined, ShapeValues))
      return E;
    for (const Value *R : N->results())
      Defined.insert(R);
  }
  for (size_t I = 0; I < G.outputs().size(); ++I) {
    const Value *V = G.outputs()[I];
    if (!V)
      return makeError("graph output #" + llvm::Twine(I) + " is absent");
    if (!Defined.contains(V))
      return makeError("graph output #" + llvm::Twine(I) + " %" + V->name() +
                       " is not defined in the graph");
  }
  return verifyDevices(G);
}

} // namespace kiln
