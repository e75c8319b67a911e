//===- KernelLibrary.h - lowering nodes to kernel launches ------*- C++ -*-===//
//
// Every op that runs as one or more CUDA kernels has a lowering rule here: it
// looks at a node whose operand and result types are all static (codegen
// runs after `specialize`) and says which template instantiation to launch,
// with which grid and which arguments. The bucket lowering
// (BucketLowering.cpp) turns the rule's operand/result/scratch references
// into arena and weight offsets; the compile driver (Compiler.cpp) compiles
// the instantiations with NVRTC and writes the plan.
//
// Nodes the driver handles itself never reach a rule: views that only change
// a shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity) alias their
// operand, and matrix products (FusedGemm, MatMul, Gemm) go to cuBLASLt.
//
// Templates live in kernels/templates/ and are compiled into the binary
// (templateSource); a rule may instead generate its source (FusedElementwise
// does), which is then compiled as its own module.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_KERNELLIBRARY_H
#define KILN_CODEGEN_KERNELLIBRARY_H

#include "ir/Graph.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln {

/// Facts about the target a rule may specialize on; tests pass fake ones.
struct TargetInfo {
  std::string Arch = "sm_90a";
  /// Streaming multiprocessors, which size grids meant to fill the GPU.
  int64_t SmCount = 132;
  /// A FusedGemm with the erf GELU runs as one kernel with the bias and
  /// GELU in its epilogue (gemm_gelu.cuh, sm_80 and newer) when its rows
  /// (tokens) are at most this many, else as cuBLASLt and a separate GELU
  /// pass (`kiln compile --gelu-gemm`). 0 by default: on an H100 the fused
  /// kernel (mma.sync) was slower than cuBLASLt plus the pass at every
  /// MiniLM shape measured, 1x128 to 256x128 (docs/benchmarks.md, run 8).
  int64_t FusedGeluGemmMaxRows = DefaultFusedGeluGemmMaxRows;
  static constexpr int64_t DefaultFusedGeluGemmMaxRows = 0;
  /// Every GEMM of at most this many rows (tokens) that gemm_gelu.cuh's
  /// main loop covers runs as that kernel instead of cuBLASLt, with its
  /// bias (and erf GELU) in the epilogue; one followed by a SkipLayerNorm
  /// on sm_90 runs with the LayerNorm as one kernel
  /// (gemm_skip_layernorm_f16). `kiln compile --small-gemm-rows`; 0: never.
  int64_t SmallGemmMaxRows = DefaultSmallGemmMaxRows;
  static constexpr int64_t DefaultSmallGemmMaxRows = 0;
  /// A FusedGemm with the erf GELU and a bias whose rows (tokens) are at
  /// least this many runs as one CUTLASS GEMM with both in its epilogue
  /// (GemmStep::Epilogue::GeluErfBias, sm_90 targets, builds that have
  /// CUTLASS) instead of cuBLASLt and the pass; ahead of
  /// FusedGeluGemmMaxRows (`kiln compile --gelu-gemm`). 0: always,
  /// NeverCutlassGeluGemm: never. 1024 by default: at 1536x384 (MiniLM's
  /// FFN) on an H200 it took 6-7% less time than cuBLASLt + the pass at
  /// 1024 and 2048 rows, 20-30% less from 4096 to 32768, and as long at
  /// 128 (docs/runtime.md).
  int64_t CutlassGeluGemmMinRows = DefaultCutlassGeluGemmMinRows;
  static constexpr int64_t DefaultCutlassGeluGemmMinRows = 1024;
  static constexpr int64_t NeverCutlassGeluGemm = INT64_MAX;
  /// A GEMM whose epilogue is a bias alone, of at least this many rows,
  /// runs on the CUTLASS kernels (GemmStep::Epilogue::CutlassBias, sm_90
  /// targets, builds that have CUTLASS) instead of cuBLASLt, adding a
  /// SkipLayerNorm's skip as well with ResidualGemm (CutlassResidualBias)
  /// (`kiln compile --cutlass-bias-gemm off|auto|on`: never, from
  /// AutoCutlassBiasGemmMinRows, always). From 32768 rows by default: the
  /// kernel alone was 5%, 20% and 8% ahead of cuBLASLt on MiniLM's QKV,
  /// attention-output and FFN-output GEMMs at 32768 rows and behind from
  /// 8192 rows down (H200, run 18), and on an H100 the forward at 256x128
  /// took 2.232-2.242 against cuBLASLt's 2.246-2.249 ms in six turns
  /// (docs/benchmarks.md, run 19).
  int64_t CutlassBiasGemmMinRows = AutoCutlassBiasGemmMinRows;
  static constexpr int64_t AutoCutlassBiasGemmMinRows = 32768;
  static constexpr int64_t NeverCutlassBiasGemm = INT64_MAX;
  /// `kiln compile --gelu-gemm tanh`: a FusedGemm's erf GELU runs as
  /// cuBLASLt's GELU epilogue, which is the tanh approximation
  /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), ahead of every choice
  /// above. Not the model's function: it differs from the erf GELU by up to
  /// 4.7e-4 (at x = -2.70). Off by default.
  bool GeluTanhApprox = false;
  /// A cuBLASLt GEMM whose result only a SkipLayerNorm reads, as its x,
  /// adds the skip itself (GemmStep::Epilogue::Residual: C with beta 1,
  /// the bias too if it had none and the SkipLayerNorm has one), and the
  /// SkipLayerNorm runs as a LayerNorm of that result: one read of
  /// [rows, width] fewer in the LayerNorm, one more inside the GEMM
  /// (`kiln compile --residual-gemm on|off`). On by default: on an H100
  /// all-MiniLM-L6-v2 took 0.146 against 0.149 ms at 1x128 and 1.116
  /// against 1.127 on 256 mixed rows, 0.371 against 0.368 at 32x128
  /// (docs/benchmarks.md, run 17).
  bool ResidualGemm = true;
  /// The tiling of attention_mma (attention.cuh's MmaShape), for timing
  /// and tests; 0 keeps the lowering's choice. Query rows a warp: 16 or 32
  /// (row tiles 1 or 2); keys a shared-memory tile (16 ... 128); warps a
  /// CTA; CTAs an SM must hold (a register cap of 65536 / (threads x this)).
  int AttentionRowTiles = 0;
  int AttentionKeyTile = 0;
  int AttentionWarps = 0;
  int AttentionMinBlocks = 0;
  /// attention_short (attention.cuh: every key of a sequence of at most
  /// 128, head_dim 16 or 32, in shared memory with the CTA's queries, one
  /// barrier). Auto: where it applies, but not on grids of at most one
  /// 4-warp CTA an SM, which keep attention_mma's 128-key tile, and not
  /// with a tiling named above. On: where it applies, a named tiling giving
  /// only its warps and CTAs an SM. Off: never (`kiln compile
  /// --attention-short auto|on|off`). On an H100, MiniLM's attention at
  /// 256 x 128 took 0.050 against attention_mma's 0.069 ms, and the small
  /// grid (1 x 128) was even (docs/benchmarks.md, run 18).
  enum class Switch { Auto, On, Off };
  Switch AttentionShort = Switch::Auto;
  /// A GEMM + SkipLayerNorm of kiln's own (SmallGemmMaxRows) runs as
  /// gemm_ksplit_layernorm_f16, the cluster splitting K (each CTA a slice
  /// of K for whole rows, the partial sums added through distributed
  /// shared memory), instead of gemm_skip_layernorm_f16, the cluster
  /// splitting N. Auto (the default): where it applies and its row blocks
  /// times the cluster are at most half the SMs (each row block reads the
  /// whole weight once). On an H100 all-MiniLM-L6-v2 with kiln's own GEMMs
  /// took 0.145 against 0.155 ms at 1x128 (64 CTAs a kernel) and 0.249
  /// against 0.205 at 4x128 (128 CTAs), docs/benchmarks.md, run 19. On:
  /// wherever it applies. Off: never (`kiln compile --ksplit-layernorm
  /// auto|on|off`).
  Switch KSplitLayerNorm = Switch::Auto;
  /// kiln's own GEMMs whose B is a constant (a weight) issue the copies of
  /// its first k-steps before they wait for the kernel before them, so
  /// under programmatic dependent launch those loads overlap it (`kiln
  /// compile --prefetch-weights on|off`). On by default: on an H100
  /// all-MiniLM-L6-v2 with kiln's own GEMMs took 0.155 against 0.167 ms
  /// at 1x128 and 0.206 against 0.217 at 4x128 (docs/benchmarks.md, run
  /// 19).
  bool PrefetchWeights = true;
};

