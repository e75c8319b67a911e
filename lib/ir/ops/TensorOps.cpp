//===- TensorOps.cpp - indexing ops --------------------------------------===//
//
// Gather, GatherElements, GatherND, ScatterND, Trilu, NonZero and EyeLike, in
// their opset-21 form. Indices may be negative (counting from the back) and
// are range-checked at run time. Gather also follows shape values, since
// exporters take single dims out of Shape(x) with it.
//
//===----------------------------------------------------------------------===//

#include "ir/ops/ShapeOpUtils.h"

#include "llvm/ADT/STLExtras.h"

namespace kiln {
namespace {

llvm::Error requireIntegerIndices(const InferContext &Ctx, unsigned I) {
  const TensorType &T = Ctx.inputType(I);
  if (!isInteger(T.Elem))
    return Ctx.error("indices must be integers, got " + T.str());
  return llvm::Error::success();
}

/// Index `Index` into a dim of `Size` made non-negative; fails when out of
/// range. `What` says where it is used ("axis 1").
llvm::Expected<int64_t> normalizeIndex(int64_t Index, int64_t Size,
                                       const llvm::Twine &What) {
  int64_t I = Index < 0 ? Index + Size : Index;
  if (I < 0 || I >= Size)
    return makeError("index " + llvm::Twine(Index) + " is out of range for " +
                     What + " of size " + llvm::Twine(Size));
  return I;
}

//===----------------------------------------------------------------------===//
// Gather
//===----------------------------------------------------------------------===//

llvm::Error inferGather(InferContext &Ctx) {
  const TensorType &Data = Ctx.inputType(0), &Indices = Ctx.inputType(1);
  if (llvm::Error E = requireIntegerIndices(Ctx, 1))
    return E;
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank());
  if (!Axis)
    return Ctx.error("axis " + llvm::Twine(Ctx.node().getInt("axis", 0)) +
                     " is out of range for " + Data.str());
  Shape Out(Data.Dims.begin(), Data.Dims.begin() + *Axis);
  Out.append(Indices.Dims.begin(), Indices.Dims.end());
  Out.append(Data.Dims.begin() + *Axis + 1, Data.Dims.end());
  TensorType Result(Data.Elem, std::move(Out));

  // Shape(x)[i]: pick entries of a shape value.
  const std::vector<Dim> *SV = Ctx.inputShapeValue(0);
  std::optional<std::vector<int64_t>> Picks = knownInts(Ctx, 1);
  if (SV && Picks && carriesShapeValue(Result)) {
    std::vector<Dim> Values;
    for (int64_t P : *Picks) {
      auto I = normalizeIndex(P, int64_t(SV->size()), "axis 0");
      if (!I)
        return Ctx.error(llvm::toString(I.takeError()));
      Values.push_back((*SV)[*I]);
    }
    Ctx.setOutputShapeValue(0, std::move(Values));
  }
  Ctx.setOutputType(0, std::move(Result));
  return llvm::Error::success();
}

llvm::Error evalGather(EvalContext &Ctx) {
  const Tensor &Data = *Ctx.input(0), &Indices = *Ctx.input(1);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank());
  if (!Axis)
    return Ctx.error("axis is out of range for data of shape " +
                     sizesStr(Data.sizes()));
  llvm::ArrayRef<int64_t> DataSizes = Data.sizes();
  std::vector<int64_t> OutSizes(DataSizes.begin(), DataSizes.begin() + *Axis);
  OutSizes.insert(OutSizes.end(), Indices.sizes().begin(),
                  Indices.sizes().end());
  OutSizes.insert(OutSizes.end(), DataSizes.begin() + *Axis + 1,
                  DataSizes.end());
  int64_t Outer = numElementsOf(DataSizes.take_front(*Axis));
  int64_t Size = DataSizes[*Axis];
  size_t Block = size_t(numElementsOf(DataSizes.drop_front(*Axis + 1))) *
                 dtypeSize(Data.dtype());
  std::vector<int64_t> Picks = Indices.toInts();
  for (int64_t &P : Picks) {
    auto I = normalizeIndex(P, Size, "axis " + llvm::Twine(*Axis));
    if (!I)
      return Ctx.error(llvm::toString(I.takeError()));
    P = *I;
  }
  Tensor Out(Data.dtype(), OutSizes);
  uint8_t *Dst = Out.mutableBytes();
  for (int64_t O = 0; O < Outer; ++O) {
    for (int64_t P : Picks) {
      if (Block)
        std::memcpy(Dst, Data.bytes() + (O * Size + P) * Block, Block);
      Dst += Block;
    }
  }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// GatherElements
//===----------------------------------------------------------------------===//

llvm::Error inferGatherElements(InferContext &Ctx) {
  const TensorType &Data = Ctx.inputType(0), &Indices = Ctx.inputType(1);
  if (llvm::Error E = requireIntegerIndices(Ctx, 1))
    return E;
  if (Data.rank() != Indices.rank() || Data.rank() == 0)
    return Ctx.error("data " + Data.str() + " and indices " + Indices.str() +
                     " need the same rank (at least 1)");
  if (!normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank()))
    return Ctx.error("axis " + llvm::Twine(Ctx.node().getInt("axis", 0)) +
                     " is out of range for " + Data.str());
  Ctx.setOutputType(0, TensorType(Data.Elem, Indices.Dims));
  return llvm::Error::success();
}

