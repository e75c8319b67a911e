//===- Unicode.cpp - character classes of BERT's normalizer ---------------===//
#include "tokenizer/Unicode.h"

#include <utf8proc.h>

#include <algorithm>

namespace kiln::tokenizer::unicode {

namespace {

struct CodePointRange {
  char32_t First, Last;
};
struct CodePointMapping {
  char32_t From, To;
};

// Where `tokenizers`' own Unicode tables (older for categories and NFD,
// newer for lowercase) answer differently from utf8proc's.
#include "UnicodeTables.inc"

template <size_t N>
bool inRanges(const CodePointRange (&Table)[N], char32_t Cp) {
  // The number of ranges that start at or below Cp; the last of them is
  // the only one that can hold it. Indexed from the table itself: read
  // through the iterator one before upper_bound's result, clang's UBSan
  // (-fsanitize=object-size, -O1) flagged the one-range table.
  size_t Below = std::upper_bound(std::begin(Table), std::end(Table), Cp,
                                  [](char32_t C, const CodePointRange &R) {
                                    return C < R.First;
                                  }) -
                 std::begin(Table);
  return Below > 0 && Cp <= Table[Below - 1].Last;
}

} // namespace

size_t decode(const unsigned char *S, size_t Len, char32_t &Cp) {
  unsigned char B0 = S[0];
  if (B0 < 0x80) {
    Cp = B0;
    return 1;
  }
  auto Cont = [&](size_t I) { return I < Len && (S[I] & 0xC0) == 0x80; };
  if (B0 >= 0xC2 && B0 <= 0xDF) {
    if (!Cont(1))
      return 0;
    Cp = (char32_t(B0 & 0x1F) << 6) | (S[1] & 0x3F);
    return 2;
  }
  if (B0 >= 0xE0 && B0 <= 0xEF) {
    if (!Cont(1) || !Cont(2))
      return 0;
    Cp = (char32_t(B0 & 0x0F) << 12) | (char32_t(S[1] & 0x3F) << 6) |
         (S[2] & 0x3F);
    if (Cp < 0x800 || (Cp >= 0xD800 && Cp <= 0xDFFF))
      return 0;
    return 3;
  }
  if (B0 >= 0xF0 && B0 <= 0xF4) {
    if (!Cont(1) || !Cont(2) || !Cont(3))
      return 0;
    Cp = (char32_t(B0 & 0x07) << 18) | (char32_t(S[1] & 0x3F) << 12) |
         (char32_t(S[2] & 0x3F) << 6) | (S[3] & 0x3F);
    if (Cp < 0x10000 || Cp > 0x10FFFF)
      return 0;
    return 4;
  }
  return 0;
}

size_t findInvalidUtf8(const char *S, size_t Len) {
  auto *U = reinterpret_cast<const unsigned char *>(S);
  size_t I = 0;
  while (I < Len) {
    // Eight ASCII bytes at a time: the common case.
    while (I + 8 <= Len) {
      uint64_t W;
      __builtin_memcpy(&W, U + I, 8);
      if (W & 0x8080808080808080ULL)
        break;
      I += 8;
    }
    if (I >= Len)
      break;
    char32_t Cp;
    size_t N = decode(U + I, Len - I, Cp);
    if (N == 0)
      return I;
    I += N;
  }
  return std::string::npos;
}

void append(std::string &Out, char32_t Cp) {
  if (Cp < 0x80) {
    Out.push_back(char(Cp));
  } else if (Cp < 0x800) {
    Out.push_back(char(0xC0 | (Cp >> 6)));
    Out.push_back(char(0x80 | (Cp & 0x3F)));
  } else if (Cp < 0x10000) {
    Out.push_back(char(0xE0 | (Cp >> 12)));
    Out.push_back(char(0x80 | ((Cp >> 6) & 0x3F)));
    Out.push_back(char(0x80 | (Cp & 0x3F)));
  } else {
    Out.push_back(char(0xF0 | (Cp >> 18)));
    Out.push_back(char(0x80 | ((Cp >> 12) & 0x3F)));
    Out.push_back(char(0x80 | ((Cp >> 6) & 0x3F)));
    Out.push_back(char(0x80 | (Cp & 0x3F)));
  }
}

static utf8proc_category_t category(char32_t Cp) {
  return utf8proc_category(utf8proc_int32_t(Cp));
}

bool isWhitespace(char32_t Cp) {
  switch (Cp) {
  case 0x09:
  case 0x0A:
  case 0x0B:
  case 0x0C:
  case 0x0D:
  case 0x20:
  case 0x85:
  case 0xA0:
  case 0x1680:
  case 0x2028:
  case 0x2029:
  case 0x202F:
  case 0x205F:
  case 0x3000: return true;
  default: return Cp >= 0x2000 && Cp <= 0x200A;
  }
}

bool isOther(char32_t Cp) {
  utf8proc_category_t C = category(Cp);
  return (C == UTF8PROC_CATEGORY_CC || C == UTF8PROC_CATEGORY_CF ||
          C == UTF8PROC_CATEGORY_CO) != inRanges(FlipOther, Cp);
}

bool isBertPunctuation(char32_t Cp) {
  if (Cp < 0x80)
    return (Cp >= 0x21 && Cp <= 0x2F) || (Cp >= 0x3A && Cp <= 0x40) ||
           (Cp >= 0x5B && Cp <= 0x60) || (Cp >= 0x7B && Cp <= 0x7E);
  utf8proc_category_t C = category(Cp);
  return (C >= UTF8PROC_CATEGORY_PC && C <= UTF8PROC_CATEGORY_PO) !=
         inRanges(FlipPunctuation, Cp);
}

bool isChineseChar(char32_t Cp) {
  return (Cp >= 0x4E00 && Cp <= 0x9FFF) || (Cp >= 0x3400 && Cp <= 0x4DBF) ||
         (Cp >= 0x20000 && Cp <= 0x2A6DF) || (Cp >= 0x2A700 && Cp <= 0x2B73F) ||
         (Cp >= 0x2B740 && Cp <= 0x2B81F) || (Cp >= 0x2B920 && Cp <= 0x2CEAF) ||
         (Cp >= 0xF900 && Cp <= 0xFAFF) || (Cp >= 0x2F800 && Cp <= 0x2FA1F);
}

bool isWordChar(char32_t Cp) {
  switch (category(Cp)) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_MN:
  case UTF8PROC_CATEGORY_MC:
  case UTF8PROC_CATEGORY_ME:
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
  case UTF8PROC_CATEGORY_PC: return true;
  default: return false;
  }
}

