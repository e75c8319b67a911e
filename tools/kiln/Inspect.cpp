//===- Inspect.cpp - kiln inspect: what a model or artifact holds ---------===//
//
// A model's inputs, outputs, op histogram and parameter count, and for an
// artifact its precision, arch, kernels and buckets; for a partitioned
// graph its stages (nodes, FLOPs and bytes per device at the planned
// shape); as text or JSON.
//
//===----------------------------------------------------------------------===//
#include "Kiln.h"

#include "ir/Error.h"
#include "passes/Partition.h"
#include "tokenizer/Tokenizer.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <map>
#include <optional>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string> InspectModel(cl::Positional, cl::Required,
                                         cl::desc("<model .onnx|.kir|.kiln|->"),
                                         cl::sub(inspectSubcommand()));

static cl::opt<bool> Json("json", cl::desc("Print JSON"),
                          cl::sub(inspectSubcommand()));

struct StageSummary {
  int64_t Device = 0;
  int64_t Nodes = 0;
  NodeCost Cost;
  /// A pipeline artifact's stage: the weights its device holds; -1 for a
  /// partitioned graph.
  int64_t WeightBytes = -1;
};

struct Summary {
  std::map<std::string, int64_t> Ops;
  /// One per device of a partitioned graph, costed at its planned shape.
  std::vector<StageSummary> Stages;
  PlanShape Shape;
  /// A partitioned artifact's mode and device count.
  std::string Partition;
  int64_t Devices = 1;
  /// Elements of floating-point constants, elided ones included.
  int64_t Parameters = 0;
  int64_t FloatConstants = 0;
};

static Summary summarize(const Graph &G) {
  Summary S;
  PlanShape Shape = plannedShape(G);
  S.Shape = Shape;
  std::map<int64_t, StageSummary> Stages;
  for (const auto &N : G.nodes()) {
    ++S.Ops[N->opName().str()];
    if (std::optional<int64_t> D = N->device()) {
      StageSummary &Stage = Stages[*D];
      Stage.Device = *D;
      ++Stage.Nodes;
      Stage.Cost += nodeCost(*N, Shape);
    }
  }
  for (const auto &[Device, Stage] : Stages)
    S.Stages.push_back(Stage);
  for (const Value *C : G.constants()) {
    if (!isFloat(C->dtype()))
      continue;
    ++S.FloatConstants;
    S.Parameters += C->constantData() ? C->constantData()->numElements()
                                      : C->type().staticNumElements();
  }
  return S;
}

/// A partitioned artifact's stages as the compiler costed them, and its
/// PeerCopies: a value made on stage s and read up to stage t is copied
/// t - s times, once across each cut.
static void addPartition(Summary &S, const Artifact &A) {
  if (!A.Partition)
    return;
  const PartitionPlan &P = *A.Partition;
  S.Partition = partitionModeName(P.Kind).str();
  S.Devices = P.Devices;
  if (P.Kind != PartitionPlan::Mode::Pipeline)
    return;
  S.Stages.clear();
  S.Shape = {P.PlannedBatch, P.PlannedSeq};
  std::map<std::pair<int32_t, uint32_t>, size_t> LastReader;
  for (size_t St = 0; St < P.Stages.size(); ++St) {
    const PartitionPlan::StageInfo &I = P.Stages[St];
    S.Stages.push_back({int64_t(St),
                        int64_t(I.Nodes),
                        {I.Flops, I.Bytes},
                        int64_t(A.Stages[St].Weights.size())});
    for (const PartitionPlan::Source &Src : I.Inputs)
      if (Src.Stage >= 0) {
        size_t &Last = LastReader[{Src.Stage, Src.Index}];
        Last = std::max(Last, St);
      }
  }
  int64_t Copies = 0;
  for (const auto &[Src, Last] : LastReader)
    Copies += int64_t(Last) - Src.first;
  if (Copies)
    S.Ops["PeerCopy"] += Copies;
}

static llvm::json::Value valueToJson(const Value &V) {
  llvm::json::Array Shape;
  for (const Dim &D : V.type().Dims) {
    if (D.isStatic())
      Shape.push_back(D.value());
    else
      Shape.push_back(D.isSymbol() ? D.symbol() : "?");
  }
  return llvm::json::Object{{"name", V.name()},
                            {"dtype", dtypeName(V.dtype())},
                            {"shape", std::move(Shape)}};
}

static llvm::json::Value artifactJson(const Artifact &A);

