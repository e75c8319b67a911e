//===- Artifact.cpp - writing, reading and checking .kiln files -----------===//
//
// Layout (docs/artifact.md has every byte):
//
//   header (64 bytes)   magic, version, sizes, table offset, checksums
//   section table       one 32-byte entry per section
//   sections            metadata (JSON), IR text, weight index, plan,
//                       kernels, tokenizer (optional), weights
//                       (4096-aligned, last)
//
// This file holds the container: the header, the table and the checksums.
// The sections' encodings are in ArtifactCodec.cpp and (the metadata)
// ArtifactMetadata.cpp, validateArtifact in ArtifactValidate.cpp.
//
// Checks run from the outside in, so that the first failure names the most
// specific cause: magic, version, header checksum, file size, table
// checksum, section bounds, section checksums, the checksum of everything
// after the header (which leaves only the padding to cover), then decoding
// (every length against the bytes left) and finally validateArtifact.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/ArtifactFormat.h"

#include "ir/Error.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <algorithm>
#include <map>

#include <unistd.h>

using namespace kiln;
using namespace kiln::artifact;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

StringRef kiln::ioRoleName(IoRole R) {
  switch (R) {
  case IoRole::None: return "";
  case IoRole::AttentionMask: return "attention_mask";
  case IoRole::TokenTypes: return "token_types";
  }
  return "";
}

StringRef kiln::partitionModeName(PartitionPlan::Mode M) {
  switch (M) {
  case PartitionPlan::Mode::Replicate: return "replicate";
  case PartitionPlan::Mode::Pipeline: return "pipeline";
  }
  return "";
}

namespace {

uint64_t checksum(StringRef Bytes) { return llvm::xxh3_64bits(Bytes); }

uint64_t alignTo(uint64_t X, uint64_t A) { return (X + A - 1) / A * A; }

struct SectionEntry {
  uint32_t Id = 0;
  uint64_t Offset = 0, Size = 0, Checksum = 0;
};

Expected<Artifact> decodeArtifact(StringRef Bytes) {
  uint64_t Size = Bytes.size();
  StringRef MagicRef(Magic, sizeof(Magic));
  if (Size == 0)
    return makeError("the file is empty");
  if (!Bytes.starts_with(MagicRef.take_front(Size)))
    return makeError("not a kiln artifact (wrong magic)");
  if (Size < HeaderSize)
    return makeError("truncated: " + Twine(Size) + " bytes, less than the " +
                     Twine(HeaderSize) + "-byte header");
  uint32_t Version = readU32(Bytes.data() + VersionAt);
  if (Version != ArtifactFormatVersion)
    return makeError("format version " + Twine(Version) + ", this kiln reads " +
                     Twine(ArtifactFormatVersion));
  if (checksum(Bytes.take_front(HeaderChecksumAt)) !=
      readU64(Bytes.data() + HeaderChecksumAt))
    return makeError("checksum mismatch in the header");
  // The header is as written from here on; what it says may still be wrong
  // if the writer was, so every field is checked.
  if (uint32_t H = readU32(Bytes.data() + HeaderSizeAt); H != HeaderSize)
    return makeError("header size " + Twine(H) + ", version 1 has " +
                     Twine(HeaderSize));
  if (readU32(Bytes.data() + ReservedAt))
    return makeError("reserved header field is not zero");
  uint64_t FileSize = readU64(Bytes.data() + FileSizeAt);
  if (FileSize > Size)
    return makeError("truncated: header says " + Twine(FileSize) +
                     " bytes, file has " + Twine(Size));
  if (FileSize < Size)
    return makeError("header says " + Twine(FileSize) + " bytes, file has " +
                     Twine(Size) + " (trailing data)");

  uint32_t Count = readU32(Bytes.data() + SectionCountAt);
  uint64_t TableOffset = readU64(Bytes.data() + TableOffsetAt);
  uint64_t TableSize = uint64_t(Count) * TableEntrySize;
  if (Count < NumSections || Count > MaxSections)
    return makeError(Twine(Count) + " sections, version 1 has " +
                     Twine(NumSections) + " to " + Twine(MaxSections) +
                     " (with a tokenizer, a partition)");
  if (TableOffset < HeaderSize || TableOffset % SectionAlign ||
      TableOffset > Size || TableSize > Size - TableOffset)
    return makeError("section table at " + Twine(TableOffset) +
                     " lies outside the file");
  StringRef Table = Bytes.substr(TableOffset, TableSize);
  if (checksum(Table) != readU64(Bytes.data() + TableChecksumAt))
    return makeError("checksum mismatch in the section table");

  std::vector<SectionEntry> Entries(Count);
  std::map<uint32_t, StringRef> Sections;
  for (uint32_t I = 0; I < Count; ++I) {
    const char *P = Table.data() + I * TableEntrySize;
    SectionEntry &S = Entries[I];
    S.Id = readU32(P);
    S.Offset = readU64(P + 8);
    S.Size = readU64(P + 16);
    S.Checksum = readU64(P + 24);
    StringRef Name = sectionName(S.Id);
    if (Name == "?")
      return makeError("unknown section id " + Twine(S.Id));
    if (readU32(P + 4))
      return makeError("section '" + Name + "' has non-zero reserved bits");
    uint64_t Align = S.Id == WeightsSection ? WeightsAlign : SectionAlign;
    if (S.Offset < HeaderSize || S.Offset % Align || S.Offset > Size ||
        S.Size > Size - S.Offset)
      return makeError("section '" + Name + "' at " + Twine(S.Offset) + ", " +
                       Twine(S.Size) +
                       " bytes, lies outside the file or is "
                       "misaligned");
    if (!Sections.try_emplace(S.Id, Bytes.substr(S.Offset, S.Size)).second)
      return makeError("section '" + Name + "' appears twice");
  }
  // Distinct known ids: every required one must be there, beside the
  // optional ones.
  for (uint32_t Id = MetadataSection; Id <= WeightsSection; ++Id)
    if (!Sections.count(Id))
      return makeError("section '" + sectionName(Id) + "' is missing");
  // Sections and the table must not overlap one another.
  std::vector<std::pair<uint64_t, uint64_t>> Ranges{
      {TableOffset, TableOffset + TableSize}};
  for (const SectionEntry &S : Entries)
    Ranges.push_back({S.Offset, S.Offset + S.Size});
  llvm::sort(Ranges);
  for (size_t I = 1; I < Ranges.size(); ++I)
    if (Ranges[I].first < Ranges[I - 1].second)
      return makeError("sections overlap at byte " + Twine(Ranges[I].first));
  for (const SectionEntry &S : Entries)
    if (checksum(Sections[S.Id]) != S.Checksum)
      return makeError("checksum mismatch in section '" + sectionName(S.Id) +
                       "'");
  if (checksum(Bytes.drop_front(HeaderSize)) !=
      readU64(Bytes.data() + BodyChecksumAt))
    return makeError("checksum mismatch in the padding between sections");

  Artifact A;
  if (Error E = decodeMetadata(Sections[MetadataSection], A.Meta))
    return std::move(E);
  A.IrText = Sections[IrSection].str();
  A.Weights = Sections[WeightsSection].str();
  if (auto It = Sections.find(TokenizerSection); It != Sections.end()) {
    if (It->second.empty())
      return makeError("section 'tokenizer' is empty");
    A.Tokenizer = It->second.str();
  }
  if (Error E =
          decodeWeightIndex(Sections[WeightIndexSection], A.WeightEntries))
    return std::move(E);
  if (Error E = decodePlan(Sections[PlanSection], A.Plan))
    return std::move(E);
  if (Error E = decodeKernels(Sections[KernelsSection], A.Plan.Modules))
    return std::move(E);
  if (auto It = Sections.find(PartitionSection); It != Sections.end()) {
    A.Partition.emplace();
    if (Error E = decodePartition(It->second, *A.Partition, A.Stages))
      return std::move(E);
  }
  if (Error E = validateArtifact(A))
    return std::move(E);
  return A;
}

} // namespace

