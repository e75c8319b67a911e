#include "common/Npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

using namespace kiln;

namespace {

/// Random values of every dtype (never all zeros).
Tensor randomTensor(DType Elem, std::vector<int64_t> Sizes, unsigned Seed) {
  std::mt19937 Rng(Seed);
  std::uniform_real_distribution<double> Uniform(-4.0, 4.0);
  Tensor T(Elem, std::move(Sizes));
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (isFloat(Elem))
      T.setDouble(I, Uniform(Rng));
    else
      T.setInt(I, int64_t(Rng() % 200) - (Elem == DType::U8 ? 0 : 100));
  }
  return T;
}

/// A v1 .npy file with the given header dict and raw data.
std::string npyWithHeader(llvm::StringRef Dict, llvm::StringRef Data,
                          char Major = 1) {
  std::string Out = "\x93NUMPY";
  Out += Major;
  Out += '\0';
  std::string Header = Dict.str() + "\n";
  if (Major == 1) {
    Out += char(Header.size() & 0xff);
    Out += char(Header.size() >> 8);
  } else {
    for (int I = 0; I < 4; ++I)
      Out += char((Header.size() >> (8 * I)) & 0xff);
  }
  return Out + Header + Data.str();
}

std::string errorOf(llvm::Error E) { return llvm::toString(std::move(E)); }

template <typename T> std::string errorOf(llvm::Expected<T> E) {
  if (E)
    return "<no error>";
  return llvm::toString(E.takeError());
}

template <typename T> bool failed(llvm::Expected<T> E) {
  if (E)
    return false;
  llvm::consumeError(E.takeError());
  return true;
}

class NpyFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-npy", Dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(Dir); }
  std::string path(llvm::StringRef Name) const {
    llvm::SmallString<128> P(Dir);
    llvm::sys::path::append(P, Name);
    return std::string(P);
  }
  llvm::SmallString<128> Dir;
};

} // namespace

TEST(Npy, RoundTripsEveryNumPyDType) {
  for (DType Elem : {DType::F32, DType::F16, DType::F64, DType::I64, DType::I32,
                     DType::I8, DType::U8, DType::Bool}) {
    Tensor T = randomTensor(Elem, {2, 3, 5}, unsigned(Elem));
    llvm::Expected<std::string> Bytes = serializeNpy(T);
    ASSERT_TRUE(bool(Bytes)) << errorOf(Bytes.takeError());
    llvm::Expected<Tensor> Back = parseNpy(*Bytes, "t.npy");
    ASSERT_TRUE(bool(Back)) << errorOf(Back.takeError());
    EXPECT_TRUE(Back->identical(T)) << dtypeName(Elem).str();
  }
}

TEST(Npy, WritesNumPyHeaderAlignedTo64Bytes) {
  Tensor Vec = Tensor::fromDoubles(DType::F32, {3}, {1.5, -2, 3});
  llvm::Expected<std::string> Bytes = serializeNpy(Vec);
  ASSERT_TRUE(bool(Bytes));
  EXPECT_EQ(Bytes->size(), 128u + 12u);
  EXPECT_NE(Bytes->find("{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (3,), }"),
            std::string::npos);
  EXPECT_EQ((*Bytes)[127], '\n');

  llvm::Expected<std::string> Scalar =
      serializeNpy(Tensor::scalarInt(DType::I64, 7));
  ASSERT_TRUE(bool(Scalar));
  EXPECT_NE(Scalar->find("'shape': (), }"), std::string::npos);
  llvm::Expected<Tensor> Back = parseNpy(*Scalar, "s.npy");
  ASSERT_TRUE(bool(Back));
  EXPECT_EQ(Back->rank(), 0);
  EXPECT_EQ(Back->getInt(0), 7);
}

TEST(Npy, ReadsVersions2And3AndLooseHeaders) {
  std::string Data(8, '\0');
  Data[0] = 1;
  Data[4] = 2;
  for (char Major : {2, 3}) {
    llvm::Expected<Tensor> T =
        parseNpy(npyWithHeader("{'descr': '<i4', 'fortran_order': False, "
                               "'shape': (2,), }",
                               Data, Major),
                 "v.npy");
    ASSERT_TRUE(bool(T)) << errorOf(T.takeError());
    EXPECT_EQ(T->toInts(), (std::vector<int64_t>{1, 2}));
  }
  // Keys in another order, double quotes, no trailing comma, Python 2 longs.
  llvm::Expected<Tensor> T =
      parseNpy(npyWithHeader("{\"shape\": (1L, 2L), \"fortran_order\": False, "
                             "\"descr\": \"<i4\"}",
                             Data),
               "loose.npy");
  ASSERT_TRUE(bool(T)) << errorOf(T.takeError());
  EXPECT_EQ(T->sizes().vec(), (std::vector<int64_t>{1, 2}));
}

