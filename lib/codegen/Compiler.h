//===- Compiler.h - a graph to an executable artifact -----------*- C++ -*-===//
//
// What `kiln compile` does, as a library:
//
//   graph --(bind-input, canonicalize-symbols, -O2, precision)-->
//         optimized IR                         (stored in the artifact)
//     for each bucket (batch, seq):
//       --(specialize, fold)--> static graph
//       --(lower: views alias, GEMMs to cuBLASLt, the rest to kernel rules,
//          liveness-planned arena)--> BucketPlan
//   all instantiations --(NVRTC, parallel, cached)--> CUBIN (+ PTX)
//
// The batch and seq symbols are those of the first graph input's first two
// dims, whatever the exporter named them; they are renamed `batch` and
// `seq` (canonicalize-symbols). GEMM lowering is in GemmLowering.h, the
// lowering of one bucket in BucketLowering.h. No GPU is needed.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_COMPILER_H
#define KILN_CODEGEN_COMPILER_H

#include "codegen/KernelLibrary.h"
#include "ir/Graph.h"
#include "kiln/Engine.h"
#include "passes/PassManager.h"
#include "passes/Precision.h"
#include "runtime/Artifact.h"

#include "llvm/Support/Error.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

struct CompileOptions {
  std::vector<int64_t> Batches = {1, 8, 32, 128, 256};
  /// Seq buckets; ignored when the model has no seq symbol.
  std::vector<int64_t> Seqs = {32, 128, 512};
  /// Token buckets (`kiln compile --tokens`): for each, a packed-token plan
  /// (pack-tokens) per (batch, seq) bucket of more than that many tokens.
  /// Empty: padded buckets only. A model pack-tokens refuses is an error.
  std::vector<int64_t> Tokens;
  kiln::Precision Precision = kiln::Precision::F32;
  /// What the kernels are compiled for: `targetFor(Arch)`, or fake facts in
  /// tests.
  TargetInfo Target;
  std::string CacheDir; // empty: no cache
  unsigned Jobs = 0;    // 0: one per hardware thread
  bool EmitPtx = true;
  /// The optimization pipeline; empty lowers the graph as it is (kernel
  /// tests use that to exercise one op).
  PassPipeline Pipeline = *namedPipeline("O2");
  /// `heads=R,ffn=R`: magnitude pruning right before the pipeline's
  /// prune-structured (see prune::runPipelineWithPruning); empty: none.
  std::string Prune;
  std::string ModelName;
  std::string CompileCommand;
  /// Graph inputs fixed at compile time (`kiln compile --bind`): each
  /// becomes a constant, as TensorRT fixes shape-tensor inputs, so that
  /// shapes and layouts computed from it are static in the plan.
  std::map<std::string, Tensor> BoundInputs;
  /// When set, the artifact's weights begin with exactly these bytes (an
  /// artifact's weights, `WeightsPrefixEntries` its entries), and a
  /// constant equal to one of those entries is not stored again. A shape
  /// compiled on demand uses it so that its engine shares the base
  /// engine's weights on the device and uploads only what it adds.
  const std::string *WeightsPrefix = nullptr;
  const std::vector<WeightEntry> *WeightsPrefixEntries = nullptr;
};

struct CompileStats {
  double Seconds = 0;
  double NvrtcSeconds = 0;
  unsigned Modules = 0;
  unsigned CacheHits = 0;
  unsigned Kernels = 0;
};

/// A compiler for EngineOptions::JitCompiler: recompiles an artifact's IR
/// (already optimized, so no pipeline runs) for one exact shape, caching
/// kernels in `CacheDir`.
BucketCompiler makeJitCompiler(std::string CacheDir);

/// Binds symbolic dims (`Bindings`: the options of specialize, symbol ->
/// size, may be empty) and runs fold-constants, infer-shapes, canonicalize,
/// cse and dce to a fixpoint, as every bucket is before lowering.
llvm::Error specializeGraph(Graph &G, const PassOptions &Bindings);

/// The first node (in order) whose result shape is not known: one not
/// static, or a NonZero of a computed value (its size is the data's);
/// null when every shape is known. `Why`, when given, describes it.
Node *firstUnknownShape(const Graph &G, std::string *Why = nullptr);

/// Compiles `G` (consumed) into an artifact. A graph whose shapes stay
/// unknown once its inputs' dims are bound (a size that depends on the
/// data) gets an artifact without buckets or kernels, its
/// Meta.DataDependent saying why: DataDependentRunner runs it.
llvm::Expected<Artifact> compileGraph(std::unique_ptr<Graph> G,
                                      const CompileOptions &Options,
                                      CompileStats *Stats = nullptr);

} // namespace kiln

#endif
