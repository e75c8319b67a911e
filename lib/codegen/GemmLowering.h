//===- GemmLowering.h - matrix products as cuBLASLt steps -------*- C++ -*-===//
//
// MatMul, Gemm and FusedGemm become a cuBLASLt GemmStep (runtime/Plan.h)
// whose epilogue does what cuBLASLt can fuse (bias, ReLU, tanh GELU); what it
// cannot (the erf GELU, ONNX Gemm's beta * C that is no bias vector) runs as
// a kernel after the GEMM, in place. A MatMul cuBLASLt does not take (f64 or
// integer operands, batch dims that broadcast only partially) runs the
// generic matmul kernel instead. Where the target asks for it, a GEMM runs
// as kiln's own tensor-core kernel (gemm_gelu.cuh) instead, with the erf
// GELU in its epilogue, or with the SkipLayerNorm after it (ownGemm,
// gemmSkipLayerNorm).
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
  /// B is a constant (a weight), which no kernel writes: kiln's own GEMM
  /// may load it before the kernel before it has finished.
  bool ConstantB = false;
};

/// The GEMM of a MatMul, Gemm or FusedGemm, or why cuBLASLt cannot run it.
llvm::Expected<GemmShape> gemmShape(const Node &N);

/// The GEMM step of a MatMul, Gemm or FusedGemm; nullopt for a MatMul
/// cuBLASLt does not take (f64 or integer operands, batch dims that
/// broadcast only partially), which runs the generic matmul kernel instead.
/// For Gemm and FusedGemm gemmShape's refusal is the error.
llvm::Expected<std::optional<GemmShape>> cublasGemm(const Node &N);

/// kiln's own tensor-core GEMM (gemm_gelu.cuh: mma.sync, cp.async) for
/// `G`, with the bias and, for a FusedGemm {activation = "gelu"}, the erf
/// GELU in its epilogue: for every GEMM of at most
/// Target.SmallGemmMaxRows rows (`kiln compile --small-gemm-rows`), where
/// its small tiles fill more SMs than cuBLASLt's and, being a kernel of
/// ours, it starts under programmatic dependent launch like its
/// neighbours; and for an erf-GELU FusedGemm with a bias of at most
/// Target.FusedGeluGemmMaxRows rows (`--gelu-gemm fused`). Only where its
/// main loop covers the shape: f16 operands and result, one matrix (Batch
/// 1), alpha 1, A not transposed, no epilogue but the bias (and the erf
/// GELU), K a multiple of 32, N a multiple of the tile's 64 or 128
/// columns, an sm_80 or newer target. nullopt otherwise: cuBLASLt (and
/// the separate GELU pass) run instead.
std::optional<KernelLaunch> ownGemm(const GemmShape &G,
                                    const TargetInfo &Target);

/// The GEMM `G` and the SkipLayerNorm `LN` that takes its result as x, as
/// one kernel (gemm_gelu.cuh's gemm_skip_layernorm_f16: a thread-block
/// cluster shares each row block, the row statistics summed through
/// distributed shared memory), when G has at most Target.SmallGemmMaxRows
/// rows, the target is sm_90 or newer, ownGemm's main loop covers G (no
/// GELU), x, skip and the result are f16 of one shape, and a row of N is 2
/// to 8 tiles of 64 or 128 columns. The launch's operands are, in order:
/// G's A, B, bias (absent: unused), then LN's skip, scale, bias and extra
/// bias; its result is LN's. nullopt otherwise, with `Why`.
std::optional<KernelLaunch> gemmSkipLayerNorm(const GemmShape &G,
                                              const Node &LN,
                                              const TargetInfo &Target,
                                              std::string *Why = nullptr);

/// Makes the cuBLASLt GEMM `G` add the skip of the SkipLayerNorm `LN` that
/// takes its result as x (GemmStep::Epilogue::Residual or ResidualBias:
/// C with beta 1), so that LN can run as a LayerNorm of that result
/// (lowerSkipLayerNormAsLayerNorm), when TargetInfo::ResidualGemm is on;
/// a CUTLASS bias GEMM (CutlassBias, biasGemmOnCutlass) likewise becomes
/// CutlassResidualBias. Only for a GEMM whose epilogue is none or a bias
/// (either kind), of one matrix, that kiln's own GEMM does not take, and
/// an LN of one result whose x and skip
/// have the result's shape and G's dtype; the skip and LN's extra bias
/// must exist before the GEMM runs (`OperandsReady`). LN's extra bias, if
/// any, becomes the GEMM's bias (`*ExtraBias`; refused when G has one).
/// Returns whether it did; if not, `G` is unchanged and `Why` says why.
bool residualIntoGemm(GemmShape &G, const Node &LN, const TargetInfo &Target,
                      bool OperandsReady, const Value **ExtraBias = nullptr,
                      std::string *Why = nullptr);

/// Moves the erf GELU of `G` (a FusedGemm {activation = "gelu"} with a
/// bias) into its GEMM's epilogue (GemmStep::Epilogue::GeluErfBias, run
/// by the CUTLASS kernels) when it has Target.CutlassGeluGemmMinRows rows
/// or more, the target is sm_90, this build has the kernels and they take
/// the shape (cutlassGemmRefusal); with Target.GeluTanhApprox, into
/// cuBLASLt's tanh-form GELU epilogue instead, always (an approximation the
/// caller asked for). Returns whether it did; if not, `G` is unchanged.
/// With `Why`, says why not.
bool geluIntoGemmEpilogue(GemmShape &G, const TargetInfo &Target,
                          std::string *Why = nullptr);

/// Runs the bias GEMM `G` (epilogue Bias alone) on the CUTLASS kernels
/// (GemmStep::Epilogue::CutlassBias: the ping-pong 128x128 kernel) when it
/// has Target.CutlassBiasGemmMinRows rows or more, the target is sm_90,
/// this build has the kernels, kiln's own GEMM does not run it and the
/// kernels take the shape (cutlassGemmRefusal). residualIntoGemm may then
/// add a SkipLayerNorm's skip to it (CutlassResidualBias). Returns whether
/// it did; if not, `G` is unchanged. With `Why`, says why not.
bool biasGemmOnCutlass(GemmShape &G, const TargetInfo &Target,
                       std::string *Why = nullptr);

/// The elementwise erf GELU applied in place after a GEMM.
/// Its grid strides over the elements with a few waves of `Target`'s SMs.
KernelLaunch geluAfterGemm(DType T, int64_t Elements, const TargetInfo &Target);

} // namespace kiln

#endif
