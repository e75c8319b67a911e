//===- Artifact.cpp - writing, reading and checking .kiln files -----------===//
//
// Layout (docs/artifact.md has every byte):
//
//   header (64 bytes)   magic, version, sizes, table offset, checksums
//   section table       one 32-byte entry per section
//   sections            metadata (JSON), IR text, weight index, plan,
//                       kernels, weights (4096-aligned, last)
//
// Checks run from the outside in, so that the first failure names the most
// specific cause: magic, version, header checksum, file size, table
// checksum, section bounds, section checksums, the checksum of everything
// after the header (which leaves only the padding to cover), then decoding
// (every length against the bytes left) and finally validateArtifact.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"

#include "ir/Error.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include <unistd.h>

using namespace kiln;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

namespace {

//===----------------------------------------------------------------------===//
// Constants of format version 1
//===----------------------------------------------------------------------===//

// The CR LF and ^Z bytes catch a file mangled by a text-mode transfer.
constexpr char Magic[8] = {'K', 'I', 'L', 'N', '\r', '\n', '\x1a', '\n'};
constexpr uint64_t HeaderSize = 64;
constexpr uint64_t TableEntrySize = 32;
constexpr uint64_t SectionAlign = 8;
// A page, so the weights can be used straight from a mapping of the file.
constexpr uint64_t WeightsAlign = 4096;

// Header field offsets.
constexpr size_t VersionAt = 8, HeaderSizeAt = 12, FileSizeAt = 16,
                 SectionCountAt = 24, ReservedAt = 28, TableOffsetAt = 32,
                 TableChecksumAt = 40, BodyChecksumAt = 48,
                 HeaderChecksumAt = 56;

// Section ids, in the order the writer lays the sections out.
enum SectionId : uint32_t {
  MetadataSection = 1,
  IrSection,
  WeightIndexSection,
  PlanSection,
  KernelsSection,
  WeightsSection,
};
constexpr uint32_t NumSections = 6;

StringRef sectionName(uint32_t Id) {
  switch (Id) {
  case MetadataSection: return "metadata";
  case IrSection: return "ir";
  case WeightIndexSection: return "weight-index";
  case PlanSection: return "plan";
  case KernelsSection: return "kernels";
  case WeightsSection: return "weights";
  }
  return "?";
}

// What the hardware and cuBLASLt accept (sm_70 and later).
constexpr uint32_t MaxGridX = 0x7fffffff, MaxGridYZ = 65535;
constexpr uint32_t MaxBlockXY = 1024, MaxBlockZ = 64, MaxBlockThreads = 1024;
constexpr uint32_t MaxSharedBytes = 227 * 1024;

uint64_t checksum(StringRef Bytes) { return llvm::xxh3_64bits(Bytes); }

uint64_t alignTo(uint64_t X, uint64_t A) { return (X + A - 1) / A * A; }

uint32_t readU32(const char *P) { return llvm::support::endian::read32le(P); }
uint64_t readU64(const char *P) { return llvm::support::endian::read64le(P); }
void writeU32(char *P, uint32_t V) { llvm::support::endian::write32le(P, V); }
void writeU64(char *P, uint64_t V) { llvm::support::endian::write64le(P, V); }

bool validDType(DType T) { return uint8_t(T) <= uint8_t(DType::Bool); }
bool isGemmDType(DType T) {
  return T == DType::F32 || T == DType::F16 || T == DType::BF16;
}

/// Bytes of a dense tensor, or nothing when a dim is negative or the size
/// overflows.
std::optional<uint64_t> denseBytes(DType T, llvm::ArrayRef<int64_t> Dims) {
  uint64_t Bytes = dtypeSize(T);
  for (int64_t D : Dims)
    if (D < 0 || __builtin_mul_overflow(Bytes, uint64_t(D), &Bytes))
      return std::nullopt;
  return Bytes;
}

std::string dimsStr(llvm::ArrayRef<int64_t> Dims) {
  std::string S = "[";
  for (size_t I = 0; I < Dims.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Dims[I]);
  return S + "]";
}

//===----------------------------------------------------------------------===//
// Binary encoding: little-endian fixed-width integers, strings and lists
// prefixed by a u64 count
//===----------------------------------------------------------------------===//

class Encoder {
public:
  std::string Out;

  void u8(uint8_t V) { Out += char(V); }
  void u32(uint32_t V) {
    char B[4];
    writeU32(B, V);
    Out.append(B, 4);
  }
  void u64(uint64_t V) {
    char B[8];
    writeU64(B, V);
    Out.append(B, 8);
  }
  void i64(int64_t V) { u64(uint64_t(V)); }
  void f32(float V) {
    uint32_t Bits;
    std::memcpy(&Bits, &V, 4);
    u32(Bits);
  }
  void str(StringRef S) {
    u64(S.size());
    Out.append(S.data(), S.size());
  }
  void i64s(llvm::ArrayRef<int64_t> Vs) {
    u64(Vs.size());
    for (int64_t V : Vs)
      i64(V);
  }
};

/// Reads a section. The first failure sticks: later reads return zeros and
/// consume nothing, so a decoder runs to its end and reports once.
class Decoder {
public:
  explicit Decoder(StringRef Bytes) : Bytes(Bytes) {}

  bool failed() const { return !Problem.empty(); }
  uint64_t remaining() const { return Bytes.size() - Pos; }

