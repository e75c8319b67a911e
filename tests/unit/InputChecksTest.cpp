// The checks that make the GPU path refuse what the reference executor
// refuses: the index analysis of the compiler (codegen/IndexBounds.h) and
// the runtime's host-side checks (runtime/InputChecks.h), on the host.
#include "runtime/InputChecks.h"
#include "codegen/IndexBounds.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

using namespace kiln;

namespace {

std::string errorOf(llvm::Error E) {
  return E ? llvm::toString(std::move(E)) : "<no error>";
}

ArtifactMetadata embedMeta() {
  ArtifactMetadata M;
  M.Inputs = {
      {"input_ids", DType::I64, {Dim::symbol("batch"), Dim::symbol("seq")}},
      {"token_type_ids",
       DType::I32,
       {Dim::symbol("batch"), Dim::symbol("seq")}}};
  M.IndexChecks = {{"input_ids", "'EmbedLayerNorm' node \"/emb\"", "word",
                    IndexCheck::Form::Embed, 1000, true},
                   {"token_type_ids", "'EmbedLayerNorm' node \"/emb\"",
                    "token type", IndexCheck::Form::Embed, 2, true},
                   {"input_ids", "'Gather' node \"/g\"", "axis 0",
                    IndexCheck::Form::Gather, 1000, true}};
  M.MaxSequenceLength = 128;
  return M;
}

} // namespace

TEST(InputChecks, MessagesAreTheReferenceExecutors) {
  ArtifactMetadata M = embedMeta();
  std::vector<int64_t> Ids = {101, 5, 1000000000, 102};
  std::vector<int32_t> Types = {0, 0, 0, 0};
  std::vector<IndexInput> In = {{Ids.data(), DType::I64, 4},
                                {Types.data(), DType::I32, 4}};
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)),
            "'EmbedLayerNorm' node \"/emb\": word index 1000000000 is out of "
            "range [0, 1000) (input 'input_ids')");
  Ids[2] = 7;
  Types[3] = 7;
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)),
            "'EmbedLayerNorm' node \"/emb\": token type index 7 is out of "
            "range [0, 2) (input 'token_type_ids')");
  Types[3] = 1;
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)), "<no error>");
  M.IndexChecks.erase(M.IndexChecks.begin());
  Ids[0] = 1000;
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)),
            "'Gather' node \"/g\": index 1000 is out of range for axis 0 of "
            "size 1000 (input 'input_ids')");
}

TEST(InputChecks, NegativeIndicesWrapOnceAsInOnnx) {
  ArtifactMetadata M = embedMeta();
  std::vector<int64_t> Ids = {-1000, -1, 0, 999};
  std::vector<int32_t> Types = {-2, -1, 0, 1};
  std::vector<IndexInput> In = {{Ids.data(), DType::I64, 4},
                                {Types.data(), DType::I32, 4}};
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)), "<no error>");
  Ids[1] = -1001;
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)),
            "'EmbedLayerNorm' node \"/emb\": word index -1001 is out of range "
            "[0, 1000) (input 'input_ids')");
}

TEST(InputChecks, ValuesNotOnTheHostAreSkipped) {
  ArtifactMetadata M = embedMeta();
  std::vector<IndexInput> In = {{nullptr, DType::I64, 4},
                                {nullptr, DType::I32, 4}};
  EXPECT_EQ(errorOf(checkIndexInputs(M, In)), "<no error>");
}

TEST(InputChecks, SequenceLongerThanThePositionTable) {
  ArtifactMetadata M = embedMeta();
  EXPECT_EQ(errorOf(checkSequenceLength(M, 128)), "<no error>");
  EXPECT_EQ(errorOf(checkSequenceLength(M, 200)),
            "sequence length 200 is longer than the model allows: its "
            "position table holds positions for at most 128 tokens");
  M.MaxSequenceLength = 0; // unknown: no check
  EXPECT_EQ(errorOf(checkSequenceLength(M, 100000)), "<no error>");
}

