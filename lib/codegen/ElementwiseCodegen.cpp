//===- ElementwiseCodegen.cpp - elementwise ops as generated CUDA ---------===//
//
// The generator types every node of the expression with the C type it is
// computed in (bool, long long, float or double), converts the arguments to
// that type, and writes one `const` temporary per node:
//
//   mul(sub(1.0, cast_f32(x0)), -10000.0) over i64[2, 128] -> f32[2, 1, 1, 128]
//
//     const long long v0 = (long long)in0[i];
//     const float t0 = (float)v0;
//     const float t1 = 1.0f - t0;
//     const float t2 = t1 * (-10000.0f);
//     out[i] = t2;
//
// Numbers take the type of the node that uses them, unless they do not fit
// it (0.5 next to an integer makes the node floating-point). Subtrees
// without operands are folded with Expr::eval, which is what the reference
// computes.
//
//===----------------------------------------------------------------------===//
#include "codegen/ElementwiseCodegen.h"

#include "ir/ops/OpUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/xxhash.h"

#include <charconv>
#include <cmath>
#include <set>

namespace kiln {
namespace {

/// The C types the generated code computes in, ordered by promotion.
enum class CType { Bool, Int, Float, Double };

llvm::StringRef cName(CType T) {
  switch (T) {
  case CType::Bool: return "bool";
  case CType::Int: return "long long";
  case CType::Float: return "float";
  case CType::Double: return "double";
  }
  return "";
}

CType computeType(DType T) {
  switch (T) {
  case DType::F32:
  case DType::F16:
  case DType::BF16: return CType::Float;
  case DType::F64: return CType::Double;
  case DType::Bool: return CType::Bool;
  default: return CType::Int;
  }
}

/// Whether the number `V` is exactly representable in `T`.
bool fits(double V, CType T) {
  switch (T) {
  case CType::Bool: return V == 0 || V == 1;
  case CType::Int: return V == std::trunc(V) && std::fabs(V) < 9.2e18;
  default: return true;
  }
}

CType wider(CType T) { return T == CType::Bool ? CType::Int : CType::Double; }

template <typename F> std::string shortest(F V) {
  char Buf[64];
  auto [End, Ec] = std::to_chars(Buf, Buf + sizeof(Buf), V);
  std::string S(Buf, End);
  if (S.find_first_of(".e") == std::string::npos)
    S += ".0";
  return S;
}

/// `V` as a C literal of type `T` (negative ones parenthesized, so that any
/// literal can stand where a variable can).
std::string literal(double V, CType T) {
  std::string S;
  bool Negative = std::signbit(V) && !std::isnan(V);
  switch (T) {
  case CType::Bool: return V != 0 ? "true" : "false";
  case CType::Int: S = std::to_string(int64_t(V)) + "LL"; break;
  case CType::Float:
    if (std::isnan(V))
      return "__int_as_float(0x7fc00000)";
    if (std::isinf(V))
      return Negative ? "(-__int_as_float(0x7f800000))"
                      : "__int_as_float(0x7f800000)";
    S = shortest(float(V)) + "f";
    break;
  case CType::Double:
    if (std::isnan(V))
      return "__longlong_as_double(0x7ff8000000000000LL)";
    if (std::isinf(V))
      return Negative ? "(-__longlong_as_double(0x7ff0000000000000LL))"
                      : "__longlong_as_double(0x7ff0000000000000LL)";
    S = shortest(V);
    break;
  }
  return Negative ? "(" + S + ")" : S;
}

/// A computed value: a variable of a C type, or a number not yet typed.
struct Val {
  std::string Code;
  std::optional<CType> Type;
  double Number = 0;
};

/// Whether `E` has no operands and only functions Expr::eval knows.
bool foldable(const Expr &E) {
  if (E.K == Expr::Kind::Operand)
    return false;
  if (E.K == Expr::Kind::Number)
    return true;
  return exprArity(E.Fn) >= 0 &&
         llvm::all_of(E.Args, [](const auto &A) { return foldable(*A); });
}

void collectOperands(const Expr &E, std::set<unsigned> &Used) {
  if (E.K == Expr::Kind::Operand)
    Used.insert(E.Operand);
  for (const auto &A : E.Args)
    collectOperands(*A, Used);
}

/// Exact integer arithmetic, as the ONNX ops' reference computes it; ""
/// for a function without an integer form. `A` holds the arguments.
std::string integerCode(llvm::StringRef Fn, const std::vector<std::string> &A) {
  auto Call = [&](llvm::StringRef Name, llvm::StringRef Extra = "") {
    std::string S = "kiln::" + Name.str() + "(" + A[0];
    if (A.size() > 1)
      S += ", " + A[1];
    return S + Extra.str() + ")";
  };
  if (A.size() == 2) {
    if (Fn == "add")
      return Call("wrap_add");
    if (Fn == "sub")
      return Call("wrap_sub");
    if (Fn == "mul")
      return Call("wrap_mul");
    if (Fn == "div")
      return Call("int_div");
    if (Fn == "pow")
      return Call("int_pow");
    if (Fn == "mod")
      return Call("int_mod", ", false");
    if (Fn == "fmod")
      return Call("int_mod", ", true");
    if (Fn == "max")
      return A[0] + " > " + A[1] + " ? " + A[0] + " : " + A[1];
    if (Fn == "min")
      return A[0] + " < " + A[1] + " ? " + A[0] + " : " + A[1];
    if (Fn == "clamp_lo")
      return A[0] + " < " + A[1] + " ? " + A[1] + " : " + A[0];
    if (Fn == "clamp_hi")
      return A[0] + " > " + A[1] + " ? " + A[1] + " : " + A[0];
  }
  if (A.size() == 1) {
    if (Fn == "neg")
      return Call("wrap_neg");
    if (Fn == "abs")
      return A[0] + " < 0 ? " + Call("wrap_neg") + " : " + A[0];
    if (Fn == "relu")
      return A[0] + " > 0 ? " + A[0] + " : 0LL";
    if (Fn == "sign")
      return A[0] + " > 0 ? 1LL : " + A[0] + " < 0 ? -1LL : 0LL";
  }
  return "";
}

/// Floating-point math in float or double (C's math functions take an `f`
/// suffix for float); "" for a function without that form.
std::string floatCode(llvm::StringRef Fn, const std::vector<std::string> &A,
                      CType T) {
  std::string F = T == CType::Float ? "f" : "";
  auto Num = [&](double V) { return literal(V, T); };
  auto Math = [&](llvm::StringRef Name) {
    std::string S = Name.str() + F + "(" + A[0];
    if (A.size() > 1)
      S += ", " + A[1];
    return S + ")";
  };
  if (A.size() == 2) {
    if (Fn == "add")
      return A[0] + " + " + A[1];
    if (Fn == "sub")
      return A[0] + " - " + A[1];
    if (Fn == "mul")
      return A[0] + " * " + A[1];
    if (Fn == "div")
      return A[0] + " / " + A[1];
    if (Fn == "pow")
      return Math("pow");
    if (Fn == "fmod")
      return Math("fmod");
    if (Fn == "max")
      return "kiln::nan_max(" + A[0] + ", " + A[1] + ")";
    if (Fn == "min")
      return "kiln::nan_min(" + A[0] + ", " + A[1] + ")";
    if (Fn == "mod")
      return "kiln::floor_mod(" + A[0] + ", " + A[1] + ")";
    if (Fn == "clamp_lo")
      return A[0] + " < " + A[1] + " ? " + A[1] + " : " + A[0];
    if (Fn == "clamp_hi")
      return A[0] + " > " + A[1] + " ? " + A[1] + " : " + A[0];
    if (Fn == "leaky_relu")
      return A[0] + " < " + Num(0) + " ? " + A[1] + " * " + A[0] + " : " + A[0];
    if (Fn == "elu")
      return A[0] + " < " + Num(0) + " ? " + A[1] + " * expm1" + F + "(" +
             A[0] + ") : " + A[0];
  }
  if (A.size() != 1)
    return "";
  const std::string &X = A[0];
  if (Fn == "neg")
    return "-" + X;
  if (Fn == "abs")
    return Math("fabs");
  if (Fn == "round")
    return Math("rint");
  if (Fn == "exp" || Fn == "log" || Fn == "sqrt" || Fn == "tanh" ||
      Fn == "erf" || Fn == "floor" || Fn == "ceil" || Fn == "sin" ||
      Fn == "cos")
    return Math(Fn);
  if (Fn == "relu")
    return X + " > " + Num(0) + " ? " + X + " : " + Num(0);
  if (Fn == "sign")
    return X + " > " + Num(0) + " ? " + Num(1) + " : " + X + " < " + Num(0) +
           " ? " + Num(-1) + " : " + X;
  if (Fn == "reciprocal")
    return Num(1) + " / " + X;
  if (Fn == "sigmoid")
    return Num(1) + " / (" + Num(1) + " + exp" + F + "(-" + X + "))";
  if (Fn == "gelu")
    return Num(0.5) + " * " + X + " * (" + Num(1) + " + erf" + F + "(" + X +
           " * " + Num(M_SQRT1_2) + "))";
  if (Fn == "gelu_tanh")
    return Num(0.5) + " * " + X + " * (" + Num(1) + " + tanh" + F + "(" +
           Num(0.7978845608028654) + " * (" + X + " + " + Num(0.044715) +
           " * " + X + " * " + X + " * " + X + ")))";
  if (Fn == "softplus")
    return X + " > " + Num(0) + " ? " + X + " + log1p" + F + "(exp" + F + "(-" +
           X + ")) : log1p" + F + "(exp" + F + "(" + X + "))";
  return "";
}

class Emitter {
public:
  Emitter(IntegerMath Math, std::vector<std::optional<CType>> Leaves)
      : Math(Math), Leaves(std::move(Leaves)) {}

