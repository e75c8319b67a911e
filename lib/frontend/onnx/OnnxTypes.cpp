#include "frontend/onnx/OnnxTypes.h"
#include "frontend/onnx/OnnxImporter.h"

#include "ir/Error.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace kiln::onnx_import {

using onnx::TensorProto;

std::string onnxDTypeName(int32_t OnnxType) {
  static const char *const Names[] = {
      "UNDEFINED",      "FLOAT",      "UINT8",
      "INT8",           "UINT16",     "INT16",
      "INT32",          "INT64",      "STRING",
      "BOOL",           "FLOAT16",    "DOUBLE",
      "UINT32",         "UINT64",     "COMPLEX64",
      "COMPLEX128",     "BFLOAT16",   "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ",
      "UINT4",          "INT4",       "FLOAT4E2M1",
      "FLOAT8E8M0",     "UINT2",      "INT2"};
  if (OnnxType >= 0 && size_t(OnnxType) < std::size(Names))
    return Names[OnnxType];
  return "data type " + std::to_string(OnnxType);
}

llvm::Expected<DType> convertDType(int32_t OnnxType, const llvm::Twine &What) {
  switch (OnnxType) {
  case TensorProto::FLOAT: return DType::F32;
  case TensorProto::FLOAT16: return DType::F16;
  case TensorProto::BFLOAT16: return DType::BF16;
  case TensorProto::DOUBLE: return DType::F64;
  case TensorProto::INT64: return DType::I64;
  case TensorProto::INT32: return DType::I32;
  case TensorProto::INT8: return DType::I8;
  case TensorProto::UINT8: return DType::U8;
  case TensorProto::BOOL: return DType::Bool;
  case TensorProto::UNDEFINED: return makeError(What + " has no element type");
  default:
    return makeUnsupportedError(What + " has element type " +
                                onnxDTypeName(OnnxType) +
                                ", which kiln does not support");
  }
}

