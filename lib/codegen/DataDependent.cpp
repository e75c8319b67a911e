//===- DataDependent.cpp - graphs whose shapes depend on the data ---------===//
#include "codegen/DataDependent.h"

#include "codegen/Compiler.h"
#include "ir/Error.h"
#include "ir/OpRegistry.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "runtime/EngineInternal.h"

#include "llvm/ADT/StringExtras.h"

namespace kiln {
namespace {

/// Operands this small are bound as constants before a node is run on the
/// host: shapes, limits, axes. They print in full, so the plan cache key
/// (the printed graph) tells bound values apart.
constexpr int64_t MaxBoundElements = 16;

/// specialize's options (batch=2,seq=8) binding every symbolic input dim to
/// the request's size.
llvm::Expected<PassOptions> bindingsFor(const Graph &G,
                                        llvm::ArrayRef<Tensor> Inputs) {
  if (Inputs.size() != G.inputs().size())
    return makeError("the model takes " + llvm::Twine(G.inputs().size()) +
                     " inputs, got " + llvm::Twine(Inputs.size()));
  std::map<std::string, int64_t> Sizes;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    const Value *In = G.inputs()[I];
    const TensorType &T = In->type();
    const Tensor &X = Inputs[I];
    if (X.dtype() != T.Elem || X.rank() != T.rank())
      return makeError("input %" + In->name() + " is " + T.str() + ", got " +
                       X.type().str());
    for (int64_t D = 0; D < T.rank(); ++D) {
      const Dim &Want = T.Dims[D];
      if (Want.isStatic() && Want.value() != X.dim(D))
        return makeError("input %" + In->name() + " is " + T.str() + ", got " +
                         X.type().str());
      if (!Want.isSymbol())
        continue;
      auto [It, New] = Sizes.try_emplace(Want.symbol(), X.dim(D));
      if (!New && It->second != X.dim(D))
        return makeError("input %" + In->name() + " gives '" + Want.symbol() +
                         "' the size " + llvm::Twine(X.dim(D)) +
                         ", an earlier input " + llvm::Twine(It->second));
    }
  }
  PassOptions Bindings;
  for (const auto &[Name, Size] : Sizes) {
    if (Name.find_first_of(",={} ") != std::string::npos)
      return makeError("dimension symbol '" + Name +
                       "' cannot be bound at run time (it contains one of "
                       "',={} ')");
    Bindings.set(Name, std::to_string(Size));
  }
  return Bindings;
}

} // namespace

DataDependentRunner::DataDependentRunner(std::unique_ptr<Graph> G,
                                         DataDependentOptions Options)
    : G(std::move(G)), Options(std::move(Options)) {}

DataDependentRunner::~DataDependentRunner() = default;

llvm::Expected<std::unique_ptr<DataDependentRunner>>
DataDependentRunner::create(std::unique_ptr<Graph> G,
                            DataDependentOptions Options) {
  std::string Why;
  if (!gpuAvailable(&Why))
    return makeError(Why);
  Options.Engine.JitCompiler = nullptr;
  if (Options.MaxPlans == 0)
    Options.MaxPlans = 1;
  return std::unique_ptr<DataDependentRunner>(
      new DataDependentRunner(std::move(G), std::move(Options)));
}

llvm::Expected<std::vector<Tensor>>
DataDependentRunner::runStatic(const Graph &S, llvm::ArrayRef<Tensor> Inputs) {
  PrintOptions Print;
  Print.ElideWeights = true;
  std::string Key = printGraphToString(S, Print);
  auto It = Plans.find(Key);
  if (It == Plans.end()) {
    CompileOptions O;
    O.Batches = {1};
    O.Pipeline = {};
    O.Precision = Precision::F32; // the IR is in its storage precision already
    O.Target = Options.Target;
    O.CacheDir = Options.CacheDir;
    O.EmitPtx = false;
    auto A = compileGraph(S.clone(), O);
    if (!A)
      return A.takeError();
    if (!A->Meta.DataDependent.empty())
      return makeError("internal error: a shape is still unknown: " +
                       A->Meta.DataDependent);
    auto E = createEngine(std::move(*A), Options.Engine);
    if (!E)
      return E.takeError();
    auto Ctx = (*E)->createContext();
    if (!Ctx)
      return Ctx.takeError();
    if (Plans.size() >= Options.MaxPlans) {
      auto Oldest = Plans.begin();
      for (auto P = Plans.begin(); P != Plans.end(); ++P)
        if (P->second.LastUse < Oldest->second.LastUse)
          Oldest = P;
      Plans.erase(Oldest);
    }
    ++Compiled;
    It = Plans.emplace(Key, Plan{std::move(*E), std::move(*Ctx), 0}).first;
  }
  It->second.LastUse = ++Clock;
  return runTensors(*It->second.Ctx, Inputs);
}

