// The partition section: a pipeline's plan and its nested stage artifacts
// round-trip, and a partition that does not hold together is refused from
// the outside in (counts, then sources, then the nested stages).
#include "ArtifactFixture.h"

#include "runtime/ArtifactFormat.h"

#include <gtest/gtest.h>

using namespace kiln;

namespace {

/// A pipeline of two stages, each the tiny model: stage 1 reads stage 0's
/// output, the model's output is stage 1's.
Artifact makePipeline() {
  Artifact A = makeArtifact();
  PartitionPlan P;
  P.Kind = PartitionPlan::Mode::Pipeline;
  P.Devices = 2;
  P.PlannedBatch = 8;
  P.PlannedSeq = 1;
  P.Stages = {{2, 512, 1e3, {{-1, 0}}}, {2, 512.5, 2e3, {{0, 0}}}};
  P.Outputs = {{1, 0}};
  A.Partition = P;
  A.Stages = {makeArtifact(), makeArtifact()};
  A.Stages[1].Meta.ModelName = "tiny.stage1";
  return A;
}

std::string describe(const PartitionPlan &P) {
  std::string S =
      std::string(partitionModeName(P.Kind)) + " " + std::to_string(P.Devices) +
      " " + std::to_string(P.PlannedBatch) + "x" + std::to_string(P.PlannedSeq);
  auto Src = [&](const PartitionPlan::Source &X) {
    S += " (" + std::to_string(X.Stage) + "," + std::to_string(X.Index) + ")";
  };
  for (const PartitionPlan::StageInfo &I : P.Stages) {
    S += " | " + std::to_string(I.Nodes) + " " + std::to_string(I.Flops) + " " +
         std::to_string(I.Bytes);
    for (const auto &X : I.Inputs)
      Src(X);
  }
  S += " ->";
  for (const auto &X : P.Outputs)
    Src(X);
  return S;
}

TEST(ArtifactPartition, PipelineRoundTrips) {
  Artifact A = makePipeline();
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  std::string Bytes = serializeArtifact(A);
  // The six required sections and the partition.
  EXPECT_EQ(llvm::support::endian::read32le(Bytes.data() + 24), 7u);
  llvm::Expected<Artifact> B = parseArtifact(Bytes, "p.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  ASSERT_TRUE(B->Partition.has_value());
  EXPECT_EQ(describe(*B->Partition), describe(*A.Partition));
  ASSERT_EQ(B->Stages.size(), 2u);
  EXPECT_EQ(B->Stages[1].Meta.ModelName, "tiny.stage1");
  EXPECT_EQ(B->Stages[0].Weights, A.Stages[0].Weights);
  EXPECT_FALSE(B->Stages[0].Partition.has_value());
  EXPECT_EQ(serializeArtifact(*B), Bytes);
}

TEST(ArtifactPartition, ReplicateRoundTripsWithoutStages) {
  Artifact A = makeArtifact();
  A.Partition = PartitionPlan{};
  A.Partition->Devices = 4;
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "r.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  ASSERT_TRUE(B->Partition.has_value());
  EXPECT_EQ(describe(*B->Partition), "replicate 4 0x0 ->");
  EXPECT_TRUE(B->Stages.empty());
}

TEST(ArtifactPartition, InconsistentPartitionsAreRefused) {
  auto ErrorAfter = [](const std::function<void(Artifact &)> &Edit) {
    Artifact A = makePipeline();
    Edit(A);
    return errorOf(validateArtifact(A));
  };
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Partition->Devices = 3; }),
            "partition: 2 stages for 3 devices; a pipeline has one stage "
            "per device");
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Partition->Devices = 1; }),
            "partition: 1 devices; a partition spans at least 2");
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Stages.pop_back(); }),
            "partition: 1 stage artifacts for 2 stages");
  EXPECT_EQ(ErrorAfter(
                [](Artifact &A) { A.Partition->Stages[1].Inputs[0] = {0, 5}; }),
            "partition: stage 1 input 0 reads output 5 of stage 0, which "
            "has 1");
  EXPECT_EQ(ErrorAfter(
                [](Artifact &A) { A.Partition->Stages[0].Inputs[0] = {1, 0}; }),
            "partition: stage 0 input 0 reads stage 1, not an earlier stage");
  EXPECT_EQ(ErrorAfter([](Artifact &A) {
              A.Partition->Stages[0].Inputs[0] = {-1, 3};
            }),
            "partition: stage 0 input 0 reads model input 3 of 1");
  EXPECT_EQ(
      ErrorAfter([](Artifact &A) { A.Partition->Stages[0].Inputs.clear(); }),
      "partition: stage 0 has 1 inputs but 0 sources");
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Partition->Outputs = {{2, 0}}; }),
            "partition: model output 0 reads stage 2, not an earlier stage");
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Partition->Outputs = {{-1, 0}}; }),
            "partition: model output 0 is a model input");
  EXPECT_EQ(ErrorAfter([](Artifact &A) {
              A.Stages[1].Partition = PartitionPlan{};
              A.Stages[1].Partition->Devices = 2;
            }),
            "partition: stage 1 is itself partitioned");
  EXPECT_EQ(
      ErrorAfter([](Artifact &A) { A.Stages[0].Meta.BatchBuckets = {1}; }),
      "partition: stage 0 has other buckets than the model");
  EXPECT_EQ(ErrorAfter([](Artifact &A) {
              A.Partition->Kind = PartitionPlan::Mode::Replicate;
            }),
            "partition: replicate has no stages");
  EXPECT_EQ(ErrorAfter([](Artifact &A) { A.Partition.reset(); }),
            "stage artifacts without a partition");
}

TEST(ArtifactPartition, CorruptSectionIsRefused) {
  std::string Bytes = serializeArtifact(makePipeline());
  auto [Offset, Size] = sectionRange(Bytes, artifact::PartitionSection);
  ASSERT_GT(Size, 0u);
  std::string Bad = Bytes;
  Bad[Offset] = 7; // the mode
  reseal(Bad);
  EXPECT_EQ(errorOf(parseArtifact(Bad, "p.kiln")),
            "p.kiln: section 'partition': invalid partition mode 7 at byte 1");
  // A byte of the first nested artifact's body: its own checksums catch it.
  llvm::StringRef Section(Bytes.data() + Offset, Size);
  size_t Nested = Section.find(llvm::StringRef(artifact::Magic, 8));
  ASSERT_NE(Nested, llvm::StringRef::npos);
  Bad = Bytes;
  Bad[Offset + Nested + 200] ^= 0x5a;
  reseal(Bad);
  std::string E = errorOf(parseArtifact(Bad, "p.kiln"));
  EXPECT_EQ(E.rfind("p.kiln: section 'partition': stage 0: ", 0), 0u) << E;
  // Cut short: the counts are checked against the bytes left.
  for (uint64_t Keep : {uint64_t(0), uint64_t(5), uint64_t(40)}) {
    Bad = Bytes;
    uint64_t Table = llvm::support::endian::read64le(Bad.data() + 32);
    for (uint32_t I = 0; I < 7; ++I) {
      char *Entry = Bad.data() + Table + 32 * I;
      if (llvm::support::endian::read32le(Entry) == artifact::PartitionSection)
        llvm::support::endian::write64le(Entry + 16, Keep);
    }
    reseal(Bad);
    E = errorOf(parseArtifact(Bad, "p.kiln"));
    EXPECT_EQ(E.rfind("p.kiln: section 'partition': ", 0), 0u) << E;
  }
}

} // namespace
