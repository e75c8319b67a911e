//===- Batcher.cpp - dynamic batching onto the backend's devices ----------===//
#include "serve/Batcher.h"

#include <algorithm>
#include <numeric>

namespace kiln::serve {

Job::Job(std::vector<Tokens> In)
    : Inputs(std::move(In)), Outputs(Inputs.size()), Queued(Clock::now()),
      Remaining(Inputs.size()) {}

void Job::deliver(size_t Index, std::vector<float> V) {
  std::lock_guard<std::mutex> L(M);
  if (Done)
    return;
  Outputs[Index] = std::move(V);
  if (--Remaining == 0) {
    Done = true;
    CV.notify_all();
  }
}

void Job::fail(ApiError E) {
  std::lock_guard<std::mutex> L(M);
  if (Done)
    return;
  Error = std::move(E);
  Done = true;
  CV.notify_all();
}

bool Job::wait(std::chrono::milliseconds Timeout) {
  std::unique_lock<std::mutex> L(M);
  return CV.wait_for(L, Timeout, [&] { return Done.load(); });
}

Batcher::Batcher(Backend &Back, Metrics &Met, BatcherOptions O)
    : B(Back), M(Met), Options(O), Buckets(Back.seqBuckets()),
      MaxCount(Back.maxBatchSize()) {
  size_t N = std::max<size_t>(1, B.devices().size()) *
             std::max<size_t>(1, Options.WorkersPerDevice);
  for (size_t I = 0; I < N; ++I)
    Workers.push_back(std::make_unique<Worker>());
  for (size_t I = 0; I < N; ++I)
    Workers[I]->Worker = std::thread([this, I] { workLoop(I); });
  Former = std::thread([this] { formLoop(); });
}

Batcher::~Batcher() { stop(); }

void Batcher::submit(const std::shared_ptr<Job> &J) {
  {
    std::lock_guard<std::mutex> L(Mu);
    for (size_t I = 0; I < J->Inputs.size(); ++I)
      Pending.push_back({J, I, paddedLength(J->Inputs[I].Ids.size(), Buckets)});
  }
  M.QueueSize += int64_t(J->Inputs.size());
  FormerCV.notify_one();
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> L(Mu);
    Stopping = true;
  }
  FormerCV.notify_one();
  if (Former.joinable())
    Former.join();
  for (auto &W : Workers)
    if (W->Worker.joinable())
      W->Worker.join();
}

size_t Batcher::paddedLength(size_t Length,
                             const std::vector<size_t> &Buckets) {
  for (size_t S : Buckets)
    if (S >= Length)
      return S;
  return Length;
}

std::vector<size_t> Batcher::chooseBatch(const std::vector<size_t> &Lengths,
                                         size_t MaxTokens, size_t MaxCount) {
  size_t N = Lengths.size();
  if (N == 0)
    return {};
  std::vector<size_t> Order(N);
  std::iota(Order.begin(), Order.end(), 0);
  std::stable_sort(Order.begin(), Order.end(),
                   [&](size_t A, size_t B) { return Lengths[A] < Lengths[B]; });
  size_t Pos = size_t(std::find(Order.begin(), Order.end(), 0) - Order.begin());
  size_t Lo = Pos, Hi = Pos, Longest = Lengths[0], Count = 1;
  size_t Anchor = Lengths[0];
  while (!MaxCount || Count < MaxCount) {
    bool LeftOk = Lo > 0 && (Count + 1) * Longest <= MaxTokens;
    bool RightOk =
        Hi + 1 < N &&
        (Count + 1) * std::max(Longest, Lengths[Order[Hi + 1]]) <= MaxTokens;
    if (!LeftOk && !RightOk)
      break;
    bool TakeLeft = LeftOk;
    if (LeftOk && RightOk) {
      size_t DL = Anchor - Lengths[Order[Lo - 1]];
      size_t DR = Lengths[Order[Hi + 1]] - Anchor;
      TakeLeft = DL < DR || (DL == DR && Order[Lo - 1] < Order[Hi + 1]);
    }
    if (TakeLeft) {
      --Lo;
    } else {
      ++Hi;
      Longest = std::max(Longest, Lengths[Order[Hi]]);
    }
    ++Count;
  }
  std::vector<size_t> Chosen(Order.begin() + long(Lo),
                             Order.begin() + long(Hi) + 1);
  std::sort(Chosen.begin(), Chosen.end());
  return Chosen;
}

void Batcher::failAll(std::deque<Item> &Items, const ApiError &E) {
  M.QueueSize -= int64_t(Items.size());
  for (Item &I : Items)
    I.J->fail(E);
  Items.clear();
}

