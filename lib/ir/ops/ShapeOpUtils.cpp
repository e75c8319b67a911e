#include "ir/ops/ShapeOpUtils.h"

#include "ir/DimProducts.h"

#include "llvm/ADT/STLExtras.h"

namespace kiln {

OpDef makeOp(llvm::StringRef Name, llvm::StringRef Summary, unsigned MinInputs,
             unsigned MaxInputs, std::vector<AttrSpec> Attrs,
             std::function<llvm::Error(InferContext &)> Infer,
             std::function<llvm::Error(EvalContext &)> Eval) {
  OpDef D;
  D.Name = Name.str();
  D.Summary = Summary.str();
  D.MinInputs = MinInputs;
  D.MaxInputs = MaxInputs;
  D.Attrs = std::move(Attrs);
  D.Infer = std::move(Infer);
  D.Eval = std::move(Eval);
  return D;
}

llvm::Expected<Tensor> constantNodeValue(const Node &N) {
  static constexpr std::pair<const char *, AttrKind> ValueAttrs[] = {
      {"value", AttrKind::Tensor},         {"value_float", AttrKind::Float},
      {"value_floats", AttrKind::Floats},  {"value_int", AttrKind::Int},
      {"value_ints", AttrKind::Ints},      {"value_string", AttrKind::String},
      {"value_strings", AttrKind::Strings}};
  const char *Found = nullptr;
  for (auto [Name, Kind] : ValueAttrs) {
    const Attribute *A = N.attr(Name);
    if (!A)
      continue;
    if (Found)
      return makeError(N.describe() + ": has both '" + Found + "' and '" +
                       Name + "'; a Constant takes exactly one value");
    if (A->kind() != Kind)
      return makeError(N.describe() + ": attribute '" + Name + "' is " +
                       attrKindName(A->kind()) + ", expected " +
                       attrKindName(Kind));
    Found = Name;
  }
  if (!Found)
    return makeError(N.describe() +
                     ": has no value attribute (value, value_float, "
                     "value_floats, value_int or value_ints)");
  llvm::StringRef Name = Found;
  const Attribute &A = *N.attr(Name);
  if (Name == "value_string" || Name == "value_strings")
    return makeError("unsupported Constant of strings (kiln has no string "
                     "tensors) in " +
                     N.describe());
  if (Name == "value")
    return A.getTensor();
  if (Name == "value_float")
    return Tensor::fromDoubles(DType::F32, {}, {double(A.getFloat())});
  if (Name == "value_int")
    return Tensor::scalarInt(DType::I64, A.getInt());
  if (Name == "value_ints")
    return Tensor::fromInts(DType::I64, {int64_t(A.getInts().size())},
                            A.getInts());
  std::vector<double> Values(A.getFloats().begin(), A.getFloats().end());
  return Tensor::fromDoubles(DType::F32, {int64_t(Values.size())}, Values);
}

std::optional<Tensor> knownTensor(const InferContext &Ctx, unsigned I) {
  if (const Tensor *T = Ctx.inputConstant(I))
    return *T;
  const Value *V = Ctx.node().operand(I);
  const Node *Def = V ? V->definingNode() : nullptr;
  if (!Def || Def->opName() != "Constant")
    return std::nullopt;
  auto T = constantNodeValue(*Def);
  if (!T) {
    // The Constant node reports its own error when it is inferred.
    llvm::consumeError(T.takeError());
    return std::nullopt;
  }
  return std::move(*T);
}

std::optional<std::vector<int64_t>> knownInts(const InferContext &Ctx,
                                              unsigned I) {
  if (!Ctx.hasInput(I))
    return std::nullopt;
  if (std::optional<Tensor> T = knownTensor(Ctx, I)) {
    if (!isInteger(T->dtype()))
      return std::nullopt;
    return T->toInts();
  }
  const std::vector<Dim> *SV = Ctx.inputShapeValue(I);
  if (!SV)
    return std::nullopt;
  std::vector<int64_t> Out;
  for (const Dim &D : *SV) {
    std::optional<int64_t> V = shapeValueInt(D);
    if (!V)
      return std::nullopt;
    Out.push_back(*V);
  }
  return Out;
}

std::optional<std::vector<Dim>> knownDims(const InferContext &Ctx, unsigned I) {
  if (std::optional<std::vector<int64_t>> Ints = knownInts(Ctx, I)) {
    std::vector<Dim> Out;
    for (int64_t X : *Ints)
      Out.push_back(X >= 0 ? Dim(X) : Dim::unknown());
    return Out;
  }
  const std::vector<Dim> *SV = Ctx.inputShapeValue(I);
  if (!SV)
    return std::nullopt;
  std::vector<Dim> Out;
  for (const Dim &D : *SV)
    Out.push_back(D.isStatic() || D.isSymbol() ? D : Dim::unknown());
  return Out;
}

bool carriesShapeValue(const TensorType &T) {
  int64_t N = T.staticNumElements();
  return isInteger(T.Elem) && T.rank() <= 1 && N >= 0 &&
         N <= MaxShapeValueElements;
}

llvm::Error checkResultSizes(llvm::ArrayRef<int64_t> Sizes) {
  int64_t Count = 1;
  for (int64_t S : Sizes) {
    std::optional<int64_t> Product = checkedMul(Count, S);
    if (S < 0 || !Product || *Product > MaxEvalElements)
      return makeError("result shape " + sizesStr(Sizes) +
                       " is negative or too large");
    Count = *Product;
  }
  return llvm::Error::success();
}

std::optional<int64_t> checkedAdd(int64_t A, int64_t B) {
  int64_t R;
  if (__builtin_add_overflow(A, B, &R))
    return std::nullopt;
  return R;
}

std::optional<int64_t> checkedMul(int64_t A, int64_t B) {
  int64_t R;
  if (__builtin_mul_overflow(A, B, &R))
    return std::nullopt;
  return R;
}

Dim mulDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic()) {
    std::optional<int64_t> P = checkedMul(A.value(), B.value());
    return P ? Dim(*P) : Dim::unknown();
  }
  if ((A.isStatic() && A.value() == 0) || (B.isStatic() && B.value() == 0))
    return Dim(0);
  if (A.isStatic() && A.value() == 1)
    return B;
  if (B.isStatic() && B.value() == 1)
    return A;
  return Dim::unknown();
}

