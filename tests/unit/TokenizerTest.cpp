//===- TokenizerTest.cpp - WordPiece tokenizer unit tests -----------------===//
//
// Small hand-made vocabularies: each case pins one rule of the `tokenizers`
// pipeline (added tokens, normalizer, pre-tokenizer, WordPiece, truncation,
// post-processor) and the errors. tests/tokenizer checks the real
// all-MiniLM-L6-v2 tokenizer against the `tokenizers` package itself.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

using namespace kiln::tokenizer;

namespace {

// Ids are line numbers: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 ...
const char *Vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\n"
                    "un\n##aff\n##able\ni\n\xcc\x87\n" // 13: i, 14: U+0307
                    "cafe\ncaf\n##e\n\xe4\xbd\xa0\n\xe5\xa5\xbd\n"
                    "[\n]\ncls\nmask\nstrasse\nfi\n";

Tokenizer vocabTokenizer(bool Lowercase = true,
                         std::optional<bool> Strip = std::nullopt) {
  VocabOptions O;
  O.Lowercase = Lowercase;
  O.StripAccents = Strip;
  auto T = Tokenizer::fromVocab(Vocab, O);
  EXPECT_TRUE(bool(T)) << llvm::toString(T.takeError());
  return std::move(*T);
}

std::vector<uint32_t> ids(const Tokenizer &T, llvm::StringRef Text) {
  auto E = T.encode(Text);
  if (!E) {
    ADD_FAILURE() << llvm::toString(E.takeError());
    return {};
  }
  return E->Ids;
}

std::string errorOf(llvm::Error E) {
  return E ? llvm::toString(std::move(E)) : std::string("(no error)");
}

template <typename T> std::string errorOf(llvm::Expected<T> E) {
  return E ? std::string("(no error)") : llvm::toString(E.takeError());
}

std::string jsonWith(llvm::StringRef Model, llvm::StringRef Extra = "") {
  return (llvm::Twine("{\"model\": ") + Model + Extra + "}").str();
}

const char *WordPieceModel =
    "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
    "\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"a\": 3, "
    "\"##a\": 4}}";

} // namespace

TEST(TokenizerTest, WordPieceWithContinuations) {
  Tokenizer T = vocabTokenizer();
  EXPECT_EQ(ids(T, "Hello, world!"), (std::vector<uint32_t>{2, 5, 7, 6, 8, 3}));
  EXPECT_EQ(ids(T, "unaffable"), (std::vector<uint32_t>{2, 9, 10, 11, 3}));
  // One part without a match makes the whole word [UNK].
  EXPECT_EQ(ids(T, "unaffablex hello"), (std::vector<uint32_t>{2, 1, 5, 3}));
}

