//===- Metrics.h - the service's counters, in Prometheus text ----*- C++ -*-===//
//
// What `GET /metrics` reports, modelled on TEI's `te_*` metrics with a
// `kiln_` prefix. The exposition format (text 0.0.4) is a few lines of
// `name{labels} value`, so it is written here rather than pulled in with
// prometheus-cpp, whose Debian build is shared-only (the binary must run on
// machines without it). docs/serve.md lists every metric.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_METRICS_H
#define KILN_SERVE_METRICS_H

#include "serve/Backend.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::serve {

/// A Prometheus histogram with fixed upper bounds.
class Histogram {
public:
  explicit Histogram(std::vector<double> Bounds);
  void observe(double V);
  /// Appends `# TYPE` and the _bucket/_sum/_count lines.
  void render(std::string &Out, const std::string &Name,
              const std::string &Help) const;

private:
  std::vector<double> Bounds;
  mutable std::mutex M;
  std::vector<uint64_t> Counts; // per bound, plus +Inf
  double Sum = 0;
  uint64_t Count = 0;
};

class Metrics {
public:
  Metrics();
  std::atomic<uint64_t> Requests{0}, Successes{0};
  /// Inputs waiting for a batch.
  std::atomic<int64_t> QueueSize{0};
  /// Seconds.
  Histogram RequestDuration, TokenizationDuration, QueueDuration,
      InferenceDuration;
  Histogram BatchSize, BatchTokens;

  /// Counts a failed request under \p Reason (an error_type).
  void failure(const std::string &Reason);
  std::string render(const std::vector<DeviceState> &Devices) const;

private:
  mutable std::mutex M;
  std::map<std::string, uint64_t> Failures;
};

} // namespace kiln::serve

#endif
