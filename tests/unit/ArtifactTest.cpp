#include "runtime/Artifact.h"

#include "ir/Printer.h"
#include "runtime/ReferenceExecutor.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

using namespace kiln;

#include "ArtifactFixture.h"

namespace {

/// Every field of the artifact, one per line, for comparing two of them.
std::string dump(const Artifact &A) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  auto Ref = [&](const BufferRef &R) {
    OS << "{" << unsigned(R.In) << " " << R.Offset << " " << R.Bytes << "}";
  };
  auto Ints = [&](llvm::ArrayRef<int64_t> Vs) {
    for (int64_t V : Vs)
      OS << V << ",";
  };
  auto Io = [&](const std::vector<IoSpec> &Specs) {
    for (const IoSpec &Spec : Specs) {
      OS << "io " << Spec.Name << " " << dtypeName(Spec.Type);
      for (const Dim &D : Spec.Dims)
        OS << " " << D.value() << "/" << D.symbol();
      OS << "\n";
    }
  };
  const ArtifactMetadata &M = A.Meta;
  OS << M.ModelName << "|" << M.Producer << "|" << M.Precision << "|" << M.Arch
     << "|" << M.CompileCommand << "\n";
  Ints(M.BatchBuckets);
  OS << "|";
  Ints(M.SeqBuckets);
  OS << "|";
  Ints(M.TokenBuckets);
  OS << "\n";
  Io(M.Inputs);
  Io(M.Outputs);
  OS << A.IrText << "\nweights " << llvm::xxh3_64bits(A.Weights) << " "
     << A.Weights.size() << "\n";
  for (const WeightEntry &W : A.WeightEntries) {
    OS << "entry " << W.Name << " " << W.Offset << " " << dtypeName(W.Type);
    Ints(W.Dims);
    OS << "\n";
  }
  const ExecutablePlan &P = A.Plan;
  OS << "plan " << P.Arch << " " << P.WeightBytes << "\n";
  for (const KernelModule &Mod : P.Modules)
    OS << "module " << Mod.Name << " " << llvm::xxh3_64bits(Mod.Cubin) << " "
       << Mod.Cubin.size() << " " << Mod.Ptx << "\n";
  for (const KernelRef &K : P.Kernels)
    OS << "kernel " << K.Module << " " << K.LoweredName << "\n";
  for (const BucketPlan &B : P.Buckets) {
    OS << "bucket " << B.Batch << " " << B.Seq << " " << B.Tokens << " "
       << B.ArenaBytes << "\n";
    for (const auto *Bs : {&B.Inputs, &B.Outputs})
      for (const IoBinding &Io : *Bs) {
        OS << "bind " << Io.Name << " " << dtypeName(Io.Type) << " ";
        Ints(Io.Dims);
        Ref(Io.Buffer);
        OS << "\n";
      }
    for (const Step &St : B.Steps) {
      if (const auto *K = std::get_if<KernelStep>(&St)) {
        OS << "kstep " << K->Kernel;
        for (int I = 0; I < 3; ++I)
          OS << " " << K->Grid[I] << "/" << K->Block[I];
        OS << " " << K->SharedBytes << " " << K->Label;
        for (const KernelArg &Arg : K->Args) {
          OS << " [" << unsigned(Arg.K) << " " << Arg.Int << " " << Arg.Float;
          Ref(Arg.Buffer);
          OS << "]";
        }
      } else if (const auto *G = std::get_if<GemmStep>(&St)) {
        OS << "gemm " << G->M << " " << G->N << " " << G->K << " " << G->Batch
           << " " << G->StrideA << " " << G->StrideB << " " << G->StrideD << " "
           << G->TransA << G->TransB << " " << dtypeName(G->AType)
           << dtypeName(G->BType) << dtypeName(G->DType_) << " "
           << unsigned(G->Epi) << " " << G->Alpha << " " << G->Label << " ";
        for (const BufferRef *R : {&G->A, &G->B, &G->D, &G->Bias, &G->C})
          Ref(*R);
        for (uint8_t Byte : G->Algo)
          OS << " " << unsigned(Byte);
      } else {
        const auto &C = std::get<CopyStep>(St);
        OS << "copy " << C.Label;
        Ref(C.Src);
        Ref(C.Dst);
      }
      OS << "\n";
    }
  }
  return S;
}

class ArtifactFile : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-artifact", Dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(Dir); }

  std::string path(llvm::StringRef Name) {
    llvm::SmallString<128> P(Dir);
    llvm::sys::path::append(P, Name);
    return std::string(P);
  }
  std::vector<std::string> listDir() {
    std::vector<std::string> Names;
    std::error_code EC;
    for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
         It.increment(EC))
      Names.push_back(std::string(llvm::sys::path::filename(It->path())));
    llvm::sort(Names);
    return Names;
  }

  llvm::SmallString<128> Dir;
};

} // namespace