std::string kiln::serializeArtifact(const Artifact &A) {
  std::string Metadata = encodeMetadata(A.Meta);
  std::string WeightIndex = encodeWeightIndex(A.WeightEntries);
  std::string Plan = encodePlan(A.Plan);
  std::string Kernels = encodeKernels(A.Plan.Modules);
  std::string Partition =
      A.Partition ? encodePartition(*A.Partition, A.Stages) : std::string();
  // An artifact without a tokenizer has no tokenizer section, so it reads
  // with a kiln that predates the section.
  std::vector<std::pair<uint32_t, StringRef>> Sections = {
      {MetadataSection, Metadata},
      {IrSection, A.IrText},
      {WeightIndexSection, WeightIndex},
      {PlanSection, Plan},
      {KernelsSection, Kernels}};
  if (!A.Tokenizer.empty())
    Sections.push_back({TokenizerSection, A.Tokenizer});
  if (A.Partition)
    Sections.push_back({PartitionSection, Partition});
  Sections.push_back({WeightsSection, A.Weights});
  const uint32_t Count = Sections.size();

  uint64_t TableOffset = HeaderSize;
  uint64_t Offset = TableOffset + Count * TableEntrySize;
  std::vector<uint64_t> Offsets(Count);
  for (uint32_t I = 0; I < Count; ++I) {
    Offset =
        alignTo(Offset, Sections[I].first == WeightsSection ? WeightsAlign
                                                            : SectionAlign);
    Offsets[I] = Offset;
    Offset += Sections[I].second.size();
  }
  std::string Out(Offset, '\0');
  char *Table = Out.data() + TableOffset;
  for (uint32_t I = 0; I < Count; ++I) {
    auto [Id, Bytes] = Sections[I];
    std::copy(Bytes.begin(), Bytes.end(), Out.data() + Offsets[I]);
    char *Entry = Table + I * TableEntrySize;
    writeU32(Entry, Id);
    writeU64(Entry + 8, Offsets[I]);
    writeU64(Entry + 16, Bytes.size());
    writeU64(Entry + 24, checksum(Bytes));
  }
  std::copy(Magic, Magic + sizeof(Magic), Out.data());
  writeU32(Out.data() + VersionAt, ArtifactFormatVersion);
  writeU32(Out.data() + HeaderSizeAt, HeaderSize);
  writeU64(Out.data() + FileSizeAt, Out.size());
  writeU32(Out.data() + SectionCountAt, Count);
  writeU64(Out.data() + TableOffsetAt, TableOffset);
  writeU64(Out.data() + TableChecksumAt,
           checksum(StringRef(Table, Count * TableEntrySize)));
  writeU64(Out.data() + BodyChecksumAt,
           checksum(StringRef(Out).drop_front(HeaderSize)));
  writeU64(Out.data() + HeaderChecksumAt,
           checksum(StringRef(Out).take_front(HeaderChecksumAt)));
  return Out;
}

