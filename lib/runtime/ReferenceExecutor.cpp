#include "runtime/ReferenceExecutor.h"
#include "ir/OpRegistry.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

namespace kiln {
namespace {

/// Binds symbolic dims to sizes and checks that each use agrees.
class SymbolBindings {
public:
  /// Checks `Sizes` against `Type`; `What` names the value in messages.
  llvm::Error check(const TensorType &Type, DType Actual,
                    llvm::ArrayRef<int64_t> Sizes, const llvm::Twine &What) {
    if (Actual != Type.Elem)
      return makeError(What + " has element type " + dtypeName(Actual) +
                       ", expected " + dtypeName(Type.Elem));
    if (int64_t(Sizes.size()) != Type.rank())
      return makeError(What + " has rank " + llvm::Twine(Sizes.size()) +
                       ", expected " + Type.str());
    for (size_t I = 0; I < Sizes.size(); ++I) {
      const Dim &D = Type.Dims[I];
      if (D.isStatic() && D.value() != Sizes[I])
        return makeError(What + " has dim " + llvm::Twine(I) + " = " +
                         llvm::Twine(Sizes[I]) + ", expected " + Type.str());
      if (!D.isSymbol())
        continue;
      auto [It, Inserted] = Bound.try_emplace(D.symbol(), Sizes[I]);
      if (!Inserted && It->second != Sizes[I])
        return makeError(What + " has dim " + llvm::Twine(I) + " = " +
                         llvm::Twine(Sizes[I]) + ", but " + D.str() +
                         " was bound to " + llvm::Twine(It->second));
    }
    return llvm::Error::success();
  }

private:
  llvm::StringMap<int64_t> Bound;
};

} // namespace

llvm::Expected<std::vector<Tensor>>
runReference(const Graph &G, llvm::ArrayRef<Tensor> Inputs,
             const ReferenceOptions &Options) {
  if (Inputs.size() != G.inputs().size())
    return makeError("graph @" + G.name() + " takes " +
                     llvm::Twine(G.inputs().size()) + " inputs, got " +
                     llvm::Twine(Inputs.size()));
  SymbolBindings Symbols;
  llvm::DenseMap<const Value *, Tensor> Live;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const Value *V = G.inputs()[I];
    // A null tensor would pass as an f32 scalar and crash the first Eval.
    if (Inputs[I].isNull())
      return makeError("input %" + V->name() + " has no data");
    if (llvm::Error E = Symbols.check(V->type(), Inputs[I].dtype(),
                                      Inputs[I].sizes(), "input %" + V->name()))
      return std::move(E);
    Live[V] = Inputs[I];
  }
  for (const Value *V : G.constants()) {
    if (!V->constantData())
      return makeError("constant %" + V->name() +
                       " has no data (its weights were elided)");
    Live[V] = *V->constantData();
  }

  // Free each intermediate after its last use.
  llvm::DenseMap<const Value *, size_t> RemainingUses;
  for (const auto &N : G.nodes())
    for (const Value *V : N->operands())
      if (V)
        ++RemainingUses[V];

  for (const auto &N : G.nodes()) {
    const OpDef *Def = N->def();
    if (!Def || !Def->Eval)
      return makeError(N->describe() +
                       ": the reference executor does not support this op");
    std::vector<const Tensor *> Args;
    for (const Value *V : N->operands()) {
      if (!V) {
        Args.push_back(nullptr);
        continue;
      }
      auto It = Live.find(V);
      if (It == Live.end())
        return makeError(N->describe() + ": operand %" + V->name() +
                         " is used before it is computed");
      Args.push_back(&It->second);
    }
    EvalContext Ctx(*N, std::move(Args));
    if (llvm::Error E = Def->Eval(Ctx))
      return std::move(E);
    for (unsigned I = 0; I < N->numResults(); ++I) {
      const Value *R = N->result(I);
      Tensor &T = Ctx.Outputs[I];
      if (T.isNull())
        return makeError(N->describe() + ": result %" + R->name() +
                         " was not computed");
      if (Options.CheckResultTypes)
        if (llvm::Error E =
                Symbols.check(R->type(), T.dtype(), T.sizes(),
                              N->describe() + ": result %" + R->name()))
          return std::move(E);
      Live[R] = std::move(T);
    }
    for (const Value *V : N->operands())
      if (V && --RemainingUses[V] == 0 && !G.isOutput(V) &&
          V->kind() == ValueKind::Result)
        Live.erase(V);
  }

  std::vector<Tensor> Outputs;
  for (const Value *V : G.outputs()) {
    auto It = Live.find(V);
    if (It == Live.end())
      return makeError("graph output %" + V->name() + " was not computed");
    Outputs.push_back(It->second);
  }
  return Outputs;
}

llvm::Expected<std::vector<Tensor>>
runReference(const Graph &G, const std::map<std::string, Tensor> &Inputs,
             const ReferenceOptions &Options) {
  std::vector<Tensor> Ordered;
  for (const Value *V : G.inputs()) {
    auto It = Inputs.find(V->name());
    if (It == Inputs.end())
      return makeError("missing input %" + V->name() + " of type " +
                       V->type().str());
    Ordered.push_back(It->second);
  }
  for (const auto &[Name, T] : Inputs) {
    const Value *V = G.lookup(Name);
    if (!V || !V->isInput())
      return makeError("graph @" + G.name() + " has no input named '" + Name +
                       "'");
  }
  return runReference(G, Ordered, Options);
}

} // namespace kiln
