//===- PackingOps.cpp - ops that move values between layouts and devices --===//
//
// Inserted by passes, not by exporters:
//
//   PackTokens(mask, x1, ..., xn) {positions}
//                                         -> (spans, x1', ..., xn', p?): the
//                                         [B, S] values where mask != 0 packed
//                                         row by row into [1, T] (T: the
//                                         result's dim, `tokens` until bound;
//                                         slots past the tokens hold 0);
//                                         spans[b] = (first token, count) of
//                                         row b; p: each token's column
//                                         (pack-tokens)
//   PeerCopy(x) {from, to}                x, sent between devices
//                                         (partition)
//
//===----------------------------------------------------------------------===//
#include "ir/OpRegistry.h"
#include "ir/ops/KilnOps.h"
#include "ir/ops/OpUtils.h"

namespace kiln {
namespace {

//===----------------------------------------------------------------------===//
// PackTokens
//===----------------------------------------------------------------------===//

/// The token count of PackTokens' packed results: their dim 1 as the graph
/// states it (a constant once `specialize` bound it), else `tokens`.
Dim packedTokensDim(const Node &N) {
  for (unsigned I = 1; I < N.numResults(); ++I) {
    const TensorType &T = N.result(I)->type();
    if (T.rank() == 2 && !T.Dims[1].isUnknown())
      return T.Dims[1];
  }
  return Dim::symbol("tokens");
}

OpDef packTokensDef() {
  OpDef D;
  D.Name = "PackTokens";
  D.Summary = "Packs the tokens a [batch, seq] mask keeps, row by row";
  D.MinInputs = 1;
  D.MaxInputs = Variadic;
  D.MinOutputs = 1;
  D.MaxOutputs = Variadic;
  D.Attrs = {{"positions", AttrKind::Int, false}};
  D.Verify = [](const Node &N) -> llvm::Error {
    unsigned Want = N.numOperands() + (N.getInt("positions", 0) ? 1 : 0);
    if (N.numResults() != Want)
      return makeError(N.describe() + ": expected " + llvm::Twine(Want) +
                       " results (spans, one per packed value" +
                       (N.getInt("positions", 0) ? ", positions" : "") +
                       "), got " + llvm::Twine(N.numResults()));
    for (unsigned I = 0; I < N.numOperands(); ++I)
      if (!N.operand(I))
        return makeError(N.describe() + ": operand " + llvm::Twine(I) +
                         " is absent");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &Mask = Ctx.inputType(PackMask);
    if (Mask.rank() != 2)
      return Ctx.error("mask must be [batch, seq], got " + Mask.str());
    for (unsigned I = PackFirstValue; I < Ctx.numInputs(); ++I) {
      const TensorType &X = Ctx.inputType(I);
      if (X.rank() != 2 || !X.Dims[0].sameAs(Mask.Dims[0]) ||
          !X.Dims[1].sameAs(Mask.Dims[1]))
        return Ctx.error("operand " + llvm::Twine(I) + " must be " +
                         Mask.str() + "'s [batch, seq], got " + X.str());
    }
    Dim Tokens = packedTokensDim(Ctx.node());
    Ctx.setOutputType(0, TensorType(DType::I32, {Mask.Dims[0], Dim(2)}));
    for (unsigned I = PackFirstValue; I < Ctx.numInputs(); ++I)
      Ctx.setOutputType(I, TensorType(Ctx.inputType(I).Elem, {Dim(1), Tokens}));
    if (Ctx.node().getInt("positions", 0))
      Ctx.setOutputType(Ctx.numInputs(),
                        TensorType(DType::I32, {Dim(1), Tokens}));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &Mask = *Ctx.input(PackMask);
    int64_t Batch = Mask.dim(0), Seq = Mask.dim(1);
    std::vector<int64_t> Kept; // flat [batch, seq] index of each token
    std::vector<int64_t> Spans;
    for (int64_t B = 0; B < Batch; ++B) {
      Spans.push_back(int64_t(Kept.size()));
      for (int64_t S = 0; S < Seq; ++S)
        if (Mask.getDouble(B * Seq + S) != 0)
          Kept.push_back(B * Seq + S);
      Spans.push_back(int64_t(Kept.size()) - Spans.back());
    }
    int64_t Tokens = int64_t(Kept.size());
    Dim Bound = packedTokensDim(Ctx.node());
    if (Bound.isStatic()) {
      if (Tokens > Bound.value())
        return Ctx.error("the mask keeps " + llvm::Twine(Tokens) +
                         " tokens; the packed values hold " +
                         llvm::Twine(Bound.value()));
      Tokens = Bound.value();
    }
    Ctx.setOutput(0, Tensor::fromInts(DType::I32, {Batch, 2}, Spans));
    for (unsigned I = PackFirstValue; I < Ctx.numInputs(); ++I) {
      const Tensor &X = *Ctx.input(I);
      Tensor Out(X.dtype(), {1, Tokens});
      for (size_t T = 0; T < Kept.size(); ++T)
        Out.setDouble(int64_t(T), X.getDouble(Kept[T]));
      Ctx.setOutput(I, std::move(Out));
    }
    if (Ctx.node().getInt("positions", 0)) {
      std::vector<int64_t> Columns(size_t(Tokens), 0);
      for (size_t T = 0; T < Kept.size(); ++T)
        Columns[T] = Kept[T] % Seq;
      Ctx.setOutput(Ctx.numInputs(),
                    Tensor::fromInts(DType::I32, {1, Tokens}, Columns));
    }
    return llvm::Error::success();
  };
  return D;
}

/// A value sent from one device to another at a pipeline cut (the partition
/// pass inserts them). On one machine, as in the reference executor, it is
/// the identity.
OpDef peerCopyDef() {
  OpDef D;
  D.Name = "PeerCopy";
  D.Summary = "Copies a value from device `from` to device `to`";
  D.MinInputs = D.MaxInputs = 1;
  D.Attrs = {{"from", AttrKind::Int, true}, {"to", AttrKind::Int, true}};
  D.Verify = [](const Node &N) -> llvm::Error {
    int64_t From = N.getInt("from", -1), To = N.getInt("to", -1);
    if (From < 0 || To < 0)
      return makeError(N.describe() + ": devices must be >= 0");
    if (From == To)
      return makeError(N.describe() + ": copies from device " +
                       llvm::Twine(From) + " to itself");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    Ctx.setOutputType(0, Ctx.inputType(0));
    if (const std::vector<Dim> *V = Ctx.inputShapeValue(0))
      Ctx.setOutputShapeValue(0, *V);
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    Ctx.setOutput(0, *Ctx.input(0));
    return llvm::Error::success();
  };
  return D;
}

} // namespace

void registerPackingOps(OpRegistry &R) {
  R.add(packTokensDef());
  R.add(peerCopyDef());
}

} // namespace kiln