TEST(Artifact, RoundTripKeepsEveryField) {
  Artifact A = makeArtifact();
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  std::string Bytes = serializeArtifact(A);
  llvm::Expected<Artifact> B = parseArtifact(Bytes, "tiny.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(dump(A), dump(*B));
  EXPECT_EQ(B->Weights, A.Weights);
  EXPECT_EQ(B->Plan.Modules[0].Cubin, A.Plan.Modules[0].Cubin);
  // Deterministic: the same artifact gives the same bytes.
  EXPECT_EQ(serializeArtifact(*B), Bytes);
}

TEST(Artifact, GeluErfBiasEpilogueRoundTripsAndTheNextValueIsRefused) {
  Artifact A = makeArtifact();
  GemmStep &G = std::get<GemmStep>(A.Plan.Buckets[1].Steps[0]);
  G.Epi = GemmStep::Epilogue::GeluErfBias;
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(std::get<GemmStep>(B->Plan.Buckets[1].Steps[0]).Epi,
            GemmStep::Epilogue::GeluErfBias);
  EXPECT_EQ(dump(A), dump(*B));
  // The bias is required, as for the other *Bias epilogues.
  G.Bias.Bytes = 16;
  EXPECT_NE(errorOf(validateArtifact(A)), "<no error>");
  G.Bias.Bytes = 32;
  G.Epi =
      GemmStep::Epilogue(uint8_t(GemmStep::Epilogue::CutlassResidualBias) + 1);
  EXPECT_EQ(errorOf(parseArtifact(serializeArtifact(A), "m.kiln")),
            "m.kiln: bucket (batch 8): step 0 (gemm '/MatMul'): invalid "
            "epilogue 11");
}

TEST(Artifact, CutlassBiasEpilogueRoundTripsAndNeedsItsBias) {
  Artifact A = makeArtifact();
  GemmStep &G = std::get<GemmStep>(A.Plan.Buckets[1].Steps[0]);
  G.Epi = GemmStep::Epilogue::CutlassBias;
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(std::get<GemmStep>(B->Plan.Buckets[1].Steps[0]).Epi,
            GemmStep::Epilogue::CutlassBias);
  EXPECT_EQ(dump(A), dump(*B));
  EXPECT_TRUE(runsOnCutlass(GemmStep::Epilogue::CutlassBias));
  EXPECT_TRUE(runsOnCutlass(GemmStep::Epilogue::CutlassResidualBias));
  EXPECT_FALSE(runsOnCutlass(GemmStep::Epilogue::Bias));
  EXPECT_FALSE(hasResidual(GemmStep::Epilogue::CutlassBias));
  EXPECT_TRUE(hasResidual(GemmStep::Epilogue::CutlassResidualBias));
  G.Bias.Bytes = 16;
  EXPECT_NE(errorOf(validateArtifact(A)), "<no error>");
}

TEST(Artifact, ResidualEpiloguesStoreCAndCheckIt) {
  Artifact A = makeArtifact();
  std::string Plain = serializeArtifact(A);
  GemmStep &G = std::get<GemmStep>(A.Plan.Buckets[1].Steps[0]);
  // Batch 8: D is 8 x 8 f32 = 256 bytes at 1024; C likewise at 2048.
  G.C = arena(2048, 256);
  // Other epilogues do not store C: their bytes stay as they were.
  EXPECT_EQ(serializeArtifact(A), Plain);
  for (auto Epi :
       {GemmStep::Epilogue::Residual, GemmStep::Epilogue::ResidualBias,
        GemmStep::Epilogue::CutlassResidualBias}) {
    G.Epi = Epi;
    ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
    llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
    ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
    EXPECT_EQ(dump(A), dump(*B));
    EXPECT_EQ(std::get<GemmStep>(B->Plan.Buckets[1].Steps[0]).C.Offset, 2048u);
  }
  // C where D is (cuBLASLt's in-place form) passes; partly over it, not.
  G.C = G.D;
  EXPECT_EQ(errorOf(validateArtifact(A)), "<no error>");
  G.C = arena(1024 + 128, 256);
  EXPECT_NE(errorOf(validateArtifact(A)).find("partly overlaps D"),
            std::string::npos)
      << errorOf(validateArtifact(A));
  G.C = arena(2048, 128);
  EXPECT_NE(errorOf(validateArtifact(A)).find("C arena"), std::string::npos)
      << errorOf(validateArtifact(A));
  G.C = arena(2048, 256);
  G.Batch = 2;
  G.StrideD = 64;
  G.StrideA = 32;
  EXPECT_NE(errorOf(validateArtifact(A)).find("residual epilogue on a batch"),
            std::string::npos)
      << errorOf(validateArtifact(A));
}

TEST(Artifact, RoundTripOfSymbolsUnknownDimsAndSeqBuckets) {
  Artifact A = makeArtifact();
  A.Meta.SeqBuckets = {32, 128};
  A.Meta.Inputs[0].Dims = {Dim::symbol("batch"), Dim::unknown(),
                           Dim::symbol("odd name"), Dim(4)};
  A.Meta.Outputs.clear();
  std::vector<BucketPlan> Buckets;
  for (int64_t Batch : {1, 8})
    for (int64_t Seq : {32, 128}) {
      BucketPlan B = bucket(Batch);
      B.Seq = Seq;
      B.Inputs = {
          {"x", DType::F32, {Batch, Seq, 2, 4}, arena(0, Batch * Seq * 32)}};
      B.ArenaBytes = 1 << 20;
      B.Outputs.clear();
      Buckets.push_back(B);
    }
  A.Plan.Buckets = Buckets;
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(dump(A), dump(*B));
}

TEST(Artifact, PackedTokenBucketsRoundTripAndAreValidated) {
  Artifact A = makeArtifact();
  A.Meta.BatchBuckets = {1, 8};
  A.Meta.SeqBuckets = {4};
  A.Meta.TokenBuckets = {4, 16};
  std::vector<BucketPlan> Buckets = {bucket(1), bucket(8)};
  for (int64_t T : {4, 16}) {
    BucketPlan B = bucket(8);
    B.Tokens = T;
    Buckets.push_back(B);
  }
  for (BucketPlan &B : Buckets)
    B.Seq = 4;
  A.Plan.Buckets = Buckets;
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(dump(A), dump(*B));
  EXPECT_EQ(B->Plan.Buckets[3].Tokens, 16);

  // Without packed buckets the plan is encoded as before (no token block).
  Artifact Plain = makeArtifact();
  llvm::Expected<Artifact> C =
      parseArtifact(serializeArtifact(Plain), "m.kiln");
  ASSERT_TRUE(bool(C)) << errorOf(C.takeError());
  EXPECT_EQ(dump(Plain), dump(*C));

  Artifact Bad = A;
  std::swap(Bad.Plan.Buckets[1], Bad.Plan.Buckets[2]);
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("follows a packed-token"),
            std::string::npos)
      << errorOf(validateArtifact(Bad));
  Bad = A;
  Bad.Plan.Buckets[3].Tokens = 32; // not a token bucket of the metadata
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("is not a packed bucket"),
            std::string::npos);
  Bad = A;
  Bad.Meta.TokenBuckets = {4, 16, 64};
  Bad.Plan.Buckets[3].Tokens = 64; // more than batch x seq
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("is not a packed bucket"),
            std::string::npos);
  Bad = A;
  Bad.Meta.TokenBuckets = {16, 4};
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("token buckets"),
            std::string::npos)
      << errorOf(validateArtifact(Bad));
}

