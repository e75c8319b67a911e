//===- Specialize.cpp - bind symbolic dims to sizes -----------------------===//
//
// `specialize{batch=32,seq=128}` replaces the symbols `batch` and `seq` by
// constants in every value's type, re-infers types (so that shapes computed
// from them become static) and turns shape values that became static into
// constants (infer-shapes), ready for fold-constants.
//
//===----------------------------------------------------------------------===//
#include "ir/ShapeInference.h"
#include "passes/Passes.h"

namespace kiln {

llvm::Expected<bool> runSpecialize(Graph &G, const PassOptions &Options,
                                   PassContext &Ctx) {
  llvm::StringMap<int64_t> Bindings;
  for (const auto &[Name, Text] : Options.all()) {
    int64_t Size;
    if (llvm::StringRef(Text).getAsInteger(10, Size) || Size < 0)
      return makeError("specialize: '" + Name + "=" + Text +
                       "' needs a non-negative integer size");
    Bindings[Name] = Size;
  }
  if (Bindings.empty())
    return false;

  auto Bind = [&](Value *V) {
    TensorType T = V->type();
    bool Changed = false;
    for (Dim &D : T.Dims)
      if (D.isSymbol())
        if (auto It = Bindings.find(D.symbol()); It != Bindings.end()) {
          D = Dim(It->second);
          Changed = true;
        }
    if (Changed)
      V->setType(std::move(T));
    return Changed;
  };
  int64_t Bound = 0;
  for (Value *V : G.inputs())
    Bound += Bind(V);
  for (const auto &N : G.nodes())
    for (Value *R : N->results())
      Bound += Bind(R);
  Ctx.bumpStat("types-specialized", Bound);
  auto Inferred = runInferShapes(G, {}, Ctx);
  if (!Inferred)
    return Inferred.takeError();
  return Bound > 0 || *Inferred;
}

} // namespace kiln
