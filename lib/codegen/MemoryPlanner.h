//===- MemoryPlanner.h - liveness-based arena offsets -----------*- C++ -*-===//
//
// Every buffer a bucket needs (inputs, outputs, intermediates, scratch) is
// live over an interval of steps; two buffers may share bytes when their
// intervals are disjoint. Placement is greedy, largest first, each at the
// lowest aligned offset that overlaps no placed buffer live at the same time
// (the "greedy by size" strategy of TFLite's arena planner).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_MEMORYPLANNER_H
#define KILN_CODEGEN_MEMORYPLANNER_H

#include <cstdint>
#include <vector>

namespace kiln {

struct LiveBuffer {
  uint64_t Bytes = 0;
  int64_t First = 0; // first step that touches it (inclusive)
  int64_t Last = 0;  // last step that touches it (inclusive)
};

struct ArenaLayout {
  std::vector<uint64_t> Offsets; // one per buffer
  uint64_t Bytes = 0;            // the arena's size: the peak
};

ArenaLayout planArena(const std::vector<LiveBuffer> &Buffers,
                      uint64_t Alignment = 256);

} // namespace kiln

#endif