Expected<Artifact> kiln::parseArtifact(StringRef Bytes, StringRef Name) {
  Expected<Artifact> A = decodeArtifact(Bytes);
  if (!A)
    return withContext(A.takeError(), Name);
  return A;
}

Expected<Artifact> kiln::readArtifact(StringRef Path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> Buf =
      llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!Buf)
    return makeError(Path + ": " + Buf.getError().message());
  return parseArtifact((*Buf)->getBuffer(), Path);
}

Error kiln::writeArtifact(const Artifact &A, StringRef Path) {
  if (Error E = validateArtifact(A))
    return withContext(std::move(E), Path + ": not written");
  std::string Bytes = serializeArtifact(A);

  int FD;
  llvm::SmallString<256> TmpPath;
  if (std::error_code EC =
          llvm::sys::fs::createUniqueFile(Path + ".tmp-%%%%%%%%", FD, TmpPath))
    return makeError(
        Path + ": cannot create a temporary file beside it: " + EC.message());
  llvm::sys::RemoveFileOnSignal(TmpPath);
  std::error_code EC;
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS << Bytes;
    OS.flush();
    // Data on disk before the rename makes the new name visible, so a crash
    // leaves the old file or the new one, never an empty one.
    if (!OS.has_error() && ::fsync(FD) != 0)
      EC = std::error_code(errno, std::generic_category());
    OS.close();
    if (OS.has_error()) {
      EC = OS.error();
      OS.clear_error();
    }
  }
  if (!EC)
    EC = llvm::sys::fs::rename(TmpPath, Path);
  if (EC)
    llvm::sys::fs::remove(TmpPath);
  llvm::sys::DontRemoveFileOnSignal(TmpPath);
  if (EC)
    return makeError(Path + ": " + EC.message());
  return Error::success();
}

Expected<std::unique_ptr<Graph>> kiln::artifactGraph(const Artifact &A) {
  Expected<std::unique_ptr<Graph>> G = parseGraph(A.IrText, "<artifact IR>");
  if (!G)
    return G.takeError();
  Graph &Gr = **G;
  for (const WeightEntry &W : A.WeightEntries) {
    Value *V = Gr.lookup(W.Name);
    if (!V || !V->isConstant())
      return makeError("weight '" + W.Name + "' names no constant of the IR");
    std::optional<uint64_t> Bytes =
        validDType(W.Type) ? denseBytes(W.Type, W.Dims) : std::nullopt;
    uint64_t End;
    if (!Bytes || __builtin_add_overflow(W.Offset, *Bytes, &End) ||
        End > A.Weights.size())
      return makeError("weight '" + W.Name + "' ends past the weights (" +
                       Twine(A.Weights.size()) + " bytes)");
    if (V->type() != TensorType::get(W.Type, W.Dims))
      return makeError("weight '" + W.Name + "' is stored as " +
                       dtypeName(W.Type) + dimsStr(W.Dims) +
                       ", the IR's constant is " + V->type().str());
    Tensor Data = Tensor::fromBytes(
        W.Type, W.Dims,
        llvm::ArrayRef(reinterpret_cast<const uint8_t *>(A.Weights.data()) +
                           W.Offset,
                       *Bytes));
    if (const Tensor *Inline = V->constantData()) {
      if (!Inline->identical(Data))
        return makeError("weight '" + W.Name +
                         "' differs from the IR's inline data");
      continue;
    }
    V->setConstantData(std::move(Data));
  }
  for (Value *C : Gr.constants())
    if (!C->constantData())
      return makeError("constant '" + C->name() +
                       "' is elided and has no weight entry");
  if (Error E = verifyGraph(Gr))
    return withContext(std::move(E), "the artifact's IR");
  return G;
}