//===- CutlassGemm.cpp - the host side of the CUTLASS GELU GEMM -----------===//
#include "runtime/CutlassGemm.h"

#include "runtime/CudaCheck.h"

#include "ir/Error.h"

#include <cstdint>
#include <limits>

namespace kiln {

#ifdef KILN_HAVE_CUTLASS
bool cutlassGemmBuilt() { return true; }
#else
// Built without the CUTLASS headers: the lowering never emits the step
// (cutlassGemmBuilt), and an artifact that has one fails to load here.
bool cutlassGemmBuilt() { return false; }

std::string detail::launchCutlassGemm(CutlassTile, bool, bool, int, int, int,
                                      float, const void *, const void *,
                                      const void *, const void *, void *,
                                      void *, uint64_t, int, int, cudaStream_t,
                                      bool) {
  return "this build of kiln has no CUTLASS kernels (configure it with "
         "KILN_CUTLASS_DIR)";
}

// No kernels, no epilogue GELU (the tests that call it skip such builds).
float detail::cutlassGeluErf(float) {
  return std::numeric_limits<float>::quiet_NaN();
}
#endif

std::string cutlassGemmRefusal(const GemmStep &S) {
  if (S.AType != DType::F16 || S.BType != DType::F16 || S.DType_ != DType::F16)
    return "its operands and result are not all f16";
  if (S.Batch != 1)
    return "it is batched";
  if (S.TransA)
    return "A is transposed";
  if (S.N % 8 != 0 || S.K % 8 != 0)
    return "N=" + std::to_string(S.N) + " and K=" + std::to_string(S.K) +
           " are not both multiples of 8";
  if (S.M <= 0 || S.N <= 0 || S.K <= 0 || S.M > INT32_MAX || S.N > INT32_MAX ||
      S.K > INT32_MAX)
    return "M, N or K is not in [1, 2^31)";
  return {};
}

CutlassTile pickCutlassTile(const GemmStep &S, int SmCount) {
  // Small tiles while larger ones would leave SMs idle or fill a last
  // wave badly; on an H200 (132 SMs, N 1536, K 384) this pick was within
  // 5% of the fastest of twelve configurations at every row count timed,
  // 128 to 32768 (docs/runtime.md).
  int64_t RowTiles = (S.M + 127) / 128;
  if (RowTiles * ((S.N + 127) / 128) < SmCount)
    return CutlassTile::Pingpong64x128;
  if (RowTiles * ((S.N + 255) / 256) < 2 * int64_t(SmCount))
    return CutlassTile::Pingpong128x128;
  return CutlassTile::Cooperative128x256;
}

llvm::Error checkCutlassDevice() {
  if (!cutlassGemmBuilt())
    return makeError("this build of kiln has no CUTLASS kernels (configure "
                     "it with KILN_CUTLASS_DIR), which a GEMM with the erf "
                     "GELU in its epilogue, or a bias GEMM compiled with "
                     "--cutlass-bias-gemm, needs");
  int Device = 0, Major = 0, Minor = 0;
  KILN_CUDA(cudaGetDevice(&Device), "finding the current device");
  KILN_CUDA(
      cudaDeviceGetAttribute(&Major, cudaDevAttrComputeCapabilityMajor, Device),
      "reading the compute capability");
  KILN_CUDA(
      cudaDeviceGetAttribute(&Minor, cudaDevAttrComputeCapabilityMinor, Device),
      "reading the compute capability");
  if (Major != 9 || Minor != 0)
    return makeError("the CUTLASS GEMMs are built for sm_90a, device " +
                     llvm::Twine(Device) + " is sm_" + llvm::Twine(Major) +
                     llvm::Twine(Minor) +
                     " (compile with --gelu-gemm separate and "
                     "--cutlass-bias-gemm off for it)");
  return llvm::Error::success();
}

llvm::Error runCutlassGemm(const GemmStep &S, const void *A, const void *B,
                           const void *Bias, const void *C, void *D,
                           void *Workspace, uint64_t WorkspaceBytes,
                           cudaStream_t Stream, CutlassTile Tile,
                           bool Programmatic) {
  std::string Where = "the CUTLASS GEMM of " + S.Label;
  if (!runsOnCutlass(S.Epi))
    return makeError(Where + ": its epilogue is no CUTLASS one");
  std::string Refusal = cutlassGemmRefusal(S);
  if (!Refusal.empty())
    return makeError(Where + ": " + Refusal);
  bool Residual = hasResidual(S.Epi);
  if (Residual != (C != nullptr))
    return makeError(Where + (Residual ? ": its residual epilogue has no C"
                                       : ": C given to an epilogue without "
                                         "one"));
  for (const void *P : {A, B, Bias, C, static_cast<const void *>(D)})
    if (reinterpret_cast<uintptr_t>(P) % 16 != 0)
      return makeError(Where + ": an operand is not 16-byte aligned");
  int Device = 0, SmCount = 0;
  KILN_CUDA(cudaGetDevice(&Device), Where);
  KILN_CUDA(
      cudaDeviceGetAttribute(&SmCount, cudaDevAttrMultiProcessorCount, Device),
      Where);
  if (Tile == CutlassTile::Auto)
    Tile = pickCutlassTile(S, SmCount);
  bool Gelu = S.Epi == GemmStep::Epilogue::GeluErfBias;
  std::string Failure = detail::launchCutlassGemm(
      Tile, S.TransB, Gelu, int(S.M), int(S.N), int(S.K), S.Alpha, A, B, Bias,
      C, D, Workspace, WorkspaceBytes, Device, SmCount, Stream, Programmatic);
  if (!Failure.empty())
    return makeError(Where + ": " + Failure);
  return llvm::Error::success();
}

} // namespace kiln
