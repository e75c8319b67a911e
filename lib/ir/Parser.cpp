#include "ir/Parser.h"
#include "ir/Lexer.h"
#include "ir/OpRegistry.h"
#include "ir/Printer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include <charconv>
#include <limits>

namespace kiln {

namespace {

/// How a token reads in a message: `'x'`, or `end of input`. Long tokens
/// (hex data, strings) are cut short.
std::string describeToken(const Token &T) {
  if (T.is(Token::Eof))
    return "end of input";
  constexpr size_t MaxShown = 40;
  if (T.Spelling.size() > MaxShown)
    return "'" + T.Spelling.take_front(MaxShown).str() + "...'";
  return "'" + T.Spelling.str() + "'";
}

/// Builds a graph while reading the text. Each parse function returns false
/// after recording the first error; nothing is read after that.
class Parser {
public:
  Parser(llvm::StringRef Text, llvm::StringRef BufferName, unsigned FirstLine)
      : Lex(Text), BufferName(BufferName), FirstLine(FirstLine) {
    advance();
  }

  llvm::Expected<std::unique_ptr<Graph>> parseFile();

private:
  void advance() { Tok = Lex.next(); }
  bool error(const Token &At, const llvm::Twine &Message);
  bool error(const llvm::Twine &Message) { return error(Tok, Message); }
  /// Consumes a token of kind K or reports `expected <What>`.
  bool expect(Token::Kind K, llvm::StringRef What);
  bool expectKeyword(llvm::StringRef Word);
  bool consumeIf(Token::Kind K) {
    if (!Tok.is(K))
      return false;
    advance();
    return true;
  }

  bool parseGraph();
  bool parseStatement(bool &SawReturn);
  bool parseReturn();
  /// Names holds the `%name` tokens before the `=`.
  bool parseConstant(const Token &Name);
  bool parseNode(llvm::ArrayRef<Token> Names);
  bool parseOperand(Value *&V);
  bool parseType(TensorType &T);
  bool parseAttributes(AttrMap &Attrs);
  bool parseAttributeValue(Attribute &A);
  bool parseTensorAttribute(Attribute &A);
  /// Reads the data after a constant's type; sets Elided for `elided`.
  bool parseData(const TensorType &T, const Token &TypeTok, Tensor &Data,
                 bool AllowElided, bool &Elided);
  bool setElement(Tensor &T, int64_t I, const Token &Literal);
  bool checkNewName(const std::string &Name, const Token &At);
  /// Reads a float literal as FloatT (from_chars rounds correctly).
  template <typename FloatT>
  bool readFloat(const Token &T, FloatT &V, llvm::StringRef TypeName) {
    auto Result = std::from_chars(T.Spelling.begin(), T.Spelling.end(), V);
    if (Result.ec == std::errc::result_out_of_range)
      return error(T, "float literal " + describeToken(T) +
                          " is out of range for " + TypeName);
    if (Result.ec != std::errc() || Result.ptr != T.Spelling.end())
      return error(T, "invalid float literal " + describeToken(T));
    return true;
  }

