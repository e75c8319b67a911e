//===- RewriteDriver.h - fusion patterns and the driver that applies them -===//
//
// Every fusion and prune pass is a set of rewrite patterns that one driver
// applies to the graph (MLIR's OpRewritePattern + applyPatternsGreedily, XLA's
// FusionDecision). A pattern has four parts:
//
//   anchors  the ops it starts from (a layer norm is anchored at its Sqrt);
//   match    the declarative pattern (Pattern.h) at an anchor: what it binds,
//            or why it does not match. Matching never mutates the graph;
//   check    the side conditions the pattern cannot state (types, uses),
//            with the reason when one fails;
//   rewrite  the replacement, every mutation through the one Rewriter.
//
// The driver visits the nodes in order (or last to first), tries the patterns
// anchored at each node's op and applies the first that matches and passes
// its check. When none does, the reason goes to `--debug-only=<pass>` as
// "<pass>: <anchor>: <why>". Nodes a rewrite creates join the worklist, so
// the driver stops only when no pattern applies anywhere (a fixpoint); a
// failure at such a node is not reported, since the input graph did not hold
// it. The rewriter records erased nodes, so the driver never visits one, and
// counts what a pass changed for `--stats`.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_REWRITEDRIVER_H
#define KILN_PASSES_REWRITEDRIVER_H

#include "passes/PassManager.h"

#include "llvm/ADT/DenseSet.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::rewrite {

/// Every change a pattern makes to the graph goes through the Rewriter: it
/// records created and erased nodes for the driver, keeps the fused result
/// under the replaced root's name, and counts stats and debug notes under the
/// running pass.
class Rewriter {
public:
  Rewriter(Graph &G, PassContext &Ctx, llvm::StringRef PassName)
      : G(G), Ctx(Ctx), PassName(PassName) {}

  /// The graph, to read, or for helpers that take one (Pruning.h).
  Graph &graph() const { return G; }

  /// Graph::createNode, recorded.
  Node *createNode(llvm::StringRef Op, llvm::ArrayRef<Value *> Operands,
                   llvm::ArrayRef<TensorType> ResultTypes, AttrMap Attrs = {},
                   llvm::StringRef NodeName = "",
                   llvm::ArrayRef<std::string> ResultNames = {},
                   Node *Before = nullptr);
  /// A constant named `Base`, or `Base_1`, ... when that is taken.
  Value *addConstant(llvm::StringRef Base, Tensor Data);

  void replaceAllUsesWith(Value *Old, Value *New);
  void setOperand(Node &N, unsigned I, Value *V);
  void setAttr(Node &N, llvm::StringRef Name, Attribute A);
  void setType(Value &V, TensorType T);
  /// Records that a helper taking the graph changed `N` in place.
  void modified(Node &) { ++Changes; }

  /// Replaces `Root`'s result by `Fused`'s, erases the nodes of `Dying` that
  /// are then dead, and gives the fused result the root's name.
  void replaceRoot(Node *Root, Node *Fused, llvm::ArrayRef<Node *> Dying);
  /// Erases `Nodes` (and what only they used) once nothing uses their
  /// results.
  void eraseDeadNodes(llvm::ArrayRef<Node *> Nodes);
  /// Erases a constant or input with no uses that is no graph output.
  void eraseValue(Value *V);

  /// Adds `N` to the pass's `--stats` counter `Name`.
  void stat(llvm::StringRef Name, int64_t N = 1) { Ctx.bumpStat(Name, N); }
  /// A debug line about `About`: "<pass>: <About>: " on the debug stream.
  llvm::raw_ostream &note(const Node &About);

  bool isErased(const Node *N) const { return Erased.count(N); }
  /// Whether anything changed the graph.
  bool changed() const { return Changes > 0; }
  size_t numCreated() const { return NumCreated; }
  size_t numErased() const { return NumErased; }
  /// The nodes created since the last call.
  std::vector<Node *> takeCreated() { return std::exchange(Created, {}); }

private:
  Graph &G;
  PassContext &Ctx;
  llvm::StringRef PassName;
  llvm::DenseSet<const Node *> Erased;
  std::vector<Node *> Created;
  size_t Changes = 0, NumCreated = 0, NumErased = 0;
};

/// What a match found, or why there was none (XLA's FusionDecision). An
/// anchor op in a form the pattern never takes is `notCandidate()`: declined
/// without a reason, so that it adds no debug line.
template <typename T> class Matched {
public:
  Matched(T Value) : Value(std::move(Value)) {}
  static Matched failure(std::string Why) { return Matched(std::move(Why)); }
  static Matched notCandidate() { return Matched(std::nullopt); }

  explicit operator bool() const { return Value.has_value(); }
  T &operator*() { return *Value; }
  T *operator->() { return &*Value; }
  /// Why it failed; nullopt for a node that is no candidate.
  const std::optional<std::string> &why() const { return Why; }

private:
  explicit Matched(std::optional<std::string> Why) : Why(std::move(Why)) {}
  std::optional<T> Value;
  std::optional<std::string> Why;
};

/// The outcome of trying one pattern at one anchor.
struct Attempt {
  enum Kind { Applied, Failed, NotCandidate } What;
  std::string Why;
};

/// A pattern as the driver sees it; passes derive from OpRewritePattern.
class RewritePattern {
public:
  explicit RewritePattern(std::vector<std::string> AnchorOps)
      : AnchorOps(std::move(AnchorOps)) {}
  virtual ~RewritePattern() = default;

  llvm::ArrayRef<std::string> anchors() const { return AnchorOps; }
  /// Matches at `Anchor`, checks, and rewrites through `R` when both pass.
  virtual llvm::Expected<Attempt> apply(Node &Anchor, Rewriter &R) const = 0;

private:
  std::vector<std::string> AnchorOps;
};

/// A pattern whose match yields a `MatchT` (the bindings, and what the check
/// works out for the rewrite).
template <typename MatchT> class OpRewritePattern : public RewritePattern {
public:
  using RewritePattern::RewritePattern;

  /// The declarative pattern at `Anchor`. Never mutates the graph.
  virtual Matched<MatchT> match(Node &Anchor) const = 0;
  /// Why the match cannot be rewritten, if it cannot; may complete `M` with
  /// what the rewrite needs. Never mutates the graph.
  virtual std::optional<std::string> check(Node &, MatchT &) const {
    return std::nullopt;
  }
  /// Builds the replacement through `R`.
  virtual llvm::Error rewrite(Node &Anchor, MatchT &M, Rewriter &R) const = 0;

  llvm::Expected<Attempt> apply(Node &Anchor, Rewriter &R) const final {
    Matched<MatchT> M = match(Anchor);
    if (!M) {
      if (!M.why())
        return Attempt{Attempt::NotCandidate, ""};
      return Attempt{Attempt::Failed, *M.why()};
    }
    if (std::optional<std::string> Why = check(Anchor, *M))
      return Attempt{Attempt::Failed, std::move(*Why)};
    if (llvm::Error E = rewrite(Anchor, *M, R))
      return std::move(E);
    return Attempt{Attempt::Applied, ""};
  }
};

/// The order in which the driver visits the input graph's nodes.
enum class Order { Forward, Reverse };

/// Applies `Patterns` to `G` until none applies; reports failures and stats
/// under `PassName`. Returns whether the graph changed.
llvm::Expected<bool>
applyPatterns(Graph &G, PassContext &Ctx, llvm::StringRef PassName,
              llvm::ArrayRef<const RewritePattern *> Patterns,
              Order VisitOrder = Order::Forward);

} // namespace kiln::rewrite

#endif
