//===- PackedLoweringTest.cpp - packed-token plans, without a GPU ---------===//
//
// The lowering of PackTokens and of the spans forms of Attention and
// PoolNormalize (their instantiations, grids and arguments, and what they
// refuse), and the analyses that see through PackTokens: the input roles
// and index checks of a packed MiniLM are those of the padded one, and a
// packed bucket lowers whole.
//
//===----------------------------------------------------------------------===//
#include "codegen/BucketLowering.h"
#include "codegen/Compiler.h"
#include "codegen/IndexBounds.h"
#include "codegen/InputRoleAnalysis.h"
#include "codegen/KernelLibrary.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "passes/PassManager.h"
#include "passes/Passes.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

std::unique_ptr<Graph> parseOrFail(llvm::StringRef IrText) {
  auto G = parseGraph(IrText, "<test>");
  if (!G) {
    ADD_FAILURE() << llvm::toString(G.takeError());
    return nullptr;
  }
  return std::move(*G);
}

/// Lowers the node of `G` named `Result` (its first result's name) with
/// its registered rule.
llvm::Expected<NodeLowering> lowerNode(const Graph &G, llvm::StringRef Result,
                                       const TargetInfo &Target = {}) {
  for (const auto &N : G.nodes())
    if (N->result() && N->result()->name() == Result) {
      const LoweringRule *Rule = KernelRegistry::get().lookup(N->opName());
      if (!Rule)
        return makeError("no rule for " + N->opName());
      return (*Rule)(*N, Target);
    }
  return makeError("no node makes %" + Result);
}

// A packed encoder's front and back at (batch 8, seq 64, tokens 256), f16.
constexpr llvm::StringLiteral Packed = R"(
graph @packed(%mask: i64[8, 64], %ids: i64[8, 64], %types: i64[8, 64], %qkv: f16[1, 256, 1152], %h: f16[1, 256, 384]) {
  %spans, %ids_packed, %types_packed, %positions = PackTokens(%mask, %ids, %types) {positions = 1} : i32[8, 2], i64[1, 256], i64[1, 256], i32[1, 256]
  %a = Attention(%qkv, none, none, none, %spans) {num_heads = 12, scale = 0.17677669} : f16[1, 256, 384]
  %y = PoolNormalize(%h, none, %spans) {epsilon = 1.0e-12, min_count = 1.0e-09, mode = "mean", normalize = 1} : f16[8, 384]
  return %a, %y, %ids_packed, %types_packed, %positions
}
)";

TEST(PackedLoweringTest, PackTokensInstantiation) {
  auto G = parseOrFail(Packed);
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "spans");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  ASSERT_EQ(L->Launches.size(), 2u);
  // The spans first: one CTA scans the rows' counts.
  const KernelLaunch &S = L->Launches[0];
  EXPECT_EQ(S.Module, "pack_tokens.cuh");
  EXPECT_EQ(S.NameExpr, "kiln::pack_spans<int64_t>");
  EXPECT_EQ(S.Grid[0], 1u);
  EXPECT_EQ(S.Block[0], 1024u);
  ASSERT_EQ(S.Args.size(), 5u);
  EXPECT_EQ(S.Args[0].K, LaunchArg::Kind::Operand); // the mask
  EXPECT_EQ(S.Args[1].K, LaunchArg::Kind::Result);  // the spans
  EXPECT_EQ(S.Args[1].Index, 0u);
  EXPECT_EQ(S.Args[2].Int, 8);   // batch
  EXPECT_EQ(S.Args[3].Int, 64);  // seq
  EXPECT_EQ(S.Args[4].Int, 256); // tokens
  // Then the values: a warp a row, 8 rows a CTA.
  const KernelLaunch &K = L->Launches[1];
  EXPECT_EQ(K.Module, "pack_tokens.cuh");
  EXPECT_EQ(K.NameExpr, "kiln::pack_tokens<int64_t, int64_t, int64_t, float, "
                        "float, 2, true>");
  EXPECT_EQ(K.Grid[0], 1u);
  EXPECT_EQ(K.Block[0], 256u);
  ASSERT_EQ(K.Args.size(), 14u);
  EXPECT_EQ(K.Args[0].K, LaunchArg::Kind::Operand); // the mask
  EXPECT_EQ(K.Args[1].K, LaunchArg::Kind::Result);  // the spans
  EXPECT_EQ(K.Args[1].Index, 0u);
  EXPECT_EQ(K.Args[2].Index, 1u); // ids in
  EXPECT_EQ(K.Args[3].Index, 1u); // ids out
  EXPECT_EQ(K.Args[4].Index, 2u); // types in
  EXPECT_EQ(K.Args[5].Index, 2u); // types out
  for (unsigned I = 6; I < 10; ++I) {
    EXPECT_EQ(K.Args[I].K, LaunchArg::Kind::I64) << I; // unused value slots
    EXPECT_EQ(K.Args[I].Int, 0) << I;
  }
  EXPECT_EQ(K.Args[10].K, LaunchArg::Kind::Result); // positions
  EXPECT_EQ(K.Args[10].Index, 3u);
  EXPECT_EQ(K.Args[11].Int, 8);   // batch
  EXPECT_EQ(K.Args[12].Int, 64);  // seq
  EXPECT_EQ(K.Args[13].Int, 256); // tokens
}

