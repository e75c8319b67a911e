//===- BucketLowering.h - one specialized graph to a BucketPlan -*- C++ -*-===//
//
// Lowers a graph whose every type is static (one bucket, after specialize)
// to the steps the GPU runs: views alias their operand, matrix products
// become cuBLASLt steps (GemmLowering.h), every other op runs the kernels of
// its rule in the KernelRegistry (KernelLibrary.h). Values get arena slots
// planned by liveness (MemoryPlanner.h) or, for constants, offsets in the
// weights. Buckets share one WeightTable and one KernelTable, so a constant
// or an instantiation used by several buckets is stored or compiled once.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_BUCKETLOWERING_H
#define KILN_CODEGEN_BUCKETLOWERING_H

#include "codegen/KernelLibrary.h"
#include "codegen/Nvrtc.h"
#include "runtime/Artifact.h"
#include "runtime/Plan.h"

#include <map>
#include <string>
#include <vector>

namespace kiln {

/// The weights buffer, each distinct constant stored once.
class WeightTable {
public:
  /// The offset of `T`'s bytes, stored on first sight.
  uint64_t add(const Tensor &T);
  /// Starts the table with `Blob`, whose `Entries` later adds find.
  void seed(const std::string &Blob, llvm::ArrayRef<WeightEntry> Entries);
  std::string take() { return std::move(Data); }

private:
  static std::string key(llvm::ArrayRef<uint8_t> Bytes);

  std::string Data;
  std::map<std::string, uint64_t> Offsets;
};

/// Instantiations grouped into NVRTC programs, one per (module, bucket).
class KernelTable {
public:
  /// The index of `L`'s kernel in Kernels, added on first sight.
  uint32_t add(const KernelLaunch &L, size_t Bucket);

  std::vector<ModuleSource> Modules;
  struct Entry {
    uint32_t Module;
    unsigned Expr;
  };
  std::vector<Entry> Kernels;

private:
  std::map<std::string, uint32_t> Groups;
  std::map<std::string, uint32_t> KernelIndex;
};

/// The plan of bucket number `BucketIndex` (its Batch and Seq left for the
/// caller to fill), adding its constants to `Weights` and its kernels to
/// `Kernels`. Kernels that gather from a table report indices out of range
/// by the number of their entry in `Checks` (the artifact's IndexChecks),
/// and mark that entry ReportedOnDevice.
llvm::Expected<BucketPlan>
lowerBucket(const Graph &G, size_t BucketIndex, const TargetInfo &Target,
            WeightTable &Weights, KernelTable &Kernels,
            llvm::MutableArrayRef<IndexCheck> Checks);

} // namespace kiln

#endif
