//===- OnnxImporter.cpp - ONNX models as kiln graphs ----------------------===//
//
// importOnnxFile and importOnnxBuffer, and the importer's graph-level steps:
// the opset, value names and declared types, initializers, inputs, Constant
// nodes, the node order, each node built and typed, and the outputs.
// OnnxNodes.cpp prepares each node first (Importer.h).
//
//===----------------------------------------------------------------------===//

#include "frontend/onnx/OnnxImporter.h"
#include "frontend/onnx/Importer.h"
#include "frontend/onnx/OnnxOpsets.h"
#include "frontend/onnx/OnnxTypes.h"

#include "ir/OpRegistry.h"
#include "ir/ShapeInference.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <climits>
#include <queue>

namespace kiln {

char UnsupportedError::ID;

void UnsupportedError::log(llvm::raw_ostream &OS) const { OS << Message; }

std::error_code UnsupportedError::convertToErrorCode() const {
  return llvm::inconvertibleErrorCode();
}

llvm::Error makeUnsupportedError(const llvm::Twine &Message) {
  return llvm::make_error<UnsupportedError>(Message.str());
}

bool isUnsupportedError(const llvm::Error &E) {
  return E.isA<UnsupportedError>();
}

} // namespace kiln

namespace kiln::onnx_import {

/// Prefixes `E`'s message, keeping it an UnsupportedError if it was one.
llvm::Error prefixError(llvm::Error E, const llvm::Twine &Prefix) {
  if (!E)
    return E;
  bool Unsupported = isUnsupportedError(E);
  std::string Message = (Prefix + llvm::toString(std::move(E))).str();
  return Unsupported ? makeUnsupportedError(Message) : makeError(Message);
}

/// An ONNX node the way Node::describe() words a kiln node.
std::string describeOnnxNode(const onnx::NodeProto &N) {
  std::string S = "'" + N.op_type() + "' node ";
  if (!N.name().empty())
    return S + quoteString(N.name());
  for (const std::string &Out : N.output())
    if (!Out.empty())
      return S + "producing %" + Out;
  return S + "(unnamed)";
}

namespace {

/// An op's Verify or Infer error, named after the node (once) and made an
/// UnsupportedError when its cause starts with "unsupported", as the op
/// registry's convention has it.
llvm::Error nodeError(const Node &N, llvm::Error E) {
  std::string Message = llvm::toString(std::move(E));
  std::string Prefix = N.describe() + ": ";
  llvm::StringRef Cause(Message);
  bool Named = Cause.consume_front(Prefix);
  bool Unsupported = Cause.starts_with("unsupported");
  std::string Full = Named ? Message : Prefix + Message;
  return Unsupported ? makeUnsupportedError(Full) : makeError(Full);
}

} // namespace

llvm::Expected<std::unique_ptr<Graph>> Importer::run() {
  Out = std::make_unique<Graph>(Proto.name().empty() ? "main" : Proto.name());
  if (llvm::Error E = checkOpset())
    return std::move(E);
  if (llvm::Error E = collectNames())
    return std::move(E);
  // Unsupported ops are found before any weight is read.
  if (llvm::Error E = prepareNodes())
    return std::move(E);
  if (llvm::Error E = collectDeclaredTypes())
    return std::move(E);
  if (llvm::Error E = importInitializers())
    return std::move(E);
  if (llvm::Error E = importInputs())
    return std::move(E);
  for (const onnx::NodeProto *N : ConstantNodes)
    if (llvm::Error E = importConstantNode(*N))
      return std::move(E);
  for (PendingNode &P : Pending)
    for (auto &[Name, Data] : P.NewConstants)
      Out->addConstant(Name, std::move(Data));
  collectConstantShapeValues(*Out, ShapeValues);

  auto Order = sortNodes();
  if (!Order)
    return Order.takeError();
  for (size_t I : *Order)
    if (llvm::Error E = buildNode(Pending[I]))
      return std::move(E);
  if (llvm::Error E = importOutputs())
    return std::move(E);
  return std::move(Out);
}

llvm::Error Importer::checkOpset() {
  std::optional<int64_t> Version;
  for (const onnx::OperatorSetIdProto &O : Model.opset_import())
    if (O.domain().empty() || O.domain() == "ai.onnx")
      Version = O.version();
  bool UsesDefaultDomain = llvm::any_of(Proto.node(), [](const auto &N) {
    return N.domain().empty() || N.domain() == "ai.onnx";
  });
  if (!Version) {
    if (UsesDefaultDomain)
      return makeUnsupportedError(
          "the model imports no default-domain (ai.onnx) opset; kiln imports "
          "opsets " +
          llvm::Twine(OldestOpset) + " to " + llvm::Twine(NewestOpset));
    Version = NewestOpset;
  }
  if (*Version < OldestOpset || *Version > NewestOpset)
    return makeUnsupportedError(
        "the model imports ai.onnx opset " + llvm::Twine(*Version) +
        "; kiln imports opsets " + llvm::Twine(OldestOpset) + " to " +
        llvm::Twine(NewestOpset));
  Opset = *Version;
  return llvm::Error::success();
}

llvm::Error Importer::collectNames() {
  llvm::StringMap<std::string> DefinedBy;
  auto Define = [&](const std::string &Name,
                    const llvm::Twine &What) -> llvm::Error {
    if (Name.empty())
      return makeError(What + " has an empty name");
    auto [It, Inserted] = DefinedBy.try_emplace(Name, What.str());
    if (!Inserted)
      return makeError("value '" + Name + "' is defined twice: by " +
                       It->second + " and by " + What);
    UsedNames.insert(Name);
    return llvm::Error::success();
  };
  llvm::StringSet<> Initializers;
  for (const onnx::TensorProto &T : Proto.initializer()) {
    if (llvm::Error E = Define(T.name(), "an initializer"))
      return E;
    Initializers.insert(T.name());
  }
  if (Proto.sparse_initializer_size())
    return makeUnsupportedError("sparse initializer '" +
                                Proto.sparse_initializer(0).values().name() +
                                "': kiln supports only dense tensors");
  for (const onnx::ValueInfoProto &In : Proto.input()) {
    // An initializer listed as an input too is a constant (see the header).
    if (Initializers.contains(In.name()))
      continue;
    if (llvm::Error E = Define(In.name(), "a graph input"))
      return E;
  }
  for (size_t I = 0; I < size_t(Proto.node_size()); ++I) {
    const onnx::NodeProto &N = Proto.node(int(I));
    if (N.op_type().empty())
      return makeError("node " + llvm::Twine(I) + " (" + quoteString(N.name()) +
                       ") has no op type");
    for (const std::string &Name : N.output()) {
      if (Name.empty())
        continue; // an absent optional output
      if (llvm::Error E = Define(Name, describeOnnxNode(N)))
        return E;
      Producer[Name] = I;
    }
  }
  for (const onnx::ValueInfoProto &O : Proto.output())
    if (O.name().empty())
      return makeError("a graph output has an empty name");
  return llvm::Error::success();
}

llvm::Error Importer::collectDeclaredTypes() {
  for (const onnx::ValueInfoProto &Info : Proto.value_info()) {
    auto Decl = convertValueInfo(Info, "value '" + Info.name() + "'");
    if (!Decl)
      return Decl.takeError();
    Declared[Info.name()].push_back(std::move(*Decl));
  }
  for (const onnx::ValueInfoProto &Info : Proto.output()) {
    auto Decl = convertValueInfo(Info, "graph output '" + Info.name() + "'");
    if (!Decl)
      return Decl.takeError();
    Declared[Info.name()].push_back(std::move(*Decl));
  }
  return llvm::Error::success();
}

llvm::Error Importer::importInitializers() {
  for (onnx::TensorProto &T : *Proto.mutable_initializer()) {
    auto Data = convertTensor(T, BaseDir, "initializer '" + T.name() + "'");
    if (!Data)
      return Data.takeError();
    // The model's copy of the weights is no longer needed.
    T.clear_raw_data();
    Out->addConstant(T.name(), std::move(*Data));
  }
  return llvm::Error::success();
}

llvm::Error Importer::importInputs() {
  for (const onnx::ValueInfoProto &In : Proto.input()) {
    std::string What = "graph input '" + In.name() + "'";
    auto Decl = convertValueInfo(In, What);
    if (!Decl)
      return Decl.takeError();
    if (Value *C = Out->lookup(In.name())) {
      // An initializer listed as an input: its declared type must fit.
      TensorType Want(Decl->Elem.value_or(C->dtype()),
                      Decl->Dims.value_or(C->type().Dims));
      if (auto M = mergeTypes(C->type(), Want); !M)
        return prefixError(M.takeError(), What + " (an initializer): ");
      continue;
    }
    if (!Decl->Elem)
      return makeError(What + " has no element type");
    if (!Decl->Dims)
      return makeUnsupportedError(What + " has no shape; kiln needs the rank "
                                         "of every input");
    Out->addInput(In.name(), Decl->type());
  }
  return llvm::Error::success();
}

llvm::Error Importer::importConstantNode(const onnx::NodeProto &N) {
  std::string Desc = describeOnnxNode(N);
  if (N.input_size() != 0 || N.output_size() != 1 || N.output(0).empty())
    return makeError(Desc + ": takes no inputs and has one output");
  if (N.attribute_size() != 1)
    return makeError(Desc + ": has " + llvm::Twine(N.attribute_size()) +
                     " attributes, expected exactly one value");
  const onnx::AttributeProto &A = N.attribute(0);
  using AP = onnx::AttributeProto;
  auto Expect = [&](AP::AttributeType Type) -> llvm::Error {
    if (A.type() == Type)
      return llvm::Error::success();
    return makeError(Desc + ": attribute '" + A.name() +
                     "' has the wrong type");
  };
  std::optional<Tensor> Data;
  const std::string &Name = A.name();
  if (Name == "value") {
    if (llvm::Error E = Expect(AP::TENSOR))
      return E;
    auto T = convertTensor(A.t(), BaseDir, Desc + ": attribute 'value'");
    if (!T)
      return T.takeError();
    Data = std::move(*T);
  } else if (Name == "value_float") {
    if (llvm::Error E = Expect(AP::FLOAT))
      return E;
    Data = Tensor::fromDoubles(DType::F32, {}, {double(A.f())});
  } else if (Name == "value_floats") {
    if (llvm::Error E = Expect(AP::FLOATS))
      return E;
    std::vector<double> Values(A.floats().begin(), A.floats().end());
    int64_t Count = int64_t(Values.size());
    Data = Tensor::fromDoubles(DType::F32, {Count}, Values);
  } else if (Name == "value_int") {
    if (llvm::Error E = Expect(AP::INT))
      return E;
    Data = Tensor::scalarInt(DType::I64, A.i());
  } else if (Name == "value_ints") {
    if (llvm::Error E = Expect(AP::INTS))
      return E;
    std::vector<int64_t> Values(A.ints().begin(), A.ints().end());
    int64_t Count = int64_t(Values.size());
    Data = Tensor::fromInts(DType::I64, {Count}, Values);
  } else if (Name == "value_string" || Name == "value_strings" ||
             Name == "sparse_value") {
    return makeUnsupportedError(Desc + ": a constant '" + Name +
                                "' is not supported");
  } else {
    return makeError(Desc + ": unknown attribute '" + Name + "'");
  }
  Out->addConstant(N.output(0), std::move(*Data));
  return llvm::Error::success();
}

llvm::Expected<std::vector<size_t>> Importer::sortNodes() {
  // Kahn's algorithm over the non-Constant nodes, taking ready nodes in
  // model order so that a sorted model keeps its order.
  llvm::DenseMap<const onnx::NodeProto *, size_t> Index;
  for (size_t I = 0; I < Pending.size(); ++I)
    Index[Pending[I].Proto] = I;
  std::vector<unsigned> Waiting(Pending.size(), 0);
  std::vector<std::vector<size_t>> Consumers(Pending.size());
  for (size_t I = 0; I < Pending.size(); ++I) {
    for (const std::string &Name : Pending[I].Inputs) {
      if (Name.empty() || Out->lookup(Name))
        continue;
      auto It = Producer.find(Name);
      if (It == Producer.end())
        return makeError(describeOnnxNode(*Pending[I].Proto) + ": input '" +
                         Name +
                         "' is not produced by any node, initializer "
                         "or graph input");
      size_t From = Index.lookup(&Proto.node(int(It->second)));
      Consumers[From].push_back(I);
      ++Waiting[I];
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> Ready;
  for (size_t I = 0; I < Pending.size(); ++I)
    if (Waiting[I] == 0)
      Ready.push(I);
  std::vector<size_t> Order;
  while (!Ready.empty()) {
    size_t I = Ready.top();
    Ready.pop();
    Order.push_back(I);
    for (size_t C : Consumers[I])
      if (--Waiting[C] == 0)
        Ready.push(C);
  }
  if (Order.size() == Pending.size())
    return Order;
  std::vector<std::string> Stuck;
  for (size_t I = 0; I < Pending.size() && Stuck.size() < 3; ++I)
    if (Waiting[I] != 0)
      Stuck.push_back(describeOnnxNode(*Pending[I].Proto));
  return makeError("the graph has a cycle; it involves " +
                   llvm::join(Stuck, ", "));
}

llvm::Expected<TensorType> Importer::mergeDeclared(llvm::StringRef Name,
                                                   const TensorType &Type) {
  auto It = Declared.find(Name);
  if (It == Declared.end())
    return Type;
  TensorType Merged = Type;
  for (const DeclaredType &D : It->second) {
    if (D.Elem && *D.Elem != Merged.Elem)
      return makeError("element type " + dtypeName(Merged.Elem) +
                       " does not match the declared " + dtypeName(*D.Elem));
    if (!D.Dims)
      continue;
    auto M = mergeTypes(Merged, TensorType(Merged.Elem, *D.Dims));
    if (!M)
      return M.takeError();
    Merged = std::move(*M);
  }
  return Merged;
}

llvm::Error Importer::buildNode(PendingNode &P) {
  const onnx::NodeProto &N = *P.Proto;
  const OpDef &Def = *P.Def;
  std::string Desc = describeOnnxNode(N);

  std::vector<Value *> Operands;
  for (const std::string &Name : P.Inputs)
    Operands.push_back(Name.empty() ? nullptr : Out->lookup(Name));
  while (!Operands.empty() && !Operands.back())
    Operands.pop_back();
  std::vector<std::string> Names(N.output().begin(), N.output().end());
  while (!Names.empty() && Names.back().empty())
    Names.pop_back();
  for (std::string &Name : Names)
    if (Name.empty())
      Name = freshName(N.op_type() + "_unused");

  auto CheckCount = [&](size_t Count, unsigned Min, unsigned Max,
                        llvm::StringRef What) -> llvm::Error {
    if (Count >= Min && Count <= Max)
      return llvm::Error::success();
    std::string Range =
        Max == Variadic ? std::to_string(Min) + " or more"
        : Min == Max    ? std::to_string(Min)
                        : std::to_string(Min) + " to " + std::to_string(Max);
    return makeError(Desc + ": takes " + Range + " " + What +
                     (Range == "1" ? "" : "s") + ", has " +
                     llvm::Twine(uint64_t(Count)));
  };
  if (llvm::Error E =
          CheckCount(Operands.size(), Def.MinInputs, Def.MaxInputs, "input"))
    return E;
  if (llvm::Error E =
          CheckCount(Names.size(), Def.MinOutputs, Def.MaxOutputs, "output"))
    return E;
  for (unsigned I = 0; I < Def.MinInputs; ++I)
    if (!Operands[I])
      return makeError(Desc + ": input " + llvm::Twine(I) +
                       " is required but absent");
  for (const AttrSpec &Spec : Def.Attrs)
    if (Spec.Required && !P.Attrs.count(Spec.Name))
      return makeError(Desc + ": missing required attribute '" + Spec.Name +
                       "'");

  // A result starts with a type no inference or model gives, so that a type
  // left open by both is caught below.
  const TensorType Uninferred(DType::F32, {Dim::symbol("\x01uninferred")});
  std::vector<TensorType> Types(Names.size(), Uninferred);
  Node *Created = Out->createNode(N.op_type(), Operands, Types,
                                  std::move(P.Attrs), N.name(), Names);
  if (Def.Verify)
    if (llvm::Error E = Def.Verify(*Created))
      return nodeError(*Created, std::move(E));
  auto Inferred = inferNodeTypes(*Created, ShapeValues);
  if (!Inferred)
    return nodeError(*Created, Inferred.takeError());
  for (unsigned I = 0; I < Created->numResults(); ++I) {
    Value *R = Created->result(I);
    TensorType Type = (*Inferred)[I];
    if (Type == Uninferred) {
      const DeclaredType *Complete = nullptr;
      auto It = Declared.find(R->name());
      if (It != Declared.end())
        for (const DeclaredType &D : It->second)
          if (D.isComplete() && !Complete)
            Complete = &D;
      if (!Complete)
        return makeError(Desc + ": the type of result %" + R->name() +
                         " cannot be inferred and the model declares none");
      Type = Complete->type();
    }
    auto Merged = mergeDeclared(R->name(), Type);
    if (!Merged)
      return prefixError(Merged.takeError(),
                         Desc + ": result %" + R->name() + ": ");
    R->setType(std::move(*Merged));
  }
  return llvm::Error::success();
}

llvm::Error Importer::importOutputs() {
  std::vector<Value *> Outputs;
  for (const onnx::ValueInfoProto &O : Proto.output()) {
    Value *V = Out->lookup(O.name());
    if (!V)
      return makeError("graph output '" + O.name() +
                       "' is not produced by any node, initializer or input");
    // Node results were merged with the declarations when they were built.
    if (V->kind() != ValueKind::Result)
      if (auto M = mergeDeclared(V->name(), V->type()); !M)
        return prefixError(M.takeError(), "graph output '" + O.name() + "': ");
    Outputs.push_back(V);
  }
  Out->setOutputs(std::move(Outputs));
  return llvm::Error::success();
}

std::string Importer::freshName(llvm::StringRef Base) {
  std::string Name = Base.str();
  for (unsigned I = 1; UsedNames.count(Name) || Out->lookup(Name); ++I)
    Name = (Base + "_" + llvm::Twine(I)).str();
  UsedNames.insert(Name);
  return Name;
}

} // namespace kiln::onnx_import

namespace kiln {

using onnx_import::Importer;

llvm::Expected<std::unique_ptr<Graph>> importOnnxBuffer(llvm::StringRef Bytes,
                                                        llvm::StringRef BaseDir,
                                                        llvm::StringRef Name) {
  if (Bytes.size() > size_t(INT_MAX))
    return makeError(Name + ": the model is larger than 2 GiB, which "
                            "protobuf cannot read; store its weights as "
                            "external data");
  onnx::ModelProto Model;
  if (!Model.ParseFromArray(Bytes.data(), int(Bytes.size())))
    return makeError(Name + ": not a valid ONNX model (the protobuf is "
                            "malformed or truncated)");
  if (!Model.has_graph())
    return makeError(Name + ": the ONNX model has no graph");
  Importer I(Model, BaseDir);
  return I.run();
}

llvm::Expected<std::unique_ptr<Graph>> importOnnxFile(llvm::StringRef Path) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!Buffer)
    return makeError("cannot read '" + Path +
                     "': " + Buffer.getError().message());
  llvm::StringRef Dir = llvm::sys::path::parent_path(Path);
  return importOnnxBuffer((*Buffer)->getBuffer(), Dir.empty() ? "." : Dir,
                          Path);
}

llvm::Expected<Tensor> readTensorProtoFile(llvm::StringRef Path) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!Buffer)
    return makeError("cannot read '" + Path +
                     "': " + Buffer.getError().message());
  llvm::StringRef Bytes = (*Buffer)->getBuffer();
  onnx::TensorProto Proto;
  if (Bytes.size() > size_t(INT_MAX) ||
      !Proto.ParseFromArray(Bytes.data(), int(Bytes.size())))
    return makeError(Path + ": not a valid ONNX TensorProto");
  llvm::StringRef Dir = llvm::sys::path::parent_path(Path);
  return onnx_import::convertTensor(Proto, Dir.empty() ? "." : Dir,
                                    "tensor in '" + Path + "'");
}

} // namespace kiln