// The spans come from PackTokens: a span holds at most a row (64 tokens),
// so grid.x covers 64 queries, not the 256 packed tokens; one grid.z slice
// a span. 96 CTAs are under one an SM: every key in one 128-key tile.
TEST(PackedLoweringTest, AttentionOverSpansOfPackTokens) {
  auto G = parseOrFail(Packed);
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "a");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  ASSERT_EQ(L->Launches.size(), 1u);
  const KernelLaunch &K = L->Launches[0];
  EXPECT_EQ(K.NameExpr,
            "kiln::attention_mma<32, 4, __half, int32_t, 3, 1, 128, 2>");
  EXPECT_EQ(K.Grid[0], 1u);
  EXPECT_EQ(K.Grid[1], 12u);
  EXPECT_EQ(K.Grid[2], 8u);
  EXPECT_EQ(K.Block[0], 128u);
  ASSERT_EQ(K.Args.size(), 18u);
  EXPECT_EQ(K.Args[3].K, LaunchArg::Kind::Operand); // the spans
  EXPECT_EQ(K.Args[3].Index, 4u);
  EXPECT_EQ(K.Args[5].Int, 256); // SeqQ: the packed tokens
  EXPECT_EQ(K.Args[6].Int, 256); // SeqK
  for (unsigned I = 13; I < 17; ++I)
    EXPECT_EQ(K.Args[I].Int, 0) << I; // no mask strides
}

// Spans from anywhere else may be as long as all the tokens; fp32 takes
// the SIMT kernel with the same spans kind.
TEST(PackedLoweringTest, AttentionOverGivenSpansF32) {
  auto G = parseOrFail(R"(
graph @a(%q: f32[1, 100, 64], %k: f32[1, 100, 64], %v: f32[1, 100, 64], %spans: i32[3, 2]) {
  %a = Attention(%q, %k, %v, none, %spans) {num_heads = 2, scale = 0.17677669} : f32[1, 100, 64]
  return %a
}
)");
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "a");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  const KernelLaunch &K = L->Launches[0];
  EXPECT_EQ(K.NameExpr, "kiln::attention_simt<32, float, int32_t, 3>");
  EXPECT_EQ(K.Grid[0], 7u); // 100 queries in CTAs of 16
  EXPECT_EQ(K.Grid[1], 2u);
  EXPECT_EQ(K.Grid[2], 3u);
  EXPECT_EQ(K.Args[3].Index, 4u);
}

// Without spans the SIMT kernel's mask kinds are 0 and 2.
TEST(PackedLoweringTest, SimtMaskKinds) {
  auto G = parseOrFail(R"(
graph @a(%qkv: f32[2, 9, 96], %mask: f32[2, 1, 1, 9]) {
  %a = Attention(%qkv, none, none, %mask) {num_heads = 1, scale = 0.17677669} : f32[2, 9, 32]
  %b = Attention(%qkv) {num_heads = 1, scale = 0.17677669} : f32[2, 9, 32]
  return %a, %b
}
)");
  ASSERT_TRUE(G);
  auto A = lowerNode(*G, "a");
  auto B = lowerNode(*G, "b");
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  ASSERT_TRUE(bool(B)) << llvm::toString(B.takeError());
  EXPECT_EQ(A->Launches[0].NameExpr,
            "kiln::attention_simt<32, float, float, 2>");
  EXPECT_EQ(B->Launches[0].NameExpr,
            "kiln::attention_simt<32, float, float, 0>");
}

