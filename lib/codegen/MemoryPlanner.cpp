//===- MemoryPlanner.cpp - liveness-based arena offsets -------------------===//
#include "codegen/MemoryPlanner.h"

#include <algorithm>
#include <numeric>

namespace kiln {

ArenaLayout planArena(const std::vector<LiveBuffer> &Buffers,
                      uint64_t Alignment) {
  auto AlignUp = [&](uint64_t V) {
    return (V + Alignment - 1) / Alignment * Alignment;
  };
  std::vector<size_t> Order(Buffers.size());
  std::iota(Order.begin(), Order.end(), 0);
  std::stable_sort(Order.begin(), Order.end(), [&](size_t A, size_t B) {
    return Buffers[A].Bytes > Buffers[B].Bytes;
  });

  ArenaLayout Layout;
  Layout.Offsets.assign(Buffers.size(), 0);
  std::vector<size_t> Placed;
  for (size_t I : Order) {
    const LiveBuffer &B = Buffers[I];
    uint64_t Size = AlignUp(std::max<uint64_t>(B.Bytes, 1));
    // The placed buffers live at the same time as B, by offset.
    std::vector<size_t> Conflicts;
    for (size_t J : Placed)
      if (Buffers[J].First <= B.Last && B.First <= Buffers[J].Last)
        Conflicts.push_back(J);
    std::sort(Conflicts.begin(), Conflicts.end(), [&](size_t X, size_t Y) {
      return Layout.Offsets[X] < Layout.Offsets[Y];
    });
    // Best fit: the smallest gap between conflicting buffers that holds B.
    uint64_t Best = UINT64_MAX, BestGap = UINT64_MAX, Cursor = 0;
    for (size_t J : Conflicts) {
      uint64_t Start = Layout.Offsets[J];
      if (Start >= Cursor + Size && Start - Cursor < BestGap) {
        Best = Cursor;
        BestGap = Start - Cursor;
      }
      Cursor = std::max(
          Cursor, Start + AlignUp(std::max<uint64_t>(Buffers[J].Bytes, 1)));
    }
    if (Best == UINT64_MAX)
      Best = Cursor;
    Layout.Offsets[I] = Best;
    Layout.Bytes = std::max(Layout.Bytes, Best + Size);
    Placed.push_back(I);
  }
  return Layout;
}

} // namespace kiln