bool isMarkNonspacing(char32_t Cp) {
  return (category(Cp) == UTF8PROC_CATEGORY_MN) !=
         inRanges(FlipMarkNonspacing, Cp);
}

int combiningClass(char32_t Cp) {
  return utf8proc_get_property(utf8proc_int32_t(Cp))->combining_class;
}

size_t decompose(char32_t Cp, char32_t *Out, size_t Capacity) {
  utf8proc_int32_t Buf[8];
  int Boundclass = 0;
  if (inRanges(NoDecomposition, Cp)) {
    Out[0] = Cp;
    return 1;
  }
  utf8proc_ssize_t N = utf8proc_decompose_char(utf8proc_int32_t(Cp), Buf, 8,
                                               UTF8PROC_DECOMPOSE, &Boundclass);
  if (N <= 0 || size_t(N) > Capacity) {
    Out[0] = Cp;
    return 1;
  }
  for (utf8proc_ssize_t I = 0; I < N; ++I)
    Out[I] = char32_t(Buf[I]);
  return size_t(N);
}

size_t toLowercase(char32_t Cp, char32_t Out[3]) {
  // SpecialCasing.txt's only unconditional lowercase mapping to more than
  // one code point; utf8proc keeps simple (one code point) mappings.
  if (Cp == 0x130) {
    Out[0] = 'i';
    Out[1] = 0x307;
    return 2;
  }
  auto Extra = std::lower_bound(
      std::begin(ExtraLowercase), std::end(ExtraLowercase), Cp,
      [](const CodePointMapping &M, char32_t C) { return M.From < C; });
  if (Extra != std::end(ExtraLowercase) && Extra->From == Cp) {
    Out[0] = Extra->To;
    return 1;
  }
  Out[0] = char32_t(utf8proc_tolower(utf8proc_int32_t(Cp)));
  return 1;
}

} // namespace kiln::tokenizer::unicode
