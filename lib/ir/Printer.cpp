#include "ir/Printer.h"

#include "llvm/ADT/StringExtras.h"

#include <charconv>
#include <cmath>

namespace kiln {

namespace {

/// Constants and tensor attributes with more elements than this print as hex
/// (or `elided`) instead of a list of literals.
constexpr int64_t MaxInlineElements = 16;

/// A name or symbol printed bare when the lexer reads it back as one token.
/// A leading `//` would start a comment, and a dim named like a dtype would
/// read oddly, so those are quoted.
void printIdentifier(llvm::raw_ostream &OS, llvm::StringRef Name) {
  if (isBareIdentifier(Name) && !Name.starts_with("//"))
    OS << Name;
  else
    OS << quoteString(Name);
}

void printDim(llvm::raw_ostream &OS, const Dim &D) {
  if (D.isStatic())
    OS << D.value();
  else if (D.isUnknown())
    OS << '?';
  else if (parseDType(D.symbol()))
    OS << quoteString(D.symbol());
  else
    printIdentifier(OS, D.symbol());
}

void printTypeTo(llvm::raw_ostream &OS, const TensorType &T) {
  OS << dtypeName(T.Elem) << '[';
  for (size_t I = 0; I < T.Dims.size(); ++I) {
    if (I)
      OS << ", ";
    printDim(OS, T.Dims[I]);
  }
  OS << ']';
}

/// The shortest decimal that reads back as the same float or double, with a
/// `.` so that it never reads as an integer: `1.0`, `0.5`, `1.0e-12`, `inf`.
template <typename FloatT> void printFloat(llvm::raw_ostream &OS, FloatT V) {
  char Buf[64];
  auto Result = std::to_chars(Buf, Buf + sizeof(Buf), V);
  llvm::StringRef S(Buf, size_t(Result.ptr - Buf));
  if (!std::isfinite(V)) {
    OS << S;
    return;
  }
  size_t ExpPos = S.find_first_of("eE");
  llvm::StringRef Mantissa = S.substr(0, ExpPos);
  OS << Mantissa;
  if (!Mantissa.contains('.'))
    OS << ".0";
  if (ExpPos != llvm::StringRef::npos)
    OS << S.substr(ExpPos);
}

void printElement(llvm::raw_ostream &OS, const Tensor &T, int64_t I) {
  const uint8_t *P = T.bytes();
  switch (T.dtype()) {
  case DType::F32: printFloat(OS, T.data<float>()[I]); return;
  case DType::F64: printFloat(OS, T.data<double>()[I]); return;
  case DType::F16: printFloat(OS, halfToFloat(T.data<uint16_t>()[I])); return;
  case DType::BF16:
    printFloat(OS, bfloat16ToFloat(T.data<uint16_t>()[I]));
    return;
  case DType::Bool: OS << (P[I] ? "true" : "false"); return;
  case DType::I64:
  case DType::I32:
  case DType::I8:
  case DType::U8: OS << T.getInt(I); return;
  }
}

void printHex(llvm::raw_ostream &OS, const Tensor &T) {
  OS << "0x";
  const uint8_t *P = T.bytes();
  for (size_t I = 0, E = T.byteSize(); I < E; ++I)
    OS << llvm::hexdigit(P[I] >> 4) << llvm::hexdigit(P[I] & 15);
}

/// The data after a constant's type: a list, hex, or `elided`.
void printData(llvm::raw_ostream &OS, const Tensor &T, bool Elide) {
  if (T.numElements() > MaxInlineElements) {
    if (Elide)
      OS << "elided";
    else
      printHex(OS, T);
    return;
  }
  OS << '[';
  for (int64_t I = 0; I < T.numElements(); ++I) {
    if (I)
      OS << ", ";
    printElement(OS, T, I);
  }
  OS << ']';
}

template <typename ElemT, typename Fn>
void printList(llvm::raw_ostream &OS, const std::vector<ElemT> &Elems,
               llvm::StringRef KindName, Fn PrintOne) {
  if (Elems.empty()) {
    OS << "[] : " << KindName;
    return;
  }
  OS << '[';
  for (size_t I = 0; I < Elems.size(); ++I) {
    if (I)
      OS << ", ";
    PrintOne(Elems[I]);
  }
  OS << ']';
}

void printAttribute(llvm::raw_ostream &OS, const Attribute &A) {
  switch (A.kind()) {
  case AttrKind::Int: OS << A.getInt(); return;
  case AttrKind::Float: printFloat(OS, A.getFloat()); return;
  case AttrKind::String: OS << quoteString(A.getString()); return;
  case AttrKind::Ints:
    printList(OS, A.getInts(), "ints", [&](int64_t V) { OS << V; });
    return;
  case AttrKind::Floats:
    printList(OS, A.getFloats(), "floats", [&](float V) { printFloat(OS, V); });
    return;
  case AttrKind::Strings:
    printList(OS, A.getStrings(), "strings",
              [&](const std::string &V) { OS << quoteString(V); });
    return;
  case AttrKind::Tensor: {
    const Tensor &T = A.getTensor();
    OS << "tensor<";
    printTypeTo(OS, T.type());
    OS << ' ';
    printData(OS, T, /*Elide=*/false);
    OS << '>';
    return;
  }
  }
}

/// `{name = value, ...}`.
void printAttributes(llvm::raw_ostream &OS, const AttrMap &Attrs) {
  OS << '{';
  bool First = true;
  for (const auto &[Name, A] : Attrs) {
    if (!First)
      OS << ", ";
    First = false;
    printIdentifier(OS, Name);
    OS << " = ";
    printAttribute(OS, A);
  }
  OS << '}';
}

void printValueRef(llvm::raw_ostream &OS, const Value *V) {
  if (!V) {
    OS << "none";
    return;
  }
  OS << '%';
  printIdentifier(OS, V->name());
}

void printNode(llvm::raw_ostream &OS, const Node &N) {
  OS << "  ";
  for (unsigned I = 0; I < N.numResults(); ++I) {
    if (I)
      OS << ", ";
    printValueRef(OS, N.result(I));
  }
  if (N.numResults())
    OS << " = ";
  OS << N.opName() << '(';
  for (unsigned I = 0; I < N.numOperands(); ++I) {
    if (I)
      OS << ", ";
    printValueRef(OS, N.operand(I));
  }
  OS << ')';
  if (!N.attrs().empty()) {
    OS << ' ';
    printAttributes(OS, N.attrs());
  }
  if (N.numResults()) {
    OS << " : ";
    for (unsigned I = 0; I < N.numResults(); ++I) {
      if (I)
        OS << ", ";
      printTypeTo(OS, N.result(I)->type());
    }
  }
  if (!N.name().empty())
    OS << " loc(" << quoteString(N.name()) << ')';
  OS << '\n';
}

} // namespace

std::string printType(const TensorType &T) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  printTypeTo(OS, T);
  return S;
}

