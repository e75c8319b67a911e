// splitStages: a partitioned graph becomes one graph per stage whose
// inputs, outputs and sources chain back to the whole model's answer.
#include "codegen/StageSplit.h"

#include "ir/Parser.h"
#include "passes/PassManager.h"
#include "runtime/ReferenceExecutor.h"

#include <gtest/gtest.h>

#include <random>

using namespace kiln;

namespace {

// Four residual FFN layers, the mask used in every one.
constexpr const char *FourLayers = R"IR(
graph @four(%x: f32[batch, seq, 2], %mask: i64[batch, seq]) {
  %axes = const i64[1] [2]
  %wu1 = const f32[2, 4] [0.5, -1, 0.25, 2, 1, 0.5, -0.5, 0.125]
  %wd1 = const f32[4, 2] [1, 0.5, -1, 0.25, 0.75, -0.5, 0.5, 1]
  %wu2 = const f32[2, 4] [-0.5, 1, 0.75, -2, 0.5, 0.25, 1, -0.125]
  %wd2 = const f32[4, 2] [0.5, 1, 1, -0.25, -0.75, 0.5, 0.25, 0.5]
  %m = Cast(%mask) {to = "f32"} : f32[batch, seq]
  %m3 = Unsqueeze(%m, %axes) : f32[batch, seq, 1]
  %u1 = MatMul(%x, %wu1) : f32[batch, seq, 4]
  %g1 = Relu(%u1) : f32[batch, seq, 4]
  %d1 = MatMul(%g1, %wd1) : f32[batch, seq, 2]
  %dm1 = Mul(%d1, %m3) : f32[batch, seq, 2]
  %y1 = Add(%dm1, %x) : f32[batch, seq, 2]
  %u2 = MatMul(%y1, %wu2) : f32[batch, seq, 4]
  %g2 = Relu(%u2) : f32[batch, seq, 4]
  %d2 = MatMul(%g2, %wd2) : f32[batch, seq, 2]
  %dm2 = Mul(%d2, %m3) : f32[batch, seq, 2]
  %y2 = Add(%dm2, %y1) : f32[batch, seq, 2]
  %u3 = MatMul(%y2, %wu1) : f32[batch, seq, 4]
  %g3 = Relu(%u3) : f32[batch, seq, 4]
  %d3 = MatMul(%g3, %wd1) : f32[batch, seq, 2]
  %dm3 = Mul(%d3, %m3) : f32[batch, seq, 2]
  %y3 = Add(%dm3, %y2) : f32[batch, seq, 2]
  %u4 = MatMul(%y3, %wu2) : f32[batch, seq, 4]
  %g4 = Relu(%u4) : f32[batch, seq, 4]
  %d4 = MatMul(%g4, %wd2) : f32[batch, seq, 2]
  %dm4 = Mul(%d4, %m3) : f32[batch, seq, 2]
  %y4 = Add(%dm4, %y3) : f32[batch, seq, 2]
  return %y4, %y2
}
)IR";

std::vector<Tensor> inputs() {
  std::mt19937 Rng(3);
  std::uniform_real_distribution<double> U(-1, 1);
  Tensor X(DType::F32, {2, 5, 2}), M(DType::I64, {2, 5});
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setDouble(I, U(Rng));
  for (int64_t I = 0; I < M.numElements(); ++I)
    M.setInt(I, I % 5 < (I < 5 ? 5 : 3));
  return {X, M};
}

std::unique_ptr<Graph> partitioned(unsigned Stages) {
  auto G = parseGraph(FourLayers);
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  std::string P =
      "partition{stages=" + std::to_string(Stages) + ",batch=32,seq=64}";
  llvm::Error E = runPassPipeline(**G, P, PipelineOptions());
  EXPECT_FALSE(bool(E)) << llvm::toString(std::move(E));
  return std::move(*G);
}

/// The stages run one after another, each input taken from its source.
std::vector<Tensor> chain(const StageGraphs &S, llvm::ArrayRef<Tensor> In) {
  std::vector<std::vector<Tensor>> Made;
  auto Take = [&](const PartitionPlan::Source &X) {
    return X.Stage < 0 ? In[X.Index] : Made[X.Stage][X.Index];
  };
  for (size_t I = 0; I < S.Stages.size(); ++I) {
    std::vector<Tensor> Args;
    for (const auto &X : S.Plan.Stages[I].Inputs)
      Args.push_back(Take(X));
    auto Out = runReference(*S.Stages[I], Args);
    EXPECT_TRUE(bool(Out)) << llvm::toString(Out.takeError());
    Made.push_back(std::move(*Out));
  }
  std::vector<Tensor> Outs;
  for (const auto &X : S.Plan.Outputs)
    Outs.push_back(Take(X));
  return Outs;
}

