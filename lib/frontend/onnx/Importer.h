//===- Importer.h - the ONNX importer's state -------------------*- C++ -*-===//
//
// Private to lib/frontend/onnx (it names protobuf types). One Importer turns
// one ModelProto into a Graph: OnnxImporter.cpp has the graph-level steps
// (opset, names, declared types, initializers, inputs, node order, outputs),
// OnnxNodes.cpp the per-node ones (attributes converted, older opset forms
// upgraded to the opset-21 signatures and checked against the op registry).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_IMPORTER_H
#define KILN_FRONTEND_ONNX_IMPORTER_H

#include "frontend/onnx/OnnxTypes.h"

#include "ir/Graph.h"
#include "ir/OpRegistry.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::onnx_import {

/// Prefixes `E`'s message, keeping it an UnsupportedError if it was one.
llvm::Error prefixError(llvm::Error E, const llvm::Twine &Prefix);

/// An ONNX node the way Node::describe() words a kiln node.
std::string describeOnnxNode(const onnx::NodeProto &N);

/// An ONNX node on its way into the graph: attributes converted and the
/// older opset forms upgraded to the opset-21 signature.
struct PendingNode {
  const onnx::NodeProto *Proto = nullptr;
  const OpDef *Def = nullptr;
  AttrMap Attrs;
  /// Input value names; empty for an absent optional input.
  std::vector<std::string> Inputs;
  /// Constants the upgrade introduced (name, data), e.g. a Reduce's axes.
  std::vector<std::pair<std::string, Tensor>> NewConstants;
};

class UnsupportedList;

class Importer {
public:
  Importer(onnx::ModelProto &Model, llvm::StringRef BaseDir)
      : Model(Model), Proto(*Model.mutable_graph()), BaseDir(BaseDir) {}

  llvm::Expected<std::unique_ptr<Graph>> run();

private:
  llvm::Error checkOpset();
  llvm::Error collectNames();
  llvm::Error collectDeclaredTypes();
  llvm::Error prepareNodes();
  llvm::Error prepareNode(const onnx::NodeProto &N, UnsupportedList &Missing);
  llvm::Expected<AttrMap> convertAttributes(const onnx::NodeProto &N,
                                            UnsupportedList &Missing);
  llvm::Error upgradeNode(PendingNode &P, UnsupportedList &Missing);
  llvm::Error checkAttributes(PendingNode &P, UnsupportedList &Missing);
  llvm::Error importInitializers();
  llvm::Error importInputs();
  llvm::Error importConstantNode(const onnx::NodeProto &N);
  llvm::Expected<std::vector<size_t>> sortNodes();
  llvm::Error buildNode(PendingNode &P);
  llvm::Expected<TensorType> mergeDeclared(llvm::StringRef Name,
                                           const TensorType &Type);
  llvm::Error importOutputs();
  std::string freshName(llvm::StringRef Base);

  onnx::ModelProto &Model;
  onnx::GraphProto &Proto;
  llvm::StringRef BaseDir;
  int64_t Opset = 0;
  std::unique_ptr<Graph> Out;
  /// Every value name the model uses, and those the importer made up.
  llvm::StringSet<> UsedNames;
  /// Producing node (index into Proto.node()) of each node output.
  llvm::StringMap<size_t> Producer;
  /// The types value_info and the graph outputs declare, by value name.
  llvm::StringMap<std::vector<DeclaredType>> Declared;
  /// Non-Constant nodes in model order.
  std::vector<PendingNode> Pending;
  std::vector<const onnx::NodeProto *> ConstantNodes;
  ShapeValueMap ShapeValues;
};

} // namespace kiln::onnx_import

#endif
