//===- Failover.h - spreading requests over devices that may fail -*- C++ -*-===//
//
// The part of a multi-device engine (docs/multi-gpu.md) that decides where
// each attempt of a request runs and what a failure does to a device. It
// knows no CUDA: a request is a callback run on a "lane" of a "route", and
// a failure is a DeviceError naming the logical device, so the unit tests
// drive it with a fake device layer.
//
//   device  a logical device: Up, Down (a recoverable error; probed again
//           with backoff) or Lost (never used again by this process);
//   route   a way to run the whole request (the whole model on one device,
//           or a pipeline over several), usable while all its devices are
//           Up; `Tier` orders them (a pipeline first, its whole-model
//           fallbacks after);
//   lane    one executor of a route: one request at a time.
//
// run() takes a free lane of the best usable route (lowest tier, then the
// least in-flight work on its devices, then the fewest runs), waiting while every usable lane is
// busy; a DeviceError marks its device and the request is tried again
// elsewhere; any other error is the request's own and comes back as is. A
// request waiting for a lane re-chooses when a device goes down, so queued
// work moves to the survivors. Each request returns exactly once: with its
// answer, its own error, or an error naming every device's state when no
// device is left to try.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_FAILOVER_H
#define KILN_RUNTIME_FAILOVER_H

#include "kiln/Engine.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kiln {

struct FailoverRoute {
  std::vector<int> Devices; // logical devices
  unsigned Lanes = 1;
  unsigned Tier = 0;
};

struct FailoverOptions {
  using Clock = std::chrono::steady_clock;
  /// A device that went down is probed after FirstProbe; each failed probe
  /// doubles the wait, up to MaxProbe.
  std::chrono::milliseconds FirstProbe{50};
  std::chrono::milliseconds MaxProbe{5000};
  /// Attempts of one request on one route before that route is skipped
  /// for it (a device failing recoverably again and again).
  unsigned AttemptsPerRoute = 2;
  /// The clock (tests pass a fake one).
  std::function<Clock::time_point()> Now = [] { return Clock::now(); };
};

class Failover {
public:
  using Clock = FailoverOptions::Clock;
  /// Runs the request on lane `Lane` of route `Route`.
  using Attempt = llvm::function_ref<llvm::Error(size_t Route, unsigned Lane)>;
  /// Checks that logical device `Device` works again (a small run on it).
  using Probe = std::function<llvm::Error(int Device)>;

  Failover(unsigned Devices, std::vector<FailoverRoute> Routes, Probe P,
           FailoverOptions O = {});

  struct RunInfo {
    size_t Route = 0;  // the route that answered
    unsigned Lane = 0; // its lane
    unsigned Attempts = 0;
  };
  /// Runs one request (see the file comment); thread-safe.
  llvm::Error run(Attempt A, RunInfo *Info = nullptr);

  /// Probes every Down device whose probe is due (in this thread); returns
  /// how many came back Up.
  unsigned probeDue();
  /// When the next probe is due; max() when no device is Down.
  Clock::time_point nextProbe() const;

  /// Each device's state (Logical/Physical left to the caller).
  std::vector<DeviceState> states() const;
  DeviceHealth health(int Device) const;
  /// Marks `Device` down (Recoverable) or lost, as a failed attempt would.
  void fail(int Device, bool Lost, const std::string &Why);

private:
  struct Dev {
    DeviceHealth H = DeviceHealth::Up;
    std::string LastError;
    uint64_t Runs = 0, Failures = 0, Probes = 0;
    unsigned InFlight = 0;
    bool Probing = false;
    std::chrono::milliseconds Backoff{0};
    Clock::time_point NextProbe{};
    double BusySeconds = 0;
    Clock::time_point BusySince{};
  };
  struct Route {
    FailoverRoute R;
    std::vector<bool> LaneBusy;
  };

  bool usable(const Route &R) const;
  long freeLane(const Route &R) const;
  void failLocked(int Device, bool Lost, const std::string &Why);
  void begin(const Route &R);
  void end(const Route &R);
  /// Runs the probe of `Device` (marked Probing) with the lock released.
  bool probeUnlocked(std::unique_lock<std::mutex> &Lock, int Device);
  std::string noDeviceLeft(const std::string &Attempts) const;

  mutable std::mutex M;
  std::condition_variable Changed;
  std::vector<Dev> Devs;
  std::vector<Route> Routes;
  Probe ProbeFn;
  FailoverOptions Opts;
};

/// Probes a Failover's Down devices from a thread of its own, each when its
/// backoff says (and at least every 50 ms, to see devices that went down
/// since), until destroyed: how a device that failed recoverably comes
/// back while the others carry the load. The engine's device group and the
/// CPU logical devices of a TextModel share it.
class FailoverProber {
public:
  explicit FailoverProber(Failover &F);
  ~FailoverProber();
  FailoverProber(const FailoverProber &) = delete;
  FailoverProber &operator=(const FailoverProber &) = delete;

private:
  void loop();

  Failover &F;
  std::mutex M;
  std::condition_variable Cv;
  bool Stopping = false;
  std::thread T;
};

} // namespace kiln

#endif
