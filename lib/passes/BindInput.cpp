//===- BindInput.cpp - fix graph inputs to constant values ----------------===//
//
// `bind-input{shape=2 3 4}` turns graph input %shape into a constant holding
// those values, as TensorRT fixes shape-tensor inputs, so that shapes and
// layouts computed from it become static once types are re-inferred. The
// values are written in the input's dtype, separated by spaces; they take the
// input's shape, or for a rank-1 input of unknown length, their count.
// `kiln compile --bind NAME=FILE.npy` binds tensors read from files
// (bindInput).
//
//===----------------------------------------------------------------------===//
#include "ir/Error.h"
#include "passes/Passes.h"

namespace kiln {

llvm::Error bindInput(Graph &G, llvm::StringRef Name, const Tensor &Data) {
  Value *In = G.lookup(Name);
  if (!In || !In->isInput())
    return makeError("the graph has no input of that name");
  const TensorType &T = In->type();
  bool Fits = T.Elem == Data.dtype() && T.rank() == Data.rank();
  for (int64_t D = 0; Fits && D < T.rank(); ++D)
    Fits = !T.Dims[D].isStatic() || T.Dims[D].value() == Data.dim(D);
  if (!Fits)
    return makeError("the input is " + T.str() + ", the value given is " +
                     Data.type().str());
  G.rename(In, G.uniqueName((Name + ".bound").str()));
  Value *C = G.addConstant(Name, Data);
  In->replaceAllUsesWith(C);
  G.eraseValue(In);
  return llvm::Error::success();
}

namespace {

/// The tensor that `Text` (values separated by spaces) spells for `In`.
llvm::Expected<Tensor> parseValues(const Value &In, llvm::StringRef Text) {
  const TensorType &T = In.type();
  llvm::SmallVector<llvm::StringRef, 8> Words;
  Text.split(Words, ' ', -1, /*KeepEmpty=*/false);
  std::vector<int64_t> Sizes;
  if (T.isStatic())
    Sizes = T.staticSizes();
  else if (T.rank() == 1)
    Sizes = {int64_t(Words.size())};
  else
    return makeError("the input is " + T.str() +
                     ": values written in text need a static type or rank 1");
  if (numElementsOf(Sizes) != int64_t(Words.size()))
    return makeError("the input is " + T.str() + ", " +
                     llvm::Twine(Words.size()) + " values given");
  std::vector<double> Reals;
  std::vector<int64_t> Ints;
  for (llvm::StringRef W : Words) {
    double R = 0;
    int64_t I = 0;
    if (isFloat(T.Elem) ? W.getAsDouble(R) : W.getAsInteger(10, I))
      return makeError("'" + W + "' is not a value of type " +
                       dtypeName(T.Elem));
    if (isFloat(T.Elem))
      Reals.push_back(R);
    else
      Ints.push_back(I);
  }
  return isFloat(T.Elem) ? Tensor::fromDoubles(T.Elem, Sizes, Reals)
                         : Tensor::fromInts(T.Elem, Sizes, Ints);
}

} // namespace

llvm::Expected<bool> runBindInput(Graph &G, const PassOptions &Options,
                                  PassContext &Ctx) {
  for (const auto &[Name, Text] : Options.all()) {
    Value *In = G.lookup(Name);
    if (!In || !In->isInput())
      return makeError("bind-input: the graph has no input '" + Name + "'");
    auto Data = parseValues(*In, Text);
    if (!Data)
      return makeError("bind-input: input '" + Name +
                       "': " + llvm::toString(Data.takeError()));
    if (llvm::Error E = bindInput(G, Name, *Data))
      return makeError("bind-input: input '" + Name +
                       "': " + llvm::toString(std::move(E)));
    Ctx.bumpStat("inputs-bound");
  }
  return !Options.all().empty();
}

} // namespace kiln
