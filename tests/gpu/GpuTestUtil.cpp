//===- GpuTestUtil.cpp - kernels on the GPU vs the reference executor -----===//
#include "GpuTestUtil.h"

#include "codegen/Compiler.h"
#include "ir/DType.h"
#include "ir/Parser.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>

namespace kiln {
namespace {

Tensor randomTensor(const TensorType &T, std::mt19937_64 &Rng,
                    int64_t IntRange) {
  Tensor Out(T.Elem, T.staticSizes());
  std::uniform_real_distribution<double> Real(-1.0, 1.0);
  std::uniform_int_distribution<int64_t> Int(0, std::max<int64_t>(IntRange, 2) -
                                                    1);
  for (int64_t I = 0; I < Out.numElements(); ++I) {
    if (isFloat(T.Elem))
      Out.setDouble(I, Real(Rng));
    else
      Out.setInt(I, Int(Rng));
  }
  return Out;
}

void compileAndRun(std::unique_ptr<Graph> G, llvm::ArrayRef<Tensor> Inputs,
                   std::vector<Tensor> &Outputs, CompileOptions Options) {
  Options.Jobs = 2;
  Options.EmitPtx = false;
  auto A = compileGraph(std::move(G), Options);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  auto Loaded = parseArtifact(serializeArtifact(*A), "<test>");
  ASSERT_TRUE(bool(Loaded)) << llvm::toString(Loaded.takeError());
  std::string Why;
  if (!gpuAvailable(&Why))
    GTEST_SKIP() << "kernels compiled for sm_90a; not run: " << Why;
  auto E = createEngine(std::move(*Loaded));
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx)) << llvm::toString(Ctx.takeError());
  auto Got = runTensors(**Ctx, Inputs);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  Outputs = std::move(*Got);
}

void check(std::unique_ptr<Graph> G, const GpuCheck &Check) {
  std::unique_ptr<Graph> Reference = G->clone();
  std::mt19937_64 Rng(Check.Seed);
  std::vector<Tensor> Inputs;
  for (const Value *In : Reference->inputs())
    Inputs.push_back(randomTensor(In->type(), Rng, Check.IntRange));
  CompileOptions Options;
  Options.Pipeline = Check.Pipeline;
  Options.Precision = Check.Precision;
  Options.Target.FusedGeluGemmMaxRows = Check.FusedGeluGemmMaxRows;
  Options.Target.SmallGemmMaxRows = Check.SmallGemmMaxRows;
  Options.Target.ResidualGemm = Check.ResidualGemm;
  Options.Target.KSplitLayerNorm = Check.KSplitLayerNorm;
  Options.Target.PrefetchWeights = Check.PrefetchWeights;
  Options.Target.CutlassGeluGemmMinRows =
      Check.CutlassGeluGemm ? 0 : TargetInfo::NeverCutlassGeluGemm;
  Options.Target.CutlassBiasGemmMinRows =
      Check.CutlassBiasGemm ? 0 : TargetInfo::NeverCutlassBiasGemm;
  Check.Attention.applyTo(Options.Target);
  std::vector<Tensor> Got;
  if (!runOnGpu(std::move(G), Inputs, Got, Options))
    return;
  auto Expected = runReference(*Reference, Inputs);
  ASSERT_TRUE(bool(Expected)) << llvm::toString(Expected.takeError());
  ASSERT_EQ(Got.size(), Expected->size());
  for (size_t O = 0; O < Got.size(); ++O) {
    const Tensor &W = (*Expected)[O], &H = Got[O];
    ASSERT_EQ(W.sizes().vec(), H.sizes().vec()) << "output " << O;
    ASSERT_EQ(W.dtype(), H.dtype()) << "output " << O;
    double Worst = 0;
    int64_t WorstAt = -1, Bad = 0;
    for (int64_t I = 0; I < W.numElements(); ++I) {
      double Want = W.getDouble(I), Have = H.getDouble(I);
      bool BothNan = std::isnan(Want) && std::isnan(Have);
      double Err = BothNan ? 0 : std::fabs(Want - Have);
      if (std::isinf(Want) && Want == Have)
        Err = 0;
      if (!(Err <= Check.AbsTol + Check.RelTol * std::fabs(Want)))
        ++Bad;
      if (!(Err <= Worst)) {
        Worst = Err;
        WorstAt = I;
      }
    }
    EXPECT_EQ(Bad, 0) << "output " << O << ": " << Bad << " of "
                      << W.numElements()
                      << " elements out of tolerance; worst at " << WorstAt
                      << ": reference " << W.getDouble(WorstAt) << ", GPU "
                      << H.getDouble(WorstAt);
  }
}

} // namespace

