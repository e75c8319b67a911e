#include "ir/Lexer.h"

#include "llvm/ADT/StringExtras.h"

namespace kiln {

std::pair<unsigned, unsigned> Lexer::lineAndColumn(const char *Loc) const {
  unsigned Line = 1, Column = 1;
  for (const char *P = Buffer.begin(); P < Loc && P < Buffer.end(); ++P) {
    if (*P == '\n') {
      ++Line;
      Column = 1;
    } else {
      ++Column;
    }
  }
  return {Line, Column};
}

Token Lexer::make(Token::Kind K, const char *Start) {
  Token T;
  T.K = K;
  T.Spelling = llvm::StringRef(Start, size_t(Cur - Start));
  return T;
}

Token Lexer::error(const char *Start, std::string Message) {
  Token T;
  T.K = Token::Error;
  T.Spelling = llvm::StringRef(Start, Cur > Start ? size_t(Cur - Start) : 0);
  T.Text = std::move(Message);
  return T;
}

void Lexer::skipWhitespaceAndComments() {
  const char *End = Buffer.end();
  while (Cur < End) {
    char C = *Cur;
    if (C == ' ' || C == '\t' || C == '\n' || C == '\r') {
      ++Cur;
    } else if (C == '/' && Cur + 1 < End && Cur[1] == '/') {
      while (Cur < End && *Cur != '\n')
        ++Cur;
    } else {
      return;
    }
  }
}

Token Lexer::next() {
  skipWhitespaceAndComments();
  const char *Start = Cur;
  const char *End = Buffer.end();
  if (Cur == End)
    return make(Token::Eof, Start);
  char C = *Cur;
  auto Punct = [&](Token::Kind K) {
    ++Cur;
    return make(K, Start);
  };
  switch (C) {
  case '(': return Punct(Token::LParen);
  case ')': return Punct(Token::RParen);
  case '{': return Punct(Token::LBrace);
  case '}': return Punct(Token::RBrace);
  case '[': return Punct(Token::LSquare);
  case ']': return Punct(Token::RSquare);
  case '<': return Punct(Token::Less);
  case '>': return Punct(Token::Greater);
  case ',': return Punct(Token::Comma);
  case ':': return Punct(Token::Colon);
  case '=': return Punct(Token::Equal);
  case '?': return Punct(Token::Question);
  case '%': return lexName(Token::ValueName, Start);
  case '@': return lexName(Token::GraphName, Start);
  case '"': return lexString(Start);
  default: break;
  }
  if (llvm::isDigit(C) || C == '-')
    return lexNumber(Start);
  if (isIdentifierChar(C)) {
    while (Cur < End && isIdentifierChar(*Cur))
      ++Cur;
    return make(Token::Identifier, Start);
  }
  ++Cur;
  if (llvm::isPrint(C))
    return error(Start, std::string("unexpected character '") + C + "'");
  return error(Start, "unexpected byte 0x" +
                          llvm::utohexstr(uint8_t(C), /*LowerCase=*/false,
                                          /*Width=*/2));
}

Token Lexer::lexNumber(const char *Start) {
  const char *End = Buffer.end();
  auto Digits = [&] {
    const char *From = Cur;
    while (Cur < End && llvm::isDigit(*Cur))
      ++Cur;
    return Cur > From;
  };
  if (*Cur == '0' && Cur + 1 < End && (Cur[1] == 'x' || Cur[1] == 'X')) {
    Cur += 2;
    while (Cur < End && llvm::isHexDigit(*Cur))
      ++Cur;
    if (Cur < End && isIdentifierChar(*Cur))
      return error(Start, "invalid character in hex data");
    Token T = make(Token::HexBlob, Start);
    T.Text = T.Spelling.drop_front(2).str();
    return T;
  }
  bool Negative = *Cur == '-';
  if (Negative) {
    ++Cur;
    llvm::StringRef Rest(Cur, size_t(End - Cur));
    for (llvm::StringRef Word : {"inf", "nan"})
      if (Rest.starts_with(Word) && (Rest.size() == Word.size() ||
                                     !isIdentifierChar(Rest[Word.size()]))) {
        Cur += Word.size();
        return make(Token::Float, Start);
      }
  }
  if (!Digits())
    return error(Start, "expected a number after '-'");
  bool IsFloat = false;
  if (Cur < End && *Cur == '.') {
    ++Cur;
    IsFloat = true;
    Digits();
  }
  if (Cur < End && (*Cur == 'e' || *Cur == 'E')) {
    ++Cur;
    IsFloat = true;
    if (Cur < End && (*Cur == '+' || *Cur == '-'))
      ++Cur;
    if (!Digits())
      return error(Start, "expected exponent digits in number");
  }
  if (Cur < End && isIdentifierChar(*Cur) && *Cur != '-' && *Cur != '/')
    return error(Start, "invalid character in number");
  return make(IsFloat ? Token::Float : Token::Integer, Start);
}

Token Lexer::lexName(Token::Kind K, const char *Start) {
  ++Cur; // '%' or '@'
  const char *End = Buffer.end();
  std::string Name;
  if (Cur < End && *Cur == '"') {
    ++Cur;
    std::string Message;
    if (!readString(Name, Message))
      return error(Start, Message);
  } else {
    const char *From = Cur;
    while (Cur < End && isIdentifierChar(*Cur))
      ++Cur;
    if (Cur == From)
      return error(Start,
                   std::string("expected a name after '") + *Start + "'");
    Name.assign(From, Cur);
  }
  Token T = make(K, Start);
  T.Text = std::move(Name);
  return T;
}

Token Lexer::lexString(const char *Start) {
  ++Cur;
  std::string Value, Message;
  if (!readString(Value, Message))
    return error(Start, Message);
  Token T = make(Token::String, Start);
  T.Text = std::move(Value);
  return T;
}

bool Lexer::readString(std::string &Out, std::string &Message) {
  const char *End = Buffer.end();
  while (Cur < End) {
    char C = *Cur++;
    if (C == '"')
      return true;
    if (C == '\n') {
      Message = "unterminated string";
      return false;
    }
    if (C != '\\') {
      Out += C;
      continue;
    }
    if (Cur == End)
      break;
    char E = *Cur++;
    switch (E) {
    case '"':
    case '\\': Out += E; continue;
    case 'n': Out += '\n'; continue;
    case 't': Out += '\t'; continue;
    default: break;
    }
    if (Cur < End && llvm::isHexDigit(E) && llvm::isHexDigit(*Cur)) {
      Out += char(llvm::hexDigitValue(E) * 16 + llvm::hexDigitValue(*Cur));
      ++Cur;
      continue;
    }
    Message = "invalid escape in string";
    return false;
  }
  Message = "unterminated string";
  return false;
}

} // namespace kiln