TEST(Artifact, WeightsArePageAligned) {
  std::string Bytes = serializeArtifact(makeArtifact());
  auto [Offset, Size] = sectionRange(Bytes, 6);
  EXPECT_EQ(Offset % 4096, 0u);
  EXPECT_EQ(Size, makeArtifact().Weights.size());
  EXPECT_EQ(Bytes.substr(0, 8), std::string("KILN\r\n\x1a\n", 8));
}

TEST(Artifact, TruncationIsCaughtAtEveryLength) {
  std::string Bytes = serializeArtifact(makeArtifact());
  EXPECT_EQ(errorOf(parseArtifact("", "m.kiln")), "m.kiln: the file is empty");
  EXPECT_EQ(errorOf(parseArtifact(Bytes.substr(0, 5), "m.kiln")),
            "m.kiln: truncated: 5 bytes, less than the 64-byte header");
  EXPECT_EQ(errorOf(parseArtifact(Bytes.substr(0, 1000), "m.kiln")),
            "m.kiln: truncated: header says " + std::to_string(Bytes.size()) +
                " bytes, file has 1000");
  unsigned Tried = 0;
  for (size_t N = 1; N < Bytes.size(); N += N < 600 ? 1 : 97, ++Tried) {
    std::string Error = errorOf(parseArtifact(Bytes.substr(0, N), "m.kiln"));
    EXPECT_EQ(Error.rfind("m.kiln: truncated: ", 0), 0u)
        << "at " << N << ": " << Error;
  }
  EXPECT_GT(Tried, 600u);
  EXPECT_EQ(errorOf(parseArtifact(Bytes + "x", "m.kiln")),
            "m.kiln: header says " + std::to_string(Bytes.size()) +
                " bytes, file has " + std::to_string(Bytes.size() + 1) +
                " (trailing data)");
}

