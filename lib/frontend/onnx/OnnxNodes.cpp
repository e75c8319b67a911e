//===- OnnxNodes.cpp - each ONNX node on its way into the graph -----------===//
//
// The importer's per-node steps: attributes converted to kiln's, the older
// opset forms upgraded to the opset-21 signatures, and the result checked
// against the op registry. What kiln does not implement is gathered into one
// UnsupportedError naming every op and node.
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/Importer.h"
#include "frontend/onnx/OnnxImporter.h"
#include "frontend/onnx/OnnxOpsets.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <map>

namespace kiln::onnx_import {

namespace {

/// How the unsupported-ops message points at a node: its name, else the
/// value it produces.
std::string nodeReference(const onnx::NodeProto &N) {
  if (!N.name().empty())
    return quoteString(N.name());
  for (const std::string &Out : N.output())
    if (!Out.empty())
      return "producing %" + Out;
  return "(unnamed)";
}

/// Reductions that took `axes` as an attribute before opset 18 (ReduceSum
/// already takes it as an input from opset 13).
bool tookAxesAttribute(llvm::StringRef Op) {
  return llvm::is_contained({"ReduceL1", "ReduceL2", "ReduceLogSum",
                             "ReduceLogSumExp", "ReduceMax", "ReduceMean",
                             "ReduceMin", "ReduceProd", "ReduceSumSquare"},
                            Op);
}

bool isListKind(AttrKind K) {
  return K == AttrKind::Ints || K == AttrKind::Floats || K == AttrKind::Strings;
}

bool isEmptyList(const Attribute &A) {
  switch (A.kind()) {
  case AttrKind::Ints: return A.getInts().empty();
  case AttrKind::Floats: return A.getFloats().empty();
  case AttrKind::Strings: return A.getStrings().empty();
  default: return false;
  }
}

Attribute emptyList(AttrKind K) {
  switch (K) {
  case AttrKind::Floats: return Attribute(std::vector<float>());
  case AttrKind::Strings: return Attribute(std::vector<std::string>());
  default: return Attribute(std::vector<int64_t>());
  }
}

/// One attribute as kiln's; an UnsupportedError for graphs, sparse tensors,
/// tensor lists and type protos.
llvm::Expected<Attribute> convertAttribute(const onnx::AttributeProto &A,
                                           llvm::StringRef BaseDir,
                                           const llvm::Twine &What) {
  using AP = onnx::AttributeProto;
  if (!A.ref_attr_name().empty())
    return makeError(What + " refers to a function attribute outside a "
                            "function");
  switch (A.type()) {
  case AP::FLOAT: return Attribute(A.f());
  case AP::INT: return Attribute(int64_t(A.i()));
  case AP::STRING: return Attribute(A.s());
  case AP::FLOATS:
    return Attribute(std::vector<float>(A.floats().begin(), A.floats().end()));
  case AP::INTS:
    return Attribute(std::vector<int64_t>(A.ints().begin(), A.ints().end()));
  case AP::STRINGS:
    return Attribute(
        std::vector<std::string>(A.strings().begin(), A.strings().end()));
  case AP::TENSOR: {
    auto T = convertTensor(A.t(), BaseDir, What);
    if (!T)
      return T.takeError();
    return Attribute(std::move(*T));
  }
  case AP::GRAPH:
  case AP::GRAPHS:
    return makeUnsupportedError(What + " is a subgraph, which kiln does not "
                                       "support");
  case AP::SPARSE_TENSOR:
  case AP::SPARSE_TENSORS:
  case AP::TENSORS:
  case AP::TYPE_PROTO:
  case AP::TYPE_PROTOS:
    return makeUnsupportedError(What + " is of a kind kiln does not support");
  case AP::UNDEFINED: break;
  }
  return makeError(What + " has no type");
}

} // namespace

/// The unsupported parts of a model, gathered so that one message names
/// them all.
class UnsupportedList {
public:
  void addOp(std::string OpLabel, const onnx::NodeProto &N) {
    Ops[OpLabel].push_back(nodeReference(N));
  }
  void addIssue(std::string Issue) { Issues.push_back(std::move(Issue)); }
  bool empty() const { return Ops.empty() && Issues.empty(); }

