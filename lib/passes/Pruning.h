//===- Pruning.h - the structures that structured pruning removes -*- C++ -*-===//
//
// What prune-structured and prune-magnitude share: finding the two
// structures whose units can be removed whole, measuring and rewriting their
// weights, and the driver that `kiln-opt --prune` and `kiln compile --prune`
// use.
//
//   attention block   proj(x) -> Attention{num_heads = H} -> out(heads)
//                     proj is one packed GEMM [K, 3*H*D] (q | k | v, as
//                     merge-qkv makes it) or three GEMMs [K, H*D]; out is a
//                     GEMM [H*D, N]. Unit: a head, i.e. D output columns of
//                     each of q, k and v and D input rows of out.
//   FFN block         up(x) -> act -> down(h): two GEMMs, up's result used
//                     only by down. Unit: a neuron, i.e. one output column
//                     of up (and its bias) and one input row of down.
//
// A GEMM is a FusedGemm or a MatMul (what -O2 leaves of a projection whose
// zero bias canonicalize removed) with a constant 2-D weight and, for a
// FusedGemm, an optional constant bias. Weights are addressed as [inputs,
// outputs] whatever their storage: a FusedGemm with trans_b keeps them as
// [outputs, inputs].
//
//===----------------------------------------------------------------------===//
#ifndef KILN_PASSES_PRUNING_H
#define KILN_PASSES_PRUNING_H

#include "passes/PassManager.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln::prune {

struct AttentionBlock {
  Node *Attention = nullptr;
  /// The projections producing q, k and v (one node when packed, or when
  /// identical projections were merged by cse), and the first column of each
  /// one's part in its projection's result.
  Node *Proj[3] = {nullptr, nullptr, nullptr};
  int64_t Offset[3] = {0, 0, 0};
  bool Packed = false;
  /// The mask's axis that indexes heads, when it has one of size H (MPNet's
  /// relative position bias); -1 when the mask is the same for every head.
  int64_t MaskHeadAxis = -1;
  Node *Out = nullptr;
  int64_t Heads = 0, HeadDim = 0;

  /// The distinct projection nodes.
  std::vector<Node *> projections() const;
  /// The columns of head `H` in projection `Part` (0 q, 1 k, 2 v).
  std::vector<int64_t> columns(int Part, int64_t H) const;
};

struct FfnBlock {
  Node *Up = nullptr, *Down = nullptr;
  int64_t Width = 0;
};

/// Fills `Block` with the attention block of `Attention`, or says why it is
/// none.
std::optional<std::string> findAttentionBlock(Node &Attention,
                                              AttentionBlock &Block);
/// Whether `N` is a FusedGemm or MatMul of what another one computes: the
/// second GEMM of an FFN block, if findFfnBlock agrees.
bool isFfnCandidate(const Node &N);
/// Fills `Block` with the FFN block whose second GEMM is `Down`, or says why
/// it is none.
std::optional<std::string> findFfnBlock(Node &Down, FfnBlock &Block);

/// Sum of |w| over each output column (`Outputs`) or each input row of a
/// GEMM's weight.
std::vector<double> weightL1(const Node &Gemm, bool Outputs);
/// Whether output `J` of a GEMM has a zero weight column and a zero (or
/// absent) bias entry.
bool outputIsZero(const Node &Gemm, const std::vector<double> &ColumnL1,
                  int64_t J);

/// Keeps only the outputs `Kept` (in this order) of a GEMM: weight
/// columns and bias entries; the result's last dim follows.
void keepOutputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Kept);
/// Keeps only the input rows `Kept` of a GEMM's weight.
void keepInputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Kept);
/// Sets outputs `Zeroed` of a GEMM (weight columns and bias entries) to
/// zero.
void zeroOutputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Zeroed);
/// Sets the input rows `Zeroed` of a GEMM's weight to zero.
void zeroInputs(Graph &G, Node &Gemm, llvm::ArrayRef<int64_t> Zeroed);

/// Elements of the floating-point constants in use: what `kiln inspect`
/// reports as parameters once dce has run (a pipeline measured halfway may
/// hold constants that only dce would remove).
int64_t countParameters(const Graph &G);

/// Runs `Pipeline` with magnitude pruning (`Spec` is `heads=R,ffn=R`) right
/// before its prune-structured step, or at its end followed by
/// prune-structured when it has none, and reports to `Report` the parameter,
/// head and FFN neuron counts of the result and of the same pipeline without
/// pruning.
llvm::Error runPipelineWithPruning(Graph &G,
                                   llvm::ArrayRef<PipelineStep> Pipeline,
                                   llvm::StringRef Spec,
                                   const PipelineOptions &Options,
                                   llvm::raw_ostream &Report);

/// A pruning ratio in [0, 1], the value of option `Name`.
llvm::Expected<double> parseRatio(llvm::StringRef Name, llvm::StringRef Text);
/// Checks a `heads=R,ffn=R` spec.
llvm::Error checkPruneSpec(llvm::StringRef Spec);

} // namespace kiln::prune

#endif
