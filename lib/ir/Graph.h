//===- Graph.h - kiln's SSA graph IR ----------------------------*- C++ -*-===//
//
// A Graph holds named, typed SSA values and the nodes that compute them, in
// topological order. A value is a graph input, a constant (a weight owning
// its data, or an elided one that only has a type), or a node result. Every
// value has a unique name; nodes may carry a name of their own (the ONNX
// node name), used in messages.
//
// A partitioned graph (the partition pass) puts each node on a device: the
// node's `device` attribute, allowed on every op. The graph itself may carry
// attributes too (printed after its inputs), such as the shape a partition
// was planned for.
//
// Mutation goes through Graph and Node so that use lists stay exact:
// replaceAllUsesWith, setOperand, createNode (before a given node or at the
// end) and eraseNode.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_GRAPH_H
#define KILN_IR_GRAPH_H

#include "ir/Attribute.h"
#include "ir/Tensor.h"
#include "ir/Type.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

class Graph;
class Node;
struct OpDef;

enum class ValueKind { Input, Constant, Result };

struct Use {
  Node *User;
  unsigned OperandIndex;
};

class Value {
public:
  const std::string &name() const { return Name; }
  const TensorType &type() const { return Type; }
  void setType(TensorType T) { Type = std::move(T); }
  DType dtype() const { return Type.Elem; }
  int64_t rank() const { return Type.rank(); }

  ValueKind kind() const { return Kind; }
  bool isInput() const { return Kind == ValueKind::Input; }
  bool isConstant() const { return Kind == ValueKind::Constant; }
  /// The data of a constant, or null for an elided constant or a non-constant.
  const Tensor *constantData() const { return Data.isNull() ? nullptr : &Data; }
  /// Replaces a constant's data; the type follows the data.
  void setConstantData(Tensor T);

  /// The node producing this value (null for inputs and constants).
  Node *definingNode() const { return Def; }
  unsigned resultIndex() const { return ResultIndex; }

  llvm::ArrayRef<Use> uses() const { return Uses; }
  bool hasUses() const { return !Uses.empty(); }
  /// Points every use (and graph output slot) of this value at `New`.
  void replaceAllUsesWith(Value *New);

  Graph *graph() const { return Owner; }

private:
  friend class Graph;
  friend class Node;
  Value(Graph *Owner, std::string Name, TensorType Type, ValueKind Kind)
      : Owner(Owner), Name(std::move(Name)), Type(std::move(Type)), Kind(Kind) {
  }
  void removeUse(Node *User, unsigned OperandIndex);

  Graph *Owner;
  std::string Name;
  TensorType Type;
  ValueKind Kind;
  Tensor Data;
  Node *Def = nullptr;
  unsigned ResultIndex = 0;
  std::vector<Use> Uses;
};

/// The attribute that puts a node on a device (a pipeline stage), allowed on
/// every op; see Verifier.h for what it implies.
inline constexpr llvm::StringLiteral DeviceAttr = "device";

class Node {
public:
  llvm::StringRef opName() const { return Op; }
  /// The registry's definition, or null when the op is not registered.
  const OpDef *def() const { return Def; }
  const std::string &name() const { return Name; }
  void setName(std::string N) { Name = std::move(N); }
  /// `'MatMul' node "/encoder/MatMul"` (or with the first result's name when
  /// the node has no name): how messages refer to a node.
  std::string describe() const;

  unsigned numOperands() const { return unsigned(Operands.size()); }
  /// Operand I; null when an optional operand is absent.
  Value *operand(unsigned I) const {
    return I < Operands.size() ? Operands[I] : nullptr;
  }
  llvm::ArrayRef<Value *> operands() const { return Operands; }
  void setOperand(unsigned I, Value *V);
  void setOperands(llvm::ArrayRef<Value *> Vs);

  unsigned numResults() const { return unsigned(Results.size()); }
  Value *result(unsigned I = 0) const { return Results[I].get(); }
  std::vector<Value *> results() const;

