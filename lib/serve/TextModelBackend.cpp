//===- TextModelBackend.cpp - serve a kiln::TextModel ---------------------===//
//
// Each Backend call is one TextModel call. No model logic here, and no
// device logic: both are kiln::TextModel's.
//
//===----------------------------------------------------------------------===//
#include "serve/TextModelBackend.h"

#include <limits>

namespace kiln::serve {
namespace {

class TextModelBackend final : public Backend {
public:
  TextModelBackend(std::unique_ptr<TextModel> M, std::string Name)
      : M(std::move(M)), Name(std::move(Name)) {}

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

  std::optional<Failure> embed(const std::vector<const Tokens *> &Batch,
                               std::vector<std::vector<float>> &Out) override {
    std::vector<TokenView> Views;
    Views.reserve(Batch.size());
    for (const Tokens *T : Batch)
      Views.push_back({T->Ids, T->TypeIds});
    auto V = M->embedTokens(Views);
    // The server checked the lengths and ids: what fails here is the
    // devices (every one that was up failed the batch).
    if (!V)
      return Failure{Failure::DeviceFailed, llvm::toString(V.takeError())};
    size_t W = M->dimension();
    Out.resize(Batch.size());
    for (size_t R = 0; R < Batch.size(); ++R)
      Out[R].assign(V->begin() + long(R * W), V->begin() + long((R + 1) * W));
    return std::nullopt;
  }

  std::vector<DeviceState> devices() const override {
    std::vector<DeviceState> Out;
    for (const TextModelDevice &D : M->devices())
      Out.push_back({D.Name, D.Health == DeviceHealth::Up,
                     deviceHealthName(D.Health), D.LastError, D.Runs,
                     D.Failures});
    return Out;
  }

private:
  std::unique_ptr<TextModel> M;
  std::string Name;
};

} // namespace

llvm::Expected<std::unique_ptr<Backend>>
createTextModelBackend(std::unique_ptr<TextModel> Model,
                       const TextModelBackendOptions &Options) {
  if (!Model->hasTokenizer())
    return llvm::createStringError(
        "the model carries no tokenizer (kiln compile --tokenizer)");
  if (!Model->dimension() || !Model->vocabSize())
    return llvm::createStringError("the model returns no text embedding");
  std::string Name = Options.Name;
  if (!Model->model().ModelName.empty())
    Name = Model->model().ModelName;
  return std::make_unique<TextModelBackend>(std::move(Model), std::move(Name));
}

} // namespace kiln::serve
