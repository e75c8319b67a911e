//===- CutlassGemm.cu - CUTLASS 3 GEMM + bias (+ erf GELU) for sm_90a -----===//
//
// The kernels behind runCutlassGemm (CutlassGemm.h): for the erf GELU,
// three configurations (CutlassTile), each for B [K,N] and B [N,K], kept
// of eight timed on an H200 (docs/runtime.md); for the bias alone, the
// ping-pong 128x128 kernel with the builder's epilogue sub-tiles, the
// probe's fastest at MiniLM's bias GEMMs at 32768 rows (run 18), without
// and with a residual C.
//
//   row-major D[M,N] = GELU(alpha * A[M,K] @ op(B) + bias[N])
//   A: RowMajor (K contiguous); B [K,N] row-major: CUTLASS RowMajor B
//   (N contiguous); B [N,K] (TransB): ColumnMajor B (K contiguous);
//   bias: one value per column of D (LinCombPerColBiasEltAct); C (the
//   bias-only kernel with a residual): [M,N] row-major as D, beta 1.
//
// The GELU is the exact form, 0.5 x (1 + erf(x / sqrt(2))), in fp32, in
// as few instructions as we could: at K = 384 the epilogue takes about as
// long as the MMAs and does not hide under them.
// CUTLASS's own (epilogue::thread::GELU) calls erff, whose two branches
// (|x| below or above 1) both run in a warp of mixed values. geluErf
// is branchless, about nine instructions by our count of the source (five
// FMAs, one MUFU.EX2):
//
//   gelu(x) = relu(x) - |x| h(|x|),  h(u) = erfc(u / sqrt(2)) / 2 = 2^Q(u)
//
// with Q of degree 5, a minimax fit in the GELU's error on [0, 5.5]
// (scripts/bench/gelu_erf_poly.py). Evaluated in fp32, with the SFU's 2^x,
// it is within 6.4e-7 of the erf GELU on [-11, 11] and equals relu(x)
// beyond (Q falls fast enough that no clamp is needed; a NaN stays NaN):
// far below fp16's rounding. The degree-8 form it replaced (erfc(t) =
// 2^(P(t) t), t clamped, exp2f's range checks, a separate 0.5, a compare
// and select) had about 18; the cooperative 128x256 GEMM went from 0.1118
// to 0.0953 ms at 32768x1536x384.
//
//===----------------------------------------------------------------------===//
#include "runtime/CutlassKernels.h"

#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/util/packed_stride.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

namespace kiln {
namespace {

using cute::_1;
using cute::_128;
using cute::_256;
using cute::_64;
using Half = cutlass::half_t;
constexpr int Align = 8; // 16 bytes of fp16: TMA's alignment

/// 2^X by the SFU (MUFU.EX2): relative error about 2^-22, subnormal
/// results flushed to zero.
CUTLASS_HOST_DEVICE float exp2Approx(float X) {
#ifdef __CUDA_ARCH__
  float Y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(Y) : "f"(X));
  return Y;
#else
  return exp2f(X);
#endif
}

/// Q(u) of h(u) = erfc(u / sqrt(2)) / 2 = 2^Q(u), u >= 0, by Horner.
CUTLASS_HOST_DEVICE float geluQ(float U) {
  float Q = -4.732934175990522e-04f;
  Q = fmaf(Q, U, 7.084453012794256e-03f);
  Q = fmaf(Q, U, -5.182713642716408e-02f);
  Q = fmaf(Q, U, -0.4599927067756653f);
  Q = fmaf(Q, U, -1.1507877111434937f);
  return fmaf(Q, U, -1.000037670135498f);
}

/// gelu(x) = relu(x) - |x| h(|x|), h(u) = erfc(u / sqrt(2)) / 2 = 2^Q(u).
CUTLASS_HOST_DEVICE float geluErf(float X) {
  float U = fabsf(X);
  return fmaf(-U, exp2Approx(geluQ(U)), fmaxf(X, 0.0f));
}

/// `Fn` as LinCombPerColBiasEltAct calls an activation: on floats and on
/// arrays of them.
template <float (*Fn)(float)> struct Elementwise {
  template <class T> struct Op {
    CUTLASS_HOST_DEVICE T operator()(T const &X) const {
      if constexpr (std::is_same_v<T, float>) {
        return Fn(X);
      } else {
        T Y;
        CUTLASS_PRAGMA_UNROLL
        for (int I = 0; I < int(T::kElements); ++I)
          Y[I] = Fn(X[I]);
        return Y;
      }
    }
  };
};
template <class T> using GeluErf = Elementwise<geluErf>::Op<T>;

using GeluFusion =
    cutlass::epilogue::fusion::LinCombPerColBiasEltAct<GeluErf, Half, float,
                                                       Half, Half, float>;

template <class TileShape, class KernelSchedule, class EpilogueSchedule,
          class LayoutB,
          class EpilogueTile = cutlass::epilogue::collective::EpilogueTileAuto,
          class ClusterShape = cute::Shape<_1, _1, _1>,
          class Fusion = GeluFusion, class ElementC = void>
struct GeluGemm {
  /// void: no source matrix; Half: C, read by the epilogue's TMA loads.
  using SourceElement = ElementC;
  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape,
      ClusterShape, EpilogueTile, float, float, ElementC,
      cutlass::layout::RowMajor, Align, Half, cutlass::layout::RowMajor, Align,
      EpilogueSchedule, Fusion>::CollectiveOp;
  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, Half,
      cutlass::layout::RowMajor, Align, Half, LayoutB, Align, float, TileShape,
      ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
          sizeof(typename Epilogue::SharedStorage))>,
      KernelSchedule>::CollectiveOp;
  using Kernel =
      cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>,
                                           Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;
};