TEST(Artifact, EveryFlippedByteIsCaught) {
  std::string Bytes = serializeArtifact(makeArtifact());
  std::map<std::string, unsigned> Causes;
  for (size_t I = 0; I < Bytes.size(); ++I)
    for (uint8_t Mask : {0x01, 0x80}) {
      std::string Bad = Bytes;
      Bad[I] = char(Bad[I] ^ Mask);
      std::string Error = errorOf(parseArtifact(Bad, "m.kiln"));
      ASSERT_NE(Error, "<no error>") << "flip at " << I;
      ASSERT_EQ(Error.rfind("m.kiln: ", 0), 0u) << Error;
      ++Causes[Error];
    }
  // Each region is named: the header, the table, each section, the padding.
  for (const char *Cause :
       {"m.kiln: not a kiln artifact (wrong magic)",
        "m.kiln: checksum mismatch in the header",
        "m.kiln: checksum mismatch in the section table",
        "m.kiln: checksum mismatch in section 'metadata'",
        "m.kiln: checksum mismatch in section 'ir'",
        "m.kiln: checksum mismatch in section 'weight-index'",
        "m.kiln: checksum mismatch in section 'plan'",
        "m.kiln: checksum mismatch in section 'kernels'",
        "m.kiln: checksum mismatch in section 'weights'",
        "m.kiln: checksum mismatch in the padding between sections"})
    EXPECT_GT(Causes[Cause], 0u) << Cause;
}

// With the checksums recomputed, a flipped byte reaches the decoder and
// the validation: each must give an artifact or an error, never a crash,
// and whatever is accepted must still be valid.
TEST(Artifact, ResealedFlipsNeverCrashTheDecoder) {
  std::string Bytes = serializeArtifact(makeArtifact());
  auto [WeightsAt, WeightsSize] = sectionRange(Bytes, 6);
  unsigned Rejected = 0, Accepted = 0;
  for (size_t I = 64; I < WeightsAt; ++I)
    for (uint8_t Mask : {0x01, 0x10, 0xff}) {
      std::string Bad = Bytes;
      Bad[I] = char(Bad[I] ^ Mask);
      reseal(Bad);
      llvm::Expected<Artifact> A = parseArtifact(Bad, "m.kiln");
      if (!A) {
        ++Rejected;
        llvm::consumeError(A.takeError());
        continue;
      }
      ++Accepted;
      EXPECT_EQ(errorOf(validateArtifact(*A)), "<no error>");
    }
  // Flips in names, labels, CUBIN bytes and the IR text are legitimate.
  EXPECT_GT(Rejected, 1000u);
  EXPECT_GT(Accepted, 100u);
}

TEST(Artifact, HugeLengthsAreRejectedWithoutAllocating) {
  std::string Bytes = serializeArtifact(makeArtifact());
  // The kernels section starts with the module count; make it 2^60.
  auto [At, Size] = sectionRange(Bytes, 5);
  llvm::support::endian::write64le(Bytes.data() + At, uint64_t(1) << 60);
  reseal(Bytes);
  std::string Error = errorOf(parseArtifact(Bytes, "m.kiln"));
  EXPECT_EQ(Error.rfind("m.kiln: section 'kernels': 1152921504606846976 "
                        "modules in ",
                        0),
            0u)
      << Error;
  // The first module's name length.
  Bytes = serializeArtifact(makeArtifact());
  llvm::support::endian::write64le(Bytes.data() + At + 8, ~uint64_t(0));
  reseal(Bytes);
  Error = errorOf(parseArtifact(Bytes, "m.kiln"));
  EXPECT_NE(Error.find("section 'kernels': a string of 18446744073709551615 "
                       "bytes"),
            std::string::npos)
      << Error;
}

// A double of exactly 2^63 passes json::Value::getAsInteger's range check
// (INT64_MAX rounds up to it) and overflowed its conversion to int64_t,
// undefined behaviour that the artifact fuzzer reaches through the metadata.
TEST(Artifact, MetadataIntegerOfTwoToThe63IsRefused) {
  std::string Bytes = serializeArtifact(makeArtifact());
  auto [At, Size] = sectionRange(Bytes, 1);
  auto WithMetadata = [&, At = At, Size = Size](std::string Buckets,
                                                std::string Dim) {
    std::string Json =
        R"({"model": "tiny", "producer": "kiln test", "precision": "f32", )"
        R"("arch": "sm_90a", "batch_buckets": )" +
        Buckets +
        R"(, "seq_buckets": [], "inputs": [{"name": "x", )"
        R"("dtype": "f32", "shape": ["batch", )" +
        Dim +
        R"(]}], "outputs": [{"name": "z", "dtype": "f32", )"
        R"("shape": ["batch", 8]}], "compile_command": ""})";
    EXPECT_LE(Json.size(), Size);
    Json.resize(Size, ' ');
    std::string Bad = Bytes;
    Bad.replace(At, Size, Json);
    reseal(Bad);
    return errorOf(parseArtifact(Bad, "m.kiln"));
  };
  ASSERT_EQ(WithMetadata("[1, 8]", "4"), "<no error>");
  // Integral doubles were and are read as integers.
  EXPECT_EQ(WithMetadata("[1.0, 8e0]", "4.0"), "<no error>");
  EXPECT_EQ(WithMetadata("[1, 9223372036854775808.0]", "4"),
            "m.kiln: section 'metadata': 'batch_buckets' holds something not "
            "an integer");
  EXPECT_EQ(WithMetadata("[1, 8]", "9.223372036854775808e18"),
            "m.kiln: section 'metadata': 'inputs' entry 'x' has a dim that is "
            "no size, symbol or null");
  // INT64_MAX, written as an integer, is still one (and no bucket's).
  EXPECT_EQ(WithMetadata("[1, 9223372036854775807]", "4"),
            "m.kiln: the plan's bucket (batch 8) is not in the metadata's "
            "buckets, or repeated");
}