  Lexer Lex;
  Token Tok;
  llvm::StringRef BufferName;
  unsigned FirstLine;
  std::string ErrorMessage;
  std::unique_ptr<Graph> G;
  /// Names defined so far, including results of the statement being read.
  llvm::StringSet<> Defined;
};

bool Parser::error(const Token &At, const llvm::Twine &Message) {
  if (!ErrorMessage.empty())
    return false;
  auto [Line, Column] = Lex.lineAndColumn(At.loc());
  ErrorMessage = (BufferName + ":" + llvm::Twine(Line + FirstLine - 1) + ":" +
                  llvm::Twine(Column) + ": " + Message)
                     .str();
  return false;
}

bool Parser::expect(Token::Kind K, llvm::StringRef What) {
  if (Tok.is(Token::Error))
    return error(Tok.Text);
  if (!Tok.is(K))
    return error("expected " + What + ", found " + describeToken(Tok));
  advance();
  return true;
}

bool Parser::expectKeyword(llvm::StringRef Word) {
  if (Tok.is(Token::Error))
    return error(Tok.Text);
  if (!Tok.isKeyword(Word))
    return error("expected '" + Word + "', found " + describeToken(Tok));
  advance();
  return true;
}

llvm::Expected<std::unique_ptr<Graph>> Parser::parseFile() {
  if (parseGraph() && !Tok.is(Token::Eof))
    error(Tok.is(Token::Error)
              ? Tok.Text
              : "expected end of input after the graph, found " +
                    describeToken(Tok));
  if (!ErrorMessage.empty())
    return makeError(ErrorMessage);
  return std::move(G);
}

bool Parser::checkNewName(const std::string &Name, const Token &At) {
  if (Name.empty())
    return error(At, "value names must not be empty");
  if (Defined.contains(Name))
    return error(At, "redefinition of value " + At.Spelling);
  Defined.insert(Name);
  return true;
}

bool Parser::parseGraph() {
  if (!expectKeyword("graph"))
    return false;
  if (!Tok.is(Token::GraphName))
    return expect(Token::GraphName, "graph name like @main");
  G = std::make_unique<Graph>(Tok.Text);
  advance();
  if (!expect(Token::LParen, "'(' before the graph inputs"))
    return false;
  if (!Tok.is(Token::RParen)) {
    do {
      Token NameTok = Tok;
      if (!expect(Token::ValueName, "input name like %x"))
        return false;
      if (!checkNewName(NameTok.Text, NameTok))
        return false;
      if (!expect(Token::Colon, "':' after input name"))
        return false;
      TensorType T;
      if (!parseType(T))
        return false;
      G->addInput(NameTok.Text, std::move(T));
    } while (consumeIf(Token::Comma));
  }
  if (!expect(Token::RParen, "')' after the graph inputs"))
    return false;
  if (Tok.isKeyword("attributes")) {
    advance();
    if (!Tok.is(Token::LBrace))
      return expect(Token::LBrace, "'{' after 'attributes'");
    if (!parseAttributes(G->attrs()))
      return false;
  }
  if (!expect(Token::LBrace, "'{' before the graph body"))
    return false;
  bool SawReturn = false;
  while (!SawReturn)
    if (!parseStatement(SawReturn))
      return false;
  return expect(Token::RBrace, "'}' after 'return'");
}

bool Parser::parseStatement(bool &SawReturn) {
  if (Tok.isKeyword("return")) {
    SawReturn = true;
    advance();
    return parseReturn();
  }
  if (Tok.is(Token::RBrace) || Tok.is(Token::Eof))
    return error("expected 'return' at the end of the graph");
  std::vector<Token> Names;
  if (Tok.is(Token::ValueName)) {
    do {
      Token NameTok = Tok;
      if (!expect(Token::ValueName, "result name like %y"))
        return false;
      if (!checkNewName(NameTok.Text, NameTok))
        return false;
      Names.push_back(NameTok);
    } while (consumeIf(Token::Comma));
    if (!expect(Token::Equal, "'=' after result names"))
      return false;
    if (Tok.isKeyword("const")) {
      if (Names.size() != 1)
        return error("a constant defines exactly one value");
      advance();
      return parseConstant(Names[0]);
    }
  }
  return parseNode(Names);
}

bool Parser::parseReturn() {
  std::vector<Value *> Outputs;
  if (Tok.is(Token::ValueName) || Tok.isKeyword("none")) {
    do {
      Value *V;
      if (!parseOperand(V))
        return false;
      Outputs.push_back(V);
    } while (consumeIf(Token::Comma));
  }
  G->setOutputs(std::move(Outputs));
  return true;
}

bool Parser::parseOperand(Value *&V) {
  if (Tok.isKeyword("none")) {
    V = nullptr;
    advance();
    return true;
  }
  Token NameTok = Tok;
  if (!expect(Token::ValueName, "value like %x or 'none'"))
    return false;
  V = G->lookup(NameTok.Text);
  if (!V)
    return error(NameTok, "use of undefined value " + NameTok.Spelling);
  return true;
}

bool Parser::parseConstant(const Token &Name) {
  Token TypeTok = Tok;
  TensorType T;
  if (!parseType(T))
    return false;
  Tensor Data;
  bool Elided = false;
  if (!parseData(T, TypeTok, Data, /*AllowElided=*/true, Elided))
    return false;
  if (Elided)
    G->addElidedConstant(Name.Text, std::move(T));
  else
    G->addConstant(Name.Text, std::move(Data));
  return true;
}

bool Parser::parseNode(llvm::ArrayRef<Token> Names) {
  Token OpTok = Tok;
  if (!expect(Token::Identifier, "op name"))
    return false;
  if (!lookupOp(OpTok.Spelling))
    return error(OpTok, "unknown op '" + OpTok.Spelling + "'");
  if (!expect(Token::LParen, "'(' after op name"))
    return false;
  std::vector<Value *> Operands;
  if (!Tok.is(Token::RParen)) {
    do {
      Value *V;
      if (!parseOperand(V))
        return false;
      Operands.push_back(V);
    } while (consumeIf(Token::Comma));
  }
  if (!expect(Token::RParen, "')' after operands"))
    return false;
  AttrMap Attrs;
  if (Tok.is(Token::LBrace) && !parseAttributes(Attrs))
    return false;
  std::vector<TensorType> Types;
  if (!Names.empty()) {
    if (!expect(Token::Colon, "':' after operands"))
      return false;
    do {
      TensorType T;
      if (!parseType(T))
        return false;
      Types.push_back(std::move(T));
    } while (consumeIf(Token::Comma));
    if (Types.size() != Names.size())
      return error(Names.front(), "expected " + llvm::Twine(Names.size()) +
                                      " result types, found " +
                                      llvm::Twine(Types.size()));
  }
  std::string NodeName;
  if (Tok.isKeyword("loc")) {
    advance();
    if (!expect(Token::LParen, "'(' after 'loc'"))
      return false;
    NodeName = Tok.Text;
    if (!expect(Token::String, "node name string") ||
        !expect(Token::RParen, "')' after node name"))
      return false;
  }
  std::vector<std::string> ResultNames;
  for (const Token &N : Names)
    ResultNames.push_back(N.Text);
  G->createNode(OpTok.Spelling, Operands, Types, std::move(Attrs), NodeName,
                ResultNames);
  return true;
}

/// Types with more elements than this are refused, so that no product of a
/// type's dims overflows int64.
constexpr int64_t MaxElements = int64_t(1) << 62;

bool Parser::parseType(TensorType &T) {
  Token DTypeTok = Tok;
  if (!expect(Token::Identifier, "element type like f32"))
    return false;
  std::optional<DType> Elem = parseDType(DTypeTok.Spelling);
  if (!Elem)
    return error(DTypeTok, "unknown dtype " + describeToken(DTypeTok) +
                               " (expected f32, f16, bf16, f64, i64, i32, "
                               "i8, u8 or bool)");
  if (!expect(Token::LSquare, "'[' after element type"))
    return false;
  T = TensorType(*Elem, {});
  int64_t Product = 1;
  if (!Tok.is(Token::RSquare)) {
    do {
      Token DimTok = Tok;
      if (Tok.is(Token::Integer)) {
        int64_t Size;
        if (DimTok.Spelling.getAsInteger(10, Size) || Size < 0)
          return error("dimension must be a non-negative 64-bit integer");
        if (Size > 0 && (Product > MaxElements / Size))
          return error("type has more than 2^62 elements");
        if (Size > 0)
          Product *= Size;
        T.Dims.push_back(Dim(Size));
        advance();
      } else if (Tok.is(Token::Question)) {
        T.Dims.push_back(Dim::unknown());
        advance();
      } else if (Tok.is(Token::Identifier)) {
        T.Dims.push_back(Dim::symbol(Tok.Spelling.str()));
        advance();
      } else if (Tok.is(Token::String)) {
        if (Tok.Text.empty())
          return error("dimension symbols must not be empty");
        T.Dims.push_back(Dim::symbol(Tok.Text));
        advance();
      } else {
        return expect(Token::Question, "dimension (integer, symbol or '?')");
      }
    } while (consumeIf(Token::Comma));
  }
  return expect(Token::RSquare, "']' after dimensions");
}

bool Parser::parseAttributes(AttrMap &Attrs) {
  advance(); // '{'
  if (consumeIf(Token::RBrace))
    return true;
  do {
    Token NameTok = Tok;
    std::string Name;
    if (Tok.is(Token::Identifier))
      Name = Tok.Spelling.str();
    else if (Tok.is(Token::String))
      Name = Tok.Text;
    else
      return expect(Token::Identifier, "attribute name");
    advance();
    if (Attrs.count(Name))
      return error(NameTok, "duplicate attribute '" + Name + "'");
    if (!expect(Token::Equal, "'=' after attribute name"))
      return false;
    Attribute A;
    if (!parseAttributeValue(A))
      return false;
    Attrs.emplace(std::move(Name), std::move(A));
  } while (consumeIf(Token::Comma));
  return expect(Token::RBrace, "',' or '}' in attributes");
}

bool isFloatLiteral(const Token &T) {
  return T.is(Token::Float) || T.isKeyword("inf") || T.isKeyword("nan");
}

bool Parser::parseAttributeValue(Attribute &A) {
  if (Tok.is(Token::Integer)) {
    int64_t I;
    if (Tok.Spelling.getAsInteger(10, I))
      return error("integer literal does not fit in 64 bits");
    A = Attribute(I);
    advance();
    return true;
  }
  if (isFloatLiteral(Tok)) {
    float F;
    if (!readFloat(Tok, F, "a float attribute"))
      return false;
    A = Attribute(F);
    advance();
    return true;
  }
  if (Tok.is(Token::String)) {
    A = Attribute(Tok.Text);
    advance();
    return true;
  }
  if (Tok.isKeyword("tensor"))
    return parseTensorAttribute(A);
  if (!Tok.is(Token::LSquare))
    return expect(Token::Integer,
                  "attribute value (number, string, list or tensor<...>)");
  advance();
  if (consumeIf(Token::RSquare)) {
    if (!expect(Token::Colon, "': ints', ': floats' or ': strings' after "
                              "an empty list"))
      return false;
    if (Tok.isKeyword("ints"))
      A = Attribute(std::vector<int64_t>());
    else if (Tok.isKeyword("floats"))
      A = Attribute(std::vector<float>());
    else if (Tok.isKeyword("strings"))
      A = Attribute(std::vector<std::string>());
    else
      return error("expected ints, floats or strings, found " +
                   describeToken(Tok));
    advance();
    return true;
  }
  std::vector<Token> Elems;
  do {
    if (!Tok.is(Token::Integer) && !isFloatLiteral(Tok) &&
        !Tok.is(Token::String))
      return expect(Token::Integer, "list element (number or string)");
    Elems.push_back(Tok);
    advance();
  } while (consumeIf(Token::Comma));
  if (!expect(Token::RSquare, "']' after list elements"))
    return false;
  bool AnyString = false, AnyFloat = false;
  for (const Token &E : Elems) {
    AnyString |= E.is(Token::String);
    AnyFloat |= isFloatLiteral(E);
  }
  if (AnyString) {
    std::vector<std::string> Strings;
    for (const Token &E : Elems) {
      if (!E.is(Token::String))
        return error(E, "list mixes strings and numbers");
      Strings.push_back(E.Text);
    }
    A = Attribute(std::move(Strings));
  } else if (AnyFloat) {
    std::vector<float> Floats;
    for (const Token &E : Elems) {
      float F;
      if (!readFloat(E, F, "a float attribute"))
        return false;
      Floats.push_back(F);
    }
    A = Attribute(std::move(Floats));
  } else {
    std::vector<int64_t> Ints;
    for (const Token &E : Elems) {
      int64_t I;
      if (E.Spelling.getAsInteger(10, I))
        return error(E, "integer literal does not fit in 64 bits");
      Ints.push_back(I);
    }
    A = Attribute(std::move(Ints));
  }
  return true;
}

bool Parser::parseTensorAttribute(Attribute &A) {
  advance(); // 'tensor'
  if (!expect(Token::Less, "'<' after 'tensor'"))
    return false;
  Token TypeTok = Tok;
  TensorType T;
  if (!parseType(T))
    return false;
  Tensor Data;
  bool Elided = false;
  if (!parseData(T, TypeTok, Data, /*AllowElided=*/false, Elided))
    return false;
  A = Attribute(std::move(Data));
  return expect(Token::Greater, "'>' after tensor data");
}

bool Parser::parseData(const TensorType &T, const Token &TypeTok, Tensor &Data,
                       bool AllowElided, bool &Elided) {
  if (AllowElided && Tok.isKeyword("elided")) {
    Elided = true;
    advance();
    return true;
  }
  if (!T.isStatic())
    return error(TypeTok, "constant type " + printType(T) +
                              " must be static to hold data");
  int64_t Count = T.staticNumElements();
  std::vector<int64_t> Sizes = T.staticSizes();
  if (Tok.is(Token::HexBlob)) {
    size_t Have = Tok.Text.size() / 2;
    uint64_t Need;
    bool Overflow =
        __builtin_mul_overflow(uint64_t(Count), dtypeSize(T.Elem), &Need);
    if (Tok.Text.size() % 2)
      return error("hex data has an odd number of digits");
    if (Overflow || Have != Need)
      return error("constant data has " + llvm::Twine(Have) + " bytes, type " +
                   printType(T) + " needs " +
                   (Overflow ? std::string("more") : std::to_string(Need)));
    std::string Bytes = llvm::fromHex(Tok.Text);
    Data = Tensor::fromBytes(
        T.Elem, std::move(Sizes),
        llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(Bytes.data()),
                                Bytes.size()));
    advance();
    return true;
  }
  if (!Tok.is(Token::LSquare))
    return expect(Token::LSquare, AllowElided
                                      ? "constant data ('[', hex or 'elided')"
                                      : "tensor data ('[' or hex)");
  advance();
  std::vector<Token> Elems;
  if (!Tok.is(Token::RSquare)) {
    do {
      if (Tok.is(Token::Error))
        return error(Tok.Text);
      Elems.push_back(Tok);
      advance();
    } while (consumeIf(Token::Comma));
  }
  if (!expect(Token::RSquare, "']' after constant data"))
    return false;
  if (int64_t(Elems.size()) != Count)
    return error(TypeTok, "constant data has " + llvm::Twine(Elems.size()) +
                              " elements, type " + printType(T) + " needs " +
                              llvm::Twine(Count));
  Data = Tensor(T.Elem, std::move(Sizes));
  for (size_t I = 0; I < Elems.size(); ++I)
    if (!setElement(Data, int64_t(I), Elems[I]))
      return false;
  return true;
}

bool Parser::setElement(Tensor &T, int64_t I, const Token &Literal) {
  DType Elem = T.dtype();
  if (Elem == DType::Bool) {
    if (!Literal.isKeyword("true") && !Literal.isKeyword("false"))
      return error(Literal, "expected 'true' or 'false' for bool data, found " +
                                describeToken(Literal));
    T.mutableData<uint8_t>()[I] = Literal.isKeyword("true");
    return true;
  }
  if (isFloat(Elem)) {
    if (!Literal.is(Token::Integer) && !isFloatLiteral(Literal))
      return error(Literal, "expected a number for " + dtypeName(Elem) +
                                " data, found " + describeToken(Literal));
    if (Elem == DType::F64) {
      double D;
      if (!readFloat(Literal, D, "f64"))
        return false;
      T.mutableData<double>()[I] = D;
      return true;
    }
    float F;
    if (!readFloat(Literal, F, dtypeName(Elem)))
      return false;
    if (Elem == DType::F32)
      T.mutableData<float>()[I] = F;
    else if (Elem == DType::F16)
      T.mutableData<uint16_t>()[I] = floatToHalf(F);
    else
      T.mutableData<uint16_t>()[I] = floatToBFloat16(F);
    return true;
  }
  if (!Literal.is(Token::Integer))
    return error(Literal, "expected an integer for " + dtypeName(Elem) +
                              " data, found " + describeToken(Literal));
  int64_t V;
  if (Literal.Spelling.getAsInteger(10, V))
    return error(Literal, "integer literal does not fit in 64 bits");
  int64_t Lo = std::numeric_limits<int64_t>::min(),
          Hi = std::numeric_limits<int64_t>::max();
  switch (Elem) {
  case DType::I32:
    Lo = std::numeric_limits<int32_t>::min();
    Hi = std::numeric_limits<int32_t>::max();
    break;
  case DType::I8:
    Lo = -128;
    Hi = 127;
    break;
  case DType::U8:
    Lo = 0;
    Hi = 255;
    break;
  default: break;
  }
  if (V < Lo || V > Hi)
    return error(Literal, "integer " + Literal.Spelling +
                              " is out of range for " + dtypeName(Elem));
  T.setInt(I, V);
  return true;
}

} // namespace

llvm::Expected<std::unique_ptr<Graph>> parseGraph(llvm::StringRef Text,
                                                  llvm::StringRef BufferName,
                                                  unsigned FirstLine) {
  return Parser(Text, BufferName, FirstLine).parseFile();
}

} // namespace kiln