bool runOnGpu(std::unique_ptr<Graph> G, llvm::ArrayRef<Tensor> Inputs,
              std::vector<Tensor> &Outputs, CompileOptions Options) {
  compileAndRun(std::move(G), Inputs, Outputs, std::move(Options));
  return !testing::Test::IsSkipped() && !testing::Test::HasFatalFailure();
}

std::string AttentionTiling::name() const {
  using Switch = TargetInfo::Switch;
  if (Short == Switch::On)
    return "short_w" + std::to_string(Warps) + "_b" +
           std::to_string(MinBlocks) +
           (KeyTile ? "_k" + std::to_string(KeyTile) : "");
  std::string Name = Short == Switch::Off ? "tiled" : "";
  if (!RowTiles && !KeyTile && !Warps && !MinBlocks)
    return Name.empty() ? "default" : Name;
  return Name + (Name.empty() ? "" : "_") + "r" + std::to_string(RowTiles) +
         "_k" + std::to_string(KeyTile) + "_w" + std::to_string(Warps) + "_b" +
         std::to_string(MinBlocks);
}

const std::vector<AttentionTiling> &attentionTilings() {
  using Switch = TargetInfo::Switch;
  static const std::vector<AttentionTiling> Tilings = {
      {2, 32, 4, 0},
      {2, 64, 4, 2},
      {1, 128, 4, 2},
      {2, 64, 2, 4},
      {0, 0, 0, 0, Switch::Off},
      {0, 0, 4, 1, Switch::On},
      {0, 64, 8, 0, Switch::On},
      {0, 0, 2, 0, Switch::On},
      {0, 64, 1, 0, Switch::On}};
  return Tilings;
}

std::optional<Artifact> compileForTarget(const std::string &IrText,
                                         const TargetInfo &Target) {
  auto G = parseGraph(IrText, "<test>");
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  if (!G)
    return std::nullopt;
  CompileOptions O;
  O.Pipeline = {};
  O.Target = Target;
  O.Jobs = 2;
  O.EmitPtx = false;
  auto A = compileGraph(std::move(*G), O);
  EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
  if (!A)
    return std::nullopt;
  return std::move(*A);
}

std::string randomConst(const std::string &Name, const std::string &DType,
                        std::vector<int64_t> Dims, uint64_t Seed) {
  int64_t N = 1;
  std::string Shape;
  for (int64_t D : Dims) {
    N *= D;
    Shape += (Shape.empty() ? "" : ", ") + std::to_string(D);
  }
  // Hex data is little-endian bytes; build f32 (or f16) values.
  std::mt19937 Rng{unsigned(Seed)};
  std::uniform_real_distribution<float> U(-0.5f, 0.5f);
  std::string Hex;
  const char *Digits = "0123456789ABCDEF";
  for (int64_t I = 0; I < N; ++I) {
    float F = U(Rng);
    uint8_t Bytes[4];
    size_t Size = 4;
    if (DType == "f16") {
      uint16_t H = floatToHalf(F);
      std::memcpy(Bytes, &H, 2);
      Size = 2;
    } else {
      std::memcpy(Bytes, &F, 4);
    }
    for (size_t B = 0; B < Size; ++B) {
      Hex += Digits[Bytes[B] >> 4];
      Hex += Digits[Bytes[B] & 15];
    }
  }
  return "  %" + Name + " = const " + DType + "[" + Shape + "] 0x" + Hex + "\n";
}

void expectGpuMatchesReference(llvm::StringRef IrText, const GpuCheck &Check) {
  auto G = parseGraph(IrText, "<test>");
  ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
  check(std::move(*G), Check);
}

void expectGpuMatchesReference(const Graph &G, const GpuCheck &Check) {
  check(G.clone(), Check);
}

std::vector<HostTensor> bertRequest(int64_t Batch, int64_t Seq,
                                    std::mt19937_64 &Rng) {
  HostTensor Ids(ElementType::I64, {Batch, Seq}),
      Mask(ElementType::I64, {Batch, Seq}),
      Types(ElementType::I64, {Batch, Seq});
  std::uniform_int_distribution<int64_t> Id(1, 500), Len(1, Seq);
  for (int64_t B = 0; B < Batch; ++B) {
    int64_t L = B == 0 ? Seq : Len(Rng);
    for (int64_t S = 0; S < Seq; ++S) {
      Ids.data<int64_t>()[B * Seq + S] = Id(Rng);
      Mask.data<int64_t>()[B * Seq + S] = S < L;
    }
  }
  return {Ids, Mask, Types};
}

} // namespace kiln
