//===- Server.cpp - the `kiln serve` HTTP service -------------------------===//
//
// Request flow: an HTTP thread parses and validates the body (Protocol),
// hands the inputs to the tokenization pool and waits for the Job; the pool
// tokenizes, checks lengths and submits the Job to the Batcher; the device
// workers fill in the embeddings. While it waits, the HTTP thread checks
// every few milliseconds whether the client is still there and cancels the
// Job when it is not, so its inputs are dropped before they reach a batch.
//
// Signals: SIGTERM and SIGINT are blocked in every thread and taken by one
// thread with sigwait, which stops the HTTP server; httplib then closes the
// listening socket, lets the requests being handled finish, and returns
// from listen once its threads are done, after which the batcher stops.
// httplib would serve a busy keep-alive connection for ever, so from the
// signal on every answer says `Connection: close`.
//
//===----------------------------------------------------------------------===//
#include "serve/Server.h"

#include "serve/Batcher.h"
#include "serve/Metrics.h"
#include "serve/Protocol.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <functional>
#include <pthread.h>

namespace kiln::serve {
namespace {

/// A fixed set of threads running queued tasks in order.
class TaskPool {
public:
  explicit TaskPool(size_t N) {
    for (size_t I = 0; I < N; ++I)
      Threads.emplace_back([this] { loop(); });
  }
  ~TaskPool() {
    {
      std::lock_guard<std::mutex> L(M);
      Stopping = true;
    }
    CV.notify_all();
    for (std::thread &T : Threads)
      T.join();
  }
  void post(std::function<void()> F) {
    {
      std::lock_guard<std::mutex> L(M);
      Tasks.push_back(std::move(F));
    }
    CV.notify_one();
  }

private:
  void loop() {
    std::unique_lock<std::mutex> L(M);
    while (true) {
      CV.wait(L, [&] { return Stopping || !Tasks.empty(); });
      if (Tasks.empty())
        return;
      std::function<void()> F = std::move(Tasks.front());
      Tasks.pop_front();
      L.unlock();
      F();
      L.lock();
    }
  }
  std::mutex M;
  std::condition_variable CV;
  std::deque<std::function<void()>> Tasks;
  std::vector<std::thread> Threads;
  bool Stopping = false;
};

double secondsSince(Clock::time_point T) {
  return std::chrono::duration<double>(Clock::now() - T).count();
}

class Service {
public:
  Service(Backend &Back, const ServerOptions &Opts)
      : B(Back), O(Opts), Bt(Back, M,
                             {Opts.MaxBatchTokens,
                              std::chrono::microseconds(Opts.MaxBatchDelayUs),
                              Opts.WorkersPerDevice}),
        Pool(Opts.TokenizationWorkers
                 ? Opts.TokenizationWorkers
                 : std::clamp<size_t>(std::thread::hardware_concurrency() / 2,
                                      2, 16)),
        Model(Opts.ServedModelName.empty() ? Back.modelName()
                                           : Opts.ServedModelName) {
    Limits = {O.MaxClientBatchSize, B.dimension(), B.vocabSize()};
  }

  void routes(httplib::Server &Svr);
  void stopBatcher() { Bt.stop(); }
  /// From now on every answer carries `Connection: close`, so that
  /// keep-alive clients let go and httplib's threads can finish.
  std::atomic<bool> Draining{false};

private:
  bool anyUp() const {
    for (const DeviceState &D : B.devices())
      if (D.Up)
        return true;
    return false;
  }
  void reply(httplib::Response &Res, bool OpenAI, const ApiError &E) {
    M.failure(errorType(E.Kind));
    Res.status = httpStatus(E.Kind);
    Res.set_content(OpenAI ? openAIError(E) : teiError(E), "application/json");
  }
  void embed(const httplib::Request &Req, httplib::Response &Res, bool OpenAI);
  std::shared_ptr<Job> start(std::shared_ptr<EmbedRequest> R);
  std::string info() const;

