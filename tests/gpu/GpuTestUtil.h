//===- GpuTestUtil.h - kernels on the GPU vs the reference executor -------===//
//
// Every GPU test goes through the path `kiln compile` takes (lowering,
// NVRTC, the artifact format) and then the runtime, and compares with the
// CPU reference executor on the same random inputs. Compilation runs on
// every machine; without a GPU the test then skips and says why.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_GPU_GPUTESTUTIL_H
#define KILN_TESTS_GPU_GPUTESTUTIL_H

#include "codegen/Compiler.h"
#include "ir/Graph.h"
#include "kiln/Tensor.h"
#include "passes/PassManager.h"
#include "passes/Precision.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace kiln {

/// A tiling of attention_mma (TargetInfo::Attention*); all zeros keep the
/// lowering's choice.
struct AttentionTiling {
  int RowTiles = 0, KeyTile = 0, Warps = 0, MinBlocks = 0;
  /// TargetInfo::AttentionShort: whether attention_short may run.
  TargetInfo::Switch Short = TargetInfo::Switch::Auto;
  void applyTo(TargetInfo &Target) const {
    Target.AttentionRowTiles = RowTiles;
    Target.AttentionKeyTile = KeyTile;
    Target.AttentionWarps = Warps;
    Target.AttentionMinBlocks = MinBlocks;
    Target.AttentionShort = Short;
  }
  /// "r2_k32_w4_b0", "tiled" (attention_short off), "short_w4_b1"
  /// (attention_short forced on), or "default"; a test-name suffix.
  std::string name() const;
};

/// The tilings the attention GPU tests run besides the default one (each a
/// candidate the timing test measures): attention_mma at 32 queries a warp
/// with 32 or 64 keys a tile, 128 keys a tile, 2-warp CTAs, and its own
/// tiling where attention_short would run; attention_short forced onto 4
/// warps without a register cap (small grids), and onto 2 and 1 warps.
const std::vector<AttentionTiling> &attentionTilings();

struct GpuCheck {
  double AbsTol = 1e-4;
  double RelTol = 1e-3;
  uint64_t Seed = 1;
  /// Integers are drawn from [0, IntRange) when > 0 (else [0, 2)).
  int64_t IntRange = 0;
  /// The pipeline to run before lowering (empty lowers the graph as
  /// written).
  PassPipeline Pipeline;
  kiln::Precision Precision = kiln::Precision::F32;
  /// TargetInfo::FusedGeluGemmMaxRows: 0 keeps cuBLASLt and the GELU pass.
  int64_t FusedGeluGemmMaxRows = INT64_MAX;
  /// The CUTLASS GEMM for the erf GELU: TargetInfo::CutlassGeluGemmMinRows
  /// 0 if set, else never.
  bool CutlassGeluGemm = false;
  /// Every bias GEMM on the CUTLASS kernels: TargetInfo::CutlassBiasGemmMinRows
  /// 0 if set, else never.
  bool CutlassBiasGemm = false;
  /// TargetInfo::SmallGemmMaxRows: kiln's own GEMM (and GEMM + SkipLayerNorm)
  /// up to this many rows; 0 keeps cuBLASLt.
  int64_t SmallGemmMaxRows = 0;
  /// TargetInfo::ResidualGemm: the skip of a SkipLayerNorm added by the
  /// GEMM before it.
  bool ResidualGemm = TargetInfo().ResidualGemm;
  /// TargetInfo::KSplitLayerNorm: which cluster kernel a GEMM +
  /// SkipLayerNorm of kiln's own runs as.
  TargetInfo::Switch KSplitLayerNorm = TargetInfo().KSplitLayerNorm;
  /// TargetInfo::PrefetchWeights: kiln's own GEMMs copy weights before
  /// they wait for the kernel before them.
  bool PrefetchWeights = TargetInfo().PrefetchWeights;
  AttentionTiling Attention;
};

/// Compiles `G` (every dim static) with `Options` (two NVRTC jobs, no PTX)
/// through the artifact file format, as a real load would be, then, when a
/// CUDA device is present, runs it on the GPU with `Inputs` into `Outputs`.
/// Without a GPU the test skips after compiling. Returns whether there are
/// outputs to look at (false once the test skipped or failed fatally).
bool runOnGpu(std::unique_ptr<Graph> G, llvm::ArrayRef<Tensor> Inputs,
              std::vector<Tensor> &Outputs, CompileOptions Options = {});

/// Parses `IrText` and compiles it as written (no pipeline) for `Target`,
/// without PTX: the plan a lowering test inspects. Fails the test and
/// returns nullopt on an error.
std::optional<Artifact> compileForTarget(const std::string &IrText,
                                         const TargetInfo &Target);

/// A constant of `Dims` with values uniform in [-0.5, 0.5), in the text
/// form; `DType` is "f32" or "f16".
std::string randomConst(const std::string &Name, const std::string &DType,
                        std::vector<int64_t> Dims, uint64_t Seed);

/// Parses `IrText` (all dims static), compiles it for sm_90a, then, when a
/// CUDA device is present, runs it on the GPU and on the reference executor
/// with the same random inputs and compares every output within
/// AbsTol + RelTol * |reference|; without a GPU it skips after compiling.
void expectGpuMatchesReference(llvm::StringRef IrText,
                               const GpuCheck &Check = {});
void expectGpuMatchesReference(const Graph &G, const GpuCheck &Check = {});

/// A request of the BERT fixtures' three inputs, [Batch, Seq] each: ids in
/// [1, 500], a mask with row 0 full and the other rows of random lengths,
/// token types 0.
std::vector<HostTensor> bertRequest(int64_t Batch, int64_t Seq,
                                    std::mt19937_64 &Rng);

} // namespace kiln

#endif
