//===- DeviceGroupSplitTest.cpp - one batch split over devices ------------===//
//
// A replicate engine splits a large batch over its devices along each
// input's batch dim and joins the outputs back (DeviceGroup.h); here on
// host tensors, including a batch dim that is not the first.
//
//===----------------------------------------------------------------------===//
#include "runtime/DeviceGroup.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

HostTensor iota(std::vector<int64_t> Dims) {
  HostTensor T(ElementType::I32, Dims);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.data<int32_t>()[I] = int32_t(I);
  return T;
}

TEST(DeviceGroupSplit, SplitsAlongTheBatchDimAndJoinsBack) {
  ArtifactMetadata Meta;
  // [batch, 3], [2, batch] and a static input every part gets whole.
  Meta.Inputs = {{"a", DType::I32, {Dim::symbol("batch"), Dim(3)}},
                 {"b", DType::I32, {Dim(2), Dim::symbol("batch")}},
                 {"c", DType::I32, {Dim(4)}}};
  Meta.Outputs = Meta.Inputs;
  std::vector<HostTensor> In = {iota({5, 3}), iota({2, 5}), iota({4})};
  std::vector<int64_t> Rows = {3, 2};
  auto Parts = splitRequest(Meta, In, Rows);
  ASSERT_EQ(Parts.size(), 2u);
  EXPECT_EQ(Parts[0][0].Dims, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(Parts[1][0].Dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Parts[1][0].data<int32_t>()[0], 9); // row 3 of a
  EXPECT_EQ(Parts[0][1].Dims, (std::vector<int64_t>{2, 3}));
  // b's rows 3, 4 of its second dim: [3, 4, 8, 9].
  EXPECT_EQ(Parts[1][1].data<int32_t>()[0], 3);
  EXPECT_EQ(Parts[1][1].data<int32_t>()[1], 4);
  EXPECT_EQ(Parts[1][1].data<int32_t>()[2], 8);
  EXPECT_EQ(Parts[1][1].data<int32_t>()[3], 9);
  EXPECT_EQ(Parts[1][2].Bytes, In[2].Bytes);
  auto Joined = joinOutputs(Meta, Parts);
  ASSERT_TRUE(bool(Joined)) << llvm::toString(Joined.takeError());
  for (size_t I = 0; I < In.size(); ++I) {
    EXPECT_EQ((*Joined)[I].Dims, In[I].Dims) << I;
    EXPECT_EQ((*Joined)[I].Bytes, In[I].Bytes) << I;
  }
}

} // namespace
} // namespace kiln