/// The facts of `Arch`: sm_90 and sm_90a have the SMs of an H100 or H200
/// (132). An arch does not fix its GPUs' SM count; any other arch gets the
/// H100's too, which sizes grids for it without changing results.
TargetInfo targetFor(llvm::StringRef Arch);

/// The sm number of an arch name ("sm_90a" -> 90); 0 when unreadable.
unsigned archNumber(llvm::StringRef Arch);

/// One kernel parameter, in the kernel's parameter order.
struct LaunchArg {
  enum class Kind {
    Operand,
    Result,
    Scratch,
    I32,
    I64,
    F32,
    /// The context's IndexFault record (common.cuh), a pointer.
    IndexFault,
    /// An int: the number of the artifact's IndexCheck for this node's
    /// table `Table` (IndexBounds.h), or -1 when no graph input indexes it.
    IndexCheck,
  };
  Kind K = Kind::I32;
  unsigned Index = 0; // Operand, Result, Scratch
  int64_t Int = 0;
  float Float = 0;
  std::string Table; // IndexCheck: "word", "axis 0" ... as IndexCheck::Table

  static LaunchArg operand(unsigned I) { return {Kind::Operand, I, 0, 0, {}}; }
  static LaunchArg result(unsigned I) { return {Kind::Result, I, 0, 0, {}}; }
  static LaunchArg scratch(unsigned I) { return {Kind::Scratch, I, 0, 0, {}}; }
  static LaunchArg i32(int64_t V) { return {Kind::I32, 0, V, 0, {}}; }
  static LaunchArg i64(int64_t V) { return {Kind::I64, 0, V, 0, {}}; }
  static LaunchArg f32(float V) { return {Kind::F32, 0, 0, V, {}}; }
  static LaunchArg indexFault() { return {Kind::IndexFault, 0, 0, 0, {}}; }
  static LaunchArg indexCheck(std::string Table) {
    return {Kind::IndexCheck, 0, 0, 0, std::move(Table)};
  }
};

