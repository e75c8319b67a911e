//===- fuzz_artifact.cpp - libFuzzer target for the .kiln reader ----------===//
//
// parseArtifact on arbitrary bytes must return an artifact or an error, never
// crash, hang or read outside its input. Whatever it accepts must serialize,
// parse again and serialize to the same bytes, and its IR goes through
// artifactGraph (which must also fail cleanly).
//
// Random bytes rarely get past the checksums, so a custom mutator knows the
// container (docs/artifact.md): it mutates one section's bytes and lays the
// file out again, points table entries anywhere, rewrites header fields,
// truncates or extends the file, and then, for most mutations, recomputes
// the checksums the way the writer does so that the decoders and
// validatePlan see the damage. Seeds are small real artifacts in
// tests/fuzz/corpus/fuzz_artifact/.
//
//===----------------------------------------------------------------------===//
#include "runtime/Artifact.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/xxhash.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t *Data, size_t Size, size_t MaxSize);

namespace {

// The container of format version 1, as docs/artifact.md gives it.
constexpr char Magic[8] = {'K', 'I', 'L', 'N', '\r', '\n', '\x1a', '\n'};
constexpr size_t HeaderSize = 64, EntrySize = 32;
constexpr size_t VersionAt = 8, HeaderSizeAt = 12, FileSizeAt = 16,
                 CountAt = 24, ReservedAt = 28, TableOffsetAt = 32,
                 TableChecksumAt = 40, BodyChecksumAt = 48,
                 HeaderChecksumAt = 56;
constexpr uint32_t WeightsId = 6;
// More entries than this are not worth laying out again.
constexpr uint32_t MaxEntries = 64;

using Rng = std::minstd_rand;

uint32_t get32(const std::string &F, size_t At) {
  return llvm::support::endian::read32le(F.data() + At);
}
uint64_t get64(const std::string &F, size_t At) {
  return llvm::support::endian::read64le(F.data() + At);
}
void put32(std::string &F, size_t At, uint32_t V) {
  llvm::support::endian::write32le(F.data() + At, V);
}
void put64(std::string &F, size_t At, uint64_t V) {
  llvm::support::endian::write64le(F.data() + At, V);
}
uint64_t checksum(const std::string &F, uint64_t At, uint64_t Size) {
  return llvm::xxh3_64bits(llvm::StringRef(F).substr(At, Size));
}
uint64_t pick(Rng &R, uint64_t N) { return N ? R() % N : 0; }

struct Entry {
  uint32_t Id = 0, Reserved = 0;
  uint64_t Offset = 0, Size = 0;
};

/// The table, when the header points at one that lies inside `F`.
bool readTable(const std::string &F, std::vector<Entry> &Es) {
  if (F.size() < HeaderSize || std::memcmp(F.data(), Magic, 8))
    return false;
  uint32_t Count = get32(F, CountAt);
  uint64_t At = get64(F, TableOffsetAt);
  if (Count == 0 || Count > MaxEntries || At > F.size() ||
      Count * EntrySize > F.size() - At)
    return false;
  Es.resize(Count);
  for (uint32_t I = 0; I < Count; ++I) {
    size_t P = At + I * EntrySize;
    Es[I] = {get32(F, P), get32(F, P + 4), get64(F, P + 8), get64(F, P + 16)};
  }
  return true;
}

/// Recomputes every checksum the header and table can locate, innermost
/// first (sections, table, everything after the header, header), as the
/// writer does. With `FixSize`, the header's file size is made true too.
void fixChecksums(std::string &F, bool FixSize) {
  if (F.size() < HeaderSize)
    return;
  if (FixSize)
    put64(F, FileSizeAt, F.size());
  uint32_t Count = get32(F, CountAt);
  uint64_t At = get64(F, TableOffsetAt);
  if (At <= F.size() && Count <= (F.size() - At) / EntrySize) {
    for (uint32_t I = 0; I < Count; ++I) {
      size_t P = At + I * EntrySize;
      uint64_t Off = get64(F, P + 8), Size = get64(F, P + 16);
      if (Off <= F.size() && Size <= F.size() - Off)
        put64(F, P + 24, checksum(F, Off, Size));
    }
    put64(F, TableChecksumAt, checksum(F, At, Count * EntrySize));
  }
  put64(F, BodyChecksumAt, checksum(F, HeaderSize, F.size()));
  put64(F, HeaderChecksumAt, checksum(F, 0, HeaderChecksumAt));
}

/// Writes `Sections` (ids from `Es`) as the writer lays them out: the table
/// after the header, each section 8-aligned, the weights 4096-aligned. The
/// header keeps whatever fields `Old` had but the layout's own.
std::string layOut(const std::string &Old, const std::vector<Entry> &Es,
                   const std::vector<std::string> &Sections) {
  uint64_t End = HeaderSize + Es.size() * EntrySize;
  std::vector<uint64_t> Offsets;
  for (size_t I = 0; I < Es.size(); ++I) {
    uint64_t Align = Es[I].Id == WeightsId ? 4096 : 8;
    End = (End + Align - 1) / Align * Align;
    Offsets.push_back(End);
    End += Sections[I].size();
  }
  std::string F(End, '\0');
  F.replace(0, HeaderSize, Old, 0, HeaderSize);
  put64(F, TableOffsetAt, HeaderSize);
  put32(F, CountAt, Es.size());
  for (size_t I = 0; I < Es.size(); ++I) {
    size_t P = HeaderSize + I * EntrySize;
    put32(F, P, Es[I].Id);
    put32(F, P + 4, Es[I].Reserved);
    put64(F, P + 8, Offsets[I]);
    put64(F, P + 16, Sections[I].size());
    F.replace(Offsets[I], Sections[I].size(), Sections[I]);
  }
  return F;
}

/// libFuzzer's own mutation of `S`, which may grow it by up to `Grow` bytes.
void mutateBytes(std::string &S, size_t Grow) {
  size_t Size = S.size();
  S.resize(Size + Grow);
  if (S.empty())
    return;
  S.resize(
      LLVMFuzzerMutate(reinterpret_cast<uint8_t *>(S.data()), Size, S.size()));
}

/// A value for an offset or size field: near the old one, at a boundary of
/// the file or another section, or far outside.
uint64_t interestingValue(Rng &R, uint64_t Old, const std::string &F,
                          const std::vector<Entry> &Es) {
  const Entry &Other = Es[pick(R, Es.size())];
  switch (pick(R, 10)) {
  case 0: return 0;
  case 1: return Old + 1 + pick(R, 8);
  case 2: return Old - 1 - pick(R, 8);
  case 3: return F.size();
  case 4: return F.size() - pick(R, 16);
  case 5: return Other.Offset;
  case 6: return Other.Offset + Other.Size - pick(R, 2) * 8;
  case 7: return Other.Size;
  case 8: return ~uint64_t(0) - pick(R, 4096);
  default: return pick(R, F.size() + 1);
  }
}

/// One structural mutation of an artifact with a readable table; false
/// when none applies (the caller then mutates bytes).
bool mutateArtifact(std::string &F, std::vector<Entry> &Es, size_t MaxSize,
                    Rng &R) {
  switch (pick(R, 8)) {
  case 0:
  case 1:
  case 2: { // One section's bytes, then the file laid out again.
    std::vector<std::string> Sections;
    for (const Entry &E : Es) {
      if (E.Offset > F.size() || E.Size > F.size() - E.Offset)
        return false;
      Sections.push_back(F.substr(E.Offset, E.Size));
    }
    // The weights are the bulk of the file and only bytes to the reader.
    size_t I = pick(R, Sections.size());
    if (Es[I].Id == WeightsId && pick(R, 4))
      I = pick(R, Sections.size());
    size_t Room = MaxSize > F.size() + 8 ? MaxSize - F.size() - 8 : 0;
    mutateBytes(Sections[I], std::min<size_t>(Room, 64));
    std::string Out = layOut(F, Es, Sections);
    if (Out.size() > MaxSize)
      return false;
    F = std::move(Out);
    return true;
  }
  case 3: { // A table entry pointing anywhere.
    size_t I = pick(R, Es.size());
    size_t P = get64(F, TableOffsetAt) + I * EntrySize;
    switch (pick(R, 5)) {
    case 0: put32(F, P, pick(R, 3) ? uint32_t(1 + pick(R, 6)) : R()); break;
    case 1: put32(F, P + 4, 1u << pick(R, 32)); break;
    case 2: put64(F, P + 8, interestingValue(R, Es[I].Offset, F, Es)); break;
    case 3: put64(F, P + 16, interestingValue(R, Es[I].Size, F, Es)); break;
    default: // Two entries swap their ids.
      size_t J = get64(F, TableOffsetAt) + pick(R, Es.size()) * EntrySize;
      uint32_t Id = get32(F, P);
      put32(F, P, get32(F, J));
      put32(F, J, Id);
      break;
    }
    return true;
  }
  case 4: { // A header field.
    static constexpr size_t Fields[] = {VersionAt, HeaderSizeAt, FileSizeAt,
                                        CountAt,   ReservedAt,   TableOffsetAt};
    size_t At = Fields[pick(R, std::size(Fields))];
    if (At == FileSizeAt || At == TableOffsetAt)
      put64(F, At, interestingValue(R, get64(F, At), F, Es));
    else
      put32(F, At, pick(R, 2) ? get32(F, At) + 1 - 2 * pick(R, 2) : R());
    return true;
  }
  case 5: // Truncated.
    F.resize(pick(R, F.size()));
    return true;
  case 6: { // Extended.
    size_t Room = MaxSize > F.size() ? MaxSize - F.size() : 0;
    size_t N = std::min<size_t>(Room, 1 + pick(R, 8192));
    for (size_t I = 0; I < N; ++I)
      F += char(pick(R, 4) ? 0 : R());
    return N > 0;
  }
  default: { // A section moved: its bytes copied to the end of the file.
    size_t I = pick(R, Es.size());
    const Entry &E = Es[I];
    if (E.Offset > F.size() || E.Size > F.size() - E.Offset)
      return false;
    uint64_t Align = E.Id == WeightsId ? 4096 : 8;
    uint64_t At = (F.size() + Align - 1) / Align * Align;
    if (At + E.Size > MaxSize)
      return false;
    std::string Bytes = F.substr(E.Offset, E.Size);
    F.resize(At, '\0');
    F += Bytes;
    put64(F, get64(F, TableOffsetAt) + I * EntrySize + 8, At);
    return true;
  }
  }
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *Data, size_t Size,
                                          size_t MaxSize, unsigned Seed) {
  Rng R(Seed);
  std::string F(reinterpret_cast<const char *>(Data), Size);
  std::vector<Entry> Es;
  bool Structural =
      pick(R, 4) != 0 && readTable(F, Es) && mutateArtifact(F, Es, MaxSize, R);
  if (!Structural)
    mutateBytes(F, MaxSize > Size ? MaxSize - Size : 0);
  // Most mutants get true checksums (and, usually, a true file size), so
  // that the damage itself reaches the decoders and validatePlan; the rest
  // test the checksums.
  if (pick(R, 4))
    fixChecksums(F, pick(R, 4) != 0);
  if (F.size() > MaxSize)
    F.resize(MaxSize);
  std::memcpy(Data, F.data(), F.size());
  return F.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Bytes(reinterpret_cast<const char *>(Data), Size);
  auto A = kiln::parseArtifact(Bytes, "fuzz.kiln");
  if (!A) {
    llvm::consumeError(A.takeError());
    return 0;
  }
  // What is accepted is valid, so it writes and reads back to a fixpoint
  // (not to the input: the table may list sections in another order, and
  // the metadata's JSON is written canonically).
  std::string Written = kiln::serializeArtifact(*A);
  auto Again = kiln::parseArtifact(Written, "rewritten.kiln");
  if (!Again) {
    std::fprintf(stderr,
                 "an accepted artifact, written again, is refused: %s\n",
                 llvm::toString(Again.takeError()).c_str());
    std::abort();
  }
  if (kiln::serializeArtifact(*Again) != Written) {
    std::fprintf(stderr, "write -> read -> write differs\n");
    std::abort();
  }
  auto G = kiln::artifactGraph(*A);
  if (!G)
    llvm::consumeError(G.takeError());
  return 0;
}