namespace {

/// The element count of `Dims`, refusing negative sizes and counts whose
/// bytes would not fit in memory.
llvm::Expected<int64_t> elementCount(llvm::ArrayRef<int64_t> Dims,
                                     size_t ElemSize, const llvm::Twine &What) {
  constexpr int64_t MaxBytes = int64_t(1) << 48;
  int64_t N = 1;
  for (int64_t D : Dims) {
    if (D < 0)
      return makeError(What + " has a negative dim " + llvm::Twine(D));
    if (D != 0 && N > MaxBytes / int64_t(ElemSize) / D)
      return makeError(What + " is too large");
    N *= D;
  }
  return N;
}

/// Bool bytes other than 0 and 1 are read as true.
void normalizeBools(Tensor &T) {
  if (T.dtype() != DType::Bool)
    return;
  uint8_t *P = T.mutableBytes();
  for (int64_t I = 0; I < T.numElements(); ++I)
    P[I] = P[I] != 0;
}

template <typename Field>
llvm::Error checkFieldSize(const Field &F, int64_t N, llvm::StringRef FieldName,
                           const llvm::Twine &What) {
  if (int64_t(F.size()) == N)
    return llvm::Error::success();
  return makeError(What + " has " + llvm::Twine(N) + " elements but " +
                   llvm::Twine(int64_t(F.size())) + " values in " + FieldName);
}

/// Fills `T` from the typed field ONNX uses for its dtype.
llvm::Error readTypedFields(const TensorProto &P, Tensor &T,
                            const llvm::Twine &What) {
  int64_t N = T.numElements();
  switch (T.dtype()) {
  case DType::F32:
    if (llvm::Error E = checkFieldSize(P.float_data(), N, "float_data", What))
      return E;
    std::copy(P.float_data().begin(), P.float_data().end(),
              T.mutableData<float>());
    return llvm::Error::success();
  case DType::F64:
    if (llvm::Error E = checkFieldSize(P.double_data(), N, "double_data", What))
      return E;
    std::copy(P.double_data().begin(), P.double_data().end(),
              T.mutableData<double>());
    return llvm::Error::success();
  case DType::I64:
    if (llvm::Error E = checkFieldSize(P.int64_data(), N, "int64_data", What))
      return E;
    std::copy(P.int64_data().begin(), P.int64_data().end(),
              T.mutableData<int64_t>());
    return llvm::Error::success();
  case DType::F16:
  case DType::BF16:
  case DType::I32:
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    // int32_data holds these; 16-bit floats as their bit patterns.
    if (llvm::Error E = checkFieldSize(P.int32_data(), N, "int32_data", What))
      return E;
    for (int64_t I = 0; I < N; ++I) {
      int32_t V = P.int32_data(int(I));
      switch (T.dtype()) {
      case DType::F16:
      case DType::BF16: T.mutableData<uint16_t>()[I] = uint16_t(V); break;
      case DType::I32: T.mutableData<int32_t>()[I] = V; break;
      case DType::I8: T.mutableData<int8_t>()[I] = int8_t(V); break;
      case DType::U8: T.mutableData<uint8_t>()[I] = uint8_t(V); break;
      default: T.mutableData<uint8_t>()[I] = V != 0; break;
      }
    }
    return llvm::Error::success();
  }
  return llvm::Error::success();
}

/// The external_data entries of `P`: location, offset and length.
struct ExternalRef {
  std::string Location;
  uint64_t Offset = 0;
  std::optional<uint64_t> Length;
};

llvm::Expected<ExternalRef> parseExternalRef(const TensorProto &P,
                                             const llvm::Twine &What) {
  ExternalRef Ref;
  for (const onnx::StringStringEntryProto &E : P.external_data()) {
    llvm::StringRef Key = E.key(), Val = E.value();
    uint64_t Number = 0;
    if (Key == "location") {
      Ref.Location = Val.str();
    } else if (Key == "offset" || Key == "length") {
      if (Val.getAsInteger(10, Number))
        return makeError(What + " has external data " + Key + " '" + Val +
                         "', which is not a number");
      if (Key == "offset")
        Ref.Offset = Number;
      else
        Ref.Length = Number;
    }
  }
  if (Ref.Location.empty())
    return makeError(What + " has external data without a location");
  return Ref;
}

/// The file `Location` names under `BaseDir`, refusing paths that leave it
/// (through `..`, an absolute path or a symbolic link).
llvm::Expected<std::string> resolveExternalPath(llvm::StringRef BaseDir,
                                                llvm::StringRef Location,
                                                const llvm::Twine &What) {
  auto Refuse = [&](const llvm::Twine &Why) {
    return makeError(What + ": external data file '" + Location + "' " + Why);
  };
  if (Location.contains('\0'))
    return Refuse("has a NUL character in its name");
  if (llvm::sys::path::is_absolute(Location))
    return Refuse("is an absolute path; it must be relative to the model's "
                  "directory");
  llvm::SmallString<256> Rel(Location);
  llvm::sys::path::remove_dots(Rel, /*remove_dot_dot=*/true);
  if (Rel.empty() || *llvm::sys::path::begin(Rel) == "..")
    return Refuse("is outside the model's directory");
  llvm::SmallString<256> Full(BaseDir);
  llvm::sys::path::append(Full, Rel);
  if (!llvm::sys::fs::is_regular_file(Full))
    return Refuse("does not exist (looked for " + Full + ")");
  llvm::SmallString<256> RealBase, RealFull;
  if (llvm::sys::fs::real_path(BaseDir, RealBase) ||
      llvm::sys::fs::real_path(Full, RealFull))
    return Refuse("cannot be resolved");
  if (!llvm::StringRef(RealFull).starts_with(
          (RealBase + llvm::sys::path::get_separator()).str()))
    return Refuse("is outside the model's directory (it resolves to " +
                  RealFull + ")");
  return std::string(Full);
}

llvm::Error readExternalData(const TensorProto &P, Tensor &T,
                             llvm::StringRef BaseDir, const llvm::Twine &What) {
  auto Ref = parseExternalRef(P, What);
  if (!Ref)
    return Ref.takeError();
  if (BaseDir.empty())
    return makeError(What + " keeps its data in the external file '" +
                     Ref->Location +
                     "', but the model was read from memory with no "
                     "directory to look in");
  auto Path = resolveExternalPath(BaseDir, Ref->Location, What);
  if (!Path)
    return Path.takeError();
  uint64_t Need = T.byteSize();
  if (Ref->Length && *Ref->Length != Need)
    return makeError(What + " of type " + T.type().str() + " needs " +
                     llvm::Twine(Need) +
                     " bytes, but its external data "
                     "length is " +
                     llvm::Twine(*Ref->Length));
  uint64_t FileSize = 0;
  if (std::error_code EC = llvm::sys::fs::file_size(*Path, FileSize))
    return makeError(What + ": cannot read external data file '" + *Path +
                     "': " + EC.message());
  if (Ref->Offset > FileSize || FileSize - Ref->Offset < Need)
    return makeError(What + ": external data file '" + *Path + "' has " +
                     llvm::Twine(FileSize) + " bytes, too short for " +
                     llvm::Twine(Need) + " bytes at offset " +
                     llvm::Twine(Ref->Offset));
  auto File = llvm::sys::fs::openNativeFileForRead(*Path);
  if (!File)
    return makeError(What + ": cannot open external data file '" + *Path +
                     "': " + llvm::toString(File.takeError()));
  llvm::MutableArrayRef<char> Dest(reinterpret_cast<char *>(T.mutableBytes()),
                                   Need);
  uint64_t Done = 0;
  llvm::Error Result = llvm::Error::success();
  while (Done < Need) {
    auto Read = llvm::sys::fs::readNativeFileSlice(*File, Dest.drop_front(Done),
                                                   Ref->Offset + Done);
    if (!Read) {
      Result = makeError(What + ": cannot read external data file '" + *Path +
                         "': " + llvm::toString(Read.takeError()));
      break;
    }
    if (*Read == 0) {
      Result =
          makeError(What + ": external data file '" + *Path + "' ended early");
      break;
    }
    Done += *Read;
  }
  llvm::sys::fs::closeFile(*File);
  return Result;
}

} // namespace

