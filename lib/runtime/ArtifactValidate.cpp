//===- ArtifactValidate.cpp - what a .kiln file must hold to be run ------===//
//
// validatePlan and validateArtifact: everything the runtime trusts of a plan
// (buffers inside the weights or the arena and large enough, launch shapes
// the hardware accepts, GEMMs cuBLASLt can run) and the metadata's agreement
// with it. docs/artifact.md, "What a reader checks", lists each check.
//
//===----------------------------------------------------------------------===//

#include "runtime/ArtifactFormat.h"

#include "ir/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <limits>
#include <set>
#include <tuple>

using namespace kiln;
using namespace kiln::artifact;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;

bool kiln::artifact::validDType(DType T) {
  return uint8_t(T) <= uint8_t(DType::Bool);
}

std::optional<uint64_t>
kiln::artifact::denseBytes(DType T, llvm::ArrayRef<int64_t> Dims) {
  uint64_t Bytes = dtypeSize(T);
  for (int64_t D : Dims)
    if (D < 0 || __builtin_mul_overflow(Bytes, uint64_t(D), &Bytes))
      return std::nullopt;
  return Bytes;
}

std::string kiln::artifact::dimsStr(llvm::ArrayRef<int64_t> Dims) {
  std::string S = "[";
  for (size_t I = 0; I < Dims.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Dims[I]);
  return S + "]";
}