static void printJson(const Graph &G, const Summary &S, const Artifact *A) {
  llvm::json::Array Inputs, Outputs;
  for (const Value *V : G.inputs())
    Inputs.push_back(valueToJson(*V));
  for (const Value *V : G.outputs())
    Outputs.push_back(valueToJson(*V));
  llvm::json::Object Ops;
  for (const auto &[Op, Count] : S.Ops)
    Ops[Op] = Count;
  llvm::json::Object Root{{"inputs", std::move(Inputs)},
                          {"outputs", std::move(Outputs)},
                          {"ops", std::move(Ops)},
                          {"parameters", S.Parameters}};
  if (!S.Partition.empty()) {
    Root["devices"] = S.Devices;
    Root["partition"] = S.Partition;
  }
  if (!S.Stages.empty()) {
    llvm::json::Array Stages;
    for (const StageSummary &St : S.Stages) {
      llvm::json::Object O{{"device", St.Device},
                           {"nodes", St.Nodes},
                           {"flops", St.Cost.Flops},
                           {"bytes", St.Cost.Bytes}};
      if (St.WeightBytes >= 0)
        O["weight_bytes"] = St.WeightBytes;
      Stages.push_back(std::move(O));
    }
    PlanShape Shape = S.Shape;
    Root["stages"] = std::move(Stages);
    Root["planned_shape"] =
        llvm::json::Object{{"batch", Shape.Batch}, {"seq", Shape.Seq}};
  }
  if (A)
    Root["artifact"] = artifactJson(*A);
  llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(Root)))
               << "\n";
}

static void printText(const Graph &G, const Summary &S) {
  llvm::raw_ostream &OS = llvm::outs();
  OS << "graph @" << G.name() << "\n";
  OS << "inputs:\n";
  for (const Value *V : G.inputs())
    OS << "  %" << V->name() << ": " << V->type().str() << "\n";
  OS << "outputs:\n";
  for (const Value *V : G.outputs())
    OS << "  %" << V->name() << ": " << V->type().str() << "\n";
  // Most frequent first; ties by name.
  std::vector<std::pair<std::string, int64_t>> Ops(S.Ops.begin(), S.Ops.end());
  std::stable_sort(Ops.begin(), Ops.end(), [](const auto &A, const auto &B) {
    return A.second > B.second;
  });
  OS << "ops: " << G.numNodes() << " nodes\n";
  for (const auto &[Op, Count] : Ops)
    OS << "  " << llvm::left_justify(Op, 24) << Count << "\n";
  OS << "parameters: " << S.Parameters << " in " << S.FloatConstants
     << " floating-point constants\n";
  if (!S.Partition.empty())
    OS << "partition: " << S.Partition << " over " << S.Devices << " devices\n";
  if (!S.Stages.empty()) {
    PlanShape Shape = S.Shape;
    OS << "stages: " << S.Stages.size() << " (costed at batch " << Shape.Batch
       << ", seq " << Shape.Seq << ")\n";
    for (const StageSummary &St : S.Stages)
      OS << "  device " << St.Device << ": " << St.Nodes << " nodes, "
         << llvm::format("%.4g", St.Cost.Flops) << " FLOPs, "
         << llvm::format("%.4g", St.Cost.Bytes) << " bytes, "
         << llvm::format("%.3f", St.Cost.seconds() * 1e3) << " ms"
         << (St.WeightBytes >= 0 ? llvm::formatv(", weights {0:f1} MiB",
                                                 St.WeightBytes / 1048576.0)
                                       .str()
                                 : std::string())
         << "\n";
  }
}

/// The stored tokenizer in brief: its model's type, vocabulary size,
/// truncation length (0: none) and normalizer's lowercasing.
static llvm::json::Value tokenizerJson(const Artifact &A) {
  auto Tok = tokenizer::Tokenizer::fromJson(A.Tokenizer, "the tokenizer");
  if (!Tok)
    return llvm::json::Object{{"error", llvm::toString(Tok.takeError())}};
  llvm::json::Object O{{"vocab_size", int64_t(Tok->vocabSize())},
                       {"max_length", int64_t(Tok->truncation().MaxLength)},
                       {"bytes", int64_t(A.Tokenizer.size())}};
  if (auto J = llvm::json::parse(A.Tokenizer)) {
    const llvm::json::Object *Root = J->getAsObject();
    const llvm::json::Object *Model = Root ? Root->getObject("model") : nullptr;
    const llvm::json::Object *Norm =
        Root ? Root->getObject("normalizer") : nullptr;
    if (std::optional<llvm::StringRef> T =
            Model ? Model->getString("type") : std::nullopt)
      O["type"] = *T;
    if (std::optional<bool> L =
            Norm ? Norm->getBoolean("lowercase") : std::nullopt)
      O["lowercase"] = *L;
  } else {
    llvm::consumeError(J.takeError());
  }
  return O;
}

static llvm::json::Value poolingJson(const Artifact &A) {
  if (!A.Meta.Pooling)
    return nullptr;
  return llvm::json::Object{{"output", A.Meta.Pooling->Output},
                            {"mode", A.Meta.Pooling->Mode},
                            {"normalize", A.Meta.Pooling->Normalize}};
}