TEST(Artifact, WrongMagicAndVersion) {
  std::string Bytes = serializeArtifact(makeArtifact());
  std::string Bad = Bytes;
  Bad[1] = 'X';
  EXPECT_EQ(errorOf(parseArtifact(Bad, "model.kiln")),
            "model.kiln: not a kiln artifact (wrong magic)");
  EXPECT_EQ(errorOf(parseArtifact("PK\x03\x04 a zip file", "model.kiln")),
            "model.kiln: not a kiln artifact (wrong magic)");
  Bad = Bytes;
  llvm::support::endian::write32le(Bad.data() + 8, 7);
  reseal(Bad);
  EXPECT_EQ(errorOf(parseArtifact(Bad, "model.kiln")),
            "model.kiln: format version 7, this kiln reads 1");
}

TEST(Artifact, ValidPlanWithInconsistentMetadataIsRefused) {
  Artifact A = makeArtifact();
  A.Meta.BatchBuckets = {1, 8, 32};
  EXPECT_EQ(errorOf(parseArtifact(serializeArtifact(A), "m.kiln")),
            "m.kiln: the plan lacks the bucket (batch 32, seq 0)");
  A = makeArtifact();
  A.Meta.Arch = "sm_80";
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "metadata says arch 'sm_80', the plan 'sm_90a'");
  A = makeArtifact();
  A.Meta.Precision = "fp16";
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "precision 'fp16' is not f32, f16 or bf16");
  A = makeArtifact();
  A.Meta.Inputs[0].Dims[1] = Dim(5);
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "bucket (batch 1): input 0 is bound as 'x': f32[1, 4], the model "
            "declares x: f32[batch, 5]");
  A = makeArtifact();
  A.WeightEntries[0].Offset = A.Weights.size() - 64;
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "weight 'w' f32[4, 8] at offset 320 ends past the weights (384 "
            "bytes)");
  A = makeArtifact();
  A.Plan.WeightBytes += 1;
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "the weights are 384 bytes, the plan expects 385");
}

