//===- Failover.cpp - spreading requests over devices that may fail -------===//
#include "runtime/Failover.h"
#include "runtime/DeviceError.h"

#include "ir/Error.h"

#include <algorithm>
#include <cassert>

namespace kiln {

const char *deviceHealthName(DeviceHealth H) {
  switch (H) {
  case DeviceHealth::Up: return "up";
  case DeviceHealth::Down: return "down";
  case DeviceHealth::Lost: return "lost";
  }
  return "?";
}

Failover::Failover(unsigned Devices, std::vector<FailoverRoute> Rs, Probe P,
                   FailoverOptions O)
    : Devs(Devices), ProbeFn(std::move(P)), Opts(std::move(O)) {
  for (FailoverRoute &R : Rs) {
    assert(R.Lanes > 0 && !R.Devices.empty());
    Routes.push_back({std::move(R), {}});
    Routes.back().LaneBusy.assign(Routes.back().R.Lanes, false);
  }
}

bool Failover::usable(const Route &R) const {
  return llvm::all_of(R.R.Devices,
                      [&](int D) { return Devs[D].H == DeviceHealth::Up; });
}

long Failover::freeLane(const Route &R) const {
  for (size_t L = 0; L < R.LaneBusy.size(); ++L)
    if (!R.LaneBusy[L])
      return long(L);
  return -1;
}

void Failover::begin(const Route &R) {
  for (int D : R.R.Devices)
    if (Devs[D].InFlight++ == 0)
      Devs[D].BusySince = Opts.Now();
}

void Failover::end(const Route &R) {
  for (int D : R.R.Devices)
    if (--Devs[D].InFlight == 0)
      Devs[D].BusySeconds +=
          std::chrono::duration<double>(Opts.Now() - Devs[D].BusySince).count();
}

void Failover::failLocked(int Device, bool Lost, const std::string &Why) {
  Dev &D = Devs[Device];
  ++D.Failures;
  D.LastError = Why;
  if (D.H == DeviceHealth::Lost)
    return;
  if (Lost) {
    D.H = DeviceHealth::Lost;
  } else if (D.H == DeviceHealth::Up) {
    // A device that just fell is probed soon; the wait grows only with
    // failed probes (probeUnlocked), so one bad request costs little.
    D.H = DeviceHealth::Down;
    D.Backoff = Opts.FirstProbe;
    D.NextProbe = Opts.Now() + D.Backoff;
  }
  Changed.notify_all();
}

void Failover::fail(int Device, bool Lost, const std::string &Why) {
  std::lock_guard<std::mutex> Lock(M);
  failLocked(Device, Lost, Why);
}

bool Failover::probeUnlocked(std::unique_lock<std::mutex> &Lock, int Device) {
  Dev &D = Devs[Device];
  D.Probing = true;
  ++D.Probes;
  Lock.unlock();
  llvm::Error E = ProbeFn ? ProbeFn(Device) : llvm::Error::success();
  bool Lost = false;
  std::string Why;
  if (E) {
    llvm::handleAllErrors(std::move(E), [&](const llvm::ErrorInfoBase &Info) {
      if (Info.isA<DeviceError>())
        Lost = static_cast<const DeviceError &>(Info).severity() ==
               DeviceError::Severity::Lost;
      Why = Info.message();
    });
    if (Why.empty())
      Why = "probe failed";
  }
  Lock.lock();
  D.Probing = false;
  if (Why.empty()) {
    if (D.H == DeviceHealth::Down)
      D.H = DeviceHealth::Up;
  } else {
    ++D.Failures;
    D.LastError = "probe: " + Why;
    if (Lost) {
      D.H = DeviceHealth::Lost;
    } else if (D.H != DeviceHealth::Lost) {
      D.H = DeviceHealth::Down;
      D.Backoff = std::min(D.Backoff * 2, Opts.MaxProbe);
      D.NextProbe = Opts.Now() + D.Backoff;
    }
  }
  Changed.notify_all();
  return D.H == DeviceHealth::Up;
}

unsigned Failover::probeDue() {
  std::unique_lock<std::mutex> Lock(M);
  unsigned Back = 0;
  for (size_t I = 0; I < Devs.size(); ++I)
    if (Devs[I].H == DeviceHealth::Down && !Devs[I].Probing &&
        Devs[I].NextProbe <= Opts.Now())
      Back += probeUnlocked(Lock, int(I));
  return Back;
}

Failover::Clock::time_point Failover::nextProbe() const {
  std::lock_guard<std::mutex> Lock(M);
  Clock::time_point T = Clock::time_point::max();
  for (const Dev &D : Devs)
    if (D.H == DeviceHealth::Down)
      T = std::min(T, D.NextProbe);
  return T;
}

std::string Failover::noDeviceLeft(const std::string &Attempts) const {
  std::string S = "no device left to run the request:";
  for (size_t I = 0; I < Devs.size(); ++I) {
    S += " device " + std::to_string(I) + " " + deviceHealthName(Devs[I].H);
    if (!Devs[I].LastError.empty())
      S += " (" + Devs[I].LastError + ")";
    S += I + 1 < Devs.size() ? ";" : "";
  }
  if (Devs.empty())
    S += " the engine has no devices";
  if (!Attempts.empty())
    S += "; this request's attempts:" + Attempts;
  return S;
}

llvm::Error Failover::run(Attempt A, RunInfo *Info) {
  std::vector<unsigned> Tries(Routes.size(), 0);
  std::vector<bool> ProbedHere(Devs.size(), false);
  std::string Attempts;
  unsigned Count = 0;
  std::unique_lock<std::mutex> Lock(M);
  while (true) {
    // The best usable route with a free lane: lowest tier, then the least
    // work in flight on its devices.
    long Best = -1, BestLane = -1;
    bool AnyUsable = false;
    for (size_t I = 0; I < Routes.size(); ++I) {
      const Route &R = Routes[I];
      if (Tries[I] >= Opts.AttemptsPerRoute || !usable(R))
        continue;
      AnyUsable = true;
      long Lane = freeLane(R);
      if (Lane < 0)
        continue;
      // Ties go to the route that has run least, so requests one after
      // another still take turns.
      auto Load = [&](const Route &X) {
        std::pair<unsigned, uint64_t> L{0, 0};
        for (int D : X.R.Devices) {
          L.first += Devs[D].InFlight;
          L.second += Devs[D].Runs;
        }
        return L;
      };
      if (Best < 0 || R.R.Tier < Routes[Best].R.Tier ||
          (R.R.Tier == Routes[Best].R.Tier && Load(R) < Load(Routes[Best]))) {
        Best = long(I);
        BestLane = Lane;
      }
    }
    if (Best < 0) {
      if (AnyUsable) {
        // Every usable lane is busy: wait for one, or for a device to go
        // down (then this request chooses again among the survivors).
        Changed.wait(Lock);
        continue;
      }
      // No usable route: a Down device whose probe is due is probed here
      // (once per request); one being probed elsewhere is waited for.
      bool Waiting = false;
      long ToProbe = -1;
      for (size_t I = 0; I < Routes.size(); ++I) {
        if (Tries[I] >= Opts.AttemptsPerRoute)
          continue;
        for (int D : Routes[I].R.Devices) {
          const Dev &X = Devs[D];
          if (X.H != DeviceHealth::Down)
            continue;
          if (X.Probing)
            Waiting = true;
          else if (!ProbedHere[D] && X.NextProbe <= Opts.Now())
            ToProbe = D;
        }
      }
      if (ToProbe >= 0) {
        ProbedHere[ToProbe] = true;
        probeUnlocked(Lock, int(ToProbe));
        continue;
      }
      if (Waiting) {
        Changed.wait(Lock);
        continue;
      }
      return makeError(noDeviceLeft(Attempts));
    }

    Route &R = Routes[Best];
    R.LaneBusy[BestLane] = true;
    begin(R);
    ++Tries[Best];
    ++Count;
    Lock.unlock();
    llvm::Error E = A(size_t(Best), unsigned(BestLane));
    Lock.lock();
    R.LaneBusy[BestLane] = false;
    end(R);
    Changed.notify_all();
    if (!E) {
      for (int D : R.R.Devices)
        ++Devs[D].Runs;
      if (Info)
        *Info = {size_t(Best), unsigned(BestLane), Count};
      return llvm::Error::success();
    }
    // A device's failure marks it and the request goes on; anything else
    // is the request's own answer.
    llvm::Error Own = llvm::handleErrors(
        std::move(E), [&](std::unique_ptr<DeviceError> D) -> llvm::Error {
          bool Lost = D->severity() == DeviceError::Severity::Lost;
          std::string Why = D->message();
          std::vector<int> Which =
              D->device() >= 0 && size_t(D->device()) < Devs.size()
                  ? std::vector<int>{D->device()}
                  : R.R.Devices;
          for (int Dev : Which)
            failLocked(Dev, Lost, Why);
          Attempts += " [" + std::to_string(Count) + "] " + Why;
          return llvm::Error::success();
        });
    if (Own) {
      if (Info)
        *Info = {size_t(Best), unsigned(BestLane), Count};
      return Own;
    }
  }
}

std::vector<DeviceState> Failover::states() const {
  std::lock_guard<std::mutex> Lock(M);
  std::vector<DeviceState> Out;
  auto Now = Opts.Now();
  for (size_t I = 0; I < Devs.size(); ++I) {
    const Dev &D = Devs[I];
    DeviceState S;
    S.Logical = int(I);
    S.Health = D.H;
    S.LastError = D.LastError;
    S.Runs = D.Runs;
    S.Failures = D.Failures;
    S.Probes = D.Probes;
    S.InFlight = D.InFlight;
    S.BusySeconds = D.BusySeconds;
    if (D.InFlight)
      S.BusySeconds += std::chrono::duration<double>(Now - D.BusySince).count();
    Out.push_back(S);
  }
  return Out;
}

DeviceHealth Failover::health(int Device) const {
  std::lock_guard<std::mutex> Lock(M);
  return Devs[Device].H;
}

FailoverProber::FailoverProber(Failover &F) : F(F) {
  T = std::thread([this] { loop(); });
}

FailoverProber::~FailoverProber() {
  {
    std::lock_guard<std::mutex> Lock(M);
    Stopping = true;
  }
  Cv.notify_all();
  T.join();
}

void FailoverProber::loop() {
  std::unique_lock<std::mutex> Lock(M);
  while (!Stopping) {
    auto Next = std::min(F.nextProbe(), FailoverOptions::Clock::now() +
                                            std::chrono::milliseconds(50));
    Cv.wait_until(Lock, Next, [&] { return Stopping; });
    if (Stopping)
      break;
    Lock.unlock();
    F.probeDue();
    Lock.lock();
  }
}

} // namespace kiln