using Pingpong = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using PingpongEpi = cutlass::epilogue::TmaWarpSpecialized;
using Cooperative = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using CooperativeEpi = cutlass::epilogue::TmaWarpSpecializedCooperative;
using RowB = cutlass::layout::RowMajor;
using ColB = cutlass::layout::ColumnMajor;

/// The bias alone: the same per-column bias, no activation.
using BiasOnlyFusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<
    cutlass::epilogue::thread::Identity, Half, float, Half, Half, float>;

/// Whether an epilogue's arguments take a bias (the probe's plain linear
/// combination does not).
template <class T, class = void> struct HasBias : std::false_type {};
template <class T>
struct HasBias<T, std::void_t<decltype(std::declval<T &>().bias_ptr)>>
    : std::true_type {};

template <class Config>
std::string launch(int M, int N, int K, float Alpha, const void *A,
                   const void *B, const void *Bias, const void *C, void *D,
                   void *Workspace, uint64_t WorkspaceBytes, int Device,
                   int SmCount, cudaStream_t Stream, bool Programmatic) {
  using Gemm = typename Config::Gemm;
  using Kernel = typename Gemm::GemmKernel;
  auto StrideA = cutlass::make_cute_packed_stride(typename Kernel::StrideA{},
                                                  cute::make_shape(M, K, 1));
  auto StrideB = cutlass::make_cute_packed_stride(typename Kernel::StrideB{},
                                                  cute::make_shape(N, K, 1));
  auto StrideC = cutlass::make_cute_packed_stride(typename Kernel::StrideC{},
                                                  cute::make_shape(M, N, 1));
  auto StrideD = cutlass::make_cute_packed_stride(typename Kernel::StrideD{},
                                                  cute::make_shape(M, N, 1));
  cutlass::KernelHardwareInfo Hw;
  Hw.device_id = Device;
  Hw.sm_count = SmCount;
  typename Gemm::Arguments Args{
      cutlass::gemm::GemmUniversalMode::kGemm,
      {M, N, K, 1},
      {static_cast<const Half *>(A), StrideA, static_cast<const Half *>(B),
       StrideB},
      {{}, nullptr, StrideC, static_cast<Half *>(D), StrideD},
      Hw};
  Args.epilogue.thread.alpha = Alpha;
  Args.epilogue.thread.beta = 0.0f;
  if constexpr (!std::is_void_v<typename Config::SourceElement>) {
    if (!C)
      return "a kernel with a source matrix was given no C";
    Args.epilogue.ptr_C = static_cast<const Half *>(C);
    Args.epilogue.thread.beta = 1.0f;
  }
  if constexpr (HasBias<decltype(Args.epilogue.thread)>::value)
    Args.epilogue.thread.bias_ptr = static_cast<const Half *>(Bias);
  Gemm Op;
  cutlass::Status St = Op.can_implement(Args);
  if (St != cutlass::Status::kSuccess)
    return std::string("CUTLASS cannot run it: ") +
           cutlass::cutlassGetStatusString(St);
  size_t Needs = Gemm::get_workspace_size(Args);
  if (Needs > WorkspaceBytes)
    return "CUTLASS needs a workspace of " + std::to_string(Needs) +
           " bytes, the context has " + std::to_string(WorkspaceBytes);
  St = Op.run(Args, Workspace, Stream, nullptr, Programmatic);
  if (St != cutlass::Status::kSuccess) {
    cudaError_t E = cudaGetLastError();
    return std::string("CUTLASS launch failed: ") +
           cutlass::cutlassGetStatusString(St) + " (" + cudaGetErrorName(E) +
           ")";
  }
  return {};
}