TEST(Npy, NormalizesBoolBytes) {
  llvm::Expected<Tensor> T = parseNpy(
      npyWithHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                    llvm::StringRef("\x00\x07\x01", 3)),
      "b.npy");
  ASSERT_TRUE(bool(T));
  EXPECT_EQ(T->bytes()[1], 1);
}

TEST(Npy, RejectsWhatItCannotRead) {
  auto Parse = [](llvm::StringRef Dict, llvm::StringRef Data) {
    return errorOf(parseNpy(npyWithHeader(Dict, Data), "bad.npy"));
  };
  std::string Four(4, '\x01');
  EXPECT_EQ(errorOf(parseNpy("PK\x03\x04 not npy", "x.npy")),
            "x.npy: not an .npy file (no \\x93NUMPY magic)");
  EXPECT_NE(
      Parse("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", Four)
          .find("Fortran-order arrays are not supported"),
      std::string::npos);
  EXPECT_NE(
      Parse("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", Four)
          .find("big-endian data ('>f4') is not supported"),
      std::string::npos);
  EXPECT_NE(
      Parse("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", Four)
          .find("unsupported dtype '|O'"),
      std::string::npos);
  EXPECT_NE(Parse("{'descr': [('a', '<f4')], 'fortran_order': False, "
                  "'shape': (1,), }",
                  Four)
                .find("structured dtypes are not supported"),
            std::string::npos);
  EXPECT_EQ(
      Parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", Four),
      "bad.npy: has 4 bytes of data, but its shape and dtype need 8");
  EXPECT_NE(Parse("{'descr': '<f4', 'shape': (1,), }", Four)
                .find("needs 'descr', 'fortran_order' and 'shape'"),
            std::string::npos);
  EXPECT_NE(Parse("{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (99999999999, 99999999999), }",
                  Four)
                .find("shape is too large"),
            std::string::npos);
  EXPECT_NE(
      Parse("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", Four)
          .find("malformed header"),
      std::string::npos);
  EXPECT_NE(errorOf(serializeNpy(randomTensor(DType::BF16, {2}, 1)))
                .find("NumPy has no bf16 dtype"),
            std::string::npos);
}

TEST(Npy, NeverCrashesOnTruncatedOrCorruptedFiles) {
  llvm::Expected<std::string> Npy =
      serializeNpy(randomTensor(DType::F32, {3, 4}, 3));
  llvm::Expected<std::string> Npz =
      serializeNpz({{"a", randomTensor(DType::I64, {5}, 4)},
                    {"b", randomTensor(DType::F16, {2, 2}, 5)}});
  ASSERT_TRUE(Npy && Npz);
  for (size_t Len = 0; Len < Npy->size(); ++Len)
    EXPECT_TRUE(failed(parseNpy(llvm::StringRef(*Npy).take_front(Len), "t")))
        << Len;
  for (size_t Len = 0; Len < Npz->size(); ++Len)
    EXPECT_TRUE(failed(parseNpz(llvm::StringRef(*Npz).take_front(Len), "t")))
        << Len;
  // Every single-byte corruption is either harmless or an error.
  for (size_t I = 0; I < Npz->size(); ++I) {
    std::string Bad = *Npz;
    Bad[I] = char(Bad[I] ^ 0xa5);
    (void)failed(parseNpz(Bad, "t"));
  }
}

TEST(Npz, RoundTripsInOrderAndStripsTheSuffix) {
  NamedTensors In = {{"last_hidden_state", randomTensor(DType::F32, {2, 4}, 7)},
                     {"ids", randomTensor(DType::I64, {2}, 8)},
                     {"mask", randomTensor(DType::Bool, {1, 3}, 9)}};
  llvm::Expected<std::string> Bytes = serializeNpz(In);
  ASSERT_TRUE(bool(Bytes));
  llvm::Expected<NamedTensors> Out = parseNpz(*Bytes, "o.npz");
  ASSERT_TRUE(bool(Out)) << errorOf(Out.takeError());
  ASSERT_EQ(Out->size(), In.size());
  for (size_t I = 0; I < In.size(); ++I) {
    EXPECT_EQ((*Out)[I].first, In[I].first);
    EXPECT_TRUE((*Out)[I].second.identical(In[I].second));
  }
}