namespace {

// What the hardware and cuBLASLt accept (sm_70 and later).
constexpr uint32_t MaxGridX = 0x7fffffff, MaxGridYZ = 65535;
constexpr uint32_t MaxBlockXY = 1024, MaxBlockZ = 64, MaxBlockThreads = 1024;
constexpr uint32_t MaxSharedBytes = 227 * 1024;

bool isGemmDType(DType T) {
  return T == DType::F32 || T == DType::F16 || T == DType::BF16;
}

std::string bucketName(const BucketPlan &B) {
  std::string S = "bucket (batch " + std::to_string(B.Batch);
  if (B.Seq)
    S += ", seq " + std::to_string(B.Seq);
  if (B.Tokens)
    S += ", tokens " + std::to_string(B.Tokens);
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
  return std::string(R.In == BufferRef::Space::Weights ? "weights"
                     : R.In == BufferRef::Space::Arena ? "arena"
                                                       : "fault record") +
         "[" + std::to_string(R.Offset) + ", +" + std::to_string(R.Bytes) + "]";
}

/// Whether two references share bytes of one space.
bool overlaps(const BufferRef &A, const BufferRef &B) {
  return A.In == B.In && A.Offset < B.Offset + B.Bytes &&
         B.Offset < A.Offset + A.Bytes;
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
    case BufferRef::Space::Fault:
      if (R.Offset != 0 || R.Bytes != IndexFaultBytes)
        return makeError(What + " " + refStr(R) + " is not the whole " +
                         Twine(IndexFaultBytes) + "-byte fault record");
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
  case GemmStep::Epilogue::GeluTanh:
  case GemmStep::Epilogue::Residual: return false;
  case GemmStep::Epilogue::Bias:
  case GemmStep::Epilogue::ReluBias:
  case GemmStep::Epilogue::GeluTanhBias:
  case GemmStep::Epilogue::GeluErfBias:
  case GemmStep::Epilogue::ResidualBias:
  case GemmStep::Epilogue::CutlassBias:
  case GemmStep::Epilogue::CutlassResidualBias: return true;
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
  if (hasResidual(S.Epi) && S.Batch != 1)
    return makeError("a residual epilogue on a batch of " + Twine(S.Batch) +
                     " matrices (it takes one)");
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
  if (hasResidual(S.Epi)) {
    if (Error E = checkOperand(S.C, "C", S.DType_, 1, 0, S.M, S.N, Sp,
                               /*Written=*/false))
      return E;
    // cuBLASLt reads C where it writes D only element for element.
    if (S.C.Offset != S.D.Offset && overlaps(S.C, S.D))
      return makeError("C " + refStr(S.C) + " partly overlaps D " +
                       refStr(S.D));
  }
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
  // The destination is in the arena (checkWritable).
  if (overlaps(S.Src, S.Dst))
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
  std::set<IoRole> Roles;
  for (const IoSpec &S : Specs) {
    // Only inputs have roles, each role at most one.
    if (S.Role != IoRole::None &&
        (llvm::StringRef(Kind) != "input" || !Roles.insert(S.Role).second))
      return makeError(Twine(Kind) + " '" + S.Name + "' cannot have role '" +
                       ioRoleName(S.Role) + "'");
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

/// Index checks name an integer input; the longest sequence bounds every
/// seq bucket.
Error checkIndexBounds(const ArtifactMetadata &M) {
  for (const IndexCheck &C : M.IndexChecks) {
    for (auto [S, What] : {std::pair(&C.Input, "index check input"),
                           std::pair(&C.Node, "index check node"),
                           std::pair(&C.Table, "index check table")})
      if (Error E = checkUtf8(*S, What))
        return E;
    auto In = llvm::find_if(M.Inputs,
                            [&](const IoSpec &S) { return S.Name == C.Input; });
    if (In == M.Inputs.end() || !isInteger(In->Type))
      return makeError("index check of " + C.Node + " names '" + C.Input +
                       "', which is no integer input");
    if (C.TableSize <= 0)
      return makeError("index check of " + C.Node + " has table size " +
                       llvm::Twine(C.TableSize));
  }
  if (M.MaxSequenceLength)
    for (int64_t S : M.SeqBuckets)
      if (S > M.MaxSequenceLength)
        return makeError("seq bucket " + llvm::Twine(S) +
                         " is longer than max_sequence_length " +
                         llvm::Twine(M.MaxSequenceLength));
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
  if (Error E = checkIndexBounds(M))
    return E;
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
  if (Error E = checkIncreasing(M.TokenBuckets, "token buckets"))
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
  // Packed-token plans follow the padded ones, each a (batch, seq) of the
  // metadata with a token count of its token buckets, at most batch * seq.
  std::set<std::tuple<int64_t, int64_t, int64_t>> Packed;
  bool SeenPacked = false;
  for (const BucketPlan &B : A.Plan.Buckets) {
    if (B.Tokens) {
      SeenPacked = true;
      bool Known = llvm::is_contained(M.BatchBuckets, B.Batch) &&
                   llvm::is_contained(M.SeqBuckets, B.Seq) &&
                   llvm::is_contained(M.TokenBuckets, B.Tokens);
      if (!Known || B.Tokens < 0 || B.Tokens > B.Batch * B.Seq ||
          !Packed.insert({B.Batch, B.Seq, B.Tokens}).second)
        return makeError("the plan's " + bucketName(B) +
                         " is not a packed bucket of the metadata's buckets, "
                         "or repeated");
    } else if (SeenPacked) {
      return makeError("the plan's " + bucketName(B) +
                       " follows a packed-token bucket");
    } else if (!Wanted.erase({B.Batch, B.Seq})) {
      return makeError("the plan's " + bucketName(B) +
                       " is not in the metadata's buckets, or repeated");
    }
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

} // namespace

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
  std::set<std::tuple<int64_t, int64_t, int64_t>> Seen;
  for (const BucketPlan &B : P.Buckets) {
    if (!Seen.insert({B.Batch, B.Seq, B.Tokens}).second)
      return makeError(bucketName(B) + " appears twice");
    if (Error E = checkBucket(B, P))
      return withContext(std::move(E), bucketName(B));
  }
  return Error::success();
}

/// A partition, from the outside in: its mode and counts, then each source
/// (in range, earlier stages only, the same dtype at both ends), then what
/// the nested stages must agree on with the whole model.
static Error checkPartition(const Artifact &A) {
  if (!A.Partition) {
    if (!A.Stages.empty())
      return makeError("stage artifacts without a partition");
    return Error::success();
  }
  const PartitionPlan &P = *A.Partition;
  auto Fail = [](const Twine &Why) { return makeError("partition: " + Why); };
  if (P.Devices < 2)
    return Fail(Twine(P.Devices) + " devices; a partition spans at least 2");
  if (P.Kind == PartitionPlan::Mode::Replicate) {
    if (!P.Stages.empty() || !P.Outputs.empty() || !A.Stages.empty())
      return Fail("replicate has no stages");
    return Error::success();
  }
  if (P.Stages.size() != P.Devices)
    return Fail(Twine(P.Stages.size()) + " stages for " + Twine(P.Devices) +
                " devices; a pipeline has one stage per device");
  if (A.Stages.size() != P.Stages.size())
    return Fail(Twine(A.Stages.size()) + " stage artifacts for " +
                Twine(P.Stages.size()) + " stages");
  if (P.PlannedBatch < 1 || P.PlannedSeq < 1)
    return Fail("the planned shape is not positive");
  if (P.Outputs.size() != A.Meta.Outputs.size())
    return Fail(Twine(P.Outputs.size()) + " output sources for " +
                Twine(A.Meta.Outputs.size()) + " model outputs");
  // The dtype of a source, or an error naming why it is out of range.
  auto SourceType = [&](const PartitionPlan::Source &S, size_t Before,
                        const Twine &What) -> Expected<DType> {
    if (S.Stage == -1) {
      if (S.Index >= A.Meta.Inputs.size())
        return Fail(What + " reads model input " + Twine(S.Index) + " of " +
                    Twine(A.Meta.Inputs.size()));
      return A.Meta.Inputs[S.Index].Type;
    }
    if (S.Stage < 0 || size_t(S.Stage) >= Before)
      return Fail(What + " reads stage " + Twine(S.Stage) +
                  ", not an earlier stage");
    const auto &Outs = A.Stages[S.Stage].Meta.Outputs;
    if (S.Index >= Outs.size())
      return Fail(What + " reads output " + Twine(S.Index) + " of stage " +
                  Twine(S.Stage) + ", which has " + Twine(Outs.size()));
    return Outs[S.Index].Type;
  };
  for (size_t S = 0; S < P.Stages.size(); ++S) {
    const Artifact &St = A.Stages[S];
    std::string Name = "stage " + std::to_string(S);
    if (St.Partition || !St.Stages.empty())
      return Fail(Name + " is itself partitioned");
    const auto &Ins = P.Stages[S].Inputs;
    if (Ins.size() != St.Meta.Inputs.size())
      return Fail(Name + " has " + Twine(St.Meta.Inputs.size()) +
                  " inputs but " + Twine(Ins.size()) + " sources");
    for (size_t I = 0; I < Ins.size(); ++I) {
      Expected<DType> T =
          SourceType(Ins[I], S, Name + " input " + std::to_string(I));
      if (!T)
        return T.takeError();
      if (*T != St.Meta.Inputs[I].Type)
        return Fail(Name + " input '" + St.Meta.Inputs[I].Name + "' is " +
                    dtypeName(St.Meta.Inputs[I].Type) + " but its source is " +
                    dtypeName(*T));
    }
    if (St.Meta.Arch != A.Meta.Arch || St.Meta.Precision != A.Meta.Precision)
      return Fail(Name + " is compiled for " + St.Meta.Arch + " " +
                  St.Meta.Precision + ", the model for " + A.Meta.Arch + " " +
                  A.Meta.Precision);
    if (St.Meta.BatchBuckets != A.Meta.BatchBuckets ||
        (!St.Meta.SeqBuckets.empty() &&
         St.Meta.SeqBuckets != A.Meta.SeqBuckets))
      return Fail(Name + " has other buckets than the model");
  }
  for (size_t O = 0; O < P.Outputs.size(); ++O) {
    Expected<DType> T = SourceType(P.Outputs[O], P.Stages.size(),
                                   "model output " + std::to_string(O));
    if (!T)
      return T.takeError();
    if (P.Outputs[O].Stage == -1)
      return Fail("model output " + Twine(O) + " is a model input");
    if (*T != A.Meta.Outputs[O].Type)
      return Fail("model output '" + A.Meta.Outputs[O].Name + "' is " +
                  dtypeName(A.Meta.Outputs[O].Type) + " but its source is " +
                  dtypeName(*T));
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
  if (const std::optional<OutputPooling> &P = A.Meta.Pooling;
      P && P->Mode != "none" &&
      llvm::none_of(A.Meta.Outputs,
                    [&](const IoSpec &O) { return O.Name == P->Output; }))
    return makeError("the pooling's output '" + P->Output +
                     "' is no output of the model");
  if (Error E = checkWeightEntries(A))
    return E;
  return checkPartition(A);
}