  llvm::Expected<Val> emit(const Expr &E) {
    if (E.K == Expr::Kind::Operand)
      return Val{"v" + std::to_string(E.Operand), Leaves[E.Operand]};
    if (E.K == Expr::Kind::Number || foldable(E)) {
      double V = E.K == Expr::Kind::Number ? E.Number : E.eval(nullptr);
      return Val{"", std::nullopt, V};
    }
    std::vector<Val> Args;
    for (const auto &A : E.Args) {
      auto V = emit(*A);
      if (!V)
        return V.takeError();
      Args.push_back(std::move(*V));
    }
    return call(E.Fn, Args);
  }

  std::string Body;

private:
  Val temp(CType T, const std::string &Code) {
    std::string Name = "t" + std::to_string(NextTemp++);
    Body += "  const " + cName(T).str() + " " + Name + " = " + Code + ";\n";
    return Val{Name, T};
  }

  /// The smallest type at least `Floor` that holds every argument.
  static CType join(llvm::ArrayRef<Val> Args, CType Floor) {
    CType T = Floor;
    for (const Val &A : Args)
      if (A.Type)
        T = std::max(T, *A.Type);
    for (const Val &A : Args)
      while (!A.Type && !fits(A.Number, T))
        T = wider(T);
    return T;
  }

