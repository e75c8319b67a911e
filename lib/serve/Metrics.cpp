//===- Metrics.cpp - the service's counters, in Prometheus text -----------===//
#include "serve/Metrics.h"

#include <cstdio>

namespace kiln::serve {

static std::string number(double V) {
  char Buf[32];
  std::snprintf(Buf, sizeof(Buf), "%.9g", V);
  return Buf;
}

Histogram::Histogram(std::vector<double> B)
    : Bounds(std::move(B)), Counts(Bounds.size() + 1, 0) {}

void Histogram::observe(double V) {
  size_t I = 0;
  while (I < Bounds.size() && V > Bounds[I])
    ++I;
  std::lock_guard<std::mutex> L(M);
  ++Counts[I];
  Sum += V;
  ++Count;
}

void Histogram::render(std::string &Out, const std::string &Name,
                       const std::string &Help) const {
  std::lock_guard<std::mutex> L(M);
  Out += "# HELP " + Name + " " + Help + "\n# TYPE " + Name + " histogram\n";
  uint64_t Cumulative = 0;
  for (size_t I = 0; I < Bounds.size(); ++I) {
    Cumulative += Counts[I];
    Out += Name + "_bucket{le=\"" + number(Bounds[I]) + "\"} " +
           std::to_string(Cumulative) + "\n";
  }
  Out += Name + "_bucket{le=\"+Inf\"} " + std::to_string(Count) + "\n";
  Out += Name + "_sum " + number(Sum) + "\n";
  Out += Name + "_count " + std::to_string(Count) + "\n";
}

static std::vector<double> seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

static std::vector<double> powersOfTwo(double Max) {
  std::vector<double> B;
  for (double V = 1; V <= Max; V *= 2)
    B.push_back(V);
  return B;
}

Metrics::Metrics()
    : RequestDuration(seconds()), TokenizationDuration(seconds()),
      QueueDuration(seconds()), InferenceDuration(seconds()),
      BatchSize(powersOfTwo(1024)), BatchTokens(powersOfTwo(65536)) {}

void Metrics::failure(const std::string &Reason) {
  std::lock_guard<std::mutex> L(M);
  ++Failures[Reason];
}

static void counter(std::string &Out, const std::string &Name,
                    const std::string &Help, uint64_t V) {
  Out += "# HELP " + Name + " " + Help + "\n# TYPE " + Name + " counter\n" +
         Name + " " + std::to_string(V) + "\n";
}

std::string Metrics::render(const std::vector<DeviceState> &Devices) const {
  std::string Out;
  counter(Out, "kiln_requests_total", "Embedding requests received.",
          Requests.load());
  counter(Out, "kiln_request_success_total",
          "Embedding requests answered with embeddings.", Successes.load());
  Out += "# HELP kiln_request_failure_total Embedding requests that failed, "
         "by reason (the TEI error_type).\n"
         "# TYPE kiln_request_failure_total counter\n";
  {
    std::lock_guard<std::mutex> L(M);
    for (const char *R : {"empty", "validation", "payload_too_large",
                          "overloaded", "unhealthy", "backend", "cancelled"})
      Out += std::string("kiln_request_failure_total{err=\"") + R + "\"} " +
             std::to_string(Failures.count(R) ? Failures.at(R) : 0) + "\n";
  }
  RequestDuration.render(Out, "kiln_request_duration_seconds",
                         "Time from receiving a request to its answer.");
  TokenizationDuration.render(Out, "kiln_request_tokenization_duration_seconds",
                              "Time spent tokenizing a request's inputs.");
  QueueDuration.render(Out, "kiln_request_queue_duration_seconds",
                       "Time an input waited for its batch.");
  InferenceDuration.render(Out, "kiln_request_inference_duration_seconds",
                           "Time a batch took on its device.");
  BatchSize.render(Out, "kiln_batch_size", "Inputs in each batch run.");
  BatchTokens.render(Out, "kiln_batch_tokens",
                     "Tokens (padding included) in each batch run.");
  Out += "# HELP kiln_queue_size Inputs waiting for a batch.\n"
         "# TYPE kiln_queue_size gauge\nkiln_queue_size " +
         std::to_string(QueueSize.load()) + "\n";
  Out += "# HELP kiln_device_up 1 when the device takes batches, 0 when it "
         "is down.\n# TYPE kiln_device_up gauge\n";
  for (const DeviceState &D : Devices)
    Out += "kiln_device_up{device=\"" + D.Name + "\"} " + (D.Up ? "1" : "0") +
           "\n";
  Out += "# HELP kiln_device_failures_total Batches and probes that failed on "
         "the device.\n# TYPE kiln_device_failures_total counter\n";
  for (const DeviceState &D : Devices)
    Out += "kiln_device_failures_total{device=\"" + D.Name + "\"} " +
           std::to_string(D.Failures) + "\n";
  Out += "# HELP kiln_device_runs_total Batches the device answered.\n"
         "# TYPE kiln_device_runs_total counter\n";
  for (const DeviceState &D : Devices)
    Out += "kiln_device_runs_total{device=\"" + D.Name + "\"} " +
           std::to_string(D.Runs) + "\n";
  return Out;
}

} // namespace kiln::serve
