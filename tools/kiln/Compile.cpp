//===- Compile.cpp - kiln compile: a model to a .kiln artifact ------------===//
//
// Parses the options into CompileOptions, calls lib/codegen's compileGraph,
// optionally reports what pruning changed and autotunes the GEMMs on this
// machine's GPU, and writes the artifact.
//
//===----------------------------------------------------------------------===//
#include "Kiln.h"

#include "codegen/Compiler.h"
#include "codegen/Nvrtc.h"
#include "codegen/StageSplit.h"
#include "codegen/TextFiles.h"
#include "common/ModelLoader.h"
#include "common/Npy.h"
#include "common/RandomInputs.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "runtime/Bucketing.h"
#include "runtime/CutlassKernels.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <map>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string> CompileModel(cl::Positional, cl::Required,
                                         cl::desc("<model .onnx|.kir|->"),
                                         cl::sub(compileSubcommand()));
static cl::opt<std::string> CompileOut("o", cl::Required,
                                       cl::desc("The artifact to write"),
                                       cl::value_desc("model.kiln"),
                                       cl::sub(compileSubcommand()));
static cl::opt<std::string>
    BatchList("batch", cl::init("1,8,32,128,256"),
              cl::desc("Batch buckets (comma-separated)"),
              cl::value_desc("1,8,32"), cl::sub(compileSubcommand()));
static cl::opt<std::string>
    SeqList("seq", cl::init("32,128,512"),
            cl::desc("Sequence-length buckets (comma-separated)"),
            cl::value_desc("128"), cl::sub(compileSubcommand()));
static cl::opt<std::string> TokenList(
    "tokens", cl::init(""),
    cl::desc("Token buckets (comma-separated): adds a packed-token plan per "
             "batch x seq bucket and token bucket below its batch x seq, run "
             "on the tokens the attention mask keeps (none by default)"),
    cl::value_desc("1024,4096"), cl::sub(compileSubcommand()));
static cl::opt<std::string>
    PrecisionFlag("precision", cl::init("f32"),
                  cl::desc("Storage precision: f32, fp16 (f16) or bf16"),
                  cl::sub(compileSubcommand()));
static cl::opt<std::string> Arch("arch", cl::init("sm_90a"),
                                 cl::desc("Target GPU architecture"),
                                 cl::sub(compileSubcommand()));
