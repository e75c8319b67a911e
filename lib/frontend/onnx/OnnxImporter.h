//===- OnnxImporter.h - ONNX models to kiln graphs --------------*- C++ -*-===//
//
// Imports an ONNX ModelProto into a kiln Graph, one kiln node per ONNX node.
//
// - Default-domain opsets 13 and newer (up to the newest onnx 1.22 knows) are
//   imported. kiln's ops are the ONNX ops in their opset-21 signature: older
//   forms are upgraded (ReduceX `axes` attribute -> constant input before
//   opset 18, Split without `split` gets `num_outputs` before opset 18), and
//   ops or attributes that only exist after opset 21 are unsupported.
//   dtype-valued attributes (Cast `to`, EyeLike `dtype`, ...) become dtype
//   names (`to = "f16"`).
// - Initializers become constants, whatever their storage (raw_data, typed
//   fields, external data files beside the model). Initializers that are also
//   listed as graph inputs (old exporters did that) become constants, not
//   inputs with defaults: kiln compiles weights in.
// - Graph inputs keep their symbolic dims (`dim_param` -> symbol, no value ->
//   `?`). Constant nodes become constants. Every value and node keeps its
//   ONNX name.
// - Types are inferred while importing and merged with the model's
//   value_info and declared output types.
//
// Valid ONNX that kiln does not implement fails with an UnsupportedError;
// every unsupported op of a model is named in one message.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_ONNX_ONNXIMPORTER_H
#define KILN_FRONTEND_ONNX_ONNXIMPORTER_H

#include "ir/Graph.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace kiln {

/// Valid ONNX that kiln does not support (an op, an attribute, a dtype, an
/// opset). Callers tell it from a broken model with isUnsupportedError.
class UnsupportedError : public llvm::ErrorInfo<UnsupportedError> {
public:
  static char ID;
  explicit UnsupportedError(std::string Message)
      : Message(std::move(Message)) {}
  void log(llvm::raw_ostream &OS) const override;
  std::error_code convertToErrorCode() const override;

private:
  std::string Message;
};

llvm::Error makeUnsupportedError(const llvm::Twine &Message);
bool isUnsupportedError(const llvm::Error &E);

/// Imports the model at `Path`; external data files are looked up beside it.
llvm::Expected<std::unique_ptr<Graph>> importOnnxFile(llvm::StringRef Path);

/// Imports serialized ModelProto bytes. External data files are looked up in
/// `BaseDir` (an empty BaseDir refuses external data). `Name` names the model
/// in messages.
llvm::Expected<std::unique_ptr<Graph>> importOnnxBuffer(llvm::StringRef Bytes,
                                                        llvm::StringRef BaseDir,
                                                        llvm::StringRef Name);

/// Reads a serialized TensorProto (the .pb files of ONNX's backend tests).
llvm::Expected<Tensor> readTensorProtoFile(llvm::StringRef Path);

} // namespace kiln

#endif
