//===- fuzz_tokenizer.cpp - libFuzzer target for the tokenizer ------------===//
//
// Encodes arbitrary bytes (invalid UTF-8 included) with a small WordPiece
// tokenizer whose added tokens use every matching option; inputs that start
// with '{' are also loaded as a tokenizer.json and, when they load, used to
// encode a few texts. Either an error or a result, never a crash.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/Tokenizer.h"

#include <cstdlib>

using namespace kiln::tokenizer;

static const char *TokenizerJson = R"({
  "added_tokens": [
    {"id": 0, "content": "[UNK]", "special": true, "normalized": false},
    {"id": 1, "content": "[CLS]", "special": true, "normalized": false},
    {"id": 2, "content": "[SEP]", "special": true, "normalized": false},
    {"id": 3, "content": "[MASK]", "special": true, "lstrip": true, "normalized": false},
    {"id": 9, "content": "<w>", "single_word": true, "rstrip": true, "normalized": false},
    {"id": 10, "content": "Ünï", "normalized": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true,
                 "handle_chinese_chars": true, "strip_accents": null,
                 "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2],
                     "cls": ["[CLS]", 1]},
  "truncation": {"max_length": 16, "strategy": "LongestFirst",
                 "direction": "Left"},
  "model": {"type": "WordPiece", "unk_token": "[UNK]",
            "max_input_chars_per_word": 12,
            "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[MASK]": 3,
                      "a": 4, "##a": 5, "é": 6, "##日": 7, "i": 8}}
})";

static void encodeAll(const Tokenizer &T, llvm::StringRef Text) {
  Encoding E;
  if (llvm::Error Err = T.encode(Text, E)) {
    llvm::consumeError(std::move(Err));
  } else if (E.Ids.size() != E.TypeIds.size() ||
             E.Ids.size() != E.AttentionMask.size()) {
    std::abort();
  }
  auto Pair = T.encodePair(Text, Text.take_front(Text.size() / 2));
  if (!Pair)
    llvm::consumeError(Pair.takeError());
}

/// A vocab.txt tokenizer (no normalized added tokens), cut from the right
/// at \p MaxLength: the case where encode stops early and normalizes long
/// text a chunk at a time.
static Tokenizer rightCut(size_t MaxLength) {
  Tokenizer T = llvm::cantFail(Tokenizer::fromVocab(
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n##a\nb\n##b\n\xc3\xa9\n"
      "\xe6\x97\xa5\n##\xe6\x97\xa5\n.\n,\n",
      {}));
  Truncation Cut = T.truncation();
  Cut.MaxLength = MaxLength;
  llvm::cantFail(T.setTruncation(Cut));
  return T;
}

/// The early stop's oracle: cut at N, the ids are the uncut ids' first N - 1
/// then [SEP] (the uncut text's [CLS] + model ids, cut to N - 1).
static void checkEarlyStop(llvm::StringRef Text) {
  static Tokenizer Full = rightCut(0), Cut = rightCut(8);
  auto F = Full.encode(Text);
  auto C = Cut.encode(Text);
  if (!F || !C) {
    if (bool(F) != bool(C))
      std::abort(); // invalid UTF-8 is invalid whatever the truncation
    llvm::consumeError(F.takeError());
    llvm::consumeError(C.takeError());
    return;
  }
  std::vector<uint32_t> Want(F->Ids.begin(), F->Ids.end() - 1); // no [SEP]
  if (Want.size() > 7)
    Want.resize(7);
  Want.push_back(F->Ids.back());
  if (C->Ids != Want)
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  static Tokenizer Fixed = llvm::cantFail(Tokenizer::fromJson(TokenizerJson));
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  encodeAll(Fixed, Text);
  checkEarlyStop(Text);
  // Long inputs cross the 512-byte chunks of normalization: the input
  // repeated, joined by spaces, cut at 8 and 200 tokens.
  if (Size && Size < 256) {
    std::string Long;
    while (Long.size() < 1500)
      Long += Text.str() + (Long.size() % 3 ? " " : "");
    checkEarlyStop(Long);
  }
  if (Text.starts_with("{")) {
    auto Loaded = Tokenizer::fromJson(Text, "fuzz.json");
    if (!Loaded) {
      llvm::consumeError(Loaded.takeError());
      return 0;
    }
    for (const char *Sample :
         {"", "Hello, world! [CLS] a##a", "日本 é\xcc\x81"})
      encodeAll(*Loaded, Sample);
  }
  return 0;
}