void Batcher::formLoop() {
  std::unique_lock<std::mutex> L(Mu);
  while (true) {
    // Inputs of requests that are over (an error, or the client left).
    size_t Before = Pending.size();
    std::erase_if(Pending, [](const Item &I) {
      return I.J->done() || I.J->Cancelled.load();
    });
    M.QueueSize -= int64_t(Before - Pending.size());

    std::vector<DeviceState> States = B.devices();
    bool AnyUp = std::any_of(States.begin(), States.end(),
                             [](const DeviceState &S) { return S.Up; });
    if (!AnyUp && !Pending.empty()) {
      failAll(Pending, {ErrorKind::Unhealthy, "no device is up"});
      continue;
    }
    // A worker with an empty slot, an idle one first.
    std::optional<size_t> Free;
    for (size_t W = 0; W < Workers.size(); ++W)
      if (!Workers[W]->Next &&
          (!Free || (Workers[*Free]->Busy && !Workers[W]->Busy)))
        Free = W;
    if (Pending.empty() || !Free) {
      bool Idle =
          std::all_of(Workers.begin(), Workers.end(),
                      [](const auto &W) { return !W->Next && !W->Busy; });
      if (Stopping && Pending.empty() && Idle)
        break;
      FormerCV.wait(L);
      continue;
    }
    std::vector<size_t> Lengths;
    Lengths.reserve(Pending.size());
    for (const Item &I : Pending)
      Lengths.push_back(I.Padded);
    std::vector<size_t> Chosen =
        chooseBatch(Lengths, Options.MaxBatchTokens, MaxCount);
    // --max-batch-delay-us: hold a batch that could take more inputs.
    if (Options.MaxBatchDelay.count() > 0 && !Stopping &&
        Chosen.size() == Pending.size()) {
      size_t Longest = 0;
      for (size_t I : Chosen)
        Longest = std::max(Longest, Lengths[I]);
      bool Room = (Chosen.size() + 1) * Longest <= Options.MaxBatchTokens &&
                  (!MaxCount || Chosen.size() < MaxCount);
      Clock::time_point Deadline =
          Pending.front().J->Queued + Options.MaxBatchDelay;
      if (Room && Clock::now() < Deadline) {
        FormerCV.wait_until(L, Deadline);
        continue;
      }
    }
    Batch Next;
    std::vector<bool> Taken(Pending.size(), false);
    for (size_t I : Chosen)
      Taken[I] = true;
    std::deque<Item> Rest;
    Clock::time_point Now = Clock::now();
    for (size_t I = 0; I < Pending.size(); ++I) {
      if (Taken[I]) {
        M.QueueDuration.observe(
            std::chrono::duration<double>(Now - Pending[I].J->Queued).count());
        Next.Items.push_back(std::move(Pending[I]));
      } else {
        Rest.push_back(std::move(Pending[I]));
      }
    }
    Pending.swap(Rest);
    M.QueueSize -= int64_t(Next.Items.size());
    Workers[*Free]->Next = std::move(Next);
    Workers[*Free]->Wake.notify_one();
  }
  FormerDone = true;
  for (auto &W : Workers)
    W->Wake.notify_one();
}

void Batcher::workLoop(size_t Index) {
  Worker &D = *Workers[Index];
  std::unique_lock<std::mutex> L(Mu);
  while (true) {
    D.Wake.wait(L, [&] { return D.Next || FormerDone; });
    if (!D.Next)
      break;
    Batch Work = std::move(*D.Next);
    D.Next.reset();
    D.Busy = true;
    FormerCV.notify_one(); // it may prepare this worker's next batch
    L.unlock();

    std::erase_if(Work.Items, [](const Item &I) {
      return I.J->done() || I.J->Cancelled.load();
    });
    std::vector<const Tokens *> In;
    size_t Longest = 0;
    for (const Item &I : Work.Items) {
      In.push_back(&I.J->Inputs[I.Index]);
      Longest = std::max(Longest, I.Padded);
    }
    std::vector<std::vector<float>> Out;
    std::optional<Failure> F;
    if (!In.empty()) {
      M.BatchSize.observe(double(In.size()));
      M.BatchTokens.observe(double(In.size() * Longest));
      Clock::time_point Start = Clock::now();
      F = B.embed(In, Out);
      M.InferenceDuration.observe(
          std::chrono::duration<double>(Clock::now() - Start).count());
      if (!F && Out.size() != In.size())
        F = Failure{Failure::DeviceFailed,
                    "the backend returned " + std::to_string(Out.size()) +
                        " embeddings for " + std::to_string(In.size())};
    }
    if (!F) {
      for (size_t I = 0; I < Work.Items.size(); ++I)
        Work.Items[I].J->deliver(Work.Items[I].Index, std::move(Out[I]));
    } else {
      // The backend has already tried every device that was up.
      ErrorKind K = F->K == Failure::BadInput ? ErrorKind::Validation
                                              : ErrorKind::Backend;
      for (Item &I : Work.Items)
        I.J->fail({K, F->Message});
    }
    L.lock();
    D.Busy = false;
    FormerCV.notify_one();
  }
}

} // namespace kiln::serve
