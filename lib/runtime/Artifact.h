//===- Artifact.h - the .kiln file ------------------------------*- C++ -*-===//
//
// A .kiln artifact is one compiled model: metadata, the optimized IR (with
// its weights elided), the weights buffer as the device holds it, the kernel
// modules and the per-bucket execution plans. docs/artifact.md describes the
// bytes.
//
// Reading never trusts the file: every length is checked against the bytes
// that are there, every section against its checksum, and the decoded plan
// against validatePlan, so the runtime can launch what it reads without
// looking again. Any defect is an error naming the file and the cause.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACT_H
#define KILN_RUNTIME_ARTIFACT_H

#include "ir/Graph.h"
#include "ir/Type.h"
#include "runtime/Plan.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// The format version this kiln writes and the only one it reads.
inline constexpr uint32_t ArtifactFormatVersion = 1;

/// The size of a GemmStep's stored algorithm: a cublasLtMatmulAlgo_t.
inline constexpr size_t GemmAlgoBytes = 64;

/// What a graph input stands for, as the compiler found it (the runtime
/// pads requests by it and never looks at names).
enum class IoRole : uint8_t {
  None,
  /// 1 for a real token, 0 for padding: a shorter sequence is padded with 0.
  AttentionMask,
  /// The segment ids of the token-type embedding.
  TokenTypes,
};

/// "attention_mask", "token_types" or "" (None).
llvm::StringRef ioRoleName(IoRole R);

/// A graph input or output as the model declares it (symbols kept). The
/// compiler names the dims that follow the batch and the sequence `batch`
/// and `seq` (the canonicalize-symbols pass).
struct IoSpec {
  std::string Name;
  DType Type = DType::F32;
  std::vector<Dim> Dims;
  IoRole Role = IoRole::None;
};

/// An IR constant whose data lives in the weights buffer.
struct WeightEntry {
  std::string Name;
  uint64_t Offset = 0;
  DType Type = DType::F32;
  std::vector<int64_t> Dims;
};

/// A graph input whose values index a table (token ids into the word
/// embedding, token types, positions, any Gather index taken from an input
/// through value-preserving ops), as the compiler found it. The runtime
/// checks host inputs against it before a run, and reports a device
/// kernel's out-of-range flag by it, with the reference executor's message.
struct IndexCheck {
  /// How the reference executor words the error.
  enum class Form : uint8_t {
    /// ONNX Gather: `index V is out of range for axis A of size N`.
    Gather,
    /// EmbedLayerNorm: `<Table> index V is out of range [0, N)`.
    Embed,
  };
  std::string Input; // the graph input's name
  std::string Node;  // Node::describe() of the node that gathers
  std::string Table; // Gather: "axis 0"; Embed: "word", "token type" ...
  Form Kind = Form::Gather;
  int64_t TableSize = 0; // the table's size along the gathered axis
  /// Indices in [-TableSize, 0) count from the back (ONNX, once).
  bool WrapNegative = true;
  /// Every kernel that gathers by it reports an index out of range to the
  /// context's IndexFault record (Plan.h), so an input on the device needs
  /// no copy to the host to be checked.
  bool ReportedOnDevice = false;
};

/// What a model's output already does to the encoder's states, as `kiln
/// compile` found it in the graph: a PoolNormalize feeding a graph output,
/// or none. A service reads it to know what it returns.
struct OutputPooling {
  std::string Output; // the graph output it feeds; empty for "none"
  std::string Mode;   // "mean", "cls" or "none"
  bool Normalize = false;
};

struct ArtifactMetadata {
  std::string ModelName;
  std::string Producer;  // "kiln <version>"
  std::string Precision; // "f32", "f16" or "bf16"
  std::string Arch;      // "sm_90a"; equals the plan's
  /// Strictly increasing. An empty SeqBuckets means seq is not fixed: the
  /// plan then has one bucket per batch, with Seq 0.
  std::vector<int64_t> BatchBuckets, SeqBuckets;
  /// Strictly increasing token counts of the packed-token plans (`kiln
  /// compile --tokens`); empty when there are none.
  std::vector<int64_t> TokenBuckets;
  std::vector<IoSpec> Inputs, Outputs;
  std::string CompileCommand; // how it was made, for `kiln inspect`
  /// Empty for a static model. Otherwise why its shapes are known only at
  /// run time (a node whose result size depends on the data): the artifact
  /// then holds the IR and weights but no buckets and no kernels, and
  /// DataDependentRunner (lib/codegen) compiles plans per request.
  std::string DataDependent;
  /// The longest sequence the model's position tables allow; 0: unknown
  /// (no position table bounds it, or the model has no sequence).
  int64_t MaxSequenceLength = 0;
  /// The inputs that index tables, checked on every request.
  std::vector<IndexCheck> IndexChecks;
  /// Unset when the compiler did not look (older artifacts).
  std::optional<OutputPooling> Pooling;
  /// sentence_bert_config.json's max_seq_length, when it lay beside the
  /// model; 0 when unknown.
  int64_t SentenceMaxSeqLength = 0;
  /// Every kernel of the plan waits for its predecessor before touching
  /// memory (kernels/templates/common.cuh, wait_for_predecessor), so the
  /// runtime may launch them with programmatic dependent launch. False for
  /// artifacts made before the kernels did.
  bool KernelsWaitForPredecessor = false;
};

