//===- PruneMagnitude.cpp - zero the smallest heads and FFN neurons -------===//
//
// Magnitude-based structured pruning at compile time: in each attention
// block (Pruning.h) the round(heads * H) heads of smallest L1 norm, and in
// each FFN block the round(ffn * W) neurons of smallest L1 norm, are zeroed;
// prune-structured then removes them. Norms are over weights only:
//
//   head h      sum |w| over its q, k and v columns of the projection and
//               its input rows of the output projection
//   neuron j    sum |w| over column j of W1 and row j of W2
//
// When an FFN's width is a multiple of ffn-multiple (default 64), the
// number of neurons zeroed is adjusted so that the remaining width is the
// nearest nonzero multiple of it: 0.33 of 1536 zeroes 512, leaving 1024,
// rather than 507, leaving 1029. GEMM tiles want it: on an H100 the
// MiniLM FFN at width 1032 (a multiple of 8) ran 11% slower end to end than
// at 1024 (docs/benchmarks.md).
//
// A zeroed head gets zero q, k and v columns and bias entries and zero
// output-projection rows; a zeroed neuron a zero W1 column, bias entry and W2
// row, which is what structured pruning in PyTorch leaves behind. Ties go to
// the lower index. This changes the model's outputs (it is pruning, not an
// optimization): kiln compile --prune-report measures by how much.
//
//===----------------------------------------------------------------------===//
#include "ir/Error.h"
#include "passes/Passes.h"
#include "passes/Pruning.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <numeric>

namespace kiln {
namespace {

using namespace prune;

/// The `round(Ratio * Scores.size())` indices of smallest score, ascending;
/// when the width is a multiple of `Multiple`, so many that what remains is
/// the nearest nonzero multiple of it (GEMM kernels run best on aligned
/// widths), unless every unit goes.
std::vector<int64_t> smallest(const std::vector<double> &Scores, double Ratio,
                              int64_t Multiple = 1) {
  int64_t Width = int64_t(Scores.size());
  int64_t Count = std::llround(Ratio * double(Width));
  if (Multiple > 1 && Width % Multiple == 0 && Count < Width) {
    int64_t Kept = std::max<int64_t>(Multiple, (Width - Count + Multiple / 2) /
                                                   Multiple * Multiple);
    Count = Width - Kept;
  }
  std::vector<int64_t> Order(Scores.size());
  std::iota(Order.begin(), Order.end(), 0);
  std::stable_sort(Order.begin(), Order.end(),
                   [&](int64_t A, int64_t B) { return Scores[A] < Scores[B]; });
  Order.resize(size_t(std::min<int64_t>(Count, int64_t(Order.size()))));
  llvm::sort(Order);
  return Order;
}

int64_t zeroHeads(Graph &G, Node &Attention, double Ratio, PassContext &Ctx) {
  AttentionBlock B;
  if (auto Why = findAttentionBlock(Attention, B)) {
    Ctx.debug() << "prune-magnitude: " << Attention.describe() << ": " << *Why
                << "\n";
    return 0;
  }
  std::vector<double> OutL1 = weightL1(*B.Out, false);
  std::vector<double> Scores(B.Heads, 0.0);
  std::vector<double> L1;
  for (int Part = 0; Part < 3; ++Part) {
    if (Part == 0 || !B.Packed)
      L1 = weightL1(*B.Proj[Part], true);
    for (int64_t H = 0; H < B.Heads; ++H)
      for (int64_t C : B.columns(Part, H))
        Scores[H] += L1[C];
  }
  for (int64_t H = 0; H < B.Heads; ++H)
    for (int64_t E = 0; E < B.HeadDim; ++E)
      Scores[H] += OutL1[H * B.HeadDim + E];

  std::vector<int64_t> Heads = smallest(Scores, Ratio);
  if (Heads.empty())
    return 0;
  std::vector<int64_t> Rows;
  for (int64_t H : Heads)
    for (int64_t E = 0; E < B.HeadDim; ++E)
      Rows.push_back(H * B.HeadDim + E);
  if (B.Packed) {
    std::vector<int64_t> Cols;
    for (int Part = 0; Part < 3; ++Part)
      for (int64_t H : Heads)
        llvm::append_range(Cols, B.columns(Part, H));
    zeroOutputs(G, *B.Proj[0], Cols);
  } else {
    for (Node *P : B.projections())
      zeroOutputs(G, *P, Rows);
  }
  zeroInputs(G, *B.Out, Rows);
  return int64_t(Heads.size());
}

int64_t zeroNeurons(Graph &G, Node &Down, double Ratio, int64_t Multiple,
                    PassContext &Ctx) {
  FfnBlock F;
  if (auto Why = findFfnBlock(Down, F)) {
    Ctx.debug() << "prune-magnitude: " << Down.describe() << ": " << *Why
                << "\n";
    return 0;
  }
  std::vector<double> Scores = weightL1(*F.Up, true);
  std::vector<double> DownL1 = weightL1(Down, false);
  for (int64_t J = 0; J < F.Width; ++J)
    Scores[J] += DownL1[J];
  std::vector<int64_t> Neurons = smallest(Scores, Ratio, Multiple);
  if (Neurons.empty())
    return 0;
  zeroOutputs(G, *F.Up, Neurons);
  zeroInputs(G, Down, Neurons);
  return int64_t(Neurons.size());
}

} // namespace

llvm::Expected<bool> runPruneMagnitude(Graph &G, const PassOptions &Options,
                                       PassContext &Ctx) {
  auto HeadRatio = parseRatio("heads", Options.getString("heads", "0"));
  if (!HeadRatio)
    return HeadRatio.takeError();
  auto FfnRatio = parseRatio("ffn", Options.getString("ffn", "0"));
  if (!FfnRatio)
    return FfnRatio.takeError();
  auto Multiple = Options.getInt("ffn-multiple", 64);
  if (!Multiple)
    return Multiple.takeError();
  if (*Multiple < 1)
    return makeError("option 'ffn-multiple' must be positive, got " +
                     llvm::Twine(*Multiple));
  int64_t Heads = 0, Neurons = 0;
  for (Node *N : G.nodeList()) {
    if (N->opName() == "Attention" && *HeadRatio > 0) {
      Heads += zeroHeads(G, *N, *HeadRatio, Ctx);
      continue;
    }
    if (*FfnRatio > 0 && isFfnCandidate(*N))
      Neurons += zeroNeurons(G, *N, *FfnRatio, *Multiple, Ctx);
  }
  Ctx.bumpStat("heads-zeroed", Heads);
  Ctx.bumpStat("neurons-zeroed", Neurons);
  return Heads + Neurons > 0;
}

} // namespace kiln