TEST(Artifact, ValidatePlanRejectsWhatTheRuntimeCannotTrust) {
  using Edit = std::function<void(ExecutablePlan &)>;
  auto Gemm = [](ExecutablePlan &P) -> GemmStep & {
    return std::get<GemmStep>(P.Buckets[1].Steps[0]);
  };
  auto Kernel = [](ExecutablePlan &P) -> KernelStep & {
    return std::get<KernelStep>(P.Buckets[1].Steps[1]);
  };
  const std::vector<std::pair<Edit, std::string>> Cases = {
      {[&](ExecutablePlan &P) { Gemm(P).B.Offset = 300; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): B weights[300, +128] ends "
       "past the weights (384 bytes)"},
      {[&](ExecutablePlan &P) { Gemm(P).B.Offset = ~uint64_t(0) - 4; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): B "
       "weights[18446744073709551611, +128] ends past the weights (384 bytes)"},
      {[&](ExecutablePlan &P) { Gemm(P).K = 5; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): A arena[0, +128] is too "
       "small for 1 x [8, 5] f32 with stride 3 (needs 160 bytes)"},
      {[&](ExecutablePlan &P) {
         Gemm(P).Batch = 2;
         Gemm(P).StrideD = 64;
       },
       "bucket (batch 8): step 0 (gemm '/MatMul'): A arena[0, +128] is too "
       "small for 2 x [8, 4] f32 with stride 3 (needs 140 bytes)"},
      {[&](ExecutablePlan &P) {
         Gemm(P).Batch = 2;
         Gemm(P).StrideA = 0;
         Gemm(P).StrideB = 0;
       },
       "bucket (batch 8): step 0 (gemm '/MatMul'): D batch stride 7 makes the "
       "batch's results overlap"},
      {[&](ExecutablePlan &P) { Gemm(P).K = int64_t(1) << 62; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): A arena[0, +128] is too "
       "small for 1 x [8, 4611686018427387904] f32 with stride 3 (its size "
       "overflows)"},
      {[&](ExecutablePlan &P) { Gemm(P).N = 0; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): shape M=8 N=0 K=4 batch=1 "
       "is not positive"},
      {[&](ExecutablePlan &P) { Gemm(P).AType = DType::I8; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): dtype i8 is not f32, f16 "
       "or bf16"},
      {[&](ExecutablePlan &P) { Gemm(P).Bias.Bytes = 16; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): bias weights[0, +16] is too "
       "small for 1 x [1, 8] f32 with stride 0 (needs 32 bytes)"},
      {[&](ExecutablePlan &P) { Gemm(P).D = weights(0, 256); },
       "bucket (batch 8): step 0 (gemm '/MatMul'): D weights[0, +256] is "
       "written, but is not in the arena"},
      {[&](ExecutablePlan &P) { Gemm(P).Epi = GemmStep::Epilogue(42); },
       "bucket (batch 8): step 0 (gemm '/MatMul'): invalid epilogue 42"},
      {[&](ExecutablePlan &P) { Gemm(P).Algo.pop_back(); },
       "bucket (batch 8): step 0 (gemm '/MatMul'): algorithm is 63 bytes, not "
       "64"},
      {[&](ExecutablePlan &P) { Gemm(P).A.Offset = 2; },
       "bucket (batch 8): step 0 (gemm '/MatMul'): A arena[2, +128] is not "
       "aligned for f32"},
      {[&](ExecutablePlan &P) { Kernel(P).Kernel = 2; },
       "bucket (batch 8): step 1 (kernel '/Add'): kernel index 2 out of range "
       "(2 kernels)"},
      {[&](ExecutablePlan &P) { Kernel(P).Block[1] = 16; },
       "bucket (batch 8): step 1 (kernel '/Add'): block (128, 16, 1) is empty "
       "or exceeds 1024 threads"},
      {[&](ExecutablePlan &P) { Kernel(P).Grid[2] = 0; },
       "bucket (batch 8): step 1 (kernel '/Add'): grid (8, 2, 0) is empty or "
       "too large"},
      {[&](ExecutablePlan &P) { Kernel(P).SharedBytes = 228 * 1024; },
       "bucket (batch 8): step 1 (kernel '/Add'): shared memory 233472 bytes "
       "exceeds 232448"},
      {[&](ExecutablePlan &P) { Kernel(P).Args[0].Buffer.Bytes = 8000; },
       "bucket (batch 8): step 1 (kernel '/Add'): argument 0 arena[1024, "
       "+8000] ends past the arena (8192 bytes)"},
      {[&](ExecutablePlan &P) {
         Kernel(P).Args[0].Buffer = {BufferRef::Space::Fault, 0, 8};
       },
       "bucket (batch 8): step 1 (kernel '/Add'): argument 0 fault "
       "record[0, +8] is not the whole 16-byte fault record"},
      {[&](ExecutablePlan &P) { Kernel(P).Args[1].Int = int64_t(1) << 31; },
       "bucket (batch 8): step 1 (kernel '/Add'): argument 1 (i32) holds "
       "2147483648"},
      {[&](ExecutablePlan &P) {
         std::get<CopyStep>(P.Buckets[1].Steps[2]).Dst.Offset = 1100;
       },
       "bucket (batch 8): step 2 (copy 'keep z'): source arena[1024, +256] "
       "overlaps destination arena[1100, +256]"},
      {[&](ExecutablePlan &P) { P.Buckets[0].Outputs[0].Dims = {1, 9}; },
       "bucket (batch 1): output 'z' f32[1, 9] needs 36 bytes, its buffer "
       "arena[1024, +32] has 32"},
      {[&](ExecutablePlan &P) {
         P.Buckets[0].Inputs[0].Buffer.In = BufferRef::Space::Weights;
       },
       "bucket (batch 1): input 'x' weights[0, +16] is written, but is not in "
       "the arena"},
      {[&](ExecutablePlan &P) { P.Buckets[1].Batch = 1; },
       "bucket (batch 1) appears twice"},
      {[&](ExecutablePlan &P) { P.Kernels[1].Module = 5; },
       "kernel 1 ('add') refers to module 5 of 2"},
      {[&](ExecutablePlan &P) { P.Modules[1].Ptx.clear(); },
       "module 1 ('fused_add') has neither CUBIN nor PTX"},
      {[&](ExecutablePlan &P) { P.Buckets.clear(); },
       "the plan has no buckets"},
  };
  for (const auto &[Apply, Expected] : Cases) {
    Artifact A = makeArtifact();
    Apply(A.Plan);
    EXPECT_EQ(errorOf(validatePlan(A.Plan)), Expected);
    // The reader refuses such a plan even when every checksum is right.
    EXPECT_EQ(errorOf(parseArtifact(serializeArtifact(A), "m.kiln")),
              "m.kiln: " + Expected);
  }
}