llvm::Error evalGatherElements(EvalContext &Ctx) {
  const Tensor &Data = *Ctx.input(0), &Indices = *Ctx.input(1);
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank());
  if (!Axis || Data.rank() != Indices.rank())
    return Ctx.error("data of shape " + sizesStr(Data.sizes()) +
                     " and indices of shape " + sizesStr(Indices.sizes()) +
                     " do not fit the axis");
  for (int64_t D = 0; D < Data.rank(); ++D)
    if (D != *Axis && Indices.dim(D) > Data.dim(D))
      return Ctx.error("indices of shape " + sizesStr(Indices.sizes()) +
                       " exceed data of shape " + sizesStr(Data.sizes()));
  std::vector<int64_t> Picks = Indices.toInts();
  for (int64_t &P : Picks) {
    auto I = normalizeIndex(P, Data.dim(*Axis), "axis " + llvm::Twine(*Axis));
    if (!I)
      return Ctx.error(llvm::toString(I.takeError()));
    P = *I;
  }
  std::vector<int64_t> Strides = stridesOf(Data.sizes());
  size_t ES = dtypeSize(Data.dtype());
  Tensor Out(Data.dtype(), std::vector<int64_t>(Indices.sizes().begin(),
                                                Indices.sizes().end()));
  uint8_t *Dst = Out.mutableBytes();
  int64_t Flat = 0;
  forEachMultiIndex(Indices.sizes(), [&](llvm::ArrayRef<int64_t> Index) {
    int64_t Offset = 0;
    for (size_t D = 0; D < Index.size(); ++D)
      Offset += (int64_t(D) == *Axis ? Picks[Flat] : Index[D]) * Strides[D];
    copyElement(Dst + Flat * ES, Data.bytes() + Offset * ES, ES);
    ++Flat;
  });
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// ExpandGatherElements: GatherElements(data, Expand(indices, shape)) without
// the expanded index (fuse-expand-gather). The result has the Expand's
// shape; each element reads its index through broadcast strides.
//===----------------------------------------------------------------------===//

llvm::Error inferExpandGatherElements(InferContext &Ctx) {
  const TensorType &Data = Ctx.inputType(0), &Indices = Ctx.inputType(1);
  if (llvm::Error E = requireIntegerIndices(Ctx, 1))
    return E;
  if (llvm::Error E = requireIntegerVector(Ctx, 2, "the shape operand"))
    return E;
  std::optional<std::vector<Dim>> Target = knownDims(Ctx, 2);
  if (!Target) {
    std::optional<int64_t> Count = staticLength(Ctx, 2);
    if (!Count)
      return llvm::Error::success();
    Target.emplace(*Count, Dim::unknown());
  }
  auto Out =
      broadcastShapes({Indices.Dims, Shape(Target->begin(), Target->end())});
  if (!Out)
    return Ctx.error("cannot expand indices " + Indices.str() + ": " +
                     llvm::toString(Out.takeError()));
  if (int64_t(Out->size()) != Data.rank() || Data.rank() == 0)
    return Ctx.error("data " + Data.str() +
                     " and the expanded indices need the same rank (at "
                     "least 1)");
  if (!normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank()))
    return Ctx.error("axis " + llvm::Twine(Ctx.node().getInt("axis", 0)) +
                     " is out of range for " + Data.str());
  Ctx.setOutputType(0, TensorType(Data.Elem, std::move(*Out)));
  return llvm::Error::success();
}

