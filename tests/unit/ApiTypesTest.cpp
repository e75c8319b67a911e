// The public API's types (include/kiln/Tensor.h) against the IR's: every
// conversion keeps the dtype, the dims and every byte.
#include "runtime/EngineInternal.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace kiln;

namespace {

constexpr DType AllDTypes[] = {DType::F32, DType::F16, DType::BF16,
                               DType::F64, DType::I64, DType::I32,
                               DType::I8,  DType::U8,  DType::Bool};

TEST(ApiTypes, ElementTypesMatchDTypes) {
  for (DType T : AllDTypes) {
    ElementType E = toElementType(T);
    EXPECT_EQ(toDType(E), T);
    EXPECT_EQ(elementSize(E), dtypeSize(T));
    EXPECT_EQ(std::string(elementTypeName(E)), dtypeName(T).str());
  }
}

TEST(ApiTypes, TensorsConvertByteForByte) {
  std::mt19937 Rng(3);
  for (DType T : AllDTypes) {
    Tensor X(T, {2, 3, 5});
    for (size_t I = 0; I < X.byteSize(); ++I)
      X.mutableBytes()[I] = uint8_t(Rng());
    HostTensor H = toHostTensor(X);
    EXPECT_EQ(toDType(H.Type), T);
    EXPECT_EQ(H.Dims, X.sizes().vec());
    ASSERT_EQ(H.Bytes.size(), X.byteSize());
    EXPECT_EQ(std::memcmp(H.Bytes.data(), X.bytes(), X.byteSize()), 0);
    EXPECT_TRUE(toTensor(H).identical(X)) << dtypeName(T).str();

    TensorView V = H.view();
    EXPECT_EQ(V.Data, H.Bytes.data());
    EXPECT_EQ(V.Type, H.Type);
    EXPECT_EQ(V.Dims, H.Dims);
    EXPECT_FALSE(V.OnDevice);
  }
  HostTensor Scalar(ElementType::I64, {});
  EXPECT_EQ(Scalar.numElements(), 1);
  EXPECT_EQ(Scalar.Bytes, std::vector<uint8_t>(8, 0));
  EXPECT_TRUE(toTensor(toHostTensor(Tensor(DType::F32, {0, 4})))
                  .identical(Tensor(DType::F32, {0, 4})));
}

TEST(ApiTypes, ModelInfoStatesTheMetadata) {
  ArtifactMetadata Meta;
  Meta.ModelName = "m";
  Meta.Producer = "kiln test";
  Meta.Precision = "f16";
  Meta.Arch = "sm_90a";
  Meta.BatchBuckets = {1, 8};
  Meta.SeqBuckets = {128};
  Meta.Inputs = {{"input_ids", DType::I64, {Dim::symbol("batch"), Dim(128)}}};
  Meta.Outputs = {{"out", DType::F16, {Dim::symbol("batch"), Dim()}}};
  ExecutablePlan Plan;
  Plan.Buckets.resize(2);
  Plan.Buckets[0].Batch = 1;
  Plan.Buckets[0].Seq = 128;
  Plan.Buckets[1].Batch = 8;
  Plan.Buckets[1].Seq = 128;
  ModelInfo Info = modelInfo(Meta, Plan);
  EXPECT_EQ(Info.ModelName, "m");
  EXPECT_EQ(Info.Producer, "kiln test");
  EXPECT_EQ(Info.Precision, "f16");
  EXPECT_EQ(Info.Arch, "sm_90a");
  EXPECT_EQ(Info.BatchBuckets, Meta.BatchBuckets);
  EXPECT_EQ(Info.SeqBuckets, Meta.SeqBuckets);
  ASSERT_EQ(Info.Buckets.size(), 2u);
  EXPECT_EQ(Info.Buckets[1].Batch, 8);
  EXPECT_EQ(Info.Buckets[1].Seq, 128);
  ASSERT_EQ(Info.Inputs.size(), 1u);
  EXPECT_EQ(Info.Inputs[0].Name, "input_ids");
  EXPECT_EQ(Info.Inputs[0].Type, ElementType::I64);
  ASSERT_EQ(Info.Inputs[0].Dims.size(), 2u);
  EXPECT_TRUE(Info.Inputs[0].Dims[0].isSymbol());
  EXPECT_EQ(Info.Inputs[0].Dims[0].Symbol, "batch");
  EXPECT_TRUE(Info.Inputs[0].Dims[1].isStatic());
  EXPECT_EQ(Info.Inputs[0].Dims[1].Size, 128);
  ASSERT_EQ(Info.Outputs.size(), 1u);
  EXPECT_EQ(Info.Outputs[0].Type, ElementType::F16);
  const ModelDim &Unknown = Info.Outputs[0].Dims[1];
  EXPECT_FALSE(Unknown.isStatic() || Unknown.isSymbol());
}

} // namespace