TEST(Artifact, GraphTakesItsConstantsFromTheWeights) {
  Model M;
  Artifact A = makeArtifact();
  llvm::Expected<Artifact> Read = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(Read)) << errorOf(Read.takeError());
  EXPECT_NE(Read->IrText.find("%w = const f32[4, 8] elided"),
            std::string::npos);
  llvm::Expected<std::unique_ptr<Graph>> G = artifactGraph(*Read);
  ASSERT_TRUE(bool(G)) << errorOf(G.takeError());
  ASSERT_NE((*G)->lookup("w")->constantData(), nullptr);
  EXPECT_TRUE((*G)->lookup("w")->constantData()->identical(M.W));
  EXPECT_EQ(printGraphToString(**G), printGraphToString(M.G));

  Tensor X = randomF32({3, 4}, 21);
  llvm::Expected<std::vector<Tensor>> Want =
      runReference(M.G, llvm::ArrayRef<Tensor>{X});
  llvm::Expected<std::vector<Tensor>> Got =
      runReference(**G, llvm::ArrayRef<Tensor>{X});
  ASSERT_TRUE(bool(Want) && bool(Got));
  EXPECT_TRUE((*Got)[0].identical((*Want)[0]));
}

TEST(Artifact, GraphChecksItsWeightEntries) {
  Artifact A = makeArtifact();
  A.WeightEntries[0].Dims = {8, 4};
  EXPECT_EQ(
      errorOf(artifactGraph(A)),
      "weight 'w' is stored as f32[8, 4], the IR's constant is f32[4, 8]");
  A = makeArtifact();
  A.WeightEntries.erase(A.WeightEntries.begin());
  EXPECT_EQ(errorOf(artifactGraph(A)),
            "constant 'w' is elided and has no weight entry");
  A = makeArtifact();
  A.WeightEntries[1].Offset = 4;
  EXPECT_EQ(errorOf(artifactGraph(A)),
            "weight 'b' differs from the IR's inline data");
  A = makeArtifact();
  A.WeightEntries[1].Name = "y";
  EXPECT_EQ(errorOf(artifactGraph(A)),
            "weight 'y' names no constant of the IR");
  A = makeArtifact();
  A.WeightEntries[0].Offset = 1 << 20;
  EXPECT_EQ(errorOf(artifactGraph(A)),
            "weight 'w' ends past the weights (384 bytes)");
}

TEST_F(ArtifactFile, WriteThenRead) {
  Artifact A = makeArtifact();
  std::string P = path("tiny.kiln");
  ASSERT_EQ(errorOf(writeArtifact(A, P)), "<no error>");
  llvm::Expected<Artifact> B = readArtifact(P);
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(dump(A), dump(*B));
  // Overwriting replaces the file whole.
  A.Meta.ModelName = "second";
  ASSERT_EQ(errorOf(writeArtifact(A, P)), "<no error>");
  B = readArtifact(P);
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(B->Meta.ModelName, "second");
  EXPECT_EQ(listDir(), std::vector<std::string>{"tiny.kiln"});

  std::string Missing = path("missing.kiln");
  EXPECT_EQ(errorOf(readArtifact(Missing)),
            Missing + ": No such file or directory");
}

TEST_F(ArtifactFile, FailedWritesLeaveNothingBehind) {
  Artifact A = makeArtifact();
  // The parent is a file.
  std::string File = path("file");
  {
    std::error_code EC;
    llvm::raw_fd_ostream OS(File, EC);
    ASSERT_FALSE(EC);
    OS << "x";
  }
  std::string Under = File + "/m.kiln";
  EXPECT_EQ(errorOf(writeArtifact(A, Under)).rfind(Under + ": ", 0), 0u);
  // The target is a directory: the rename fails after the data was written.
  std::string AsDir = path("dir.kiln");
  ASSERT_FALSE(llvm::sys::fs::create_directory(AsDir));
  EXPECT_EQ(errorOf(writeArtifact(A, AsDir)).rfind(AsDir + ": ", 0), 0u);
  // An invalid artifact is not written.
  A.Plan.Kernels[0].Module = 9;
  std::string Invalid = path("invalid.kiln");
  EXPECT_EQ(errorOf(writeArtifact(A, Invalid)),
            Invalid + ": not written: kernel 0 ('_Z9gemm_biasILi8EEvPf') "
                      "refers to module 9 of 2");
  EXPECT_EQ(listDir(), (std::vector<std::string>{"dir.kiln", "file"}));
}

