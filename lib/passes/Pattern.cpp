#include "passes/Pattern.h"

#include "ir/OpRegistry.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

namespace kiln::pat {

enum class PatternKind { Capture, Constant, Scalar, Op, AnyOf, Where };

struct PatternNode {
  PatternKind Kind;
  std::string Name; // capture name, or op name for Op
  std::string Bind; // node binding for Op
  std::vector<Pattern> Children;
  double Scalar = 0, RelTol = 0;
  std::function<bool(Value *, const Match &)> Check;
  std::string Why;
};

const Tensor *Match::constant(llvm::StringRef Name) const {
  Value *V = value(Name);
  return V ? V->constantData() : nullptr;
}

std::optional<std::string> Match::checkNoOutsideUses() const {
  llvm::DenseSet<Node *> Inside(Matched.begin(), Matched.end());
  for (size_t I = 1; I < Matched.size(); ++I)
    for (Value *R : Matched[I]->results()) {
      if (R->graph()->isOutput(R))
        return "%" + R->name() + " is a graph output";
      for (const Use &U : R->uses())
        if (!Inside.count(U.User))
          return "%" + R->name() + " is also used by " + U.User->describe();
    }
  return std::nullopt;
}

Pattern capture(llvm::StringRef Name) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::Capture;
  P->Name = Name.str();
  return P;
}

Pattern constant(llvm::StringRef Name) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::Constant;
  P->Name = Name.str();
  return P;
}

Pattern scalar(double V, double RelTol) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::Scalar;
  P->Scalar = V;
  P->RelTol = RelTol;
  return P;
}

Pattern op(llvm::StringRef Op, std::vector<Pattern> Operands,
           llvm::StringRef NodeName) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::Op;
  P->Name = Op.str();
  P->Bind = NodeName.str();
  P->Children = std::move(Operands);
  return P;
}

Pattern anyOf(std::vector<Pattern> Alternatives) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::AnyOf;
  P->Children = std::move(Alternatives);
  return P;
}

Pattern where(Pattern Inner, std::function<bool(Value *, const Match &)> Check,
              std::string Why) {
  auto P = std::make_shared<PatternNode>();
  P->Kind = PatternKind::Where;
  P->Children = {std::move(Inner)};
  P->Check = std::move(Check);
  P->Why = std::move(Why);
  return P;
}

namespace {

bool isCommutative(llvm::StringRef Op) {
  const OpDef *Def = lookupOp(Op);
  return Def && Def->Commutative;
}

std::string describeValue(Value *V) {
  if (Node *N = V->definingNode())
    return "%" + V->name() + " (from " + N->describe() + ")";
  return "%" + V->name();
}

class Matcher {
public:
  MatchResult Result;

  bool matchValue(const PatternNode &P, Value *V, Match &M, unsigned Depth) {
    switch (P.Kind) {
    case PatternKind::Capture: return bind(P.Name, V, M, Depth);
    case PatternKind::Constant:
      if (!V->constantData())
        return fail(Depth, describeValue(V) + " is not a constant");
      return bind(P.Name, V, M, Depth);
    case PatternKind::Scalar: {
      const Tensor *T = V->constantData();
      if (!T || T->numElements() == 0)
        return fail(Depth, describeValue(V) + " is not the constant " +
                               formatScalar(P.Scalar));
      for (int64_t I = 0; I < T->numElements(); ++I) {
        double X = T->getDouble(I);
        if (std::fabs(X - P.Scalar) >
            P.RelTol * std::max(1.0, std::fabs(P.Scalar)))
          return fail(Depth, describeValue(V) + " is not the constant " +
                                 formatScalar(P.Scalar));
      }
      return true;
    }
    case PatternKind::Op: return matchOp(P, V, M, Depth);
    case PatternKind::AnyOf: {
      Checkpoint Saved = checkpoint();
      for (const Pattern &Alt : P.Children) {
        Match Copy = M;
        if (matchValue(*Alt, V, Copy, Depth + 1)) {
          // Failures inside abandoned alternatives explain nothing.
          restore(Saved);
          M = std::move(Copy);
          return true;
        }
      }
      return false;
    }
    case PatternKind::Where:
      if (!matchValue(*P.Children[0], V, M, Depth + 1))
        return false;
      if (!P.Check(V, M))
        return fail(Depth + 1, describeValue(V) + ": " + P.Why);
      return true;
    }
    return false;
  }

private:
  static std::string formatScalar(double V) {
    char Buf[32];
    snprintf(Buf, sizeof(Buf), "%g", V);
    return Buf;
  }

