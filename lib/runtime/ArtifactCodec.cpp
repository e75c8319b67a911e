//===- ArtifactCodec.cpp - the sections of a .kiln file, as bytes ---------===//
//
// The binary encoding of the weight index, plan, kernels and partition
// sections (docs/artifact.md, "Binary encoding"; the metadata section's JSON
// is ArtifactMetadata.cpp). Decoding never trusts its input: every count and
// length is checked against the bytes left, every enum against its range.
//
//===----------------------------------------------------------------------===//

#include "runtime/ArtifactFormat.h"

#include "ir/Error.h"

#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace kiln;
using namespace kiln::artifact;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

StringRef kiln::artifact::sectionName(uint32_t Id) {
  switch (Id) {
  case MetadataSection: return "metadata";
  case IrSection: return "ir";
  case WeightIndexSection: return "weight-index";
  case PlanSection: return "plan";
  case KernelsSection: return "kernels";
  case WeightsSection: return "weights";
  case TokenizerSection: return "tokenizer";
  case PartitionSection: return "partition";
  }
  return "?";
}

namespace {

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
  void f64(double V) {
    uint64_t Bits;
    std::memcpy(&Bits, &V, 8);
    u64(Bits);
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
  double f64() {
    uint64_t Bits = u64();
    double V;
    std::memcpy(&V, &Bits, 8);
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
  R.In = D.enumU8(BufferRef::Space::Fault, "buffer space");
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
  // Only where the epilogue reads it: other plans keep their bytes.
  if (hasResidual(S.Epi))
    encode(E, S.C);
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
  if (hasResidual(S.Epi))
    decode(D, S.C);
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

} // namespace

//===----------------------------------------------------------------------===//
// The sections
//===----------------------------------------------------------------------===//

std::string kiln::artifact::encodePlan(const ExecutablePlan &P) {
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
  // Each bucket's packed-token count, after the buckets so that plans
  // written before packed tokens existed still read (as all padded).
  if (llvm::any_of(P.Buckets, [](const BucketPlan &B) { return B.Tokens; })) {
    E.u64(P.Buckets.size());
    for (const BucketPlan &B : P.Buckets)
      E.i64(B.Tokens);
  }
  return std::move(E.Out);
}

Error kiln::artifact::decodePlan(StringRef Bytes, ExecutablePlan &P) {
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
  if (!D.failed() && D.remaining()) {
    if (D.u64() != P.Buckets.size())
      return makeError("section 'plan': the packed-token counts are not one "
                       "per bucket");
    for (BucketPlan &B : P.Buckets)
      B.Tokens = D.i64();
  }
  return D.finish(sectionName(PlanSection));
}

std::string
kiln::artifact::encodeKernels(const std::vector<KernelModule> &Modules) {
  Encoder E;
  E.u64(Modules.size());
  for (const KernelModule &M : Modules) {
    E.str(M.Name);
    E.str(M.Cubin);
    E.str(M.Ptx);
  }
  return std::move(E.Out);
}

Error kiln::artifact::decodeKernels(StringRef Bytes,
                                    std::vector<KernelModule> &Modules) {
  Decoder D(Bytes);
  Modules.resize(D.count(24, "modules"));
  for (KernelModule &M : Modules) {
    M.Name = D.str();
    M.Cubin = D.str();
    M.Ptx = D.str();
  }
  return D.finish(sectionName(KernelsSection));
}

std::string
kiln::artifact::encodeWeightIndex(const std::vector<WeightEntry> &Entries) {
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

Error kiln::artifact::decodeWeightIndex(StringRef Bytes,
                                        std::vector<WeightEntry> &Entries) {
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
// The partition: the plan, then each stage as a whole nested artifact
//===----------------------------------------------------------------------===//

namespace {

void encode(Encoder &E, const std::vector<PartitionPlan::Source> &Sources) {
  E.u64(Sources.size());
  for (const PartitionPlan::Source &S : Sources) {
    E.u32(uint32_t(S.Stage));
    E.u32(S.Index);
  }
}

void decode(Decoder &D, std::vector<PartitionPlan::Source> &Sources) {
  Sources.resize(D.count(8, "sources"));
  for (PartitionPlan::Source &S : Sources) {
    S.Stage = int32_t(D.u32());
    S.Index = D.u32();
  }
}

} // namespace

std::string
kiln::artifact::encodePartition(const PartitionPlan &P,
                                const std::vector<Artifact> &Stages) {
  Encoder E;
  E.u8(uint8_t(P.Kind));
  E.u32(P.Devices);
  E.i64(P.PlannedBatch);
  E.i64(P.PlannedSeq);
  E.u64(P.Stages.size());
  for (const PartitionPlan::StageInfo &S : P.Stages) {
    E.u32(S.Nodes);
    E.f64(S.Flops);
    E.f64(S.Bytes);
    encode(E, S.Inputs);
  }
  encode(E, P.Outputs);
  E.u64(Stages.size());
  for (const Artifact &S : Stages)
    E.str(serializeArtifact(S));
  return std::move(E.Out);
}

Error kiln::artifact::decodePartition(StringRef Bytes, PartitionPlan &P,
                                      std::vector<Artifact> &Stages) {
  Decoder D(Bytes);
  P.Kind = D.enumU8(PartitionPlan::Mode::Pipeline, "partition mode");
  P.Devices = D.u32();
  P.PlannedBatch = D.i64();
  P.PlannedSeq = D.i64();
  P.Stages.resize(D.count(28, "stages"));
  for (PartitionPlan::StageInfo &S : P.Stages) {
    S.Nodes = D.u32();
    S.Flops = D.f64();
    S.Bytes = D.f64();
    decode(D, S.Inputs);
  }
  decode(D, P.Outputs);
  std::vector<std::string> Nested(D.count(8, "stage artifacts"));
  for (std::string &S : Nested)
    S = D.str();
  if (Error E = D.finish(sectionName(PartitionSection)))
    return E;
  // The nested artifacts are decoded and validated only once the plan
  // around them decoded cleanly.
  Stages.clear();
  for (size_t I = 0; I < Nested.size(); ++I) {
    Expected<Artifact> S =
        parseArtifact(Nested[I], "stage " + std::to_string(I));
    if (!S)
      return makeError("section 'partition': " + llvm::toString(S.takeError()));
    Stages.push_back(std::move(*S));
  }
  return Error::success();
}