TEST(Npz, RejectsDuplicateNamesAndBadChecksums) {
  Tensor T = randomTensor(DType::F32, {2}, 10);
  EXPECT_EQ(errorOf(serializeNpz({{"x", T}, {"x", T}})),
            "two arrays are named 'x'");
  llvm::Expected<std::string> Bytes = serializeNpz({{"x", T}});
  ASSERT_TRUE(bool(Bytes));
  std::string Bad = *Bytes;
  Bad[Bad.find("NUMPY") + 80] ^= 1; // a data byte
  EXPECT_EQ(errorOf(parseNpz(Bad, "c.npz")),
            "c.npz: member 'x.npy': CRC mismatch (corrupt archive)");
}

TEST(Npz, ReadsDeflatedMembers) {
  // What np.savez_compressed writes: method 8, raw deflate.
  Tensor T = randomTensor(DType::F32, {16}, 11);
  llvm::Expected<std::string> Stored = serializeNpz({{"x", T}});
  llvm::Expected<std::string> Member = serializeNpy(T);
  ASSERT_TRUE(Stored && Member);

  z_stream S = {};
  ASSERT_EQ(deflateInit2(&S, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string Deflated(compressBound(uLong(Member->size())) + 64, '\0');
  S.next_in = reinterpret_cast<Bytef *>(Member->data());
  S.avail_in = uInt(Member->size());
  S.next_out = reinterpret_cast<Bytef *>(Deflated.data());
  S.avail_out = uInt(Deflated.size());
  ASSERT_EQ(deflate(&S, Z_FINISH), Z_STREAM_END);
  Deflated.resize(S.total_out);
  deflateEnd(&S);

  // Rebuild the archive around the deflated data: same headers with method 8
  // and the compressed size.
  auto Put16 = [](std::string &B, size_t At, uint16_t V) {
    B[At] = char(V & 0xff);
    B[At + 1] = char(V >> 8);
  };
  auto Put32 = [&](std::string &B, size_t At, uint32_t V) {
    Put16(B, At, uint16_t(V & 0xffff));
    Put16(B, At + 2, uint16_t(V >> 16));
  };
  size_t LocalLen = 30 + 5; // "x.npy"
  std::string Local = Stored->substr(0, LocalLen);
  std::string Central = Stored->substr(LocalLen + Member->size(), 46 + 5);
  Put16(Local, 8, 8);
  Put32(Local, 18, uint32_t(Deflated.size()));
  Put16(Central, 10, 8);
  Put32(Central, 20, uint32_t(Deflated.size()));
  std::string Zip = Local + Deflated;
  uint32_t CentralOffset = uint32_t(Zip.size());
  Zip += Central;
  std::string End = Stored->substr(Stored->size() - 22);
  Put32(End, 16, CentralOffset);
  Zip += End;

  llvm::Expected<NamedTensors> Out = parseNpz(Zip, "z.npz");
  ASSERT_TRUE(bool(Out)) << errorOf(Out.takeError());
  ASSERT_EQ(Out->size(), 1u);
  EXPECT_TRUE((*Out)[0].second.identical(T));
}

TEST_F(NpyFiles, FilesRoundTripAndFailedWritesLeaveNothing) {
  Tensor T = randomTensor(DType::F32, {3}, 12);
  ASSERT_EQ(errorOf(writeNpy(path("t.npy"), T)), "");
  llvm::Expected<Tensor> Back = readNpy(path("t.npy"));
  ASSERT_TRUE(bool(Back));
  EXPECT_TRUE(Back->identical(T));

  ASSERT_EQ(errorOf(writeNpz(path("o.npz"), {{"y", T}})), "");
  llvm::Expected<NamedTensors> Z = readNpz(path("o.npz"));
  ASSERT_TRUE(bool(Z));
  EXPECT_EQ((*Z)[0].first, "y");

  EXPECT_NE(errorOf(readNpy(path("missing.npy"))).find("cannot read '"),
            std::string::npos);
  EXPECT_NE(errorOf(writeNpz(path("no/such/dir/o.npz"), {{"y", T}}))
                .find("cannot write '"),
            std::string::npos);
  // A write that fails before touching the disk leaves the old file intact.
  EXPECT_NE(errorOf(writeNpz(path("o.npz"), {{"y", T}, {"y", T}})), "");
  EXPECT_FALSE(failed(readNpz(path("o.npz"))));
  std::error_code EC;
  unsigned Entries = 0;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC))
    ++Entries;
  EXPECT_EQ(Entries, 2u);
}
