//===- TokenizeOnlyBackend.cpp - a serve Backend without a model ----------===//
//
// Three tokenizers, as kiln::TextModel keeps them: cut from the right, cut
// from the left, and uncut (to refuse long inputs). The vectors depend on
// the ids, so a test could tell inputs apart, and are written like real
// ones (nine or so significant digits each).
//
//===----------------------------------------------------------------------===//
#include "TokenizeOnlyBackend.h"

#include "tokenizer/Tokenizer.h"

#include <cmath>

namespace kiln::serve {
namespace {

class TokenizeOnlyBackend final : public Backend {
public:
  TokenizeOnlyBackend(tokenizer::Tokenizer R, tokenizer::Tokenizer L,
                      tokenizer::Tokenizer F, size_t Dim, size_t Max)
      : Right(std::move(R)), Left(std::move(L)), Full(std::move(F)), Dim(Dim),
        Max(Max) {}

  std::string modelName() const override { return "tokenize-only"; }
  std::string dtype() const override { return "float32"; }
  size_t dimension() const override { return Dim; }
  size_t maxInputLength() const override { return Max; }
  size_t vocabSize() const override { return Right.vocabSize(); }
  std::vector<size_t> seqBuckets() const override { return {16, 32, 64, 128}; }
  size_t maxBatchSize() const override { return 256; }

  std::optional<Failure> tokenize(std::string_view Text, bool Truncate,
                                  Side Direction, Tokens &Out) const override {
    const tokenizer::Tokenizer &T = !Truncate                 ? Full
                                    : Direction == Side::Left ? Left
                                                              : Right;
    tokenizer::Encoding E;
    if (llvm::Error Err =
            T.encode(llvm::StringRef(Text.data(), Text.size()), E))
      return Failure{Failure::BadInput, llvm::toString(std::move(Err))};
    Out.Ids = std::move(E.Ids);
    Out.TypeIds = std::move(E.TypeIds);
    return std::nullopt;
  }

  std::optional<Failure> embed(const std::vector<const Tokens *> &Batch,
                               std::vector<std::vector<float>> &Out) override {
    Out.resize(Batch.size());
    for (size_t R = 0; R < Batch.size(); ++R) {
      uint64_t S = 0x9E3779B97F4A7C15ULL;
      for (uint32_t Id : Batch[R]->Ids)
        S = (S ^ Id) * 0xBF58476D1CE4E5B9ULL;
      std::vector<float> &V = Out[R];
      V.resize(Dim);
      for (float &X : V) {
        S ^= S << 13;
        S ^= S >> 7;
        S ^= S << 17;
        // Uniform in (-0.15, 0.15): the spread of a normalized 384-wide row.
        X = float(double(S >> 11) * 0x1p-53 * 0.3 - 0.15);
      }
    }
    return std::nullopt;
  }

  std::vector<DeviceState> devices() const override {
    DeviceState S;
    S.Name = "tokenize-only:0";
    return {S};
  }

private:
  tokenizer::Tokenizer Right, Left, Full;
  size_t Dim, Max;
};

} // namespace

llvm::Expected<std::unique_ptr<Backend>>
createTokenizeOnlyBackend(const std::string &TokenizerPath, size_t Dimension,
                          size_t MaxLength) {
  auto Make =
      [&](size_t Length,
          tokenizer::Direction Side) -> llvm::Expected<tokenizer::Tokenizer> {
    auto T = tokenizer::Tokenizer::load(TokenizerPath);
    if (!T)
      return T.takeError();
    tokenizer::Truncation Cut = T->truncation();
    Cut.MaxLength = Length;
    Cut.Side = Side;
    if (llvm::Error E = T->setTruncation(Cut))
      return std::move(E);
    return std::move(*T);
  };
  auto R = Make(MaxLength, tokenizer::Direction::Right);
  if (!R)
    return R.takeError();
  auto L = Make(MaxLength, tokenizer::Direction::Left);
  if (!L)
    return L.takeError();
  auto F = Make(0, tokenizer::Direction::Right);
  if (!F)
    return F.takeError();
  return std::make_unique<TokenizeOnlyBackend>(
      std::move(*R), std::move(*L), std::move(*F), Dimension, MaxLength);
}

} // namespace kiln::serve