static llvm::json::Value artifactJson(const Artifact &A) {
  llvm::json::Array Buckets;
  for (const BucketPlan &B : A.Plan.Buckets) {
    llvm::json::Object J{{"batch", B.Batch},
                         {"seq", B.Seq},
                         {"arena_bytes", B.ArenaBytes},
                         {"steps", int64_t(B.Steps.size())}};
    if (B.Tokens)
      J["tokens"] = B.Tokens;
    Buckets.push_back(std::move(J));
  }
  llvm::json::Object O{
      {"precision", A.Meta.Precision},
      {"arch", A.Meta.Arch},
      {"producer", A.Meta.Producer},
      {"batch_buckets", llvm::json::Array(A.Meta.BatchBuckets)},
      {"seq_buckets", llvm::json::Array(A.Meta.SeqBuckets)},
      {"token_buckets", llvm::json::Array(A.Meta.TokenBuckets)},
      {"buckets", std::move(Buckets)},
      {"kernels", int64_t(A.Plan.Kernels.size())},
      {"modules", int64_t(A.Plan.Modules.size())},
      {"weight_bytes", int64_t(A.Weights.size())},
      {"data_dependent", A.Meta.DataDependent},
      {"compile_command", A.Meta.CompileCommand},
      {"pooling", poolingJson(A)}};
  if (!A.Tokenizer.empty())
    O["tokenizer"] = tokenizerJson(A);
  if (A.Meta.SentenceMaxSeqLength)
    O["sentence_max_seq_length"] = A.Meta.SentenceMaxSeqLength;
  // What the runtime checks and pads by (docs/runtime.md).
  llvm::json::Object Roles;
  for (const IoSpec &In : A.Meta.Inputs)
    if (In.Role != IoRole::None)
      Roles[In.Name] = ioRoleName(In.Role);
  O["input_roles"] = std::move(Roles);
  llvm::json::Array Checks;
  for (const IndexCheck &C : A.Meta.IndexChecks)
    Checks.push_back(
        llvm::json::Object{{"input", C.Input},
                           {"node", C.Node},
                           {"table", C.Table},
                           {"table_size", C.TableSize},
                           {"reported_on_device", C.ReportedOnDevice}});
  O["index_checks"] = std::move(Checks);
  O["max_sequence_length"] = A.Meta.MaxSequenceLength;
  return O;
}

static void printArtifact(const Artifact &A) {
  llvm::raw_ostream &OS = llvm::outs();
  OS << "artifact: " << A.Meta.Producer << ", " << A.Meta.Precision << ", "
     << A.Meta.Arch << ", " << A.Plan.Kernels.size() << " kernels in "
     << A.Plan.Modules.size() << " modules, weights "
     << llvm::format("%.1f", A.Weights.size() / 1048576.0) << " MiB\n";
  if (!A.Meta.DataDependent.empty())
    OS << "shapes depend on the data: " << A.Meta.DataDependent
       << "\n(no buckets: plans are compiled for each request's shapes)\n";
  else
    OS << "buckets:\n";
  for (const BucketPlan &B : A.Plan.Buckets)
    OS << "  batch " << B.Batch << " seq " << B.Seq
       << (B.Tokens ? " tokens " + std::to_string(B.Tokens) + " (packed)"
                    : std::string())
       << ": " << B.Steps.size() << " steps, arena "
       << llvm::format("%.1f", B.ArenaBytes / 1048576.0) << " MiB\n";
  if (A.Meta.Pooling)
    OS << "output pooling: " << A.Meta.Pooling->Mode
       << (A.Meta.Pooling->Normalize ? ", L2-normalized" : "")
       << (A.Meta.Pooling->Output.empty()
               ? ""
               : " (%" + A.Meta.Pooling->Output + ")")
       << "\n";
  if (!A.Tokenizer.empty())
    OS << "tokenizer: " << llvm::formatv("{0}", tokenizerJson(A)) << "\n";
  if (A.Meta.SentenceMaxSeqLength)
    OS << "sentence_bert_config max_seq_length: " << A.Meta.SentenceMaxSeqLength
       << "\n";
  for (const IoSpec &In : A.Meta.Inputs)
    if (In.Role != IoRole::None)
      OS << "input %" << In.Name << ": " << ioRoleName(In.Role) << "\n";
  for (const IndexCheck &C : A.Meta.IndexChecks)
    OS << "input %" << C.Input << " indexes the " << C.Table << " table of "
       << C.Node << " (" << C.TableSize << " rows"
       << (C.ReportedOnDevice ? ", checked on the device too" : "") << ")\n";
  if (A.Meta.MaxSequenceLength)
    OS << "longest sequence the position tables allow: "
       << A.Meta.MaxSequenceLength << "\n";
  if (!A.Meta.CompileCommand.empty())
    OS << "compiled with: " << A.Meta.CompileCommand << "\n";
}

llvm::Error kiln::inspectCommand() {
  std::optional<Artifact> A;
  llvm::Expected<std::unique_ptr<Graph>> G =
      loadModelOrArtifact(InspectModel, &A);
  if (!G)
    return G.takeError();
  Summary S = summarize(**G);
  if (A)
    addPartition(S, *A);
  if (Json)
    printJson(**G, S, A ? &*A : nullptr);
  else {
    printText(**G, S);
    if (A)
      printArtifact(*A);
  }
  return llvm::Error::success();
}
