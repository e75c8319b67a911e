//===- Embed.cpp - the `kiln embed` subcommand ----------------------------===//
//
// kiln embed MODEL [--device cpu|gpu] [--devices 0,1] [--tokenizer FILE]
//                  [--tokenizer-threads N] [--no-truncate] [--batch N]
//                  [TEXT ...]
//
// Embeds the texts given as arguments, or else JSON Lines of strings from
// standard input, and writes one JSON array of floats per line, in order.
// MODEL is an artifact with a tokenizer (kiln compile --tokenizer), run on
// the GPU when there is one and else on the reference executor; or an
// .onnx / .kir model with --tokenizer (a tokenizer.json or a vocab.txt;
// default: tokenizer.json beside it), run on the reference executor. All of
// it goes through kiln::TextModel; texts are tokenized on
// --tokenizer-threads threads (default min(cores, 8)).
//
//===----------------------------------------------------------------------===//
#include "Embed.h"
#include "Kiln.h"

#include "common/TextModelLoader.h"
#include "ir/Error.h"
#include "kiln/Engine.h"
#include "serve/JsonWriter.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace kiln {

static int fail(const std::string &Message) {
  std::fprintf(stderr, "error: %s\n", Message.c_str());
  return 1;
}

static const char *Usage =
    "usage: kiln embed MODEL [--device cpu|gpu] [--devices 0,1] "
    "[--tokenizer tokenizer.json|vocab.txt] [--tokenizer-threads N] "
    "[--no-truncate] [--batch N] [TEXT ...]\n"
    "Embeds the TEXT arguments, or JSON Lines of strings on stdin; writes "
    "one JSON array of floats per line, in order.";

static void appendFloats(std::string &Out, const float *V, size_t N) {
  // The shortest text that reads back to the same float.
  serve::appendFloatArray(Out, V, N);
  Out.push_back('\n');
}

int runEmbedCommand(int Argc, char **Argv) {
  std::string Model, TokenizerPath, DeviceName;
  std::vector<int> Devices;
  std::vector<std::string> Texts;
  bool FromArgs = false;
  EmbedOptions Embed;
  TextModelOptions Options;
  for (int I = 1; I < Argc; ++I) {
    std::string A = Argv[I];
    auto Value = [&]() -> const char * {
      return I + 1 < Argc ? Argv[++I] : nullptr;
    };
    if (A == "-h" || A == "--help") {
      std::puts(Usage);
      return 0;
    } else if (A == "--device") {
      const char *V = Value();
      if (!V || (std::string(V) != "cpu" && std::string(V) != "gpu"))
        return fail("--device takes cpu or gpu");
      DeviceName = V;
    } else if (A == "--devices") {
      const char *V = Value();
      llvm::SmallVector<llvm::StringRef> Parts;
      llvm::StringRef(V ? V : "").split(Parts, ',', -1, false);
      for (llvm::StringRef P : Parts) {
        int D;
        if (P.trim().getAsInteger(10, D) || D < 0)
          return fail("--devices takes GPU ordinals: 0,1");
        Devices.push_back(D);
      }
      if (Devices.empty())
        return fail("--devices takes GPU ordinals: 0,1");
    } else if (A == "--tokenizer") {
      const char *V = Value();
      if (!V)
        return fail("--tokenizer takes a tokenizer.json or a vocab.txt");
      TokenizerPath = V;
    } else if (A == "--tokenizer-threads") {
      const char *V = Value();
      unsigned long long N = 0;
      if (!V || llvm::StringRef(V).getAsInteger(10, N) || !N || N > 256)
        return fail("--tokenizer-threads takes a number from 1 to 256");
      Options.TokenizerThreads = size_t(N);
    } else if (A == "--no-truncate") {
      Embed.Truncate = false;
    } else if (A == "--batch") {
      const char *V = Value();
      unsigned long long N = 0;
      if (!V || llvm::StringRef(V).getAsInteger(10, N) || !N)
        return fail("--batch takes a positive number");
      Options.MaxBatch = size_t(N);
    } else if (A == "--") {
      for (++I; I < Argc; ++I)
        Texts.push_back(Argv[I]);
      FromArgs = true;
    } else if (A.size() > 1 && A[0] == '-') {
      return fail("unknown option '" + A + "'\n" + Usage);
    } else if (Model.empty()) {
      Model = A;
    } else {
      Texts.push_back(A);
      FromArgs = true;
    }
  }
  if (Model.empty())
    return fail(Usage);
  bool Compiled = isArtifactPath(Model);
  std::string Why;
  if (DeviceName == "gpu" && !Compiled)
    return fail("--device gpu needs a compiled .kiln artifact");
  if (DeviceName == "gpu" && !gpuAvailable(&Why))
    return fail("--device gpu: " + Why);
  Options.Where = Compiled && DeviceName != "cpu" && gpuAvailable()
                      ? Device::GPU
                      : Device::CPU;
  if (!Devices.empty() && Options.Where != Device::GPU)
    return fail("--devices: the model runs on the CPU");
  Options.Devices = Devices;

  auto M = Compiled ? TextModel::load(Model, Options)
                    : loadUncompiledTextModel(Model, TokenizerPath, Options);
  if (!M)
    return fail(llvm::toString(M.takeError()));
  if (!(*M)->hasTokenizer())
    return fail(Model + " carries no tokenizer: compile it with --tokenizer");

  if (!FromArgs) {
    std::ios::sync_with_stdio(false);
    std::string Line;
    for (size_t LineNo = 1; std::getline(std::cin, Line); ++LineNo) {
      if (Line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      nlohmann::json V;
      try {
        V = nlohmann::json::parse(Line);
      } catch (const nlohmann::json::exception &E) {
        return fail("line " + std::to_string(LineNo) + ": " + E.what());
      }
      if (!V.is_string())
        return fail("line " + std::to_string(LineNo) +
                    ": expected a JSON string, got " + V.type_name());
      Texts.push_back(V.get<std::string>());
    }
  }
  auto Vectors = (*M)->embed(Texts, Embed);
  if (!Vectors)
    return fail(llvm::toString(Vectors.takeError()));
  size_t Dim = (*M)->dimension();
  std::string Out;
  for (size_t T = 0; T < Texts.size(); ++T) {
    appendFloats(Out, Vectors->data() + T * Dim, Dim);
    if (Out.size() > (1 << 16)) {
      std::fwrite(Out.data(), 1, Out.size(), stdout);
      Out.clear();
    }
  }
  std::fwrite(Out.data(), 1, Out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write the output");
}

} // namespace kiln
