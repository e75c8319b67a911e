//===- RandomLengthsTest.cpp - the mixed-length draw of kiln bench --------===//
#include "common/RandomLengths.h"

#include "gtest/gtest.h"

#include <algorithm>

namespace kiln {
namespace {

TEST(RandomLengths, ParsesMinMax) {
  auto R = parseLengthRange("8:128");
  ASSERT_TRUE(bool(R)) << llvm::toString(R.takeError());
  EXPECT_EQ(R->Min, 8);
  EXPECT_EQ(R->Max, 128);
  for (const char *Bad :
       {"8", "8-128", ":128", "8:", "a:b", "0:4", "9:8", "-1:4", "8:128:3"}) {
    auto E = parseLengthRange(Bad);
    ASSERT_FALSE(bool(E)) << Bad;
    EXPECT_NE(llvm::toString(E.takeError()).find("--lengths"),
              std::string::npos);
  }
}

TEST(RandomLengths, SameSeedSameLengths) {
  LengthRange R{8, 128};
  std::vector<int64_t> A = randomLengths(256, R, 0),
                       B = randomLengths(256, R, 0),
                       C = randomLengths(256, R, 1);
  EXPECT_EQ(A, B);
  EXPECT_NE(A, C);
  ASSERT_EQ(A.size(), 256u);
  EXPECT_GE(*std::min_element(A.begin(), A.end()), 8);
  EXPECT_LE(*std::max_element(A.begin(), A.end()), 128);
  // The values scripts/bench/lengths.py gives for the same seed.
  EXPECT_EQ(randomLengths(8, R, 0),
            (std::vector<int64_t>{86, 51, 31, 55, 92, 12, 98, 24}));
  EXPECT_EQ(randomLengths(3, {5, 5}, 9), (std::vector<int64_t>{5, 5, 5}));
}

TEST(RandomLengths, DrawIsRoughlyUniform) {
  // 25,600 draws over 8..128: every length appears, none far from 211.
  std::vector<int64_t> L = randomLengths(25600, {8, 128}, 3);
  std::vector<int> Count(129, 0);
  for (int64_t X : L)
    ++Count[size_t(X)];
  for (int X = 8; X <= 128; ++X) {
    EXPECT_GT(Count[size_t(X)], 120) << X;
    EXPECT_LT(Count[size_t(X)], 320) << X;
  }
}

TEST(RandomLengths, JsonAsPythonWritesIt) {
  EXPECT_EQ(lengthsJson({3, 4}, {2, 4}, 7),
            "{\"batch\": 2, \"min\": 2, \"max\": 4, \"seed\": 7, "
            "\"lengths\": [3, 4]}\n");
}

TEST(RandomLengths, PadsIntegerInputsPastEachRow) {
  Tensor Mask(DType::I64, {2, 4});
  for (int64_t I = 0; I < 8; ++I)
    Mask.setInt(I, 1);
  ASSERT_FALSE(bool(padToLengths(Mask, {2, 4})));
  std::vector<int64_t> Got;
  for (int64_t I = 0; I < 8; ++I)
    Got.push_back(Mask.getInt(I));
  EXPECT_EQ(Got, (std::vector<int64_t>{1, 1, 0, 0, 1, 1, 1, 1}));
  // Floats are left alone; a shape that cannot hold the rows is an error.
  Tensor F(DType::F32, {2, 4});
  F.setDouble(3, 0.5);
  ASSERT_FALSE(bool(padToLengths(F, {1, 1})));
  EXPECT_EQ(F.getDouble(3), 0.5);
  Tensor Short(DType::I64, {2, 3});
  llvm::Error E = padToLengths(Short, {2, 4});
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("[2x3]"), std::string::npos);
}

} // namespace
} // namespace kiln