TEST(PackedLoweringTest, PoolOverSpans) {
  auto G = parseOrFail(Packed);
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "y");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  const KernelLaunch &K = L->Launches[0];
  // 8 spans, fewer than the SMs: 1024 threads a span.
  EXPECT_EQ(K.NameExpr, "kiln::pool_normalize<384, __half, int32_t, 3, true, "
                        "true, __half, 1024>");
  EXPECT_EQ(K.Grid[0], 8u); // one block a span
  EXPECT_EQ(K.Block[0], 1024u);
  EXPECT_EQ(K.Args[1].K, LaunchArg::Kind::Operand);
  EXPECT_EQ(K.Args[1].Index, 2u);
  EXPECT_EQ(K.Args[3].Int, 256); // the packed tokens
}

TEST(PackedLoweringTest, ClsPoolOverSpans) {
  auto G = parseOrFail(R"(
graph @p(%h: f32[1, 40, 30], %spans: i32[5, 2]) {
  %y = PoolNormalize(%h, none, %spans) {epsilon = 1.0e-12, mode = "cls", normalize = 1} : f32[5, 30]
  return %y
}
)");
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "y");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  EXPECT_EQ(L->Launches[0].NameExpr,
            "kiln::pool_normalize<30, float, int32_t, 3, false, true, float, "
            "1024>");
  EXPECT_EQ(L->Launches[0].Grid[0], 5u);
}

// As many sequences as SMs (132 on the default target): 256 threads each.
TEST(PackedLoweringTest, PoolOfManySpansTakes256Threads) {
  auto G = parseOrFail(R"(
graph @p(%h: f32[1, 400, 30], %spans: i32[132, 2]) {
  %y = PoolNormalize(%h, none, %spans) {epsilon = 1.0e-12, mode = "mean", normalize = 1} : f32[132, 30]
  return %y
}
)");
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "y");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  EXPECT_EQ(L->Launches[0].NameExpr,
            "kiln::pool_normalize<30, float, int32_t, 3, true, true>");
  EXPECT_EQ(L->Launches[0].Block[0], 256u);
}

// A PoolNormalize that stores f32 from f16 states (the precision pass's
// form of a pooled f32 output) names its result type last.
TEST(PackedLoweringTest, PoolStoresItsResultType) {
  auto G = parseOrFail(R"(
graph @p(%h: f16[1, 40, 384], %spans: i32[5, 2]) {
  %y = PoolNormalize(%h, none, %spans) {dtype = "f32", mode = "mean"} : f32[5, 384]
  return %y
}
)");
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "y");
  ASSERT_TRUE(bool(L)) << llvm::toString(L.takeError());
  EXPECT_EQ(L->Launches[0].NameExpr, "kiln::pool_normalize<384, __half, "
                                     "int32_t, 3, true, true, float, 1024>");
}

TEST(PackedLoweringTest, MoreThanFourPackedValuesIsAnError) {
  auto G = parseOrFail(R"(
graph @p(%m: i64[2, 4], %a: i64[2, 4], %b: i64[2, 4], %c: i64[2, 4], %d: i64[2, 4], %e: i64[2, 4]) {
  %spans, %a1, %b1, %c1, %d1, %e1 = PackTokens(%m, %a, %b, %c, %d, %e) : i32[2, 2], i64[1, 6], i64[1, 6], i64[1, 6], i64[1, 6], i64[1, 6] loc("/pack")
  return %spans, %a1, %b1, %c1, %d1, %e1
}
)");
  ASSERT_TRUE(G);
  auto L = lowerNode(*G, "spans");
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("/pack"), std::string::npos) << Message;
  EXPECT_NE(Message.find("5 packed values"), std::string::npos) << Message;
}

