//===- main.cpp - kiln-serve-bench: load and host cost of kiln serve ------===//
//
//   kiln-serve-bench fake TOKENIZER [--dim 384] [--max-length 128]
//                    [--tokenization-workers N] [LOAD OPTIONS]
//   kiln-serve-bench load URL [--server-pid PID] [LOAD OPTIONS]
//
// LOAD OPTIONS: [--connections 1,64] [--requests N | --duration S]
//               [--batch K] [--api tei|openai] [--min-tokens 8]
//               [--max-tokens 128] [--seed 1]
//
// `load` drives a running server; `fake` first starts kiln's HTTP server
// (lib/serve, the code kiln serve runs) in a child process over a backend
// that tokenizes with TOKENIZER but computes no model (TokenizeOnlyBackend),
// so that what it measures is the server's own cost per request. For each
// number of connections it keeps that many keep-alive connections busy
// (each sends its next request when the last is answered, as wrk and oha
// do) and prints requests/s, sentences/s, errors, latency p50/p95/p99/max,
// and, with a server pid (always in `fake`), the CPU time the server spent
// per request and per sentence and its CPU share (cores busy).
//
// Sentences: K per request, words that BERT's uncased vocabulary holds
// whole (one token each), so a sentence of W words is W + 2 tokens with
// [CLS] and [SEP]; lengths are spread evenly over --min-tokens..--max-tokens.
// A request is an error when its status is not 200 or its body does not
// start as the API's answer does.
//
//===----------------------------------------------------------------------===//
#include "TokenizeOnlyBackend.h"

#include "serve/Server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const char *const Words[] = {
    "the",     "of",      "and",      "to",       "in",       "is",
    "was",     "for",     "on",       "that",     "with",     "as",
    "by",      "at",      "from",     "his",      "her",      "it",
    "an",      "were",    "are",      "which",    "this",     "be",
    "or",      "has",     "had",      "not",      "but",      "one",
    "their",   "they",    "all",      "two",      "new",      "first",
    "after",   "also",    "who",      "more",     "other",    "its",
    "time",    "can",     "been",     "when",     "into",     "year",
    "there",   "world",   "people",   "city",     "state",    "school",
    "music",   "made",    "work",     "life",     "could",    "over",
    "may",     "house",   "game",     "water",    "family",   "film",
    "book",    "team",    "day",      "night",    "small",    "great",
    "good",    "long",    "old",      "high",     "light",    "place",
    "home",    "river",   "road",     "war",      "party",    "church",
    "art",     "man",     "woman",    "child",    "country",  "number",
    "power",   "market",  "group",    "line",     "name",     "system",
    "design",  "model",   "language", "table",    "computer", "window",
    "garden",  "morning", "evening",  "summer",   "winter",   "station",
    "village", "island",  "forest",   "mountain", "beach",    "street"};

int fail(const std::string &M) {
  std::fprintf(stderr, "kiln-serve-bench: error: %s\n", M.c_str());
  return 1;
}

std::string jsonString(const std::string &S) {
  std::string Out = "\"";
  for (char C : S) {
    if (C == '"' || C == '\\')
      Out.push_back('\\');
    Out.push_back(C);
  }
  return Out + "\"";
}

struct LoadOptions {
  std::vector<size_t> Connections = {1, 64};
  size_t Requests = 20000; // per load, when Duration is 0
  double Duration = 0;
  double Warmup = 1;
  size_t Batch = 1;
  bool OpenAI = false;
  size_t MinTokens = 8, MaxTokens = 128;
  unsigned Seed = 1;
};