  uint8_t u8() {
    const char *P = take(1, "a byte");
    return P ? uint8_t(*P) : 0;
  }
  uint32_t u32() {
    const char *P = take(4, "a 32-bit integer");
    return P ? readU32(P) : 0;
  }
  uint64_t u64() {
    const char *P = take(8, "a 64-bit integer");
    return P ? readU64(P) : 0;
  }
  int64_t i64() { return int64_t(u64()); }
  float f32() {
    uint32_t Bits = u32();
    float V;
    std::memcpy(&V, &Bits, 4);
    return V;
  }
  bool boolean(const char *What) {
    uint8_t V = u8();
    if (V > 1)
      fail(Twine(What) + " is " + Twine(unsigned(V)) + ", not 0 or 1");
    return V == 1;
  }
  /// An enum stored as one byte, checked against its last enumerator.
  template <typename E> E enumU8(E Last, const char *What) {
    uint8_t V = u8();
    if (V > uint8_t(Last))
      fail(Twine("invalid ") + What + " " + Twine(unsigned(V)));
    return failed() ? E(0) : E(V);
  }
  DType dtype() { return enumU8(DType::Bool, "dtype"); }
  std::string str() {
    uint64_t N = u64();
    if (failed())
      return {};
    if (N > remaining()) {
      fail("a string of " + Twine(N) + " bytes, " + Twine(remaining()) +
           " left");
      return {};
    }
    std::string S(Bytes.data() + Pos, N);
    Pos += N;
    return S;
  }
  /// A list's count, checked against the bytes left (every element takes at
  /// least `MinElementBytes`), so a corrupt count cannot drive a long loop.
  uint64_t count(uint64_t MinElementBytes, const char *What) {
    uint64_t N = u64();
    if (!failed() && N > remaining() / MinElementBytes)
      fail(Twine(N) + " " + What + " in " + Twine(remaining()) + " bytes left");
    return failed() ? 0 : N;
  }
  std::vector<int64_t> i64s() {
    std::vector<int64_t> Vs(count(8, "integers"));
    for (int64_t &V : Vs)
      V = i64();
    return Vs;
  }

  void fail(const Twine &Why) {
    if (!failed())
      Problem = Why.str() + " at byte " + std::to_string(Pos);
  }

  /// The sticky error, or trailing bytes, as the section's error.
  Error finish(StringRef Section) {
    if (!failed() && remaining())
      Problem = std::to_string(remaining()) + " trailing bytes";
    if (failed())
      return makeError("section '" + Section + "': " + Problem);
    return Error::success();
  }

private:
  const char *take(uint64_t N, const char *What) {
    if (failed())
      return nullptr;
    if (N > remaining()) {
      fail(Twine("truncated reading ") + What);
      return nullptr;
    }
    const char *P = Bytes.data() + Pos;
    Pos += N;
    return P;
  }

