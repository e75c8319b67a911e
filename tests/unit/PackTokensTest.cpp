// Meaning tests of pack-tokens: each encoder runs on the reference executor
// padded (after -O2) and packed (after -O2 and pack-tokens), on random ids
// and right-padded masks (an empty row, a full row, lengths in between);
// the pooled outputs must agree within 1e-5. The packed graph runs with its
// `tokens` symbol free (exactly the real tokens) and bound to a larger
// bucket (zero slots past them).
#include "PassTestBase.h"

#include "frontend/onnx/OnnxImporter.h"
#include "passes/Passes.h"

using namespace kiln;

namespace {

class PackTokens : public PassMeaningTest {
protected:
  PackTokens() : PassMeaningTest(2024) {}

  /// Runs `Padded` and `Packed` on the same right-padded batch and compares.
  void expectSameOutputs(const Graph &Padded, const Graph &Packed,
                         std::vector<int64_t> Lengths, int64_t Seq,
                         int64_t Vocab) {
    int64_t Batch = int64_t(Lengths.size());
    std::map<std::string, Tensor> Inputs;
    for (const Value *In : Padded.inputs()) {
      if (In->name().find("mask") != std::string::npos)
        Inputs[In->name()] = paddedMask(Seq, Lengths, In->dtype());
      else if (In->name().find("type") != std::string::npos)
        Inputs[In->name()] = ints({Batch, Seq}, 0, 2);
      else
        Inputs[In->name()] = ints({Batch, Seq}, 0, Vocab);
    }
    auto Want = runReference(Padded, Inputs);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    auto Got = runReference(Packed, Inputs);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    ASSERT_EQ(Got->size(), Want->size());
    for (size_t I = 0; I < Got->size(); ++I) {
      const Tensor &A = (*Want)[I], &B = (*Got)[I];
      ASSERT_EQ(A.sizes(), B.sizes()) << "output " << I;
      double MaxDiff = 0;
      for (int64_t J = 0; J < A.numElements(); ++J)
        MaxDiff = std::max(MaxDiff, std::fabs(A.getDouble(J) - B.getDouble(J)));
      EXPECT_LE(MaxDiff, 1e-5) << "output " << I;
    }
  }

  void checkModel(const std::string &Path) {
    auto G = importOnnxFile(std::string(KILN_SOURCE_DIR) + "/" + Path);
    ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
    if (llvm::Error E = runPassPipeline(**G, *namedPipeline("O2"), {}))
      FAIL() << llvm::toString(std::move(E));
    std::unique_ptr<Graph> Packed = (*G)->clone();
    std::string Why;
    auto Changed = packTokens(*Packed, &Why);
    ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
    ASSERT_TRUE(*Changed) << Why;
    EXPECT_EQ(count(*Packed, "PackTokens"), 1);
    int64_t Vocab = 0;
    for (const auto &N : Packed->nodes())
      if (N->opName() == "EmbedLayerNorm")
        Vocab = N->operand(3)->type().Dims[0].value();
    ASSERT_GT(Vocab, 0);
    expectSameOutputs(**G, *Packed, {5, 0, 16, 1, 9}, 16, Vocab);
    // The same with the tokens bound to a bucket larger than 31.
    std::unique_ptr<Graph> Bound = Packed->clone();
    if (llvm::Error E =
            runPassPipeline(*Bound, "specialize{tokens=48}", {}, llvm::nulls()))
      FAIL() << llvm::toString(std::move(E));
    expectSameOutputs(**G, *Bound, {5, 0, 16, 1, 9}, 16, Vocab);
    expectSameOutputs(**G, *Bound, {3, 7}, 24, Vocab);
  }
};

TEST_F(PackTokens, MiniLMOpset14) {
  checkModel("tests/models/minilm_l2_opset14.onnx");
}
TEST_F(PackTokens, MiniLMOpset17) {
  checkModel("tests/models/minilm_l2_opset17.onnx");
}
TEST_F(PackTokens, MiniLMDynamo) {
  checkModel("tests/models/minilm_l2_dynamo/model.onnx");
}

TEST_F(PackTokens, TooManyTokensForTheBucket) {
  auto G = parse(R"(
graph @pack(%mask: i64[2, 4], %ids: i64[2, 4]) {
  %spans, %ids_packed = PackTokens(%mask, %ids) : i32[2, 2], i64[1, 3]
  return %spans, %ids_packed
}
)");
  ASSERT_TRUE(G);
  Tensor Ids = ints({2, 4}, 1, 9);
  auto Out = runReference(*G, {{"mask", paddedMask(4, {2, 1})}, {"ids", Ids}});
  ASSERT_TRUE(bool(Out)) << llvm::toString(Out.takeError());
  EXPECT_EQ((*Out)[0].getDouble(0), 0);
  EXPECT_EQ((*Out)[0].getDouble(1), 2);
  EXPECT_EQ((*Out)[0].getDouble(2), 2);
  EXPECT_EQ((*Out)[0].getDouble(3), 1);
  EXPECT_EQ((*Out)[1].getDouble(0), Ids.getDouble(0));
  EXPECT_EQ((*Out)[1].getDouble(1), Ids.getDouble(1));
  EXPECT_EQ((*Out)[1].getDouble(2), Ids.getDouble(4));
  auto Over = runReference(*G, {{"mask", paddedMask(4, {3, 2})}, {"ids", Ids}});
  ASSERT_FALSE(bool(Over));
  EXPECT_NE(llvm::toString(Over.takeError()).find("keeps 5 tokens"),
            std::string::npos);
}

} // namespace
