//===- main.cpp - the kiln command-line tool ------------------------------===//
//
//   kiln compile MODEL -o OUT.kiln [--batch 1,8,32] [--seq 128]
//                [--precision f32|fp16|bf16] [--arch sm_90a] [--cache-dir DIR]
//                [--prune heads=R,ffn=R [--prune-report
//                 [--prune-report-inputs FILE.npz]]]
//   kiln run [--device cpu|gpu] MODEL [--input NAME=FILE.npy ...] [-o OUT.npz]
//            [--random-inputs [--seed N] [--dim SYMBOL=N ...] [--int-range N]]
//   kiln inspect [--json] MODEL
//   kiln bench MODEL.kiln [--shapes 1x128,32x128] [--peers CMD] [--json F]
//   kiln tokenize TOKENIZER [--max-length N] < LINES.jsonl
//   kiln embed MODEL [--device cpu|gpu] [--devices LIST] [TEXT ...]
//
// MODEL is an .onnx file, kiln's text form (`-` reads standard input) or a
// compiled .kiln artifact. `compile` writes an artifact (no GPU needed);
// `run` executes a model on the CPU reference executor, or an artifact on
// the GPU (the default for .kiln); `inspect` lists the inputs, outputs, ops
// and parameter count, and for an artifact its buckets, arch and precision;
// `bench` times an artifact on the GPU, with its peers when given. Errors
// print `error: ...` to stderr and exit 1. Each subcommand lives in its own
// file (Kiln.h).
//
//===----------------------------------------------------------------------===//
#include "Embed.h"
#include "Kiln.h"
#include "Serve.h"
#include "Tokenize.h"

#include "common/ModelLoader.h"
#include "ir/Error.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace kiln;
namespace cl = llvm::cl;

namespace kiln {

cl::SubCommand &runSubcommand() {
  static cl::SubCommand Sub("run", "Run a model on the CPU reference "
                                   "executor, or a .kiln artifact on the GPU");
  return Sub;
}

cl::SubCommand &inspectSubcommand() {
  static cl::SubCommand Sub("inspect",
                            "Print a model's inputs, outputs, op histogram "
                            "and parameter count");
  return Sub;
}

cl::SubCommand &compileSubcommand() {
  static cl::SubCommand Sub("compile", "Compile a model into a .kiln artifact");
  return Sub;
}

cl::SubCommand &benchSubcommand() {
  static cl::SubCommand Sub("bench",
                            "Time a .kiln artifact on the GPU, with peers");
  return Sub;
}

/// Splits `NAME=VALUE` (the name may carry the text form's `%`).
llvm::Expected<std::pair<llvm::StringRef, llvm::StringRef>>
splitSpec(llvm::StringRef Spec, llvm::StringRef Flag) {
  auto [Name, Value] = Spec.split('=');
  Name.consume_front("%");
  if (Name.empty() || Value.empty() || !Spec.contains('='))
    return makeError("--" + Flag + " expects NAME=VALUE, got '" + Spec + "'");
  return std::make_pair(Name, Value);
}

llvm::Error setPackedMode(llvm::StringRef Mode, EngineOptions &Options) {
  if (Mode != "auto" && Mode != "on" && Mode != "off")
    return makeError("--packed: expected 'auto', 'on' or 'off', got '" + Mode +
                     "'");
  Options.PackTokens = Mode != "off";
  Options.PackTokensAlways = Mode == "on";
  return llvm::Error::success();
}

/// Loads a model, or an artifact's IR with its weights restored.
llvm::Expected<std::unique_ptr<Graph>>
loadModelOrArtifact(llvm::StringRef Path, std::optional<Artifact> *Keep) {
  if (!isArtifactPath(Path))
    return loadModel(Path);
  auto A = readArtifact(Path);
  if (!A)
    return A.takeError();
  auto G = artifactGraph(*A);
  if (G && Keep)
    Keep->emplace(std::move(*A));
  return G;
}

} // namespace kiln

static int fail(llvm::Error E) {
  llvm::WithColor::error(llvm::errs()) << llvm::toString(std::move(E)) << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  // tokenize reads its own arguments (tools/kiln/Tokenize.cpp).
  if (argc > 1 && llvm::StringRef(argv[1]) == "tokenize")
    return kiln::runTokenizeCommand(argc - 1, argv + 1);
  // So does embed (tools/kiln/Embed.cpp).
  if (argc > 1 && llvm::StringRef(argv[1]) == "embed")
    return kiln::runEmbedCommand(argc - 1, argv + 1);
  // And serve (tools/kiln/Serve.cpp).
  if (argc > 1 && llvm::StringRef(argv[1]) == "serve")
    return kiln::runServeCommand(argc - 1, argv + 1);
  cl::ParseCommandLineOptions(
      argc, argv,
      "kiln: compile, run, inspect and benchmark neural-network models\n\n"
      "  kiln compile MODEL -o MODEL.kiln [--batch 1,8,32] [--seq 128] "
      "[--precision fp16]\n"
      "  kiln run MODEL --input NAME=FILE.npy ... [-o OUT.npz]\n"
      "  kiln inspect [--json] MODEL\n"
      "  kiln bench MODEL.kiln [--shapes 1x128] [--peers CMD]\n"
      "  kiln tokenize TOKENIZER [--max-length N] < LINES.jsonl\n"
      "  kiln embed MODEL [--device cpu|gpu] [TEXT ...]\n\n"
      "MODEL is an .onnx file, kiln's text form (- for stdin) or a .kiln "
      "artifact. See 'kiln <command> --help'.\n");
  auto Dispatch = [&]() -> llvm::Error {
    if (runSubcommand())
      return runCommand();
    if (inspectSubcommand())
      return inspectCommand();
    if (compileSubcommand())
      return compileCommand(argc, argv);
    if (benchSubcommand())
      return benchCommand();
    return makeError("no command given: use 'kiln compile', 'kiln run', "
                     "'kiln inspect' or 'kiln bench' (see kiln --help)");
  };
  if (llvm::Error E = Dispatch())
    return fail(std::move(E));
  return 0;
}
