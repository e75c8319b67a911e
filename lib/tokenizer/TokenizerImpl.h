//===- TokenizerImpl.h - the tokenizer's tables (internal) -------*- C++ -*-===//
//
// What a loaded Tokenizer holds, shared by the loader (TokenizerLoad.cpp)
// and the encoder (Tokenizer.cpp). Not part of the library's interface.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOKENIZER_TOKENIZERIMPL_H
#define KILN_TOKENIZER_TOKENIZERIMPL_H

#include "tokenizer/Tokenizer.h"

#include <array>
#include <cstring>
#include <string_view>

namespace kiln::tokenizer {

/// An open-addressing hash map from byte strings to ids. The keys point into
/// storage the map owns, so lookups take a string_view and never allocate.
class VocabMap {
public:
  void build(const std::vector<std::pair<std::string, uint32_t>> &Entries);
  /// The id of \p Key, or -1.
  int64_t find(const char *Key, size_t Len) const {
    if (Slots.empty())
      return -1;
    uint64_t H = hash(Key, Len);
    for (size_t I = H & Mask;; I = (I + 1) & Mask) {
      const Slot &S = Slots[I];
      if (S.Len == Empty)
        return -1;
      if (S.Hash == H && S.Len == Len &&
          std::memcmp(Storage.data() + S.Offset, Key, Len) == 0)
        return S.Id;
    }
  }
  /// Length in bytes of the longest key.
  size_t maxKeyLength() const { return MaxKeyLen; }

  static uint64_t hash(const char *S, size_t N) {
    uint64_t H = 0x9E3779B97F4A7C15ULL ^ N;
    while (N >= 8) {
      uint64_t W;
      std::memcpy(&W, S, 8);
      H = (H ^ W) * 0xBF58476D1CE4E5B9ULL;
      H ^= H >> 31;
      S += 8;
      N -= 8;
    }
    uint64_t W = 0;
    std::memcpy(&W, S, N);
    H = (H ^ W) * 0x94D049BB133111EBULL;
    return H ^ (H >> 29);
  }

private:
  static constexpr uint32_t Empty = UINT32_MAX;
  struct Slot {
    uint64_t Hash = 0;
    uint32_t Offset = 0;
    uint32_t Len = Empty;
    uint32_t Id = 0;
  };
  std::vector<Slot> Slots;
  std::string Storage;
  size_t Mask = 0;
  size_t MaxKeyLen = 0;
};

/// A token the `tokenizers` AddedVocabulary splits out of the text before
/// the model sees it.
struct AddedToken {
  std::string Content; // normalized already when Normalized is set
  uint32_t Id = 0;
  bool Special = false;
  bool SingleWord = false;
  bool LStrip = false;
  bool RStrip = false;
  bool Normalized = false;
};

/// Added tokens matched on one side of normalization, leftmost-longest.
struct AddedTokenSet {
  std::vector<AddedToken> Tokens;
  std::array<bool, 256> FirstByte{};
  void add(AddedToken T) {
    if (T.Content.empty())
      return;
    FirstByte[uint8_t(T.Content[0])] = true;
    Tokens.push_back(std::move(T));
  }
};

struct NormalizerConfig {
  bool Enabled = false;
  bool CleanText = true;
  bool ChineseChars = true;
  bool StripAccents = true;
  bool Lowercase = true;
};

/// One piece of a TemplateProcessing template: a special token (one or more
/// ids) or sequence A (0) or B (1).
struct TemplatePiece {
  int Sequence = -1;
  std::vector<uint32_t> Ids;
  uint32_t TypeId = 0;
};

struct Tokenizer::Impl {
  // WordPiece.
  VocabMap Words;         // every vocabulary token
  VocabMap Continuations; // tokens starting with the prefix, prefix removed
  std::string ContinuingPrefix = "##";
  std::vector<std::string> IdToToken;
  size_t ModelVocabSize = 0;
  uint32_t UnkId = 0;
  size_t MaxInputCharsPerWord = 100;

  NormalizerConfig Normalizer;
  bool BertPreTokenizer = false;
  AddedTokenSet RawAdded;        // matched in the original text
  AddedTokenSet NormalizedAdded; // matched in the normalized text

  bool HasPostProcessor = false;
  std::vector<TemplatePiece> Single, Pair;
  size_t AddedSingle = 0, AddedPair = 0;

  Truncation Trunc;
  Padding Pad;

  /// Appends the model ids of \p Text (no special tokens, no truncation),
  /// or only the first ones: it may stop once Ids holds \p Limit or more
  /// (the ids up to there are the whole text's).
  llvm::Error tokenize(llvm::StringRef Text, std::vector<uint32_t> &Ids,
                       size_t Limit) const;
  /// Applies the normalizer to \p Text, appending to \p Out (\p Text must be
  /// valid UTF-8).
  void normalize(llvm::StringRef Text, std::string &Out) const;
};

} // namespace kiln::tokenizer

#endif
