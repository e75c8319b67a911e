//===- MultiDeviceTest.cpp - multi-device engines on one card -------------===//
//
// `EngineOptions::Devices = {0, 0}`: two logical devices on one GPU, each
// with its own engine, streams and arenas, stand in for two GPUs. Replicate
// must answer bit for bit as one device does; under load with a device
// failing (fault injection, docs/multi-gpu.md) no request may be lost,
// answered twice or answered wrongly. Without a GPU each test skips.
//
// KILN_TEST_MODELS overrides where the fixture is read from (the device
// machine runs a copy of the tree elsewhere); KILN_MULTIDEVICE_REQUESTS
// the requests per thread of the load test (200; fewer under
// compute-sanitizer).
//
// The text API (kiln::TextModel, which kiln serve uses) runs on the same
// multi-device engine: its last test checks that a TextModel on {0, 0}
// with a lane failing answers as a TextModel on one device.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtil.h"

#include "codegen/Compiler.h"
#include "common/ModelLoader.h"
#include "kiln/TextModel.h"
#include "runtime/DeviceGroup.h"
#include "runtime/EngineInternal.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

namespace kiln {
namespace {

std::string fixture(const char *Name) {
  const char *Dir = std::getenv("KILN_TEST_MODELS");
  return (Dir ? std::string(Dir)
              : std::string(KILN_SOURCE_DIR) + "/tests/models") +
         "/" + Name;
}

/// The 2-layer MiniLM fixture at batch buckets 1 and 4, seq 16, compiled
/// once for the whole file.
const Artifact &miniLm() {
  static Artifact A = [] {
    auto G = loadModel(fixture("minilm_l2_opset17.onnx"));
    EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
    CompileOptions O;
    O.Batches = {1, 4};
    O.Seqs = {16};
    O.Jobs = 2;
    O.EmitPtx = false;
    auto A = compileGraph(std::move(*G), O);
    EXPECT_TRUE(bool(A)) << llvm::toString(A.takeError());
    return std::move(*A);
  }();
  return A;
}

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    std::string Why;                                                           \
    if (!gpuAvailable(&Why))                                                   \
      GTEST_SKIP() << "needs a GPU: " << Why;                                  \
  } while (0)

/// A request of the fixture's shape (seq 16).
std::vector<HostTensor> request(int64_t Batch, std::mt19937_64 &Rng) {
  return bertRequest(Batch, 16, Rng);
}

bool sameBytes(const std::vector<HostTensor> &A,
               const std::vector<HostTensor> &B) {
  if (A.size() != B.size())
    return false;
  for (size_t I = 0; I < A.size(); ++I)
    if (A[I].Dims != B[I].Dims || A[I].Bytes != B[I].Bytes)
      return false;
  return true;
}

EngineOptions twoOnOneCard() {
  EngineOptions O;
  O.Devices = {0, 0};
  return O;
}

TEST(MultiDevice, ReplicateOnOneCardIsBitIdenticalToOneDevice) {
  SKIP_WITHOUT_GPU();
  auto One = createEngine(miniLm());
  ASSERT_TRUE(bool(One)) << llvm::toString(One.takeError());
  auto Two = createEngine(miniLm(), twoOnOneCard());
  ASSERT_TRUE(bool(Two)) << llvm::toString(Two.takeError());
  auto C1 = (*One)->createContext();
  auto C2 = (*Two)->createContext();
  ASSERT_TRUE(C1 && C2);
  std::mt19937_64 Rng(7);
  // Batch 8 fills the largest bucket twice: it is split over both devices
  // in the same 4-row chunks one device runs.
  for (int64_t Batch : {1, 3, 4, 8, 2, 8}) {
    auto In = request(Batch, Rng);
    auto Want = (*C1)->run(In);
    auto Got = (*C2)->run(In);
    ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    EXPECT_TRUE(sameBytes(*Want, *Got)) << "batch " << Batch;
    EXPECT_EQ(lastRunInfo(**C2).Parts, Batch == 8 ? 2u : 1u);
    EXPECT_EQ(lastRunInfo(**C2).Attempts, 1u);
  }
  auto Devs = (*Two)->devices();
  ASSERT_EQ(Devs.size(), 2u);
  for (const DeviceState &D : Devs) {
    EXPECT_EQ(D.Health, DeviceHealth::Up);
    EXPECT_EQ(D.Physical, 0);
    EXPECT_GT(D.Runs, 0u) << "device " << D.Logical << " never ran";
  }
  EXPECT_EQ(Devs[0].Links, "1: same device");
  // Each logical device holds a replica of the weights.
  EXPECT_EQ((*Two)->memory().WeightBytes, 2 * (*One)->memory().WeightBytes);
  EXPECT_EQ((*Two)->memory().ArenaBytes, (*One)->memory().ArenaBytes);
  ASSERT_EQ((*One)->devices().size(), 1u);
  // Single-device tools refuse a multi-device context, saying why.
  auto T = (*C2)->timeBucket(0, 1);
  ASSERT_FALSE(bool(T));
  EXPECT_NE(llvm::toString(T.takeError()).find("single-device engine"),
            std::string::npos);
}

TEST(MultiDevice, LoadWithALostDeviceLosesNoRequest) {
  SKIP_WITHOUT_GPU();
  int PerThread = 200;
  if (const char *N = std::getenv("KILN_MULTIDEVICE_REQUESTS"))
    PerThread = std::max(1, std::atoi(N));
  constexpr int Threads = 8;
  // Expected answers from one device, for a pool of requests.
  auto One = createEngine(miniLm());
  ASSERT_TRUE(bool(One)) << llvm::toString(One.takeError());
  auto C1 = (*One)->createContext();
  ASSERT_TRUE(bool(C1));
  std::mt19937_64 Rng(11);
  std::vector<std::vector<HostTensor>> Pool, Want;
  for (int I = 0; I < 16; ++I) {
    Pool.push_back(request(1 + I % 4, Rng));
    auto W = (*C1)->run(Pool.back());
    ASSERT_TRUE(bool(W)) << llvm::toString(W.takeError());
    Want.push_back(std::move(*W));
  }

  EngineOptions O = twoOnOneCard();
  O.ContextsPerDevice = 4;
  // Device 1 is lost from its 100th launch on (fewer requests, earlier).
  uint64_t At = std::min<uint64_t>(100, uint64_t(PerThread) * Threads / 4);
  O.Faults = {{1, At, false, 1}};
  auto E = createEngine(miniLm(), O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  int Total = Threads * PerThread;
  std::vector<std::atomic<int>> Answers(Total);
  std::atomic<int> Wrong{0}, Errors{0}, Retried{0};
  std::string FirstError;
  std::mutex ErrorMutex;
  std::vector<std::thread> Pool8;
  for (int T = 0; T < Threads; ++T)
    Pool8.emplace_back([&, T] {
      auto Ctx = (*E)->createContext();
      if (!Ctx) {
        Errors += PerThread;
        llvm::consumeError(Ctx.takeError());
        return;
      }
      for (int I = 0; I < PerThread; ++I) {
        int Id = T * PerThread + I;
        size_t Which = size_t(Id * 7 + T) % Pool.size();
        auto Out = (*Ctx)->run(Pool[Which]);
        if (!Out) {
          ++Errors;
          std::lock_guard<std::mutex> Lock(ErrorMutex);
          if (FirstError.empty())
            FirstError = llvm::toString(Out.takeError());
          else
            llvm::consumeError(Out.takeError());
          continue;
        }
        ++Answers[Id];
        Wrong += !sameBytes(*Out, Want[Which]);
        Retried += lastRunInfo(**Ctx).Attempts > 1;
      }
    });
  for (std::thread &T : Pool8)
    T.join();
  EXPECT_EQ(Errors, 0) << FirstError;
  EXPECT_EQ(Wrong, 0);
  int Lost = 0, Twice = 0;
  for (auto &A : Answers) {
    Lost += A == 0;
    Twice += A > 1;
  }
  EXPECT_EQ(Lost, 0);
  EXPECT_EQ(Twice, 0);
  EXPECT_GE(Retried, 1);
  auto Devs = (*E)->devices();
  EXPECT_EQ(Devs[1].Health, DeviceHealth::Lost);
  EXPECT_NE(Devs[1].LastError.find("injected fault"), std::string::npos)
      << Devs[1].LastError;
  EXPECT_EQ(Devs[0].Health, DeviceHealth::Up);
  EXPECT_EQ(Devs[0].Runs + Devs[1].Runs, uint64_t(Total));
  std::printf("[ multi    ] %d requests on 8 threads: %d retried, device 0 "
              "ran %llu, device 1 ran %llu before it was lost\n",
              Total, Retried.load(), (unsigned long long)Devs[0].Runs,
              (unsigned long long)Devs[1].Runs);
}

TEST(MultiDevice, RecoverableFaultIsProbedBack) {
  SKIP_WITHOUT_GPU();
  EngineOptions O = twoOnOneCard();
  O.ContextsPerDevice = 1;
  // Launches 5 and 6 of device 1 fail with out of memory.
  O.Faults = {{1, 5, true, 2}};
  auto E = createEngine(miniLm(), O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx));
  std::mt19937_64 Rng(3);
  auto In = request(2, Rng);
  bool WentDown = false, CameBack = false;
  auto Deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < Deadline) {
    auto Out = (*Ctx)->run(In);
    ASSERT_TRUE(bool(Out)) << llvm::toString(Out.takeError());
    auto D = (*E)->devices()[1];
    WentDown |= D.Health == DeviceHealth::Down;
    if (WentDown && D.Health == DeviceHealth::Up && D.Probes > 0) {
      CameBack = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(WentDown);
  EXPECT_TRUE(CameBack);
  auto D = (*E)->devices()[1];
  EXPECT_NE(D.LastError.find("out of memory"), std::string::npos)
      << D.LastError;
  // Back in service: it takes requests again.
  uint64_t Before = D.Runs;
  for (int I = 0; I < 20; ++I)
    ASSERT_TRUE(bool((*Ctx)->run(In)));
  EXPECT_GT((*E)->devices()[1].Runs, Before);
}

TEST(MultiDevice, AllDevicesLostIsAClearError) {
  SKIP_WITHOUT_GPU();
  EngineOptions O = twoOnOneCard();
  O.Faults = {{0, 1, false, 1}, {1, 1, false, 1}};
  auto E = createEngine(miniLm(), O);
  ASSERT_TRUE(bool(E)) << llvm::toString(E.takeError());
  auto Ctx = (*E)->createContext();
  ASSERT_TRUE(bool(Ctx));
  std::mt19937_64 Rng(5);
  auto Out = (*Ctx)->run(request(1, Rng));
  ASSERT_FALSE(bool(Out));
  std::string Msg = llvm::toString(Out.takeError());
  EXPECT_NE(Msg.find("no device left"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("device 0 lost"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("device 1 lost"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("injected fault"), std::string::npos) << Msg;
  for (const DeviceState &D : (*E)->devices())
    EXPECT_EQ(D.Health, DeviceHealth::Lost);
}

TEST(MultiDevice, BadConfigurationsAreErrors) {
  SKIP_WITHOUT_GPU();
  EngineOptions O;
  O.Devices = {0, 4096};
  auto E = createEngine(miniLm(), O);
  ASSERT_FALSE(bool(E));
  EXPECT_NE(llvm::toString(E.takeError()).find("does not exist"),
            std::string::npos);
  O = twoOnOneCard();
  O.Partition = PartitionMode::Pipeline;
  E = createEngine(miniLm(), O);
  ASSERT_FALSE(bool(E));
  EXPECT_NE(llvm::toString(E.takeError()).find("--partition pipeline"),
            std::string::npos);
  O = twoOnOneCard();
  O.Faults = {{2, 1, false, 1}};
  E = createEngine(miniLm(), O);
  ASSERT_FALSE(bool(E));
  EXPECT_NE(llvm::toString(E.takeError()).find("logical devices 0..1"),
            std::string::npos);
}

/// The fixture as a .kiln file carrying a small WordPiece tokenizer (its
/// ids are within the fixture's vocabulary), for TextModel::load.
std::string textArtifact() {
  static std::string Path = [] {
    Artifact A = miniLm();
    A.Tokenizer =
        "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
        "\"vocab\": {\"[PAD]\": 0, \"[UNK]\": 100, \"[CLS]\": 101, "
        "\"[SEP]\": 102, \"a\": 200, \"##a\": 201, \"b\": 300}}, "
        "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";
    llvm::SmallString<128> P;
    if (std::error_code EC =
            llvm::sys::fs::createTemporaryFile("multidevice", "kiln", P)) {
      ADD_FAILURE() << EC.message();
      return std::string();
    }
    if (llvm::Error E = writeArtifact(A, P))
      ADD_FAILURE() << llvm::toString(std::move(E));
    return P.str().str();
  }();
  return Path;
}

// Logical device 1 (the second lane on the card) is lost at its 3rd
// launch: every embedding is still the one-device TextModel's, and
// devices() reports it lost with the injected error.
TEST(MultiDevice, TextModelOnTwoLanesFailsOverAsOneDevice) {
  SKIP_WITHOUT_GPU();
  std::string Path = textArtifact();
  ASSERT_FALSE(Path.empty());
  TextModelOptions One;
  One.Devices = {0};
  auto M1 = TextModel::load(Path, One);
  ASSERT_TRUE(bool(M1)) << llvm::toString(M1.takeError());
  TextModelOptions Two;
  Two.Devices = {0, 0};
  Two.Faults = {{1, 3, false, 1}};
  auto M2 = TextModel::load(Path, Two);
  ASSERT_TRUE(bool(M2)) << llvm::toString(M2.takeError());
  ASSERT_EQ((*M2)->devices().size(), 2u);

  std::vector<std::string> Texts;
  for (int I = 0; I < 40; ++I) {
    std::string S;
    for (int W = 0; W <= I % 5; ++W)
      S += std::string(W ? " " : "") + ((I + W) % 3 ? "a" : "b") +
           std::string(size_t(I % 2), 'a');
    Texts.push_back(S);
  }
  auto Want = (*M1)->embed(Texts);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  for (int Round = 0; Round < 3; ++Round) {
    auto Got = (*M2)->embed(Texts);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    EXPECT_EQ(*Got, *Want) << "round " << Round;
  }
  // One text per call from 4 threads, as kiln serve's workers call it.
  std::vector<TokenizedText> Tok;
  ASSERT_FALSE(bool((*M2)->tokenizeBatch(Texts, Tok)));
  size_t W = (*M2)->dimension();
  std::atomic<int> Wrong{0};
  std::vector<std::thread> Threads;
  for (size_t K = 0; K < 4; ++K)
    Threads.emplace_back([&, K] {
      for (size_t I = K; I < Texts.size(); I += 4) {
        TokenView V{Tok[I].Ids, Tok[I].TypeIds};
        auto Row = (*M2)->embedTokens({&V, 1});
        auto Solo = (*M1)->embedTokens({&V, 1});
        if (!Row || !Solo || *Row != *Solo)
          ++Wrong;
        if (!Row)
          llvm::consumeError(Row.takeError());
        if (!Solo)
          llvm::consumeError(Solo.takeError());
      }
    });
  for (std::thread &T : Threads)
    T.join();
  EXPECT_EQ(Wrong.load(), 0);
  EXPECT_EQ(W, Want->size() / Texts.size());

  std::vector<TextModelDevice> D = (*M2)->devices();
  ASSERT_EQ(D.size(), 2u);
  EXPECT_EQ(D[0].Name, "cuda:0");
  EXPECT_EQ(D[1].Name, "cuda:0#1");
  EXPECT_EQ(D[0].Health, DeviceHealth::Up);
  EXPECT_EQ(D[1].Health, DeviceHealth::Lost);
  EXPECT_NE(D[1].LastError.find("injected fault"), std::string::npos)
      << D[1].LastError;
  // Launches 1 and 2 (a batch each) succeeded at most.
  EXPECT_LE(D[1].Runs, 2u);
  EXPECT_GE(D[1].Failures, 1u);
  llvm::sys::fs::remove(Path);
}

} // namespace
} // namespace kiln
