//===- ToolLibraryTest.cpp - input roles, made-up inputs, model FLOPs -----===//
#include "codegen/InputRoleAnalysis.h"
#include "common/ModelFlops.h"
#include "common/RandomInputs.h"
#include "ir/Parser.h"
#include "runtime/InputRoles.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

std::unique_ptr<Graph> parse(llvm::StringRef Text) {
  auto G = parseGraph(Text);
  EXPECT_TRUE(bool(G)) << (G ? "" : llvm::toString(G.takeError()));
  return G ? std::move(*G) : nullptr;
}

constexpr llvm::StringLiteral Encoder = R"(
graph @main(%input_ids: i64[batch, seq], %attention_mask: i64[batch, seq],
            %token_type_ids: i64[batch, seq], %x: f32[batch, seq, 4]) {
  %w = const f32[4, 3] [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  %y = MatMul(%x, %w) : f32[batch, seq, 3]
  return %y, %input_ids, %attention_mask, %token_type_ids
}
)";

// Without fused ops to go by, the compiler takes the roles from the names
// exporters use; the runtime reads them and the batch and seq dims from the
// artifact's record; other inputs and dims have no role.
TEST(InputRoles, MaskTokenTypesBatchAndSeq) {
  auto G = parse(Encoder);
  ASSERT_TRUE(G);
  std::vector<IoRole> Found = inferInputRoles(*G);
  EXPECT_EQ(Found, (std::vector<IoRole>{IoRole::None, IoRole::AttentionMask,
                                        IoRole::TokenTypes, IoRole::None}));
  std::vector<IoRoles> Roles;
  for (size_t I = 0; I < Found.size(); ++I)
    Roles.push_back(ioRoles(Found[I], G->inputs()[I]->type().Dims));
  EXPECT_FALSE(Roles[0].AttentionMask);
  EXPECT_FALSE(Roles[0].TokenTypes);
  EXPECT_TRUE(Roles[1].AttentionMask);
  EXPECT_TRUE(Roles[2].TokenTypes);
  EXPECT_EQ(Roles[3].batchDim(), 0);
  EXPECT_EQ(Roles[3].seqDim(), 1);
  EXPECT_EQ(Roles[3].Dims[2], DimRole::Other);
  EXPECT_EQ(dimRole(Dim::symbol("heads")), DimRole::Other);

  // The runtime goes by the recorded role alone, not the name.
  ArtifactMetadata Meta;
  Meta.Inputs.push_back(
      {"padding", DType::I64, {Dim::symbol("batch")}, IoRole::AttentionMask});
  Meta.Inputs.push_back({"mask", DType::I64, {Dim::symbol("batch")}});
  ASSERT_EQ(inputRoles(Meta).size(), 2u);
  EXPECT_TRUE(inputRoles(Meta)[0].AttentionMask);
  EXPECT_FALSE(inputRoles(Meta)[1].AttentionMask);
  EXPECT_EQ(inputRoles(Meta)[0].batchDim(), 0);
  EXPECT_EQ(inputRoles(Meta)[0].seqDim(), -1);
}

// The fused ops say which input is the mask and which the token types,
// whatever the inputs are called: Attention's mask operand traced back
// through the ops that make the additive mask, PoolNormalize's mask and
// EmbedLayerNorm's token types.
TEST(InputRoles, FromFusedOps) {
  auto G = parse(R"IR(
graph @main(%ids: i64[batch, seq], %valid: i64[batch, seq],
            %segments: i64[batch, seq], %mask_like: i64[batch, seq]) {
  %words = const f32[10, 4] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39]
  %pos = const f32[8, 4] [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]
  %types = const f32[2, 4] [1, 2, 3, 4, 5, 6, 7, 8]
  %gamma = const f32[4] [1, 1, 1, 1]
  %beta = const f32[4] [0, 0, 0, 0]
  %axes = const i64[2] [1, 2]
  %h = EmbedLayerNorm(%ids, none, %segments, %words, %pos, %types, %gamma, %beta) {epsilon = 1.0e-12} : f32[batch, seq, 4]
  %m4 = Unsqueeze(%valid, %axes) : i64[batch, 1, 1, seq]
  %add = FusedElementwise(%m4) {dtype = "f32", expr = "where(cast_bool(x0), 0.0, -3.4028234663852886e+38)"} : f32[batch, 1, 1, seq]
  %qkv = Concat(%h, %h, %h) {axis = 2} : f32[batch, seq, 12]
  %att = Attention(%qkv, none, none, %add) {num_heads = 2, scale = 0.5} : f32[batch, seq, 4]
  %emb = PoolNormalize(%att, %valid) {epsilon = 1.0e-12, min_count = 1.0e-09, mode = "mean", normalize = 1} : f32[batch, 4]
  return %emb, %mask_like
}
)IR");
  ASSERT_TRUE(G);
  EXPECT_EQ(inferInputRoles(*G),
            (std::vector<IoRole>{IoRole::None, IoRole::AttentionMask,
                                 IoRole::TokenTypes, IoRole::None}));
}