/// The configuration `Tile` for B laid out as `LayoutB`; without Gelu,
/// the bias-only kernel.
template <class LayoutB>
std::string launchTile(CutlassTile Tile, bool Gelu, int M, int N, int K,
                       float Alpha, const void *A, const void *B,
                       const void *Bias, const void *C, void *D,
                       void *Workspace, uint64_t WorkspaceBytes, int Device,
                       int SmCount, cudaStream_t Stream, bool Programmatic) {
  using Tile64x128 = cute::Shape<_64, _128, _64>;
  using Tile128x128 = cute::Shape<_128, _128, _64>;
  using Tile128x256 = cute::Shape<_128, _256, _64>;
  auto Run = [&](auto Config) {
    return launch<decltype(Config)>(M, N, K, Alpha, A, B, Bias, C, D, Workspace,
                                    WorkspaceBytes, Device, SmCount, Stream,
                                    Programmatic);
  };
  using AutoEpi = cutlass::epilogue::collective::EpilogueTileAuto;
  using One = cute::Shape<_1, _1, _1>;
  if (!Gelu && C)
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, LayoutB, AutoEpi,
                        One, BiasOnlyFusion, Half>{});
  if (!Gelu)
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, LayoutB, AutoEpi,
                        One, BiasOnlyFusion>{});
  if (C)
    return "the GELU kernels take no C";
  switch (Tile) {
  case CutlassTile::Pingpong64x128:
    return Run(GeluGemm<Tile64x128, Pingpong, PingpongEpi, LayoutB>{});
  case CutlassTile::Pingpong128x128:
    // Epilogue sub-tiles of 64x64, not the builder's: 4% faster at 4096 to
    // 32768 rows on an H100 with [K,N] weights (docs/benchmarks.md, run
    // 17). [N,K] weights keep the builder's: that pairing ran on a GPU, the
    // other has not yet.
    if constexpr (std::is_same_v<LayoutB, cutlass::layout::ColumnMajor>)
      return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, LayoutB>{});
    else
      return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, LayoutB,
                          cute::Shape<_64, _64>>{});
  case CutlassTile::Auto:
  case CutlassTile::Cooperative128x256:
    // Epilogue sub-tiles of 128x64, not the builder's 128x32: half the
    // sub-tile steps, 2-3% faster from 4096 rows up (timed with [K,N]
    // weights). [N,K] weights keep the builder's sub-tiles: that pairing
    // ran on a GPU, the other has not yet.
    if constexpr (std::is_same_v<LayoutB, cutlass::layout::ColumnMajor>)
      return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, LayoutB>{});
    else
      return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, LayoutB,
                          cute::Shape<_128, _64>>{});
  }
  return "unknown CUTLASS tile configuration";
}

