//===- ElementwiseCodegen.h - elementwise ops as generated CUDA -*- C++ -*-===//
//
// Every elementwise op becomes one generated kernel: FusedElementwise from
// its expression, a single ONNX op (Add, Cast, Where, Clip, ...) from the
// expression it translates to. One thread computes one output element; the
// sizes and the broadcast strides of the operands are constants in the
// source, so the same node always yields the same text and the compile cache
// hits.
//
// Two arithmetic rules exist because the reference implementations differ:
// FusedElementwise evaluates its expression in double (Expr::eval), so its
// integer arithmetic is done in double; the single ONNX ops compute integers
// in int64 with wrap-around and truncating division. Floating-point math is
// done in float (double when an f64 takes part) under both rules.
//
// ElementwiseCodegen.cpp writes the kernels; ElementwiseOps.cpp has the
// expressions of the single ONNX ops and the lowering rule.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_ELEMENTWISECODEGEN_H
#define KILN_CODEGEN_ELEMENTWISECODEGEN_H

#include "codegen/KernelLibrary.h"
#include "ir/ops/ElementwiseExpr.h"

namespace kiln {

/// Threads per block of every generated kernel (its __launch_bounds__).
inline constexpr int64_t ElementwiseBlockSize = 256;

enum class IntegerMath {
  /// As Expr::eval: integers take part in arithmetic as doubles.
  ViaDouble,
  /// As the ONNX ops' reference: int64, wrapping, truncating division.
  Exact
};

struct ElementwiseKernel {
  std::string Module; // "elementwise_<hash of Source>"
  std::string Source;
  std::string KernelName;
  /// The node operands the kernel takes, in parameter order (an expression
  /// need not read every operand); the result comes last.
  std::vector<unsigned> Operands;
  int64_t NumElements = 0;
};

/// The kernel computing `E` over operands of types `Operands` (null where an
/// operand is absent; every present one broadcasts to `Result`), storing
/// `Result`'s dtype. Besides ElementwiseExpr's functions `E` may use the
/// ones elementwiseOpExpr produces (floor, sign, mod, clamp_lo, ...).
llvm::Expected<ElementwiseKernel>
generateElementwiseKernel(const Expr &E, IntegerMath Math,
                          llvm::ArrayRef<const TensorType *> Operands,
                          const TensorType &Result);

/// The expression a single elementwise ONNX op computes over its operands
/// (x<i> is operand i), or an error when the op is not one.
llvm::Expected<std::unique_ptr<Expr>> elementwiseOpExpr(const Node &N);

/// The lowering rule of FusedElementwise and of every op elementwiseOpExpr
/// translates.
llvm::Expected<NodeLowering> lowerElementwise(const Node &N,
                                              const TargetInfo &Target);

/// The ops lowerElementwise handles.
llvm::ArrayRef<llvm::StringRef> elementwiseKernelOps();

} // namespace kiln

#endif
