//===- EncoderPool.cpp - tokenize batches on persistent threads -----------===//
//
// A job hands out chunks through an atomic cursor; whoever takes a chunk
// (a worker or the caller) runs it and counts it done. The caller returns
// once every chunk is counted, so Fn, which lives on the caller's stack, is
// never called after that: a worker that still holds the job only finds
// the cursor past the end.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/EncoderPool.h"

#include "ir/Error.h"

#include <algorithm>
#include <atomic>

namespace kiln::tokenizer {

struct EncoderPool::Job {
  llvm::function_ref<void(size_t, size_t)> Fn;
  size_t N = 0, Chunk = 1;
  std::atomic<size_t> Next{0};
  std::atomic<size_t> Done{0};
  std::mutex Mu;
  std::condition_variable Finished;

  /// Runs chunks until none is left.
  void work() {
    for (size_t B; (B = Next.fetch_add(Chunk)) < N;) {
      size_t E = std::min(N, B + Chunk);
      Fn(B, E);
      if (Done.fetch_add(E - B) + (E - B) == N) {
        std::lock_guard<std::mutex> L(Mu);
        Finished.notify_all();
      }
    }
  }
};

size_t EncoderPool::defaultThreads() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
}

EncoderPool::EncoderPool(size_t Threads) {
  if (Threads == 0)
    Threads = defaultThreads();
  for (size_t I = 1; I < Threads; ++I)
    Workers.emplace_back([this] { workerLoop(); });
}

EncoderPool::~EncoderPool() {
  {
    std::lock_guard<std::mutex> L(Mu);
    Stopping = true;
  }
  Wake.notify_all();
  for (std::thread &T : Workers)
    T.join();
}

void EncoderPool::workerLoop() {
  std::unique_lock<std::mutex> L(Mu);
  while (true) {
    Wake.wait(L, [&] { return Stopping || !Queue.empty(); });
    if (Queue.empty())
      return;
    std::shared_ptr<Job> J = Queue.front();
    L.unlock();
    J->work();
    L.lock();
    // Its chunks are all taken: let the next job have the workers.
    if (!Queue.empty() && Queue.front() == J)
      Queue.pop_front();
  }
}

void EncoderPool::parallelFor(size_t N,
                              llvm::function_ref<void(size_t, size_t)> Fn) {
  if (N == 0)
    return;
  if (Workers.empty() || N == 1) {
    Fn(0, N);
    return;
  }
  auto J = std::make_shared<Job>();
  J->Fn = Fn;
  J->N = N;
  // Several chunks per thread, so that a slow chunk (one long text) is
  // balanced by the others; never below one text.
  J->Chunk = std::max<size_t>(1, N / (threads() * 4));
  {
    std::lock_guard<std::mutex> L(Mu);
    Queue.push_back(J);
  }
  Wake.notify_all();
  J->work();
  {
    std::lock_guard<std::mutex> L(Mu);
    auto It = std::find(Queue.begin(), Queue.end(), J);
    if (It != Queue.end())
      Queue.erase(It);
  }
  std::unique_lock<std::mutex> L(J->Mu);
  J->Finished.wait(L, [&] { return J->Done.load() == N; });
}

llvm::Error encodeBatch(const Tokenizer &T, EncoderPool &Pool,
                        std::span<const std::string> Texts,
                        std::vector<Encoding> &Out) {
  Out.resize(Texts.size());
  // The first failing text's error, as a sequential loop would report it.
  std::mutex ErrMu;
  size_t FirstBad = Texts.size();
  std::string Message;
  Pool.parallelFor(Texts.size(), [&](size_t Begin, size_t End) {
    for (size_t I = Begin; I < End; ++I)
      if (llvm::Error E = T.encode(Texts[I], Out[I])) {
        std::lock_guard<std::mutex> L(ErrMu);
        if (I < FirstBad) {
          FirstBad = I;
          Message = llvm::toString(std::move(E));
        } else {
          llvm::consumeError(std::move(E));
        }
      }
  });
  if (FirstBad < Texts.size())
    return makeError("text " + std::to_string(FirstBad) + ": " + Message);
  return llvm::Error::success();
}

} // namespace kiln::tokenizer