#ifdef KILN_CUTLASS_PROBE
/// The GELU of geluErf with its polynomial and 2^x in fp16 pairs
/// (HFMA2, ex2.approx.f16x2): half the instructions, fp16's rounding in Q.
struct GeluErfHalf2 {
  CUTLASS_DEVICE static __half2 apply(__half2 X) {
    __half2 U = __habs2(X);
    __half2 Q = __float2half2_rn(-4.732934175990522e-04f);
    Q = __hfma2(Q, U, __float2half2_rn(7.084453012794256e-03f));
    Q = __hfma2(Q, U, __float2half2_rn(-5.182713642716408e-02f));
    Q = __hfma2(Q, U, __float2half2_rn(-0.4599927067756653f));
    Q = __hfma2(Q, U, __float2half2_rn(-1.1507877111434937f));
    Q = __hfma2(Q, U, __float2half2_rn(-1.000037670135498f));
    return __hfma2(__hneg2(U), h2exp2(Q), __hmax2(X, __float2half2_rn(0.0f)));
  }
};
template <class T> struct GeluErfHalf {
  CUTLASS_HOST_DEVICE T operator()(T const &X) const {
#ifdef __CUDA_ARCH__
    if constexpr (std::is_same_v<T, Half>) {
      __half2 Y = GeluErfHalf2::apply(__half2half2(X.to_half()));
      return Half(__low2half(Y));
    } else {
      static_assert(T::kElements % 2 == 0);
      T Y;
      auto const *X2 = reinterpret_cast<__half2 const *>(&X);
      auto *Y2 = reinterpret_cast<__half2 *>(&Y);
      CUTLASS_PRAGMA_UNROLL
      for (int I = 0; I < int(T::kElements) / 2; ++I)
        Y2[I] = GeluErfHalf2::apply(X2[I]);
      return Y;
    }
#else
    return X;
#endif
  }
};

/// geluErf with 2^Q from the FMA pipe, no MUFU: 2^Q = 2^J 2^F, J = round(Q)
/// (the 1.5 * 2^23 trick), F in [-0.5, 0.5], 2^F by its degree-5 Taylor
/// polynomial (relative error below 2.5e-6), J added to the exponent bits.
CUTLASS_HOST_DEVICE float geluErfFfma(float X) {
  float U = fabsf(X);
  float Q = fmaxf(geluQ(U), -126.0f);
  float T = Q + 12582912.0f;
  float F = Q - (T - 12582912.0f);
  float P = 1.3333558e-3f;
  P = fmaf(P, F, 9.6181291e-3f);
  P = fmaf(P, F, 5.5504109e-2f);
  P = fmaf(P, F, 0.24022651f);
  P = fmaf(P, F, 0.69314718f);
  P = fmaf(P, F, 1.0f);
  uint32_t PBits, TBits;
  memcpy(&PBits, &P, 4);
  memcpy(&TBits, &T, 4);
  PBits += TBits << 23;
  float H;
  memcpy(&H, &PBits, 4);
  return fmaf(-U, H, fmaxf(X, 0.0f));
}
/// geluErf with Q by Estrin's scheme: two more instructions, a chain of
/// three FMAs before the 2^x instead of five.
CUTLASS_HOST_DEVICE float geluErfEstrin(float X) {
  float U = fabsf(X);
  float U2 = U * U;
  float P01 = fmaf(-1.1507877111434937f, U, -1.000037670135498f);
  float P23 = fmaf(-5.182713642716408e-02f, U, -0.4599927067756653f);
  float P45 = fmaf(-4.732934175990522e-04f, U, 7.084453012794256e-03f);
  float Q = fmaf(P45, U2 * U2, fmaf(P23, U2, P01));
  return fmaf(-U, exp2Approx(Q), fmaxf(X, 0.0f));
}
template <class T> using GeluErfFfma = Elementwise<geluErfFfma>::Op<T>;
template <class T> using GeluErfEstrin = Elementwise<geluErfEstrin>::Op<T>;
using EstrinGeluFusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<
    GeluErfEstrin, Half, float, Half, Half, float>;
using FfmaGeluFusion =
    cutlass::epilogue::fusion::LinCombPerColBiasEltAct<GeluErfFfma, Half, float,
                                                       Half, Half, float>;

using PlainFusion =
    cutlass::epilogue::fusion::LinearCombination<Half, float, void, float>;
using HalfGeluFusion =
    cutlass::epilogue::fusion::LinCombPerColBiasEltAct<GeluErfHalf, Half, Half,
                                                       Half, Half, float>;
#endif

} // namespace

#ifdef KILN_CUTLASS_PROBE
int detail::cutlassProbeCount() { return 15; }

