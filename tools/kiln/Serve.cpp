//===- Serve.cpp - the `kiln serve` subcommand ----------------------------===//
//
// kiln serve MODEL [--tokenizer tokenizer.json] [--device cpu|gpu]
//                  [--devices 0,0] [--host 127.0.0.1] [--port 8080]
//                  [--max-concurrent-requests 512] [--max-batch-tokens 16384]
//                  [--max-client-batch-size 32] [--max-batch-delay-us 0]
//                  [--payload-limit 2000000] [--auto-truncate true|false]
//                  [--served-model-name NAME] [--tokenization-workers N]
//                  [--workers-per-device 2] [--partition replicate|pipeline]
//                  [--inject-fault D:after:K[:recoverable[:N]]]
//
// Serves embeddings over HTTP (TEI's and OpenAI's APIs, docs/serve.md).
// MODEL is a .kiln artifact carrying its tokenizer, served through
// kiln::TextModel on the GPUs of --devices (default: the GPU when there is
// one) or on the reference executor (--device cpu, where --devices gives
// logical devices); or, for tests, an .onnx file or kiln's text form with
// --tokenizer (a tokenizer.json or vocab.txt; default: tokenizer.json
// beside it), on the reference executor. Several devices, --partition and
// --inject-fault (as kiln run's and kiln bench's; KILN_FAULT_INJECT too)
// are the TextModel's: its engine's device group on the GPU, the same
// failover over logical devices on the CPU. This is the only place that
// picks the Backend: lib/serve knows only the interface.
//
//===----------------------------------------------------------------------===//
#include "kiln/Serve.h"

#include "Kiln.h"

#include "common/TextModelLoader.h"
#include "kiln/Engine.h"
#include "kiln/TextModel.h"
#include "runtime/FaultInjection.h"
#include "serve/Server.h"
#include "serve/TextModelBackend.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Path.h"

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
  // Before any thread exists (the CUDA runtime starts its own while the
  // model loads): SIGTERM then drains the server rather than ending it.
  serve::blockStopSignals();
  serve::ServerOptions O;
  std::string ModelPath, TokenizerPath, Device;
  std::vector<int> Ordinals;
  TextModelOptions TO;
  // The server tokenizes on its own workers, text by text.
  TO.TokenizerThreads = 1;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    if (A == "--help" || A == "-h") {
      std::printf(
          "kiln serve MODEL [--tokenizer tokenizer.json] [--device cpu|gpu] "
          "[--devices 0,0]\n  [--host 127.0.0.1] [--port 8080] "
          "[--max-concurrent-requests 512]\n  [--max-batch-tokens 16384] "
          "[--max-client-batch-size 32] [--max-batch-delay-us 0]\n"
          "  [--payload-limit 2000000] [--auto-truncate true|false] "
          "[--served-model-name NAME]\n  [--tokenization-workers N] "
          "[--workers-per-device 2]\n  [--partition replicate|pipeline] "
          "[--inject-fault D:after:K[:recoverable[:N]]]\n"
          "Serves embeddings over HTTP with TEI's and OpenAI's APIs "
          "(docs/serve.md).\n");
      return 0;
    }
    if (A.rfind("--", 0) != 0) {
      if (!ModelPath.empty())
        return fail("one MODEL only (got '" + ModelPath + "' and '" + A + "')");
      ModelPath = A;
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
      TokenizerPath = V;
    } else if (A == "--device") {
      Device = V;
      if (Device != "cpu" && Device != "gpu")
        return fail("--device is cpu or gpu");
    } else if (A == "--devices") {
      // GPU ordinals; on the CPU, one logical device per entry.
      llvm::SmallVector<llvm::StringRef> Parts;
      llvm::StringRef(V).split(Parts, ',', -1, false);
      Ordinals.clear();
      for (llvm::StringRef P : Parts) {
        int D;
        if (P.trim().getAsInteger(10, D) || D < 0)
          return fail("--devices takes GPU ordinals: 0,1");
        Ordinals.push_back(D);
      }
      if (Ordinals.empty())
        return fail("--devices takes GPU ordinals: 0,1");
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
    } else if (A == "--workers-per-device") {
      if (!Count(1, 16))
        return fail(A + " takes 1..16");
      O.WorkersPerDevice = N;
    } else if (A == "--partition") {
      std::string P = V;
      if (P == "replicate")
        TO.Partition = PartitionMode::Replicate;
      else if (P == "pipeline")
        TO.Partition = PartitionMode::Pipeline;
      else
        return fail("--partition is replicate or pipeline");
    } else if (A == "--inject-fault") {
      auto F = parseFaultInjections(V, /*Prefixed=*/false);
      if (!F)
        return fail("--inject-fault: " + llvm::toString(F.takeError()));
      TO.Faults = std::move(*F);
    } else {
      return fail("unknown option " + A + " (see kiln serve --help)");
    }
  }
  if (ModelPath.empty())
    return fail("kiln serve needs a MODEL (see kiln serve --help)");
  bool Compiled = isArtifactPath(ModelPath);
  std::string Why;
  if (Device == "gpu" && !Compiled)
    return fail("--device gpu needs a compiled .kiln artifact");
  if (Device == "gpu" && !gpuAvailable(&Why))
    return fail("--device gpu: " + Why);
  if (Compiled && !TokenizerPath.empty())
    return fail("--tokenizer: " + ModelPath +
                " carries its tokenizer (kiln compile --tokenizer)");
  bool Gpu = Compiled && Device != "cpu" && gpuAvailable();
  if (Ordinals.empty())
    Ordinals = {0};

  for (const FaultInjection &F : TO.Faults)
    if (size_t(F.Device) >= Ordinals.size())
      return fail("--inject-fault: logical device " + std::to_string(F.Device) +
                  " is not one of the " + std::to_string(Ordinals.size()) +
                  " given by --devices");

  serve::TextModelBackendOptions BO;
  BO.Name = llvm::sys::path::stem(ModelPath).str();
  // On the CPU each entry of --devices is a logical device.
  TO.Devices = Ordinals;
  // Every worker may be running a batch on one device.
  TO.ContextsPerDevice = unsigned(O.WorkersPerDevice);
  llvm::Expected<std::unique_ptr<TextModel>> M = nullptr;
  if (Compiled) {
    TO.Where = Gpu ? kiln::Device::GPU : kiln::Device::CPU;
    M = TextModel::load(ModelPath, TO);
  } else {
    TO.Where = kiln::Device::CPU;
    M = loadUncompiledTextModel(ModelPath, TokenizerPath, TO);
  }
  if (!M)
    return fail(llvm::toString(M.takeError()));
  auto Backend = serve::createTextModelBackend(std::move(*M), BO);
  if (!Backend)
    return fail(ModelPath + ": " + llvm::toString(Backend.takeError()));
  return serve::runServer(**Backend, O);
}

} // namespace kiln
