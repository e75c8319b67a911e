//===- Partition.cpp - cut a graph into pipeline stages -------------------===//
//
// partition{stages=N,batch=B,seq=S} puts each node on a device 0..N-1, in
// topological order, so that every stage costs about the same at batch B
// and seq S, and inserts a PeerCopy for every value that crosses a cut.
//
// A cut between node i-1 and node i copies its live set: the values made
// before it and read after it (graph inputs and constants are on every
// device). Cuts are chosen in two steps:
//  1. a position is cheap when copying its live set (at the memory rate)
//     costs at most CheapShare of an ideal stage (total cost / N);
//  2. among cheap positions, the smallest live sets come first: the cuts
//     are the most balanced ones (least maximal stage cost) using only
//     positions whose live set is at most T, for the smallest T whose
//     balance is within BalanceSlack of the best balance any cheap
//     positions give. In an encoder, the smallest live sets are between
//     layers (the hidden state and the mask).
//
//===----------------------------------------------------------------------===//
#include "passes/Partition.h"
#include "passes/Passes.h"

#include "ir/DType.h"
#include "ir/Error.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>

namespace kiln {

namespace {

constexpr double CheapShare = 0.1;
constexpr double BalanceSlack = 1.25;

double dimSize(const Dim &D, const PlanShape &S) {
  if (D.isStatic())
    return double(D.value());
  if (D.isSymbol() && D.symbol() == "batch")
    return double(S.Batch);
  if (D.isSymbol() && D.symbol() == "seq")
    return double(S.Seq);
  return 1;
}

double elements(const TensorType &T, const PlanShape &S) {
  double N = 1;
  for (const Dim &D : T.Dims)
    N *= dimSize(D, S);
  return N;
}

std::string ms(double Seconds) {
  return llvm::formatv("{0:f3} ms", Seconds * 1e3).str();
}

/// The chosen cuts (node indices where a stage starts, after stage 0) and
/// the cost of the most expensive stage.
struct CutPlan {
  std::vector<size_t> Cuts;
  double MaxStage = std::numeric_limits<double>::infinity();
};

/// The most balanced N-1 cuts among `Positions` (sorted), by dynamic
/// programming over (cuts made, last cut).
CutPlan balance(llvm::ArrayRef<size_t> Positions, llvm::ArrayRef<double> Prefix,
                unsigned Stages) {
  size_t C = Positions.size();
  size_t End = Prefix.size() - 1;
  auto Span = [&](size_t From, size_t To) { return Prefix[To] - Prefix[From]; };
  constexpr double Inf = std::numeric_limits<double>::infinity();
  // Best[K][J]: least max stage cost of the first K+1 stages when cut K is
  // Positions[J]; From[K][J]: the previous cut's index.
  std::vector<std::vector<double>> Best(Stages - 1,
                                        std::vector<double>(C, Inf));
  std::vector<std::vector<size_t>> From(Stages - 1, std::vector<size_t>(C, 0));
  for (size_t J = 0; J < C; ++J)
    Best[0][J] = Span(0, Positions[J]);
  for (unsigned K = 1; K + 1 < Stages; ++K)
    for (size_t J = 0; J < C; ++J)
      for (size_t I = 0; I < J; ++I) {
        double Cost =
            std::max(Best[K - 1][I], Span(Positions[I], Positions[J]));
        if (Cost < Best[K][J]) {
          Best[K][J] = Cost;
          From[K][J] = I;
        }
      }
  CutPlan Plan;
  size_t Last = C;
  for (size_t J = 0; J < C; ++J) {
    double Cost = std::max(Best[Stages - 2][J], Span(Positions[J], End));
    if (Cost < Plan.MaxStage) {
      Plan.MaxStage = Cost;
      Last = J;
    }
  }
  if (Last == C)
    return Plan;
  Plan.Cuts.resize(Stages - 1);
  for (unsigned K = Stages - 1; K-- > 0;) {
    Plan.Cuts[K] = Positions[Last];
    Last = From[K][Last];
  }
  return Plan;
}

} // namespace

double valueBytes(const TensorType &T, const PlanShape &S) {
  return elements(T, S) * double(dtypeSize(T.Elem));
}

NodeCost nodeCost(const Node &N, const PlanShape &S) {
  NodeCost Cost;
  for (const Value *V : N.operands())
    if (V)
      Cost.Bytes += valueBytes(V->type(), S);
  for (const Value *R : N.results())
    Cost.Bytes += valueBytes(R->type(), S);
  llvm::StringRef Op = N.opName();
  if (Op == "FusedGemm" || Op == "MatMul" || Op == "Gemm") {
    const TensorType &A = N.operand(0)->type();
    double K = A.rank() ? dimSize(A.Dims.back(), S) : 0;
    Cost.Flops = 2 * elements(N.result()->type(), S) * K;
  } else if (Op == "Attention" && N.operand(0)->rank() == 3) {
    // q k^T and p v: 4 * B * S * S * (H * D); a packed QKV is 3 * H * D wide.
    const TensorType &Q = N.operand(0)->type();
    double Hidden = dimSize(Q.Dims[2], S) / (N.operand(1) ? 1 : 3);
    double Seq = dimSize(Q.Dims[1], S);
    Cost.Flops = 4 * dimSize(Q.Dims[0], S) * Seq * Seq * Hidden;
  }
  return Cost;
}

PlanShape plannedShape(const Graph &G) {
  PlanShape S;
  auto Get = [&](llvm::StringRef Name, int64_t &Out) {
    auto It = G.attrs().find(Name);
    if (It != G.attrs().end() && It->second.kind() == AttrKind::Int)
      Out = It->second.getInt();
  };
  Get(PlanBatchAttr, S.Batch);
  Get(PlanSeqAttr, S.Seq);
  return S;
}

llvm::Expected<bool> runPartition(Graph &G, const PassOptions &Options,
                                  PassContext &Ctx) {
  auto Stages = Options.getInt("stages", 2);
  auto Batch = Options.getInt("batch", PlanShape().Batch);
  auto Seq = Options.getInt("seq", PlanShape().Seq);
  if (!Stages)
    return Stages.takeError();
  if (!Batch)
    return Batch.takeError();
  if (!Seq)
    return Seq.takeError();
  if (*Stages < 1 || *Batch < 1 || *Seq < 1)
    return makeError("partition: stages, batch and seq must be >= 1");
  for (const auto &N : G.nodes())
    if (N->device())
      return makeError("partition: the graph is already partitioned (" +
                       N->describe() + " is on device " +
                       llvm::Twine(*N->device()) + ")");
  std::vector<Node *> Nodes = G.nodeList();
  size_t NumNodes = Nodes.size();
  unsigned N = unsigned(*Stages);
  if (N > NumNodes)
    return makeError("partition: too many stages: " + llvm::Twine(N) +
                     " stages for a graph of " + llvm::Twine(NumNodes) +
                     " nodes");
  PlanShape Shape{*Batch, *Seq};
  llvm::raw_ostream &Dbg = Ctx.debug();

  // Costs, and for each position 1..NumNodes-1 the live set of a cut there.
  llvm::DenseMap<const Node *, size_t> Index;
  for (size_t I = 0; I < NumNodes; ++I)
    Index[Nodes[I]] = I;
  std::vector<double> Prefix(NumNodes + 1, 0);
  for (size_t I = 0; I < NumNodes; ++I)
    Prefix[I + 1] = Prefix[I] + nodeCost(*Nodes[I], Shape).seconds();
  double Total = Prefix[NumNodes], Ideal = Total / N;
  struct Crossing {
    Value *V;
    size_t Def, LastUse;
  };
  std::vector<Crossing> Crossings;
  std::vector<double> Live(NumNodes + 1, 0);
  for (size_t I = 0; I < NumNodes; ++I)
    for (Value *R : Nodes[I]->results()) {
      size_t LastUse = I;
      for (const Use &U : R->uses())
        LastUse = std::max(LastUse, Index.lookup(U.User));
      if (LastUse == I)
        continue;
      Crossings.push_back({R, I, LastUse});
      for (size_t P = I + 1; P <= LastUse; ++P)
        Live[P] += valueBytes(R->type(), Shape);
    }
  auto LiveNames = [&](size_t P) {
    std::string S;
    for (const Crossing &C : Crossings)
      if (C.Def < P && P <= C.LastUse)
        S += (S.empty() ? "%" : ", %") + C.V->name();
    return S;
  };

  Dbg << "partition: " << N << " stages at batch " << Shape.Batch << ", seq "
      << Shape.Seq << ": " << NumNodes << " nodes, " << ms(Total)
      << " in all, ideal stage " << ms(Ideal) << "\n";
  std::vector<size_t> Cuts;
  if (N > 1) {
    double CheapBytes = CheapShare * Ideal * PartitionByteRate;
    std::vector<size_t> Cheap;
    size_t Smallest = 1;
    for (size_t P = 1; P < NumNodes; ++P) {
      if (Live[P] < Live[Smallest])
        Smallest = P;
      if (Live[P] <= CheapBytes)
        Cheap.push_back(P);
    }
    if (Cheap.empty())
      return makeError(
          "partition: no cheap cut: the smallest live set between nodes, " +
          llvm::formatv("{0:f0}", Live[Smallest]).str() + " bytes (" +
          LiveNames(Smallest) + ") before " + Nodes[Smallest]->describe() +
          ", costs " + ms(Live[Smallest] / PartitionByteRate) +
          " to copy, more than " + llvm::Twine(int(CheapShare * 100)) +
          "% of a stage (" + ms(Ideal) + ")");
    if (Cheap.size() < N - 1)
      return makeError("partition: too many stages: " + llvm::Twine(N) +
                       " stages need " + llvm::Twine(N - 1) +
                       " cuts, but only " + llvm::Twine(Cheap.size()) +
                       " positions between nodes are cheap to cut");
    CutPlan Best = balance(Cheap, Prefix, N);
    std::vector<double> Levels;
    for (size_t P : Cheap)
      Levels.push_back(Live[P]);
    llvm::sort(Levels);
    Levels.erase(std::unique(Levels.begin(), Levels.end()), Levels.end());
    for (double Level : Levels) {
      std::vector<size_t> Allowed;
      for (size_t P : Cheap)
        if (Live[P] <= Level)
          Allowed.push_back(P);
      if (Allowed.size() < N - 1)
        continue;
      CutPlan Plan = balance(Allowed, Prefix, N);
      if (Plan.MaxStage > BalanceSlack * Best.MaxStage)
        continue;
      Dbg << "cuts where at most " << llvm::formatv("{0:f0}", Level)
          << " bytes are live (" << Allowed.size() << " of " << Cheap.size()
          << " cheap positions): largest stage " << ms(Plan.MaxStage)
          << ", best with any cheap cut " << ms(Best.MaxStage) << "\n";
      Cuts = Plan.Cuts;
      break;
    }
    for (size_t P : Cuts)
      Dbg << "cut before " << Nodes[P]->describe() << ": copies "
          << llvm::formatv("{0:f0}", Live[P]) << " bytes (" << LiveNames(P)
          << "), cost before it " << ms(Prefix[P]) << "\n";
  }

  // Devices, then one PeerCopy per value and cut it crosses, chained
  // stage to stage and placed where the receiving stage begins.
  std::vector<size_t> Starts = {0};
  Starts.insert(Starts.end(), Cuts.begin(), Cuts.end());
  std::vector<unsigned> StageOf(NumNodes, 0);
  for (unsigned S = 0; S < Starts.size(); ++S)
    for (size_t I = Starts[S]; I < NumNodes; ++I)
      StageOf[I] = S;
  for (size_t I = 0; I < NumNodes; ++I)
    Nodes[I]->setAttr(DeviceAttr, Attribute(int64_t(StageOf[I])));
  int64_t Copies = 0;
  for (const Crossing &C : Crossings) {
    unsigned From = StageOf[C.Def], To = StageOf[C.LastUse];
    if (From == To)
      continue;
    std::vector<Value *> OnStage(To + 1, nullptr);
    OnStage[From] = C.V;
    for (unsigned S = From + 1; S <= To; ++S) {
      AttrMap Attrs{{"from", Attribute(int64_t(S - 1))},
                    {"to", Attribute(int64_t(S))},
                    {std::string(DeviceAttr), Attribute(int64_t(S))}};
      Node *Copy = G.createNode(
          "PeerCopy", {OnStage[S - 1]}, {C.V->type()}, std::move(Attrs), "",
          {G.uniqueName(C.V->name() + "_to" + std::to_string(S))},
          Nodes[Starts[S]]);
      OnStage[S] = Copy->result();
      ++Copies;
    }
    std::vector<Use> Uses(C.V->uses().begin(), C.V->uses().end());
    for (const Use &U : Uses) {
      auto It = Index.find(U.User);
      if (It != Index.end() && StageOf[It->second] != From)
        U.User->setOperand(U.OperandIndex, OnStage[StageOf[It->second]]);
    }
  }
  G.attrs()[PlanBatchAttr.str()] = Attribute(Shape.Batch);
  G.attrs()[PlanSeqAttr.str()] = Attribute(Shape.Seq);

  for (unsigned S = 0; S < Starts.size(); ++S) {
    size_t End = S + 1 < Starts.size() ? Starts[S + 1] : NumNodes;
    Dbg << "stage " << S << ": nodes " << Starts[S] << ".." << End - 1
        << ", cost " << ms(Prefix[End] - Prefix[Starts[S]]) << "\n";
  }
  Ctx.bumpStat("peer-copies", Copies);
  return true;
}

} // namespace kiln
