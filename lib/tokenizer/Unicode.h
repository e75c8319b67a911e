//===- Unicode.h - character classes of BERT's normalizer --------*- C++ -*-===//
//
// The character predicates and mappings that `tokenizers`' BertNormalizer
// and BertPreTokenizer use, answered from utf8proc's tables (plus the few
// places where Rust's definitions are not a single Unicode category). UTF-8
// decoding and encoding live here too.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOKENIZER_UNICODE_H
#define KILN_TOKENIZER_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::tokenizer::unicode {

/// Decodes the UTF-8 sequence at \p S (of \p Len bytes left). Returns its
/// length in bytes and sets \p Cp, or returns 0 when it is not valid UTF-8
/// (overlong forms, surrogates and code points above U+10FFFF included).
size_t decode(const unsigned char *S, size_t Len, char32_t &Cp);
/// The byte offset of the first invalid UTF-8 sequence, or npos.
size_t findInvalidUtf8(const char *S, size_t Len);
/// Appends \p Cp in UTF-8.
void append(std::string &Out, char32_t Cp);

/// Rust's char::is_whitespace (the White_Space property).
bool isWhitespace(char32_t Cp);
/// Categories Cc, Cf and Co: what clean_text removes (tab, CR and LF aside).
bool isOther(char32_t Cp);
/// ASCII punctuation (Rust's is_ascii_punctuation) or a P* category.
bool isBertPunctuation(char32_t Cp);
/// The CJK ideograph blocks that handle_chinese_chars pads with spaces.
bool isChineseChar(char32_t Cp);
/// A letter, number, mark or connector punctuation (regex's \\w), which
/// decides whether a single_word added token stands alone.
bool isWordChar(char32_t Cp);
/// Category Mn, which strip_accents removes after NFD.
bool isMarkNonspacing(char32_t Cp);
/// Canonical combining class (for NFD's reordering).
int combiningClass(char32_t Cp);
/// Writes the canonical decomposition (NFD, not yet reordered) of \p Cp to
/// \p Out (\p Capacity >= 4 is always enough); returns the number of code
/// points.
size_t decompose(char32_t Cp, char32_t *Out, size_t Capacity);
/// Rust's char::to_lowercase: the full lowercase mapping (one or two code
/// points; U+0130 is the only character whose mapping has two). Returns
/// the number written to \p Out.
size_t toLowercase(char32_t Cp, char32_t Out[3]);

} // namespace kiln::tokenizer::unicode

#endif