void printGraph(const Graph &G, llvm::raw_ostream &OS,
                const PrintOptions &Options) {
  OS << "graph @";
  printIdentifier(OS, G.name());
  OS << '(';
  for (size_t I = 0; I < G.inputs().size(); ++I) {
    if (I)
      OS << ", ";
    const Value *V = G.inputs()[I];
    printValueRef(OS, V);
    OS << ": ";
    printTypeTo(OS, V->type());
  }
  OS << ')';
  if (!G.attrs().empty()) {
    OS << " attributes ";
    printAttributes(OS, G.attrs());
  }
  OS << " {\n";
  for (const Value *V : G.constants()) {
    OS << "  ";
    printValueRef(OS, V);
    OS << " = const ";
    printTypeTo(OS, V->type());
    OS << ' ';
    if (const Tensor *T = V->constantData())
      printData(OS, *T, Options.ElideWeights);
    else
      OS << "elided";
    OS << '\n';
  }
  for (const auto &N : G.nodes())
    printNode(OS, *N);
  OS << "  return";
  for (size_t I = 0; I < G.outputs().size(); ++I) {
    OS << (I ? ", " : " ");
    printValueRef(OS, G.outputs()[I]);
  }
  OS << "\n}\n";
}

std::string printGraphToString(const Graph &G, const PrintOptions &Options) {
  std::string S;
  llvm::raw_string_ostream OS(S);
  printGraph(G, OS, Options);
  return S;
}

} // namespace kiln
