//===- Server.h - the `kiln serve` HTTP service -----------------*- C++ -*-===//
//
// An HTTP/1.1 server (cpp-httplib, keep-alive) speaking TEI's and OpenAI's
// embedding APIs over a Backend: HTTP threads parse and answer, a small
// pool tokenizes, the Batcher batches onto the devices. /health, /info and
// /metrics say how it is doing. SIGTERM or SIGINT stops accepting, answers
// what is in flight and returns 0. docs/serve.md describes the service.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_SERVER_H
#define KILN_SERVE_SERVER_H

#include "serve/Backend.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::serve {

struct ServerOptions {
  std::string Host = "127.0.0.1";
  /// 0 picks a free port (printed in the `listening on` line).
  int Port = 8080;
  size_t MaxConcurrentRequests = 512;
  size_t MaxBatchTokens = 16384;
  size_t MaxClientBatchSize = 32;
  uint64_t MaxBatchDelayUs = 0;
  size_t PayloadLimit = 2000000;
  bool AutoTruncate = true;
  /// Empty: the backend's model name.
  std::string ServedModelName;
  /// Threads that tokenize; 0 picks half the cores, 2 to 16 (tokenizing
  /// is most of the host's work per request).
  size_t TokenizationWorkers = 0;
  /// Workers per device (devices x this in all, each taking any batch):
  /// 2 overlaps one batch's host work with another's device time.
  size_t WorkersPerDevice = 2;
};

/// Serves until SIGTERM or SIGINT; prints `listening on http://HOST:PORT`
/// on stdout once the socket is bound. Returns the exit status (0 after a
/// signal, 1 when the address cannot be bound).
int runServer(Backend &B, const ServerOptions &Options);

/// Blocks SIGTERM and SIGINT in the calling thread, so that every thread
/// made after it (the CUDA runtime's, the backend's, the server's) leaves
/// them to runServer's waiter. Call it before the backend is made: a signal
/// that reaches a thread that does not block it ends the process instead of
/// draining it.
void blockStopSignals();

} // namespace kiln::serve

#endif