static cl::opt<std::string> GeluGemm(
    "gelu-gemm", cl::init("auto"),
    cl::desc("The FFN's GEMM + erf GELU: 'cutlass' (one CUTLASS GEMM with "
             "the bias and GELU in its epilogue, sm_90 targets), 'fused' "
             "(one mma.sync kernel with them in its epilogue wherever it "
             "applies), 'separate' (cuBLASLt, then a GELU pass), 'auto' "
             "(the default: cutlass from 1024 tokens, where it was "
             "measured faster, else separate) or 'tanh' (cuBLASLt's GELU "
             "epilogue: the tanh approximation, within 4.7e-4 of the erf "
             "GELU, not the model's function)"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> ResidualGemmFlag(
    "residual-gemm", cl::init("on"),
    cl::desc("'on' (the default): a cuBLASLt or CUTLASS bias GEMM whose "
             "result only a residual LayerNorm (SkipLayerNorm) reads adds "
             "the skip itself (beta 1), and the LayerNorm reads one tensor "
             "instead of two; 'off': the GEMM, then the SkipLayerNorm"),
    cl::sub(compileSubcommand()));
static cl::opt<int64_t> SmallGemmRows(
    "small-gemm-rows", cl::init(TargetInfo::DefaultSmallGemmMaxRows),
    cl::desc("GEMMs of at most this many tokens run as kiln's own "
             "tensor-core kernel instead of cuBLASLt, with the bias (and erf "
             "GELU) in its epilogue, and one followed by a residual "
             "LayerNorm (SkipLayerNorm) with the LayerNorm in the same "
             "kernel on sm_90 (0: never)"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> AttentionTilingFlag(
    "attention-tiling", cl::init(""),
    cl::desc("The tensor-core attention kernel's tiling as "
             "ROWTILES,KEYS,WARPS,CTAS: 16 or 32 query rows a warp (1 or 2), "
             "keys a shared-memory tile (a multiple of 16 up to 128, 0: by "
             "head_dim), warps a CTA (0: by grid size), CTAs an SM to keep "
             "resident (0: the kernel's own register cap); empty: the "
             "default tiling"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> AttentionShortFlag(
    "attention-short", cl::init("auto"),
    cl::desc("'auto' (the default): heads of 16 or 32 over sequences of at "
             "most 128 keys run as the attention kernel that holds every key "
             "in shared memory, except on grids of at most one 4-warp CTA an "
             "SM and with --attention-tiling; 'on': wherever it applies, "
             "--attention-tiling giving only its warps, CTAs an SM and (with "
             "64 keys) keys copied in two batches; 'off': never"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> CutlassBiasGemmFlag(
    "cutlass-bias-gemm", cl::init("auto"),
    cl::desc("A GEMM whose epilogue is a bias alone runs on the CUTLASS "
             "ping-pong kernel instead of cuBLASLt (sm_90): 'auto' (the "
             "default: from 32768 tokens, where it was ahead), 'on' "
             "(always), 'off' (never); such a GEMM does not add a residual "
             "LayerNorm's skip"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> KSplitLayerNormFlag(
    "ksplit-layernorm", cl::init("auto"),
    cl::desc("For a GEMM + residual LayerNorm of kiln's own "
             "(--small-gemm-rows): 'auto' (the default): the kernel whose "
             "thread-block cluster splits K (whole rows a CTA, partial sums "
             "added through distributed shared memory) where it applies and "
             "its row blocks times the cluster are at most half the SMs; "
             "'on': wherever it applies; 'off': the cluster splits N"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> PrefetchWeightsFlag(
    "prefetch-weights", cl::init("on"),
    cl::desc("'on' (the default): kiln's own GEMMs copy a weight's first "
             "k-steps before they wait for the kernel before them, so under "
             "programmatic dependent launch the copies overlap it; 'off': "
             "after"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string>
    CacheDir("cache-dir", cl::init(""),
             cl::desc("Kernel cache (default $KILN_CACHE_DIR, else "
                      "~/.cache/kiln; 'none' disables it)"),
             cl::sub(compileSubcommand()));
static cl::opt<unsigned> Jobs("jobs", cl::init(0),
                              cl::desc("Parallel NVRTC compiles (0: one per "
                                       "hardware thread)"),
                              cl::sub(compileSubcommand()));
cl::opt<bool> kiln::Autotune(
    "autotune",
    cl::desc("Time cuBLASLt's candidate algorithms for every GEMM on this "
             "machine's GPU and store the fastest (needs a GPU)"),
    cl::sub(compileSubcommand()), cl::sub(benchSubcommand()));
static cl::list<std::string> BindSpecs(
    "bind",
    cl::desc("Fix a graph input at compile time to the contents of an .npy "
             "file (repeatable): shapes and layouts computed from it become "
             "static, and the artifact no longer takes it"),
    cl::value_desc("name=file.npy"), cl::sub(compileSubcommand()));
static cl::opt<std::string> TokenizerPath(
    "tokenizer", cl::init(""),
    cl::desc("Store this tokenizer.json in the artifact, so that it takes "
             "text (default: a tokenizer.json beside the model; 'none' stores "
             "none)"),
    cl::value_desc("tokenizer.json"), cl::sub(compileSubcommand()));
static cl::opt<bool> NoPtx("no-ptx", cl::desc("Store CUBINs only, without PTX"),
                           cl::sub(compileSubcommand()));
static cl::opt<std::string> PruneSpec(
    "prune", cl::init(""),
    cl::desc("Remove the given ratio of each layer's attention heads and FFN "
             "neurons, those of smallest L1 norm; prints the parameter count "
             "before and after"),
    cl::value_desc("heads=R,ffn=R"), cl::sub(compileSubcommand()));
static cl::opt<bool> PruneReport(
    "prune-report",
    cl::desc("With --prune: print the cosine similarity of each output row of "
             "the compiled model to the unpruned model's, both on the CPU "
             "reference executor"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> PruneReportInputs(
    "prune-report-inputs", cl::init(""),
    cl::desc("Inputs for --prune-report (default: seeded random ones, batch "
             "2, other dims 16)"),
    cl::value_desc("inputs.npz"), cl::sub(compileSubcommand()));

static cl::opt<unsigned> Devices(
    "devices", cl::init(1),
    cl::desc("Devices the model is spread over (docs/multi-gpu.md); with "
             "more than one, the artifact records a partition"),
    cl::sub(compileSubcommand()));
static cl::opt<std::string> PartitionFlag(
    "partition", cl::init("auto"),
    cl::desc("With --devices N > 1: replicate (the whole model on every "
             "device), pipeline (one stage per device) or auto (replicate "
             "when the model fits --device-memory, else pipeline)"),
    cl::sub(compileSubcommand()));
static cl::opt<uint64_t> DeviceMemory(
    "device-memory", cl::init(80ull << 30),
    cl::desc("Each device's memory budget in bytes, for --partition auto "
             "(default 80 GiB)"),
    cl::value_desc("bytes"), cl::sub(compileSubcommand()));

/// What --devices and --partition ask for: nothing with one device,
/// otherwise replicate or pipeline (auto decided by the model's size: its
/// weights and largest arena against --device-memory).
static llvm::Error addPartition(Artifact &A, const CompileOptions &Options) {
  if (Devices == 0)
    return makeError("--devices must be at least 1");
  llvm::StringRef Mode = PartitionFlag;
  if (Mode != "auto" && Mode != "replicate" && Mode != "pipeline")
    return makeError("--partition: unknown mode '" + Mode +
                     "' (expected pipeline, replicate or auto)");
  if (Devices == 1) {
    if (PartitionFlag.getNumOccurrences() && Mode != "auto")
      return makeError("--partition " + Mode + " needs --devices 2 or more");
    return llvm::Error::success();
  }
  if (Mode == "auto") {
    uint64_t MaxArena = 0;
    for (const BucketPlan &B : A.Plan.Buckets)
      MaxArena = std::max(MaxArena, B.ArenaBytes);
    uint64_t Need = A.Weights.size() + MaxArena;
    Mode = Need <= DeviceMemory ? "replicate" : "pipeline";
    llvm::errs() << "partition: " << Mode << " (the whole model needs "
                 << llvm::format("%.1f", Need / 1048576.0)
                 << " MiB of weights and arena; each device has "
                 << llvm::format("%.1f", DeviceMemory / 1048576.0) << ")\n";
  }
  if (Mode == "replicate") {
    PartitionPlan P;
    P.Kind = PartitionPlan::Mode::Replicate;
    P.Devices = Devices;
    A.Partition = std::move(P);
    return llvm::Error::success();
  }
  return withContext(addPipelineStages(A, Devices, Options),
                     "--partition pipeline");
}

/// The plan with every GEMM's fastest cuBLASLt algorithm on this GPU.
static llvm::Expected<ExecutablePlan> autotunePlan(const Artifact &A) {
  auto E = createEngine(A);
  if (!E)
    return E.takeError();
  auto Ctx = (*E)->createContext();
  if (!Ctx)
    return Ctx.takeError();
  return autotunedPlan(**Ctx);
}

static llvm::Expected<std::vector<int64_t>> parseSizes(llvm::StringRef List,
                                                       llvm::StringRef Flag) {
  std::vector<int64_t> Sizes;
  llvm::SmallVector<llvm::StringRef> Parts;
  List.split(Parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef P : Parts) {
    int64_t N;
    if (P.trim().getAsInteger(10, N) || N <= 0)
      return makeError("--" + Flag + ": '" + P + "' is not a positive integer");
    Sizes.push_back(N);
  }
  if (Sizes.empty())
    return makeError("--" + Flag + " needs at least one size");
  return Sizes;
}

/// Inputs for --prune-report: those of --prune-report-inputs, or the
/// seeded comparisonInputs.
static llvm::Expected<std::map<std::string, Tensor>>
pruneReportInputs(const Graph &G) {
  if (PruneReportInputs.empty())
    return comparisonInputs(G);
  std::map<std::string, Tensor> Inputs;
  auto Members = readNpz(PruneReportInputs);
  if (!Members)
    return withContext(Members.takeError(), PruneReportInputs);
  for (auto &[Name, T] : *Members)
    Inputs.emplace(Name, std::move(T));
  for (const Value *V : G.inputs())
    if (!Inputs.count(V->name()))
      return makeError(PruneReportInputs + " has no array for input %" +
                       V->name());
  return Inputs;
}

/// Prints, per output, the cosine similarity of the compiled model's rows
/// (its optimized graph with the artifact's weights) to the unpruned
/// model's, both run on the reference executor.
static llvm::Error reportPruning(const Graph &Unpruned, const Artifact &A) {
  auto Pruned = artifactGraph(A);
  if (!Pruned)
    return Pruned.takeError();
  auto Inputs = pruneReportInputs(Unpruned);
  if (!Inputs)
    return Inputs.takeError();
  auto Want = runReference(Unpruned, *Inputs);
  if (!Want)
    return withContext(Want.takeError(), "the unpruned model");
  auto Got = runReference(**Pruned, *Inputs);
  if (!Got)
    return withContext(Got.takeError(), "the pruned model");
  for (size_t O = 0; O < Want->size(); ++O) {
    const Tensor &W = (*Want)[O], &P = (*Got)[O];
    if (W.sizes() != P.sizes())
      return makeError("output %" + Unpruned.outputs()[O]->name() +
                       " changed shape: " + W.type().str() + " and " +
                       P.type().str());
    int64_t Rows = W.rank() ? W.dim(0) : 1;
    int64_t Width = Rows ? W.numElements() / Rows : 0;
    double Min = 1, Sum = 0;
    for (int64_t R = 0; R < Rows; ++R) {
      double Dot = 0, NW = 0, NP = 0;
      for (int64_t I = R * Width; I < (R + 1) * Width; ++I) {
        Dot += W.getDouble(I) * P.getDouble(I);
        NW += W.getDouble(I) * W.getDouble(I);
        NP += P.getDouble(I) * P.getDouble(I);
      }
      double Cos = NW > 0 && NP > 0 ? Dot / std::sqrt(NW * NP) : 0;
      Min = std::min(Min, Cos);
      Sum += Cos;
    }
    llvm::errs() << "prune report: %" << Unpruned.outputs()[O]->name()
                 << ": cosine similarity to the unpruned model "
                 << llvm::format("min %.6f, mean %.6f", Min,
                                 Rows ? Sum / double(Rows) : 0.0)
                 << " over " << Rows << " rows ("
                 << (PruneReportInputs.empty() ? "random inputs"
                                               : PruneReportInputs.getValue())
                 << ")\n";
  }
  return llvm::Error::success();
}

/// `--Flag auto|on|off` into the TargetInfo::Switch `Out`.
static llvm::Error parseSwitch(llvm::StringRef Value, llvm::StringRef Flag,
                               TargetInfo::Switch &Out) {
  if (Value == "auto")
    Out = TargetInfo::Switch::Auto;
  else if (Value == "on")
    Out = TargetInfo::Switch::On;
  else if (Value == "off")
    Out = TargetInfo::Switch::Off;
  else
    return makeError("--" + Flag + ": expected 'auto', 'on' or 'off', got '" +
                     Value + "'");
  return llvm::Error::success();
}

/// `--Flag on|off` into the bool `Out`.
static llvm::Error parseOnOff(llvm::StringRef Value, llvm::StringRef Flag,
                              bool &Out) {
  if (Value != "on" && Value != "off")
    return makeError("--" + Flag + ": expected 'on' or 'off', got '" + Value +
                     "'");
  Out = Value == "on";
  return llvm::Error::success();
}

llvm::Error kiln::compileCommand(int argc, char **argv) {
  if (Devices == 0)
    return makeError("--devices must be at least 1");
  if (PartitionFlag != "auto" && PartitionFlag != "replicate" &&
      PartitionFlag != "pipeline")
    return makeError("--partition: unknown mode '" + PartitionFlag +
                     "' (expected pipeline, replicate or auto)");
  CompileOptions Options;
  auto Batches = parseSizes(BatchList, "batch");
  if (!Batches)
    return Batches.takeError();
  auto Seqs = parseSizes(SeqList, "seq");
  if (!Seqs)
    return Seqs.takeError();
  Options.Batches = *Batches;
  Options.Seqs = *Seqs;
  if (!TokenList.empty()) {
    auto Tokens = parseSizes(TokenList, "tokens");
    if (!Tokens)
      return Tokens.takeError();
    Options.Tokens = *Tokens;
  }
  auto Storage = parsePrecision(PrecisionFlag);
  if (!Storage)
    return Storage.takeError();
  Options.Precision = *Storage;
  Options.Target = targetFor(Arch);
  if (SmallGemmRows < 0)
    return makeError("--small-gemm-rows: expected a token count >= 0, got " +
                     std::to_string(SmallGemmRows));
  Options.Target.SmallGemmMaxRows = SmallGemmRows;
  if (!AttentionTilingFlag.empty()) {
    llvm::SmallVector<llvm::StringRef> Parts;
    llvm::StringRef(AttentionTilingFlag).split(Parts, ',');
    std::vector<int64_t> T;
    for (llvm::StringRef P : Parts) {
      int64_t N;
      if (P.trim().getAsInteger(10, N) || N < 0)
        break;
      T.push_back(N);
    }
    if (T.size() != 4 || Parts.size() != 4)
      return makeError("--attention-tiling: expected ROWTILES,KEYS,WARPS,CTAS "
                       "(four integers >= 0), got '" +
                       AttentionTilingFlag + "'");
    if (T[0] < 1 || T[0] > 2 || T[1] > 128 || T[2] > 16 || T[3] > 32)
      return makeError("--attention-tiling: row tiles 1 or 2, keys at most "
                       "128, warps at most 16, CTAs at most 32; got '" +
                       AttentionTilingFlag + "'");
    Options.Target.AttentionRowTiles = int(T[0]);
    Options.Target.AttentionKeyTile = int(T[1]);
    Options.Target.AttentionWarps = int(T[2]);
    Options.Target.AttentionMinBlocks = int(T[3]);
  }
  if (GeluGemm == "cutlass") {
    if (!cutlassGemmBuilt())
      return makeError("--gelu-gemm cutlass: this build of kiln has no "
                       "CUTLASS kernels (configure it with KILN_CUTLASS_DIR)");
    Options.Target.CutlassGeluGemmMinRows = 0;
  } else if (GeluGemm == "fused") {
    Options.Target.CutlassGeluGemmMinRows = TargetInfo::NeverCutlassGeluGemm;
    Options.Target.FusedGeluGemmMaxRows = INT64_MAX;
  } else if (GeluGemm == "separate") {
    Options.Target.CutlassGeluGemmMinRows = TargetInfo::NeverCutlassGeluGemm;
    Options.Target.FusedGeluGemmMaxRows = 0;
  } else if (GeluGemm == "tanh") {
    Options.Target.GeluTanhApprox = true;
  } else if (GeluGemm != "auto") {
    return makeError("--gelu-gemm: expected 'auto', 'cutlass', 'fused', "
                     "'separate' or 'tanh', got '" +
                     GeluGemm.getValue() + "'");
  }
  TargetInfo &Target = Options.Target;
  if (llvm::Error E =
          parseOnOff(ResidualGemmFlag, "residual-gemm", Target.ResidualGemm))
    return E;
  if (llvm::Error E = parseSwitch(AttentionShortFlag, "attention-short",
                                  Target.AttentionShort))
    return E;
  if (CutlassBiasGemmFlag == "off")
    Target.CutlassBiasGemmMinRows = TargetInfo::NeverCutlassBiasGemm;
  else if (CutlassBiasGemmFlag == "auto")
    Target.CutlassBiasGemmMinRows = TargetInfo::AutoCutlassBiasGemmMinRows;
  else if (CutlassBiasGemmFlag == "on")
    Target.CutlassBiasGemmMinRows = 0;
  else
    return makeError(
        "--cutlass-bias-gemm: expected 'off', 'auto' or 'on', got '" +
        CutlassBiasGemmFlag.getValue() + "'");
  if (llvm::Error E = parseSwitch(KSplitLayerNormFlag, "ksplit-layernorm",
                                  Target.KSplitLayerNorm))
    return E;
  if (llvm::Error E = parseOnOff(PrefetchWeightsFlag, "prefetch-weights",
                                 Target.PrefetchWeights))
    return E;
  Options.CacheDir = CacheDir.empty()     ? defaultCacheDir()
                     : CacheDir == "none" ? std::string()
                                          : std::string(CacheDir);
  Options.Jobs = Jobs;
  Options.EmitPtx = !NoPtx;
  Options.ModelName = llvm::sys::path::stem(CompileModel).str();
  for (int I = 0; I < argc; ++I)
    Options.CompileCommand += (I ? " " : "") + std::string(argv[I]);
  Options.Prune = PruneSpec;
  if (PruneReport && PruneSpec.empty())
    return makeError("--prune-report needs --prune");
  for (const std::string &Spec : BindSpecs) {
    auto NameAndPath = splitSpec(Spec, "bind");
    if (!NameAndPath)
      return NameAndPath.takeError();
    auto T = readNpy(NameAndPath->second);
    if (!T)
      return withContext(T.takeError(), "--bind " + NameAndPath->first);
    Options.BoundInputs[NameAndPath->first.str()] = std::move(*T);
  }
  auto G = loadModel(CompileModel);
  if (!G)
    return G.takeError();
  std::unique_ptr<Graph> Unpruned = PruneReport ? (*G)->clone() : nullptr;
  CompileStats Stats;
  auto A = compileGraph(std::move(*G), Options, &Stats);
  if (!A)
    return withContext(A.takeError(), CompileModel);
  if (llvm::Error E = addTextMetadata(*A, CompileModel, TokenizerPath))
    return E;
  if (Unpruned)
    if (llvm::Error E = reportPruning(*Unpruned, *A))
      return withContext(std::move(E), "--prune-report");
  if (Autotune && !A->Meta.DataDependent.empty())
    return makeError("--autotune: " + CompileModel +
                     " has shapes that depend on the data; its plans are "
                     "compiled at run time");
  if (Autotune) {
    auto Tuned = autotunePlan(*A);
    if (!Tuned)
      return withContext(Tuned.takeError(), "--autotune");
    A->Plan = std::move(*Tuned);
  }
  if (llvm::Error E = addPartition(*A, Options))
    return E;
  if (llvm::Error E = writeArtifact(*A, CompileOut))
    return E;
  if (!A->Meta.DataDependent.empty()) {
    llvm::errs() << "wrote " << CompileOut << ": no buckets, weights "
                 << llvm::format("%.1f", A->Weights.size() / 1048576.0)
                 << " MiB; " << llvm::format("%.2f", Stats.Seconds) << " s\n";
    llvm::WithColor::note(llvm::errs())
        << "shapes depend on the data (" << A->Meta.DataDependent
        << "): `kiln run` compiles plans for each request's shapes\n";
    return llvm::Error::success();
  }
  uint64_t MaxArena = 0;
  for (const BucketPlan &B : A->Plan.Buckets)
    MaxArena = std::max(MaxArena, B.ArenaBytes);
  size_t Packed =
      A->Plan.Buckets.size() - paddedBuckets(A->Plan.Buckets).size();
  llvm::errs() << "wrote " << CompileOut << ": " << A->Plan.Buckets.size()
               << " buckets"
               << (Packed ? " (" + std::to_string(Packed) + " packed)"
                          : std::string())
               << ", " << Stats.Kernels << " kernels in " << Stats.Modules
               << " modules (" << Stats.CacheHits
               << " from the cache), weights "
               << llvm::format("%.1f", A->Weights.size() / 1048576.0)
               << " MiB, largest arena "
               << llvm::format("%.1f", MaxArena / 1048576.0) << " MiB; "
               << llvm::format("%.2f", Stats.Seconds) << " s (NVRTC "
               << llvm::format("%.2f", Stats.NvrtcSeconds) << " s)\n";
  if (A->Partition)
    llvm::errs() << "partition: " << partitionModeName(A->Partition->Kind)
                 << " over " << A->Partition->Devices << " devices"
                 << (A->Stages.empty()
                         ? std::string()
                         : ", " + std::to_string(A->Stages.size()) + " stages")
                 << "\n";
  return llvm::Error::success();
}
