//===- HalvesOps.cpp - ops pairing the two halves of the last axis --------===//
//
// Two fused ops of the modern encoders (ModernBERT first), each reading the
// last axis of x as two halves of n = D/2:
//
//   Rotary(x, cos, sin)           x * cos + rotate_half(x) * sin,
//                                 rotate_half(x) = concat(-x[..., n:], x[..., :n])
//                                 cos and sin broadcast to x (numpy rules, x's
//                                 shape wins) and span the whole last axis
//   Glu(x) {activation}           act(x[..., :n]) * x[..., n:]
//                                 activation: gelu (erf), gelu_tanh or silu
//
// The fusion passes (fuse-rotary, fuse-glu) introduce them; on the GPU each is
// one kernel (kernels/templates/rotary.cuh, glu.cuh). The reference
// implementations below compute in fp32 and store in x's dtype, as the
// kernels do.
//
//===----------------------------------------------------------------------===//
#include "ir/ops/HalvesOps.h"
#include "ir/ops/MathKernels.h"
#include "ir/ops/OpUtils.h"

#include <cassert>
#include <cmath>

namespace kiln {

float gluActivation(llvm::StringRef Act, float X) {
  if (Act == "gelu")
    return 0.5f * X * (1.0f + std::erf(X * float(M_SQRT1_2)));
  if (Act == "gelu_tanh")
    return 0.5f * X *
           (1.0f + std::tanh(0.7978845608f * (X + 0.044715f * X * X * X)));
  assert(Act == "silu" && "the verifier admits gelu, gelu_tanh and silu");
  return X / (1.0f + std::exp(-X));
}

bool isGluActivation(llvm::StringRef Act) {
  return Act == "gelu" || Act == "gelu_tanh" || Act == "silu";
}

namespace {

/// The last dim of `T` must be even when it is known.
llvm::Error requireEvenLastDim(const InferContext &Ctx, const TensorType &T,
                               llvm::StringRef What) {
  if (T.rank() < 1)
    return Ctx.error(What + " must have rank >= 1");
  const Dim &D = T.Dims.back();
  if (D.isStatic() && D.value() % 2)
    return Ctx.error(What + " " + T.str() +
                     " has an odd last dim, which has no two halves");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Rotary
//===----------------------------------------------------------------------===//

OpDef rotaryDef() {
  OpDef D;
  D.Name = "Rotary";
  D.Summary = "Rotary position embedding: x * cos + rotate_half(x) * sin";
  D.MinInputs = D.MaxInputs = 3;
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &X = Ctx.inputType(0), &Cos = Ctx.inputType(1),
                     &Sin = Ctx.inputType(2);
    if (!isFloat(X.Elem) || !isFloat(Cos.Elem) || !isFloat(Sin.Elem))
      return Ctx.error("x, cos and sin must be float tensors, got " + X.str() +
                       ", " + Cos.str() + ", " + Sin.str());
    if (auto E = requireEvenLastDim(Ctx, X, "x"))
      return E;
    if (Cos.Elem != Sin.Elem || Cos.rank() != Sin.rank())
      return Ctx.error("cos " + Cos.str() + " and sin " + Sin.str() +
                       " differ");
    for (size_t I = 0; I < Cos.Dims.size(); ++I)
      if (Cos.Dims[I].isStatic() && Sin.Dims[I].isStatic() &&
          Cos.Dims[I].value() != Sin.Dims[I].value())
        return Ctx.error("cos " + Cos.str() + " and sin " + Sin.str() +
                         " differ");
    if (Cos.rank() > X.rank() || Cos.rank() < 1)
      return Ctx.error("cos " + Cos.str() + " does not broadcast to x " +
                       X.str());
    const Dim &Width = X.Dims.back(), &CosWidth = Cos.Dims.back();
    if (Width.isStatic() && CosWidth.isStatic() &&
        Width.value() != CosWidth.value())
      return Ctx.error("cos " + Cos.str() +
                       " does not span the last axis of x " + X.str());
    for (size_t I = 0; I < Cos.Dims.size(); ++I) {
      const Dim &C = Cos.Dims[I], &XD = X.Dims[X.rank() - Cos.rank() + I];
      if (C.isStatic() && C.value() != 1 && XD.isStatic() &&
          XD.value() != C.value())
        return Ctx.error("cos " + Cos.str() + " does not broadcast to x " +
                         X.str());
    }
    Ctx.setOutputType(0, X);
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &X = *Ctx.input(0), &Cos = *Ctx.input(1), &Sin = *Ctx.input(2);
    std::vector<int64_t> Sizes = X.sizes().vec();
    if (Cos.sizes() != Sin.sizes() || Cos.rank() > X.rank() ||
        Cos.sizes().empty() || Cos.sizes().back() != Sizes.back())
      return Ctx.error("cos and sin do not broadcast to x");
    auto Out = broadcastSizes({Sizes, Cos.sizes().vec()});
    if (!Out)
      return Out.takeError();
    if (*Out != Sizes)
      return Ctx.error("cos and sin do not broadcast to x");
    std::vector<float> XF = loadAs<float>(X), CF = loadAs<float>(Cos),
                       SF = loadAs<float>(Sin);
    std::vector<float> Y(XF.size());
    int64_t Width = Sizes.back(), Half = Width / 2;
    std::vector<int64_t> Strides = broadcastStrides(Cos.sizes(), Sizes);
    forEachIndex(Sizes, {Strides},
                 [&](int64_t I, llvm::ArrayRef<int64_t> Offsets) {
                   int64_t Col = I % Width;
                   float Rotated = Col < Half ? -XF[I + Half] : XF[I - Half];
                   Y[I] = XF[I] * CF[Offsets[0]] + Rotated * SF[Offsets[0]];
                 });
    Ctx.setOutput(0, storeAs<float>(X.dtype(), Sizes, Y));
    return llvm::Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// Glu
//===----------------------------------------------------------------------===//

OpDef gluDef() {
  OpDef D;
  D.Name = "Glu";
  D.Summary = "Gated linear unit: act(x[..., :n]) * x[..., n:]";
  D.MinInputs = D.MaxInputs = 1;
  D.Attrs = {{"activation", AttrKind::String, true}};
  D.Verify = [](const Node &N) -> llvm::Error {
    std::string Act = N.getString("activation", "");
    if (!isGluActivation(Act))
      return makeError(N.describe() + ": unknown activation '" + Act +
                       "' (gelu, gelu_tanh or silu)");
    return llvm::Error::success();
  };
  D.Infer = [](InferContext &Ctx) -> llvm::Error {
    const TensorType &X = Ctx.inputType(0);
    if (!isFloat(X.Elem))
      return Ctx.error("x must be a float tensor, got " + X.str());
    if (auto E = requireEvenLastDim(Ctx, X, "x"))
      return E;
    Shape Out = X.Dims;
    if (Out.back().isStatic())
      Out.back() = Dim(Out.back().value() / 2);
    else
      Out.back() = Dim::unknown();
    Ctx.setOutputType(0, TensorType(X.Elem, Out));
    return llvm::Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> llvm::Error {
    const Tensor &X = *Ctx.input(0);
    std::vector<int64_t> Sizes = X.sizes().vec();
    if (Sizes.empty() || Sizes.back() % 2)
      return Ctx.error("x has no two halves along its last axis");
    std::string Act = Ctx.node().getString("activation", "");
    int64_t Width = Sizes.back(), Half = Width / 2;
    int64_t Rows = Width ? X.numElements() / Width : 0;
    std::vector<float> XF = loadAs<float>(X), Y(Rows * Half);
    for (int64_t R = 0; R < Rows; ++R)
      for (int64_t J = 0; J < Half; ++J)
        Y[R * Half + J] =
            gluActivation(Act, XF[R * Width + J]) * XF[R * Width + Half + J];
    Sizes.back() = Half;
    Ctx.setOutput(0, storeAs<float>(X.dtype(), Sizes, Y));
    return llvm::Error::success();
  };
  return D;
}

} // namespace

void registerHalvesOps(OpRegistry &R) {
  R.add(rotaryDef());
  R.add(gluDef());
}

} // namespace kiln