  static std::string convert(const Val &V, CType T) {
    if (!V.Type)
      return literal(V.Number, T);
    if (*V.Type == T)
      return V.Code;
    switch (T) {
    case CType::Bool: return "(" + V.Code + " != 0)";
    case CType::Int:
      return *V.Type == CType::Bool ? "(long long)" + V.Code
                                    : "kiln::trunc_to_i64(" + V.Code + ")";
    case CType::Float: return "(float)" + V.Code;
    case CType::Double: return "(double)" + V.Code;
    }
    return V.Code;
  }

  /// cast_<dtype>: rounds as Expr::eval's roundTo does (integers truncate
  /// toward zero without wrapping; the store wraps).
  Val cast(DType To, const Val &A) {
    CType From = A.Type.value_or(CType::Double);
    Val Src = A.Type ? A : Val{literal(A.Number, CType::Double), CType::Double};
    // Casts within a compute type that round nothing are free.
    bool Rounds = To == DType::F16 || To == DType::BF16;
    if (!Rounds && From == computeType(To))
      return Src;
    switch (To) {
    case DType::F16:
      return temp(CType::Float,
                  "kiln::round_to_half(" + convert(Src, CType::Float) + ")");
    case DType::BF16:
      return temp(CType::Float,
                  "kiln::round_to_bf16(" + convert(Src, CType::Float) + ")");
    case DType::F32: return temp(CType::Float, convert(Src, CType::Float));
    case DType::F64: return temp(CType::Double, convert(Src, CType::Double));
    case DType::Bool: return temp(CType::Bool, convert(Src, CType::Bool));
    default: return temp(CType::Int, convert(Src, CType::Int));
    }
  }

