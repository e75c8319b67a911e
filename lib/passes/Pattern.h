//===- Pattern.h - declarative patterns over the graph ----------*- C++ -*-===//
//
// Fusion passes describe what they match as a tree that reads like the
// formula:
//
//   // x * 0.5 * (1 + erf(x / sqrt(2)))
//   auto X = capture("x");
//   auto Gelu = op("Mul", {op("Mul", {X, scalar(0.5)}),
//                          op("Add", {scalar(1.0),
//                                     op("Erf", {op("Div", {X, scalar(M_SQRT2)})})})});
//
// Matching binds captures (a name bound twice must be the same value), tries
// both operand orders of commutative ops, and on failure says why, from the
// point where the match got furthest ("operand 1 of 'Div' node "d" is not the
// constant 1.41421").
//
// Rewrites happen only after the whole match succeeded (STYLE.md): a
// pattern of the rewrite driver (RewriteDriver.h) matches, checks the side
// conditions (Match::checkNoOutsideUses), then builds the replacement
// through the Rewriter.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PATTERN_H
#define KILN_PASSES_PATTERN_H

#include "ir/Graph.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <memory>
#include <string>

namespace kiln::pat {

class Match {
public:
  Value *value(llvm::StringRef Name) const { return Values.lookup(Name); }
  /// The node a capturing op pattern matched.
  Node *node(llvm::StringRef Name) const { return Nodes.lookup(Name); }
  /// Data of a captured constant (null if it is not one).
  const Tensor *constant(llvm::StringRef Name) const;
  /// Every node the pattern matched, root first.
  const std::vector<Node *> &matchedNodes() const { return Matched; }

  /// Checks that results of matched nodes other than the root are used only
  /// by matched nodes and are no graph outputs, so that replacing the root
  /// makes them all dead. Returns the reason when not.
  std::optional<std::string> checkNoOutsideUses() const;

  // Used by the matcher.
  llvm::StringMap<Value *> Values;
  llvm::StringMap<Node *> Nodes;
  std::vector<Node *> Matched;
};

struct PatternNode;
using Pattern = std::shared_ptr<const PatternNode>;

/// Matches any value; binds it to `Name` when given.
Pattern capture(llvm::StringRef Name = "");
/// A constant with data; binds it to `Name` when given.
Pattern constant(llvm::StringRef Name = "");
/// A constant every element of which is within `RelTol` of `V`.
Pattern scalar(double V, double RelTol = 1e-5);
/// A node of op `Op` with exactly these operands (absent trailing optional
/// operands are ignored); the node is bound to `NodeName` when given.
Pattern op(llvm::StringRef Op, std::vector<Pattern> Operands,
           llvm::StringRef NodeName = "");
/// The first alternative that matches.
Pattern anyOf(std::vector<Pattern> Alternatives);
/// `P`, if `Check` holds for the matched value; otherwise fails with `Why`.
Pattern where(Pattern P, std::function<bool(Value *, const Match &)> Check,
              std::string Why);

struct MatchResult {
  bool Matched = false;
  Match Bindings;
  /// Why it failed, from the furthest point reached.
  std::string Why;
  /// How deep in the pattern (0 = the root) that point is: passes that try
  /// one pattern at several roots report the attempt that got furthest.
  unsigned FailDepth = 0;
};

MatchResult match(const Pattern &P, Value *Root);

/// Erases those of `Nodes` that nothing uses, as erasing others frees them;
/// `BeforeErase` sees each one first (the rewriter records it).
void eraseDeadNodes(
    Graph &G, llvm::ArrayRef<Node *> Nodes,
    llvm::function_ref<void(Node *)> BeforeErase = [](Node *) {});

} // namespace kiln::pat

#endif
