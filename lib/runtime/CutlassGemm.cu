//===- CutlassGemm.cu - CUTLASS 3 GEMM + bias + erf GELU for sm_90a -------===//
//
// The kernels behind runCutlassGeluGemm (CutlassGemm.h), few on purpose:
// each sm_90 instantiation costs about a minute of nvcc.
//
//   row-major D[M,N] = GELU(alpha * A[M,K] @ op(B) + bias[N])
//   A: RowMajor (K contiguous); B [K,N] row-major: CUTLASS RowMajor B
//   (N contiguous); B [N,K] (TransB): ColumnMajor B (K contiguous);
//   bias: one value per column of D (LinCombPerColBiasEltAct); no C.
//
// cutlass::epilogue::thread::GELU is the exact form,
// 0.5 x (1 + erf(x / sqrt(2))), computed in fp32.
//
//===----------------------------------------------------------------------===//
#include "runtime/CutlassKernels.h"

#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/epilogue/thread/activation.h"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/kernel/gemm_universal.hpp"
#include "cutlass/util/packed_stride.hpp"

#include <string>

namespace kiln {
namespace {

using cute::_1;
using cute::_128;
using cute::_256;
using cute::_64;
using Half = cutlass::half_t;
constexpr int Align = 8; // 16 bytes of fp16: TMA's alignment

template <class TileShape, class KernelSchedule, class EpilogueSchedule,
          class LayoutB>
struct GeluGemm {
  using ClusterShape = cute::Shape<_1, _1, _1>;
  using Fusion = cutlass::epilogue::fusion::LinCombPerColBiasEltAct<
      cutlass::epilogue::thread::GELU, Half, float, Half, Half, float>;
  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape,
      ClusterShape, cutlass::epilogue::collective::EpilogueTileAuto, float,
      float, void, cutlass::layout::RowMajor, Align, Half,
      cutlass::layout::RowMajor, Align, EpilogueSchedule, Fusion>::CollectiveOp;
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

template <class Config>
std::string launch(int M, int N, int K, float Alpha, const void *A,
                   const void *B, const void *Bias, void *D, void *Workspace,
                   uint64_t WorkspaceBytes, int Device, int SmCount,
                   cudaStream_t Stream) {
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
  St = Op.run(Args, Workspace, Stream);
  if (St != cutlass::Status::kSuccess) {
    cudaError_t E = cudaGetLastError();
    return std::string("CUTLASS launch failed: ") +
           cutlass::cutlassGetStatusString(St) + " (" + cudaGetErrorName(E) +
           ")";
  }
  return {};
}

} // namespace

std::string detail::launchCutlassGeluGemm(
    CutlassTile Tile, bool TransB, int M, int N, int K, float Alpha,
    const void *A, const void *B, const void *Bias, void *D, void *Workspace,
    uint64_t WorkspaceBytes, int Device, int SmCount, cudaStream_t Stream) {
  using Tile64x128 = cute::Shape<_64, _128, _64>;
  using Tile128x128 = cute::Shape<_128, _128, _64>;
  using Tile128x256 = cute::Shape<_128, _256, _64>;
  auto Run = [&](auto Config) {
    return launch<decltype(Config)>(M, N, K, Alpha, A, B, Bias, D, Workspace,
                                    WorkspaceBytes, Device, SmCount, Stream);
  };
  if (TransB) {
    // Transposed weights (ONNX Gemm transB = 1): one configuration.
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, ColB>{});
  }
  switch (Tile) {
  case CutlassTile::Pingpong64x128:
    return Run(GeluGemm<Tile64x128, Pingpong, PingpongEpi, RowB>{});
  case CutlassTile::Cooperative128x256:
    return Run(GeluGemm<Tile128x256, Cooperative, CooperativeEpi, RowB>{});
  case CutlassTile::Auto:
  case CutlassTile::Pingpong128x128:
    return Run(GeluGemm<Tile128x128, Pingpong, PingpongEpi, RowB>{});
  }
  return "unknown CUTLASS tile configuration";
}

} // namespace kiln