  llvm::Expected<Val> call(llvm::StringRef Fn, llvm::ArrayRef<Val> Args) {
    if (Fn.starts_with("cast_")) {
      std::optional<DType> To = parseDType(Fn.drop_front(5));
      if (!To)
        return makeError("unknown cast '" + Fn + "'");
      return cast(*To, Args[0]);
    }
    enum class Kind { Arith, FloatMath, Compare, Logic, Select };
    Kind K =
        llvm::StringSwitch<Kind>(Fn)
            .Cases("add", "sub", "mul", "div", "pow", Kind::Arith)
            .Cases("max", "min", "neg", "abs", "relu", Kind::Arith)
            .Cases("sign", "mod", "fmod", "clamp_lo", "clamp_hi", Kind::Arith)
            .Cases("eq", "lt", "le", "gt", "ge", Kind::Compare)
            .Cases("and", "or", "xor", "not", Kind::Logic)
            .Case("where", Kind::Select)
            .Default(Kind::FloatMath);
    std::vector<std::string> A;
    if (K == Kind::Logic) {
      for (const Val &V : Args)
        A.push_back(convert(V, CType::Bool));
      if (Fn == "not")
        return temp(CType::Bool, "!" + A[0]);
      llvm::StringRef Op = Fn == "and" ? " && " : Fn == "or" ? " || " : " != ";
      return temp(CType::Bool, A[0] + Op.str() + A[1]);
    }
    if (K == Kind::Select) {
      CType T = join(Args.drop_front(), CType::Bool);
      return temp(T, convert(Args[0], CType::Bool) + " ? " +
                         convert(Args[1], T) + " : " + convert(Args[2], T));
    }
    CType T = join(Args, CType::Int);
    if (K == Kind::Compare) {
      for (const Val &V : Args)
        A.push_back(convert(V, T));
      llvm::StringRef Op = llvm::StringSwitch<llvm::StringRef>(Fn)
                               .Case("eq", " == ")
                               .Case("lt", " < ")
                               .Case("le", " <= ")
                               .Case("gt", " > ")
                               .Default(" >= ");
      return temp(CType::Bool, A[0] + Op.str() + A[1]);
    }
    if (T == CType::Int &&
        (K == Kind::FloatMath || Math == IntegerMath::ViaDouble))
      T = CType::Double;
    for (const Val &V : Args)
      A.push_back(convert(V, T));
    auto Num = [&](double V) { return literal(V, T); };
    if (Fn == "hard_sigmoid" && A.size() == 3) {
      // max(0, min(1, alpha x + beta)) with std::min/std::max's NaN rules.
      Val Y = temp(T, A[1] + " * " + A[0] + " + " + A[2]);
      Val M =
          temp(T, Y.Code + " < " + Num(1) + " ? " + Y.Code + " : " + Num(1));
      return temp(T, Num(0) + " < " + M.Code + " ? " + M.Code + " : " + Num(0));
    }
    if (Fn == "isnan" && A.size() == 1)
      return temp(CType::Bool, A[0] + " != " + A[0]);
    // isinf(x, detect_negative, detect_positive), the flags being numbers.
    if (Fn == "isinf" && A.size() == 3 && !Args[1].Type && !Args[2].Type)
      return temp(CType::Bool,
                  "isinf(" + A[0] + ") && (" + A[0] + " > " + Num(0) + " ? " +
                      literal(Args[2].Number, CType::Bool) + " : " +
                      literal(Args[1].Number, CType::Bool) + ")");
    std::string R = T == CType::Int ? integerCode(Fn, A) : floatCode(Fn, A, T);
    if (R.empty())
      return makeError("unknown function '" + Fn + "' (or wrong arity)");
    return temp(T, R);
  }

