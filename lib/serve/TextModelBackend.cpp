//===- TextModelBackend.cpp - serve a kiln::TextModel ---------------------===//
//
// Each Backend call is one TextModel call; the rest is health and fault
// injection. No model logic here: that is kiln::TextModel's.
//
//===----------------------------------------------------------------------===//
#include "serve/TextModelBackend.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <atomic>
#include <cstdlib>
#include <limits>
#include <map>

namespace kiln::serve {
namespace {

class TextModelBackend final : public Backend {
public:
  std::unique_ptr<TextModel> M;
  std::string Name;
  struct Dev {
    std::string Name;
    std::atomic<bool> Up{true};
    std::atomic<uint64_t> Calls{0};
  };
  std::vector<std::unique_ptr<Dev>> Devs;
  long FaultDevice = -1;
  uint64_t FaultAfter = 0;

  std::string modelName() const override { return Name; }
  std::string dtype() const override {
    const std::string &P = M->model().Precision;
    return P == "f16" ? "float16" : P == "bf16" ? "bfloat16" : "float32";
  }
  size_t dimension() const override { return M->dimension(); }
  size_t maxInputLength() const override {
    size_t L = M->maxLength();
    return L ? L : std::numeric_limits<uint32_t>::max();
  }
  size_t vocabSize() const override { return M->vocabSize(); }
  std::vector<size_t> seqBuckets() const override {
    const std::vector<int64_t> &S = M->model().SeqBuckets;
    return std::vector<size_t>(S.begin(), S.end());
  }
  size_t maxBatchSize() const override { return M->maxBatch(); }

  std::optional<Failure> tokenize(std::string_view Text, bool Truncate,
                                  Side Direction, Tokens &Out) const override {
    EmbedOptions O;
    O.Truncate = Truncate;
    O.Side =
        Direction == Side::Left ? TruncationSide::Left : TruncationSide::Right;
    auto T = M->tokenize(Text, O);
    if (!T)
      return Failure{Failure::BadInput, llvm::toString(T.takeError())};
    Out.Ids = std::move(T->Ids);
    Out.TypeIds = std::move(T->TypeIds);
    return std::nullopt;
  }

  std::optional<Failure> embed(size_t Device,
                               const std::vector<const Tokens *> &Batch,
                               std::vector<std::vector<float>> &Out) override {
    Dev &D = *Devs[Device];
    uint64_t Call = ++D.Calls;
    if (long(Device) == FaultDevice && Call >= FaultAfter) {
      D.Up = false;
      return Failure{Failure::DeviceFailed,
                     D.Name + " lost (KILN_FAULT_INJECT)"};
    }
    std::vector<TokenView> Views;
    Views.reserve(Batch.size());
    for (const Tokens *T : Batch)
      Views.push_back({T->Ids, T->TypeIds});
    // On the CPU every logical device runs the one reference executor.
    size_t ModelDevice = M->device() == kiln::Device::CPU ? 0 : Device;
    auto V = M->embedTokens(Views, ModelDevice);
    if (!V) {
      // The device could not compute it: the server moves its work on.
      D.Up = false;
      return Failure{Failure::DeviceFailed,
                     D.Name + ": " + llvm::toString(V.takeError())};
    }
    size_t W = M->dimension();
    Out.resize(Batch.size());
    for (size_t R = 0; R < Batch.size(); ++R)
      Out[R].assign(V->begin() + long(R * W), V->begin() + long((R + 1) * W));
    return std::nullopt;
  }

  std::vector<DeviceState> devices() const override {
    std::vector<DeviceState> S;
    for (const auto &D : Devs)
      S.push_back({D->Name, D->Up.load()});
    return S;
  }
};

llvm::Error parseFault(llvm::StringRef Spec, TextModelBackend &B) {
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  Spec.split(Parts, ':');
  unsigned long long D, K;
  if (Parts.size() != 4 || Parts[0] != "device" || Parts[2] != "after" ||
      llvm::getAsUnsignedInteger(Parts[1], 10, D) ||
      llvm::getAsUnsignedInteger(Parts[3], 10, K))
    return llvm::createStringError("KILN_FAULT_INJECT expects "
                                   "device:D:after:K, got '" +
                                   Spec + "'");
  B.FaultDevice = long(D);
  B.FaultAfter = K;
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::unique_ptr<Backend>>
createTextModelBackend(std::unique_ptr<TextModel> Model,
                       const TextModelBackendOptions &Options) {
  auto B = std::make_unique<TextModelBackend>();
  if (!Model->hasTokenizer())
    return llvm::createStringError(
        "the model carries no tokenizer (kiln compile --tokenizer)");
  if (!Model->dimension() || !Model->vocabSize())
    return llvm::createStringError("the model returns no text embedding");
  std::vector<std::string> Names = Options.DeviceNames;
  if (Names.empty())
    for (size_t I = 0; I < Model->deviceCount(); ++I)
      Names.push_back(
          (Model->device() == kiln::Device::CPU ? "cpu:" : "cuda:") +
          std::to_string(I));
  if (Model->device() == kiln::Device::GPU &&
      Names.size() != Model->deviceCount())
    return llvm::createStringError(
        std::to_string(Names.size()) + " device names for " +
        std::to_string(Model->deviceCount()) + " GPUs");
  // One card listed twice (--devices 0,0) is two workers: their names,
  // which label /metrics and /info, must still tell them apart.
  std::map<std::string, int> Seen;
  for (std::string &N : Names)
    if (int K = Seen[N]++)
      N += "#" + std::to_string(K);
  for (std::string &N : Names) {
    B->Devs.push_back(std::make_unique<TextModelBackend::Dev>());
    B->Devs.back()->Name = std::move(N);
  }
  B->Name = Options.Name;
  if (!Model->model().ModelName.empty())
    B->Name = Model->model().ModelName;
  std::string Fault = Options.FaultInject;
  if (Fault.empty())
    if (const char *Env = std::getenv("KILN_FAULT_INJECT"))
      Fault = Env;
  if (!Fault.empty())
    if (llvm::Error E = parseFault(Fault, *B))
      return std::move(E);
  B->M = std::move(Model);
  return std::unique_ptr<Backend>(std::move(B));
}

} // namespace kiln::serve
