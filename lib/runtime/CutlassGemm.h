//===- CutlassGemm.h - GEMMs with a bias (+ GELU) on CUTLASS ---*- C++ -*-===//
//
// GemmStep::Epilogue::GeluErfBias, which cuBLASLt cannot run (its GELU is
// the tanh form): D = gelu_erf(alpha * A @ op(B) + bias), and
// GemmStep::Epilogue::CutlassBias: D = alpha * A @ op(B) + bias, and
// CutlassResidualBias: D = alpha * A @ op(B) + bias + C; fp16
// operands and result, fp32 accumulation, as CUTLASS 3 kernels for sm_90a
// (TMA loads, warpgroup MMA, warp-specialized) compiled into the runtime
// (CutlassGemm.cu). Builds without the CUTLASS headers leave them out:
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

/// Why the CUTLASS kernels cannot run `S` (with either of their
/// epilogues), or an empty string when they can: f16 operands and result,
/// one matrix (Batch 1), A not transposed, N and K multiples of 8 (16-byte
/// rows for TMA), sizes that fit in int32.
std::string cutlassGemmRefusal(const GemmStep &S);

/// The configuration Auto picks for a GeluErfBias `S` on a GPU of
/// `SmCount` SMs. A CutlassBias GEMM has one, Pingpong128x128.
CutlassTile pickCutlassTile(const GemmStep &S, int SmCount);

/// Checks that the current device can run the kernels (compute capability
/// 9.0) and that this build has them.
llvm::Error checkCutlassDevice();

/// D = gelu_erf(S.Alpha * A @ op(B) + Bias) for a GeluErfBias `S`, D =
/// S.Alpha * A @ op(B) + Bias for a CutlassBias one, D = S.Alpha * A @
/// op(B) + Bias + C for a CutlassResidualBias one (C: [M, N] as D, null
/// for the others), on `Stream` (capturable into a CUDA graph). Pointers
/// (C too) must be 16-byte aligned;
/// `Workspace` holds `WorkspaceBytes`. `Tile` applies to GeluErfBias.
/// `Programmatic`: launched with programmatic dependent launch, so that its
/// prologue overlaps the kernel before it (its loads wait for that kernel,
/// griddepcontrol.wait).
llvm::Error runCutlassGemm(const GemmStep &S, const void *A, const void *B,
                           const void *Bias, const void *C, void *D,
                           void *Workspace, uint64_t WorkspaceBytes,
                           cudaStream_t Stream,
                           CutlassTile Tile = CutlassTile::Auto,
                           bool Programmatic = false);

} // namespace kiln

#endif
