//===- ArtifactFixture.h - a small valid artifact for the tests -*- C++ -*-===//
//
// makeArtifact() and the helpers of the artifact tests (ArtifactTest.cpp,
// ArtifactPartitionTest.cpp): errors as strings, a checksum resealer for
// bytes edited on purpose, and a section's range in the file.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TESTS_ARTIFACTFIXTURE_H
#define KILN_TESTS_ARTIFACTFIXTURE_H

#include "runtime/Artifact.h"

#include "ir/Printer.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/xxhash.h"

#include <random>
#include <string>

namespace kiln {

inline Tensor randomF32(std::vector<int64_t> Sizes, unsigned Seed) {
  std::mt19937 Rng(Seed);
  std::uniform_real_distribution<double> Uniform(-2.0, 2.0);
  Tensor T(DType::F32, std::move(Sizes));
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setDouble(I, Uniform(Rng));
  return T;
}

inline std::string randomBytes(size_t N, unsigned Seed) {
  std::mt19937 Rng(Seed);
  std::string S(N, '\0');
  for (char &C : S)
    C = char(Rng());
  return S;
}

inline std::string errorOf(llvm::Error E) {
  return E ? llvm::toString(std::move(E)) : "<no error>";
}

template <typename T> inline std::string errorOf(llvm::Expected<T> E) {
  if (E)
    return "<no error>";
  return llvm::toString(E.takeError());
}

inline BufferRef arena(uint64_t Offset, uint64_t Bytes) {
  return {BufferRef::Space::Arena, Offset, Bytes};
}
inline BufferRef weights(uint64_t Offset, uint64_t Bytes) {
  return {BufferRef::Space::Weights, Offset, Bytes};
}

/// `z = x @ w + b` with w (32 elements, elided in the text) and b (8,
/// inline) both stored in the weights buffer.
struct Model {
  Graph G{"tiny"};
  Tensor W = randomF32({4, 8}, 11);
  Tensor B = randomF32({8}, 12);
  Model() {
    Value *X =
        G.addInput("x", TensorType(DType::F32, Shape{Dim::symbol("batch"), 4}));
    Value *WV = G.addConstant("w", W);
    Value *BV = G.addConstant("b", B);
    TensorType Out(DType::F32, Shape{Dim::symbol("batch"), 8});
    Node *Mm = G.createNode("MatMul", {X, WV}, {Out}, {}, "/MatMul", {"y"});
    Node *Add =
        G.createNode("Add", {Mm->result(), BV}, {Out}, {}, "/Add", {"z"});
    G.setOutputs({Add->result()});
  }
};

inline constexpr uint64_t WOffset = 256, BOffset = 0;

/// Every field set to something other than its default.
inline BucketPlan bucket(int64_t Batch) {
  BucketPlan P;
  P.Batch = Batch;
  P.Seq = 0;
  uint64_t XBytes = Batch * 4 * 4, ZBytes = Batch * 8 * 4;
  uint64_t ZAt = 1024, CopyAt = 4096;
  P.ArenaBytes = 8192;
  P.Inputs = {{"x", DType::F32, {Batch, 4}, arena(0, XBytes)}};
  P.Outputs = {{"z", DType::F32, {Batch, 8}, arena(ZAt, ZBytes)}};

  // Built in place: GCC 12 warns of maybe-uninitialized variant members
  // when steps are moved into the vector.
  P.Steps.resize(3);
  GemmStep &G = P.Steps[0].emplace<GemmStep>();
  G.M = Batch;
  G.N = 8;
  G.K = 4;
  G.Batch = 1;
  G.StrideA = 3;
  G.StrideB = 5;
  G.StrideD = 7;
  G.TransA = false;
  G.TransB = true;
  G.AType = DType::F32;
  G.BType = DType::F32;
  G.DType_ = DType::F32;
  G.Epi = GemmStep::Epilogue::Bias;
  G.Alpha = 0.5f;
  G.A = arena(0, XBytes);
  G.B = weights(WOffset, 128);
  G.D = arena(ZAt, ZBytes);
  G.Bias = weights(BOffset, 32);
  for (int I = 0; I < 64; ++I)
    G.Algo.push_back(uint8_t(I * 7 + Batch));
  G.Label = "/MatMul";

  KernelStep &K = P.Steps[1].emplace<KernelStep>();
  K.Kernel = 1;
  K.Grid[0] = uint32_t(Batch);
  K.Grid[1] = 2;
  K.Grid[2] = 3;
  K.Block[0] = 128;
  K.Block[1] = 2;
  K.Block[2] = 1;
  K.SharedBytes = 4096;
  K.Args.push_back({KernelArg::Kind::Buffer, arena(ZAt, ZBytes), 0, 0});
  K.Args.push_back({KernelArg::Kind::I32, {}, -7, 0});
  K.Args.push_back({KernelArg::Kind::I64, {}, int64_t(1) << 40, 0});
  K.Args.push_back({KernelArg::Kind::F32, {}, 0, 1.25e-3f});
  K.Args.push_back({KernelArg::Kind::Buffer, weights(WOffset, 128), 0, 0});
  K.Label = "/Add";

  CopyStep &C = P.Steps[2].emplace<CopyStep>();
  C.Src = arena(ZAt, ZBytes);
  C.Dst = arena(CopyAt, ZBytes);
  C.Label = "keep z";
  return P;
}

inline Artifact makeArtifact() {
  Model M;
  Artifact A;
  A.Meta.ModelName = "tiny";
  A.Meta.Producer = "kiln test";
  A.Meta.Precision = "f32";
  A.Meta.Arch = "sm_90a";
  A.Meta.BatchBuckets = {1, 8};
  A.Meta.Inputs = {{"x", DType::F32, {Dim::symbol("batch"), Dim(4)}}};
  A.Meta.Outputs = {{"z", DType::F32, {Dim::symbol("batch"), Dim(8)}}};
  A.Meta.CompileCommand = "kiln compile tiny.onnx -o tiny.kiln --batch 1,8";
  A.IrText = printGraphToString(M.G, PrintOptions{/*ElideWeights=*/true});

  A.Weights = randomBytes(WOffset + M.W.byteSize(), 5);
  std::copy_n(M.W.bytes(), M.W.byteSize(), A.Weights.begin() + WOffset);
  std::copy_n(M.B.bytes(), M.B.byteSize(), A.Weights.begin() + BOffset);
  A.WeightEntries = {{"w", WOffset, DType::F32, {4, 8}},
                     {"b", BOffset, DType::F32, {8}}};

  A.Plan.Arch = "sm_90a";
  A.Plan.WeightBytes = A.Weights.size();
  // CUBIN bytes are binary, NULs included.
  A.Plan.Modules = {{"gemm_bias.cuh", randomBytes(700, 1), ".version 8.0\n"},
                    {"fused_add", "", ".version 8.0\n.entry add()"}};
  A.Plan.Kernels = {{0, "_Z9gemm_biasILi8EEvPf"}, {1, "add"}};
  A.Plan.Buckets = {bucket(1), bucket(8)};
  return A;
}

// The header's and sections' checksums, recomputed after a test edits the
// bytes on purpose (offsets as in docs/artifact.md). The header's table
// offset and count must be intact; table entries need not be.
inline void reseal(std::string &Bytes) {
  using namespace llvm::support::endian;
  uint32_t Count = read32le(Bytes.data() + 24);
  uint64_t Table = read64le(Bytes.data() + 32);
  for (uint32_t I = 0; I < Count; ++I) {
    char *Entry = Bytes.data() + Table + 32 * I;
    uint64_t Offset = read64le(Entry + 8), Size = read64le(Entry + 16);
    if (Offset <= Bytes.size() && Size <= Bytes.size() - Offset)
      write64le(Entry + 24,
                llvm::xxh3_64bits(llvm::StringRef(Bytes).substr(Offset, Size)));
  }
  write64le(Bytes.data() + 40, llvm::xxh3_64bits(llvm::StringRef(Bytes).substr(
                                   Table, 32 * Count)));
  write64le(Bytes.data() + 48,
            llvm::xxh3_64bits(llvm::StringRef(Bytes).drop_front(64)));
  write64le(Bytes.data() + 56,
            llvm::xxh3_64bits(llvm::StringRef(Bytes).take_front(56)));
}

/// The section's bytes, found through the table.
inline std::pair<uint64_t, uint64_t> sectionRange(const std::string &Bytes,
                                                  uint32_t Id) {
  using namespace llvm::support::endian;
  uint64_t Table = read64le(Bytes.data() + 32);
  for (uint32_t I = 0; I < read32le(Bytes.data() + 24); ++I) {
    const char *Entry = Bytes.data() + Table + 32 * I;
    if (read32le(Entry) == Id)
      return {read64le(Entry + 8), read64le(Entry + 16)};
  }
  return {0, 0};
}

} // namespace kiln

#endif