  llvm::Error takeError() const {
    std::vector<std::string> Parts;
    if (!Ops.empty()) {
      std::string S = "unsupported ONNX ops: ";
      bool First = true;
      for (const auto &[Label, Nodes] : Ops) {
        if (!First)
          S += ", ";
        First = false;
        S += Label + (Nodes.size() == 1 ? " (node " : " (nodes ");
        constexpr size_t Shown = 3;
        for (size_t I = 0; I < Nodes.size() && I < Shown; ++I)
          S += (I ? ", " : "") + Nodes[I];
        if (Nodes.size() > Shown)
          S += " and " + std::to_string(Nodes.size() - Shown) + " more";
        S += ")";
      }
      Parts.push_back(std::move(S));
    }
    Parts.insert(Parts.end(), Issues.begin(), Issues.end());
    return makeUnsupportedError(llvm::join(Parts, "; "));
  }

private:
  llvm::MapVector<std::string, std::vector<std::string>,
                  std::map<std::string, unsigned>>
      Ops;
  std::vector<std::string> Issues;
};

llvm::Error Importer::prepareNodes() {
  UnsupportedList Missing;
  for (const onnx::NodeProto &N : Proto.node())
    if (llvm::Error E = prepareNode(N, Missing))
      return E;
  if (!Missing.empty())
    return Missing.takeError();
  return llvm::Error::success();
}

llvm::Error Importer::prepareNode(const onnx::NodeProto &N,
                                  UnsupportedList &Missing) {
  const std::string &Op = N.op_type();
  if (!N.domain().empty() && N.domain() != "ai.onnx") {
    std::string Label = "'" + Op + "' from domain '" + N.domain() + "'";
    for (const onnx::OperatorSetIdProto &O : Model.opset_import())
      if (O.domain() == N.domain())
        Label += " version " + std::to_string(O.version());
    Missing.addOp(std::move(Label), N);
    return llvm::Error::success();
  }
  std::optional<int64_t> Since = onnxOpSince(Op);
  if (Since && *Since > Opset)
    return makeError(describeOnnxNode(N) + ": " + Op + " exists from opset " +
                     llvm::Twine(*Since) + " on, but the model imports opset " +
                     llvm::Twine(Opset));
  if (Op == "Constant") {
    ConstantNodes.push_back(&N);
    return llvm::Error::success();
  }
  // Ops added after opset 21 are no kiln ops even where kiln has an op of
  // the same name (kiln's fused Attention is not ONNX's).
  const OpDef *Def = Since && *Since <= IROpset ? lookupOp(Op) : nullptr;
  if (!Def) {
    Missing.addOp("'" + Op + "'", N);
    return llvm::Error::success();
  }
  PendingNode P;
  P.Proto = &N;
  P.Def = Def;
  P.Inputs.assign(N.input().begin(), N.input().end());
  auto Attrs = convertAttributes(N, Missing);
  if (!Attrs)
    return Attrs.takeError();
  P.Attrs = std::move(*Attrs);
  if (llvm::Error E = upgradeNode(P, Missing))
    return E;
  if (llvm::Error E = checkAttributes(P, Missing))
    return E;
  Pending.push_back(std::move(P));
  return llvm::Error::success();
}

llvm::Expected<AttrMap> Importer::convertAttributes(const onnx::NodeProto &N,
                                                    UnsupportedList &Missing) {
  AttrMap Attrs;
  std::string Desc = describeOnnxNode(N);
  for (const onnx::AttributeProto &A : N.attribute()) {
    if (A.name().empty())
      return makeError(Desc + " has an attribute without a name");
    if (Attrs.count(A.name()))
      return makeError(Desc + " has attribute '" + A.name() + "' twice");
    auto Value =
        convertAttribute(A, BaseDir, Desc + ": attribute '" + A.name() + "'");
    if (!Value) {
      llvm::Error E = Value.takeError();
      if (!isUnsupportedError(E))
        return std::move(E);
      Missing.addIssue(llvm::toString(std::move(E)));
      continue;
    }
    Attrs.emplace(A.name(), std::move(*Value));
  }
  return Attrs;
}

llvm::Error Importer::upgradeNode(PendingNode &P, UnsupportedList &Missing) {
  const onnx::NodeProto &N = *P.Proto;
  llvm::StringRef Op = N.op_type();
  std::string Desc = describeOnnxNode(N);
  auto Axes = P.Attrs.find("axes");
  if (Opset < 18 && tookAxesAttribute(Op) && Axes != P.Attrs.end()) {
    if (Axes->second.kind() != AttrKind::Ints)
      return makeError(Desc + ": attribute 'axes' must be a list of ints");
    if (P.Inputs.size() != 1)
      return makeError(Desc + ": takes one input at opset " +
                       llvm::Twine(Opset) + ", has " +
                       llvm::Twine(P.Inputs.size()));
    std::vector<int64_t> Values = Axes->second.getInts();
    P.Attrs.erase(Axes);
    // An empty list meant "reduce all", which is no axes input now.
    if (!Values.empty()) {
      std::string Name = freshName(N.output_size() && !N.output(0).empty()
                                       ? N.output(0) + "_axes"
                                       : std::string("axes"));
      int64_t Count = int64_t(Values.size());
      P.NewConstants.emplace_back(
          Name, Tensor::fromInts(DType::I64, {Count}, Values));
      P.Inputs.push_back(Name);
    }
  }
  if (Opset < 18 && Op == "Split" &&
      (P.Inputs.size() < 2 || P.Inputs[1].empty()) &&
      !P.Attrs.count("num_outputs"))
    P.Attrs.emplace("num_outputs", Attribute(int64_t(N.output_size())));
  if (Opset < 21 && Op == "GroupNormalization")
    Missing.addIssue(Desc + ": GroupNormalization before opset 21 (scale and "
                            "bias per group) is unsupported");
  return llvm::Error::success();
}

llvm::Error Importer::checkAttributes(PendingNode &P,
                                      UnsupportedList &Missing) {
  std::string Desc = describeOnnxNode(*P.Proto);
  for (auto &[Name, A] : P.Attrs) {
    const AttrSpec *Spec = P.Def->findAttr(Name);
    if (!Spec) {
      Missing.addIssue(Desc + " has unsupported attribute '" + Name + "'");
      continue;
    }
    if (A.kind() == Spec->Kind)
      continue;
    // dtype-valued attributes are dtype names in kiln.
    if (A.kind() == AttrKind::Int && Spec->Kind == AttrKind::String) {
      int64_t Code = A.getInt();
      auto Elem =
          convertDType(Code >= 0 && Code <= INT32_MAX ? int32_t(Code) : -1,
                       Desc + ": attribute '" + Name + "'");
      if (!Elem) {
        llvm::Error E = Elem.takeError();
        if (!isUnsupportedError(E))
          return E;
        Missing.addIssue(llvm::toString(std::move(E)));
        continue;
      }
      A = Attribute(dtypeName(*Elem).str());
      continue;
    }
    // An empty list carries no element kind worth refusing.
    if (isEmptyList(A) && isListKind(Spec->Kind)) {
      A = emptyList(Spec->Kind);
      continue;
    }
    return makeError(Desc + ": attribute '" + Name + "' is " +
                     attrKindName(A.kind()) + ", expected " +
                     attrKindName(Spec->Kind));
  }
  return llvm::Error::success();
}

} // namespace kiln::onnx_import
