//===- OnnxTypes.h - ONNX tensors and types as kiln's -----------*- C++ -*-===//
//
// Private to the importer (it names protobuf types): dtypes, TensorProto data
// in every storage form, and value types.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_ONNXTYPES_H
#define KILN_FRONTEND_ONNX_ONNXTYPES_H

#include "ir/Tensor.h"

#include "onnx/onnx.pb.h"

#include "llvm/Support/Error.h"

#include <optional>

namespace kiln::onnx_import {

/// `FLOAT16`, `STRING`, ... (or `data type 42`) for messages.
std::string onnxDTypeName(int32_t OnnxType);

/// kiln's dtype for a TensorProto::DataType; an UnsupportedError naming
/// `What` for the others.
llvm::Expected<DType> convertDType(int32_t OnnxType, const llvm::Twine &What);

/// The data of `Proto`, from raw_data, the typed fields or an external file
/// under `BaseDir` (empty: external data is refused). `What` names the tensor
/// in messages (`initializer 'w'`).
llvm::Expected<Tensor> convertTensor(const onnx::TensorProto &Proto,
                                     llvm::StringRef BaseDir,
                                     const llvm::Twine &What);

/// What a ValueInfoProto says of a value: its dtype and, when ranked, its
/// shape. Either part may be missing.
struct DeclaredType {
  std::optional<DType> Elem;
  std::optional<Shape> Dims;

  bool isComplete() const { return Elem && Dims; }
  TensorType type() const { return TensorType(*Elem, *Dims); }
};

/// The declared type of `Info`; an UnsupportedError for non-tensor types
/// (sequences, maps, optionals, sparse tensors) and unsupported dtypes.
llvm::Expected<DeclaredType> convertValueInfo(const onnx::ValueInfoProto &Info,
                                              const llvm::Twine &What);

} // namespace kiln::onnx_import

#endif
