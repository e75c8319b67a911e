//===- EncoderPool.h - tokenize batches on persistent threads ---*- C++ -*-===//
//
// One thread tokenizes about 1.3 M tokens/s: a 256 x 128 batch takes ~25 ms
// of it, ten times the GPU time of that batch on an H100 (~2.6 ms). The
// pool spreads a batch over a few threads that live as long as the pool
// (starting threads per batch would cost more than small batches take).
//
// parallelFor(N, Fn) calls Fn(Begin, End) on disjoint chunks covering
// [0, N), on the pool's workers and on the calling thread, and returns when
// every chunk is done. Calls from several threads at once are fine: each is
// a job of its own in a queue that the workers drain in order, and every
// caller works on its own job, so no call waits on another's alone.
//
// encodeBatch() is the tokenizer's use of it: the encodings of a batch of
// texts, exactly those of encoding them one by one (the tokenizer is
// immutable, its scratch space is per thread).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOKENIZER_ENCODERPOOL_H
#define KILN_TOKENIZER_ENCODERPOOL_H

#include "tokenizer/Tokenizer.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace kiln::tokenizer {

class EncoderPool {
public:
  /// \p Threads counts the calling thread: 1 runs everything inline (no
  /// worker thread); 0 picks defaultThreads().
  explicit EncoderPool(size_t Threads = 0);
  ~EncoderPool();
  EncoderPool(const EncoderPool &) = delete;
  EncoderPool &operator=(const EncoderPool &) = delete;

  /// min(hardware threads, 8): more rarely pays for a batch of 256 texts.
  static size_t defaultThreads();
  /// Threads that work on a batch, the caller's included.
  size_t threads() const { return Workers.size() + 1; }

  /// Runs Fn(Begin, End) over chunks covering [0, N); returns when all are
  /// done. Fn must not call parallelFor on the same pool.
  void parallelFor(size_t N, llvm::function_ref<void(size_t, size_t)> Fn);

  struct Job;

private:
  void workerLoop();

  std::mutex Mu;
  std::condition_variable Wake;
  std::deque<std::shared_ptr<Job>> Queue;
  bool Stopping = false;
  std::vector<std::thread> Workers;
};

/// Encodes every text of \p Texts into \p Out (resized to match) on \p Pool.
/// On invalid input, the error of the first text that fails, naming it.
llvm::Error encodeBatch(const Tokenizer &T, EncoderPool &Pool,
                        std::span<const std::string> Texts,
                        std::vector<Encoding> &Out);

} // namespace kiln::tokenizer

#endif