TEST(StageSplit, StagesChainToTheWholeModel) {
  auto Whole = parseGraph(FourLayers);
  ASSERT_TRUE(bool(Whole));
  auto Want = runReference(**Whole, inputs());
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  for (unsigned N : {2u, 3u, 4u}) {
    auto G = partitioned(N);
    auto S = splitStages(*G, N);
    ASSERT_TRUE(bool(S)) << llvm::toString(S.takeError());
    ASSERT_EQ(S->Stages.size(), N);
    EXPECT_EQ(S->Plan.Kind, PartitionPlan::Mode::Pipeline);
    EXPECT_EQ(S->Plan.Devices, N);
    EXPECT_EQ(S->Plan.PlannedBatch, 32);
    EXPECT_EQ(S->Plan.PlannedSeq, 64);
    uint32_t Nodes = 0;
    for (size_t I = 0; I < N; ++I) {
      const Graph &St = *S->Stages[I];
      Nodes += S->Plan.Stages[I].Nodes;
      EXPECT_GT(S->Plan.Stages[I].Flops, 0) << "stage " << I;
      ASSERT_EQ(St.inputs().size(), S->Plan.Stages[I].Inputs.size());
      // compileGraph names batch and seq after the first input.
      EXPECT_EQ(St.inputs()[0]->type().Dims[0].symbol(), "batch");
      EXPECT_EQ(St.inputs()[0]->type().Dims[1].symbol(), "seq");
      for (const auto &N : St.nodes()) {
        EXPECT_NE(N->opName(), "PeerCopy");
        EXPECT_FALSE(N->device().has_value());
      }
      // Only the constants the stage reads.
      for (const Value *C : St.constants())
        EXPECT_TRUE(C->hasUses()) << "%" << C->name() << " in stage " << I;
      // Later stages read earlier ones only.
      for (const auto &X : S->Plan.Stages[I].Inputs)
        EXPECT_LT(X.Stage, int32_t(I));
    }
    // Every node of the partitioned graph, copies included, is counted.
    EXPECT_EQ(Nodes, G->numNodes());
    std::vector<Tensor> Got = chain(*S, inputs());
    ASSERT_EQ(Got.size(), Want->size());
    for (size_t O = 0; O < Got.size(); ++O) {
      ASSERT_EQ(Got[O].sizes(), (*Want)[O].sizes());
      for (int64_t I = 0; I < Got[O].numElements(); ++I)
        EXPECT_EQ(Got[O].getDouble(I), (*Want)[O].getDouble(I))
            << N << " stages, output " << O << " element " << I;
    }
  }
}

TEST(StageSplit, OutputsAndChainedCopies) {
  // Four stages, one layer each: the mask is made on stage 0 and read by
  // every stage, so stage 3 reads it from stage 0 (not through the copies
  // on stages 1 and 2); %y2 (made on stage 1) is a model output.
  auto G = partitioned(4);
  auto S = splitStages(*G, 4);
  ASSERT_TRUE(bool(S)) << llvm::toString(S.takeError());
  bool FromStage0 = false;
  for (const auto &X : S->Plan.Stages[3].Inputs)
    FromStage0 |= X.Stage == 0;
  EXPECT_TRUE(FromStage0);
  ASSERT_EQ(S->Plan.Outputs.size(), 2u);
  EXPECT_EQ(S->Plan.Outputs[0].Stage, 3);
  EXPECT_EQ(S->Plan.Outputs[1].Stage, 1);
}

TEST(StageSplit, Errors) {
  auto G = parseGraph(FourLayers);
  ASSERT_TRUE(bool(G));
  EXPECT_EQ(
      llvm::toString(splitStages(**G, 2).takeError()),
      "'Cast' node producing %m has no device: run the partition pass first");
  EXPECT_EQ(llvm::toString(splitStages(**G, 1).takeError()),
            "a pipeline needs at least 2 stages, got 1");
  auto P = partitioned(3);
  std::string E = llvm::toString(splitStages(*P, 2).takeError());
  EXPECT_NE(E.find("outside the 2 stages"), std::string::npos) << E;
}

} // namespace
