//===- Batcher.h - dynamic batching onto the backend's devices ---*- C++ -*-===//
//
// Requests, once tokenized, become Jobs; each of a job's inputs waits in one
// queue. A batching thread groups waiting inputs of similar length (padded
// to the backend's sequence buckets) into batches under a token budget,
// oldest input first so none starves, and hands each batch to a free
// worker; it prepares the next batch while the workers run theirs. There
// are WorkersPerDevice workers (2 by default) per backend device, all
// interchangeable: each runs Backend::embed, which picks the device and
// fails over (so one batch's host work overlaps another's device time, and
// every device has work). A batch the backend could not compute on any
// device fails its requests (424); while no device is up, queued requests
// fail at once (503). Inputs of cancelled requests (the client went away)
// are dropped before they reach a batch.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_BATCHER_H
#define KILN_SERVE_BATCHER_H

#include "serve/Backend.h"
#include "serve/Metrics.h"
#include "serve/Protocol.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace kiln::serve {

using Clock = std::chrono::steady_clock;

/// One request's inputs and, once computed, their embeddings.
class Job {
public:
  explicit Job(std::vector<Tokens> Inputs);
  std::vector<Tokens> Inputs;
  std::vector<std::vector<float>> Outputs;
  Clock::time_point Queued;
  std::atomic<bool> Cancelled{false};

  /// Records one input's embedding; the last one completes the job.
  void deliver(size_t Index, std::vector<float> V);
  /// Completes the job with \p E (the first error wins).
  void fail(ApiError E);
  /// Waits up to \p Timeout; true when the job is complete.
  bool wait(std::chrono::milliseconds Timeout);
  bool done() const { return Done.load(); }
  /// The error, once done; none when every input was embedded.
  const std::optional<ApiError> &error() const { return Error; }

private:
  std::mutex M;
  std::condition_variable CV;
  std::atomic<bool> Done{false};
  size_t Remaining;
  std::optional<ApiError> Error;
};

struct BatcherOptions {
  size_t MaxBatchTokens = 16384;
  std::chrono::microseconds MaxBatchDelay{0};
  /// Workers per backend device (at least 1): batches in flight at once.
  size_t WorkersPerDevice = 2;
};

class Batcher {
public:
  Batcher(Backend &B, Metrics &M, BatcherOptions Options);
  ~Batcher();
  /// Queues every input of \p J.
  void submit(const std::shared_ptr<Job> &J);
  /// Finishes what is queued, then stops the threads.
  void stop();

  /// Rounds \p Length up to a sequence bucket (itself when none fits or
  /// there are none).
  static size_t paddedLength(size_t Length, const std::vector<size_t> &Buckets);
  /// Chooses the next batch among inputs of the given padded lengths, in
  /// arrival order: indices into \p Lengths, the oldest (index 0) always
  /// first, the rest of the closest lengths while count * longest stays
  /// within \p MaxTokens and count within \p MaxCount (0: no limit).
  static std::vector<size_t> chooseBatch(const std::vector<size_t> &Lengths,
                                         size_t MaxTokens, size_t MaxCount);

private:
  struct Item {
    std::shared_ptr<Job> J;
    size_t Index;
    size_t Padded;
  };
  struct Batch {
    std::vector<Item> Items;
  };
  /// One worker: the batch handed to it and whether it is running one.
  struct Worker {
    std::optional<Batch> Next;
    bool Busy = false;
    std::thread Worker;
    /// Signalled when Next is set (or the former is done): one wake-up
    /// per batch, for the one worker that takes it.
    std::condition_variable Wake;
  };

  void formLoop();
  void workLoop(size_t Index);
  void failAll(std::deque<Item> &Items, const ApiError &E);

  Backend &B;
  Metrics &M;
  BatcherOptions Options;
  std::vector<size_t> Buckets;
  size_t MaxCount;
  std::mutex Mu;
  /// The former waits on this: new inputs, a worker free, stopping.
  std::condition_variable FormerCV;
  std::deque<Item> Pending;
  /// WorkersPerDevice for each backend device.
  std::vector<std::unique_ptr<Worker>> Workers;
  std::thread Former;
  bool Stopping = false;
  bool FormerDone = false;
};

} // namespace kiln::serve

#endif
