//===- OnnxOpsets.h - which ONNX ops exist at which opset -------*- C++ -*-===//
#ifndef KILN_FRONTEND_ONNX_ONNXOPSETS_H
#define KILN_FRONTEND_ONNX_ONNXOPSETS_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace kiln::onnx_import {

/// The oldest and newest default-domain opsets the importer reads, and the
/// one whose signatures kiln's ops follow.
constexpr int64_t OldestOpset = 13;
constexpr int64_t NewestOpset = 27;
constexpr int64_t IROpset = 21;

/// The opset an ONNX default-domain op first exists at (OldestOpset for ops
/// that are older), or nullopt when `Op` is no ONNX op at OldestOpset or
/// later. Lets the importer tell ONNX ops from kiln's own fused ops of the
/// registry, and refuse ops newer than the model's opset.
std::optional<int64_t> onnxOpSince(llvm::StringRef Op);

} // namespace kiln::onnx_import

#endif