// Spans of another dtype than i32 cannot be read by the kernels: refused
// with the node named (the node is built past the verifier).
TEST(PackedLoweringTest, SpansMustBeI32) {
  Graph G("a");
  Value *Q = G.addInput("qkv", TensorType::get(DType::F16, {1, 10, 96}));
  Value *Spans = G.addInput("spans", TensorType::get(DType::I64, {2, 2}));
  Node *N = G.createNode("Attention", {Q, nullptr, nullptr, nullptr, Spans},
                         {TensorType::get(DType::F16, {1, 10, 32})},
                         {{"num_heads", int64_t(1)}, {"scale", 0.17677669f}});
  const LoweringRule *Rule = KernelRegistry::get().lookup("Attention");
  ASSERT_NE(Rule, nullptr);
  auto L = (*Rule)(*N, TargetInfo());
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("spans must be [sequences, 2] i32"), std::string::npos)
      << Message;
}

TEST(PackedLoweringTest, PackedQueryMustHaveOneRow) {
  Graph G("a");
  Value *Q = G.addInput("qkv", TensorType::get(DType::F16, {2, 10, 96}));
  Value *Spans = G.addInput("spans", TensorType::get(DType::I32, {2, 2}));
  Node *N = G.createNode("Attention", {Q, nullptr, nullptr, nullptr, Spans},
                         {TensorType::get(DType::F16, {2, 10, 32})},
                         {{"num_heads", int64_t(1)}, {"scale", 0.17677669f}});
  auto L = (*KernelRegistry::get().lookup("Attention"))(*N, TargetInfo());
  ASSERT_FALSE(bool(L));
  std::string Message = llvm::toString(L.takeError());
  EXPECT_NE(Message.find("packed q must be [1, tokens, hidden]"),
            std::string::npos)
      << Message;
}

//===----------------------------------------------------------------------===//
// A packed MiniLM: roles, index checks, and a whole bucket
//===----------------------------------------------------------------------===//

class PackedMiniLm : public testing::Test {
protected:
  void SetUp() override {
    auto G = importOnnxFile(std::string(KILN_SOURCE_DIR) +
                            "/tests/models/minilm_l2_opset14.onnx");
    ASSERT_TRUE(bool(G)) << llvm::toString(G.takeError());
    Padded = std::move(*G);
    if (llvm::Error E = runPassPipeline(*Padded, *namedPipeline("O2"), {}))
      FAIL() << llvm::toString(std::move(E));
    Packed = Padded->clone();
    std::string Why;
    auto Changed = packTokens(*Packed, &Why);
    ASSERT_TRUE(bool(Changed)) << llvm::toString(Changed.takeError());
    ASSERT_TRUE(*Changed) << Why;
  }

  std::unique_ptr<Graph> Padded, Packed;
};

// The roles come from the fused ops, which in the packed graph read spans
// and packed token types: traced through PackTokens, they are the padded
// graph's.
TEST_F(PackedMiniLm, InputRolesSeeThroughPackTokens) {
  std::vector<IoRole> Roles = inferInputRoles(*Packed);
  EXPECT_EQ(Roles, inferInputRoles(*Padded));
  ASSERT_EQ(Roles.size(), Packed->inputs().size());
  for (size_t I = 0; I < Roles.size(); ++I) {
    const std::string &Name = Packed->inputs()[I]->name();
    IoRole Want = Name.find("mask") != std::string::npos ? IoRole::AttentionMask
                  : Name.find("type") != std::string::npos ? IoRole::TokenTypes
                                                           : IoRole::None;
    EXPECT_EQ(Roles[I], Want) << Name;
  }
}