llvm::Error evalExpandGatherElements(EvalContext &Ctx) {
  const Tensor &Data = *Ctx.input(0), &Indices = *Ctx.input(1);
  std::vector<int64_t> IdxSizes(Indices.sizes().begin(), Indices.sizes().end());
  auto Sizes = broadcastSizes({IdxSizes, Ctx.input(2)->toInts()});
  if (!Sizes)
    return Ctx.error("cannot expand indices of shape " + sizesStr(IdxSizes) +
                     ": " + llvm::toString(Sizes.takeError()));
  auto Axis = normalizeAxis(Ctx.node().getInt("axis", 0), Data.rank());
  if (!Axis || Data.rank() != int64_t(Sizes->size()))
    return Ctx.error("data of shape " + sizesStr(Data.sizes()) +
                     " and expanded indices of shape " + sizesStr(*Sizes) +
                     " do not fit the axis");
  for (int64_t D = 0; D < Data.rank(); ++D)
    if (D != *Axis && (*Sizes)[D] > Data.dim(D))
      return Ctx.error("expanded indices of shape " + sizesStr(*Sizes) +
                       " exceed data of shape " + sizesStr(Data.sizes()));
  if (llvm::Error E = checkResultSizes(*Sizes))
    return Ctx.error(llvm::toString(std::move(E)));
  std::vector<int64_t> Picks = Indices.toInts();
  std::vector<int64_t> IdxStrides = broadcastStrides(IdxSizes, *Sizes);
  std::vector<int64_t> Strides = stridesOf(Data.sizes());
  size_t ES = dtypeSize(Data.dtype());
  Tensor Out(Data.dtype(), *Sizes);
  uint8_t *Dst = Out.mutableBytes();
  int64_t Flat = 0;
  llvm::Error Bad = llvm::Error::success();
  forEachMultiIndex(*Sizes, [&](llvm::ArrayRef<int64_t> Index) {
    int64_t Pick = 0;
    for (size_t D = 0; D < Index.size(); ++D)
      Pick += Index[D] * IdxStrides[D];
    auto P = normalizeIndex(Picks[Pick], Data.dim(*Axis),
                            "axis " + llvm::Twine(*Axis));
    if (!P) {
      if (!Bad)
        Bad = P.takeError();
      else
        llvm::consumeError(P.takeError());
      ++Flat;
      return;
    }
    int64_t Offset = 0;
    for (size_t D = 0; D < Index.size(); ++D)
      Offset += (int64_t(D) == *Axis ? *P : Index[D]) * Strides[D];
    copyElement(Dst + Flat * ES, Data.bytes() + Offset * ES, ES);
    ++Flat;
  });
  if (Bad)
    return Ctx.error(llvm::toString(std::move(Bad)));
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// GatherND, ScatterND
//===----------------------------------------------------------------------===//

llvm::Error inferGatherND(InferContext &Ctx) {
  const TensorType &Data = Ctx.inputType(0), &Indices = Ctx.inputType(1);
  if (llvm::Error E = requireIntegerIndices(Ctx, 1))
    return E;
  int64_t Batch = Ctx.node().getInt("batch_dims", 0);
  int64_t R = Data.rank(), Q = Indices.rank();
  if (R < 1 || Q < 1 || Batch < 0 || Batch >= std::min(R, Q))
    return Ctx.error("batch_dims = " + llvm::Twine(Batch) +
                     " does not fit data " + Data.str() + " and indices " +
                     Indices.str());
  const Dim &K = Indices.Dims[Q - 1];
  if (!K.isStatic())
    return llvm::Error::success(); // The result's rank depends on it.
  if (K.value() < 1 || K.value() > R - Batch)
    return Ctx.error("indices " + Indices.str() + " index " + K.str() +
                     " dims of data " + Data.str() +
                     " past batch_dims = " + llvm::Twine(Batch));
  Shape Out(Indices.Dims.begin(), Indices.Dims.end() - 1);
  Out.append(Data.Dims.begin() + Batch + K.value(), Data.Dims.end());
  Ctx.setOutputType(0, TensorType(Data.Elem, std::move(Out)));
  return llvm::Error::success();
}

llvm::Error evalGatherND(EvalContext &Ctx) {
  const Tensor &Data = *Ctx.input(0), &Indices = *Ctx.input(1);
  int64_t Batch = Ctx.node().getInt("batch_dims", 0);
  int64_t R = Data.rank(), Q = Indices.rank();
  int64_t K = Q > 0 ? Indices.dim(Q - 1) : 0;
  bool Fits = R >= 1 && Q >= 1 && Batch >= 0 && Batch < std::min(R, Q) &&
              K >= 1 && K <= R - Batch;
  for (int64_t D = 0; Fits && D < Batch; ++D)
    Fits = Data.dim(D) == Indices.dim(D);
  if (!Fits)
    return Ctx.error("indices of shape " + sizesStr(Indices.sizes()) +
                     " do not fit data of shape " + sizesStr(Data.sizes()) +
                     " with batch_dims = " + llvm::Twine(Batch));
  llvm::ArrayRef<int64_t> DataSizes = Data.sizes();
  int64_t Batches = numElementsOf(DataSizes.take_front(Batch));
  int64_t BatchStride = numElementsOf(DataSizes.drop_front(Batch));
  int64_t PerBatch = numElementsOf(Indices.sizes().slice(Batch, Q - 1 - Batch));
  int64_t SliceElems = numElementsOf(DataSizes.drop_front(Batch + K));
  std::vector<int64_t> Strides = stridesOf(DataSizes);
  std::vector<int64_t> OutSizes(Indices.sizes().begin(),
                                Indices.sizes().end() - 1);
  OutSizes.insert(OutSizes.end(), DataSizes.begin() + Batch + K,
                  DataSizes.end());
  size_t Block = size_t(SliceElems) * dtypeSize(Data.dtype());
  std::vector<int64_t> Idx = Indices.toInts();
  Tensor Out(Data.dtype(), OutSizes);
  uint8_t *Dst = Out.mutableBytes();
  for (int64_t B = 0; B < Batches; ++B) {
    for (int64_t N = 0; N < PerBatch; ++N) {
      int64_t Offset = B * BatchStride;
      for (int64_t J = 0; J < K; ++J) {
        int64_t D = Batch + J;
        auto I = normalizeIndex(Idx[(B * PerBatch + N) * K + J], DataSizes[D],
                                "axis " + llvm::Twine(D));
        if (!I)
          return Ctx.error(llvm::toString(I.takeError()));
        Offset += *I * Strides[D];
      }
      if (Block)
        std::memcpy(Dst, Data.bytes() + Offset * dtypeSize(Data.dtype()),
                    Block);
      Dst += Block;
    }
  }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

llvm::Error verifyScatterND(const Node &N) {
  std::string Reduction = N.getString("reduction", "none");
  if (Reduction == "none")
    return llvm::Error::success();
  if (Reduction == "add" || Reduction == "mul" || Reduction == "max" ||
      Reduction == "min")
    return makeError("unsupported ScatterND reduction '" + Reduction + "' in " +
                     N.describe());
  return makeError(N.describe() + ": unknown ScatterND reduction '" +
                   Reduction + "'");
}

llvm::Error inferScatterND(InferContext &Ctx) {
  const TensorType &Data = Ctx.inputType(0), &Indices = Ctx.inputType(1),
                   &Updates = Ctx.inputType(2);
  if (llvm::Error E = requireIntegerIndices(Ctx, 1))
    return E;
  if (Updates.Elem != Data.Elem)
    return Ctx.error("updates " + Updates.str() + " do not match data " +
                     Data.str());
  int64_t R = Data.rank(), Q = Indices.rank();
  if (Q < 1)
    return Ctx.error("indices must have rank >= 1, got " + Indices.str());
  const Dim &K = Indices.Dims[Q - 1];
  if (K.isStatic() &&
      (K.value() > R || Updates.rank() != Q - 1 + R - K.value()))
    return Ctx.error("updates " + Updates.str() + " do not fit indices " +
                     Indices.str() + " into data " + Data.str());
  Ctx.setOutputType(0, Data);
  return llvm::Error::success();
}

llvm::Error evalScatterND(EvalContext &Ctx) {
  if (llvm::Error E = verifyScatterND(Ctx.node()))
    return E;
  const Tensor &Data = *Ctx.input(0), &Indices = *Ctx.input(1),
               &Updates = *Ctx.input(2);
  int64_t Q = Indices.rank();
  int64_t K = Q > 0 ? Indices.dim(Q - 1) : -1;
  std::vector<int64_t> Expected;
  if (K >= 0 && K <= Data.rank()) {
    Expected.assign(Indices.sizes().begin(), Indices.sizes().end() - 1);
    Expected.insert(Expected.end(), Data.sizes().begin() + K,
                    Data.sizes().end());
  }
  if (K < 0 || K > Data.rank() || Updates.sizes() != llvm::ArrayRef(Expected) ||
      Updates.dtype() != Data.dtype())
    return Ctx.error("updates of shape " + sizesStr(Updates.sizes()) +
                     " do not fit indices of shape " +
                     sizesStr(Indices.sizes()) + " into data of shape " +
                     sizesStr(Data.sizes()));
  size_t ES = dtypeSize(Data.dtype());
  size_t Block = size_t(numElementsOf(Data.sizes().drop_front(K))) * ES;
  std::vector<int64_t> Strides = stridesOf(Data.sizes());
  std::vector<int64_t> Idx = Indices.toInts();
  Tensor Out = Data.clone();
  int64_t Count = numElementsOf(Indices.sizes().drop_back());
  for (int64_t N = 0; N < Count; ++N) {
    int64_t Offset = 0;
    for (int64_t J = 0; J < K; ++J) {
      auto I =
          normalizeIndex(Idx[N * K + J], Data.dim(J), "axis " + llvm::Twine(J));
      if (!I)
        return Ctx.error(llvm::toString(I.takeError()));
      Offset += *I * Strides[J];
    }
    if (Block)
      std::memcpy(Out.mutableBytes() + Offset * ES, Updates.bytes() + N * Block,
                  Block);
  }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Trilu, NonZero, EyeLike
//===----------------------------------------------------------------------===//

llvm::Error inferTrilu(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (In.rank() < 2)
    return Ctx.error("needs rank >= 2, got " + In.str());
  if (Ctx.hasInput(1) && (Ctx.inputType(1).staticNumElements() != 1 ||
                          !isInteger(Ctx.inputType(1).Elem)))
    return Ctx.error("k must be an integer scalar, got " +
                     Ctx.inputType(1).str());
  Ctx.setOutputType(0, In);
  return llvm::Error::success();
}

llvm::Error evalTrilu(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  if (In.rank() < 2)
    return Ctx.error("needs rank >= 2, got shape " + sizesStr(In.sizes()));
  int64_t K = 0;
  if (const Tensor *KT = Ctx.input(1)) {
    if (KT->numElements() != 1)
      return Ctx.error("k must be a scalar");
    K = KT->getInt(0);
  }
  bool Upper = Ctx.node().getInt("upper", 1) != 0;
  int64_t Rows = In.dim(In.rank() - 2), Cols = In.dim(In.rank() - 1);
  size_t ES = dtypeSize(In.dtype());
  // Elements outside the kept triangle stay zero, which is zero in every dtype.
  Tensor Out(In.dtype(),
             std::vector<int64_t>(In.sizes().begin(), In.sizes().end()));
  int64_t Matrices = numElementsOf(In.sizes().drop_back(2));
  for (int64_t M = 0; M < Matrices; ++M)
    for (int64_t I = 0; I < Rows; ++I)
      for (int64_t J = 0; J < Cols; ++J)
        if (Upper ? J - I >= K : J - I <= K) {
          size_t Offset = size_t((M * Rows + I) * Cols + J) * ES;
          copyElement(Out.mutableBytes() + Offset, In.bytes() + Offset, ES);
        }
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

/// The count of non-zeros depends on the data; `count`, a kiln attribute,
/// fixes it for one request (DataDependentRunner sets it once it has read
/// the count back), so that the result has a static shape.
llvm::Error inferNonZero(InferContext &Ctx) {
  int64_t Count = Ctx.node().getInt("count", -1);
  Ctx.setOutputType(0,
                    TensorType(DType::I64, {Dim(Ctx.inputType(0).rank()),
                                            Count >= 0 ? Dim(Count) : Dim()}));
  return llvm::Error::success();
}

llvm::Error evalNonZero(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  std::vector<std::vector<int64_t>> Found;
  int64_t Flat = 0;
  forEachMultiIndex(In.sizes(), [&](llvm::ArrayRef<int64_t> Index) {
    if (In.getDouble(Flat++) != 0.0)
      Found.emplace_back(Index.begin(), Index.end());
  });
  int64_t Count = int64_t(Found.size());
  int64_t Expected = Ctx.node().getInt("count", -1);
  if (Expected >= 0 && Expected != Count)
    return Ctx.error("found " + llvm::Twine(Count) +
                     " nonzeros, its count attribute says " +
                     llvm::Twine(Expected));
  Tensor Out(DType::I64, {In.rank(), Count});
  for (int64_t D = 0; D < In.rank(); ++D)
    for (int64_t N = 0; N < Count; ++N)
      Out.setInt(D * Count + N, Found[N][D]);
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

/// EyeLike's result dtype: the `dtype` attribute, the input's by default.
llvm::Expected<DType> eyeLikeDType(const Node &N, DType InputType) {
  if (!N.hasAttr("dtype"))
    return InputType;
  std::string Name = N.getString("dtype", "");
  if (std::optional<DType> T = parseDType(Name))
    return *T;
  return makeError(N.describe() + ": unknown dtype '" + Name + "'");
}

llvm::Error verifyEyeLike(const Node &N) {
  return eyeLikeDType(N, DType::F32).takeError();
}

llvm::Error inferEyeLike(InferContext &Ctx) {
  const TensorType &In = Ctx.inputType(0);
  if (In.rank() != 2)
    return Ctx.error("needs a 2-D input, got " + In.str());
  auto Elem = eyeLikeDType(Ctx.node(), In.Elem);
  if (!Elem)
    return Elem.takeError();
  Ctx.setOutputType(0, TensorType(*Elem, In.Dims));
  return llvm::Error::success();
}

llvm::Error evalEyeLike(EvalContext &Ctx) {
  const Tensor &In = *Ctx.input(0);
  if (In.rank() != 2)
    return Ctx.error("needs a 2-D input, got shape " + sizesStr(In.sizes()));
  auto Elem = eyeLikeDType(Ctx.node(), In.dtype());
  if (!Elem)
    return Elem.takeError();
  int64_t Rows = In.dim(0), Cols = In.dim(1), K = Ctx.node().getInt("k", 0);
  Tensor Out(*Elem, {Rows, Cols});
  for (int64_t I = 0; I < Rows; ++I)
    if (I + K >= 0 && I + K < Cols)
      Out.setDouble(I * Cols + I + K, 1.0);
  Ctx.setOutput(0, std::move(Out));
  return llvm::Error::success();
}

} // namespace

void registerTensorOps(OpRegistry &R) {
  using K = AttrKind;
  R.add(makeOp("Gather", "picks slices along axis by index", 2, 2,
               {{"axis", K::Int}}, inferGather, evalGather));
  R.add(makeOp("GatherElements", "picks single elements along axis by index", 2,
               2, {{"axis", K::Int}}, inferGatherElements, evalGatherElements));
  R.add(makeOp("ExpandGatherElements",
               "GatherElements with indices broadcast to a shape, as "
               "GatherElements(data, Expand(indices, shape))",
               3, 3, {{"axis", K::Int}}, inferExpandGatherElements,
               evalExpandGatherElements));
  R.add(makeOp("GatherND", "picks slices by index tuples", 2, 2,
               {{"batch_dims", K::Int}}, inferGatherND, evalGatherND));

  OpDef ScatterND =
      makeOp("ScatterND", "data with the slices at index tuples replaced", 3, 3,
             {{"reduction", K::String}}, inferScatterND, evalScatterND);
  ScatterND.Verify = verifyScatterND;
  R.add(std::move(ScatterND));

  R.add(makeOp("Trilu", "upper or lower triangle of the last two dims", 1, 2,
               {{"upper", K::Int}}, inferTrilu, evalTrilu));
  R.add(makeOp("NonZero", "indices of the non-zero elements, one column each",
               1, 1, {{"count", K::Int}}, inferNonZero, evalNonZero));

  OpDef EyeLike =
      makeOp("EyeLike", "ones on the k-th diagonal of a 2-D shape", 1, 1,
             {{"dtype", K::String}, {"k", K::Int}}, inferEyeLike, evalEyeLike);
  EyeLike.Verify = verifyEyeLike;
  R.add(std::move(EyeLike));
}

} // namespace kiln
