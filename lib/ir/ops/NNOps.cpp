//===- NNOps.cpp - MatMul, Gemm, Softmax, LayerNormalization, Dropout -----===//
//
// The reference executor runs whole BERT models through these, so MatMul and
// Gemm use a small blocked kernel over contiguous rows that the compiler
// vectorizes. Softmax and LayerNormalization statistics are computed in
// double.
//
//===----------------------------------------------------------------------===//

#include "ir/ops/MathKernels.h"

#include <algorithm>

namespace kiln {
namespace {

using llvm::Error;

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

/// Out[M x N] += A[M x K] * B[K x N], all row-major and contiguous.
///
/// Blocks of Out of MR x NR are accumulated in locals over all of K: the
/// fixed-size inner loops vectorize even at -O2, and the K x NR panel of B
/// stays in cache while the blocks below it are computed.
template <typename C>
void matmulAccumulate(const C *A, const C *B, C *Out, int64_t M, int64_t K,
                      int64_t N) {
  constexpr int64_t MR = 4, NR = 8;
  for (int64_t J0 = 0; J0 < N; J0 += NR) {
    int64_t NB = std::min(NR, N - J0);
    for (int64_t I0 = 0; I0 < M; I0 += MR) {
      int64_t MB = std::min(MR, M - I0);
      if (MB < MR || NB < NR) {
        for (int64_t I = I0; I < I0 + MB; ++I)
          for (int64_t KI = 0; KI < K; ++KI) {
            C AV = A[I * K + KI];
            for (int64_t J = J0; J < J0 + NB; ++J)
              Out[I * N + J] =
                  wrapAdd(Out[I * N + J], wrapMul(AV, B[KI * N + J]));
          }
        continue;
      }
      C Acc[MR][NR] = {};
      for (int64_t KI = 0; KI < K; ++KI) {
        C BV[NR];
        for (int64_t J = 0; J < NR; ++J)
          BV[J] = B[KI * N + J0 + J];
        for (int64_t R = 0; R < MR; ++R) {
          C AV = A[(I0 + R) * K + KI];
          for (int64_t J = 0; J < NR; ++J)
            Acc[R][J] = wrapAdd(Acc[R][J], wrapMul(AV, BV[J]));
        }
      }
      for (int64_t R = 0; R < MR; ++R)
        for (int64_t J = 0; J < NR; ++J)
          Out[(I0 + R) * N + J0 + J] =
              wrapAdd(Out[(I0 + R) * N + J0 + J], Acc[R][J]);
    }
  }
}

/// A [Rows x Cols] row-major matrix transposed.
template <typename C>
std::vector<C> transposed(const std::vector<C> &V, int64_t Rows, int64_t Cols) {
  std::vector<C> Out(V.size());
  for (int64_t R = 0; R < Rows; ++R)
    for (int64_t Col = 0; Col < Cols; ++Col)
      Out[Col * Rows + R] = V[R * Cols + Col];
  return Out;
}

Error inferMatMul(InferContext &Ctx) {
  if (Error E = checkInputClass(Ctx, 0, TypeClass::Numeric))
    return E;
  if (Error E = checkSameDType(Ctx, 1))
    return E;
  const TensorType &A = Ctx.inputType(0), &B = Ctx.inputType(1);
  if (A.rank() == 0 || B.rank() == 0)
    return Ctx.error("operands " + A.str() + " and " + B.str() +
                     " must have rank >= 1");
  // 1-D operands are promoted to matrices: [K] -> [1, K] on the left,
  // [K] -> [K, 1] on the right; the added dim is dropped from the result.
  Shape AD = A.Dims, BD = B.Dims;
  if (A.rank() == 1)
    AD.insert(AD.begin(), Dim(1));
  if (B.rank() == 1)
    BD.push_back(Dim(1));
  const Dim &KA = AD.back(), &KB = BD[BD.size() - 2];
  if (KA.isStatic() && KB.isStatic() && KA.value() != KB.value())
    return Ctx.error("contraction dims of " + A.str() + " and " + B.str() +
                     " differ");
  auto Batch = broadcastShapes(
      {Shape(AD.begin(), AD.end() - 2), Shape(BD.begin(), BD.end() - 2)});
  if (!Batch)
    return Ctx.error("batch dims of " + A.str() + " and " + B.str() +
                     " do not broadcast: " + llvm::toString(Batch.takeError()));
  Shape Out = *Batch;
  if (A.rank() > 1)
    Out.push_back(AD[AD.size() - 2]);
  if (B.rank() > 1)
    Out.push_back(BD.back());
  Ctx.setOutputType(0, TensorType(A.Elem, std::move(Out)));
  return Error::success();
}

Error evalMatMul(EvalContext &Ctx) {
  const Tensor &A = *Ctx.input(0), &B = *Ctx.input(1);
  if (A.rank() == 0 || B.rank() == 0)
    return Ctx.error("operands of shapes " + sizesStr(A.sizes()) + " and " +
                     sizesStr(B.sizes()) + " must have rank >= 1");
  std::vector<int64_t> AS = A.sizes().vec(), BS = B.sizes().vec();
  if (A.rank() == 1)
    AS.insert(AS.begin(), 1);
  if (B.rank() == 1)
    BS.push_back(1);
  int64_t M = AS[AS.size() - 2], K = AS.back(), N = BS.back();
  if (BS[BS.size() - 2] != K)
    return Ctx.error("contraction dims of " + sizesStr(A.sizes()) + " and " +
                     sizesStr(B.sizes()) + " differ");
  std::vector<int64_t> ABatch(AS.begin(), AS.end() - 2),
      BBatch(BS.begin(), BS.end() - 2);
  auto Batch = broadcastSizes({ABatch, BBatch});
  if (!Batch)
    return Ctx.error("batch dims of " + sizesStr(A.sizes()) + " and " +
                     sizesStr(B.sizes()) +
                     " do not broadcast: " + llvm::toString(Batch.takeError()));
  std::vector<int64_t> OutSizes = *Batch;
  if (A.rank() > 1)
    OutSizes.push_back(M);
  if (B.rank() > 1)
    OutSizes.push_back(N);
  // Batch strides in units of whole matrices, scaled to elements.
  std::vector<int64_t> AStrides = broadcastStrides(ABatch, *Batch),
                       BStrides = broadcastStrides(BBatch, *Batch);
  for (int64_t &S : AStrides)
    S *= M * K;
  for (int64_t &S : BStrides)
    S *= K * N;
  Ctx.setOutput(0, dispatchCompute(A.dtype(), [&](auto Tag) {
                  using C = decltype(Tag);
                  std::vector<C> AV = loadAs<C>(A), BV = loadAs<C>(B);
                  std::vector<C> Out(numElementsOf(OutSizes), C(0));
                  forEachBroadcast<2>(
                      *Batch, {AStrides, BStrides},
                      [&](int64_t I, const std::array<int64_t, 2> &Offs) {
                        matmulAccumulate(AV.data() + Offs[0],
                                         BV.data() + Offs[1],
                                         Out.data() + I * M * N, M, K, N);
                      });
                  return storeAs<C>(A.dtype(), OutSizes, Out);
                }));
  return Error::success();
}

OpDef matMulOp() {
  OpDef D;
  D.Name = "MatMul";
  D.Summary = "numpy matmul: batched, broadcasting, 1-D operands promoted";
  D.MinInputs = D.MaxInputs = 2;
  D.Infer = inferMatMul;
  D.Eval = evalMatMul;
  return D;
}

/// True when a dim of C can broadcast to `Target` (it is 1 or could equal it).
bool broadcastsTo(const Dim &D, const Dim &Target) {
  return !D.isStatic() || D.value() == 1 || !Target.isStatic() ||
         D.value() == Target.value();
}

Error inferGemm(InferContext &Ctx) {
  if (Error E = checkInputClass(Ctx, 0, TypeClass::Numeric))
    return E;
  for (unsigned I = 1; I < Ctx.numInputs(); ++I)
    if (Ctx.hasInput(I))
      if (Error E = checkSameDType(Ctx, I))
        return E;
  const TensorType &A = Ctx.inputType(0), &B = Ctx.inputType(1);
  if (A.rank() != 2 || B.rank() != 2)
    return Ctx.error("operands " + A.str() + " and " + B.str() +
                     " must be matrices");
  bool TransA = Ctx.node().getInt("transA", 0);
  bool TransB = Ctx.node().getInt("transB", 0);
  const Dim &M = A.Dims[TransA ? 1 : 0], &KA = A.Dims[TransA ? 0 : 1];
  const Dim &KB = B.Dims[TransB ? 1 : 0], &N = B.Dims[TransB ? 0 : 1];
  if (KA.isStatic() && KB.isStatic() && KA.value() != KB.value())
    return Ctx.error("contraction dims of " + A.str() + " and " + B.str() +
                     " differ (transA = " + llvm::Twine(TransA) +
                     ", transB = " + llvm::Twine(TransB) + ")");
  Shape Out = {M, N};
  if (Ctx.hasInput(2)) {
    const TensorType &C = Ctx.inputType(2);
    bool Ok = C.rank() <= 2;
    for (int64_t I = 0; Ok && I < C.rank(); ++I)
      Ok = broadcastsTo(C.Dims[I], Out[2 - C.rank() + I]);
    if (!Ok)
      return Ctx.error("C " + C.str() + " does not broadcast to [" + M.str() +
                       ", " + N.str() + "]");
  }
  Ctx.setOutputType(0, TensorType(A.Elem, std::move(Out)));
  return Error::success();
}

Error evalGemm(EvalContext &Ctx) {
  const Tensor &A = *Ctx.input(0), &B = *Ctx.input(1);
  if (A.rank() != 2 || B.rank() != 2)
    return Ctx.error("operands of shapes " + sizesStr(A.sizes()) + " and " +
                     sizesStr(B.sizes()) + " must be matrices");
  bool TransA = Ctx.node().getInt("transA", 0);
  bool TransB = Ctx.node().getInt("transB", 0);
  float Alpha = Ctx.node().getFloat("alpha", 1.0f);
  float Beta = Ctx.node().getFloat("beta", 1.0f);
  int64_t M = A.dim(TransA ? 1 : 0), K = A.dim(TransA ? 0 : 1);
  int64_t N = B.dim(TransB ? 0 : 1);
  if (B.dim(TransB ? 1 : 0) != K)
    return Ctx.error("contraction dims of " + sizesStr(A.sizes()) + " and " +
                     sizesStr(B.sizes()) + " differ");
  std::vector<int64_t> OutSizes = {M, N};
  const Tensor *Bias = Ctx.input(2);
  if (Bias) {
    auto S = broadcastSizes({OutSizes, Bias->sizes().vec()});
    if (!S || *S != OutSizes) {
      if (!S)
        llvm::consumeError(S.takeError());
      return Ctx.error("C of shape " + sizesStr(Bias->sizes()) +
                       " does not broadcast to " + sizesStr(OutSizes));
    }
  }
  Ctx.setOutput(0, dispatchCompute(A.dtype(), [&](auto Tag) {
                  using C = decltype(Tag);
                  std::vector<C> AV = loadAs<C>(A), BV = loadAs<C>(B);
                  if (TransA)
                    AV = transposed(AV, K, M);
                  if (TransB)
                    BV = transposed(BV, N, K);
                  std::vector<C> Out(M * N, C(0));
                  matmulAccumulate(AV.data(), BV.data(), Out.data(), M, K, N);
                  if (Alpha != 1.0f)
                    for (C &V : Out)
                      V = C(Alpha) * V;
                  if (Bias) {
                    std::vector<C> CV = loadAs<C>(*Bias);
                    forEachBroadcast<1>(
                        OutSizes, {broadcastStrides(Bias->sizes(), OutSizes)},
                        [&](int64_t I, const std::array<int64_t, 1> &Offs) {
                          Out[I] = wrapAdd(Out[I], C(Beta) * CV[Offs[0]]);
                        });
                  }
                  return storeAs<C>(A.dtype(), OutSizes, Out);
                }));
  return Error::success();
}

OpDef gemmOp() {
  OpDef D;
  D.Name = "Gemm";
  D.Summary = "alpha * A' * B' + beta * C, for matrices";
  D.MinInputs = 2;
  D.MaxInputs = 3;
  D.Attrs = {{"alpha", AttrKind::Float},
             {"beta", AttrKind::Float},
             {"transA", AttrKind::Int},
             {"transB", AttrKind::Int}};
  D.Infer = inferGemm;
  D.Eval = evalGemm;
  return D;
}

//===----------------------------------------------------------------------===//
// Softmax, LogSoftmax
//===----------------------------------------------------------------------===//

Error inferSameFloat(InferContext &Ctx) {
  if (Error E = checkInputClass(Ctx, 0, TypeClass::Float))
    return E;
  int64_t Axis = Ctx.node().getInt("axis", -1);
  if (!normalizeAxis(Axis, Ctx.inputType(0).rank()))
    return Ctx.error("axis " + llvm::Twine(Axis) + " is out of range for " +
                     Ctx.inputType(0).str());
  Ctx.setOutputType(0, Ctx.inputType(0));
  return Error::success();
}

OpDef softmaxOp(llvm::StringRef Name, bool Log) {
  OpDef D;
  D.Name = Name.str();
  D.Summary = Log ? "log of the softmax along an axis"
                  : "exp(x) / sum(exp(x)) along an axis";
  D.MinInputs = D.MaxInputs = 1;
  D.Attrs = {{"axis", AttrKind::Int}};
  D.Infer = inferSameFloat;
  D.Eval = [Log](EvalContext &Ctx) -> Error {
    const Tensor &X = *Ctx.input(0);
    int64_t A = Ctx.node().getInt("axis", -1);
    std::optional<int64_t> Axis = normalizeAxis(A, X.rank());
    if (!Axis)
      return Ctx.error("axis " + llvm::Twine(A) + " is out of range for " +
                       sizesStr(X.sizes()));
    AxisSplit S = splitAt(X.sizes(), *Axis);
    std::vector<double> V = loadAs<double>(X);
    for (int64_t O = 0; O < S.Outer; ++O)
      for (int64_t I = 0; I < S.Inner; ++I) {
        double *Row = V.data() + O * S.N * S.Inner + I;
        auto At = [&](int64_t K) -> double & { return Row[K * S.Inner]; };
        double Max = -std::numeric_limits<double>::infinity();
        for (int64_t K = 0; K < S.N; ++K)
          Max = std::max(Max, At(K));
        double Sum = 0;
        for (int64_t K = 0; K < S.N; ++K) {
          double E = std::exp(At(K) - Max);
          Sum += E;
          if (!Log)
            At(K) = E;
        }
        double LogSum = std::log(Sum);
        for (int64_t K = 0; K < S.N; ++K)
          At(K) = Log ? At(K) - Max - LogSum : At(K) / Sum;
      }
    Ctx.setOutput(0, storeAs<double>(X.dtype(), X.sizes().vec(), V));
    return Error::success();
  };
  return D;
}

//===----------------------------------------------------------------------===//
// LayerNormalization
//===----------------------------------------------------------------------===//

/// The only stash type implemented: statistics in f32.
Error verifyLayerNorm(const Node &N) {
  std::string Stash = N.getString("stash_type", "f32");
  if (Stash != "f32")
    return makeError(N.describe() +
                     ": unsupported: LayerNormalization with stash_type '" +
                     Stash + "' (only f32 is implemented)");
  return Error::success();
}

Error inferLayerNorm(InferContext &Ctx) {
  if (Error E = checkInputClass(Ctx, 0, TypeClass::Float))
    return E;
  const TensorType &X = Ctx.inputType(0);
  int64_t A = Ctx.node().getInt("axis", -1);
  std::optional<int64_t> Axis = normalizeAxis(A, X.rank());
  if (!Axis)
    return Ctx.error("axis " + llvm::Twine(A) + " is out of range for " +
                     X.str());
  for (unsigned I = 1; I < Ctx.numInputs(); ++I) {
    if (!Ctx.hasInput(I))
      continue;
    if (Error E = checkSameDType(Ctx, I))
      return E;
    const TensorType &P = Ctx.inputType(I);
    bool Ok = P.rank() <= X.rank();
    for (int64_t D = 0; Ok && D < P.rank(); ++D)
      Ok = broadcastsTo(P.Dims[D], X.Dims[X.rank() - P.rank() + D]);
    if (!Ok)
      return Ctx.error((I == 1 ? "scale " : "bias ") + P.str() +
                       " does not broadcast to " + X.str());
  }
  Ctx.setOutputType(0, X);
  // Mean and InvStdDev keep the leading dims and set the normalized ones to 1.
  Shape Stats(X.Dims.begin(), X.Dims.begin() + *Axis);
  Stats.append(X.rank() - *Axis, Dim(1));
  for (unsigned I = 1; I < Ctx.numOutputs(); ++I)
    Ctx.setOutputType(I, TensorType(DType::F32, Stats));
  return Error::success();
}

Error evalLayerNorm(EvalContext &Ctx) {
  const Tensor &X = *Ctx.input(0);
  int64_t A = Ctx.node().getInt("axis", -1);
  std::optional<int64_t> Axis = normalizeAxis(A, X.rank());
  if (!Axis)
    return Ctx.error("axis " + llvm::Twine(A) + " is out of range for " +
                     sizesStr(X.sizes()));
  for (unsigned I = 1; I < Ctx.numInputs(); ++I) {
    if (!Ctx.hasInput(I))
      continue;
    auto S = broadcastSizes({X.sizes().vec(), Ctx.input(I)->sizes().vec()});
    if (!S || llvm::ArrayRef(*S) != X.sizes()) {
      if (!S)
        llvm::consumeError(S.takeError());
      return Ctx.error((I == 1 ? "scale of shape " : "bias of shape ") +
                       sizesStr(Ctx.input(I)->sizes()) +
                       " does not broadcast to " + sizesStr(X.sizes()));
    }
  }
  double Epsilon = Ctx.node().getFloat("epsilon", 1e-5f);
  AxisSplit S = splitAt(X.sizes(), *Axis);
  int64_t Rows = S.Outer, Cols = S.N * S.Inner;
  std::vector<double> V = loadAs<double>(X);
  std::vector<double> Mean(Rows), InvStdDev(Rows);
  for (int64_t R = 0; R < Rows; ++R) {
    double *Row = V.data() + R * Cols;
    double Sum = 0, SquareSum = 0;
    for (int64_t C = 0; C < Cols; ++C)
      Sum += Row[C];
    Mean[R] = Sum / double(Cols);
    for (int64_t C = 0; C < Cols; ++C)
      SquareSum += (Row[C] - Mean[R]) * (Row[C] - Mean[R]);
    InvStdDev[R] = 1.0 / std::sqrt(SquareSum / double(Cols) + Epsilon);
    for (int64_t C = 0; C < Cols; ++C)
      Row[C] = (Row[C] - Mean[R]) * InvStdDev[R];
  }
  const Tensor &Scale = *Ctx.input(1);
  const Tensor *Bias = Ctx.input(2);
  std::vector<double> ScaleV = loadAs<double>(Scale);
  std::vector<double> BiasV =
      Bias ? loadAs<double>(*Bias) : std::vector<double>{0.0};
  std::vector<int64_t> BiasStrides =
      Bias ? broadcastStrides(Bias->sizes(), X.sizes())
           : std::vector<int64_t>(X.rank(), 0);
  forEachBroadcast<2>(X.sizes(),
                      {broadcastStrides(Scale.sizes(), X.sizes()), BiasStrides},
                      [&](int64_t I, const std::array<int64_t, 2> &Offs) {
                        V[I] = V[I] * ScaleV[Offs[0]] + BiasV[Offs[1]];
                      });
  Ctx.setOutput(0, storeAs<double>(X.dtype(), X.sizes().vec(), V));
  std::vector<int64_t> StatSizes(X.sizes().begin(), X.sizes().begin() + *Axis);
  StatSizes.resize(X.rank(), 1);
  if (Ctx.numOutputs() > 1)
    Ctx.setOutput(1, storeAs<double>(DType::F32, StatSizes, Mean));
  if (Ctx.numOutputs() > 2)
    Ctx.setOutput(2, storeAs<double>(DType::F32, StatSizes, InvStdDev));
  return Error::success();
}

OpDef layerNormOp() {
  OpDef D;
  D.Name = "LayerNormalization";
  D.Summary = "(x - mean) / sqrt(var + epsilon) * scale + bias over the "
              "dims from axis on";
  D.MinInputs = 2;
  D.MaxInputs = 3;
  D.MinOutputs = 1;
  D.MaxOutputs = 3;
  // stash_type is a dtype name in kiln IR, like Cast's `to`.
  D.Attrs = {{"axis", AttrKind::Int},
             {"epsilon", AttrKind::Float},
             {"stash_type", AttrKind::String}};
  D.Verify = verifyLayerNorm;
  D.Infer = inferLayerNorm;
  D.Eval = evalLayerNorm;
  return D;
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

/// Inference-mode Dropout is the identity. Training mode with a nonzero
/// ratio draws random masks, which the reference executor does not do.
Error verifyDropout(const Node &N) {
  const Value *Training = N.operand(2);
  if (!Training)
    return Error::success();
  const Tensor *T = Training->constantData();
  if (!T)
    return makeError(N.describe() + ": unsupported: Dropout whose "
                                    "training_mode is not a constant");
  if (T->numElements() != 1 || !T->getInt(0))
    return Error::success();
  const Value *Ratio = N.operand(1);
  const Tensor *R = Ratio ? Ratio->constantData() : nullptr;
  if (R && R->numElements() == 1 && R->getDouble(0) == 0.0)
    return Error::success();
  return makeError(N.describe() + ": unsupported: Dropout in training mode");
}

OpDef dropoutOp() {
  OpDef D;
  D.Name = "Dropout";
  D.Summary = "identity at inference; optional all-true mask";
  D.MinInputs = 1;
  D.MaxInputs = 3;
  D.MinOutputs = 1;
  D.MaxOutputs = 2;
  D.Attrs = {{"seed", AttrKind::Int}};
  D.Verify = verifyDropout;
  D.Infer = [](InferContext &Ctx) -> Error {
    if (Error E = checkInputClass(Ctx, 0, TypeClass::Float))
      return E;
    if (Ctx.hasInput(1) && !isFloat(Ctx.inputType(1).Elem))
      return Ctx.error("ratio must be a floating-point scalar, got " +
                       Ctx.inputType(1).str());
    if (Ctx.hasInput(2) && Ctx.inputType(2).Elem != DType::Bool)
      return Ctx.error("training_mode must be a bool scalar, got " +
                       Ctx.inputType(2).str());
    const TensorType &X = Ctx.inputType(0);
    Ctx.setOutputType(0, X);
    if (Ctx.numOutputs() > 1)
      Ctx.setOutputType(1, TensorType(DType::Bool, X.Dims));
    return Error::success();
  };
  D.Eval = [](EvalContext &Ctx) -> Error {
    const Tensor &X = *Ctx.input(0);
    Ctx.setOutput(0, X);
    if (Ctx.numOutputs() > 1) {
      Tensor Mask(DType::Bool, X.sizes().vec());
      std::fill_n(Mask.mutableBytes(), Mask.byteSize(), uint8_t(1));
      Ctx.setOutput(1, std::move(Mask));
    }
    return Error::success();
  };
  return D;
}

} // namespace

void registerNNOps(OpRegistry &R) {
  addOp(R, matMulOp());
  addOp(R, gemmOp());
  addOp(R, softmaxOp("Softmax", /*Log=*/false));
  addOp(R, softmaxOp("LogSoftmax", /*Log=*/true));
  addOp(R, layerNormOp());
  addOp(R, dropoutOp());
}

} // namespace kiln
