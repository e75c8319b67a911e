//===- OpRegistry.h - the one table of ops ----------------------*- C++ -*-===//
//
// Every op kiln knows, ONNX ops (imported 1:1, in their opset-21 form) and
// kiln's fused ops (added by passes), is defined once here: operand and
// result counts, attributes, extra verification, type inference and the CPU
// reference implementation. Each op family registers itself from its own
// file under lib/ir/ops/.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPREGISTRY_H
#define KILN_IR_OPREGISTRY_H

#include "ir/Error.h"
#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"

#include <climits>
#include <functional>
#include <optional>

namespace kiln {

struct AttrSpec {
  std::string Name;
  AttrKind Kind;
  bool Required = false;
};

/// What type inference sees of a node: its operands' types and, where known,
/// their values. A "shape value" is the symbolic content of a small integer
/// tensor of rank 0 or 1 (the result of Shape, Gather on it, Concat, ...), so
/// that Reshape(x, Concat(Shape(x)[0], 384)) infers `[batch, 384]`.
class InferContext {
public:
  using ShapeValueMap = llvm::DenseMap<const Value *, std::vector<Dim>>;

private:
  const Node &N;
  const ShapeValueMap &ShapeValues;

public:
  InferContext(const Node &N, const ShapeValueMap &ShapeValues)
      : N(N), ShapeValues(ShapeValues), Types(N.numResults()),
        OutShapeValues(N.numResults()) {}

  const Node &node() const { return N; }
  unsigned numInputs() const { return N.numOperands(); }
  bool hasInput(unsigned I) const { return N.operand(I) != nullptr; }
  const TensorType &inputType(unsigned I) const { return N.operand(I)->type(); }
  /// The operand's data when it is a constant with data, else null.
  const Tensor *inputConstant(unsigned I) const;
  /// The operand's symbolic value (see above), or null when not known.
  const std::vector<Dim> *inputShapeValue(unsigned I) const;

  unsigned numOutputs() const { return N.numResults(); }
  void setOutputType(unsigned I, TensorType T) { Types[I] = std::move(T); }
  void setOutputShapeValue(unsigned I, std::vector<Dim> V) {
    OutShapeValues[I] = std::move(V);
  }

  /// An error naming the node.
  llvm::Error error(const llvm::Twine &Message) const;

  std::vector<std::optional<TensorType>> Types;
  std::vector<std::optional<std::vector<Dim>>> OutShapeValues;
};

/// What the reference implementation sees: the operands' data.
class EvalContext {
  const Node &N;
  std::vector<const Tensor *> Inputs;

public:
  EvalContext(const Node &N, std::vector<const Tensor *> Inputs)
      : N(N), Inputs(std::move(Inputs)), Outputs(N.numResults()) {}
  const Node &node() const { return N; }
  unsigned numInputs() const { return unsigned(Inputs.size()); }
  bool hasInput(unsigned I) const {
    return I < Inputs.size() && Inputs[I] != nullptr;
  }
  /// Operand I's data; null when the optional operand is absent.
  const Tensor *input(unsigned I) const {
    return I < Inputs.size() ? Inputs[I] : nullptr;
  }
  unsigned numOutputs() const { return unsigned(Outputs.size()); }
  void setOutput(unsigned I, Tensor T) { Outputs[I] = std::move(T); }
  llvm::Error error(const llvm::Twine &Message) const;

  std::vector<Tensor> Outputs;
};

struct OpDef {
  std::string Name;
  std::string Summary;
  unsigned MinInputs = 0, MaxInputs = 0;
  unsigned MinOutputs = 1, MaxOutputs = 1;
  std::vector<AttrSpec> Attrs;
  /// Op-specific checks beyond counts and attribute kinds (may be empty).
  std::function<llvm::Error(const Node &)> Verify;
  std::function<llvm::Error(InferContext &)> Infer;
  std::function<llvm::Error(EvalContext &)> Eval;
  /// Elementwise ops (same-shape or broadcasting, no reduction); fusion
  /// passes rely on this.
  bool Elementwise = false;
  /// Operand order does not change the result (Add, Mul, Max, Min, Sum,
  /// Equal, And, Or): pattern matching and canonicalization try both
  /// orders of such an op's two operands.
  bool Commutative = false;

  const AttrSpec *findAttr(llvm::StringRef N) const;
};

constexpr unsigned Variadic = UINT_MAX;

class OpRegistry {
public:
  static const OpRegistry &get();
  const OpDef *lookup(llvm::StringRef Name) const;
  /// All ops, sorted by name.
  std::vector<const OpDef *> all() const;

  void add(OpDef Def);

private:
  OpRegistry();
  llvm::StringMap<std::unique_ptr<OpDef>> Ops;
};

inline const OpDef *lookupOp(llvm::StringRef Name) {
  return OpRegistry::get().lookup(Name);
}

// One registration function per op family, each in lib/ir/ops/<Family>.cpp.
void registerUnaryOps(OpRegistry &R);
void registerElementwiseOps(OpRegistry &R);
void registerReductionOps(OpRegistry &R);
void registerShapeOps(OpRegistry &R);
void registerMovementOps(OpRegistry &R);
void registerGeneratorOps(OpRegistry &R);
void registerTensorOps(OpRegistry &R);
void registerNNOps(OpRegistry &R);
void registerKilnOps(OpRegistry &R);
void registerPackingOps(OpRegistry &R);

} // namespace kiln

#endif