  const AttrMap &attrs() const { return Attrs; }
  const Attribute *attr(llvm::StringRef N) const;
  bool hasAttr(llvm::StringRef N) const { return attr(N) != nullptr; }
  int64_t getInt(llvm::StringRef N, int64_t Default) const;
  float getFloat(llvm::StringRef N, float Default) const;
  std::string getString(llvm::StringRef N, llvm::StringRef Default) const;
  std::vector<int64_t> getInts(llvm::StringRef N,
                               std::vector<int64_t> Default = {}) const;
  void setAttr(llvm::StringRef N, Attribute A);
  void removeAttr(llvm::StringRef N);
  /// The device this node runs on, when the graph is partitioned.
  std::optional<int64_t> device() const;

  Graph *graph() const { return Owner; }

private:
  friend class Graph;
  Node(Graph *Owner, std::string Op, std::string Name, AttrMap Attrs);

  Graph *Owner;
  std::string Op;
  const OpDef *Def;
  std::string Name;
  std::vector<Value *> Operands;
  std::vector<std::unique_ptr<Value>> Results;
  AttrMap Attrs;
  std::list<std::unique_ptr<Node>>::iterator Self;
};

class Graph {
public:
  explicit Graph(std::string Name = "main") : Name(std::move(Name)) {}
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  const std::string &name() const { return Name; }
  void setName(std::string N) { Name = std::move(N); }

  /// Attributes of the whole graph (e.g. the shape a partition was planned
  /// for); ops' attribute specs do not apply to them.
  const AttrMap &attrs() const { return Attrs; }
  AttrMap &attrs() { return Attrs; }

  /// Graph inputs; the name must be unique in the graph.
  Value *addInput(llvm::StringRef Name, TensorType Type);
  /// A constant owning `Data`; its type is the data's.
  Value *addConstant(llvm::StringRef Name, Tensor Data);
  /// A constant whose data was elided (printed with --elide-weights).
  Value *addElidedConstant(llvm::StringRef Name, TensorType Type);

  /// Creates a node before `Before` (at the end when null). Result names
  /// default to unique names derived from the op name.
  Node *createNode(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                   llvm::ArrayRef<TensorType> ResultTypes, AttrMap Attrs = {},
                   llvm::StringRef NodeName = "",
                   llvm::ArrayRef<std::string> ResultNames = {},
                   Node *Before = nullptr);
  /// Erases a node whose results have no uses and are no graph outputs.
  void eraseNode(Node *N);
  /// Erases a constant or input with no uses that is no graph output.
  void eraseValue(Value *V);

  llvm::ArrayRef<Value *> inputs() const { return Inputs; }
  llvm::ArrayRef<Value *> constants() const { return Constants; }
  llvm::ArrayRef<Value *> outputs() const { return Outputs; }
  void setOutputs(std::vector<Value *> Vs) { Outputs = std::move(Vs); }
  void setOutput(unsigned I, Value *V) { Outputs[I] = V; }
  bool isOutput(const Value *V) const;

  const std::list<std::unique_ptr<Node>> &nodes() const { return Nodes; }
  /// A snapshot of the nodes in order, safe to iterate while mutating.
  std::vector<Node *> nodeList() const;
  size_t numNodes() const { return Nodes.size(); }

  Value *lookup(llvm::StringRef Name) const { return ByName.lookup(Name); }
  /// `Base` if unused, else `Base_1`, `Base_2`, ...
  std::string uniqueName(llvm::StringRef Base) const;
  /// Renames a value (the new name must be unused).
  void rename(Value *V, llvm::StringRef NewName);

  /// Reorders nodes topologically (stable where possible). Returns false,
  /// leaving the order as it was, when the graph has a cycle.
  bool sortTopologically();

  /// A deep copy (constant data is shared, being immutable).
  std::unique_ptr<Graph> clone() const;

private:
  friend class Value;
  Value *newValue(llvm::StringRef Name, TensorType Type, ValueKind Kind);

  std::string Name;
  AttrMap Attrs;
  std::vector<std::unique_ptr<Value>> OwnedValues; // inputs and constants
  std::vector<Value *> Inputs;
  std::vector<Value *> Constants;
  std::vector<Value *> Outputs;
  std::list<std::unique_ptr<Node>> Nodes;
  llvm::StringMap<Value *> ByName;
};

} // namespace kiln

#endif