// The host-side check must cost far less than the forward: 256x128 ids.
TEST(InputChecks, CheckOfABatchOf256x128IsCheap) {
  ArtifactMetadata M = embedMeta();
  std::vector<int64_t> Ids(256 * 128, 7);
  std::vector<int32_t> Types(256 * 128, 1);
  std::vector<IndexInput> In = {{Ids.data(), DType::I64, 256 * 128},
                                {Types.data(), DType::I32, 256 * 128}};
  auto Start = std::chrono::steady_clock::now();
  constexpr int Reps = 100;
  for (int R = 0; R < Reps; ++R)
    ASSERT_EQ(errorOf(checkIndexInputs(M, In)), "<no error>");
  double Us = std::chrono::duration<double, std::micro>(
                  std::chrono::steady_clock::now() - Start)
                  .count() /
              Reps;
  RecordProperty("microseconds_per_check", std::to_string(Us));
  EXPECT_LT(Us, 2000.0); // loose: a shared CI machine
}

//===-- IndexBounds --------------------------------------------------------===//

namespace {

std::unique_ptr<Graph> parse(llvm::StringRef Text) {
  auto G = parseGraph(Text, "test");
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  return G ? std::move(*G) : nullptr;
}

} // namespace

// Token ids through Cast and Unsqueeze into a Gather are checked; an index
// computed from them is not (it is no copy of the input).
TEST(IndexBounds, IndicesTracedThroughValuePreservingOps) {
  auto G = parse(R"(
graph @main(%ids: i64[batch, seq], %t: f32[10, 4]) {
  %c = Cast(%ids) {to = "i32"} : i32[batch, seq]
  %g = Gather(%t, %c) {axis = 0} : f32[batch, seq, 4]
  %one = const i64[] [1]
  %s = Add(%ids, %one) : i64[batch, seq]
  %h = Gather(%t, %s) {axis = 0} : f32[batch, seq, 4]
  return %g, %h
}
)");
  ASSERT_TRUE(G);
  std::vector<IndexCheck> C = findIndexChecks(*G);
  ASSERT_EQ(C.size(), 1u);
  EXPECT_EQ(C[0].Input, "ids");
  EXPECT_EQ(C[0].Table, "axis 0");
  EXPECT_EQ(C[0].TableSize, 10);
  EXPECT_EQ(C[0].Kind, IndexCheck::Form::Gather);
}

// RoBERTa's positions: cumsum(ids != pad) * (ids != pad) + pad, into a
// table of 66 rows: at most 64 tokens.
TEST(IndexBounds, ComputedPositionsLeaveTheOffsetOut) {
  auto G = parse(R"(
graph @main(%ids: i64[batch, seq], %pos: f32[66, 4]) {
  %pad = const i64[] [1]
  %axis = const i64[] [1]
  %ne = Equal(%ids, %pad) : bool[batch, seq]
  %keep = Not(%ne) : bool[batch, seq]
  %k = Cast(%keep) {to = "i64"} : i64[batch, seq]
  %cs = CumSum(%k, %axis) : i64[batch, seq]
  %m = Mul(%cs, %k) : i64[batch, seq]
  %p = Add(%m, %pad) : i64[batch, seq]
  %y = Gather(%pos, %p) {axis = 0} : f32[batch, seq, 4]
  return %y
}
)");
  ASSERT_TRUE(G);
  std::vector<IoRole> Roles = {IoRole::None};
  auto R = valueRange(G->outputs()[0]->definingNode()->operand(1), 10, Roles);
  ASSERT_TRUE(R.has_value());
  EXPECT_EQ(R->Lo, 1);
  EXPECT_EQ(R->Hi, 11);
  auto L = sequenceLimit(*G, Roles);
  ASSERT_TRUE(L.has_value());
  EXPECT_EQ(L->MaxSeq, 64);
  EXPECT_NE(L->Table.find("%pos"), std::string::npos);
  EXPECT_NE(L->Table.find("66 rows"), std::string::npos);
}

// Positions from the attention mask (role AttentionMask: [0, 1]); without
// the role the mask is any integer and nothing bounds the length.
TEST(IndexBounds, MaskRangeComesFromItsRole) {
  auto G = parse(R"(
graph @main(%mask: i64[batch, seq], %pos: f32[130, 4]) {
  %axis = const i64[] [1]
  %cs = CumSum(%mask, %axis) : i64[batch, seq]
  %y = Gather(%pos, %cs) {axis = 0} : f32[batch, seq, 4]
  return %y
}
)");
  ASSERT_TRUE(G);
  auto L = sequenceLimit(*G, std::vector<IoRole>{IoRole::AttentionMask});
  ASSERT_TRUE(L.has_value());
  EXPECT_EQ(L->MaxSeq, 129);
  EXPECT_FALSE(sequenceLimit(*G, std::vector<IoRole>{IoRole::None}));
}