llvm::Expected<std::vector<Tensor>>
DataDependentRunner::run(llvm::ArrayRef<Tensor> Inputs) {
  std::lock_guard<std::mutex> Lock(Mutex);
  auto Bindings = bindingsFor(*G, Inputs);
  if (!Bindings)
    return Bindings.takeError();
  std::unique_ptr<Graph> W = G->clone();
  if (llvm::Error E = specializeGraph(*W, *Bindings))
    return withContext(std::move(E),
                       "binding the inputs' dims (" + Bindings->str() + ")");
  // Values of W's inputs: the request's, then each host result.
  std::vector<Tensor> Values(Inputs.begin(), Inputs.end());
  size_t Limit = 4 * (W->numNodes() + 4);
  for (size_t Step = 0;; ++Step) {
    Node *F = firstUnknownShape(*W);
    if (!F)
      break;
    if (Step == Limit)
      return makeError(F->describe() + ": its shape stays unknown at run time");
    std::string Where = F->describe();

    // The operands: constants and inputs are at hand, the rest is computed
    // by the graph cut down to them.
    std::vector<const Value *> Computed;
    for (const Value *V : F->operands())
      if (V && !V->isConstant() && !V->isInput() &&
          llvm::find(Computed, V) == Computed.end())
        Computed.push_back(V);
    std::map<const Value *, Tensor> Known;
    if (!Computed.empty()) {
      std::unique_ptr<Graph> Cut = W->clone();
      std::vector<Value *> Outs;
      for (const Value *V : Computed)
        Outs.push_back(Cut->lookup(V->name()));
      Cut->setOutputs(std::move(Outs));
      if (llvm::Error E = runPassPipeline(*Cut, {passStep("dce")}, {}))
        return withContext(std::move(E), Where);
      auto Got = runStatic(*Cut, Values);
      if (!Got)
        return withContext(Got.takeError(),
                           "computing the operands of " + Where);
      for (size_t I = 0; I < Computed.size(); ++I)
        Known[Computed[I]] = std::move((*Got)[I]);
    }
    std::vector<const Tensor *> Args;
    for (const Value *V : F->operands()) {
      if (!V)
        Args.push_back(nullptr);
      else if (V->isConstant())
        Args.push_back(V->constantData());
      else if (V->isInput())
        Args.push_back(
            &Values[llvm::find(W->inputs(), V) - W->inputs().begin()]);
      else
        Args.push_back(&Known.at(V));
    }

    // Small operands become constants; folding usually settles the shape.
    bool Bound = false;
    for (unsigned I = 0; I < F->numOperands(); ++I) {
      const Value *V = F->operand(I);
      if (!V || V->isConstant() || Args[I]->numElements() > MaxBoundElements)
        continue;
      Value *C = W->addConstant(W->uniqueName(V->name() + ".bound"), *Args[I]);
      F->setOperand(I, C);
      Bound = true;
    }
    if (Bound) {
      if (llvm::Error E = specializeGraph(*W, {}))
        return withContext(std::move(E), Where);
      continue;
    }

    // A NonZero needs only its count: read back, it fixes the result's
    // shape and the GPU kernel computes the indices.
    if (F->opName() == "NonZero" && !F->hasAttr("count")) {
      int64_t Count = 0;
      for (int64_t I = 0; I < Args[0]->numElements(); ++I)
        Count += Args[0]->getDouble(I) != 0.0;
      F->setAttr("count", Attribute(Count));
      ++SizesRead;
      if (llvm::Error E = specializeGraph(*W, {}))
        return withContext(std::move(E), Where);
      continue;
    }

    // Still unknown: the node runs on the host, and its results become
    // inputs of the shapes they have.
    const OpDef *Def = F->def();
    if (!Def || !Def->Eval)
      return makeError(Where + ": its shape depends on the data and it has "
                               "no reference implementation to run");
    EvalContext Ctx(*F, Args);
    if (llvm::Error E = Def->Eval(Ctx))
      return std::move(E);
    ++HostNodes;
    for (unsigned I = 0; I < F->numResults(); ++I) {
      Value *R = F->result(I);
      Tensor &T = Ctx.Outputs[I];
      if (T.isNull())
        return makeError(Where + ": result %" + R->name() +
                         " was not computed");
      Value *In = W->addInput(W->uniqueName(R->name() + ".value"), T.type());
      R->replaceAllUsesWith(In);
      for (unsigned O = 0; O < W->outputs().size(); ++O)
        if (W->outputs()[O] == R)
          W->setOutput(O, In);
      Values.push_back(std::move(T));
    }
    W->eraseNode(F);
    if (llvm::Error E = specializeGraph(*W, {}))
      return withContext(std::move(E), Where);
  }
  return runStatic(*W, Values);
}

} // namespace kiln
