//===- ArtifactFormat.h - the .kiln format's shared pieces ------*- C++ -*-===//
//
// What the artifact's container (Artifact.cpp), its section encodings
// (ArtifactCodec.cpp, ArtifactMetadata.cpp) and its validation
// (ArtifactValidate.cpp) share: the
// constants of format version 1 and the functions each part offers the
// others. Internal to lib/runtime; Artifact.h is the interface.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_ARTIFACTFORMAT_H
#define KILN_RUNTIME_ARTIFACTFORMAT_H

#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::artifact {

//===----------------------------------------------------------------------===//
// Constants of format version 1
//===----------------------------------------------------------------------===//

// The CR LF and ^Z bytes catch a file mangled by a text-mode transfer.
inline constexpr char Magic[8] = {'K', 'I', 'L', 'N', '\r', '\n', '\x1a', '\n'};
inline constexpr uint64_t HeaderSize = 64;
inline constexpr uint64_t TableEntrySize = 32;
inline constexpr uint64_t SectionAlign = 8;
// A page, so the weights can be used straight from a mapping of the file.
inline constexpr uint64_t WeightsAlign = 4096;

// Header field offsets.
inline constexpr size_t VersionAt = 8, HeaderSizeAt = 12, FileSizeAt = 16,
                        SectionCountAt = 24, ReservedAt = 28,
                        TableOffsetAt = 32, TableChecksumAt = 40,
                        BodyChecksumAt = 48, HeaderChecksumAt = 56;

// Section ids. The writer lays them out in this order, except the weights,
// which come last.
enum SectionId : uint32_t {
  MetadataSection = 1,
  IrSection,
  WeightIndexSection,
  PlanSection,
  KernelsSection,
  WeightsSection,
  /// Optional: the tokenizer.json of a model that takes text.
  TokenizerSection,
  /// Optional: how `kiln compile --devices N` spread the model over N
  /// devices, with a pipeline's stage artifacts nested in it.
  PartitionSection,
};
/// The sections every artifact has; the optional ones (tokenizer,
/// partition) may follow.
inline constexpr uint32_t NumSections = 6;
inline constexpr uint32_t MaxSections = 8;

/// The section's name in errors and docs/artifact.md; "?" for an unknown id.
llvm::StringRef sectionName(uint32_t Id);

inline uint32_t readU32(const char *P) {
  return llvm::support::endian::read32le(P);
}
inline uint64_t readU64(const char *P) {
  return llvm::support::endian::read64le(P);
}
inline void writeU32(char *P, uint32_t V) {
  llvm::support::endian::write32le(P, V);
}
inline void writeU64(char *P, uint64_t V) {
  llvm::support::endian::write64le(P, V);
}

//===----------------------------------------------------------------------===//
// Section encodings (ArtifactCodec.cpp; the metadata in ArtifactMetadata.cpp)
//===----------------------------------------------------------------------===//
//
// Each decoder checks every count and length against the bytes left before
// allocating, every enum against its range, and that the section is used
// up exactly; what the values mean is validateArtifact's to check.

std::string encodeMetadata(const ArtifactMetadata &M);
/// Unknown keys are ignored, so that a key added for information alone
/// needs no new format version.
llvm::Error decodeMetadata(llvm::StringRef Bytes, ArtifactMetadata &M);

std::string encodePlan(const ExecutablePlan &P);
/// Fills everything of `P` but its modules (the kernels section's).
llvm::Error decodePlan(llvm::StringRef Bytes, ExecutablePlan &P);

std::string encodeKernels(const std::vector<KernelModule> &Modules);
llvm::Error decodeKernels(llvm::StringRef Bytes,
                          std::vector<KernelModule> &Modules);

std::string encodeWeightIndex(const std::vector<WeightEntry> &Entries);
llvm::Error decodeWeightIndex(llvm::StringRef Bytes,
                              std::vector<WeightEntry> &Entries);

/// The partition plan and the stage artifacts, each serialized whole
/// (serializeArtifact) and validated on decoding (parseArtifact).
std::string encodePartition(const PartitionPlan &P,
                            const std::vector<Artifact> &Stages);
llvm::Error decodePartition(llvm::StringRef Bytes, PartitionPlan &P,
                            std::vector<Artifact> &Stages);

//===----------------------------------------------------------------------===//
// Helpers of validation (ArtifactValidate.cpp)
//===----------------------------------------------------------------------===//

/// Whether `T` is one of DType's enumerators (a decoded byte may not be).
bool validDType(DType T);

/// Bytes of a dense tensor, or nothing when a dim is negative or the size
/// overflows.
std::optional<uint64_t> denseBytes(DType T, llvm::ArrayRef<int64_t> Dims);

/// "[2, 3]", for errors.
std::string dimsStr(llvm::ArrayRef<int64_t> Dims);

} // namespace kiln::artifact

#endif
