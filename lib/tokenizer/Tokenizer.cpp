//===- Tokenizer.cpp - encoding text to ids -------------------------------===//
//
// The encoding pipeline of `tokenizers` for a WordPiece model, in its order:
// added tokens split out of the raw text, the BertNormalizer on the rest,
// added tokens with `normalized: true` split out of the normalized text, the
// BertPreTokenizer, WordPiece, truncation and the post-processor. Text that
// is all ASCII takes a table-driven path; the rest goes through utf8proc.
//
//===----------------------------------------------------------------------===//
#include "tokenizer/TokenizerImpl.h"
#include "tokenizer/Unicode.h"

#include "ir/Error.h"

#include <algorithm>

namespace kiln::tokenizer {

void VocabMap::build(
    const std::vector<std::pair<std::string, uint32_t>> &Entries) {
  size_t Capacity = 16;
  while (Capacity < Entries.size() * 2)
    Capacity *= 2;
  Slots.assign(Capacity, Slot());
  Mask = Capacity - 1;
  Storage.clear();
  MaxKeyLen = 0;
  for (const auto &[Key, Id] : Entries) {
    uint64_t H = hash(Key.data(), Key.size());
    size_t I = H & Mask;
    while (Slots[I].Len != Empty &&
           !(Slots[I].Hash == H && Slots[I].Len == Key.size() &&
             Storage.compare(Slots[I].Offset, Key.size(), Key) == 0))
      I = (I + 1) & Mask;
    if (Slots[I].Len == Empty) { // a repeated key keeps its last id
      Slots[I].Hash = H;
      Slots[I].Offset = uint32_t(Storage.size());
      Slots[I].Len = uint32_t(Key.size());
      Storage += Key;
    }
    Slots[I].Id = Id;
    MaxKeyLen = std::max(MaxKeyLen, Key.size());
  }
}

namespace {

bool isAscii(llvm::StringRef S) {
  const char *P = S.data(), *E = P + S.size();
  for (; P + 8 <= E; P += 8) {
    uint64_t W;
    std::memcpy(&W, P, 8);
    if (W & 0x8080808080808080ULL)
      return false;
  }
  for (; P < E; ++P)
    if (uint8_t(*P) & 0x80)
      return false;
  return true;
}

/// What the BertPreTokenizer sees in an ASCII byte.
enum AsciiClass : uint8_t { Plain, Space, Punct };
constexpr std::array<uint8_t, 128> makeAsciiClasses() {
  std::array<uint8_t, 128> T{};
  for (int C = 0; C < 128; ++C) {
    if ((C >= 0x09 && C <= 0x0D) || C == 0x20)
      T[C] = Space;
    else if ((C >= 0x21 && C <= 0x2F) || (C >= 0x3A && C <= 0x40) ||
             (C >= 0x5B && C <= 0x60) || (C >= 0x7B && C <= 0x7E))
      T[C] = Punct;
  }
  return T;
}
constexpr std::array<uint8_t, 128> AsciiClasses = makeAsciiClasses();

/// The code point that ends \p S (which is valid UTF-8 and not empty).
char32_t lastChar(llvm::StringRef S, size_t &Len) {
  size_t B = S.size() - 1;
  while (B > 0 && (uint8_t(S[B]) & 0xC0) == 0x80)
    --B;
  char32_t Cp = 0;
  unicode::decode(reinterpret_cast<const unsigned char *>(S.data()) + B,
                  S.size() - B, Cp);
  Len = S.size() - B;
  return Cp;
}

char32_t firstChar(llvm::StringRef S, size_t &Len) {
  char32_t Cp = 0;
  Len = unicode::decode(reinterpret_cast<const unsigned char *>(S.data()),
                        S.size(), Cp);
  return Cp;
}

bool endsWithWordChar(llvm::StringRef S) {
  size_t Len;
  return !S.empty() && unicode::isWordChar(lastChar(S, Len));
}

bool startsWithWordChar(llvm::StringRef S) {
  size_t Len;
  return !S.empty() && unicode::isWordChar(firstChar(S, Len));
}

/// Bytes of whitespace that end \p S.
size_t trailingWhitespace(llvm::StringRef S) {
  size_t N = 0, Len;
  while (N < S.size() && unicode::isWhitespace(lastChar(S.drop_back(N), Len)))
    N += Len;
  return N;
}

size_t leadingWhitespace(llvm::StringRef S) {
  size_t N = 0, Len;
  while (N < S.size() && unicode::isWhitespace(firstChar(S.drop_front(N), Len)))
    N += Len;
  return N;
}

/// Calls Emit(Piece, Id) for each stretch of \p S, Id being the added token
/// it is or -1 for plain text, as AddedVocabulary::find_matches splits it.
template <typename F>
void splitAddedTokens(llvm::StringRef S, const AddedTokenSet &Set, F &&Emit) {
  if (Set.Tokens.empty() || S.empty()) {
    Emit(S, int64_t(-1));
    return;
  }
  size_t StartOffset = 0, I = 0;
  while (I < S.size()) {
    if (!Set.FirstByte[uint8_t(S[I])]) {
      ++I;
      continue;
    }
    const AddedToken *Best = nullptr;
    for (const AddedToken &T : Set.Tokens)
      if ((!Best || T.Content.size() > Best->Content.size()) &&
          S.substr(I).starts_with(T.Content))
        Best = &T;
    if (!Best) {
      ++I;
      continue;
    }
    size_t Start = I, Stop = I + Best->Content.size();
    I = Stop;
    if (Best->SingleWord && (endsWithWordChar(S.substr(0, Start)) ||
                             startsWithWordChar(S.substr(Stop))))
      continue;
    if (Best->LStrip)
      Start =
          std::max(Start - trailingWhitespace(S.substr(0, Start)), StartOffset);
    if (Best->RStrip)
      Stop += leadingWhitespace(S.substr(Stop));
    if (StartOffset < Start)
      Emit(S.slice(StartOffset, Start), int64_t(-1));
    Emit(S.slice(Start, Stop), int64_t(Best->Id));
    StartOffset = Stop;
    I = std::max(I, Stop);
  }
  if (StartOffset < S.size())
    Emit(S.substr(StartOffset), int64_t(-1));
}

/// The canonical combining class; none below U+0300 has one (the first
/// combining marks), so ASCII and Latin-1 text skip utf8proc's lookup.
int combiningClassOf(char32_t Cp) {
  return Cp < 0x300 ? 0 : unicode::combiningClass(Cp);
}

/// Sorts each run of nonzero combining classes (NFD's canonical ordering).
void canonicalOrder(std::vector<char32_t> &Cps) {
  size_t N = Cps.size();
  for (size_t I = 0; I < N;) {
    if (combiningClassOf(Cps[I]) == 0) {
      ++I;
      continue;
    }
    size_t J = I;
    while (J < N && combiningClassOf(Cps[J]) != 0)
      ++J;
    // Runs are a few marks long: a stable insertion sort, no allocation.
    for (size_t K = I + 1; K < J; ++K) {
      char32_t Cp = Cps[K];
      int Class = unicode::combiningClass(Cp);
      size_t L = K;
      for (; L > I && unicode::combiningClass(Cps[L - 1]) > Class; --L)
        Cps[L] = Cps[L - 1];
      Cps[L] = Cp;
    }
    I = J;
  }
}

struct Scratch {
  std::vector<char32_t> Cps, Decomposed;
  std::string Normalized;
  std::vector<uint32_t> IdsA, IdsB;
};
thread_local Scratch TheScratch;

} // namespace

void Tokenizer::Impl::normalize(llvm::StringRef Text, std::string &Out) const {
  const NormalizerConfig &N = Normalizer;
  if (!N.Enabled) {
    Out.append(Text.data(), Text.size());
    return;
  }
  if (isAscii(Text)) {
    for (char C : Text) {
      if (N.CleanText) {
        if (C == '\t' || C == '\n' || C == '\r') {
          Out.push_back(' ');
          continue;
        }
        if (uint8_t(C) < 0x20 || C == 0x7F)
          continue;
      }
      if (N.Lowercase && C >= 'A' && C <= 'Z')
        C = char(C + 32);
      Out.push_back(C);
    }
    return;
  }
  Scratch &S = TheScratch;
  std::vector<char32_t> &Cps = S.Cps;
  Cps.clear();
  auto *U = reinterpret_cast<const unsigned char *>(Text.data());
  for (size_t I = 0; I < Text.size();) {
    char32_t Cp;
    size_t Len = unicode::decode(U + I, Text.size() - I, Cp);
    assert(Len && "normalize() needs valid UTF-8");
    I += Len;
    // ASCII inside a text that is not all ASCII: the all-ASCII path's rules
    // (what utf8proc's categories give for these code points).
    if (Cp < 0x80) {
      if (N.CleanText) {
        if (Cp == '\t' || Cp == '\n' || Cp == '\r') {
          Cps.push_back(' ');
          continue;
        }
        if (Cp < 0x20 || Cp == 0x7F)
          continue;
      }
      Cps.push_back(Cp);
      continue;
    }
    if (N.CleanText) {
      if (Cp == 0 || Cp == 0xFFFD ||
          (Cp != '\t' && Cp != '\n' && Cp != '\r' && unicode::isOther(Cp)))
        continue;
      if (unicode::isWhitespace(Cp))
        Cp = ' ';
    }
    if (N.ChineseChars && unicode::isChineseChar(Cp)) {
      Cps.push_back(' ');
      Cps.push_back(Cp);
      Cps.push_back(' ');
      continue;
    }
    Cps.push_back(Cp);
  }
  if (N.StripAccents) {
    std::vector<char32_t> &D = S.Decomposed;
    D.clear();
    char32_t Buf[8];
    for (char32_t Cp : Cps) {
      if (Cp < 0xC0) {
        D.push_back(Cp);
        continue;
      }
      size_t K = unicode::decompose(Cp, Buf, 8);
      D.insert(D.end(), Buf, Buf + K);
    }
    canonicalOrder(D);
    Cps.clear();
    for (char32_t Cp : D) // no nonspacing mark below U+0300
      if (Cp < 0x300 || !unicode::isMarkNonspacing(Cp))
        Cps.push_back(Cp);
  }
  for (char32_t Cp : Cps) {
    if (Cp < 0x80) {
      Out.push_back(char(N.Lowercase && Cp >= 'A' && Cp <= 'Z' ? Cp + 32 : Cp));
    } else if (N.Lowercase) {
      char32_t Lower[3];
      size_t K = unicode::toLowercase(Cp, Lower);
      for (size_t J = 0; J < K; ++J)
        unicode::append(Out, Lower[J]);
    } else {
      unicode::append(Out, Cp);
    }
  }
}

namespace {

/// WordPiece on one pre-token: greedy longest match from the left, the
/// whole word becoming [UNK] when any part of it has no match.
void wordPiece(const Tokenizer::Impl &T, const char *W, size_t Len,
               size_t Chars, std::vector<uint32_t> &Ids) {
  if (Chars > T.MaxInputCharsPerWord) {
    Ids.push_back(T.UnkId);
    return;
  }
  size_t Mark = Ids.size();
  size_t Start = 0;
  while (Start < Len) {
    const VocabMap &Map = Start == 0 ? T.Words : T.Continuations;
    size_t End = std::min(Len, Start + Map.maxKeyLength());
    while (End < Len && (uint8_t(W[End]) & 0xC0) == 0x80)
      --End; // a key longer than the longest one cannot match
    int64_t Id = -1;
    while (End > Start) {
      Id = Map.find(W + Start, End - Start);
      if (Id >= 0)
        break;
      --End;
      while (End > Start && (uint8_t(W[End]) & 0xC0) == 0x80)
        --End;
    }
    if (Id < 0) {
      Ids.resize(Mark);
      Ids.push_back(T.UnkId);
      return;
    }
    Ids.push_back(uint32_t(Id));
    Start = End;
  }
}

/// The BertPreTokenizer (split on whitespace, isolate each punctuation
/// character) feeding WordPiece. Stops after the word that brings Ids to
/// \p Limit: a word's pieces depend on that word alone, so the ids before
/// it are those of the whole text.
void preTokenizeAndModel(const Tokenizer::Impl &T, llvm::StringRef S,
                         std::vector<uint32_t> &Ids, size_t Limit) {
  if (!T.BertPreTokenizer) {
    if (!S.empty()) {
      size_t Chars = 0;
      for (char C : S)
        Chars += (uint8_t(C) & 0xC0) != 0x80;
      wordPiece(T, S.data(), S.size(), Chars, Ids);
    }
    return;
  }
  const char *P = S.data();
  size_t N = S.size(), WordStart = 0, WordChars = 0;
  auto Flush = [&](size_t End) {
    if (End > WordStart)
      wordPiece(T, P + WordStart, End - WordStart, WordChars, Ids);
    WordChars = 0;
  };
  for (size_t I = 0; I < N;) {
    uint8_t B = uint8_t(P[I]);
    size_t Len = 1;
    bool IsSpace, IsPunct;
    if (B < 0x80) {
      IsSpace = AsciiClasses[B] == Space;
      IsPunct = AsciiClasses[B] == Punct;
    } else {
      char32_t Cp;
      Len = unicode::decode(reinterpret_cast<const unsigned char *>(P) + I,
                            N - I, Cp);
      assert(Len && "pre-tokenizer needs valid UTF-8");
      IsSpace = unicode::isWhitespace(Cp);
      IsPunct = !IsSpace && unicode::isBertPunctuation(Cp);
    }
    if (IsSpace || IsPunct) {
      Flush(I);
      if (IsPunct)
        wordPiece(T, P + I, Len, 1, Ids);
      if (Ids.size() >= Limit)
        return;
      I += Len;
      WordStart = I;
      continue;
    }
    ++WordChars;
    I += Len;
  }
  Flush(N);
}

} // namespace

llvm::Error Tokenizer::Impl::tokenize(llvm::StringRef Text,
                                      std::vector<uint32_t> &Ids,
                                      size_t Limit) const {
  size_t Bad = unicode::findInvalidUtf8(Text.data(), Text.size());
  if (Bad != std::string::npos)
    return makeError("input is not valid UTF-8 (byte " + llvm::Twine(Bad) +
                     " of " + llvm::Twine(Text.size()) + ")");
  // The normalized text of one raw piece at a time; reused across calls
  // on this thread, so a text costs no allocation once it has grown.
  std::string &Normalized = TheScratch.Normalized;
  splitAddedTokens(Text, RawAdded, [&](llvm::StringRef Piece, int64_t Id) {
    // Past the limit: what follows only adds ids that truncation drops.
    // Each piece before is normalized whole, so context-dependent rules
    // (NFD ordering, lowercasing) saw all of it.
    if (Ids.size() >= Limit)
      return;
    if (Id >= 0) {
      Ids.push_back(uint32_t(Id));
      return;
    }
    // With a limit, a long piece is normalized and modelled a chunk at a
    // time, each ending just after an ASCII space, until the limit: the
    // normalizer works code point by code point (NFD's reordering never
    // crosses a space, whose combining class is 0) and a space ends a word,
    // so the chunks' ids are the piece's. Not when added tokens are matched
    // in the normalized text (one could span two chunks).
    constexpr size_t Chunk = 512;
    if (Limit != SIZE_MAX && NormalizedAdded.Tokens.empty() &&
        Piece.size() > Chunk) {
      for (size_t B = 0; B < Piece.size() && Ids.size() < Limit;) {
        size_t E =
            B + Chunk >= Piece.size() ? Piece.npos : Piece.find(' ', B + Chunk);
        E = E == Piece.npos ? Piece.size() : E + 1;
        Normalized.clear();
        normalize(Piece.slice(B, E), Normalized);
        preTokenizeAndModel(*this, Normalized, Ids, Limit);
        B = E;
      }
      return;
    }
    Normalized.clear();
    normalize(Piece, Normalized);
    splitAddedTokens(Normalized, NormalizedAdded,
                     [&](llvm::StringRef Sub, int64_t SubId) {
                       if (Ids.size() >= Limit)
                         return;
                       if (SubId >= 0)
                         Ids.push_back(uint32_t(SubId));
                       else
                         preTokenizeAndModel(*this, Sub, Ids, Limit);
                     });
  });
  return llvm::Error::success();
}

namespace {

void truncateTo(std::vector<uint32_t> &Ids, size_t Length, Direction Side) {
  if (Ids.size() <= Length)
    return;
  if (Side == Direction::Right)
    Ids.resize(Length);
  else
    Ids.erase(Ids.begin(), Ids.end() - Length);
}

} // namespace

/// truncate_encodings of `tokenizers`, on the model ids of A (and B).
static llvm::Error truncateIds(const Truncation &T, size_t Added,
                               std::vector<uint32_t> &A,
                               std::vector<uint32_t> *B) {
  if (T.MaxLength == 0)
    return llvm::Error::success();
  if (T.MaxLength < Added)
    return makeError("truncation max_length " + llvm::Twine(T.MaxLength) +
                     " cannot hold the " + llvm::Twine(Added) +
                     " special tokens the post-processor adds");
  size_t Max = T.MaxLength - Added;
  size_t Total = A.size() + (B ? B->size() : 0);
  if (Total <= Max)
    return llvm::Error::success();
  size_t ToRemove = Total - Max;
  switch (T.Strategy) {
  case TruncationStrategy::LongestFirst:
    if (B) {
      size_t N1 = A.size(), N2 = B->size();
      bool Swap = N1 > N2;
      if (Swap)
        std::swap(N1, N2);
      N2 = N1 > Max ? N1 : std::max(N1, Max - N1);
      if (N1 + N2 > Max) {
        N1 = Max / 2;
        N2 = N1 + Max % 2;
      }
      if (Swap)
        std::swap(N1, N2);
      truncateTo(A, N1, T.Side);
      truncateTo(*B, N2, T.Side);
    } else {
      truncateTo(A, Max, T.Side);
    }
    return llvm::Error::success();
  case TruncationStrategy::OnlyFirst:
  case TruncationStrategy::OnlySecond: {
    std::vector<uint32_t> *Target =
        T.Strategy == TruncationStrategy::OnlyFirst ? &A : B;
    if (!Target)
      return makeError("truncation 'only_second' needs a second sequence");
    if (Target->size() <= ToRemove)
      return makeError("truncation: the sequence to truncate is shorter "
                       "than what must be removed");
    truncateTo(*Target, Target->size() - ToRemove, T.Side);
    return llvm::Error::success();
  }
  }
  return llvm::Error::success();
}

static void postProcess(const Tokenizer::Impl &T,
                        const std::vector<uint32_t> &A,
                        const std::vector<uint32_t> *B, Encoding &Out) {
  Out.clear();
  auto Append = [&](const std::vector<uint32_t> &Ids, uint32_t TypeId) {
    Out.Ids.insert(Out.Ids.end(), Ids.begin(), Ids.end());
    Out.TypeIds.insert(Out.TypeIds.end(), Ids.size(), TypeId);
  };
  if (!T.HasPostProcessor) {
    Append(A, 0);
    if (B)
      Append(*B, 1);
  } else {
    for (const TemplatePiece &P : B ? T.Pair : T.Single) {
      if (P.Sequence < 0)
        Append(P.Ids, P.TypeId);
      else if (P.Sequence == 0)
        Append(A, P.TypeId);
      else if (B)
        Append(*B, P.TypeId);
    }
  }
  Out.AttentionMask.assign(Out.Ids.size(), 1);
}

llvm::Error Tokenizer::encode(llvm::StringRef Text, Encoding &Out) const {
  std::vector<uint32_t> &A = TheScratch.IdsA;
  A.clear();
  // Cut from the right, the ids past max_length are dropped: tokenizing
  // may stop there (a text of 10,000 words costs what its first words do).
  size_t Added = P->HasPostProcessor ? P->AddedSingle : 0;
  size_t Limit = SIZE_MAX;
  // (Longest-first only, and a limit above 0: the other strategies fail on
  // some lengths, which they must see whole.)
  if (P->Trunc.MaxLength > Added && P->Trunc.Side == Direction::Right &&
      P->Trunc.Strategy == TruncationStrategy::LongestFirst)
    Limit = P->Trunc.MaxLength - Added;
  if (llvm::Error E = P->tokenize(Text, A, Limit))
    return E;
  if (llvm::Error E = truncateIds(
          P->Trunc, P->HasPostProcessor ? P->AddedSingle : 0, A, nullptr))
    return E;
  postProcess(*P, A, nullptr, Out);
  return llvm::Error::success();
}

llvm::Expected<Encoding> Tokenizer::encode(llvm::StringRef Text) const {
  Encoding Out;
  if (llvm::Error E = encode(Text, Out))
    return std::move(E);
  return Out;
}

llvm::Expected<Encoding> Tokenizer::encodePair(llvm::StringRef TextA,
                                               llvm::StringRef TextB) const {
  std::vector<uint32_t> &A = TheScratch.IdsA, &B = TheScratch.IdsB;
  A.clear();
  B.clear();
  if (llvm::Error E = P->tokenize(TextA, A, SIZE_MAX))
    return std::move(E);
  if (llvm::Error E = P->tokenize(TextB, B, SIZE_MAX))
    return std::move(E);
  if (llvm::Error E =
          truncateIds(P->Trunc, P->HasPostProcessor ? P->AddedPair : 0, A, &B))
    return std::move(E);
  Encoding Out;
  postProcess(*P, A, &B, Out);
  return Out;
}

void Tokenizer::pad(std::vector<Encoding> &Batch) const {
  const Padding &Pd = P->Pad;
  if (!Pd.Enabled || Batch.empty())
    return;
  size_t Length = Pd.FixedLength;
  if (Length == 0)
    for (const Encoding &E : Batch)
      Length = std::max(Length, E.Ids.size());
  if (Pd.PadToMultipleOf > 0 && Length % Pd.PadToMultipleOf)
    Length += Pd.PadToMultipleOf - Length % Pd.PadToMultipleOf;
  for (Encoding &E : Batch) {
    if (E.Ids.size() >= Length)
      continue;
    size_t N = Length - E.Ids.size();
    auto At = [&](std::vector<uint32_t> &V) {
      return Pd.Side == Direction::Right ? V.end() : V.begin();
    };
    E.Ids.insert(At(E.Ids), N, Pd.PadId);
    E.TypeIds.insert(At(E.TypeIds), N, Pd.PadTypeId);
    E.AttentionMask.insert(At(E.AttentionMask), N, 0);
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> I) : P(std::move(I)) {}
Tokenizer::Tokenizer(Tokenizer &&) = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) = default;
Tokenizer::~Tokenizer() = default;

const Truncation &Tokenizer::truncation() const { return P->Trunc; }

llvm::Error Tokenizer::setTruncation(const Truncation &T) {
  size_t Added = P->HasPostProcessor ? P->AddedSingle : 0;
  if (T.MaxLength != 0 && T.MaxLength < Added)
    return makeError("truncation max_length " + llvm::Twine(T.MaxLength) +
                     " cannot hold the " + llvm::Twine(Added) +
                     " special tokens the post-processor adds");
  P->Trunc = T;
  return llvm::Error::success();
}

const Padding &Tokenizer::padding() const { return P->Pad; }
void Tokenizer::setPadding(const Padding &Pd) { P->Pad = Pd; }
size_t Tokenizer::vocabSize() const { return P->ModelVocabSize; }

llvm::StringRef Tokenizer::idToToken(uint32_t Id) const {
  return Id < P->IdToToken.size() ? llvm::StringRef(P->IdToToken[Id])
                                  : llvm::StringRef();
}

std::optional<uint32_t> Tokenizer::tokenToId(llvm::StringRef Token) const {
  for (const AddedTokenSet *Set : {&P->RawAdded, &P->NormalizedAdded})
    for (const AddedToken &T : Set->Tokens)
      if (T.Content == Token)
        return T.Id;
  int64_t Id = P->Words.find(Token.data(), Token.size());
  if (Id < 0)
    return std::nullopt;
  return uint32_t(Id);
}

} // namespace kiln::tokenizer
