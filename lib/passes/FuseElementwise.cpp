//===- FuseElementwise.cpp - chains of elementwise ops into one -----------===//
//
// Groups connected elementwise nodes into one FusedElementwise node that
// carries the computation as an expression (ir/ops/ElementwiseExpr.h), so
// codegen emits one kernel that reads each input once and writes once:
//
//   %c = Cast(%m) {to = "f32"}        FusedElementwise(%m)
//   %d = Sub(1.0, %c)           =>      {expr = "mul(sub(1.0, cast_f32(x0)), -10000.0)"}
//   %e = Mul(%d, -10000.0)
//
// A node joins its consumer's group when every use of its result is inside
// the group and the result is no graph output. Single-element constants
// become numbers in the expression. Integer arithmetic is left alone (its
// overflow and division rules are not the expression's); comparisons and
// casts of integers are fused. Groups of one node stay as they are.
//
//===----------------------------------------------------------------------===//
#include "ir/ShapeInference.h"
#include "ir/ops/ElementwiseExpr.h"
#include "ir/ops/OpUtils.h"
#include "passes/Passes.h"
#include "passes/Pattern.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSwitch.h"

#include <charconv>

namespace kiln {
namespace {

/// The expression function of an elementwise node, or "" when the node
/// cannot be written as one.
std::string exprFunction(const Node &N) {
  llvm::StringRef Op = N.opName();
  DType Out = N.result(0)->dtype();
  if (N.numResults() != 1)
    return "";
  if (Op == "Cast")
    return "cast_" + N.getString("to", "");
  if (Op == "Gelu")
    return N.getString("approximate", "none") == "tanh" ? "gelu_tanh" : "gelu";
  std::string Fn = llvm::StringSwitch<std::string>(Op)
                       .Case("Add", "add")
                       .Case("Sub", "sub")
                       .Case("Mul", "mul")
                       .Case("Div", "div")
                       .Case("Pow", "pow")
                       .Case("Neg", "neg")
                       .Case("Abs", "abs")
                       .Case("Exp", "exp")
                       .Case("Log", "log")
                       .Case("Sqrt", "sqrt")
                       .Case("Reciprocal", "reciprocal")
                       .Case("Relu", "relu")
                       .Case("Sigmoid", "sigmoid")
                       .Case("Tanh", "tanh")
                       .Case("Erf", "erf")
                       .Case("Where", "where")
                       .Case("Equal", "eq")
                       .Case("Less", "lt")
                       .Case("LessOrEqual", "le")
                       .Case("Greater", "gt")
                       .Case("GreaterOrEqual", "ge")
                       .Case("And", "and")
                       .Case("Or", "or")
                       .Case("Not", "not")
                       .Case("Max", "max")
                       .Case("Min", "min")
                       .Default("");
  if (Fn.empty() || int(N.numOperands()) != exprArity(Fn))
    return "";
  bool Compare =
      Fn == "eq" || Fn == "lt" || Fn == "le" || Fn == "gt" || Fn == "ge";
  if (!isFloat(Out) && Out != DType::Bool)
    return "";
  if (Compare)
    return Fn;
  // Float arithmetic only: every operand is a float (bools feed where/not).
  for (unsigned I = 0; I < N.numOperands(); ++I) {
    DType T = N.operand(I)->dtype();
    bool Cond = Fn == "where" && I == 0;
    if (!Cond && !isFloat(T) && !(T == DType::Bool && Out == DType::Bool))
      return "";
  }
  return Fn;
}

bool isFusible(const Node &N) {
  if (N.opName() == "FusedElementwise")
    return true;
  std::string Fn = exprFunction(N);
  return !Fn.empty() && exprArity(Fn) >= 0;
}

class GroupBuilder {
public:
  GroupBuilder(const llvm::DenseSet<Node *> &Group, bool InlineScalars)
      : Group(Group), InlineScalars(InlineScalars) {}

  std::string build(Value *V) {
    Node *N = V->definingNode();
    if (!N || !Group.count(N))
      return leaf(V);
    if (N->opName() == "FusedElementwise")
      return inlineFused(*N);
    std::string S = exprFunction(*N) + "(";
    for (unsigned I = 0; I < N->numOperands(); ++I)
      S += (I ? ", " : "") + build(N->operand(I));
    return S + ")";
  }

