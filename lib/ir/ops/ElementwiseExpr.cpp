#include "ir/ops/ElementwiseExpr.h"
#include "ir/Error.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <charconv>
#include <cmath>

namespace kiln {

int exprArity(llvm::StringRef Fn) {
  if (Fn.starts_with("cast_"))
    return parseDType(Fn.drop_front(5)) ? 1 : -1;
  return llvm::StringSwitch<int>(Fn)
      .Cases("add", "sub", "mul", "div", "pow", 2)
      .Cases("max", "min", "eq", "lt", "le", 2)
      .Cases("gt", "ge", "and", "or", 2)
      .Cases("neg", "abs", "exp", "log", "sqrt", 1)
      .Cases("reciprocal", "relu", "sigmoid", "tanh", "erf", 1)
      .Cases("gelu", "gelu_tanh", "not", 1)
      .Case("where", 3)
      .Default(-1);
}

std::string Expr::str() const {
  switch (K) {
  case Kind::Operand: return "x" + std::to_string(Operand);
  case Kind::Number: {
    char Buf[64];
    auto [End, Ec] = std::to_chars(Buf, Buf + sizeof(Buf), Number);
    std::string S(Buf, End);
    if (std::isfinite(Number) && S.find_first_of(".e") == std::string::npos)
      S += ".0";
    return S;
  }
  case Kind::Call: {
    std::string S = Fn + "(";
    for (size_t I = 0; I < Args.size(); ++I)
      S += (I ? ", " : "") + Args[I]->str();
    return S + ")";
  }
  }
  return "";
}

unsigned Expr::numOperands() const {
  if (K == Kind::Operand)
    return Operand + 1;
  unsigned N = 0;
  for (const auto &A : Args)
    N = std::max(N, A->numOperands());
  return N;
}

static double roundTo(DType T, double V) {
  switch (T) {
  case DType::F64: return V;
  case DType::F32: return double(float(V));
  case DType::F16: return halfToFloat(floatToHalf(float(V)));
  case DType::BF16: return bfloat16ToFloat(floatToBFloat16(float(V)));
  case DType::Bool: return V != 0.0;
  default: return std::isnan(V) ? 0.0 : std::trunc(V);
  }
}

double Expr::eval(const double *X) const {
  if (K == Kind::Operand)
    return X[Operand];
  if (K == Kind::Number)
    return Number;
  double A = Args[0]->eval(X);
  if (Fn.starts_with("cast_"))
    return roundTo(*parseDType(llvm::StringRef(Fn).drop_front(5)), A);
  if (Args.size() == 1) {
    if (Fn == "neg")
      return -A;
    if (Fn == "abs")
      return std::fabs(A);
    if (Fn == "exp")
      return std::exp(A);
    if (Fn == "log")
      return std::log(A);
    if (Fn == "sqrt")
      return std::sqrt(A);
    if (Fn == "reciprocal")
      return 1.0 / A;
    if (Fn == "relu")
      return A > 0 ? A : 0.0;
    if (Fn == "sigmoid")
      return 1.0 / (1.0 + std::exp(-A));
    if (Fn == "tanh")
      return std::tanh(A);
    if (Fn == "erf")
      return std::erf(A);
    if (Fn == "gelu")
      return 0.5 * A * (1.0 + std::erf(A * M_SQRT1_2));
    if (Fn == "gelu_tanh")
      return 0.5 * A *
             (1.0 + std::tanh(0.7978845608028654 * (A + 0.044715 * A * A * A)));
    if (Fn == "not")
      return A == 0.0;
  }
  double B = Args[1]->eval(X);
  if (Fn == "where")
    return A != 0.0 ? B : Args[2]->eval(X);
  if (Fn == "add")
    return A + B;
  if (Fn == "sub")
    return A - B;
  if (Fn == "mul")
    return A * B;
  if (Fn == "div")
    return A / B;
  if (Fn == "pow")
    return std::pow(A, B);
  if (Fn == "max")
    return std::isnan(A) || std::isnan(B) ? NAN : std::max(A, B);
  if (Fn == "min")
    return std::isnan(A) || std::isnan(B) ? NAN : std::min(A, B);
  if (Fn == "eq")
    return A == B;
  if (Fn == "lt")
    return A < B;
  if (Fn == "le")
    return A <= B;
  if (Fn == "gt")
    return A > B;
  if (Fn == "ge")
    return A >= B;
  if (Fn == "and")
    return A != 0.0 && B != 0.0;
  if (Fn == "or")
    return A != 0.0 || B != 0.0;
  return NAN;
}

namespace {

class ExprParser {
public:
  explicit ExprParser(llvm::StringRef Text) : Text(Text), Rest(Text) {}

