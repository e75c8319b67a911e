//===- EncoderPoolTest.cpp - batches tokenized on a thread pool -----------===//
//
// The pool runs every index once, from several callers at once, and a
// batch encoded on it equals the texts encoded one by one; the error of a
// bad batch is the first bad text's, as a sequential loop reports it.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/EncoderPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace kiln::tokenizer;

namespace {

TEST(EncoderPool, RunsEveryIndexOnce) {
  for (size_t Threads : {1, 2, 5}) {
    EncoderPool Pool(Threads);
    EXPECT_EQ(Pool.threads(), Threads);
    for (size_t N : {0, 1, 2, 7, 64, 1001}) {
      std::vector<std::atomic<int>> Seen(N);
      Pool.parallelFor(N, [&](size_t B, size_t E) {
        ASSERT_LE(B, E);
        ASSERT_LE(E, N);
        for (size_t I = B; I < E; ++I)
          ++Seen[I];
      });
      for (size_t I = 0; I < N; ++I)
        ASSERT_EQ(Seen[I].load(), 1) << "index " << I << " of " << N;
    }
  }
}

TEST(EncoderPool, DefaultIsBetweenOneAndEight) {
  EncoderPool Pool(0);
  EXPECT_GE(Pool.threads(), 1u);
  EXPECT_LE(Pool.threads(), 8u);
  EXPECT_EQ(Pool.threads(), EncoderPool::defaultThreads());
}

TEST(EncoderPool, ConcurrentCallersEachGetTheirWholeJob) {
  EncoderPool Pool(3);
  std::vector<std::thread> Callers;
  std::atomic<int> Bad{0};
  for (int C = 0; C < 4; ++C)
    Callers.emplace_back([&, C] {
      for (int Round = 0; Round < 50; ++Round) {
        size_t N = 100 + size_t(C) * 37 + size_t(Round);
        std::vector<std::atomic<int>> Seen(N);
        Pool.parallelFor(N, [&](size_t B, size_t E) {
          for (size_t I = B; I < E; ++I)
            ++Seen[I];
        });
        for (size_t I = 0; I < N; ++I)
          if (Seen[I].load() != 1)
            ++Bad;
      }
    });
  for (std::thread &T : Callers)
    T.join();
  EXPECT_EQ(Bad.load(), 0);
}

const char *Vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\n"
                    "un\n##aff\n##able\ncafe\n";

std::vector<std::string> texts() {
  std::vector<std::string> T;
  const char *Words[] = {"hello", "world", "unaffable", "café",  "CAFE",
                         "!",     ",",     "zzz",       "[MASK]"};
  for (size_t I = 0; I < 500; ++I) {
    std::string S;
    for (size_t W = 0; W <= I % 13; ++W)
      S += std::string(Words[(I * 7 + W) % 9]) + (W % 3 ? " " : ", ");
    T.push_back(S);
  }
  T.push_back("");
  return T;
}

TEST(EncoderPool, BatchEqualsOneByOne) {
  auto Tok = Tokenizer::fromVocab(Vocab, {});
  ASSERT_TRUE(bool(Tok)) << llvm::toString(Tok.takeError());
  std::vector<std::string> T = texts();
  for (size_t Threads : {1, 4}) {
    EncoderPool Pool(Threads);
    std::vector<Encoding> Batch;
    ASSERT_FALSE(bool(encodeBatch(*Tok, Pool, T, Batch)));
    ASSERT_EQ(Batch.size(), T.size());
    for (size_t I = 0; I < T.size(); ++I) {
      auto One = Tok->encode(T[I]);
      ASSERT_TRUE(bool(One));
      EXPECT_EQ(Batch[I].Ids, One->Ids) << T[I];
      EXPECT_EQ(Batch[I].TypeIds, One->TypeIds);
      EXPECT_EQ(Batch[I].AttentionMask, One->AttentionMask);
    }
  }
}

TEST(EncoderPool, FirstBadTextIsReported) {
  auto Tok = Tokenizer::fromVocab(Vocab, {});
  ASSERT_TRUE(bool(Tok)) << llvm::toString(Tok.takeError());
  std::vector<std::string> T = texts();
  T[300] = "bad \xff byte";
  T[77] = "also \xc3 bad";
  EncoderPool Pool(4);
  std::vector<Encoding> Batch;
  llvm::Error E = encodeBatch(*Tok, Pool, T, Batch);
  ASSERT_TRUE(bool(E));
  std::string Message = llvm::toString(std::move(E));
  EXPECT_EQ(Message.rfind("text 77: input is not valid UTF-8", 0), 0u)
      << Message;
}

} // namespace