TEST(Artifact, RoundTripOfIndexChecksAndMaxSequenceLength) {
  Artifact A = makeArtifact();
  A.Meta.Inputs.push_back({"ids", DType::I64, {Dim::symbol("batch"), Dim(4)}});
  for (BucketPlan &B : A.Plan.Buckets)
    B.Inputs.push_back(
        {"ids", DType::I64, {B.Batch, 4}, arena(7168, B.Batch * 32)});
  A.Meta.MaxSequenceLength = 64;
  A.Meta.IndexChecks = {{"ids", "'Gather' node \"g\"", "axis 0",
                         IndexCheck::Form::Gather, 1000, true, false},
                        {"ids", "'EmbedLayerNorm' node \"e\"", "word",
                         IndexCheck::Form::Embed, 30522, true, true}};
  // A kernel argument may name the fault record.
  std::get<KernelStep>(A.Plan.Buckets[1].Steps[1]).Args[0].Buffer = {
      BufferRef::Space::Fault, 0, IndexFaultBytes};
  ASSERT_EQ(errorOf(validateArtifact(A)), "<no error>");
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "m.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(B->Meta.MaxSequenceLength, 64);
  ASSERT_EQ(B->Meta.IndexChecks.size(), 2u);
  for (size_t I = 0; I < 2; ++I) {
    const IndexCheck &W = A.Meta.IndexChecks[I], &G = B->Meta.IndexChecks[I];
    EXPECT_EQ(G.Input, W.Input);
    EXPECT_EQ(G.Node, W.Node);
    EXPECT_EQ(G.Table, W.Table);
    EXPECT_EQ(G.Kind, W.Kind);
    EXPECT_EQ(G.TableSize, W.TableSize);
    EXPECT_EQ(G.WrapNegative, W.WrapNegative);
    EXPECT_EQ(G.ReportedOnDevice, W.ReportedOnDevice);
  }
  EXPECT_EQ(std::get<KernelStep>(B->Plan.Buckets[1].Steps[1]).Args[0].Buffer.In,
            BufferRef::Space::Fault);
  // An artifact without them (every older one) reads as unknown / none.
  llvm::Expected<Artifact> C =
      parseArtifact(serializeArtifact(makeArtifact()), "m.kiln");
  ASSERT_TRUE(bool(C)) << errorOf(C.takeError());
  EXPECT_EQ(C->Meta.MaxSequenceLength, 0);
  EXPECT_TRUE(C->Meta.IndexChecks.empty());

  // A check must name an integer input; seq buckets fit the limit.
  Artifact Bad = A;
  Bad.Meta.IndexChecks[0].Input = "x";
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("which is no integer input"),
            std::string::npos);
  Bad = A;
  Bad.Meta.IndexChecks[0].TableSize = 0;
  EXPECT_NE(errorOf(validateArtifact(Bad)).find("has table size 0"),
            std::string::npos);
}

// The tokenizer section is optional: absent, the file is what it was before
// the section existed (six sections); present, it round-trips byte for byte.
TEST(Artifact, TokenizerSectionIsOptionalAndRoundTrips) {
  Artifact A = makeArtifact();
  std::string Without = serializeArtifact(A);
  EXPECT_EQ(llvm::support::endian::read32le(Without.data() + 24), 6u);
  A.Tokenizer = R"({"model": {"type": "WordPiece"}})";
  std::string With = serializeArtifact(A);
  EXPECT_EQ(llvm::support::endian::read32le(With.data() + 24), 7u);
  llvm::Expected<Artifact> B = parseArtifact(With, "text.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  EXPECT_EQ(B->Tokenizer, A.Tokenizer);
  EXPECT_EQ(B->Weights, A.Weights);
  EXPECT_EQ(serializeArtifact(*B), With);
  auto [Offset, Size] = sectionRange(With, 7);
  EXPECT_EQ(With.substr(Offset, Size), A.Tokenizer);
}

// Six sections of which one is the tokenizer lack a required one.
TEST(Artifact, TokenizerCannotStandInForARequiredSection) {
  Artifact A = makeArtifact();
  std::string Bytes = serializeArtifact(A);
  uint64_t Table = llvm::support::endian::read64le(Bytes.data() + 32);
  // Entry 1 is the IR's; call it the tokenizer's.
  llvm::support::endian::write32le(Bytes.data() + Table + 32, 7);
  reseal(Bytes);
  EXPECT_EQ(errorOf(parseArtifact(Bytes, "m.kiln")),
            "m.kiln: section 'ir' is missing");
}

TEST(Artifact, PoolingAndSentenceLengthRoundTrip) {
  Artifact A = makeArtifact();
  A.Meta.Pooling = OutputPooling{A.Meta.Outputs[0].Name, "mean", true};
  A.Meta.SentenceMaxSeqLength = 256;
  llvm::Expected<Artifact> B = parseArtifact(serializeArtifact(A), "p.kiln");
  ASSERT_TRUE(bool(B)) << errorOf(B.takeError());
  ASSERT_TRUE(B->Meta.Pooling.has_value());
  EXPECT_EQ(B->Meta.Pooling->Output, A.Meta.Outputs[0].Name);
  EXPECT_EQ(B->Meta.Pooling->Mode, "mean");
  EXPECT_TRUE(B->Meta.Pooling->Normalize);
  EXPECT_EQ(B->Meta.SentenceMaxSeqLength, 256);
  A.Meta.Pooling->Output = "nothing";
  EXPECT_EQ(errorOf(validateArtifact(A)),
            "the pooling's output 'nothing' is no output of the model");
}