  Backend &B;
  ServerOptions O;
  Metrics M;
  Batcher Bt;
  TaskPool Pool;
  std::string Model;
  RequestLimits Limits;
  std::atomic<size_t> InFlight{0};
};

/// Tokenizes on the pool and queues the job; failures complete it.
std::shared_ptr<Job> Service::start(std::shared_ptr<EmbedRequest> R) {
  auto J = std::make_shared<Job>(std::vector<Tokens>(R->size()));
  bool Truncate = R->Truncate.value_or(O.AutoTruncate);
  Pool.post([this, R, J, Truncate] {
    Clock::time_point T0 = Clock::now();
    size_t Max = B.maxInputLength();
    for (size_t I = 0; I < R->size(); ++I) {
      if (J->Cancelled)
        return;
      Tokens &T = J->Inputs[I];
      if (R->IdsGiven) {
        T.Ids = std::move(R->Ids[I]);
        if (Truncate && T.Ids.size() > Max) {
          if (R->Direction == Side::Left)
            T.Ids.erase(T.Ids.begin(), T.Ids.end() - long(Max));
          else
            T.Ids.resize(Max);
        }
        T.TypeIds.assign(T.Ids.size(), 0);
      } else if (auto F = B.tokenize(R->Texts[I], Truncate, R->Direction, T)) {
        J->fail({ErrorKind::Validation,
                 "input " + std::to_string(I) + ": " + F->Message});
        return;
      }
      if (T.Ids.size() > Max) {
        J->fail({ErrorKind::Validation,
                 "input " + std::to_string(I) + " must have at most " +
                     std::to_string(Max) + " tokens, given " +
                     std::to_string(T.Ids.size()) +
                     " (send \"truncate\": true to cut it)"});
        return;
      }
    }
    M.TokenizationDuration.observe(secondsSince(T0));
    Bt.submit(J);
  });
  return J;
}

void Service::embed(const httplib::Request &Req, httplib::Response &Res,
                    bool OpenAI) {
  Clock::time_point T0 = Clock::now();
  ++M.Requests;
  if (InFlight.fetch_add(1) >= O.MaxConcurrentRequests) {
    --InFlight;
    return reply(
        Res, OpenAI,
        {ErrorKind::Overloaded, "model is overloaded: more than " +
                                    std::to_string(O.MaxConcurrentRequests) +
                                    " requests in flight"});
  }
  struct Leave {
    std::atomic<size_t> &N;
    ~Leave() { --N; }
  } Guard{InFlight};
  if (!anyUp())
    return reply(Res, OpenAI, {ErrorKind::Unhealthy, "no device is up"});
  auto R = std::make_shared<EmbedRequest>();
  if (auto E =
          OpenAI ? parseOpenAIEmbed(Req.body, *R) : parseTeiEmbed(Req.body, *R))
    return reply(Res, OpenAI, *E);
  if (auto E = validateRequest(*R, Limits))
    return reply(Res, OpenAI, *E);

  std::shared_ptr<Job> J = start(R);
  while (!J->wait(std::chrono::milliseconds(5))) {
    if (Req.is_connection_closed()) {
      J->Cancelled = true;
      J->fail({ErrorKind::Validation, "the client went away"});
      M.failure("cancelled");
      return;
    }
  }
  if (J->error())
    return reply(Res, OpenAI, *J->error());
  size_t Tokens = 0;
  for (size_t I = 0; I < J->Outputs.size(); ++I) {
    Tokens += J->Inputs[I].Ids.size();
    finishEmbedding(J->Outputs[I], R->Dimensions, R->Normalize);
  }
  Res.set_content(OpenAI
                      ? openAIEmbeddings(J->Outputs, Model, Tokens, R->Base64)
                      : teiEmbeddings(J->Outputs),
                  "application/json");
  ++M.Successes;
  M.RequestDuration.observe(secondsSince(T0));
}

std::string Service::info() const {
  nlohmann::json Devices = nlohmann::json::array();
  for (const DeviceState &D : B.devices())
    Devices.push_back({{"name", D.Name},
                       {"up", D.Up},
                       {"health", D.Health},
                       {"last_error", D.LastError},
                       {"runs", D.Runs},
                       {"failures", D.Failures}});
  nlohmann::json J = {{"model_id", Model},
                      {"model_dtype", B.dtype()},
                      {"model_type", {{"embedding", {{"pooling", "model"}}}}},
                      {"dimension", B.dimension()},
                      {"max_input_length", B.maxInputLength()},
                      {"max_batch_tokens", O.MaxBatchTokens},
                      {"max_client_batch_size", O.MaxClientBatchSize},
                      {"max_concurrent_requests", O.MaxConcurrentRequests},
                      {"max_batch_delay_us", O.MaxBatchDelayUs},
                      {"auto_truncate", O.AutoTruncate},
                      {"devices", Devices},
                      {"version", "kiln 0.1"}};
  return J.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Service::routes(httplib::Server &Svr) {
  Svr.Post("/embed", [this](const httplib::Request &Q, httplib::Response &S) {
    embed(Q, S, false);
  });
  for (const char *Path : {"/v1/embeddings", "/embeddings"})
    Svr.Post(Path, [this](const httplib::Request &Q, httplib::Response &S) {
      embed(Q, S, true);
    });
  Svr.Get("/health", [this](const httplib::Request &, httplib::Response &S) {
    if (anyUp())
      return S.set_content("", "text/plain");
    S.status = 503;
    S.set_content(teiError({ErrorKind::Unhealthy, "no device is up"}),
                  "application/json");
  });
  Svr.Get("/info", [this](const httplib::Request &, httplib::Response &S) {
    S.set_content(info(), "application/json");
  });
  Svr.Get("/metrics", [this](const httplib::Request &, httplib::Response &S) {
    S.set_content(M.render(B.devices()), "text/plain; version=0.0.4");
  });
  Svr.set_post_routing_handler(
      [this](const httplib::Request &, httplib::Response &S) {
        if (Draining)
          S.set_header("Connection", "close");
      });
  // httplib's own refusals (body over the limit, bad HTTP, unknown path)
  // come without a body: give them a JSON error in the API's shape.
  Svr.set_error_handler([this](const httplib::Request &Q,
                               httplib::Response &S) {
    if (!S.body.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    bool OpenAI = Q.path.find("embeddings") != std::string::npos;
    ApiError E{ErrorKind::Validation, "bad request"};
    if (S.status == 413) {
      ++M.Requests;
      E = {ErrorKind::PayloadTooLarge,
           "the body is larger than the payload limit (" +
               std::to_string(O.PayloadLimit) + " bytes)"};
      M.failure(errorType(E.Kind));
    } else if (S.status == 404) {
      E = {ErrorKind::NotFound, "no such endpoint: " + Q.method + " " + Q.path};
    } else if (S.status == 405) {
      E.Message = "method not allowed";
    } else {
      E.Message = "malformed HTTP request";
    }
    S.set_content(OpenAI ? openAIError(E) : teiError(E), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
}

} // namespace

namespace {
sigset_t stopSignals() {
  sigset_t Signals;
  sigemptyset(&Signals);
  sigaddset(&Signals, SIGTERM);
  sigaddset(&Signals, SIGINT);
  return Signals;
}
} // namespace

void blockStopSignals() {
  sigset_t Signals = stopSignals();
  pthread_sigmask(SIG_BLOCK, &Signals, nullptr);
}

int runServer(Backend &B, const ServerOptions &Options) {
  // Every thread made from here on inherits the mask, so only the waiter
  // below sees these signals (kiln serve blocks them before it loads the
  // model, whose threads must not see them either).
  blockStopSignals();
  sigset_t Signals = stopSignals();
  std::signal(SIGPIPE, SIG_IGN);

  httplib::Server Svr;
  size_t Threads =
      std::clamp<size_t>(Options.MaxConcurrentRequests + 16, 32, 1024);
  Svr.new_task_queue = [Threads] { return new httplib::ThreadPool(Threads); };
  Svr.set_payload_max_length(Options.PayloadLimit);
  Svr.set_keep_alive_max_count(1000000);
  Svr.set_keep_alive_timeout(60);
  Svr.set_tcp_nodelay(true);

  auto S = std::make_unique<Service>(B, Options);
  S->routes(Svr);

  int Port =
      Options.Port == 0
          ? Svr.bind_to_any_port(Options.Host)
          : (Svr.bind_to_port(Options.Host, Options.Port) ? Options.Port : -1);
  if (Port < 0) {
    std::fprintf(stderr, "error: cannot listen on %s:%d\n",
                 Options.Host.c_str(), Options.Port);
    return 1;
  }
  std::atomic<bool> Done{false};
  std::thread Waiter([&] {
    int Sig = 0;
    sigwait(&Signals, &Sig);
    if (Done)
      return;
    std::fprintf(stderr, "kiln serve: %s, finishing the requests in flight\n",
                 Sig == SIGINT ? "SIGINT" : "SIGTERM");
    S->Draining = true;
    // listen() may not have started yet: stop() only acts once it has.
    while (!Svr.is_running() && !Done)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Svr.stop();
  });
  std::printf("listening on http://%s:%d\n", Options.Host.c_str(), Port);
  std::fflush(stdout);
  bool Ok = Svr.listen_after_bind();
  Done = true;
  pthread_kill(Waiter.native_handle(), SIGTERM);
  Waiter.join();
  S->stopBatcher();
  S.reset();
  std::fprintf(stderr, "kiln serve: stopped\n");
  (void)Ok; // false also after stop(): a signal is a clean exit
  return 0;
}

} // namespace kiln::serve
