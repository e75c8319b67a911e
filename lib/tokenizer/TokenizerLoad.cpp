//===- TokenizerLoad.cpp - reading tokenizer.json and vocab.txt -----------===//
//
// Builds a Tokenizer from the JSON that `tokenizers` serializes, accepting
// exactly the components Tokenizer.cpp implements and naming any other.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/TokenizerImpl.h"
#include "tokenizer/Unicode.h"

#include "ir/Error.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

namespace kiln::tokenizer {

using nlohmann::json;

namespace {

/// A field's value or \p Default when absent or null.
template <typename T> T get(const json &Object, const char *Key, T Default) {
  auto It = Object.find(Key);
  if (It == Object.end() || It->is_null())
    return Default;
  return It->template get<T>();
}

std::string typeOf(const json &Component) {
  if (!Component.is_object())
    return "(not an object)";
  return get<std::string>(Component, "type", "(no type)");
}

uint32_t toId(const json &Value, const llvm::Twine &What) {
  if (!Value.is_number_unsigned() || Value.get<uint64_t>() > UINT32_MAX)
    throw std::invalid_argument((What + " is not a valid token id").str());
  return uint32_t(Value.get<uint64_t>());
}

llvm::Error unsupported(llvm::StringRef Component, llvm::StringRef Type,
                        llvm::StringRef Supported) {
  return makeError("the " + Component + " '" + Type +
                   "' is not supported (kiln implements " + Supported + ")");
}

/// Fills the WordPiece tables from (token, id) pairs.
llvm::Error
buildModel(Tokenizer::Impl &I,
           const std::vector<std::pair<std::string, uint32_t>> &Vocab,
           llvm::StringRef UnkToken) {
  I.Words.build(Vocab);
  std::vector<std::pair<std::string, uint32_t>> Continuations;
  if (I.ContinuingPrefix.empty()) {
    I.Continuations.build(Vocab);
  } else {
    for (const auto &[Token, Id] : Vocab)
      if (llvm::StringRef(Token).starts_with(I.ContinuingPrefix))
        Continuations.emplace_back(Token.substr(I.ContinuingPrefix.size()), Id);
    I.Continuations.build(Continuations);
  }
  uint32_t MaxId = 0;
  for (const auto &Entry : Vocab)
    MaxId = std::max(MaxId, Entry.second);
  I.IdToToken.assign(Vocab.empty() ? 0 : size_t(MaxId) + 1, std::string());
  for (const auto &[Token, Id] : Vocab)
    I.IdToToken[Id] = Token;
  I.ModelVocabSize = Vocab.size();
  int64_t Unk = I.Words.find(UnkToken.data(), UnkToken.size());
  if (Unk < 0)
    return makeError("the unknown token '" + UnkToken +
                     "' is not in the vocabulary");
  I.UnkId = uint32_t(Unk);
  return llvm::Error::success();
}

void addAddedToken(Tokenizer::Impl &I, AddedToken T) {
  if (T.Id >= I.IdToToken.size())
    I.IdToToken.resize(size_t(T.Id) + 1);
  if (I.IdToToken[T.Id].empty())
    I.IdToToken[T.Id] = T.Content;
  if (T.Normalized) {
    std::string Content;
    I.normalize(T.Content, Content);
    T.Content = std::move(Content);
    I.NormalizedAdded.add(std::move(T));
  } else {
    I.RawAdded.add(std::move(T));
  }
}

llvm::Error parseNormalizer(Tokenizer::Impl &I, const json &N) {
  if (N.is_null())
    return llvm::Error::success();
  std::string Type = typeOf(N);
  if (Type != "BertNormalizer")
    return unsupported("normalizer", Type, "BertNormalizer");
  NormalizerConfig &C = I.Normalizer;
  C.Enabled = true;
  C.CleanText = get<bool>(N, "clean_text", true);
  C.ChineseChars = get<bool>(N, "handle_chinese_chars", true);
  C.Lowercase = get<bool>(N, "lowercase", true);
  // strip_accents: null means "when lowercasing" (BERT's rule).
  C.StripAccents = get<bool>(N, "strip_accents", C.Lowercase);
  return llvm::Error::success();
}

llvm::Error parsePreTokenizer(Tokenizer::Impl &I, const json &P) {
  if (P.is_null())
    return llvm::Error::success();
  std::string Type = typeOf(P);
  if (Type != "BertPreTokenizer")
    return unsupported("pre-tokenizer", Type, "BertPreTokenizer");
  I.BertPreTokenizer = true;
  return llvm::Error::success();
}

llvm::Expected<std::vector<TemplatePiece>>
parseTemplate(const json &Pieces, const json &SpecialTokens) {
  std::vector<TemplatePiece> Out;
  for (const json &Piece : Pieces) {
    TemplatePiece T;
    if (auto It = Piece.find("SpecialToken"); It != Piece.end()) {
      std::string Name = It->at("id").get<std::string>();
      auto Special = SpecialTokens.find(Name);
      if (Special == SpecialTokens.end())
        return makeError("post_processor: special token '" + Name +
                         "' has no entry in special_tokens");
      for (const json &Id : Special->at("ids"))
        T.Ids.push_back(toId(Id, "post_processor: an id of '" + Name + "'"));
      T.TypeId = toId(It->at("type_id"), "post_processor: type_id");
    } else if (auto It = Piece.find("Sequence"); It != Piece.end()) {
      std::string Name = It->at("id").get<std::string>();
      if (Name != "A" && Name != "B")
        return makeError("post_processor: unknown sequence '" + Name + "'");
      T.Sequence = Name == "A" ? 0 : 1;
      T.TypeId = toId(It->at("type_id"), "post_processor: type_id");
    } else {
      return makeError("post_processor: a template piece is neither "
                       "SpecialToken nor Sequence");
    }
    Out.push_back(std::move(T));
  }
  return Out;
}

size_t countSpecial(const std::vector<TemplatePiece> &Pieces) {
  size_t N = 0;
  for (const TemplatePiece &P : Pieces)
    N += P.Ids.size();
  return N;
}

/// The post-processor BertWordPieceTokenizer and BertProcessing describe:
/// [CLS] A [SEP] and [CLS] A [SEP] B [SEP], B's part with type id 1.
void setBertTemplate(Tokenizer::Impl &I, uint32_t Cls, uint32_t Sep) {
  I.HasPostProcessor = true;
  I.Single = {{-1, {Cls}, 0}, {0, {}, 0}, {-1, {Sep}, 0}};
  I.Pair = {
      {-1, {Cls}, 0}, {0, {}, 0}, {-1, {Sep}, 0}, {1, {}, 1}, {-1, {Sep}, 1}};
  I.AddedSingle = 2;
  I.AddedPair = 3;
}

llvm::Error parsePostProcessor(Tokenizer::Impl &I, const json &P) {
  if (P.is_null())
    return llvm::Error::success();
  std::string Type = typeOf(P);
  if (Type == "BertProcessing") {
    setBertTemplate(I, toId(P.at("cls").at(1), "post_processor: cls"),
                    toId(P.at("sep").at(1), "post_processor: sep"));
    return llvm::Error::success();
  }
  if (Type != "TemplateProcessing")
    return unsupported("post-processor", Type,
                       "TemplateProcessing and BertProcessing");
  const json &Special = P.at("special_tokens");
  auto Single = parseTemplate(P.at("single"), Special);
  if (!Single)
    return Single.takeError();
  auto Pair = parseTemplate(P.at("pair"), Special);
  if (!Pair)
    return Pair.takeError();
  I.HasPostProcessor = true;
  I.Single = std::move(*Single);
  I.Pair = std::move(*Pair);
  I.AddedSingle = countSpecial(I.Single);
  I.AddedPair = countSpecial(I.Pair);
  return llvm::Error::success();
}

Direction parseDirection(const json &Object) {
  return get<std::string>(Object, "direction", "Right") == "Left"
             ? Direction::Left
             : Direction::Right;
}

llvm::Expected<Truncation> parseTruncation(const json &T) {
  Truncation Out;
  if (T.is_null())
    return Out;
  Out.MaxLength = T.at("max_length").get<size_t>();
  std::string Strategy = get<std::string>(T, "strategy", "LongestFirst");
  if (Strategy == "LongestFirst")
    Out.Strategy = TruncationStrategy::LongestFirst;
  else if (Strategy == "OnlyFirst")
    Out.Strategy = TruncationStrategy::OnlyFirst;
  else if (Strategy == "OnlySecond")
    Out.Strategy = TruncationStrategy::OnlySecond;
  else
    return makeError("truncation: unknown strategy '" + Strategy + "'");
  Out.Side = parseDirection(T);
  return Out;
}

Padding parsePadding(const json &P) {
  Padding Out;
  if (P.is_null())
    return Out;
  Out.Enabled = true;
  const json &Strategy = P.at("strategy");
  if (Strategy.is_object() && Strategy.contains("Fixed"))
    Out.FixedLength = Strategy.at("Fixed").get<size_t>();
  Out.Side = parseDirection(P);
  Out.PadToMultipleOf = get<size_t>(P, "pad_to_multiple_of", 0);
  Out.PadId = get<uint32_t>(P, "pad_id", 0);
  Out.PadTypeId = get<uint32_t>(P, "pad_type_id", 0);
  return Out;
}

llvm::Expected<std::unique_ptr<Tokenizer::Impl>>
parseJson(llvm::StringRef Text) {
  json Doc = json::parse(Text.begin(), Text.end());
  if (!Doc.is_object())
    return makeError("the document is not a JSON object");
  auto I = std::make_unique<Tokenizer::Impl>();
  if (!Doc.contains("model"))
    return makeError("no 'model'");
  const json &Model = Doc.at("model");
  std::string Type = typeOf(Model);
  if (Type != "WordPiece")
    return unsupported("model", Type, "WordPiece");
  I->ContinuingPrefix =
      get<std::string>(Model, "continuing_subword_prefix", "##");
  I->MaxInputCharsPerWord = get<size_t>(Model, "max_input_chars_per_word", 100);
  std::vector<std::pair<std::string, uint32_t>> Vocab;
  const json &VocabJson = Model.at("vocab");
  if (!VocabJson.is_object())
    return makeError("model.vocab is not an object");
  Vocab.reserve(VocabJson.size());
  for (auto It = VocabJson.begin(); It != VocabJson.end(); ++It)
    Vocab.emplace_back(It.key(),
                       toId(It.value(), "model.vocab['" + It.key() + "']"));
  // Every component is parsed before the added tokens: a normalized one is
  // matched in its normalized form.
  if (llvm::Error E = parseNormalizer(*I, Doc.value("normalizer", json())))
    return std::move(E);
  if (llvm::Error E =
          buildModel(*I, Vocab, get<std::string>(Model, "unk_token", "[UNK]")))
    return std::move(E);
  if (llvm::Error E = parsePreTokenizer(*I, Doc.value("pre_tokenizer", json())))
    return std::move(E);
  if (llvm::Error E =
          parsePostProcessor(*I, Doc.value("post_processor", json())))
    return std::move(E);
  for (const json &A : Doc.value("added_tokens", json::array())) {
    AddedToken T;
    T.Content = A.at("content").get<std::string>();
    if (unicode::findInvalidUtf8(T.Content.data(), T.Content.size()) !=
        std::string::npos)
      return makeError("added token content is not valid UTF-8");
    T.Id = toId(A.at("id"), "added token id");
    T.Special = get<bool>(A, "special", false);
    T.SingleWord = get<bool>(A, "single_word", false);
    T.LStrip = get<bool>(A, "lstrip", false);
    T.RStrip = get<bool>(A, "rstrip", false);
    T.Normalized = get<bool>(A, "normalized", !T.Special);
    addAddedToken(*I, std::move(T));
  }
  auto Trunc = parseTruncation(Doc.value("truncation", json()));
  if (!Trunc)
    return Trunc.takeError();
  I->Trunc = *Trunc;
  I->Pad = parsePadding(Doc.value("padding", json()));
  return std::move(I);
}

} // namespace

llvm::Expected<Tokenizer> Tokenizer::fromJson(llvm::StringRef Json,
                                              llvm::StringRef Name) {
  std::unique_ptr<Impl> I;
  try {
    auto Parsed = parseJson(Json);
    if (!Parsed)
      return withContext(Parsed.takeError(), Name);
    I = std::move(*Parsed);
  } catch (const json::exception &E) {
    // nlohmann's messages name the cause (parse error at line:column, a
    // field of the wrong type, a missing key).
    return makeError(Name + ": malformed tokenizer: " + E.what());
  } catch (const std::exception &E) {
    return makeError(Name + ": malformed tokenizer: " + E.what());
  }
  Tokenizer T(std::move(I));
  if (llvm::Error E = T.setTruncation(T.truncation()))
    return withContext(std::move(E), Name);
  return std::move(T);
}

llvm::Expected<Tokenizer> Tokenizer::fromVocab(llvm::StringRef VocabText,
                                               const VocabOptions &Options) {
  if (unicode::findInvalidUtf8(VocabText.data(), VocabText.size()) !=
      std::string::npos)
    return makeError("vocab.txt is not valid UTF-8");
  auto I = std::make_unique<Impl>();
  std::vector<std::pair<std::string, uint32_t>> Vocab;
  // As WordPiece::read_file: one token a line, trailing whitespace trimmed.
  uint32_t Index = 0;
  while (!VocabText.empty()) {
    auto [Line, Rest] = VocabText.split('\n');
    Vocab.emplace_back(Line.rtrim(" \t\r\v\f").str(), Index++);
    VocabText = Rest;
  }
  I->Normalizer.Enabled = true;
  I->Normalizer.Lowercase = Options.Lowercase;
  I->Normalizer.StripAccents = Options.StripAccents.value_or(Options.Lowercase);
  I->BertPreTokenizer = true;
  if (llvm::Error E = buildModel(*I, Vocab, "[UNK]"))
    return withContext(std::move(E), "vocab.txt");
  // BertWordPieceTokenizer adds these as special tokens when present.
  for (const char *Special : {"[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]"}) {
    int64_t Id = I->Words.find(Special, std::strlen(Special));
    if (Id >= 0)
      addAddedToken(*I, AddedToken{Special, uint32_t(Id), true, false, false,
                                   false, false});
  }
  int64_t Cls = I->Words.find("[CLS]", 5), Sep = I->Words.find("[SEP]", 5);
  if (Cls < 0 || Sep < 0)
    return makeError("vocab.txt has no [CLS] or no [SEP] token");
  setBertTemplate(*I, uint32_t(Cls), uint32_t(Sep));
  return Tokenizer(std::move(I));
}

llvm::Expected<Tokenizer> Tokenizer::load(llvm::StringRef Path,
                                          const VocabOptions &Options) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!Buffer)
    return makeError("cannot read " + Path + ": " +
                     Buffer.getError().message());
  if (llvm::sys::path::extension(Path) == ".txt") {
    auto T = fromVocab((*Buffer)->getBuffer(), Options);
    if (!T)
      return withContext(T.takeError(), Path);
    return T;
  }
  return fromJson((*Buffer)->getBuffer(), Path);
}

} // namespace kiln::tokenizer