// --random-inputs: masks all ones, integers in [0, IntRange), floats in
// [-1, 1); a symbol without a size is an error naming --dim.
TEST(RandomInputs, FollowRoles) {
  auto G = parse(Encoder);
  ASSERT_TRUE(G);
  llvm::StringMap<int64_t> Symbols;
  Symbols["batch"] = 2;
  Symbols["seq"] = 5;
  std::mt19937_64 Rng(0);
  std::map<std::string, Tensor> In;
  for (const Value *V : G->inputs()) {
    auto T = randomInput(*V, inferInputRoles(*G)[In.size()], Symbols, 3, Rng);
    ASSERT_TRUE(bool(T)) << llvm::toString(T.takeError());
    In.emplace(V->name(), std::move(*T));
  }
  const Tensor &Ids = In.at("input_ids"), &Mask = In.at("attention_mask");
  const Tensor &X = In.at("x");
  ASSERT_EQ(Ids.sizes().vec(), (std::vector<int64_t>{2, 5}));
  ASSERT_EQ(X.sizes().vec(), (std::vector<int64_t>{2, 5, 4}));
  for (int64_t I = 0; I < Ids.numElements(); ++I) {
    EXPECT_EQ(Mask.getInt(I), 1);
    EXPECT_GE(Ids.getInt(I), 0);
    EXPECT_LT(Ids.getInt(I), 3);
  }
  bool AllZero = true;
  for (int64_t I = 0; I < X.numElements(); ++I) {
    EXPECT_GE(X.getDouble(I), -1.0);
    EXPECT_LT(X.getDouble(I), 1.0);
    AllZero &= X.getDouble(I) == 0;
  }
  EXPECT_FALSE(AllZero);

  llvm::StringMap<int64_t> NoSeq;
  NoSeq["batch"] = 2;
  auto Missing = randomInput(*G->inputs()[0], IoRole::None, NoSeq, 3, Rng);
  ASSERT_FALSE(bool(Missing));
  EXPECT_NE(llvm::toString(Missing.takeError()).find("add --dim seq=N"),
            std::string::npos);
}

// Benchmark inputs: masks ones, token types zero, ids in [1000, 30000).
TEST(RandomInputs, Benchmark) {
  std::mt19937_64 Rng(0);
  IoBinding Ids{"input_ids", DType::I64, {2, 8}, {}};
  IoBinding Mask{"attention_mask", DType::I64, {2, 8}, {}};
  IoBinding Types{"token_type_ids", DType::I64, {2, 8}, {}};
  Tensor I = benchmarkInput(Ids, IoRole::None, Rng),
         M = benchmarkInput(Mask, IoRole::AttentionMask, Rng),
         T = benchmarkInput(Types, IoRole::TokenTypes, Rng);
  for (int64_t E = 0; E < 16; ++E) {
    EXPECT_GE(I.getInt(E), 1000);
    EXPECT_LT(I.getInt(E), 30000);
    EXPECT_EQ(M.getInt(E), 1);
    EXPECT_EQ(T.getInt(E), 0);
  }
}

// With the artifact's index checks, integers wrap into every table the
// input indexes (a small model's vocabulary), and only there.
TEST(RandomInputs, BenchmarkIdsFitTheTables) {
  std::mt19937_64 Rng(0);
  IoBinding Ids{"input_ids", DType::I64, {4, 64}, {}};
  IoBinding Other{"other_ids", DType::I32, {4, 64}, {}};
  std::vector<IndexCheck> Checks = {
      {"input_ids", "'Gather' node \"g\"", "axis 0", IndexCheck::Form::Gather,
       512, true, true},
      {"input_ids", "'EmbedLayerNorm' node \"e\"", "word",
       IndexCheck::Form::Embed, 300, true, true}};
  Tensor I = benchmarkInput(Ids, IoRole::None, Rng, Checks);
  Tensor O = benchmarkInput(Other, IoRole::None, Rng, Checks);
  bool OtherLarge = false;
  for (int64_t E = 0; E < I.numElements(); ++E) {
    EXPECT_GE(I.getInt(E), 0);
    EXPECT_LT(I.getInt(E), 300);
    OtherLarge |= O.getInt(E) >= 1000;
  }
  EXPECT_TRUE(OtherLarge);
}

// Comparison inputs: seeded (equal twice), batch 2, other dims 16, masks
// with the last quarter of the second row off.
TEST(RandomInputs, Comparison) {
  auto G = parse(Encoder);
  ASSERT_TRUE(G);
  auto A = comparisonInputs(*G), B = comparisonInputs(*G);
  const Tensor &Mask = A.at("attention_mask");
  ASSERT_EQ(Mask.sizes().vec(), (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(Mask.getInt(15), 1);
  EXPECT_EQ(Mask.getInt(16 + 11), 1);
  EXPECT_EQ(Mask.getInt(16 + 12), 0);
  EXPECT_EQ(A.at("x").getDouble(7), B.at("x").getDouble(7));
}

// 2 FLOPs per multiply-add of a MatMul: batch * seq * 3 outputs, K = 4.
TEST(ModelFlops, MatMul) {
  auto G = parse(Encoder);
  ASSERT_TRUE(G);
  EXPECT_EQ(modelFlops(*G, 8, 128), 2.0 * 8 * 128 * 3 * 4);
}

} // namespace
