//===- Serve.cpp - the `kiln serve` subcommand ----------------------------===//
//
// kiln serve MODEL [--tokenizer tokenizer.json] [--device cpu|gpu]
//                  [--devices 0,0] [--host 127.0.0.1] [--port 8080]
//                  [--max-concurrent-requests 512] [--max-batch-tokens 16384]
//                  [--max-client-batch-size 32] [--max-batch-delay-us 0]
//                  [--payload-limit 2000000] [--auto-truncate true|false]
//                  [--served-model-name NAME] [--tokenization-workers N]
//
// Serves embeddings over HTTP (TEI's and OpenAI's APIs, docs/serve.md).
// MODEL is an .onnx file, kiln's text form or a .kiln artifact; the
// tokenizer is --tokenizer or tokenizer.json beside the model. This is the
// only place that picks the Backend: lib/serve knows only the interface.
//
//===----------------------------------------------------------------------===//
#include "kiln/Serve.h"

#include "serve/ReferenceBackend.h"
#include "serve/Server.h"

#include "llvm/ADT/StringRef.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kiln {

static int fail(const std::string &Message) {
  std::fprintf(stderr, "error: %s\n", Message.c_str());
  return 1;
}

static bool parseCount(const char *Text, unsigned long long Max,
                       unsigned long long &Out) {
  return !llvm::StringRef(Text).getAsInteger(10, Out) && Out <= Max;
}

int runServeCommand(int Argc, char **Argv) {
  serve::ServerOptions O;
  serve::ReferenceBackendOptions BO;
  std::string Device = "cpu";
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "--help" || A == "-h") {
      std::printf(
          "kiln serve MODEL [--tokenizer tokenizer.json] [--device cpu|gpu] "
          "[--devices 0,0]\n  [--host 127.0.0.1] [--port 8080] "
          "[--max-concurrent-requests 512]\n  [--max-batch-tokens 16384] "
          "[--max-client-batch-size 32] [--max-batch-delay-us 0]\n"
          "  [--payload-limit 2000000] [--auto-truncate true|false] "
          "[--served-model-name NAME]\n  [--tokenization-workers N]\n"
          "Serves embeddings over HTTP with TEI's and OpenAI's APIs "
          "(docs/serve.md).\n");
      return 0;
    }
    if (A.rfind("--", 0) != 0) {
      if (!BO.ModelPath.empty())
        return fail("one MODEL only (got '" + BO.ModelPath + "' and '" + A +
                    "')");
      BO.ModelPath = A;
      continue;
    }
    if (I + 1 >= Argc)
      return fail(A + " needs a value");
    const char *V = Argv[++I];
    unsigned long long N = 0;
    auto Count = [&](unsigned long long Min, unsigned long long Max) {
      return parseCount(V, Max, N) && N >= Min;
    };
    if (A == "--tokenizer") {
      BO.TokenizerPath = V;
    } else if (A == "--device") {
      Device = V;
      if (Device != "cpu" && Device != "gpu")
        return fail("--device is cpu or gpu");
    } else if (A == "--devices") {
      // The reference backend runs one logical device per entry.
      BO.Devices = size_t(llvm::StringRef(V).count(',')) + 1;
    } else if (A == "--host") {
      O.Host = V;
    } else if (A == "--port") {
      if (!Count(0, 65535))
        return fail("--port takes 0..65535");
      O.Port = int(N);
    } else if (A == "--max-concurrent-requests") {
      if (!Count(1, 1u << 20))
        return fail(A + " takes a number >= 1");
      O.MaxConcurrentRequests = N;
    } else if (A == "--max-batch-tokens") {
      if (!Count(1, 1ull << 32))
        return fail(A + " takes a number >= 1");
      O.MaxBatchTokens = N;
    } else if (A == "--max-client-batch-size") {
      if (!Count(1, 1u << 20))
        return fail(A + " takes a number >= 1");
      O.MaxClientBatchSize = N;
    } else if (A == "--max-batch-delay-us") {
      if (!Count(0, 60000000))
        return fail(A + " takes a number of microseconds (<= 60 s)");
      O.MaxBatchDelayUs = N;
    } else if (A == "--payload-limit") {
      if (!Count(1, 1ull << 32))
        return fail(A + " takes a number of bytes >= 1");
      O.PayloadLimit = N;
    } else if (A == "--auto-truncate") {
      std::string B = V;
      if (B != "true" && B != "false")
        return fail("--auto-truncate is true or false");
      O.AutoTruncate = B == "true";
    } else if (A == "--served-model-name") {
      O.ServedModelName = V;
    } else if (A == "--tokenization-workers") {
      if (!Count(1, 64))
        return fail(A + " takes 1..64");
      O.TokenizationWorkers = N;
    } else {
      return fail("unknown option " + A + " (see kiln serve --help)");
    }
  }
  if (BO.ModelPath.empty())
    return fail("kiln serve needs a MODEL (see kiln serve --help)");
  if (Device == "gpu")
    return fail("kiln serve --device gpu needs the text API's GPU backend, "
                "which is not built yet; use --device cpu");
  // Where the text API lands, this is the one call to replace: any
  // serve::Backend will do.
  auto Backend = serve::createReferenceBackend(BO);
  if (!Backend)
    return fail(llvm::toString(Backend.takeError()));
  return serve::runServer(**Backend, O);
}

} // namespace kiln
