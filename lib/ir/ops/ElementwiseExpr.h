//===- ElementwiseExpr.h - expressions of fused elementwise ops -*- C++ -*-===//
//
// A FusedElementwise node carries its computation as an expression over its
// operands, in prefix form:
//
//   mul(sub(1.0, cast_f32(x0)), -10000.0)
//
// Leaves are operands `x0`, `x1`, ... and numbers; functions are the
// elementwise ops' lower-case names (add sub mul div pow max min neg abs exp
// log sqrt reciprocal relu sigmoid tanh erf gelu gelu_tanh where eq lt le gt
// ge and or not) and casts `cast_<dtype>`. The reference evaluates in double,
// rounding where a cast says so; codegen turns the same tree into CUDA.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_ELEMENTWISEEXPR_H
#define KILN_IR_OPS_ELEMENTWISEEXPR_H

#include "ir/DType.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln {

struct Expr {
  enum class Kind { Operand, Number, Call };
  Kind K = Kind::Number;
  unsigned Operand = 0; // Kind::Operand
  double Number = 0;    // Kind::Number
  std::string Fn;       // Kind::Call
  std::vector<std::unique_ptr<Expr>> Args;

  /// The canonical text of this expression.
  std::string str() const;
  /// Evaluates with operand values `X`.
  double eval(const double *X) const;
  /// Largest operand index used plus one.
  unsigned numOperands() const;
};

/// Parses the text form; names unknown functions and arity errors.
llvm::Expected<std::unique_ptr<Expr>> parseExpr(llvm::StringRef Text);

/// Number of arguments function `Fn` takes, or -1 when unknown.
int exprArity(llvm::StringRef Fn);

} // namespace kiln

#endif