/// The request bodies: a pool cycled through by every connection.
std::vector<std::string> makeBodies(const LoadOptions &O, size_t Count,
                                    size_t &Sentences, size_t &Tokens) {
  std::mt19937 Rng(O.Seed);
  size_t NWords = sizeof(Words) / sizeof(Words[0]);
  std::vector<std::string> Bodies;
  Sentences = Tokens = 0;
  size_t K = 0;
  for (size_t B = 0; B < Count; ++B) {
    std::string Inputs = "[";
    for (size_t S = 0; S < O.Batch; ++S, ++K) {
      // Evenly over the range, in a shuffled order.
      size_t Span = O.MaxTokens - O.MinTokens + 1;
      size_t Len = O.MinTokens + (K * 37 + Rng() % 7) % Span;
      std::string Text;
      for (size_t W = 0; W + 2 < Len; ++W) {
        if (W)
          Text.push_back(' ');
        Text += Words[Rng() % NWords];
      }
      if (Text.empty())
        Text = "a";
      Inputs += (S ? "," : "") + jsonString(Text);
      ++Sentences;
      Tokens += std::max<size_t>(Len, 3);
    }
    Inputs += "]";
    Bodies.push_back(O.OpenAI ? "{\"input\":" + Inputs + ",\"model\":\"m\"}"
                              : "{\"inputs\":" + Inputs + "}");
  }
  return Bodies;
}

/// Nanoseconds of CPU that every thread of \p Pid has used (schedstat, ns
/// resolution), or from /proc/PID/stat in clock ticks when that is missing.
double cpuSeconds(pid_t Pid) {
  double Ns = 0;
  std::string Dir = "/proc/" + std::to_string(Pid) + "/task";
  if (DIR *D = opendir(Dir.c_str())) {
    bool Any = false;
    while (dirent *E = readdir(D)) {
      if (E->d_name[0] == '.')
        continue;
      std::ifstream F(Dir + "/" + E->d_name + "/schedstat");
      double T;
      if (F >> T) {
        Ns += T;
        Any = true;
      }
    }
    closedir(D);
    if (Any)
      return Ns * 1e-9;
  }
  std::ifstream F("/proc/" + std::to_string(Pid) + "/stat");
  std::string S((std::istreambuf_iterator<char>(F)), {});
  size_t P = S.rfind(')');
  if (P == std::string::npos)
    return 0;
  std::istringstream In(S.substr(P + 2));
  std::string Field;
  double U = 0, Sys = 0;
  for (int I = 3; I <= 15 && In >> Field; ++I) {
    if (I == 14)
      U = std::atof(Field.c_str());
    if (I == 15)
      Sys = std::atof(Field.c_str());
  }
  return (U + Sys) / double(sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> &V, double P) {
  if (V.empty())
    return 0;
  size_t I = std::min(V.size() - 1, size_t(P * double(V.size() - 1) + 0.5));
  std::nth_element(V.begin(), V.begin() + long(I), V.end());
  return V[I];
}

/// Drives \p Host:\p Port with \p N connections; prints one line.
void runLoad(const std::string &Host, int Port, size_t N, const LoadOptions &O,
             pid_t ServerPid) {
  size_t Sentences, Tokens;
  std::vector<std::string> Bodies = makeBodies(O, 4096, Sentences, Tokens);
  double TokensPerSentence = double(Tokens) / double(Sentences);
  const char *Path = O.OpenAI ? "/v1/embeddings" : "/embed";
  const char *Expect = O.OpenAI ? "{\"object\":\"list\"" : "[[";

  std::atomic<bool> Measuring{false}, Stop{false};
  std::atomic<size_t> Issued{0};
  std::vector<std::vector<double>> Lat(N);
  std::vector<size_t> Errors(N, 0);
  auto Worker = [&](size_t C) {
    httplib::Client Cl(Host, Port);
    Cl.set_keep_alive(true);
    Cl.set_tcp_nodelay(true);
    Cl.set_read_timeout(60, 0);
    size_t K = C * 7919;
    while (!Stop) {
      bool Counted = Measuring.load();
      if (Counted && !O.Duration && Issued.fetch_add(1) >= O.Requests)
        break;
      const std::string &Body = Bodies[K++ % Bodies.size()];
      Clock::time_point T0 = Clock::now();
      auto R = Cl.Post(Path, Body, "application/json");
      double Ms =
          std::chrono::duration<double, std::milli>(Clock::now() - T0).count();
      if (!Counted)
        continue;
      if (!R || R->status != 200 ||
          R->body.compare(0, std::strlen(Expect), Expect) != 0)
        ++Errors[C];
      Lat[C].push_back(Ms);
    }
  };
  std::vector<std::thread> Threads;
  for (size_t C = 0; C < N; ++C)
    Threads.emplace_back(Worker, C);
  std::this_thread::sleep_for(std::chrono::duration<double>(O.Warmup));
  double Cpu0 = ServerPid > 0 ? cpuSeconds(ServerPid) : 0;
  Clock::time_point Start = Clock::now();
  Measuring = true;
  if (O.Duration) {
    std::this_thread::sleep_for(std::chrono::duration<double>(O.Duration));
    Stop = true;
  }
  for (std::thread &T : Threads)
    T.join();
  double Wall = std::chrono::duration<double>(Clock::now() - Start).count();
  double Cpu = ServerPid > 0 ? cpuSeconds(ServerPid) - Cpu0 : 0;

  std::vector<double> All;
  size_t Err = 0;
  for (size_t C = 0; C < N; ++C) {
    All.insert(All.end(), Lat[C].begin(), Lat[C].end());
    Err += Errors[C];
  }
  size_t Done = All.size();
  double Rps = double(Done) / Wall;
  std::printf("connections %3zu  batch %zu  %8zu requests  %9.0f req/s  "
              "%9.0f sentences/s  errors %zu  p50 %.3f ms  p95 %.3f ms  "
              "p99 %.3f ms  max %.3f ms",
              N, O.Batch, Done, Rps, Rps * double(O.Batch), Err,
              percentile(All, 0.50), percentile(All, 0.95),
              percentile(All, 0.99), percentile(All, 1.0));
  if (ServerPid > 0 && Done)
    std::printf("  server CPU %.1f us/request, %.1f us/sentence, %.2f cores",
                Cpu / double(Done) * 1e6, Cpu / double(Done * O.Batch) * 1e6,
                Cpu / Wall);
  std::printf("  (%.1f tokens/sentence)\n", TokensPerSentence);
  std::fflush(stdout);
}

bool parseList(const char *S, std::vector<size_t> &Out) {
  Out.clear();
  std::stringstream In(S);
  std::string Part;
  while (std::getline(In, Part, ',')) {
    char *End;
    unsigned long V = std::strtoul(Part.c_str(), &End, 10);
    if (*End || !V || V > 4096)
      return false;
    Out.push_back(V);
  }
  return !Out.empty();
}

const char *Usage =
    "usage: kiln-serve-bench fake TOKENIZER [--dim 384] [--max-length 128] "
    "[--tokenization-workers N] [LOAD OPTIONS]\n"
    "       kiln-serve-bench load URL [--server-pid PID] [LOAD OPTIONS]\n"
    "LOAD OPTIONS: [--connections 1,64] [--requests N | --duration S] "
    "[--warmup S] [--batch K] [--api tei|openai] [--min-tokens 8] "
    "[--max-tokens 128] [--seed 1]";

} // namespace

