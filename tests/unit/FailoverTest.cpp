//===- FailoverTest.cpp - failover against a fake device layer ------------===//
//
// Failover (lib/runtime/Failover.h) knows no CUDA: here devices are
// counters that fail on a chosen launch, requests are integers whose answer
// is twice their value, and the tests check health transitions, probes with
// backoff, retries and, under many threads, that every request is answered
// exactly once and correctly.
//
//===----------------------------------------------------------------------===//
#include "runtime/Failover.h"
#include "runtime/DeviceError.h"

#include "gtest/gtest.h"

#include <atomic>
#include <future>
#include <thread>

namespace kiln {
namespace {

using namespace std::chrono_literals;
using Clock = FailoverOptions::Clock;

/// A clock the test moves by hand.
struct FakeClock {
  Clock::time_point T = Clock::time_point() + 1h;
  FailoverOptions options() {
    FailoverOptions O;
    O.Now = [this] { return T; };
    return O;
  }
};

/// One logical device: launches counted, failing from launch FailAt on
/// (Lost) or for FailFor launches (recoverable).
struct FakeDevice {
  std::atomic<uint64_t> Launches{0};
  uint64_t FailAt = 0; // 0: never
  bool Lost = true;
  uint64_t FailFor = 1;

  llvm::Error launch(int Id) {
    uint64_t N = ++Launches;
    if (FailAt && N >= FailAt && (Lost || N < FailAt + FailFor))
      return llvm::make_error<DeviceError>(
          "fake failure on launch " + std::to_string(N),
          Lost ? DeviceError::Severity::Lost
               : DeviceError::Severity::Recoverable,
          Lost ? 719 : 2, Id);
    return llvm::Error::success();
  }
};

std::vector<FailoverRoute> onePerDevice(unsigned N, unsigned Lanes) {
  std::vector<FailoverRoute> R;
  for (unsigned I = 0; I < N; ++I)
    R.push_back({{int(I)}, Lanes, 0});
  return R;
}

TEST(Failover, RecoverableFailureIsProbedWithBackoff) {
  FakeClock C;
  unsigned ProbesRun = 0;
  bool ProbeWorks = false;
  Failover F(
      2, onePerDevice(2, 1),
      [&](int D) -> llvm::Error {
        ++ProbesRun;
        if (ProbeWorks)
          return llvm::Error::success();
        return llvm::make_error<DeviceError>(
            "still out of memory", DeviceError::Severity::Recoverable, 2, D);
      },
      C.options());
  F.fail(1, /*Lost=*/false, "out of memory");
  EXPECT_EQ(F.health(1), DeviceHealth::Down);
  EXPECT_EQ(F.health(0), DeviceHealth::Up);
  EXPECT_EQ(F.probeDue(), 0u); // not due before FirstProbe (50 ms)
  EXPECT_EQ(ProbesRun, 0u);
  C.T += 50ms;
  EXPECT_EQ(F.probeDue(), 0u); // probed, failed: the wait doubles
  EXPECT_EQ(ProbesRun, 1u);
  EXPECT_EQ(F.health(1), DeviceHealth::Down);
  EXPECT_EQ(F.nextProbe(), C.T + 100ms);
  C.T += 99ms;
  F.probeDue();
  EXPECT_EQ(ProbesRun, 1u);
  C.T += 1ms;
  ProbeWorks = true;
  EXPECT_EQ(F.probeDue(), 1u);
  EXPECT_EQ(F.health(1), DeviceHealth::Up);
  EXPECT_EQ(F.nextProbe(), Clock::time_point::max());
  auto S = F.states();
  EXPECT_EQ(S[1].Probes, 2u);
  EXPECT_EQ(S[1].Failures, 2u); // the fall and the failed probe
  EXPECT_NE(S[1].LastError.find("still out of memory"), std::string::npos);
}

TEST(Failover, BackoffIsCapped) {
  FakeClock C;
  FailoverOptions O = C.options();
  O.MaxProbe = 300ms;
  Failover F(
      1, onePerDevice(1, 1),
      [](int D) -> llvm::Error {
        return llvm::make_error<DeviceError>(
            "busy", DeviceError::Severity::Recoverable, 2, D);
      },
      O);
  F.fail(0, false, "busy");
  for (int I = 0; I < 6; ++I) {
    C.T = F.nextProbe();
    F.probeDue();
  }
  EXPECT_EQ(F.nextProbe() - C.T, 300ms);
}

TEST(Failover, LostDevicesAreNeverProbed) {
  FakeClock C;
  unsigned ProbesRun = 0;
  Failover F(
      1, onePerDevice(1, 1),
      [&](int) {
        ++ProbesRun;
        return llvm::Error::success();
      },
      C.options());
  F.fail(0, /*Lost=*/true, "illegal address");
  C.T += 1h;
  EXPECT_EQ(F.probeDue(), 0u);
  EXPECT_EQ(ProbesRun, 0u);
  EXPECT_EQ(F.health(0), DeviceHealth::Lost);
  // A later recoverable error does not bring it back to Down.
  F.fail(0, false, "out of memory");
  EXPECT_EQ(F.health(0), DeviceHealth::Lost);
}

TEST(Failover, FailedAttemptIsRetriedOnAnotherDevice) {
  FakeDevice Devs[2];
  Devs[0].FailAt = 1;
  Failover F(2, onePerDevice(2, 1), nullptr);
  int Answers = 0;
  Failover::RunInfo Info;
  llvm::Error E = F.run(
      [&](size_t Route, unsigned) -> llvm::Error {
        if (llvm::Error Err = Devs[Route].launch(int(Route)))
          return Err;
        ++Answers;
        return llvm::Error::success();
      },
      &Info);
  ASSERT_FALSE(bool(E)) << llvm::toString(std::move(E));
  EXPECT_EQ(Answers, 1);
  EXPECT_EQ(Info.Attempts, 2u);
  EXPECT_EQ(Info.Route, 1u);
  EXPECT_EQ(F.health(0), DeviceHealth::Lost);
  EXPECT_EQ(F.health(1), DeviceHealth::Up);
  // The next request goes straight to the survivor.
  ASSERT_FALSE(bool(F.run([&](size_t Route, unsigned) {
    EXPECT_EQ(Route, 1u);
    return llvm::Error::success();
  })));
}

TEST(Failover, TheRequestsOwnErrorIsNotRetried) {
  Failover F(2, onePerDevice(2, 1), nullptr);
  unsigned Calls = 0;
  Failover::RunInfo Info;
  llvm::Error E = F.run(
      [&](size_t, unsigned) {
        ++Calls;
        return llvm::make_error<llvm::StringError>(
            "sequence too long", llvm::inconvertibleErrorCode());
      },
      &Info);
  ASSERT_TRUE(bool(E));
  EXPECT_EQ(llvm::toString(std::move(E)), "sequence too long");
  EXPECT_EQ(Calls, 1u);
  EXPECT_EQ(F.health(0), DeviceHealth::Up);
  EXPECT_EQ(F.health(1), DeviceHealth::Up);
}

TEST(Failover, AllDevicesLostIsAClearError) {
  Failover F(2, onePerDevice(2, 1), nullptr);
  unsigned Calls = 0;
  llvm::Error E = F.run([&](size_t Route, unsigned) -> llvm::Error {
    ++Calls;
    return llvm::make_error<DeviceError>(
        "launch failure on " + std::to_string(Route),
        DeviceError::Severity::Lost, 719, int(Route));
  });
  ASSERT_TRUE(bool(E));
  std::string Msg = llvm::toString(std::move(E));
  EXPECT_EQ(Calls, 2u);
  EXPECT_NE(Msg.find("no device left"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("device 0 lost (launch failure on 0)"), std::string::npos)
      << Msg;
  EXPECT_NE(Msg.find("device 1 lost (launch failure on 1)"), std::string::npos)
      << Msg;
  // Later requests fail at once, without an attempt.
  E = F.run([&](size_t, unsigned) {
    ++Calls;
    return llvm::Error::success();
  });
  EXPECT_TRUE(bool(E));
  llvm::consumeError(std::move(E));
  EXPECT_EQ(Calls, 2u);
}

TEST(Failover, RequestProbesADueDeviceWhenNoneIsUp) {
  FakeClock C;
  unsigned ProbesRun = 0;
  Failover F(
      1, onePerDevice(1, 1),
      [&](int) {
        ++ProbesRun;
        return llvm::Error::success();
      },
      C.options());
  F.fail(0, false, "out of memory");
  // Not due: the request fails at once, naming the state.
  llvm::Error E =
      F.run([](size_t, unsigned) { return llvm::Error::success(); });
  ASSERT_TRUE(bool(E));
  EXPECT_NE(llvm::toString(std::move(E)).find("device 0 down (out of memory)"),
            std::string::npos);
  C.T += 50ms;
  unsigned Runs = 0;
  ASSERT_FALSE(bool(F.run([&](size_t, unsigned) {
    ++Runs;
    return llvm::Error::success();
  })));
  EXPECT_EQ(ProbesRun, 1u);
  EXPECT_EQ(Runs, 1u);
}

TEST(Failover, LeastLoadedDeviceTakesTheRequest) {
  Failover F(2, onePerDevice(2, 2), nullptr);
  std::promise<void> Started, Release;
  std::shared_future<void> ReleaseF = Release.get_future().share();
  size_t FirstRoute = 9;
  std::thread T([&] {
    llvm::Error E = F.run([&](size_t Route, unsigned) {
      FirstRoute = Route;
      Started.set_value();
      ReleaseF.wait();
      return llvm::Error::success();
    });
    EXPECT_FALSE(bool(E));
    llvm::consumeError(std::move(E));
  });
  Started.get_future().wait();
  size_t Second = 9;
  ASSERT_FALSE(bool(F.run([&](size_t Route, unsigned) {
    Second = Route;
    return llvm::Error::success();
  })));
  Release.set_value();
  T.join();
  EXPECT_NE(FirstRoute, Second);
  EXPECT_EQ(F.states()[0].Runs + F.states()[1].Runs, 2u);
}

TEST(Failover, QueuedRequestsMoveOffADeviceThatGoesDown) {
  // One lane per device, both busy: a third request waits. Device 0's
  // request then fails (lost): the waiting request and the retry both run
  // on device 1, and nothing runs on device 0 again.
  Failover F(2, onePerDevice(2, 1), nullptr);
  std::promise<void> Busy0, Busy1, Fail0, Free1;
  auto Fail0F = Fail0.get_future().share();
  auto Free1F = Free1.get_future().share();
  std::atomic<int> OnDevice0AfterFailure{0}, Answers{0};
  std::atomic<bool> Device0Failed{false};
  auto Body = [&](size_t Route, unsigned) -> llvm::Error {
    if (Route == 0) {
      if (Device0Failed)
        ++OnDevice0AfterFailure;
      Busy0.set_value();
      Fail0F.wait();
      Device0Failed = true;
      return llvm::make_error<DeviceError>("lost", DeviceError::Severity::Lost,
                                           719, 0);
    }
    ++Answers;
    return llvm::Error::success();
  };
  std::thread A([&] { EXPECT_FALSE(bool(F.run(Body))); });
  Busy0.get_future().wait();
  std::thread B([&] {
    EXPECT_FALSE(bool(F.run([&](size_t Route, unsigned) {
      EXPECT_EQ(Route, 1u);
      Busy1.set_value();
      Free1F.wait();
      ++Answers;
      return llvm::Error::success();
    })));
  });
  Busy1.get_future().wait();
  std::thread Cq([&] { EXPECT_FALSE(bool(F.run(Body))); }); // waits
  std::this_thread::sleep_for(20ms);
  Fail0.set_value();
  std::this_thread::sleep_for(20ms);
  Free1.set_value();
  A.join();
  B.join();
  Cq.join();
  EXPECT_EQ(Answers, 3);
  EXPECT_EQ(OnDevice0AfterFailure, 0);
  EXPECT_EQ(F.health(0), DeviceHealth::Lost);
}

TEST(Failover, PipelineFallsBackToWholeModelRoutes) {
  // Route 0: a pipeline over devices 0 and 1; routes 1, 2: the whole model
  // on each, used only when the pipeline cannot run.
  std::vector<FailoverRoute> R = {{{0, 1}, 1, 0}, {{0}, 1, 1}, {{1}, 1, 1}};
  Failover F(2, R, nullptr);
  std::vector<size_t> Used;
  auto Note = [&](size_t Route, unsigned) {
    Used.push_back(Route);
    return llvm::Error::success();
  };
  ASSERT_FALSE(bool(F.run(Note)));
  F.fail(1, true, "lost");
  ASSERT_FALSE(bool(F.run(Note)));
  EXPECT_EQ(Used, (std::vector<size_t>{0, 1}));
}

TEST(Failover, ManyThreadsLoseNoRequestAndAnswerNoneTwice) {
  // Three devices, two lanes each; device 1 is lost from its 100th launch,
  // device 2 fails recoverably on 20 launches from its 50th and is probed
  // back by a background thread.
  constexpr int Threads = 8, PerThread = 400, Total = Threads * PerThread;
  FakeDevice Devs[3];
  Devs[1].FailAt = 100;
  Devs[2].FailAt = 50;
  Devs[2].Lost = false;
  Devs[2].FailFor = 20;
  FailoverOptions O;
  O.FirstProbe = 1ms;
  O.MaxProbe = 4ms;
  Failover F(
      3, onePerDevice(3, 2),
      [&](int D) -> llvm::Error { return Devs[D].launch(D); }, O);
  std::vector<std::atomic<int>> Answers(Total);
  std::vector<int64_t> Results(Total, -1);
  std::atomic<bool> LaneBusy[3][2] = {};
  std::atomic<int> Errors{0}, SharedLane{0}, Retried{0};
  std::atomic<bool> Done{false};
  std::thread Prober([&] {
    while (!Done) {
      F.probeDue();
      std::this_thread::sleep_for(500us);
    }
  });
  std::vector<std::thread> Workers;
  for (int T = 0; T < Threads; ++T)
    Workers.emplace_back([&, T] {
      for (int I = 0; I < PerThread; ++I) {
        int Id = T * PerThread + I;
        int64_t Out = -1;
        Failover::RunInfo Info;
        llvm::Error E = F.run(
            [&](size_t Route, unsigned Lane) -> llvm::Error {
              if (LaneBusy[Route][Lane].exchange(true))
                ++SharedLane;
              llvm::Error Err = Devs[Route].launch(int(Route));
              if (!Err) {
                Out = 2 * int64_t(Id);
                std::this_thread::sleep_for(20us);
              }
              LaneBusy[Route][Lane] = false;
              return Err;
            },
            &Info);
        if (E) {
          ++Errors;
          llvm::consumeError(std::move(E));
          continue;
        }
        Retried += Info.Attempts > 1;
        ++Answers[Id];
        Results[Id] = Out;
      }
    });
  for (std::thread &W : Workers)
    W.join();
  Done = true;
  Prober.join();
  EXPECT_EQ(Errors, 0);
  EXPECT_EQ(SharedLane, 0);
  EXPECT_GT(Retried, 0);
  for (int Id = 0; Id < Total; ++Id) {
    ASSERT_EQ(Answers[Id], 1) << "request " << Id;
    ASSERT_EQ(Results[Id], 2 * int64_t(Id)) << "request " << Id;
  }
  auto S = F.states();
  EXPECT_EQ(S[1].Health, DeviceHealth::Lost);
  EXPECT_EQ(S[0].Health, DeviceHealth::Up);
  EXPECT_GT(S[2].Probes, 0u);
  EXPECT_EQ(S[0].Runs + S[1].Runs + S[2].Runs, uint64_t(Total));
  // Device 2 came back and served again after its failures.
  EXPECT_GT(Devs[2].Launches.load(), 70u);
}

} // namespace
} // namespace kiln