  std::vector<Value *> Leaves;

private:
  std::string leaf(Value *V) {
    const Tensor *T = V->constantData();
    if (InlineScalars && T && T->numElements() == 1) {
      Expr E;
      E.Number = T->getDouble(0);
      return E.str();
    }
    auto It = std::find(Leaves.begin(), Leaves.end(), V);
    size_t Index = It - Leaves.begin();
    if (It == Leaves.end())
      Leaves.push_back(V);
    return "x" + std::to_string(Index);
  }

  /// Rewrites an already fused node's operand references into this group's.
  std::string inlineFused(const Node &N) {
    auto Parsed = parseExpr(N.getString("expr", ""));
    assert(Parsed && "verified FusedElementwise has a valid expression");
    return rename(**Parsed, N);
  }
  std::string rename(const Expr &E, const Node &N) {
    if (E.K == Expr::Kind::Operand)
      return build(N.operand(E.Operand));
    if (E.K == Expr::Kind::Number)
      return E.str();
    std::string S = E.Fn + "(";
    for (size_t I = 0; I < E.Args.size(); ++I)
      S += (I ? ", " : "") + rename(*E.Args[I], N);
    return S + ")";
  }

  const llvm::DenseSet<Node *> &Group;
  bool InlineScalars;
};

} // namespace

llvm::Expected<bool> runFuseElementwise(Graph &G, const PassOptions &,
                                        PassContext &Ctx) {
  bool Changed = false;
  llvm::DenseSet<Node *> Taken;
  std::vector<Node *> Order = G.nodeList();
  for (auto It = Order.rbegin(); It != Order.rend(); ++It) {
    Node *Root = *It;
    if (Taken.count(Root) || !isFusible(*Root))
      continue;
    // Grow the group upwards through producers used only inside it.
    llvm::DenseSet<Node *> Group = {Root};
    std::vector<Node *> Work = {Root};
    while (!Work.empty()) {
      Node *N = Work.back();
      Work.pop_back();
      for (Value *V : N->operands()) {
        Node *P = V ? V->definingNode() : nullptr;
        if (!P || Group.count(P) || Taken.count(P) || !isFusible(*P) ||
            G.isOutput(V))
          continue;
        bool UsedOutside = llvm::any_of(
            V->uses(), [&](const Use &U) { return !Group.count(U.User); });
        if (UsedOutside) {
          Ctx.debug() << "fuse-elementwise: " << P->describe()
                      << ": result also used outside the group of "
                      << Root->describe() << "\n";
          continue;
        }
        Group.insert(P);
        Work.push_back(P);
      }
    }
    if (Group.size() < 2)
      continue;

    // Build the expression; fall back to passing scalars as operands when
    // inlining them would lose a broadcast dimension.
    std::optional<GroupBuilder> Built;
    std::string Text;
    for (bool Inline : {true, false}) {
      GroupBuilder B(Group, Inline);
      Text = B.build(Root->result(0));
      std::vector<Shape> Shapes;
      for (Value *L : B.Leaves)
        Shapes.push_back(L->type().Dims);
      auto Out = broadcastShapes(Shapes);
      if (!B.Leaves.empty() && Out && *Out == Root->result(0)->type().Dims) {
        Built.emplace(std::move(B));
        break;
      }
    }
    if (!Built) {
      Ctx.debug() << "fuse-elementwise: " << Root->describe()
                  << ": the group's inputs do not broadcast to its result\n";
      continue;
    }
    Node *Fused = G.createNode(
        "FusedElementwise", Built->Leaves, {Root->result(0)->type()},
        {{"expr", Text}, {"dtype", dtypeName(Root->result(0)->dtype()).str()}},
        Root->name(), {G.uniqueName(Root->result(0)->name() + ".fused")}, Root);
    Root->result(0)->replaceAllUsesWith(Fused->result(0));
    std::vector<Node *> Members(Group.begin(), Group.end());
    pat::eraseDeadNodes(G, Members);
    for (Node *N : Members)
      Taken.insert(N);
    Taken.insert(Fused);
    Ctx.bumpStat("groups-fused");
    Ctx.bumpStat("nodes-fused", int64_t(Members.size()));
    Changed = true;
  }
  return Changed;
}

} // namespace kiln