const char *detail::cutlassProbeName(int Variant) {
  switch (Variant) {
  case 0: return "coop 128x256 epi 128x64 gelu (default)";
  case 1: return "coop 128x256 epi 128x64 bias only";
  case 2: return "coop 128x256 epi 128x64 plain (no bias)";
  case 3: return "coop 128x256 epi 128x64 gelu, cluster 2x1";
  case 4: return "coop 128x256 epi 128x64 gelu in f16x2";
  case 5: return "pingpong 128x128 bias only";
  case 6: return "pingpong 128x128 gelu in f16x2";
  case 7: return "coop 128x256 epi 128x64 gelu, 2^x by FMAs";
  case 8: return "pingpong 128x128 gelu, the builder's epilogue tile";
  case 9: return "pingpong 128x128 gelu, 2^x by FMAs";
  case 10: return "pingpong 128x128 gelu, epi 64x64 (default below 2 waves)";
  case 11: return "pingpong 128x128 gelu, epi 64x128";
  case 12: return "coop 128x256 epi 128x128 gelu";
  case 13: return "coop 128x256 epi 128x64 gelu, Estrin";
  case 14: return "pingpong 128x128 gelu, epi 64x64, Estrin";
  }
  return "?";
}

std::string detail::launchCutlassProbe(int Variant, int M, int N, int K,
                                       const void *A, const void *B,
                                       const void *Bias, void *D,
                                       void *Workspace, uint64_t WorkspaceBytes,
                                       int Device, int SmCount,
                                       cudaStream_t Stream) {
  using Tile128x128 = cute::Shape<_128, _128, _64>;
  using Tile128x256 = cute::Shape<_128, _256, _64>;
  using Epi128x64 = cute::Shape<_128, _64>;
  using Auto = cutlass::epilogue::collective::EpilogueTileAuto;
  using One = cute::Shape<_1, _1, _1>;
  using Two = cute::Shape<cute::_2, _1, _1>;
  auto Run = [&](auto Config) {
    return launch<decltype(Config)>(M, N, K, 1.0f, A, B, Bias, nullptr, D,
                                    Workspace, WorkspaceBytes, Device, SmCount,
                                    Stream, false);
  };
  switch (Variant) {
  case 0:
    return Run(
        GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB, Epi128x64>{});
  case 1:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, One, BiasOnlyFusion>{});
  case 2:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, One, PlainFusion>{});
  case 3:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, Two>{});
  case 4:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, One, HalfGeluFusion>{});
  case 5:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB, Auto, One,
                        BiasOnlyFusion>{});
  case 6:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB, Auto, One,
                        HalfGeluFusion>{});
  case 7:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, One, FfmaGeluFusion>{});
  case 8:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB, Auto>{});
  case 10:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB,
                        cute::Shape<_64, _64>>{});
  case 11:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB,
                        cute::Shape<_64, _128>>{});
  case 12:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        cute::Shape<_128, _128>>{});
  case 13:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB,
                        Epi128x64, One, EstrinGeluFusion>{});
  case 14:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB,
                        cute::Shape<_64, _64>, One, EstrinGeluFusion>{});
  case 9:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB, Auto, One,
                        FfmaGeluFusion>{});
  }
  return "no such probe variant";
}
#endif

float detail::cutlassGeluErf(float X) { return geluErf(X); }

std::string detail::launchCutlassGemm(CutlassTile Tile, bool TransB, bool Gelu,
                                      int M, int N, int K, float Alpha,
                                      const void *A, const void *B,
                                      const void *Bias, const void *C, void *D,
                                      void *Workspace, uint64_t WorkspaceBytes,
                                      int Device, int SmCount,
                                      cudaStream_t Stream, bool Programmatic) {
  return TransB ? launchTile<ColB>(Tile, Gelu, M, N, K, Alpha, A, B, Bias, C, D,
                                   Workspace, WorkspaceBytes, Device, SmCount,
                                   Stream, Programmatic)
                : launchTile<RowB>(Tile, Gelu, M, N, K, Alpha, A, B, Bias, C, D,
                                   Workspace, WorkspaceBytes, Device, SmCount,
                                   Stream, Programmatic);
}

} // namespace kiln
