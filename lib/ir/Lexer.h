//===- Lexer.h - tokens of the text form ------------------------*- C++ -*-===//
//
// Splits the text form into tokens for the parser. `//` starts a comment
// that runs to the end of the line. Names after `%` and `@` are bare
// identifiers or quoted strings; the lexer hands over the decoded name.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_LEXER_H
#define KILN_IR_LEXER_H

#include "llvm/ADT/StringRef.h"

#include <string>
#include <utility>

namespace kiln {

struct Token {
  enum Kind {
    Eof,
    Error,      // Text holds the message
    Identifier, // graph, const, f32, MatMul, batch, inf, ...
    ValueName,  // %x or %"x y"; Text holds the name
    GraphName,  // @main; Text holds the name
    Integer,    // 12, -3
    Float,      // 1.5, -2.0e-3, -inf, -nan
    String,     // "..."; Text holds the decoded string
    HexBlob,    // 0x0000803F; Text holds the hex digits
    LParen,
    RParen,
    LBrace,
    RBrace,
    LSquare,
    RSquare,
    Less,
    Greater,
    Comma,
    Colon,
    Equal,
    Question,
  };

  Kind K = Eof;
  /// The token's source text.
  llvm::StringRef Spelling;
  std::string Text;

  bool is(Kind Other) const { return K == Other; }
  bool isKeyword(llvm::StringRef Word) const {
    return K == Identifier && Spelling == Word;
  }
  const char *loc() const { return Spelling.data(); }
};

class Lexer {
public:
  explicit Lexer(llvm::StringRef Buffer)
      : Buffer(Buffer), Cur(Buffer.begin()) {}

  Token next();
  /// 1-based line and column of a position inside the buffer.
  std::pair<unsigned, unsigned> lineAndColumn(const char *Loc) const;

private:
  Token make(Token::Kind K, const char *Start);
  Token error(const char *Start, std::string Message);
  void skipWhitespaceAndComments();
  Token lexNumber(const char *Start);
  Token lexName(Token::Kind K, const char *Start);
  Token lexString(const char *Start);
  /// Reads a quoted string at Cur (just past the opening quote) into Out.
  bool readString(std::string &Out, std::string &Message);

  llvm::StringRef Buffer;
  const char *Cur;
};

/// Characters that may continue a bare identifier.
inline bool isIdentifierChar(char C) {
  return (C >= 'a' && C <= 'z') || (C >= 'A' && C <= 'Z') ||
         (C >= '0' && C <= '9') || C == '_' || C == '.' || C == '$' ||
         C == '-' || C == '/';
}

} // namespace kiln

#endif
