//===- TextModelDevicesTest.cpp - failover over logical CPU devices -------===//
//
// A CPU TextModel with TextModelOptions::Devices runs on logical devices
// (TextModelCpuDevices.h) behind the engine's Failover. A device that fails
// (fault injection, as on the GPU) must cost no answer: every embedding
// equal to one device's, the device reported down with its error, a
// recoverable one probed back, and a clear error once no device is left.
//
//===----------------------------------------------------------------------===//
#include "runtime/TextModelInternal.h"

#include "ir/Parser.h"

#include "gtest/gtest.h"

#include <atomic>
#include <chrono>
#include <thread>

namespace kiln {
namespace {

// Mean of the token rows of a 5 x 4 table: exact in f32, different for
// every text below.
const char *Graph = R"(
graph @embed(%ids: i64[batch, seq], %mask: i64[batch, seq]) {
  %t = const f32[5, 4] [0.5, -1.0, 2.0, 0.25, 1.0, 3.0, -0.5, 0.75, -2.0, 0.125, 1.5, 4.0, 3.0, 0.5, -1.25, 2.5, -0.75, 1.25, 0.5, -3.0]
  %g = Gather(%t, %ids) {axis = 0} : f32[batch, seq, 4]
  %y = PoolNormalize(%g, %mask) {mode = "mean"} : f32[batch, 4]
  return %y
}
)";

const char *Tokenizer =
    "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
    "\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"a\": 3, "
    "\"##a\": 4}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}";

std::unique_ptr<TextModel> model(const TextModelOptions &Extra) {
  auto G = parseGraph(Graph, "test");
  EXPECT_TRUE(bool(G)) << llvm::toString(G.takeError());
  if (!G)
    return nullptr;
  TextModelOptions O = Extra;
  O.Where = Device::CPU;
  O.MaxBatch = 2;
  O.TokenizerThreads = 1;
  auto M = createTextModel(std::move(*G), {IoRole::None, IoRole::AttentionMask},
                           Tokenizer, 0, O);
  EXPECT_TRUE(bool(M)) << llvm::toString(M.takeError());
  return M ? std::move(*M) : nullptr;
}

std::string loadError(const TextModelOptions &O) {
  auto G = parseGraph(Graph, "test");
  if (!G)
    return llvm::toString(G.takeError());
  TextModelOptions X = O;
  X.Where = Device::CPU;
  auto M = createTextModel(std::move(*G), {IoRole::None, IoRole::AttentionMask},
                           Tokenizer, 0, X);
  return M ? "(loaded)" : llvm::toString(M.takeError());
}

/// 24 texts of 1 to 6 words of 1 to 3 pieces each.
std::vector<std::string> texts() {
  std::vector<std::string> T;
  for (int I = 0; I < 24; ++I) {
    std::string S;
    for (int W = 0; W <= I % 6; ++W)
      S += std::string(W ? " " : "") + std::string(1 + (I + W) % 3, 'a');
    T.push_back(S);
  }
  return T;
}

TextModelOptions twoDevices(std::vector<FaultInjection> Faults) {
  TextModelOptions O;
  O.Devices = {0, 1};
  O.ContextsPerDevice = 1;
  O.Faults = std::move(Faults);
  return O;
}

const TextModelDevice &device(const std::vector<TextModelDevice> &D, size_t I) {
  static TextModelDevice None;
  return I < D.size() ? D[I] : None;
}

TEST(TextModelDevices, OneDeviceByDefault) {
  auto M = model({});
  ASSERT_TRUE(M);
  std::vector<TextModelDevice> D = M->devices();
  ASSERT_EQ(D.size(), 1u);
  EXPECT_EQ(D[0].Name, "cpu:0");
  EXPECT_EQ(D[0].Health, DeviceHealth::Up);
}

// Device 1 is lost at its 3rd launch: its batch runs again on device 0,
// every answer equals one device's, and device 1 says why it is down.
TEST(TextModelDevices, LostDeviceCostsNoAnswer) {
  auto One = model({});
  auto Two = model(twoDevices({{1, 3, false, 1}}));
  ASSERT_TRUE(One && Two);
  std::vector<std::string> T = texts();
  auto Want = One->embed(T);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  for (int Round = 0; Round < 3; ++Round) {
    auto Got = Two->embed(T);
    ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
    EXPECT_EQ(*Got, *Want) << "round " << Round;
  }
  // From 4 threads at once, through embedTokens as a service calls it.
  std::vector<TokenizedText> Tok;
  ASSERT_FALSE(bool(Two->tokenizeBatch(T, Tok)));
  std::atomic<int> Wrong{0};
  std::vector<std::thread> Threads;
  for (int K = 0; K < 4; ++K)
    Threads.emplace_back([&, K] {
      for (size_t I = size_t(K); I < T.size(); I += 4) {
        TokenView V{Tok[I].Ids, Tok[I].TypeIds};
        auto Row = Two->embedTokens({&V, 1});
        if (!Row || std::vector<float>(Want->begin() + long(I * 4),
                                       Want->begin() + long(I * 4 + 4)) != *Row)
          ++Wrong;
        if (!Row)
          llvm::consumeError(Row.takeError());
      }
    });
  for (std::thread &X : Threads)
    X.join();
  EXPECT_EQ(Wrong.load(), 0);

  std::vector<TextModelDevice> D = Two->devices();
  ASSERT_EQ(D.size(), 2u);
  EXPECT_EQ(D[0].Name, "cpu:0");
  EXPECT_EQ(D[1].Name, "cpu:1");
  EXPECT_EQ(D[0].Health, DeviceHealth::Up);
  EXPECT_EQ(D[1].Health, DeviceHealth::Lost);
  EXPECT_NE(
      D[1].LastError.find("injected fault (launch 3 on logical device 1)"),
      std::string::npos)
      << D[1].LastError;
  EXPECT_EQ(D[1].Runs, 2u);
  EXPECT_EQ(D[1].Failures, 1u);
  EXPECT_EQ(D[0].Failures, 0u);
  // 3 x 12 batches of embed() and 24 of embedTokens(): one answer each.
  EXPECT_EQ(D[0].Runs + D[1].Runs, 3u * 12 + 24);
}

// A recoverable fault takes device 1 down for one launch; the prober
// brings it back and it takes batches again.
TEST(TextModelDevices, RecoverableFaultIsProbedBack) {
  auto One = model({});
  auto Two = model(twoDevices({{1, 2, true, 1}}));
  ASSERT_TRUE(One && Two);
  std::vector<std::string> T = texts();
  auto Want = One->embed(T);
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  auto Got = Two->embed(T);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  EXPECT_EQ(*Got, *Want);
  EXPECT_EQ(device(Two->devices(), 1).Failures, 1u);
  EXPECT_NE(device(Two->devices(), 1).LastError.find("out of memory"),
            std::string::npos);

  auto Deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (device(Two->devices(), 1).Health != DeviceHealth::Up &&
         std::chrono::steady_clock::now() < Deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(device(Two->devices(), 1).Health, DeviceHealth::Up);
  uint64_t Before = device(Two->devices(), 1).Runs;
  Got = Two->embed(T);
  ASSERT_TRUE(bool(Got)) << llvm::toString(Got.takeError());
  EXPECT_EQ(*Got, *Want);
  EXPECT_GT(device(Two->devices(), 1).Runs, Before);
  EXPECT_EQ(device(Two->devices(), 1).Failures, 1u);
}

// Both devices lost: a clear error naming each, and both reported lost.
TEST(TextModelDevices, AllDevicesDownIsAClearError) {
  auto Two = model(twoDevices({{0, 1, false, 1}, {1, 1, false, 1}}));
  ASSERT_TRUE(Two);
  std::vector<std::string> T = {"a aa"};
  auto Got = Two->embed(T);
  ASSERT_FALSE(bool(Got));
  std::string E = llvm::toString(Got.takeError());
  EXPECT_NE(E.find("no device left to run the request: device 0 lost"),
            std::string::npos)
      << E;
  EXPECT_NE(E.find("device 1 lost"), std::string::npos) << E;
  for (const TextModelDevice &D : Two->devices())
    EXPECT_EQ(D.Health, DeviceHealth::Lost) << D.Name;
  // It stays an error, never an answer from nowhere.
  auto Again = Two->embed(T);
  EXPECT_FALSE(bool(Again));
  if (!Again)
    llvm::consumeError(Again.takeError());
}

TEST(TextModelDevices, BadConfigurationsAreErrors) {
  TextModelOptions O = twoDevices({{2, 1, false, 1}});
  EXPECT_NE(loadError(O).find("fault injection on device 2: the engine has "
                              "logical devices 0..1"),
            std::string::npos)
      << loadError(O);
  O = twoDevices({});
  O.Partition = PartitionMode::Pipeline;
  EXPECT_NE(loadError(O).find("a pipeline partition needs GPUs"),
            std::string::npos)
      << loadError(O);
  O = twoDevices({});
  O.ContextsPerDevice = 0;
  EXPECT_NE(loadError(O).find("ContextsPerDevice must be at least 1"),
            std::string::npos)
      << loadError(O);
}

} // namespace
} // namespace kiln
