//===- MemoryPlannerTest.cpp - liveness-based arena offsets ---------------===//
#include "codegen/MemoryPlanner.h"

#include "gtest/gtest.h"

#include <random>

using namespace kiln;

namespace {

bool overlapInTime(const LiveBuffer &A, const LiveBuffer &B) {
  return A.First <= B.Last && B.First <= A.Last;
}

bool overlapInSpace(uint64_t OffA, uint64_t SizeA, uint64_t OffB,
                    uint64_t SizeB) {
  return OffA < OffB + SizeB && OffB < OffA + SizeA;
}

void expectValid(const std::vector<LiveBuffer> &Buffers, const ArenaLayout &L) {
  ASSERT_EQ(L.Offsets.size(), Buffers.size());
  for (size_t I = 0; I < Buffers.size(); ++I) {
    EXPECT_EQ(L.Offsets[I] % 256, 0u);
    EXPECT_LE(L.Offsets[I] + Buffers[I].Bytes, L.Bytes);
    for (size_t J = I + 1; J < Buffers.size(); ++J) {
      if (!overlapInTime(Buffers[I], Buffers[J]))
        continue;
      EXPECT_FALSE(overlapInSpace(L.Offsets[I], Buffers[I].Bytes, L.Offsets[J],
                                  Buffers[J].Bytes))
          << "buffers " << I << " and " << J
          << " live together and share bytes";
    }
  }
}

TEST(MemoryPlanner, DisjointLifetimesShareBytes) {
  // A chain a -> b -> c: a and c never live together.
  std::vector<LiveBuffer> B = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}};
  ArenaLayout L = planArena(B);
  expectValid(B, L);
  EXPECT_EQ(L.Offsets[0], L.Offsets[2]);
  EXPECT_EQ(L.Bytes, 2048u);
}

TEST(MemoryPlanner, OverlappingLifetimesDoNot) {
  std::vector<LiveBuffer> B = {{512, 0, 5}, {512, 1, 4}, {512, 2, 3}};
  ArenaLayout L = planArena(B);
  expectValid(B, L);
  EXPECT_EQ(L.Bytes, 3 * 512u);
}

TEST(MemoryPlanner, ReusesAGapBetweenBuffers) {
  // A small buffer fits in the hole a dead big one left.
  std::vector<LiveBuffer> B = {
      {4096, 0, 10}, {4096, 0, 2}, {4096, 0, 10}, {1024, 5, 6}};
  ArenaLayout L = planArena(B);
  expectValid(B, L);
  EXPECT_EQ(L.Bytes, 3 * 4096u);
}

TEST(MemoryPlanner, RandomIntervalsNeverCollide) {
  std::mt19937 Rng(3);
  for (int Trial = 0; Trial < 50; ++Trial) {
    std::vector<LiveBuffer> B;
    for (int I = 0; I < 40; ++I) {
      int64_t First = Rng() % 30, Len = Rng() % 8;
      B.push_back({uint64_t(1 + Rng() % 100000), First, First + Len});
    }
    ArenaLayout L = planArena(B);
    expectValid(B, L);
  }
}

} // namespace
