//===- TargetTest.cpp - target facts are parameters of the lowering -------===//
//
// The SM count comes from the TargetInfo a compile is given, so a fake
// target changes the grids that are sized to fill the GPU.
//
//===----------------------------------------------------------------------===//
#include "codegen/GemmLowering.h"
#include "codegen/KernelLibrary.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

// The -O2 MiniLM attention at batch 1, seq 128 in fp16: 12 CTAs of 128
// queries.
constexpr const char *Attention = R"(
graph @a(%qkv: f16[1, 128, 1152], %mask: f16[1, 1, 1, 128]) {
  %y = Attention(%qkv, none, none, %mask) {num_heads = 12, scale = 0.17677669} : f16[1, 128, 384]
  return %y
}
)";

llvm::Expected<NodeLowering> lowerAttention(const TargetInfo &Target) {
  auto G = parseGraph(Attention, "<test>");
  if (!G)
    return G.takeError();
  const Node &N = *(*G)->nodes().front();
  const LoweringRule *Rule = KernelRegistry::get().lookup(N.opName());
  EXPECT_NE(Rule, nullptr);
  return (*Rule)(N, Target);
}

TEST(TargetTest, KnownArchsHaveTheirSmCount) {
  EXPECT_EQ(targetFor("sm_90a").SmCount, 132);
  EXPECT_EQ(targetFor("sm_90a").Arch, "sm_90a");
  EXPECT_EQ(TargetInfo().SmCount, targetFor("sm_90a").SmCount);
}

// 12 heads of 128 queries at 64 a CTA are 24 CTAs, under one an SM of an
// H100: 4 warps of 64 queries, two CTAs per head, every key in one 128-key
// tile without the register cap. On a fake GPU of 4 SMs they fill it twice
// over: 8 warps, one CTA of 128 queries, every key in shared memory
// (attention_short, 3 CTAs an SM); on one of 16, between the two, 4 warps
// (6 CTAs an SM).
TEST(TargetTest, FakeSmCountChangesTheAttentionGrid) {
  auto H100 = lowerAttention(targetFor("sm_90a"));
  ASSERT_TRUE(bool(H100)) << llvm::toString(H100.takeError());
  ASSERT_EQ(H100->Launches.size(), 1u);
  EXPECT_EQ(H100->Launches[0].NameExpr,
            "kiln::attention_mma<32, 4, __half, __half, 1, 1, 128, 2>");
  EXPECT_EQ(H100->Launches[0].Grid[0], 2u);

  TargetInfo Middle = targetFor("sm_90a");
  Middle.SmCount = 16;
  auto Between = lowerAttention(Middle);
  ASSERT_TRUE(bool(Between)) << llvm::toString(Between.takeError());
  EXPECT_EQ(Between->Launches[0].NameExpr,
            "kiln::attention_short<32, 4, 6, __half, __half, 1>");
  EXPECT_EQ(Between->Launches[0].Grid[0], 2u);

  TargetInfo Small = targetFor("sm_90a");
  Small.SmCount = 4;
  auto Fake = lowerAttention(Small);
  ASSERT_TRUE(bool(Fake)) << llvm::toString(Fake.takeError());
  ASSERT_EQ(Fake->Launches.size(), 1u);
  EXPECT_EQ(Fake->Launches[0].NameExpr,
            "kiln::attention_short<32, 8, 3, __half, __half, 1>");
  EXPECT_EQ(Fake->Launches[0].Grid[0], 1u);
}

// The erf GELU after a GEMM strides with at most 16 blocks per SM.
TEST(TargetTest, FakeSmCountCapsTheGeluGrid) {
  int64_t Elements = 1 << 24; // 8192 blocks of 256 threads x 8 halves
  EXPECT_EQ(geluAfterGemm(DType::F16, Elements, targetFor("sm_90a")).Grid[0],
            132u * 16);
  TargetInfo Small = targetFor("sm_90a");
  Small.SmCount = 2;
  EXPECT_EQ(geluAfterGemm(DType::F16, Elements, Small).Grid[0], 32u);
  EXPECT_EQ(geluAfterGemm(DType::F16, 2048, Small).Grid[0], 1u);
}

} // namespace
} // namespace kiln
