//===- ApiTypes.cpp - kiln/Tensor.h and its conversions to the IR ---------===//
//
// The API's element types, tensors and model facts, and their conversions
// to and from the IR's (DType, Tensor, ArtifactMetadata), declared in
// EngineInternal.h. Conversions copy dtype, dims and bytes exactly.
//
//===----------------------------------------------------------------------===//
#include "runtime/Bucketing.h"
#include "runtime/EngineInternal.h"

#include <cstring>

namespace kiln {

ElementType toElementType(DType T) {
  switch (T) {
  case DType::F32: return ElementType::F32;
  case DType::F16: return ElementType::F16;
  case DType::BF16: return ElementType::BF16;
  case DType::F64: return ElementType::F64;
  case DType::I64: return ElementType::I64;
  case DType::I32: return ElementType::I32;
  case DType::I8: return ElementType::I8;
  case DType::U8: return ElementType::U8;
  case DType::Bool: return ElementType::Bool;
  }
  llvm_unreachable("unknown DType");
}

DType toDType(ElementType T) {
  switch (T) {
  case ElementType::F32: return DType::F32;
  case ElementType::F16: return DType::F16;
  case ElementType::BF16: return DType::BF16;
  case ElementType::F64: return DType::F64;
  case ElementType::I64: return DType::I64;
  case ElementType::I32: return DType::I32;
  case ElementType::I8: return DType::I8;
  case ElementType::U8: return DType::U8;
  case ElementType::Bool: return DType::Bool;
  }
  llvm_unreachable("unknown ElementType");
}

size_t elementSize(ElementType T) { return dtypeSize(toDType(T)); }

const char *elementTypeName(ElementType T) {
  // dtypeName returns string literals, so the data is NUL-terminated.
  return dtypeName(toDType(T)).data();
}

HostTensor::HostTensor(ElementType Type, std::vector<int64_t> Dims)
    : Type(Type), Dims(std::move(Dims)) {
  Bytes.assign(size_t(numElements()) * elementSize(Type), 0);
}

int64_t HostTensor::numElements() const { return numElementsOf(Dims); }

TensorView HostTensor::view() const {
  return {const_cast<uint8_t *>(Bytes.data()), Type, Dims, false};
}

HostTensor toHostTensor(const Tensor &T) {
  HostTensor H(toElementType(T.dtype()), T.sizes().vec());
  if (T.byteSize())
    std::memcpy(H.Bytes.data(), T.bytes(), T.byteSize());
  return H;
}

Tensor toTensor(const HostTensor &T) {
  return Tensor::fromBytes(toDType(T.Type), T.Dims, T.Bytes);
}

static ModelIo modelIo(const IoSpec &S) {
  ModelIo Io{S.Name, toElementType(S.Type), {}};
  for (const Dim &D : S.Dims)
    Io.Dims.push_back({D.isStatic() ? D.value() : -1, D.symbol()});
  return Io;
}

ModelInfo modelInfo(const ArtifactMetadata &Meta, const ExecutablePlan &Plan) {
  ModelInfo Info;
  Info.ModelName = Meta.ModelName;
  Info.Producer = Meta.Producer;
  Info.Precision = Meta.Precision;
  Info.Arch = Meta.Arch;
  Info.BatchBuckets = Meta.BatchBuckets;
  Info.SeqBuckets = Meta.SeqBuckets;
  for (const BucketPlan &B : paddedBuckets(Plan.Buckets))
    Info.Buckets.push_back({B.Batch, B.Seq});
  for (const IoSpec &S : Meta.Inputs)
    Info.Inputs.push_back(modelIo(S));
  for (const IoSpec &S : Meta.Outputs)
    Info.Outputs.push_back(modelIo(S));
  return Info;
}

} // namespace kiln