  IntegerMath Math;
  std::vector<std::optional<CType>> Leaves;
  unsigned NextTemp = 0;
};

/// The parameter type of a tensor of `T` (bools are read as bytes: any
/// nonzero byte is true).
std::string paramType(DType T) {
  return T == DType::Bool ? "uint8_t" : cudaTypeName(T).str();
}

/// The code reading element `Offset` of operand `I` in its compute type.
std::string loadCode(DType T, unsigned I, const std::string &Offset) {
  std::string X = "in" + std::to_string(I) + "[" + Offset + "]";
  switch (T) {
  case DType::F16:
  case DType::BF16: return "kiln::to_float(" + X + ")";
  case DType::F32:
  case DType::F64: return X;
  case DType::Bool: return "(" + X + " != 0)";
  default: return "(long long)" + X;
  }
}

/// The code converting `V` to the stored element of `T`, as
/// Tensor::setDouble does (integers truncate toward zero and wrap).
std::string storeCode(DType T, const Val &V) {
  CType From = V.Type.value_or(CType::Double);
  std::string Code = V.Type ? V.Code : literal(V.Number, CType::Double);
  switch (T) {
  case DType::F32: return From == CType::Float ? Code : "(float)" + Code;
  case DType::F16:
  case DType::BF16:
    return "kiln::from_float<" + cudaTypeName(T).str() + ">(" +
           (From == CType::Float ? Code : "(float)" + Code) + ")";
  case DType::F64: return From == CType::Double ? Code : "(double)" + Code;
  case DType::Bool: return "(uint8_t)(" + Code + " != 0)";
  default: {
    std::string Int = From == CType::Int || From == CType::Bool
                          ? Code
                          : "kiln::trunc_to_i64(" + Code + ")";
    return "(" + cudaTypeName(T).str() + ")" + Int;
  }
  }
}

std::string typeStr(const TensorType &T) { return T.str(); }

} // namespace

llvm::Expected<ElementwiseKernel>
generateElementwiseKernel(const Expr &E, IntegerMath Math,
                          llvm::ArrayRef<const TensorType *> Operands,
                          const TensorType &Result) {
  if (!Result.isStatic())
    return makeError("result type " + Result.str() + " is not static");
  std::set<unsigned> Used;
  collectOperands(E, Used);
  std::vector<int64_t> OutSizes = Result.staticSizes();
  std::vector<std::optional<CType>> Leaves(Operands.size());
  ElementwiseKernel K;
  std::vector<std::vector<int64_t>> Strides;
  for (unsigned I : Used) {
    if (I >= Operands.size() || !Operands[I])
      return makeError("the expression reads x" + llvm::Twine(I) +
                       ", which is absent");
    const TensorType &T = *Operands[I];
    if (!T.isStatic())
      return makeError("operand " + llvm::Twine(I) + " of type " + T.str() +
                       " is not static");
    std::vector<int64_t> Sizes = T.staticSizes();
    auto B = broadcastSizes({Sizes, OutSizes});
    if (!B || *B != OutSizes) {
      if (!B)
        llvm::consumeError(B.takeError());
      return makeError("operand " + llvm::Twine(I) + " of type " + T.str() +
                       " does not broadcast to " + Result.str());
    }
    Leaves[I] = computeType(T.Elem);
    K.Operands.push_back(I);
    Strides.push_back(broadcastStrides(Sizes, OutSizes));
  }

  // Coalesce: drop dims of 1 and merge neighbours every operand reads
  // contiguously (or broadcasts along both).
  std::vector<int64_t> Sizes;
  std::vector<std::vector<int64_t>> Steps(Strides.size());
  for (size_t D = 0; D < OutSizes.size(); ++D) {
    if (OutSizes[D] == 1)
      continue;
    bool Merge = !Sizes.empty();
    for (size_t J = 0; Merge && J < Strides.size(); ++J)
      Merge = Steps[J].back() == Strides[J][D] * OutSizes[D];
    if (Merge) {
      Sizes.back() *= OutSizes[D];
      for (size_t J = 0; J < Strides.size(); ++J)
        Steps[J].back() = Strides[J][D];
      continue;
    }
    Sizes.push_back(OutSizes[D]);
    for (size_t J = 0; J < Strides.size(); ++J)
      Steps[J].push_back(Strides[J][D]);
  }
  K.NumElements = numElementsOf(OutSizes);
  std::vector<int64_t> Contiguous(Sizes.size(), 1);
  for (size_t D = Sizes.size(); D-- > 1;)
    Contiguous[D - 1] = Contiguous[D] * Sizes[D];

  bool Wide = K.NumElements >= (int64_t(1) << 31);
  std::string Index = Wide ? "long long" : "unsigned";
  auto Int = [&](int64_t V) { return std::to_string(V) + (Wide ? "LL" : "u"); };

  std::string Params;
  for (size_t J = 0; J < K.Operands.size(); ++J) {
    unsigned I = K.Operands[J];
    Params += "const " + paramType(Operands[I]->Elem) + " *__restrict__ in" +
              std::to_string(I) + ", ";
  }
  Params += paramType(Result.Elem) + " *__restrict__ out";

  std::string Body;
  Body += "  const " + Index + " i = (" + Index + ")blockIdx.x * " +
          Int(ElementwiseBlockSize) + " + threadIdx.x;\n";
  Body += "  if (i >= " + Int(K.NumElements) + ")\n    return;\n";
  bool NeedCoords = llvm::any_of(Steps, [&](const std::vector<int64_t> &S) {
    return S != Contiguous && llvm::any_of(S, [](int64_t X) { return X; });
  });
  if (NeedCoords) {
    Body += "  " + Index + " r = i;\n";
    for (size_t D = Sizes.size(); D-- > 1;)
      Body += "  const " + Index + " c" + std::to_string(D) + " = r % " +
              Int(Sizes[D]) + ";\n  r /= " + Int(Sizes[D]) + ";\n";
    Body += "  const " + Index + " c0 = r;\n";
  }
  for (size_t J = 0; J < K.Operands.size(); ++J) {
    unsigned I = K.Operands[J];
    std::string Offset;
    if (Steps[J] == Contiguous) {
      Offset = "i";
    } else {
      for (size_t D = 0; D < Sizes.size(); ++D) {
        if (!Steps[J][D])
          continue;
        Offset += (Offset.empty() ? "" : " + ") + std::string("c") +
                  std::to_string(D) +
                  (Steps[J][D] == 1 ? "" : " * " + Int(Steps[J][D]));
      }
      if (Offset.empty())
        Offset = "0";
    }
    Body += "  const " + cName(*Leaves[I]).str() + " v" + std::to_string(I) +
            " = " + loadCode(Operands[I]->Elem, I, Offset) + ";\n";
  }

  Emitter Em(Math, Leaves);
  auto Root = Em.emit(E);
  if (!Root)
    return Root.takeError();
  Body += Em.Body;
  Body += "  out[i] = " + storeCode(Result.Elem, *Root) + ";\n";

  std::string Signature;
  for (unsigned I : K.Operands)
    Signature += (Signature.empty() ? "" : ", ") + typeStr(*Operands[I]);
  K.KernelName = "kiln_elementwise";
  K.Source = "// " + E.str() + "\n// (" + Signature + ") -> " + Result.str() +
             "\n#include \"elementwise.cuh\"\n\nextern \"C\" __global__ void "
             "__launch_bounds__(" +
             std::to_string(ElementwiseBlockSize) + ")\n" + K.KernelName + "(" +
             Params + ") {\n  kiln::wait_for_predecessor();\n" + Body + "}\n";
  K.Module = "elementwise_" + llvm::utohexstr(llvm::xxh3_64bits(K.Source),
                                              /*LowerCase=*/true, 16);
  return K;
}

} // namespace kiln
