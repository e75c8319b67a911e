//===- CublasLt.h - GemmSteps on cuBLASLt -----------------------*- C++ -*-===//
//
// The runtime's one door to cuBLASLt: a GemmStep (row-major, Plan.h) is
// described to cuBLASLt once per context (PreparedGemm: its descriptors and
// chosen algorithm) and then run with that context's pointers and stream.
// Row-major D[M,N] = op(A) op(B) is run as the column-major
// D^T[N,M] = op(B)^T op(A)^T, so cuBLASLt's first matrix is our B.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUBLASLT_H
#define KILN_RUNTIME_CUBLASLT_H

#include "runtime/CudaCheck.h"
#include "runtime/Plan.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace kiln {

/// cuBLASLt's workspace, one per execution context.
inline constexpr uint64_t GemmWorkspaceBytes = 32ull << 20;

/// One GemmStep made ready for cuBLASLt in one context (the bias pointer
/// depends on where the arena is).
struct PreparedGemm {
  cublasLtMatmulDesc_t Desc = nullptr;
  cublasLtMatrixLayout_t LayoutA = nullptr, LayoutB = nullptr,
                         LayoutD = nullptr;
  cublasLtMatmulAlgo_t Algo;
  ~PreparedGemm();
};

/// Describes `S` to cuBLASLt, its bias at `BiasPtr` (for the *Bias
/// epilogues), and picks its algorithm: the stored one, else the
/// heuristic's first. With `Candidates`, also lists up to `Count` of the
/// heuristic's choices (for autotuning). A step of a CUTLASS epilogue
/// (runsOnCutlass) is no cuBLASLt GEMM: it is only checked (that the
/// CUTLASS kernels take it and the device runs them) and gets an empty
/// PreparedGemm.
llvm::Expected<std::unique_ptr<PreparedGemm>>
prepareGemm(cublasLtHandle_t Lt, const GemmStep &S, const void *BiasPtr,
            unsigned Count = 1,
            std::vector<cublasLtMatmulAlgo_t> *Candidates = nullptr);

/// D = epilogue(alpha op(A) op(B)) on `Stream` with algorithm `Algo` (the
/// operand swap is in the prepared layouts); the Residual epilogues add C
/// (beta 1), the others ignore it. `Workspace` holds GemmWorkspaceBytes.
/// Not for the CUTLASS epilogues (runCutlassGemm).
cublasStatus_t runGemm(cublasLtHandle_t Lt, const GemmStep &S,
                       const PreparedGemm &G, const cublasLtMatmulAlgo_t &Algo,
                       const void *A, const void *B, const void *C, void *D,
                       void *Workspace, cudaStream_t Stream);

} // namespace kiln

#endif