llvm::Expected<Tensor> convertTensor(const TensorProto &P,
                                     llvm::StringRef BaseDir,
                                     const llvm::Twine &What) {
  auto Elem = convertDType(P.data_type(), What);
  if (!Elem)
    return Elem.takeError();
  if (P.has_segment())
    return makeUnsupportedError(What + " is segmented, which kiln does not "
                                       "support");
  std::vector<int64_t> Sizes(P.dims().begin(), P.dims().end());
  auto N = elementCount(Sizes, dtypeSize(*Elem), What);
  if (!N)
    return N.takeError();
  size_t Bytes = size_t(*N) * dtypeSize(*Elem);

  if (P.data_location() == TensorProto::EXTERNAL) {
    Tensor T(*Elem, std::move(Sizes));
    if (llvm::Error E = readExternalData(P, T, BaseDir, What))
      return std::move(E);
    normalizeBools(T);
    return T;
  }
  if (P.has_raw_data()) {
    const std::string &Raw = P.raw_data();
    if (Raw.size() != Bytes)
      return makeError(What + " of type " +
                       TensorType::get(*Elem, Sizes).str() + " needs " +
                       llvm::Twine(uint64_t(Bytes)) +
                       " bytes of raw_data, "
                       "it has " +
                       llvm::Twine(uint64_t(Raw.size())));
    // raw_data is little-endian, as is every host kiln runs on.
    Tensor T = Tensor::fromBytes(
        *Elem, std::move(Sizes),
        llvm::ArrayRef(reinterpret_cast<const uint8_t *>(Raw.data()),
                       Raw.size()));
    normalizeBools(T);
    return T;
  }
  // Before any allocation: a huge shape with no data behind it is refused.
  int64_t Available =
      std::max<int64_t>({P.float_data_size(), P.double_data_size(),
                         P.int64_data_size(), P.int32_data_size()});
  if (*N > Available)
    return makeError(What + " has " + llvm::Twine(*N) +
                     " elements but its data holds " + llvm::Twine(Available));
  Tensor T(*Elem, std::move(Sizes));
  if (llvm::Error E = readTypedFields(P, T, What))
    return std::move(E);
  return T;
}

llvm::Expected<DeclaredType> convertValueInfo(const onnx::ValueInfoProto &Info,
                                              const llvm::Twine &What) {
  DeclaredType Out;
  if (!Info.has_type())
    return Out;
  const onnx::TypeProto &Type = Info.type();
  switch (Type.value_case()) {
  case onnx::TypeProto::kTensorType: break;
  case onnx::TypeProto::VALUE_NOT_SET: return Out;
  case onnx::TypeProto::kSequenceType:
    return makeUnsupportedError(What + " is a sequence; kiln supports only "
                                       "tensors");
  case onnx::TypeProto::kMapType:
    return makeUnsupportedError(What + " is a map; kiln supports only tensors");
  case onnx::TypeProto::kOptionalType:
    return makeUnsupportedError(What + " is an optional; kiln supports only "
                                       "tensors");
  case onnx::TypeProto::kSparseTensorType:
    return makeUnsupportedError(What + " is a sparse tensor; kiln supports "
                                       "only dense tensors");
  }
  const onnx::TypeProto::Tensor &TT = Type.tensor_type();
  if (TT.elem_type() != TensorProto::UNDEFINED) {
    auto Elem = convertDType(TT.elem_type(), What);
    if (!Elem)
      return Elem.takeError();
    Out.Elem = *Elem;
  }
  if (!TT.has_shape())
    return Out;
  Shape Dims;
  for (const onnx::TensorShapeProto::Dimension &D : TT.shape().dim()) {
    switch (D.value_case()) {
    case onnx::TensorShapeProto::Dimension::kDimValue:
      if (D.dim_value() < 0)
        return makeError(What + " has a negative dim " +
                         llvm::Twine(D.dim_value()));
      Dims.push_back(Dim(D.dim_value()));
      break;
    case onnx::TensorShapeProto::Dimension::kDimParam:
      Dims.push_back(D.dim_param().empty() ? Dim::unknown()
                                           : Dim::symbol(D.dim_param()));
      break;
    case onnx::TensorShapeProto::Dimension::VALUE_NOT_SET:
      Dims.push_back(Dim::unknown());
      break;
    }
  }
  Out.Dims = std::move(Dims);
  return Out;
}

} // namespace kiln::onnx_import