struct Artifact;

/// How `kiln compile --devices N --partition ...` spread a model over N
/// devices (docs/multi-gpu.md). An artifact without one runs on one device;
/// with one, the artifact itself stays the whole model for one device
/// (what `--devices 0` and failover run), and a pipeline adds its stages.
struct PartitionPlan {
  enum class Mode : uint8_t {
    /// The whole model on every device; requests spread over them.
    Replicate,
    /// Stage s on device s; values crossing a cut are copied between them.
    Pipeline,
  };
  Mode Kind = Mode::Replicate;
  uint32_t Devices = 1;
  /// Pipeline: the shape the cuts were planned at (partition{batch,seq}).
  int64_t PlannedBatch = 0, PlannedSeq = 0;

  /// Where a stage input (or a whole-model output) comes from.
  struct Source {
    /// -1: the whole model's graph input `Index`; otherwise stage `Stage`'s
    /// graph output `Index` (an earlier stage for a stage input).
    int32_t Stage = -1;
    uint32_t Index = 0;
  };
  struct StageInfo {
    uint32_t Nodes = 0;
    /// At the planned shape, as the partition pass costed them.
    double Flops = 0, Bytes = 0;
    /// One per graph input of the stage's artifact, in order.
    std::vector<Source> Inputs;
  };
  /// Pipeline: one per stage; Artifact::Stages holds their artifacts.
  std::vector<StageInfo> Stages;
  /// Pipeline: one per whole-model graph output.
  std::vector<Source> Outputs;
};

llvm::StringRef partitionModeName(PartitionPlan::Mode M); // "replicate"...

struct Artifact {
  ArtifactMetadata Meta;
  /// The optimized IR before per-bucket specialization, printed with
  /// elided weights.
  std::string IrText;
  /// The weights buffer exactly as uploaded (Plan.WeightBytes long).
  std::string Weights;
  std::vector<WeightEntry> WeightEntries;
  ExecutablePlan Plan;
  /// The tokenizer.json of a model that takes text (the optional tokenizer
  /// section); empty when there is none.
  std::string Tokenizer;
  /// Set by `kiln compile --devices N` (N > 1); see PartitionPlan.
  std::optional<PartitionPlan> Partition;
  /// A pipeline's stages (Partition->Stages.size() of them), each a
  /// complete artifact: its part of the IR, only the weights it uses, its
  /// kernels, and a plan for every bucket of the whole model. Stages have
  /// no Partition and no Stages of their own.
  std::vector<Artifact> Stages;
};

/// Validates `A` and writes it to `Path` atomically: the bytes go to a
/// temporary file in the same directory, which is renamed over `Path` only
/// once complete, so no error leaves a partial file behind.
llvm::Error writeArtifact(const Artifact &A, llvm::StringRef Path);

/// Reads and validates an artifact (the file is mapped, not read).
llvm::Expected<Artifact> readArtifact(llvm::StringRef Path);

/// Decodes and validates an artifact held in memory; errors start with
/// `Name: `.
llvm::Expected<Artifact> parseArtifact(llvm::StringRef Bytes,
                                       llvm::StringRef Name);

/// The file's bytes; `A` should be valid (validateArtifact).
std::string serializeArtifact(const Artifact &A);

/// Everything the runtime trusts of a plan: buffers inside the weights or
/// their bucket's arena and large enough for what each step does with them,
/// kernel and module indices in range, launch shapes the hardware accepts,
/// GEMM shapes and dtypes cuBLASLt can run. Errors name the bucket and step.
llvm::Error validatePlan(const ExecutablePlan &Plan);

/// validatePlan plus the rest: metadata (precision, arch, buckets, I/O),
/// agreement of the plan's buckets and bindings with the metadata, and the
/// weight entries lying inside the weights buffer.
llvm::Error validateArtifact(const Artifact &A);

/// The artifact's IR with every elided constant's data taken from the
/// weights buffer (by name; dtype, shape and bounds checked), verified, so
/// it runs on the reference executor.
llvm::Expected<std::unique_ptr<Graph>> artifactGraph(const Artifact &A);

} // namespace kiln

#endif