TEST(TokenizerTest, EmptyAndWhitespaceOnly) {
  Tokenizer T = vocabTokenizer();
  EXPECT_EQ(ids(T, ""), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(ids(T, " \t\n\xe3\x80\x80"), (std::vector<uint32_t>{2, 3}));
}

TEST(TokenizerTest, SpecialTokenTextIsMatchedBeforeNormalizing) {
  Tokenizer T = vocabTokenizer();
  EXPECT_EQ(ids(T, "hello[MASK]world"), (std::vector<uint32_t>{2, 5, 4, 6, 3}));
  // Case matters: [mask] is plain text, split at its brackets.
  EXPECT_EQ(ids(T, "[Mask]"), (std::vector<uint32_t>{2, 19, 22, 20, 3}));
}

TEST(TokenizerTest, NormalizerCleansAccentsAndCase) {
  Tokenizer T = vocabTokenizer();
  // NFC and NFD accents both strip to "cafe"; a control character goes.
  EXPECT_EQ(ids(T, "Caf\xc3\xa9"), (std::vector<uint32_t>{2, 14, 3}));
  EXPECT_EQ(ids(T, "Cafe\xcc\x81\x01"), (std::vector<uint32_t>{2, 14, 3}));
  // CJK ideographs become words of their own.
  EXPECT_EQ(ids(T, "\xe4\xbd\xa0\xe5\xa5\xbd"),
            (std::vector<uint32_t>{2, 17, 18, 3}));
  // Without lowercasing nothing is stripped (strip_accents follows it).
  Tokenizer Cased = vocabTokenizer(false);
  EXPECT_EQ(ids(Cased, "Hello"), (std::vector<uint32_t>{2, 1, 3}));
}

TEST(TokenizerTest, FullLowercaseMapping) {
  // U+0130 lowercases to "i" + U+0307 (Rust's char::to_lowercase), which
  // only shows when accents are kept: i and U+0307 (an Mn, split as a
  // continuation-less piece of one word).
  Tokenizer Keep = vocabTokenizer(true, false);
  auto E = Keep.encode("\xc4\xb0");
  ASSERT_TRUE(bool(E));
  EXPECT_EQ(E->Ids, (std::vector<uint32_t>{2, 1, 3})); // no "##̇" piece
  Tokenizer Strip = vocabTokenizer(true, true);
  EXPECT_EQ(ids(Strip, "\xc4\xb0"), (std::vector<uint32_t>{2, 12, 3}));
}

TEST(TokenizerTest, MaxInputCharsPerWord) {
  std::string Model = "{\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", "
                      "\"max_input_chars_per_word\": 3, \"vocab\": "
                      "{\"[UNK]\": 0, \"a\": 1, \"##a\": 2}}";
  auto T = Tokenizer::fromJson(
      jsonWith(Model, ", \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}"));
  ASSERT_TRUE(bool(T)) << llvm::toString(T.takeError());
  EXPECT_EQ(ids(*T, "aaa aaaa"), (std::vector<uint32_t>{1, 2, 2, 0}));
}

TEST(TokenizerTest, TruncationBothDirections) {
  Tokenizer T = vocabTokenizer();
  Truncation Tr;
  Tr.MaxLength = 4;
  ASSERT_FALSE(bool(T.setTruncation(Tr)));
  EXPECT_EQ(ids(T, "hello world , !"), (std::vector<uint32_t>{2, 5, 6, 3}));
  Tr.Side = Direction::Left;
  ASSERT_FALSE(bool(T.setTruncation(Tr)));
  EXPECT_EQ(ids(T, "hello world , !"), (std::vector<uint32_t>{2, 7, 8, 3}));
  Tr.MaxLength = 1;
  EXPECT_NE(errorOf(T.setTruncation(Tr)).find("cannot hold the 2 special"),
            std::string::npos);
}

TEST(TokenizerTest, PairsTruncateLongestFirst) {
  Tokenizer T = vocabTokenizer();
  Truncation Tr;
  Tr.MaxLength = 7; // 3 special tokens, 4 for the texts
  ASSERT_FALSE(bool(T.setTruncation(Tr)));
  auto E = T.encodePair("hello world , !", "hello");
  ASSERT_TRUE(bool(E));
  EXPECT_EQ(E->Ids, (std::vector<uint32_t>{2, 5, 6, 7, 3, 5, 3}));
  EXPECT_EQ(E->TypeIds, (std::vector<uint32_t>{0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(E->AttentionMask, std::vector<uint32_t>(7, 1));
}

TEST(TokenizerTest, TemplateProcessingAndPadding) {
  std::string Extra =
      ", \"post_processor\": {\"type\": \"TemplateProcessing\", "
      "\"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\", \"type_id\": 0}}, "
      "{\"Sequence\": {\"id\": \"A\", \"type_id\": 1}}], \"pair\": [], "
      "\"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [1], "
      "\"tokens\": [\"[CLS]\"]}}}, "
      "\"padding\": {\"strategy\": {\"Fixed\": 5}, \"direction\": \"Left\", "
      "\"pad_id\": 9, \"pad_type_id\": 0}";
  auto T = Tokenizer::fromJson(jsonWith(WordPieceModel, Extra));
  ASSERT_TRUE(bool(T)) << llvm::toString(T.takeError());
  std::vector<Encoding> Batch;
  Batch.push_back(cantFail(T->encode("aa")));
  EXPECT_EQ(Batch[0].Ids, (std::vector<uint32_t>{1, 3, 4}));
  EXPECT_EQ(Batch[0].TypeIds, (std::vector<uint32_t>{0, 1, 1}));
  T->pad(Batch);
  EXPECT_EQ(Batch[0].Ids, (std::vector<uint32_t>{9, 9, 1, 3, 4}));
  EXPECT_EQ(Batch[0].AttentionMask, (std::vector<uint32_t>{0, 0, 1, 1, 1}));
}

TEST(TokenizerTest, UnsupportedKindsAreNamed) {
  EXPECT_NE(errorOf(Tokenizer::fromJson(jsonWith(
                        "{\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}")))
                .find("the model 'BPE' is not supported"),
            std::string::npos);
  EXPECT_NE(
      errorOf(Tokenizer::fromJson(jsonWith(
                  WordPieceModel, ", \"normalizer\": {\"type\": \"NFKC\"}")))
          .find("the normalizer 'NFKC' is not supported"),
      std::string::npos);
  EXPECT_NE(errorOf(Tokenizer::fromJson(jsonWith(
                        WordPieceModel,
                        ", \"pre_tokenizer\": {\"type\": \"ByteLevel\"}")))
                .find("the pre-tokenizer 'ByteLevel' is not supported"),
            std::string::npos);
}

TEST(TokenizerTest, MalformedJsonNamesTheCause) {
  std::string E = errorOf(Tokenizer::fromJson("{\"model\": ", "t.json"));
  EXPECT_NE(E.find("t.json: malformed tokenizer"), std::string::npos) << E;
  EXPECT_NE(E.find("parse error"), std::string::npos) << E;
  E = errorOf(Tokenizer::fromJson(
      jsonWith("{\"type\": \"WordPiece\", \"vocab\": {\"a\": \"x\"}}")));
  EXPECT_NE(E.find("not a valid token id"), std::string::npos) << E;
  E = errorOf(Tokenizer::fromJson(
      jsonWith("{\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}")));
  EXPECT_NE(E.find("unknown token '[UNK]' is not in the vocabulary"),
            std::string::npos)
      << E;
}

TEST(TokenizerTest, InvalidUtf8IsAnError) {
  Tokenizer T = vocabTokenizer();
  for (const char *Bad :
       {"\xff", "abc\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"}) {
    std::string E = errorOf(T.encode(Bad));
    EXPECT_NE(E.find("not valid UTF-8"), std::string::npos) << E;
  }
}