Dim addDims(const Dim &A, const Dim &B) {
  if (A.isStatic() && B.isStatic()) {
    std::optional<int64_t> S = checkedAdd(A.value(), B.value());
    return S ? Dim(*S) : Dim::unknown();
  }
  if (A.isStatic() && A.value() == 0)
    return B;
  if (B.isStatic() && B.value() == 0)
    return A;
  return Dim::unknown();
}

Dim productOfDims(llvm::ArrayRef<Dim> Dims) {
  Dim P(1);
  for (const Dim &D : Dims)
    P = mulDimProducts(P, D);
  return P;
}

llvm::Expected<std::vector<int64_t>> normalizeAxes(llvm::ArrayRef<int64_t> Axes,
                                                   int64_t Rank,
                                                   llvm::StringRef What) {
  std::vector<int64_t> Out;
  std::vector<bool> Seen(Rank, false);
  for (int64_t A : Axes) {
    std::optional<int64_t> N = normalizeAxis(A, Rank);
    if (!N)
      return makeError(What + " value " + llvm::Twine(A) +
                       " is out of range for rank " + llvm::Twine(Rank));
    if (Seen[*N])
      return makeError(What + " repeats axis " + llvm::Twine(*N));
    Seen[*N] = true;
    Out.push_back(*N);
  }
  return Out;
}

Tensor stridedCopy(const Tensor &In, std::vector<int64_t> OutSizes,
                   llvm::ArrayRef<int64_t> InStrides, int64_t InOffset) {
  size_t ES = dtypeSize(In.dtype());
  Tensor Out(In.dtype(), OutSizes);
  const uint8_t *Src = In.bytes();
  uint8_t *Dst = Out.mutableBytes();
  std::vector<int64_t> Strides(InStrides.begin(), InStrides.end());
  forEachIndex(OutSizes, {Strides},
               [&](int64_t I, llvm::ArrayRef<int64_t> Offs) {
                 copyElement(Dst + I * ES, Src + (InOffset + Offs[0]) * ES, ES);
               });
  return Out;
}

void forEachMultiIndex(llvm::ArrayRef<int64_t> Sizes,
                       llvm::function_ref<void(llvm::ArrayRef<int64_t>)> Fn) {
  int64_t Total = numElementsOf(Sizes);
  std::vector<int64_t> Index(Sizes.size(), 0);
  for (int64_t Flat = 0; Flat < Total; ++Flat) {
    Fn(Index);
    for (size_t D = Sizes.size(); D-- > 0;) {
      if (++Index[D] < Sizes[D])
        break;
      Index[D] = 0;
    }
  }
}

std::string sizesStr(llvm::ArrayRef<int64_t> Sizes) {
  std::string S = "[";
  for (size_t I = 0; I < Sizes.size(); ++I)
    S += (I ? ", " : "") + std::to_string(Sizes[I]);
  return S + "]";
}

std::vector<Dim> dimRange(llvm::ArrayRef<Dim> Dims, size_t Begin, size_t End) {
  return std::vector<Dim>(Dims.begin() + Begin, Dims.begin() + End);
}

void setShapeValueIfSmall(InferContext &Ctx, unsigned I, const TensorType &Type,
                          std::vector<Dim> Value) {
  if (carriesShapeValue(Type) &&
      int64_t(Value.size()) == Type.staticNumElements())
    Ctx.setOutputShapeValue(I, std::move(Value));
}

void forwardShapeValue(InferContext &Ctx, const TensorType &Result) {
  if (const std::vector<Dim> *SV = Ctx.inputShapeValue(0))
    setShapeValueIfSmall(Ctx, 0, Result, *SV);
}

std::optional<int64_t> staticLength(const InferContext &Ctx, unsigned I) {
  const Dim &Length = Ctx.inputType(I).Dims[0];
  if (!Length.isStatic() || Length.value() > MaxShapeValueElements)
    return std::nullopt;
  return Length.value();
}

llvm::Error requireIntegerVector(const InferContext &Ctx, unsigned I,
                                 llvm::StringRef What) {
  const TensorType &T = Ctx.inputType(I);
  if (T.rank() != 1 || !isInteger(T.Elem))
    return Ctx.error(What + " must be a 1-D integer tensor, got " + T.str());
  return llvm::Error::success();
}

} // namespace kiln
