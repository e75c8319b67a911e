//===- GemmLowering.h - matrix products as cuBLASLt steps -------*- C++ -*-===//
//
// MatMul, Gemm and FusedGemm become a cuBLASLt GemmStep (runtime/Plan.h)
// whose epilogue does what cuBLASLt can fuse (bias, ReLU, tanh GELU); what it
// cannot (the erf GELU, ONNX Gemm's beta * C that is no bias vector) runs as
// a kernel after the GEMM, in place. A MatMul cuBLASLt does not take (f64 or
// integer operands, batch dims that broadcast only partially) runs the
// generic matmul kernel instead.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_GEMMLOWERING_H
#define KILN_CODEGEN_GEMMLOWERING_H

#include "codegen/KernelLibrary.h"
#include "runtime/Plan.h"

#include <optional>

namespace kiln {

/// Whether op `Op` is a matrix product the bucket lowering sends here.
bool isGemm(llvm::StringRef Op);

/// The matrix product a MatMul, Gemm or FusedGemm computes, as a GemmStep
/// without buffers, plus what runs after it.
struct GemmShape {
  GemmStep Step;
  bool GeluAfter = false; // erf GELU, which cuBLASLt's epilogue is not
  /// ONNX Gemm's beta * C when C is no bias vector: added after the GEMM.
  std::optional<KernelLaunch> AddCAfter;
  bool HasBias = false;
};

/// The GEMM of a MatMul, Gemm or FusedGemm, or why cuBLASLt cannot run it.
llvm::Expected<GemmShape> gemmShape(const Node &N);

/// The GEMM step of a MatMul, Gemm or FusedGemm; nullopt for a MatMul
/// cuBLASLt does not take (f64 or integer operands, batch dims that
/// broadcast only partially), which runs the generic matmul kernel instead.
/// For Gemm and FusedGemm gemmShape's refusal is the error.
llvm::Expected<std::optional<GemmShape>> cublasGemm(const Node &N);

/// The GEMM with the bias and the erf GELU in its epilogue
/// (gemm_gelu.cuh) for a FusedGemm {activation = "gelu"} with a bias, when
/// its template covers the shape (f16 operands and result, one matrix:
/// Batch 1, alpha 1, A not transposed; N a multiple of 128, K of 32; an
/// sm_80 or newer target) and M is at most Target.FusedGeluGemmMaxRows. nullopt otherwise: cuBLASLt with a Bias
/// epilogue and the separate GELU pass run instead.
std::optional<KernelLaunch> fusedGeluGemm(const GemmShape &G,
                                          const TargetInfo &Target);

/// Moves the erf GELU of `G` (a FusedGemm {activation = "gelu"} with a
/// bias) into its GEMM's epilogue (GemmStep::Epilogue::GeluErfBias, run
/// by the CUTLASS kernels) when it has Target.CutlassGeluGemmMinRows rows
/// or more, the target is sm_90, this build has the kernels and they take
/// the shape (cutlassGeluGemmRefusal); with Target.GeluTanhApprox, into
/// cuBLASLt's tanh-form GELU epilogue instead, always (an approximation the
/// caller asked for). Returns whether it did; if not, `G` is unchanged.
/// With `Why`, says why not.
bool geluIntoGemmEpilogue(GemmShape &G, const TargetInfo &Target,
                          std::string *Why = nullptr);

/// The elementwise erf GELU applied in place after a GEMM.
/// Its grid strides over the elements with a few waves of `Target`'s SMs.
KernelLaunch geluAfterGemm(DType T, int64_t Elements, const TargetInfo &Target);

} // namespace kiln

#endif
