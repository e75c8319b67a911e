//===- CutlassKernels.h - the launch behind CutlassGemm.h -------*- C++ -*-===//
//
// What CutlassGemm.cu (nvcc, CUTLASS) and the rest of the runtime share:
// plain types only, so that nvcc sees neither LLVM nor the IR.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUTLASSKERNELS_H
#define KILN_RUNTIME_CUTLASSKERNELS_H

#include <cstdint>
#include <string>

#include <cuda_runtime.h>

namespace kiln {

/// Whether this build has the CUTLASS kernels (the CMake cache variable
/// KILN_CUTLASS_DIR found the headers).
bool cutlassGemmBuilt();

/// The kernel configurations, for [K,N] and [N,K] weights alike; Auto
/// picks one by shape (pickCutlassTile). Pingpong: each consumer warpgroup
/// a tile, one's epilogue under the other's MMAs; cooperative: both
/// warpgroups on one tile (epilogue sub-tiles of 128x64).
enum class CutlassTile : uint8_t {
  Auto,
  Pingpong64x128,
  Pingpong128x128,
  Cooperative128x256,
};

namespace detail {
/// Launches D = gelu_erf(Alpha * A @ op(B) + Bias), or without Gelu D =
/// Alpha * A @ op(B) + Bias (+ C, an [M,N] matrix, when C is not null) on
/// the ping-pong 128x128 kernel whatever `Tile` says (CutlassGemm.cu); an
/// empty string on success, else what failed. TransB chooses B's layout
/// ([N,K] instead of [K,N]); Programmatic launches it with programmatic
/// dependent launch (its loads wait for the kernel before it).
std::string launchCutlassGemm(CutlassTile Tile, bool TransB, bool Gelu, int M,
                              int N, int K, float Alpha, const void *A,
                              const void *B, const void *Bias, const void *C,
                              void *D, void *Workspace, uint64_t WorkspaceBytes,
                              int Device, int SmCount, cudaStream_t Stream,
                              bool Programmatic);

#ifdef KILN_CUTLASS_PROBE
/// Experiments (CMake -DKILN_CUTLASS_PROBE=ON only): variants of the
/// cooperative and ping-pong kernels, B [K,N], alpha 1, for
/// GpuCutlassProbe's timing.
int cutlassProbeCount();
const char *cutlassProbeName(int Variant);
std::string launchCutlassProbe(int Variant, int M, int N, int K, const void *A,
                               const void *B, const void *Bias, void *D,
                               void *Workspace, uint64_t WorkspaceBytes,
                               int Device, int SmCount, cudaStream_t Stream);
#endif

/// The epilogue's GELU on the host (exp2f for the SFU's 2^x), for tests.
float cutlassGeluErf(float X);
} // namespace detail

} // namespace kiln

#endif