  llvm::Expected<std::unique_ptr<Expr>> parseAll() {
    auto E = parse(0);
    if (!E)
      return E.takeError();
    Rest = Rest.ltrim();
    if (!Rest.empty())
      return error("unexpected '" + Rest.take_front(10) + "'");
    return E;
  }

private:
  llvm::Error error(const llvm::Twine &Msg) {
    return makeError("expression '" + Text + "' at offset " +
                     llvm::Twine(Text.size() - Rest.size()) + ": " + Msg);
  }

  llvm::Expected<std::unique_ptr<Expr>> parse(unsigned Depth) {
    if (Depth > 256)
      return error("nested too deeply");
    Rest = Rest.ltrim();
    auto E = std::make_unique<Expr>();
    if (!Rest.empty() &&
        (llvm::isDigit(Rest[0]) || Rest[0] == '-' || Rest[0] == '.' ||
         Rest.starts_with("inf") || Rest.starts_with("nan"))) {
      size_t Len = Rest.find_first_of(",) ");
      llvm::StringRef Tok = Rest.substr(0, Len);
      double V;
      auto [Ptr, Ec] = std::from_chars(Tok.begin(), Tok.end(), V);
      if (Ec != std::errc() || Ptr != Tok.end())
        return error("bad number '" + Tok + "'");
      E->K = Expr::Kind::Number;
      E->Number = V;
      Rest = Rest.drop_front(Tok.size());
      return E;
    }
    size_t Len = 0;
    while (Len < Rest.size() && (llvm::isAlnum(Rest[Len]) || Rest[Len] == '_'))
      ++Len;
    llvm::StringRef Name = Rest.take_front(Len);
    if (Name.empty())
      return error("expected an operand, a number or a function");
    Rest = Rest.drop_front(Len).ltrim();
    unsigned Index;
    if (Name.starts_with("x") && !Name.drop_front().getAsInteger(10, Index)) {
      E->K = Expr::Kind::Operand;
      E->Operand = Index;
      return E;
    }
    int Arity = exprArity(Name);
    if (Arity < 0)
      return error("unknown function '" + Name + "'");
    if (!Rest.consume_front("("))
      return error("expected '(' after '" + Name + "'");
    E->K = Expr::Kind::Call;
    E->Fn = Name.str();
    for (int I = 0; I < Arity; ++I) {
      if (I && !Rest.ltrim().starts_with(","))
        return error("'" + Name + "' takes " + llvm::Twine(Arity) +
                     " arguments");
      if (I)
        Rest = Rest.ltrim().drop_front();
      auto Arg = parse(Depth + 1);
      if (!Arg)
        return Arg.takeError();
      E->Args.push_back(std::move(*Arg));
    }
    Rest = Rest.ltrim();
    if (!Rest.consume_front(")"))
      return error("'" + Name + "' takes " + llvm::Twine(Arity) +
                   " arguments; expected ')'");
    return E;
  }

  llvm::StringRef Text, Rest;
};

} // namespace

llvm::Expected<std::unique_ptr<Expr>> parseExpr(llvm::StringRef Text) {
  return ExprParser(Text).parseAll();
}

} // namespace kiln
