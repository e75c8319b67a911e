#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>
#include <cassert>

namespace kiln {

//===----------------------------------------------------------------------===//
// Value
//===----------------------------------------------------------------------===//

void Value::setConstantData(Tensor T) {
  assert(isConstant() && "only constants hold data");
  Type = T.type();
  Data = std::move(T);
}

void Value::replaceAllUsesWith(Value *New) {
  assert(New != this && "replacing a value with itself");
  std::vector<Use> Old = Uses;
  for (const Use &U : Old)
    U.User->setOperand(U.OperandIndex, New);
  if (!Owner->isOutput(this))
    return;
  // Graph outputs are the graph's interface: the replacement takes over the
  // name (unless it is an input or already an output, whose names are part
  // of the interface too).
  if (!New->isInput() && !Owner->isOutput(New)) {
    std::string Mine = Name, Theirs = New->Name;
    Owner->ByName.erase(Mine);
    Owner->ByName.erase(Theirs);
    Name = Theirs;
    New->Name = Mine;
    Owner->ByName[Name] = this;
    Owner->ByName[New->Name] = New;
  }
  for (size_t I = 0; I < Owner->Outputs.size(); ++I)
    if (Owner->Outputs[I] == this)
      Owner->Outputs[I] = New;
}

void Value::removeUse(Node *User, unsigned OperandIndex) {
  auto It = std::find_if(Uses.begin(), Uses.end(), [&](const Use &U) {
    return U.User == User && U.OperandIndex == OperandIndex;
  });
  assert(It != Uses.end() && "use list out of sync");
  Uses.erase(It);
}

//===----------------------------------------------------------------------===//
// Node
//===----------------------------------------------------------------------===//

Node::Node(Graph *Owner, std::string Op, std::string Name, AttrMap Attrs)
    : Owner(Owner), Op(std::move(Op)), Def(lookupOp(this->Op)),
      Name(std::move(Name)), Attrs(std::move(Attrs)) {}

std::string Node::describe() const {
  std::string S = "'" + Op + "' node ";
  if (!Name.empty())
    return S + quoteString(Name);
  if (!Results.empty())
    return S + "producing %" + Results[0]->name();
  return S + "(unnamed)";
}

void Node::setOperand(unsigned I, Value *V) {
  assert(I < Operands.size());
  if (Operands[I])
    Operands[I]->removeUse(this, I);
  Operands[I] = V;
  if (V)
    V->Uses.push_back({this, I});
}

void Node::setOperands(llvm::ArrayRef<Value *> Vs) {
  for (unsigned I = 0; I < Operands.size(); ++I)
    if (Operands[I])
      Operands[I]->removeUse(this, I);
  Operands.assign(Vs.begin(), Vs.end());
  for (unsigned I = 0; I < Operands.size(); ++I)
    if (Operands[I])
      Operands[I]->Uses.push_back({this, I});
}

std::vector<Value *> Node::results() const {
  std::vector<Value *> Out;
  for (const auto &R : Results)
    Out.push_back(R.get());
  return Out;
}

const Attribute *Node::attr(llvm::StringRef N) const {
  auto It = Attrs.find(N);
  return It == Attrs.end() ? nullptr : &It->second;
}

int64_t Node::getInt(llvm::StringRef N, int64_t Default) const {
  const Attribute *A = attr(N);
  return A && A->kind() == AttrKind::Int ? A->getInt() : Default;
}

float Node::getFloat(llvm::StringRef N, float Default) const {
  const Attribute *A = attr(N);
  return A && A->kind() == AttrKind::Float ? A->getFloat() : Default;
}

std::string Node::getString(llvm::StringRef N, llvm::StringRef Default) const {
  const Attribute *A = attr(N);
  return A && A->kind() == AttrKind::String ? A->getString() : Default.str();
}

std::vector<int64_t> Node::getInts(llvm::StringRef N,
                                   std::vector<int64_t> Default) const {
  const Attribute *A = attr(N);
  return A && A->kind() == AttrKind::Ints ? A->getInts() : Default;
}

std::optional<int64_t> Node::device() const {
  const Attribute *A = attr(DeviceAttr);
  if (!A || A->kind() != AttrKind::Int)
    return std::nullopt;
  return A->getInt();
}

void Node::setAttr(llvm::StringRef N, Attribute A) {
  Attrs.insert_or_assign(N.str(), std::move(A));
}

void Node::removeAttr(llvm::StringRef N) {
  auto It = Attrs.find(N);
  if (It != Attrs.end())
    Attrs.erase(It);
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

Value *Graph::newValue(llvm::StringRef Name, TensorType Type, ValueKind Kind) {
  assert(!ByName.count(Name) && "value name already used");
  OwnedValues.push_back(std::unique_ptr<Value>(
      new Value(this, Name.str(), std::move(Type), Kind)));
  Value *V = OwnedValues.back().get();
  ByName[Name] = V;
  return V;
}

Value *Graph::addInput(llvm::StringRef Name, TensorType Type) {
  Value *V = newValue(Name, std::move(Type), ValueKind::Input);
  Inputs.push_back(V);
  return V;
}

Value *Graph::addConstant(llvm::StringRef Name, Tensor Data) {
  Value *V = newValue(Name, Data.type(), ValueKind::Constant);
  V->Data = std::move(Data);
  Constants.push_back(V);
  return V;
}

Value *Graph::addElidedConstant(llvm::StringRef Name, TensorType Type) {
  Value *V = newValue(Name, std::move(Type), ValueKind::Constant);
  Constants.push_back(V);
  return V;
}

Node *Graph::createNode(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                        llvm::ArrayRef<TensorType> ResultTypes, AttrMap Attrs,
                        llvm::StringRef NodeName,
                        llvm::ArrayRef<std::string> ResultNames, Node *Before) {
  assert((ResultNames.empty() || ResultNames.size() == ResultTypes.size()) &&
         "one name per result");
  auto Owned = std::unique_ptr<Node>(
      new Node(this, Op.str(), NodeName.str(), std::move(Attrs)));
  Node *N = Owned.get();
  auto Pos = Before ? Before->Self : Nodes.end();
  N->Self = Nodes.insert(Pos, std::move(Owned));
  N->Operands.assign(Operands.size(), nullptr);
  for (unsigned I = 0; I < Operands.size(); ++I)
    N->setOperand(I, Operands[I]);
  for (unsigned I = 0; I < ResultTypes.size(); ++I) {
    std::string Name = ResultNames.empty() || ResultNames[I].empty()
                           ? uniqueName(Op)
                           : ResultNames[I];
    assert(!ByName.count(Name) && "value name already used");
    auto R = std::unique_ptr<Value>(
        new Value(this, Name, ResultTypes[I], ValueKind::Result));
    R->Def = N;
    R->ResultIndex = I;
    ByName[Name] = R.get();
    N->Results.push_back(std::move(R));
  }
  return N;
}

void Graph::eraseNode(Node *N) {
  for (const auto &R : N->Results) {
    assert(!R->hasUses() && !isOutput(R.get()) && "erasing a used node");
    ByName.erase(R->name());
  }
  for (unsigned I = 0; I < N->Operands.size(); ++I)
    if (N->Operands[I])
      N->Operands[I]->removeUse(N, I);
  Nodes.erase(N->Self);
}

void Graph::eraseValue(Value *V) {
  assert(!V->hasUses() && !isOutput(V) && V->kind() != ValueKind::Result &&
         "erasing a used value or a node result");
  auto &List = V->isInput() ? Inputs : Constants;
  List.erase(std::find(List.begin(), List.end(), V));
  ByName.erase(V->name());
  OwnedValues.erase(std::find_if(
      OwnedValues.begin(), OwnedValues.end(),
      [&](const std::unique_ptr<Value> &P) { return P.get() == V; }));
}

bool Graph::isOutput(const Value *V) const {
  return std::find(Outputs.begin(), Outputs.end(), V) != Outputs.end();
}

std::vector<Node *> Graph::nodeList() const {
  std::vector<Node *> Out;
  Out.reserve(Nodes.size());
  for (const auto &N : Nodes)
    Out.push_back(N.get());
  return Out;
}

std::string Graph::uniqueName(llvm::StringRef Base) const {
  if (!ByName.count(Base))
    return Base.str();
  for (unsigned I = 1;; ++I) {
    std::string Candidate = (Base + "_" + llvm::Twine(I)).str();
    if (!ByName.count(Candidate))
      return Candidate;
  }
}

void Graph::rename(Value *V, llvm::StringRef NewName) {
  assert(!ByName.count(NewName) && "value name already used");
  ByName.erase(V->Name);
  V->Name = NewName.str();
  ByName[NewName] = V;
}

bool Graph::sortTopologically() {
  // Kahn's algorithm, taking ready nodes in their current order so that an
  // already sorted graph keeps its order exactly.
  llvm::DenseMap<Node *, unsigned> Pending;
  std::vector<Node *> Order = nodeList();
  llvm::DenseMap<Node *, size_t> Position;
  for (size_t I = 0; I < Order.size(); ++I)
    Position[Order[I]] = I;
  for (Node *N : Order) {
    llvm::DenseSet<Node *> Producers;
    for (Value *V : N->operands())
      if (V && V->definingNode())
        Producers.insert(V->definingNode());
    Pending[N] = unsigned(Producers.size());
  }
  auto Cmp = [&](Node *A, Node *B) { return Position[A] > Position[B]; };
  std::vector<Node *> Ready;
  for (Node *N : Order)
    if (Pending[N] == 0)
      Ready.push_back(N);
  std::make_heap(Ready.begin(), Ready.end(), Cmp);
  std::vector<Node *> Sorted;
  while (!Ready.empty()) {
    std::pop_heap(Ready.begin(), Ready.end(), Cmp);
    Node *N = Ready.back();
    Ready.pop_back();
    Sorted.push_back(N);
    llvm::DenseSet<Node *> Seen;
    for (const auto &R : N->Results)
      for (const Use &U : R->uses())
        if (Seen.insert(U.User).second && --Pending[U.User] == 0) {
          Ready.push_back(U.User);
          std::push_heap(Ready.begin(), Ready.end(), Cmp);
        }
  }
  if (Sorted.size() != Order.size())
    return false;
  for (Node *N : Sorted)
    Nodes.splice(Nodes.end(), Nodes, N->Self);
  return true;
}

std::unique_ptr<Graph> Graph::clone() const {
  auto G = std::make_unique<Graph>(Name);
  G->Attrs = Attrs;
  llvm::DenseMap<const Value *, Value *> Map;
  Map[nullptr] = nullptr;
  for (Value *V : Inputs)
    Map[V] = G->addInput(V->name(), V->type());
  for (Value *V : Constants)
    Map[V] = V->constantData() ? G->addConstant(V->name(), *V->constantData())
                               : G->addElidedConstant(V->name(), V->type());
  for (const auto &N : Nodes) {
    std::vector<Value *> Ops;
    for (Value *V : N->operands())
      Ops.push_back(Map.lookup(V));
    std::vector<TensorType> Types;
    std::vector<std::string> Names;
    for (const auto &R : N->Results) {
      Types.push_back(R->type());
      Names.push_back(R->name());
    }
    Node *C = G->createNode(N->Op, Ops, Types, N->Attrs, N->Name, Names);
    for (unsigned I = 0; I < C->numResults(); ++I)
      Map[N->result(I)] = C->result(I);
  }
  std::vector<Value *> Outs;
  for (Value *V : Outputs)
    Outs.push_back(Map.lookup(V));
  G->setOutputs(std::move(Outs));
  return G;
}

} // namespace kiln