int main(int Argc, char **Argv) {
  if (Argc < 3)
    return fail(Usage);
  std::string Mode = Argv[1], Target = Argv[2];
  if (Mode != "fake" && Mode != "load")
    return fail(Usage);
  LoadOptions O;
  size_t Dim = 384, MaxLength = 128, Workers = 0;
  pid_t ServerPid = 0;
  for (int I = 3; I < Argc; ++I) {
    std::string A = Argv[I];
    const char *V = I + 1 < Argc ? Argv[I + 1] : nullptr;
    if (!V)
      return fail("'" + A + "' needs a value\n" + Usage);
    ++I;
    auto Num = [&](double Max) -> double {
      char *End;
      double D = std::strtod(V, &End);
      if (*End || !(D >= 0) || D > Max) {
        fail(A + " takes a number from 0 to " + std::to_string(Max));
        std::exit(1);
      }
      return D;
    };
    if (A == "--connections") {
      if (!parseList(V, O.Connections))
        return fail("--connections takes counts: 1,8,64");
    } else if (A == "--requests") {
      O.Requests = size_t(Num(1e9));
    } else if (A == "--duration") {
      O.Duration = Num(3600);
    } else if (A == "--warmup") {
      O.Warmup = Num(600);
    } else if (A == "--batch") {
      O.Batch = std::max<size_t>(1, size_t(Num(4096)));
    } else if (A == "--api") {
      if (std::string(V) != "tei" && std::string(V) != "openai")
        return fail("--api takes tei or openai");
      O.OpenAI = std::string(V) == "openai";
    } else if (A == "--min-tokens") {
      O.MinTokens = std::max<size_t>(3, size_t(Num(100000)));
    } else if (A == "--max-tokens") {
      O.MaxTokens = size_t(Num(100000));
    } else if (A == "--seed") {
      O.Seed = unsigned(Num(1e9));
    } else if (A == "--dim" && Mode == "fake") {
      Dim = std::max<size_t>(1, size_t(Num(65536)));
    } else if (A == "--max-length" && Mode == "fake") {
      MaxLength = std::max<size_t>(3, size_t(Num(1e6)));
    } else if (A == "--tokenization-workers" && Mode == "fake") {
      Workers = size_t(Num(256));
    } else if (A == "--server-pid" && Mode == "load") {
      ServerPid = pid_t(Num(1e9));
    } else {
      return fail("unknown option '" + A + "'\n" + Usage);
    }
  }
  if (O.MaxTokens < O.MinTokens)
    return fail("--max-tokens is below --min-tokens");

  std::string Host = "127.0.0.1";
  int Port = 0;
  pid_t Child = 0;
  if (Mode == "load") {
    std::string U = Target;
    if (U.rfind("http://", 0) == 0)
      U = U.substr(7);
    size_t Colon = U.rfind(':');
    if (Colon == std::string::npos)
      return fail("URL: give http://HOST:PORT");
    Host = U.substr(0, Colon);
    Port = std::atoi(U.c_str() + Colon + 1);
    if (Port <= 0)
      return fail("URL: give http://HOST:PORT");
  } else {
    auto B = kiln::serve::createTokenizeOnlyBackend(Target, Dim, MaxLength);
    if (!B)
      return fail(Target + ": " + llvm::toString(B.takeError()));
    int Pipe[2];
    if (pipe(Pipe) != 0)
      return fail("pipe failed");
    Child = fork();
    if (Child < 0)
      return fail("fork failed");
    if (Child == 0) { // the server: nothing but lib/serve and the backend
      dup2(Pipe[1], STDOUT_FILENO);
      close(Pipe[0]);
      close(Pipe[1]);
      kiln::serve::ServerOptions SO;
      SO.Port = 0;
      SO.MaxClientBatchSize = std::max<size_t>(32, O.Batch);
      SO.TokenizationWorkers = Workers;
      std::_Exit(kiln::serve::runServer(**B, SO));
    }
    close(Pipe[1]);
    std::string Line;
    char C;
    while (read(Pipe[0], &C, 1) == 1 && C != '\n')
      Line.push_back(C);
    close(Pipe[0]);
    size_t Colon = Line.rfind(':');
    if (Line.rfind("listening on", 0) != 0 || Colon == std::string::npos)
      return fail("the server did not start: '" + Line + "'");
    Port = std::atoi(Line.c_str() + Colon + 1);
    ServerPid = Child;
    std::printf("fake server (tokenize-only backend, dimension %zu) on "
                "port %d, pid %d\n",
                Dim, Port, int(Child));
  }
  for (size_t N : O.Connections)
    runLoad(Host, Port, N, O, ServerPid);
  if (Child > 0) {
    kill(Child, SIGTERM);
    int Status = 0;
    waitpid(Child, &Status, 0);
    if (!WIFEXITED(Status) || WEXITSTATUS(Status) != 0)
      return fail("the server did not exit cleanly after SIGTERM");
  }
  return 0;
}
