//===- DataDependent.h - graphs whose shapes depend on the data -*- C++ -*-===//
//
// A static plan needs every shape at compile time. Some graphs cannot have
// that: NonZero's result size is its input's count of nonzeros, and a Range,
// Expand or Reshape whose size operand is computed from input *values* has
// a shape only once those values exist. `kiln compile` writes such a model
// as an artifact without buckets (ArtifactMetadata::DataDependent says
// which node), and this runner executes it, one request at a time, the way
// torch.compile handles a graph break:
//
//   1. Bind every symbolic input dim to the request's size and fold
//      (specializeGraph). Most shapes become static.
//   2. Take the first node whose result shape is still unknown. Compute its
//      operands on the GPU: the graph cut down to them is a static plan.
//   3. Operands of at most 16 elements (a shape, a limit, an axis) become
//      constants and the graph is folded again; the node usually becomes
//      static. A NonZero over a larger tensor gets its count of nonzeros
//      (counted on the host, as TensorRT reads a data-dependent size back)
//      as its `count` attribute, which makes its result static; the GPU
//      kernel then computes the indices. Any other node that stays unknown
//      runs on the host with its reference implementation, and its results
//      become graph inputs of the shapes they turned out to have.
//   4. Repeat until every shape is static, then run the rest on the GPU.
//
// Plans are compiled with NVRTC as needed and kept (up to MaxPlans, oldest
// dropped first), keyed by the printed graph: a request whose shapes, bound
// values and data-dependent sizes were seen before reuses its plans. Each
// plan is an Engine with its own copy of the weights. Work before a break
// is done twice (once for the operands, once in the final plan), and a
// request pays one host synchronization per break.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_DATADEPENDENT_H
#define KILN_CODEGEN_DATADEPENDENT_H

#include "codegen/KernelLibrary.h"
#include "ir/Graph.h"
#include "kiln/Engine.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kiln {

struct DataDependentOptions {
  TargetInfo Target;
  std::string CacheDir; // NVRTC's cache; empty: none
  EngineOptions Engine; // for every plan (its JitCompiler is not used)
  unsigned MaxPlans = 16;
};

class DataDependentRunner {
public:
  /// `G` is optimized already and in its storage precision, as an
  /// artifact's IR is (artifactGraph).
  static llvm::Expected<std::unique_ptr<DataDependentRunner>>
  create(std::unique_ptr<Graph> G, DataDependentOptions Options = {});
  ~DataDependentRunner();

  /// Runs one request; `Inputs` in graph-input order, outputs in
  /// graph-output order. Requests are serialized.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs);

  /// Plans compiled so far (they are kept up to MaxPlans).
  unsigned plansCompiled() const { return Compiled; }
  /// Nodes run on the host so far, over all requests.
  unsigned hostNodes() const { return HostNodes; }
  /// Data-dependent sizes (NonZero counts) read back so far.
  unsigned sizesRead() const { return SizesRead; }

private:
  DataDependentRunner(std::unique_ptr<Graph> G, DataDependentOptions Options);

  /// Compiles (or reuses) the static plan of `G` and runs it.
  llvm::Expected<std::vector<Tensor>> runStatic(const Graph &G,
                                                llvm::ArrayRef<Tensor> Inputs);

  struct Plan {
    std::unique_ptr<Engine> E;
    std::unique_ptr<ExecutionContext> Ctx;
    uint64_t LastUse = 0;
  };
  std::unique_ptr<Graph> G;
  DataDependentOptions Options;
  std::map<std::string, Plan> Plans;
  uint64_t Clock = 0;
  unsigned Compiled = 0;
  unsigned HostNodes = 0;
  unsigned SizesRead = 0;
  std::mutex Mutex;
};

} // namespace kiln

#endif
