//===- Tokenizer.h - WordPiece tokenizer, exact to HF tokenizers -*- C++ -*-===//
//
// Turns text into token ids the way the Hugging Face `tokenizers` library
// does for BERT-style models: added (special) tokens split out of the raw
// text, the BertNormalizer, the BertPreTokenizer, WordPiece, truncation and
// the TemplateProcessing / BertProcessing post-processor. Loads a
// `tokenizer.json` or a bare `vocab.txt`. Anything else that a
// tokenizer.json can describe (BPE, Unigram, other normalizers) is refused
// with an error naming it. docs/tokenizer.md says what is exact and why.
//
// A Tokenizer is immutable after loading apart from setTruncation(), so
// encode() may be called from many threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOKENIZER_TOKENIZER_H
#define KILN_TOKENIZER_TOKENIZER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::tokenizer {

/// The result of encoding one text (or one pair of texts).
struct Encoding {
  std::vector<uint32_t> Ids;
  std::vector<uint32_t> TypeIds;
  std::vector<uint32_t> AttentionMask;
  void clear() {
    Ids.clear();
    TypeIds.clear();
    AttentionMask.clear();
  }
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class Direction { Right, Left };

/// `tokenizers`' TruncationParams. MaxLength counts the special tokens the
/// post-processor adds; 0 means "no truncation".
struct Truncation {
  size_t MaxLength = 0;
  TruncationStrategy Strategy = TruncationStrategy::LongestFirst;
  Direction Side = Direction::Right;
};

/// `tokenizers`' PaddingParams. FixedLength 0 means "to the longest of the
/// batch" (BatchLongest).
struct Padding {
  bool Enabled = false;
  size_t FixedLength = 0;
  size_t PadToMultipleOf = 0;
  Direction Side = Direction::Right;
  uint32_t PadId = 0;
  uint32_t PadTypeId = 0;
};

/// Options of a tokenizer built from a bare vocab.txt, as
/// `tokenizers.BertWordPieceTokenizer` builds it.
struct VocabOptions {
  bool Lowercase = true;
  /// Unset: strip accents exactly when lowercasing (BERT's rule).
  std::optional<bool> StripAccents;
};

class Tokenizer {
public:
  /// Parses a tokenizer.json document. \p Name is used in messages.
  static llvm::Expected<Tokenizer>
  fromJson(llvm::StringRef Json, llvm::StringRef Name = "tokenizer.json");
  /// Builds a BERT WordPiece tokenizer from vocab.txt text (one token a line).
  static llvm::Expected<Tokenizer> fromVocab(llvm::StringRef VocabText,
                                             const VocabOptions &Options);
  /// Loads a file: `*.txt` as vocab.txt (with \p Options), anything else as
  /// tokenizer.json.
  static llvm::Expected<Tokenizer> load(llvm::StringRef Path,
                                        const VocabOptions &Options = {});

  Tokenizer(Tokenizer &&);
  Tokenizer &operator=(Tokenizer &&);
  ~Tokenizer();

  /// Encodes one text with the special tokens of the post-processor and the
  /// tokenizer's truncation. Fails on invalid UTF-8 (the `tokenizers` Python
  /// API only takes str, so there is no replacement rule to copy).
  llvm::Error encode(llvm::StringRef Text, Encoding &Out) const;
  llvm::Expected<Encoding> encode(llvm::StringRef Text) const;
  /// Encodes a pair (sentence A, sentence B), as `encode(a, b)` does.
  llvm::Expected<Encoding> encodePair(llvm::StringRef A,
                                      llvm::StringRef B) const;

  /// Pads every encoding of a batch as padding() says (no-op if disabled).
  void pad(std::vector<Encoding> &Batch) const;

  const Truncation &truncation() const;
  /// Fails when MaxLength cannot hold the post-processor's special tokens.
  llvm::Error setTruncation(const Truncation &T);
  const Padding &padding() const;
  void setPadding(const Padding &P);

  /// Size of the model's vocabulary (ids are below this, unless added
  /// tokens extend it).
  size_t vocabSize() const;
  /// The vocabulary's token for \p Id, or an empty string.
  llvm::StringRef idToToken(uint32_t Id) const;
  /// The id of a vocabulary or added token.
  std::optional<uint32_t> tokenToId(llvm::StringRef Token) const;

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> I);
  std::unique_ptr<Impl> P;
};

} // namespace kiln::tokenizer

#endif