  StringRef Bytes;
  uint64_t Pos = 0;
  std::string Problem;
};

//===----------------------------------------------------------------------===//
// The plan, the kernels and the weight index
//===----------------------------------------------------------------------===//

void encode(Encoder &E, const BufferRef &R) {
  E.u8(uint8_t(R.In));
  E.u64(R.Offset);
  E.u64(R.Bytes);
}
void decode(Decoder &D, BufferRef &R) {
  R.In = D.enumU8(BufferRef::Space::Arena, "buffer space");
  R.Offset = D.u64();
  R.Bytes = D.u64();
}

void encode(Encoder &E, const KernelStep &S) {
  E.u32(S.Kernel);
  for (uint32_t G : S.Grid)
    E.u32(G);
  for (uint32_t B : S.Block)
    E.u32(B);
  E.u32(S.SharedBytes);
  E.u64(S.Args.size());
  for (const KernelArg &A : S.Args) {
    E.u8(uint8_t(A.K));
    switch (A.K) {
    case KernelArg::Kind::Buffer: encode(E, A.Buffer); break;
    case KernelArg::Kind::I32:
    case KernelArg::Kind::I64: E.i64(A.Int); break;
    case KernelArg::Kind::F32: E.f32(A.Float); break;
    }
  }
  E.str(S.Label);
}
void decode(Decoder &D, KernelStep &S) {
  S.Kernel = D.u32();
  for (uint32_t &G : S.Grid)
    G = D.u32();
  for (uint32_t &B : S.Block)
    B = D.u32();
  S.SharedBytes = D.u32();
  S.Args.resize(D.count(5, "kernel arguments"));
  for (KernelArg &A : S.Args) {
    A.K = D.enumU8(KernelArg::Kind::F32, "kernel argument kind");
    switch (A.K) {
    case KernelArg::Kind::Buffer: decode(D, A.Buffer); break;
    case KernelArg::Kind::I32:
    case KernelArg::Kind::I64: A.Int = D.i64(); break;
    case KernelArg::Kind::F32: A.Float = D.f32(); break;
    }
  }
  S.Label = D.str();
}

void encode(Encoder &E, const GemmStep &S) {
  for (int64_t V : {S.M, S.N, S.K, S.Batch, S.StrideA, S.StrideB, S.StrideD})
    E.i64(V);
  E.u8(S.TransA);
  E.u8(S.TransB);
  E.u8(uint8_t(S.AType));
  E.u8(uint8_t(S.BType));
  E.u8(uint8_t(S.DType_));
  E.u8(uint8_t(S.Epi));
  E.f32(S.Alpha);
  for (const BufferRef *R : {&S.A, &S.B, &S.D, &S.Bias})
    encode(E, *R);
  E.str(
      StringRef(reinterpret_cast<const char *>(S.Algo.data()), S.Algo.size()));
  E.str(S.Label);
}
void decode(Decoder &D, GemmStep &S) {
  for (int64_t *V :
       {&S.M, &S.N, &S.K, &S.Batch, &S.StrideA, &S.StrideB, &S.StrideD})
    *V = D.i64();
  S.TransA = D.boolean("transA");
  S.TransB = D.boolean("transB");
  S.AType = D.dtype();
  S.BType = D.dtype();
  S.DType_ = D.dtype();
  // Checked by validatePlan, whose switch keeps up with the enumerators.
  S.Epi = GemmStep::Epilogue(D.u8());
  S.Alpha = D.f32();
  for (BufferRef *R : {&S.A, &S.B, &S.D, &S.Bias})
    decode(D, *R);
  std::string Algo = D.str();
  S.Algo.assign(Algo.begin(), Algo.end());
  S.Label = D.str();
}

void encode(Encoder &E, const CopyStep &S) {
  encode(E, S.Src);
  encode(E, S.Dst);
  E.str(S.Label);
}
void decode(Decoder &D, CopyStep &S) {
  decode(D, S.Src);
  decode(D, S.Dst);
  S.Label = D.str();
}

void encode(Encoder &E, const IoBinding &B) {
  E.str(B.Name);
  E.u8(uint8_t(B.Type));
  E.i64s(B.Dims);
  encode(E, B.Buffer);
}
void decode(Decoder &D, IoBinding &B) {
  B.Name = D.str();
  B.Type = D.dtype();
  B.Dims = D.i64s();
  decode(D, B.Buffer);
}

void encodeBindings(Encoder &E, const std::vector<IoBinding> &Bs) {
  E.u64(Bs.size());
  for (const IoBinding &B : Bs)
    encode(E, B);
}
void decodeBindings(Decoder &D, std::vector<IoBinding> &Bs) {
  Bs.resize(D.count(8, "bindings"));
  for (IoBinding &B : Bs)
    decode(D, B);
}

// Step tags; the variant's index is not used so that reordering Step's
// alternatives cannot silently change the format.
enum StepTag : uint8_t { KernelTag, GemmTag, CopyTag };

std::string encodePlan(const ExecutablePlan &P) {
  Encoder E;
  E.str(P.Arch);
  E.u64(P.WeightBytes);
  E.u64(P.Kernels.size());
  for (const KernelRef &K : P.Kernels) {
    E.u32(K.Module);
    E.str(K.LoweredName);
  }
  E.u64(P.Buckets.size());
  for (const BucketPlan &B : P.Buckets) {
    E.i64(B.Batch);
    E.i64(B.Seq);
    E.u64(B.ArenaBytes);
    encodeBindings(E, B.Inputs);
    encodeBindings(E, B.Outputs);
    E.u64(B.Steps.size());
    for (const Step &S : B.Steps) {
      if (const auto *K = std::get_if<KernelStep>(&S)) {
        E.u8(KernelTag);
        encode(E, *K);
      } else if (const auto *G = std::get_if<GemmStep>(&S)) {
        E.u8(GemmTag);
        encode(E, *G);
      } else {
        E.u8(CopyTag);
        encode(E, std::get<CopyStep>(S));
      }
    }
  }
  return std::move(E.Out);
}

/// Fills everything of `P` but its modules (the kernels section's).
Error decodePlan(StringRef Bytes, ExecutablePlan &P) {
  Decoder D(Bytes);
  P.Arch = D.str();
  P.WeightBytes = D.u64();
  P.Kernels.resize(D.count(12, "kernels"));
  for (KernelRef &K : P.Kernels) {
    K.Module = D.u32();
    K.LoweredName = D.str();
  }
  P.Buckets.resize(D.count(48, "buckets"));
  for (BucketPlan &B : P.Buckets) {
    B.Batch = D.i64();
    B.Seq = D.i64();
    B.ArenaBytes = D.u64();
    decodeBindings(D, B.Inputs);
    decodeBindings(D, B.Outputs);
    uint64_t NumSteps = D.count(1, "steps");
    for (uint64_t I = 0; I < NumSteps && !D.failed(); ++I) {
      switch (D.enumU8(CopyTag, "step kind")) {
      case KernelTag:
        decode(D, B.Steps.emplace_back().emplace<KernelStep>());
        break;
      case GemmTag:
        decode(D, B.Steps.emplace_back().emplace<GemmStep>());
        break;
      case CopyTag:
        decode(D, B.Steps.emplace_back().emplace<CopyStep>());
        break;
      }
    }
    if (D.failed())
      break;
  }
  return D.finish(sectionName(PlanSection));
}

std::string encodeKernels(const std::vector<KernelModule> &Modules) {
  Encoder E;
  E.u64(Modules.size());
  for (const KernelModule &M : Modules) {
    E.str(M.Name);
    E.str(M.Cubin);
    E.str(M.Ptx);
  }
  return std::move(E.Out);
}

Error decodeKernels(StringRef Bytes, std::vector<KernelModule> &Modules) {
  Decoder D(Bytes);
  Modules.resize(D.count(24, "modules"));
  for (KernelModule &M : Modules) {
    M.Name = D.str();
    M.Cubin = D.str();
    M.Ptx = D.str();
  }
  return D.finish(sectionName(KernelsSection));
}

std::string encodeWeightIndex(const std::vector<WeightEntry> &Entries) {
  Encoder E;
  E.u64(Entries.size());
  for (const WeightEntry &W : Entries) {
    E.str(W.Name);
    E.u64(W.Offset);
    E.u8(uint8_t(W.Type));
    E.i64s(W.Dims);
  }
  return std::move(E.Out);
}

Error decodeWeightIndex(StringRef Bytes, std::vector<WeightEntry> &Entries) {
  Decoder D(Bytes);
  Entries.resize(D.count(25, "weight entries"));
  for (WeightEntry &W : Entries) {
    W.Name = D.str();
    W.Offset = D.u64();
    W.Type = D.dtype();
    W.Dims = D.i64s();
  }
  return D.finish(sectionName(WeightIndexSection));
}

//===----------------------------------------------------------------------===//
// Metadata (JSON)
//===----------------------------------------------------------------------===//

llvm::json::Value dimsToJson(const std::vector<Dim> &Dims) {
  llvm::json::Array A;
  for (const Dim &D : Dims) {
    if (D.isStatic())
      A.push_back(D.value());
    else if (D.isSymbol())
      A.push_back(D.symbol());
    else
      A.push_back(nullptr);
  }
  return A;
}

llvm::json::Value ioToJson(const std::vector<IoSpec> &Specs) {
  llvm::json::Array A;
  for (const IoSpec &S : Specs)
    A.push_back(llvm::json::Object{{"name", S.Name},
                                   {"dtype", dtypeName(S.Type)},
                                   {"shape", dimsToJson(S.Dims)}});
  return A;
}

std::string encodeMetadata(const ArtifactMetadata &M) {
  llvm::json::Object O{{"model", M.ModelName},
                       {"producer", M.Producer},
                       {"precision", M.Precision},
                       {"arch", M.Arch},
                       {"batch_buckets", M.BatchBuckets},
                       {"seq_buckets", M.SeqBuckets},
                       {"inputs", ioToJson(M.Inputs)},
                       {"outputs", ioToJson(M.Outputs)},
                       {"compile_command", M.CompileCommand}};
  if (!M.DataDependent.empty())
    O["data_dependent"] = M.DataDependent;
  std::string S;
  llvm::raw_string_ostream OS(S);
  llvm::json::OStream J(OS, /*IndentSize=*/2);
  J.value(std::move(O));
  return S;
}

/// V.getAsInteger(), less its one undefined case: a double of exactly 2^63
/// passes its range check (INT64_MAX rounds up to 2^63) and then overflows
/// the conversion.
std::optional<int64_t> jsonInteger(const llvm::json::Value &V) {
  if (std::optional<double> D = V.getAsNumber();
      D && *D >= 0x1p63 && !V.getAsUINT64())
    return std::nullopt;
  return V.getAsInteger();
}

Error metadataError(const Twine &Why) {
  return makeError("section 'metadata': " + Why);
}

Expected<std::string> jsonString(const llvm::json::Object &O, StringRef Key) {
  if (std::optional<StringRef> S = O.getString(Key))
    return S->str();
  return metadataError("'" + Key + "' is missing or not a string");
}

Expected<std::vector<int64_t>> jsonInts(const llvm::json::Object &O,
                                        StringRef Key) {
  const llvm::json::Array *A = O.getArray(Key);
  if (!A)
    return metadataError("'" + Key + "' is missing or not a list");
  std::vector<int64_t> Out;
  for (const llvm::json::Value &V : *A) {
    std::optional<int64_t> I = jsonInteger(V);
    if (!I)
      return metadataError("'" + Key + "' holds something not an integer");
    Out.push_back(*I);
  }
  return Out;
}

Expected<std::vector<IoSpec>> jsonIo(const llvm::json::Object &O,
                                     StringRef Key) {
  const llvm::json::Array *A = O.getArray(Key);
  if (!A)
    return metadataError("'" + Key + "' is missing or not a list");
  std::vector<IoSpec> Out;
  for (const llvm::json::Value &V : *A) {
    const llvm::json::Object *Spec = V.getAsObject();
    std::optional<StringRef> Name =
        Spec ? Spec->getString("name") : std::nullopt;
    std::optional<StringRef> Type =
        Spec ? Spec->getString("dtype") : std::nullopt;
    const llvm::json::Array *Shape = Spec ? Spec->getArray("shape") : nullptr;
    if (!Name || !Type || !Shape)
      return metadataError("an entry of '" + Key +
                           "' lacks a string 'name', a string 'dtype' or a "
                           "list 'shape'");
    IoSpec S;
    S.Name = Name->str();
    std::optional<DType> T = parseDType(*Type);
    if (!T)
      return metadataError("'" + Key + "' entry '" + *Name +
                           "' has unknown dtype '" + *Type + "'");
    S.Type = *T;
    for (const llvm::json::Value &D : *Shape) {
      if (std::optional<int64_t> I = jsonInteger(D); I && *I >= 0)
        S.Dims.push_back(Dim(*I));
      else if (std::optional<StringRef> Sym = D.getAsString();
               Sym && !Sym->empty())
        S.Dims.push_back(Dim::symbol(Sym->str()));
      else if (D.getAsNull())
        S.Dims.push_back(Dim::unknown());
      else
        return metadataError("'" + Key + "' entry '" + *Name +
                             "' has a dim that is no size, symbol or null");
    }
    Out.push_back(std::move(S));
  }
  return Out;
}

/// Unknown keys are ignored, so that a key added for information alone
/// needs no new format version.
Error decodeMetadata(StringRef Bytes, ArtifactMetadata &M) {
  Expected<llvm::json::Value> V = llvm::json::parse(Bytes);
  if (!V)
    return metadataError(llvm::toString(V.takeError()));
  const llvm::json::Object *O = V->getAsObject();
  if (!O)
    return metadataError("not a JSON object");
  auto Assign = [](auto &Field, auto Got) -> Error {
    if (!Got)
      return Got.takeError();
    Field = std::move(*Got);
    return Error::success();
  };
  if (Error E = Assign(M.ModelName, jsonString(*O, "model")))
    return E;
  if (Error E = Assign(M.Producer, jsonString(*O, "producer")))
    return E;
  if (Error E = Assign(M.Precision, jsonString(*O, "precision")))
    return E;
  if (Error E = Assign(M.Arch, jsonString(*O, "arch")))
    return E;
  if (Error E = Assign(M.BatchBuckets, jsonInts(*O, "batch_buckets")))
    return E;
  if (Error E = Assign(M.SeqBuckets, jsonInts(*O, "seq_buckets")))
    return E;
  if (Error E = Assign(M.Inputs, jsonIo(*O, "inputs")))
    return E;
  if (Error E = Assign(M.Outputs, jsonIo(*O, "outputs")))
    return E;
  if (Error E = Assign(M.CompileCommand, jsonString(*O, "compile_command")))
    return E;
  if (O->get("data_dependent"))
    return Assign(M.DataDependent, jsonString(*O, "data_dependent"));
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Validation
//===----------------------------------------------------------------------===//

std::string bucketName(const BucketPlan &B) {
  std::string S = "bucket (batch " + std::to_string(B.Batch);
  if (B.Seq)
    S += ", seq " + std::to_string(B.Seq);
  return S + ")";
}

std::string stepName(const Step &S, size_t Index) {
  std::string Name = "step " + std::to_string(Index);
  if (const auto *K = std::get_if<KernelStep>(&S))
    return Name + " (kernel '" + K->Label + "')";
  if (const auto *G = std::get_if<GemmStep>(&S))
    return Name + " (gemm '" + G->Label + "')";
  return Name + " (copy '" + std::get<CopyStep>(S).Label + "')";
}

std::string refStr(const BufferRef &R) {
  return std::string(R.In == BufferRef::Space::Weights ? "weights" : "arena") +
         "[" + std::to_string(R.Offset) + ", +" + std::to_string(R.Bytes) + "]";
}

/// The two buffers a bucket's steps address.
struct Spaces {
  uint64_t WeightBytes = 0, ArenaBytes = 0;

  Error check(const BufferRef &R, const Twine &What) const {
    uint64_t End;
    switch (R.In) {
    case BufferRef::Space::Weights:
      if (__builtin_add_overflow(R.Offset, R.Bytes, &End) || End > WeightBytes)
        return makeError(What + " " + refStr(R) + " ends past the weights (" +
                         Twine(WeightBytes) + " bytes)");
      return Error::success();
    case BufferRef::Space::Arena:
      if (__builtin_add_overflow(R.Offset, R.Bytes, &End) || End > ArenaBytes)
        return makeError(What + " " + refStr(R) + " ends past the arena (" +
                         Twine(ArenaBytes) + " bytes)");
      return Error::success();
    }
    return makeError(What + " is in an invalid buffer space");
  }

  /// A buffer a step writes: only the arena is writable.
  Error checkWritable(const BufferRef &R, const Twine &What) const {
    if (R.In != BufferRef::Space::Arena)
      return makeError(What + " " + refStr(R) +
                       " is written, but is not in the arena");
    return check(R, What);
  }
};

Error checkKernelStep(const KernelStep &S, const ExecutablePlan &P,
                      const Spaces &Sp) {
  if (S.Kernel >= P.Kernels.size())
    return makeError("kernel index " + Twine(S.Kernel) + " out of range (" +
                     Twine(P.Kernels.size()) + " kernels)");
  if (!S.Grid[0] || !S.Grid[1] || !S.Grid[2] || S.Grid[0] > MaxGridX ||
      S.Grid[1] > MaxGridYZ || S.Grid[2] > MaxGridYZ)
    return makeError("grid (" + Twine(S.Grid[0]) + ", " + Twine(S.Grid[1]) +
                     ", " + Twine(S.Grid[2]) + ") is empty or too large");
  uint64_t Threads = uint64_t(S.Block[0]) * S.Block[1] * S.Block[2];
  if (!Threads || S.Block[0] > MaxBlockXY || S.Block[1] > MaxBlockXY ||
      S.Block[2] > MaxBlockZ || Threads > MaxBlockThreads)
    return makeError("block (" + Twine(S.Block[0]) + ", " + Twine(S.Block[1]) +
                     ", " + Twine(S.Block[2]) + ") is empty or exceeds " +
                     Twine(MaxBlockThreads) + " threads");
  if (S.SharedBytes > MaxSharedBytes)
    return makeError("shared memory " + Twine(S.SharedBytes) +
                     " bytes exceeds " + Twine(MaxSharedBytes));
  for (size_t I = 0; I < S.Args.size(); ++I) {
    const KernelArg &A = S.Args[I];
    switch (A.K) {
    case KernelArg::Kind::Buffer:
      if (Error E = Sp.check(A.Buffer, "argument " + Twine(I)))
        return E;
      break;
    case KernelArg::Kind::I32:
      if (A.Int < std::numeric_limits<int32_t>::min() ||
          A.Int > std::numeric_limits<int32_t>::max())
        return makeError("argument " + Twine(I) + " (i32) holds " +
                         Twine(A.Int));
      break;
    case KernelArg::Kind::I64:
    case KernelArg::Kind::F32: break;
    default: return makeError("argument " + Twine(I) + " has an invalid kind");
    }
  }
  return Error::success();
}

/// Checks that a batched operand of `Rows` x `Cols` elements per matrix,
/// `Stride` elements apart, fits its buffer and is aligned for its dtype.
Error checkOperand(const BufferRef &R, const char *What, DType T, int64_t Batch,
                   int64_t Stride, int64_t Rows, int64_t Cols, const Spaces &Sp,
                   bool Written) {
  if (Error E = Written ? Sp.checkWritable(R, What) : Sp.check(R, What))
    return E;
  uint64_t Elems, Span, Bytes;
  bool Overflow =
      __builtin_mul_overflow(uint64_t(Rows), uint64_t(Cols), &Elems) ||
      __builtin_mul_overflow(uint64_t(Batch - 1), uint64_t(Stride), &Span) ||
      __builtin_add_overflow(Span, Elems, &Elems) ||
      __builtin_mul_overflow(Elems, uint64_t(dtypeSize(T)), &Bytes);
  if (Overflow || Bytes > R.Bytes) {
    std::string Needs = Overflow ? "its size overflows"
                                 : "needs " + std::to_string(Bytes) + " bytes";
    return makeError(Twine(What) + " " + refStr(R) + " is too small for " +
                     Twine(Batch) + " x [" + Twine(Rows) + ", " + Twine(Cols) +
                     "] " + dtypeName(T) + " with stride " + Twine(Stride) +
                     " (" + Needs + ")");
  }
  if (R.Offset % dtypeSize(T))
    return makeError(Twine(What) + " " + refStr(R) + " is not aligned for " +
                     dtypeName(T));
  return Error::success();
}

/// Whether the epilogue adds a bias; nothing for a value no enumerator has.
std::optional<bool> epilogueHasBias(GemmStep::Epilogue Epi) {
  switch (Epi) {
  case GemmStep::Epilogue::None:
  case GemmStep::Epilogue::Relu:
  case GemmStep::Epilogue::GeluTanh: return false;
  case GemmStep::Epilogue::Bias:
  case GemmStep::Epilogue::ReluBias:
  case GemmStep::Epilogue::GeluTanhBias: return true;
  }
  return std::nullopt;
}

Error checkGemmStep(const GemmStep &S, const Spaces &Sp) {
  if (S.M <= 0 || S.N <= 0 || S.K <= 0 || S.Batch <= 0)
    return makeError("shape M=" + Twine(S.M) + " N=" + Twine(S.N) +
                     " K=" + Twine(S.K) + " batch=" + Twine(S.Batch) +
                     " is not positive");
  if (S.StrideA < 0 || S.StrideB < 0 || S.StrideD < 0)
    return makeError("negative batch stride");
  for (DType T : {S.AType, S.BType, S.DType_})
    if (!validDType(T) || !isGemmDType(T))
      return makeError(
          "dtype " +
          (validDType(T) ? dtypeName(T).str() : std::to_string(unsigned(T))) +
          " is not f32, f16 or bf16");
  std::optional<bool> HasBias = epilogueHasBias(S.Epi);
  if (!HasBias)
    return makeError("invalid epilogue " + Twine(unsigned(S.Epi)));
  if (!std::isfinite(S.Alpha))
    return makeError("alpha is not finite");
  int64_t MatrixD;
  if (__builtin_mul_overflow(S.M, S.N, &MatrixD))
    return makeError("M x N overflows");
  if (S.Batch > 1 && S.StrideD < MatrixD)
    return makeError("D batch stride " + Twine(S.StrideD) +
                     " makes the batch's results overlap");
  if (!S.Algo.empty() && S.Algo.size() != GemmAlgoBytes)
    return makeError("algorithm is " + Twine(S.Algo.size()) + " bytes, not " +
                     Twine(GemmAlgoBytes));
  // op(A) is [M, K]: A is stored [M, K], or [K, M] when transposed; either
  // way M*K elements per matrix. Likewise B.
  if (Error E = checkOperand(S.A, "A", S.AType, S.Batch, S.StrideA, S.M, S.K,
                             Sp, /*Written=*/false))
    return E;
  if (Error E = checkOperand(S.B, "B", S.BType, S.Batch, S.StrideB, S.K, S.N,
                             Sp, /*Written=*/false))
    return E;
  if (Error E = checkOperand(S.D, "D", S.DType_, S.Batch, S.StrideD, S.M, S.N,
                             Sp, /*Written=*/true))
    return E;
  if (*HasBias)
    if (Error E = checkOperand(S.Bias, "bias", S.DType_, 1, 0, 1, S.N, Sp,
                               /*Written=*/false))
      return E;
  return Error::success();
}

Error checkCopyStep(const CopyStep &S, const Spaces &Sp) {
  if (Error E = Sp.check(S.Src, "source"))
    return E;
  if (Error E = Sp.checkWritable(S.Dst, "destination"))
    return E;
  if (S.Src.Bytes != S.Dst.Bytes)
    return makeError("source " + refStr(S.Src) + " and destination " +
                     refStr(S.Dst) + " differ in size");
  if (S.Src.In == BufferRef::Space::Arena &&
      S.Src.Offset < S.Dst.Offset + S.Dst.Bytes &&
      S.Dst.Offset < S.Src.Offset + S.Src.Bytes)
    return makeError("source " + refStr(S.Src) + " overlaps destination " +
                     refStr(S.Dst));
  return Error::success();
}

Error checkBindings(const std::vector<IoBinding> &Bs, const char *Kind,
                    const Spaces &Sp) {
  llvm::StringSet<> Names;
  for (const IoBinding &B : Bs) {
    std::string What = std::string(Kind) + " '" + B.Name + "'";
    if (B.Name.empty())
      return makeError(std::string("an ") + Kind + " has no name");
    if (!Names.insert(B.Name).second)
      return makeError(What + " is bound twice");
    if (!validDType(B.Type))
      return makeError(What + " has an invalid dtype");
    std::optional<uint64_t> Bytes = denseBytes(B.Type, B.Dims);
    if (!Bytes)
      return makeError(What + " has invalid dims " + dimsStr(B.Dims));
    if (*Bytes != B.Buffer.Bytes)
      return makeError(What + " " + dtypeName(B.Type) + dimsStr(B.Dims) +
                       " needs " + Twine(*Bytes) + " bytes, its buffer " +
                       refStr(B.Buffer) + " has " + Twine(B.Buffer.Bytes));
    if (Error E = Sp.checkWritable(B.Buffer, What))
      return E;
    if (B.Buffer.Offset % dtypeSize(B.Type))
      return makeError(What + " " + refStr(B.Buffer) + " is not aligned for " +
                       dtypeName(B.Type));
  }
  return Error::success();
}

Error checkBucket(const BucketPlan &B, const ExecutablePlan &P) {
  if (B.Batch <= 0 || B.Seq < 0)
    return makeError("batch and seq must be positive");
  Spaces Sp{P.WeightBytes, B.ArenaBytes};
  if (Error E = checkBindings(B.Inputs, "input", Sp))
    return E;
  if (Error E = checkBindings(B.Outputs, "output", Sp))
    return E;
  for (size_t I = 0; I < B.Steps.size(); ++I) {
    const Step &S = B.Steps[I];
    Error E = Error::success();
    if (const auto *K = std::get_if<KernelStep>(&S))
      E = checkKernelStep(*K, P, Sp);
    else if (const auto *G = std::get_if<GemmStep>(&S))
      E = checkGemmStep(*G, Sp);
    else
      E = checkCopyStep(std::get<CopyStep>(S), Sp);
    if (E)
      return withContext(std::move(E), stepName(S, I));
  }
  return Error::success();
}

Error checkIncreasing(const std::vector<int64_t> &Vs, const char *What) {
  for (size_t I = 0; I < Vs.size(); ++I)
    if (Vs[I] <= 0 || (I && Vs[I] <= Vs[I - 1]))
      return makeError(Twine(What) + " " + dimsStr(Vs) +
                       " are not positive and strictly increasing");
  return Error::success();
}

Error checkUtf8(StringRef S, const Twine &What) {
  if (!llvm::json::isUTF8(S))
    return makeError(What + " is not valid UTF-8");
  return Error::success();
}

Error checkIoSpecs(const std::vector<IoSpec> &Specs, const char *Kind) {
  llvm::StringSet<> Names;
  for (const IoSpec &S : Specs) {
    if (S.Name.empty())
      return makeError(Twine("an ") + Kind + " has no name");
    if (Error E = checkUtf8(S.Name, Twine(Kind) + " name"))
      return E;
    if (!Names.insert(S.Name).second)
      return makeError(Twine(Kind) + " '" + S.Name + "' is declared twice");
    if (!validDType(S.Type))
      return makeError(Twine(Kind) + " '" + S.Name + "' has an invalid dtype");
    for (const Dim &D : S.Dims)
      if (Error E = checkUtf8(D.symbol(),
                              Twine(Kind) + " '" + S.Name + "' dim symbol"))
        return E;
  }
  return Error::success();
}

/// A bucket's bindings against the declared inputs or outputs: same names
/// in the same order, same dtypes and ranks, and static dims kept.
Error checkBindingsMatch(const std::vector<IoBinding> &Bs,
                         const std::vector<IoSpec> &Specs, const char *Kind) {
  if (Bs.size() != Specs.size())
    return makeError(Twine(Bs.size()) + " " + Kind + "s bound, the model has " +
                     Twine(Specs.size()));
  for (size_t I = 0; I < Bs.size(); ++I) {
    const IoBinding &B = Bs[I];
    const IoSpec &S = Specs[I];
    bool Same =
        B.Name == S.Name && B.Type == S.Type && B.Dims.size() == S.Dims.size();
    for (size_t D = 0; Same && D < B.Dims.size(); ++D)
      Same = !S.Dims[D].isStatic() || S.Dims[D].value() == B.Dims[D];
    if (!Same) {
      std::string Declared = S.Name + ": " + dtypeName(S.Type).str() + "[";
      for (size_t D = 0; D < S.Dims.size(); ++D)
        Declared += (D ? ", " : "") + S.Dims[D].str();
      return makeError(Twine(Kind) + " " + Twine(I) + " is bound as '" +
                       B.Name + "': " + dtypeName(B.Type) + dimsStr(B.Dims) +
                       ", the model declares " + Declared + "]");
    }
  }
  return Error::success();
}

Error checkMetadata(const Artifact &A) {
  const ArtifactMetadata &M = A.Meta;
  const std::pair<const std::string *, const char *> Strings[] = {
      {&M.ModelName, "model name"},
      {&M.Producer, "producer"},
      {&M.Precision, "precision"},
      {&M.Arch, "arch"},
      {&M.CompileCommand, "compile command"},
      {&M.DataDependent, "data-dependence note"}};
  for (auto [S, What] : Strings)
    if (Error E = checkUtf8(*S, What))
      return E;
  if (M.Precision != "f32" && M.Precision != "f16" && M.Precision != "bf16")
    return makeError("precision '" + M.Precision + "' is not f32, f16 or bf16");
  if (M.Arch != A.Plan.Arch)
    return makeError("metadata says arch '" + M.Arch + "', the plan '" +
                     A.Plan.Arch + "'");
  if (!M.DataDependent.empty()) {
    // Plans are compiled per request: nothing but the IR and weights.
    if (!M.BatchBuckets.empty() || !M.SeqBuckets.empty() ||
        !A.Plan.Buckets.empty() || !A.Plan.Modules.empty() ||
        !A.Plan.Kernels.empty())
      return makeError("a data-dependent artifact has buckets or kernels");
    if (Error E = checkIoSpecs(M.Inputs, "input"))
      return E;
    return checkIoSpecs(M.Outputs, "output");
  }
  if (M.BatchBuckets.empty())
    return makeError("no batch buckets");
  if (Error E = checkIncreasing(M.BatchBuckets, "batch buckets"))
    return E;
  if (Error E = checkIncreasing(M.SeqBuckets, "seq buckets"))
    return E;
  if (Error E = checkIoSpecs(M.Inputs, "input"))
    return E;
  if (Error E = checkIoSpecs(M.Outputs, "output"))
    return E;

  // The plan has exactly one bucket per (batch, seq) of the metadata.
  std::set<std::pair<int64_t, int64_t>> Wanted;
  for (int64_t B : M.BatchBuckets) {
    if (M.SeqBuckets.empty())
      Wanted.insert({B, 0});
    for (int64_t S : M.SeqBuckets)
      Wanted.insert({B, S});
  }
  for (const BucketPlan &B : A.Plan.Buckets) {
    if (!Wanted.erase({B.Batch, B.Seq}))
      return makeError("the plan's " + bucketName(B) +
                       " is not in the metadata's buckets, or repeated");
    if (Error E = checkBindingsMatch(B.Inputs, M.Inputs, "input"))
      return withContext(std::move(E), bucketName(B));
    if (Error E = checkBindingsMatch(B.Outputs, M.Outputs, "output"))
      return withContext(std::move(E), bucketName(B));
  }
  if (!Wanted.empty())
    return makeError("the plan lacks the bucket (batch " +
                     Twine(Wanted.begin()->first) + ", seq " +
                     Twine(Wanted.begin()->second) + ")");
  return Error::success();
}

Error checkWeightEntries(const Artifact &A) {
  if (A.Weights.size() != A.Plan.WeightBytes)
    return makeError("the weights are " + Twine(A.Weights.size()) +
                     " bytes, the plan expects " + Twine(A.Plan.WeightBytes));
  llvm::StringSet<> Names;
  for (const WeightEntry &W : A.WeightEntries) {
    if (W.Name.empty())
      return makeError("a weight entry has no name");
    if (!Names.insert(W.Name).second)
      return makeError("weight '" + W.Name + "' is listed twice");
    if (!validDType(W.Type))
      return makeError("weight '" + W.Name + "' has an invalid dtype");
    std::optional<uint64_t> Bytes = denseBytes(W.Type, W.Dims);
    uint64_t End;
    if (!Bytes || __builtin_add_overflow(W.Offset, *Bytes, &End) ||
        End > A.Weights.size())
      return makeError("weight '" + W.Name + "' " + dtypeName(W.Type) +
                       dimsStr(W.Dims) + " at offset " + Twine(W.Offset) +
                       " ends past the weights (" + Twine(A.Weights.size()) +
                       " bytes)");
    if (W.Offset % dtypeSize(W.Type))
      return makeError("weight '" + W.Name + "' at offset " + Twine(W.Offset) +
                       " is not aligned for " + dtypeName(W.Type));
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// The container
//===----------------------------------------------------------------------===//

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
  if (Count != NumSections)
    return makeError(Twine(Count) + " sections, version 1 has " +
                     Twine(NumSections));
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
  if (Error E =
          decodeWeightIndex(Sections[WeightIndexSection], A.WeightEntries))
    return std::move(E);
  if (Error E = decodePlan(Sections[PlanSection], A.Plan))
    return std::move(E);
  if (Error E = decodeKernels(Sections[KernelsSection], A.Plan.Modules))
    return std::move(E);
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
  std::pair<uint32_t, StringRef> Sections[] = {
      {MetadataSection, Metadata},       {IrSection, A.IrText},
      {WeightIndexSection, WeightIndex}, {PlanSection, Plan},
      {KernelsSection, Kernels},         {WeightsSection, A.Weights}};
  static_assert(std::size(Sections) == NumSections);

  uint64_t TableOffset = HeaderSize;
  uint64_t Offset = TableOffset + NumSections * TableEntrySize;
  uint64_t Offsets[NumSections];
  for (uint32_t I = 0; I < NumSections; ++I) {
    Offset =
        alignTo(Offset, Sections[I].first == WeightsSection ? WeightsAlign
                                                            : SectionAlign);
    Offsets[I] = Offset;
    Offset += Sections[I].second.size();
  }
  std::string Out(Offset, '\0');
  char *Table = Out.data() + TableOffset;
  for (uint32_t I = 0; I < NumSections; ++I) {
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
  writeU32(Out.data() + SectionCountAt, NumSections);
  writeU64(Out.data() + TableOffsetAt, TableOffset);
  writeU64(Out.data() + TableChecksumAt,
           checksum(StringRef(Table, NumSections * TableEntrySize)));
  writeU64(Out.data() + BodyChecksumAt,
           checksum(StringRef(Out).drop_front(HeaderSize)));
  writeU64(Out.data() + HeaderChecksumAt,
           checksum(StringRef(Out).take_front(HeaderChecksumAt)));
  return Out;
}

Error kiln::validatePlan(const ExecutablePlan &P) {
  if (P.Arch.empty())
    return makeError("the plan names no arch");
  for (size_t I = 0; I < P.Modules.size(); ++I)
    if (P.Modules[I].Cubin.empty() && P.Modules[I].Ptx.empty())
      return makeError("module " + Twine(I) + " ('" + P.Modules[I].Name +
                       "') has neither CUBIN nor PTX");
  for (size_t I = 0; I < P.Kernels.size(); ++I) {
    if (P.Kernels[I].Module >= P.Modules.size())
      return makeError("kernel " + Twine(I) + " ('" + P.Kernels[I].LoweredName +
                       "') refers to module " + Twine(P.Kernels[I].Module) +
                       " of " + Twine(P.Modules.size()));
    if (P.Kernels[I].LoweredName.empty())
      return makeError("kernel " + Twine(I) + " has no name");
  }
  if (P.Buckets.empty())
    return makeError("the plan has no buckets");
  std::set<std::pair<int64_t, int64_t>> Seen;
  for (const BucketPlan &B : P.Buckets) {
    if (!Seen.insert({B.Batch, B.Seq}).second)
      return makeError(bucketName(B) + " appears twice");
    if (Error E = checkBucket(B, P))
      return withContext(std::move(E), bucketName(B));
  }
  return Error::success();
}

Error kiln::validateArtifact(const Artifact &A) {
  if (A.Meta.DataDependent.empty()) {
    if (Error E = validatePlan(A.Plan))
      return E;
  } else if (A.Plan.Arch.empty()) {
    return makeError("the plan names no arch");
  }
  if (Error E = checkMetadata(A))
    return E;
  return checkWeightEntries(A);
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