  struct Checkpoint {
    unsigned FailDepth;
    std::string Why;
  };
  Checkpoint checkpoint() const { return {FailDepth, Result.Why}; }
  void restore(const Checkpoint &C) {
    FailDepth = C.FailDepth;
    Result.Why = C.Why;
    Result.FailDepth = C.FailDepth;
  }

  bool fail(unsigned Depth, std::string Why) {
    if (Depth >= FailDepth) {
      FailDepth = Depth;
      Result.Why = std::move(Why);
      Result.FailDepth = Depth;
    }
    return false;
  }

  bool bind(const std::string &Name, Value *V, Match &M, unsigned Depth) {
    if (Name.empty())
      return true;
    auto [It, Inserted] = M.Values.try_emplace(Name, V);
    if (!Inserted && It->second != V)
      return fail(Depth, describeValue(V) + " is not the same value as " +
                             Name + " = %" + It->second->name());
    return true;
  }

  bool matchOp(const PatternNode &P, Value *V, Match &M, unsigned Depth) {
    Node *N = V->definingNode();
    if (!N || N->opName() != P.Name)
      return fail(Depth,
                  describeValue(V) + " is not produced by '" + P.Name + "'");
    unsigned Present = N->numOperands();
    while (Present > 0 && !N->operand(Present - 1))
      --Present;
    if (Present != P.Children.size())
      return fail(Depth, N->describe() + " has " + std::to_string(Present) +
                             " operands, the pattern " +
                             std::to_string(P.Children.size()));
    std::vector<unsigned> Order(P.Children.size());
    for (unsigned I = 0; I < Order.size(); ++I)
      Order[I] = I;
    bool TrySwap = isCommutative(P.Name) && Order.size() == 2;
    Checkpoint Saved = checkpoint();
    for (int Attempt = 0; Attempt < (TrySwap ? 2 : 1); ++Attempt) {
      if (Attempt == 1)
        std::swap(Order[0], Order[1]);
      Match Copy = M;
      bool Ok = true;
      for (unsigned I = 0; I < Order.size() && Ok; ++I) {
        Value *Operand = N->operand(Order[I]);
        if (!Operand)
          Ok = fail(Depth + 1, N->describe() + " lacks operand " +
                                   std::to_string(Order[I]));
        else
          Ok = matchValue(*P.Children[I], Operand, Copy, Depth + 1);
      }
      if (!Ok)
        continue;
      restore(Saved);
      if (!P.Bind.empty())
        Copy.Nodes[P.Bind] = N;
      if (std::find(Copy.Matched.begin(), Copy.Matched.end(), N) ==
          Copy.Matched.end())
        Copy.Matched.push_back(N);
      M = std::move(Copy);
      return true;
    }
    return false;
  }

  unsigned FailDepth = 0;
};

/// Puts the root first: matchOp appends children before their parents.
void rootFirst(Match &M, Value *Root) {
  Node *R = Root->definingNode();
  auto It = std::find(M.Matched.begin(), M.Matched.end(), R);
  if (It != M.Matched.end()) {
    M.Matched.erase(It);
    M.Matched.insert(M.Matched.begin(), R);
  }
}

} // namespace

MatchResult match(const Pattern &P, Value *Root) {
  Matcher Mt;
  Match M;
  if (Mt.matchValue(*P, Root, M, 0)) {
    rootFirst(M, Root);
    Mt.Result.Matched = true;
    Mt.Result.Bindings = std::move(M);
    Mt.Result.Why.clear();
  }
  return std::move(Mt.Result);
}

void eraseDeadNodes(Graph &G, llvm::ArrayRef<Node *> Nodes,
                    llvm::function_ref<void(Node *)> BeforeErase) {
  llvm::DenseSet<Node *> Pending(Nodes.begin(), Nodes.end());
  bool Progress = true;
  while (Progress) {
    Progress = false;
    for (Node *N : G.nodeList()) {
      if (!Pending.count(N))
        continue;
      bool Dead = true;
      for (Value *R : N->results())
        Dead &= !R->hasUses() && !G.isOutput(R);
      if (!Dead)
        continue;
      Pending.erase(N);
      BeforeErase(N);
      G.eraseNode(N);
      Progress = true;
    }
  }
}

} // namespace kiln::pat
