//===- GemmLowering.cpp - matrix products as cuBLASLt steps ---------------===//
#include "codegen/GemmLowering.h"

#include "codegen/ElementwiseCodegen.h"
#include "ir/Error.h"
#include "runtime/CutlassGemm.h"

#include <algorithm>
#include <cstdint>

namespace kiln {

bool isGemm(llvm::StringRef Op) {
  return Op == "FusedGemm" || Op == "MatMul" || Op == "Gemm";
}

llvm::Expected<GemmShape> gemmShape(const Node &N) {
  const TensorType &A = N.operand(0)->type(), &B = N.operand(1)->type();
  std::vector<int64_t> As = A.staticSizes(), Bs = B.staticSizes(),
                       Ds = N.result()->type().staticSizes();
  GemmShape G;
  G.ConstantB = N.operand(1)->isConstant();
  GemmStep &S = G.Step;
  S.AType = A.Elem;
  S.BType = B.Elem;
  S.DType_ = N.result()->dtype();
  S.Label = N.describe();
  auto Unsupported = [&](const llvm::Twine &Why) {
    return makeError(N.describe() + ": no GPU lowering: " + Why);
  };
  for (DType T : {S.AType, S.BType, S.DType_})
    if (T != DType::F32 && T != DType::F16 && T != DType::BF16)
      return Unsupported("matrix products run in f32, f16 or bf16, got " +
                         dtypeName(T));

  if (N.opName() == "MatMul") {
    if (As.size() == 1)
      As.insert(As.begin(), 1);
    bool VectorB = Bs.size() == 1;
    if (VectorB)
      Bs.push_back(1);
    S.M = As[As.size() - 2];
    S.K = As.back();
    S.N = Bs.back();
    auto Prod = [](llvm::ArrayRef<int64_t> D) {
      int64_t P = 1;
      for (int64_t X : D)
        P *= X;
      return P;
    };
    llvm::ArrayRef<int64_t> BatchA = llvm::ArrayRef(As).drop_back(2),
                            BatchB = llvm::ArrayRef(Bs).drop_back(2);
    int64_t NA = Prod(BatchA), NB = Prod(BatchB);
    if (NB == 1) {
      // B is one matrix: fold A's batch into M (A is contiguous).
      S.M *= NA;
    } else if (NA == 1) {
      S.Batch = NB;
      S.StrideB = S.K * S.N;
      S.StrideD = S.M * S.N;
    } else {
      size_t Rank = std::max(BatchA.size(), BatchB.size());
      auto Padded = [&](llvm::ArrayRef<int64_t> D) {
        std::vector<int64_t> P(Rank - D.size(), 1);
        P.insert(P.end(), D.begin(), D.end());
        return P;
      };
      if (Padded(BatchA) != Padded(BatchB))
        return Unsupported("batch dims that broadcast partially (" + A.str() +
                           " @ " + B.str() + ")");
      S.Batch = NA;
      S.StrideA = S.M * S.K;
      S.StrideB = S.K * S.N;
      S.StrideD = S.M * S.N;
    }
    return G;
  }

  // FusedGemm(a, b, bias?) {activation, trans_b} and ONNX Gemm(A, B, C?).
  bool TransA = N.opName() == "Gemm" && N.getInt("transA", 0);
  S.TransA = TransA;
  S.TransB = N.getInt(N.opName() == "Gemm" ? "transB" : "trans_b", 0);
  if (N.opName() == "Gemm") {
    S.M = TransA ? As[1] : As[0];
    S.K = TransA ? As[0] : As[1];
    S.Alpha = N.getFloat("alpha", 1.0f);
  } else {
    S.K = As.back();
    S.M = 1;
    for (size_t I = 0; I + 1 < As.size(); ++I)
      S.M *= As[I];
  }
  S.N = S.TransB ? Bs[0] : Bs[1];
  if (const Value *C = N.operand(2)) {
    std::vector<int64_t> Cs = C->type().staticSizes();
    int64_t CElems = C->type().staticNumElements();
    bool Vector =
        CElems == S.N && (Cs.size() == 1 || (Cs.size() == 2 && Cs[0] == 1));
    float Beta = N.opName() == "Gemm" ? N.getFloat("beta", 1.0f) : 1.0f;
    if (Vector && Beta == 1.0f && C->dtype() == S.DType_) {
      G.HasBias = true;
    } else if (N.opName() == "Gemm" && Beta != 0.0f) {
      // D = alpha A B, then D += beta C (C broadcasts to D), in place.
      auto Sum = std::make_unique<Expr>();
      Sum->K = Expr::Kind::Call;
      Sum->Fn = "add";
      auto X0 = std::make_unique<Expr>(), X1 = std::make_unique<Expr>(),
           B = std::make_unique<Expr>(), Scaled = std::make_unique<Expr>();
      X0->K = X1->K = Expr::Kind::Operand;
      X1->Operand = 1;
      B->Number = Beta;
      Scaled->K = Expr::Kind::Call;
      Scaled->Fn = "mul";
      Scaled->Args.push_back(std::move(X1));
      Scaled->Args.push_back(std::move(B));
      Sum->Args.push_back(std::move(X0));
      Sum->Args.push_back(std::move(Scaled));
      const TensorType &D = N.result()->type();
      auto K = generateElementwiseKernel(*Sum, IntegerMath::ViaDouble,
                                         {&D, &C->type()}, D);
      if (!K)
        return Unsupported(llvm::toString(K.takeError()));
      KernelLaunch L;
      L.Module = K->Module;
      L.Source = K->Source;
      L.NameExpr = K->KernelName;
      constexpr int64_t Threads = 256;
      L.Grid[0] = uint32_t((K->NumElements + Threads - 1) / Threads);
      L.Block[0] = uint32_t(Threads);
      for (unsigned I : K->Operands)
        L.Args.push_back(I == 0 ? LaunchArg::result(0) : LaunchArg::operand(2));
      L.Args.push_back(LaunchArg::result(0));
      G.AddCAfter = std::move(L);
    } else if (N.opName() != "Gemm") {
      return Unsupported("the bias must be a vector of " + llvm::Twine(S.N) +
                         " elements of the result's dtype, got " +
                         C->type().str());
    }
  }
  std::string Act = N.getString("activation", "none");
  using E = GemmStep::Epilogue;
  if (Act.empty() || Act == "none" || Act == "gelu")
    S.Epi = G.HasBias ? E::Bias : E::None;
  else if (Act == "relu")
    S.Epi = G.HasBias ? E::ReluBias : E::Relu;
  else if (Act == "gelu_tanh")
    S.Epi = G.HasBias ? E::GeluTanhBias : E::GeluTanh;
  else
    return Unsupported("activation '" + Act + "'");
  G.GeluAfter = Act == "gelu";
  (void)Ds;
  return G;
}

llvm::Expected<std::optional<GemmShape>> cublasGemm(const Node &N) {
  auto Shape = gemmShape(N);
  if (Shape)
    return std::optional(std::move(*Shape));
  if (N.opName() != "MatMul")
    return Shape.takeError();
  llvm::consumeError(Shape.takeError());
  return std::nullopt;
}

namespace {

/// Whether gemm_gelu.cuh's main loop covers the GEMM: f16 operands and
/// result, one matrix (Batch 1), A not transposed, alpha 1, nothing added
/// after it but a bias vector (and the erf GELU), K a multiple of 32, on
/// sm_80 or newer (cp.async, m16n8k16 f16 mma with f32 accumulation).
bool mainLoopCovers(const GemmShape &G, const TargetInfo &Target) {
  const GemmStep &S = G.Step;
  using E = GemmStep::Epilogue;
  return archNumber(Target.Arch) >= 80 && S.AType == DType::F16 &&
         S.BType == DType::F16 && S.DType_ == DType::F16 && S.Batch == 1 &&
         !S.TransA && S.Alpha == 1.0f && !G.AddCAfter &&
         (S.Epi == E::None || S.Epi == E::Bias) && S.K % 32 == 0 && S.M > 0 &&
         S.M <= INT32_MAX && S.N <= INT32_MAX && S.K <= INT32_MAX;
}

/// A CTA tile of gemm_gelu.cuh and the warps that share it.
struct TileShape {
  int64_t BM, BN, WarpsM, WarpsN;
};

std::string tileArgs(const TileShape &T, int64_t K, bool TransB,
                     int64_t &Stages, int64_t &BK) {
  BK = K % 64 == 0 ? 64 : 32;
  // Large tiles: 3 stages of 64 (4 of 32), the fastest timed (run 8). The
  // small tiles of a small batch have few CTAs an SM and little math a
  // k-step, so a step takes about the latency of its copies divided by the
  // stages in flight: up to 6 (72 KB of shared memory for 32x64 tiles,
  // 120 KB for 32x128, sm_90's clusters only), never more than K has steps.
  if (T.BM * T.BN >= 64 * 128)
    Stages = BK == 64 ? 3 : 4;
  else
    Stages = std::clamp<int64_t>(K / BK, 2, 6);
  return std::to_string(T.BM) + ", " + std::to_string(T.BN) + ", " +
         std::to_string(BK) + ", " + std::to_string(T.WarpsM) + ", " +
         std::to_string(T.WarpsN) + ", " + std::to_string(Stages) + ", " +
         (TransB ? "true" : "false");
}

/// Whether kiln's own GEMM copies B's first k-steps before it waits for
/// the kernel before it (gemm_gelu.cuh's PREFETCH): B a weight, and asked
/// for.
bool prefetchB(const GemmShape &G, const TargetInfo &Target) {
  return G.ConstantB && Target.PrefetchWeights;
}

uint32_t pipelineBytes(const TileShape &T, int64_t BK, int64_t Stages) {
  // The pipeline's buffers; the epilogue's padded output tile reuses them.
  return uint32_t(
      std::max(Stages * (T.BM * BK + BK * T.BN) * 2, T.BM * (T.BN + 8) * 2));
}

/// gemm_ksplit_layernorm_f16's warps: 8, each N / 8 columns of the row.
constexpr int64_t KSplitWarps = 8;

/// The tiling of gemm_ksplit_layernorm_f16 for `S`, if it applies and the
/// target wants it (TargetInfo::KSplitLayerNorm).
struct KSplitShape {
  int64_t BM, BK, Stages, Cluster, SharedBytes;
};
std::optional<KSplitShape> kSplitTiling(const GemmStep &S,
                                        const TargetInfo &Target) {
  using Sw = TargetInfo::Switch;
  if (Target.KSplitLayerNorm == Sw::Off)
    return std::nullopt;
  // Whole rows in one tile: 8 warps of N / 8 columns (a multiple of 16),
  // an accumulator of at most 64 floats a thread.
  if (S.N % (KSplitWarps * 16) != 0 || S.N > 1024)
    return std::nullopt;
  for (int64_t Cluster : {8, 6, 4, 3, 2}) {
    int64_t KLen = S.K / Cluster;
    if (S.K % Cluster != 0 || KLen % 32 != 0 || S.N % (Cluster * 4) != 0)
      continue;
    // 16-row blocks while the cluster's CTAs fit the SMs once, else 32.
    int64_t BM = (S.M + 15) / 16 * Cluster <= Target.SmCount ? 16 : 32;
    int64_t Blocks = (S.M + BM - 1) / BM;
    if (Target.KSplitLayerNorm == Sw::Auto &&
        2 * Blocks * Cluster > Target.SmCount)
      return std::nullopt;
    // sm_90's 227 KB of shared memory a CTA, less the kernel's static
    // arrays (x for its columns, four statistics a row) and 1 KB.
    int64_t Budget =
        227 * 1024 - BM * (S.N / Cluster + 1) * 4 - 4 * BM * 4 - 1024;
    // Steps of 64 where two stages fit, else 32; one stage more than KLen
    // has steps within the budget, so that every copy of B's slice is
    // issued before the kernel waits for its predecessor (the main loop
    // keeps one stage free).
    for (int64_t BK : {64, 32}) {
      if (KLen % BK != 0)
        continue;
      int64_t StageBytes = (BM * BK + BK * S.N) * 2;
      int64_t Stages = std::min(KLen / BK + 1, Budget / StageBytes);
      if (Stages < 2)
        continue;
      int64_t Bytes = std::max(Stages * StageBytes, BM * (S.N + 8) * 4);
      if (Bytes > Budget)
        continue;
      return KSplitShape{BM, BK, Stages, Cluster, Bytes};
    }
  }
  return std::nullopt;
}

/// Why the CUTLASS kernels cannot run `S` for `Target` (an sm_90 target,
/// a build that has them, a shape they take), or an empty string.
std::string cutlassRefusal(const GemmStep &S, const TargetInfo &Target) {
  if (Target.Arch != "sm_90a" && Target.Arch != "sm_90")
    return "the CUTLASS kernels are for sm_90a, the target is " + Target.Arch;
  if (!cutlassGemmBuilt())
    return "this build has no CUTLASS kernels";
  return cutlassGemmRefusal(S);
}

} // namespace

std::optional<KernelLaunch> ownGemm(const GemmShape &G,
                                    const TargetInfo &Target) {
  const GemmStep &S = G.Step;
  bool Small = S.M <= Target.SmallGemmMaxRows;
  bool FusedGelu =
      G.GeluAfter && G.HasBias && S.M <= Target.FusedGeluGemmMaxRows;
  if ((!Small && !FusedGelu) || !mainLoopCovers(G, Target))
    return std::nullopt;
  // 128x128 tiles of 8 warps (each 64x32) where the grid fills the GPU
  // twice over (the fastest of 17 configurations timed on an H100 at
  // 32768x1536x384 and 4096x1536x384, docs/benchmarks.md); 64x128 (8 warps
  // of 32x32) where it fills it once; else 32x64 tiles of 4 warps (each
  // 16x32), the most CTAs for the few rows of a small batch.
  auto Tiles = [&](int64_t BM, int64_t BN) {
    return (S.M + BM - 1) / BM * (S.N / BN);
  };
  TileShape T{32, 64, 2, 2};
  if (S.N % 128 == 0 && Tiles(128, 128) >= 2 * Target.SmCount)
    T = {128, 128, 2, 4};
  else if (S.N % 128 == 0 && Tiles(64, 128) >= Target.SmCount)
    T = {64, 128, 2, 4};
  if (S.N % T.BN != 0)
    return std::nullopt;
  int64_t Stages = 0, BK = 0;
  KernelLaunch L;
  L.Module = "gemm_gelu.cuh";
  L.NameExpr = "kiln::gemm_bias_gelu_f16<" +
               tileArgs(T, S.K, S.TransB, Stages, BK) + ", " +
               (G.GeluAfter ? "true" : "false") + ", " +
               (G.HasBias ? "true" : "false") + ", " +
               (prefetchB(G, Target) ? "true" : "false") + ">";
  L.Grid[0] = uint32_t(S.N / T.BN);
  L.Grid[1] = uint32_t((S.M + T.BM - 1) / T.BM);
  L.Block[0] = uint32_t(T.WarpsM * T.WarpsN * 32);
  L.SharedBytes = pipelineBytes(T, BK, Stages);
  L.Args = {LaunchArg::operand(0),
            LaunchArg::operand(1),
            G.HasBias ? LaunchArg::operand(2) : LaunchArg::i64(0),
            LaunchArg::result(0),
            LaunchArg::i32(S.M),
            LaunchArg::i32(S.N),
            LaunchArg::i32(S.K)};
  return L;
}

std::optional<KernelLaunch> gemmSkipLayerNorm(const GemmShape &G,
                                              const Node &LN,
                                              const TargetInfo &Target,
                                              std::string *Why) {
  auto No = [&](std::string Reason) -> std::optional<KernelLaunch> {
    if (Why)
      *Why = std::move(Reason);
    return std::nullopt;
  };
  const GemmStep &S = G.Step;
  if (S.M > Target.SmallGemmMaxRows)
    return No(std::to_string(S.M) + " rows, above the " +
              std::to_string(Target.SmallGemmMaxRows) +
              " of kiln's own GEMM (--small-gemm-rows)");
  if (archNumber(Target.Arch) < 90)
    return No("thread-block clusters need sm_90, the target is " + Target.Arch);
  if (G.GeluAfter || !mainLoopCovers(G, Target))
    return No("the GEMM is not one gemm_gelu.cuh's main loop covers");
  if (LN.opName() != "SkipLayerNorm" || LN.numOperands() < 3)
    return No("not a SkipLayerNorm");
  const Value *X = LN.operand(0), *Skip = LN.operand(1), *Y = LN.result();
  if (!X || !Skip || X->type() != Y->type() || Skip->type() != Y->type() ||
      Y->dtype() != DType::F16)
    return No("x, skip and the result are not all f16 of one shape");
  DType P = LN.operand(2)->dtype();
  for (unsigned I = 3; I < LN.numOperands(); ++I)
    if (const Value *V = LN.operand(I); V && V->dtype() != P)
      return No("scale, bias and extra bias differ in dtype");
  if (P != DType::F16 && P != DType::F32 && P != DType::BF16)
    return No("scale of dtype " + dtypeName(P).str());
  for (unsigned I = 2; I < LN.numOperands(); ++I)
    if (const Value *V = LN.operand(I);
        V && V->type().staticNumElements() != S.N)
      return No("operand " + std::to_string(I) + " holds " +
                std::to_string(V->type().staticNumElements()) +
                " values, not the row's " + std::to_string(S.N));
  auto Flag = [](bool B) { return B ? "true" : "false"; };
  const Value *Beta = LN.numOperands() > 3 ? LN.operand(3) : nullptr;
  const Value *Extra = LN.numOperands() > 4 ? LN.operand(4) : nullptr;
  auto Optional = [](const Value *V, unsigned I) {
    return V ? LaunchArg::operand(I) : LaunchArg::i64(0);
  };
  // What the two kernels share: their last template arguments, and their
  // arguments up to M (G's A, B and bias, LN's skip, scale, bias and extra
  // bias, the result); the sizes after M and the epsilon follow.
  std::string Tail = cudaTypeName(P).str() + ", " + Flag(G.HasBias) + ", " +
                     Flag(Beta) + ", " + Flag(Extra) + ", " +
                     Flag(prefetchB(G, Target)) + ">";
  KernelLaunch L;
  L.Module = "gemm_gelu.cuh";
  L.Args = {LaunchArg::operand(0),
            LaunchArg::operand(1),
            G.HasBias ? LaunchArg::operand(2) : LaunchArg::i64(0),
            LaunchArg::operand(3),
            LaunchArg::operand(4),
            Optional(Beta, 5),
            Optional(Extra, 6),
            LaunchArg::result(0),
            LaunchArg::i32(S.M)};
  LaunchArg Epsilon = LaunchArg::f32(LN.getFloat("epsilon", 1e-5f));
  if (auto KSplit = kSplitTiling(S, Target)) {
    L.NameExpr = "kiln::gemm_ksplit_layernorm_f16<" +
                 std::to_string(KSplit->BM) + ", " + std::to_string(S.N) +
                 ", " + std::to_string(KSplit->BK) + ", " +
                 std::to_string(KSplitWarps) + ", " +
                 std::to_string(KSplit->Stages) + ", " + Flag(S.TransB) + ", " +
                 std::to_string(KSplit->Cluster) + ", " + Tail;
    L.Grid[0] = uint32_t(KSplit->Cluster);
    L.Grid[1] = uint32_t((S.M + KSplit->BM - 1) / KSplit->BM);
    L.Block[0] = uint32_t(KSplitWarps * 32);
    L.SharedBytes = uint32_t(KSplit->SharedBytes);
    L.Args.insert(L.Args.end(), {LaunchArg::i32(S.K), Epsilon});
    return L;
  }
  // A cluster of at most 8 CTAs (the portable size) of 64 or 128 columns.
  int64_t BN = S.N % 64 == 0 && S.N / 64 <= 8     ? 64
               : S.N % 128 == 0 && S.N / 128 <= 8 ? 128
                                                  : 0;
  if (BN == 0)
    return No("rows of " + std::to_string(S.N) +
              " are no 2 to 8 tiles of 64 or 128 columns");
  int64_t Cluster = S.N / BN;
  // 16-row blocks (4 warps side by side) while 32-row ones would leave SMs
  // idle, else 32 (2 x 2 warps); 16 rows need K in steps of 64.
  TileShape T{32, BN, 2, 2};
  if ((S.M + 31) / 32 * Cluster < Target.SmCount && S.K % 64 == 0)
    T = {16, BN, 1, 4};
  int64_t Stages = 0, BK = 0;
  L.NameExpr = "kiln::gemm_skip_layernorm_f16<" +
               tileArgs(T, S.K, S.TransB, Stages, BK) + ", " +
               std::to_string(Cluster) + ", " + Tail;
  L.Grid[0] = uint32_t(Cluster);
  L.Grid[1] = uint32_t((S.M + T.BM - 1) / T.BM);
  L.Block[0] = uint32_t(T.WarpsM * T.WarpsN * 32);
  L.SharedBytes = pipelineBytes(T, BK, Stages);
  L.Args.insert(L.Args.end(),
                {LaunchArg::i32(S.N), LaunchArg::i32(S.K), Epsilon});
  return L;
}

bool residualIntoGemm(GemmShape &G, const Node &LN, const TargetInfo &Target,
                      bool OperandsReady, const Value **ExtraBias,
                      std::string *Why) {
  auto No = [&](std::string Reason) {
    if (Why)
      *Why = std::move(Reason);
    return false;
  };
  using E = GemmStep::Epilogue;
  GemmStep &S = G.Step;
  if (!Target.ResidualGemm)
    return No("not asked for (--residual-gemm off)");
  bool Cutlass = S.Epi == E::CutlassBias;
  if (G.GeluAfter || G.AddCAfter ||
      (S.Epi != E::None && S.Epi != E::Bias && !Cutlass))
    return No("the GEMM's epilogue is more than a bias");
  if (S.Batch != 1)
    return No("the GEMM is batched");
  if (ownGemm(G, Target))
    return No("kiln's own GEMM runs it (--small-gemm-rows)");
  if (LN.opName() != "SkipLayerNorm" || LN.numOperands() < 3 ||
      LN.numResults() != 1)
    return No("not a SkipLayerNorm of one result");
  const Value *X = LN.operand(0), *Skip = LN.operand(1), *Y = LN.result();
  if (!X || !Skip || X->type() != Y->type() || Skip->type() != Y->type() ||
      Y->dtype() != S.DType_)
    return No("x, skip and the result are not of one shape and the GEMM's "
              "dtype");
  const Value *Extra = LN.numOperands() > 4 ? LN.operand(4) : nullptr;
  if (Extra && G.HasBias)
    return No("both the GEMM and the SkipLayerNorm add a bias");
  if (Extra &&
      (Extra->dtype() != S.DType_ || Extra->type().staticNumElements() != S.N))
    return No("the SkipLayerNorm's extra bias is not " + std::to_string(S.N) +
              " values of the GEMM's dtype");
  if (!OperandsReady)
    return No("the skip or the extra bias is computed after the GEMM");
  // A CUTLASS bias GEMM has a bias (biasGemmOnCutlass), so no extra one.
  S.Epi = Cutlass              ? E::CutlassResidualBias
          : G.HasBias || Extra ? E::ResidualBias
                               : E::Residual;
  if (ExtraBias)
    *ExtraBias = Extra;
  return true;
}

bool geluIntoGemmEpilogue(GemmShape &G, const TargetInfo &Target,
                          std::string *Why) {
  auto No = [&](std::string Reason) {
    if (Why)
      *Why = std::move(Reason);
    return false;
  };
  if (G.GeluAfter && Target.GeluTanhApprox) {
    G.Step.Epi = G.HasBias ? GemmStep::Epilogue::GeluTanhBias
                           : GemmStep::Epilogue::GeluTanh;
    G.GeluAfter = false;
    return true;
  }
  if (!G.GeluAfter || !G.HasBias)
    return No("no erf GELU with a bias");
  if (Target.CutlassGeluGemmMinRows == TargetInfo::NeverCutlassGeluGemm)
    return No("not asked for (--gelu-gemm)");
  if (G.Step.M < Target.CutlassGeluGemmMinRows)
    return No(std::to_string(G.Step.M) + " rows, below the " +
              std::to_string(Target.CutlassGeluGemmMinRows) +
              " where it beats cuBLASLt and the pass (--gelu-gemm)");
  if (std::string Refusal = cutlassRefusal(G.Step, Target); !Refusal.empty())
    return No(std::move(Refusal));
  G.Step.Epi = GemmStep::Epilogue::GeluErfBias;
  G.GeluAfter = false;
  return true;
}

bool biasGemmOnCutlass(GemmShape &G, const TargetInfo &Target,
                       std::string *Why) {
  auto No = [&](std::string Reason) {
    if (Why)
      *Why = std::move(Reason);
    return false;
  };
  if (G.Step.Epi != GemmStep::Epilogue::Bias || G.GeluAfter || G.AddCAfter)
    return No("its epilogue is not a bias alone");
  if (Target.CutlassBiasGemmMinRows == TargetInfo::NeverCutlassBiasGemm)
    return No("not asked for (--cutlass-bias-gemm)");
  if (G.Step.M < Target.CutlassBiasGemmMinRows)
    return No(std::to_string(G.Step.M) + " rows, below the " +
              std::to_string(Target.CutlassBiasGemmMinRows) +
              " where it beat cuBLASLt (--cutlass-bias-gemm)");
  if (ownGemm(G, Target))
    return No("kiln's own GEMM runs it (--small-gemm-rows)");
  if (std::string Refusal = cutlassRefusal(G.Step, Target); !Refusal.empty())
    return No(std::move(Refusal));
  G.Step.Epi = GemmStep::Epilogue::CutlassBias;
  return true;
}

KernelLaunch geluAfterGemm(DType T, int64_t Elements,
                           const TargetInfo &Target) {
  KernelLaunch L;
  L.Module = "gemm_epilogue.cuh";
  L.NameExpr = "kiln::gelu_erf_inplace<" + cudaTypeName(T).str() + ">";
  // 16 bytes per thread per step; a grid of a few waves strides the rest.
  constexpr uint32_t Threads = 256;
  uint64_t PerThread = 16 / dtypeSize(T);
  uint64_t Blocks = (uint64_t(Elements) / PerThread + Threads - 1) / Threads;
  L.Grid[0] = uint32_t(std::clamp<uint64_t>(Blocks, 1, Target.SmCount * 16));
  L.Block[0] = Threads;
  L.Args = {LaunchArg::result(0), LaunchArg::i64(Elements)};
  return L;
}

} // namespace kiln