struct KernelLaunch {
  /// The template file ("layernorm.cuh"), or for generated code a module
  /// name unique to the source (the driver compiles each distinct source
  /// once).
  std::string Module;
  /// Empty for templates; the full CUDA source for generated kernels.
  std::string Source;
  /// The instantiation: "kiln::skip_layernorm<384, __half>". For generated
  /// source, the extern "C" kernel name.
  std::string NameExpr;
  uint32_t Grid[3] = {1, 1, 1};
  uint32_t Block[3] = {1, 1, 1};
  uint32_t SharedBytes = 0;
  std::vector<LaunchArg> Args;
};

struct NodeLowering {
  /// Temporaries the launches share, alive only while this node runs.
  std::vector<uint64_t> ScratchBytes;
  /// Run in order on one stream.
  std::vector<KernelLaunch> Launches;
};

using LoweringRule = std::function<llvm::Expected<NodeLowering>(
    const Node &, const TargetInfo &)>;

/// Op name -> rule. Each kernel family registers its rules from its own
/// file (registerFusedKernels, registerGenericKernels).
class KernelRegistry {
public:
  static const KernelRegistry &get();
  void add(llvm::StringRef Op, LoweringRule Rule) {
    Rules[Op] = std::move(Rule);
  }
  const LoweringRule *lookup(llvm::StringRef Op) const {
    auto It = Rules.find(Op);
    return It == Rules.end() ? nullptr : &It->second;
  }

private:
  llvm::StringMap<LoweringRule> Rules;
};

void registerFusedKernels(KernelRegistry &R);
void registerAttentionKernels(KernelRegistry &R);
void registerGenericKernels(KernelRegistry &R);
void registerRowKernels(KernelRegistry &R);

/// A SkipLayerNorm(x, skip, scale, bias?, extra?) whose x already holds
/// x + skip (+ extra): the LayerNorm of x with its scale and bias
/// (TargetInfo::ResidualGemm).
llvm::Expected<NodeLowering> lowerSkipLayerNormAsLayerNorm(const Node &N);

/// The source of a file in kernels/templates/, or empty when there is none.
llvm::StringRef templateSource(llvm::StringRef FileName);
/// Every template file as (name, source): the include set NVRTC sees.
const std::vector<std::pair<llvm::StringRef, llvm::StringRef>> &
templateSources();

/// The CUDA type name for a dtype: float, __half, __nv_bfloat16, double,
/// int64_t, int32_t, int8_t, uint8_t, bool.
llvm::StringRef cudaTypeName(DType T);

} // namespace kiln

#endif
