//===- CutlassGemm.h - the GEMM with bias + erf GELU on CUTLASS -*- C++ -*-===//
//
// GemmStep::Epilogue::GeluErfBias, which cuBLASLt cannot run (its GELU is
// the tanh form): D = gelu_erf(alpha * A @ op(B) + bias), fp16 operands and
// result, fp32 accumulation, as a CUTLASS 3 kernel for sm_90a (TMA loads,
// warpgroup MMA, warp-specialized) compiled into the runtime
// (CutlassGemm.cu). Builds without the CUTLASS headers leave it out:
// cutlassGemmBuilt() is false and running such a step is an error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUTLASSGEMM_H
#define KILN_RUNTIME_CUTLASSGEMM_H

#include "runtime/CutlassKernels.h"
#include "runtime/Plan.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace kiln {

/// Why the CUTLASS kernels cannot run `S` as a GeluErfBias GEMM, or an
/// empty string when they can: f16 operands and result, one matrix
/// (Batch 1), A not transposed, N and K multiples of 8 (16-byte rows for
/// TMA), sizes that fit in int32.
std::string cutlassGeluGemmRefusal(const GemmStep &S);

/// The configuration Auto picks for `S` on a GPU of `SmCount` SMs.
CutlassTile pickCutlassTile(const GemmStep &S, int SmCount);

/// Checks that the current device can run the kernels (compute capability
/// 9.0) and that this build has them.
llvm::Error checkCutlassDevice();

/// D = gelu_erf(S.Alpha * A @ op(B) + Bias) on `Stream` (capturable into a
/// CUDA graph). Pointers must be 16-byte aligned; `Workspace` holds
/// `WorkspaceBytes`. `Programmatic`: launched with programmatic dependent
/// launch, so that its prologue overlaps the kernel before it (its loads
/// wait for that kernel, griddepcontrol.wait).
llvm::Error runCutlassGeluGemm(const GemmStep &S, const void *A, const void *B,
                               const void *Bias, void *D, void *Workspace,
                               uint64_t WorkspaceBytes, cudaStream_t Stream,
                               CutlassTile Tile = CutlassTile::Auto,
                               bool Programmatic = false);

} // namespace kiln

#endif