// The same roles without the names to guess from: only the trace through
// PackTokens can find them.
TEST(PackedRolesTest, RolesWithoutNames) {
  auto G = parseOrFail(R"(
graph @g(%a: i64[2, 4], %b: i64[2, 4], %c: i64[2, 4], %h: f32[1, 6, 8]) {
  %spans, %b1, %c1 = PackTokens(%a, %b, %c) : i32[2, 2], i64[1, 6], i64[1, 6]
  %word = const f32[10, 8] elided
  %pos = const f32[16, 8] elided
  %type = const f32[2, 8] elided
  %g = const f32[8] elided
  %bias = const f32[8] elided
  %e = EmbedLayerNorm(%b1, none, %c1, %word, %pos, %type, %g, %bias) {epsilon = 1.0e-12} : f32[1, 6, 8]
  %y = PoolNormalize(%e, none, %spans) {mode = "mean"} : f32[2, 8]
  return %y
}
)");
  ASSERT_TRUE(G);
  EXPECT_EQ(inferInputRoles(*G),
            (std::vector<IoRole>{IoRole::AttentionMask, IoRole::None,
                                 IoRole::TokenTypes, IoRole::None}));
  // The ids and types index their tables through PackTokens.
  std::vector<IndexCheck> Checks = findIndexChecks(*G);
  ASSERT_EQ(Checks.size(), 2u);
  EXPECT_EQ(Checks[0].Input, "b");
  EXPECT_EQ(Checks[0].Table, "word");
  EXPECT_EQ(Checks[0].TableSize, 10);
  EXPECT_EQ(Checks[1].Input, "c");
  EXPECT_EQ(Checks[1].Table, "token type");
  EXPECT_EQ(Checks[1].TableSize, 2);
}

TEST_F(PackedMiniLm, IndexChecksSeeThroughPackTokens) {
  std::vector<IndexCheck> Want = findIndexChecks(*Padded);
  std::vector<IndexCheck> Got = findIndexChecks(*Packed);
  ASSERT_FALSE(Want.empty());
  ASSERT_EQ(Got.size(), Want.size());
  for (size_t I = 0; I < Got.size(); ++I) {
    EXPECT_EQ(Got[I].Input, Want[I].Input) << I;
    EXPECT_EQ(Got[I].Node, Want[I].Node) << I;
    EXPECT_EQ(Got[I].Table, Want[I].Table) << I;
    EXPECT_EQ(Got[I].TableSize, Want[I].TableSize) << I;
  }
  // The packed positions are columns of the mask: the position table
  // bounds the sequence as in the padded graph.
  std::vector<IoRole> Roles = inferInputRoles(*Packed);
  auto PackedLimit = sequenceLimit(*Packed, Roles);
  auto PaddedLimit = sequenceLimit(*Padded, inferInputRoles(*Padded));
  ASSERT_TRUE(PaddedLimit.has_value());
  ASSERT_TRUE(PackedLimit.has_value());
  EXPECT_EQ(PackedLimit->MaxSeq, PaddedLimit->MaxSeq);
}

// The bucket (batch 8, seq 64, tokens 256) lowers whole: PackTokens's two
// launches first, attention over spans, pooling over spans, and the
// embedding's index checks reported on the device.
TEST_F(PackedMiniLm, BucketLowers) {
  std::vector<IndexCheck> Checks = findIndexChecks(*Padded);
  PassOptions Bind;
  Bind.set("batch", "8");
  Bind.set("seq", "64");
  Bind.set("tokens", "256");
  if (llvm::Error E = specializeGraph(*Packed, Bind))
    FAIL() << llvm::toString(std::move(E));
  WeightTable Weights;
  KernelTable Kernels;
  auto Plan =
      lowerBucket(*Packed, 0, targetFor("sm_90a"), Weights, Kernels, Checks);
  ASSERT_TRUE(bool(Plan)) << llvm::toString(Plan.takeError());
  std::vector<std::string> Names;
  for (const KernelTable::Entry &E : Kernels.Kernels)
    Names.push_back(Kernels.Modules[E.Module].NameExprs[E.Expr]);
  auto Has = [&](llvm::StringRef Prefix) {
    return llvm::count_if(Names, [&](const std::string &N) {
      return llvm::StringRef(N).starts_with(Prefix);
    });
  };
  EXPECT_EQ(Has("kiln::pack_tokens<int64_t, int64_t, int64_t, float, float, "
                "2, true>"),
            1);
  EXPECT_EQ(Has("kiln::pack_spans<int64_t>"), 1);
  EXPECT_EQ(Has("kiln::attention_simt<32, float, int32_t, 3>"), 1);
  EXPECT_EQ(Has("kiln::pool_normalize<96, float, int32_t, 3, true, true, "
                "float, 1024>"),
            1);
  for (const IndexCheck &C : Checks)
    EXPECT_TRUE(C.ReportedOnDevice) << C.Input << " " << C.Table;
}

} // namespace
} // namespace kiln
