//===- kiln/Tensor.h - tensors and model facts of kiln's API ----*- C++ -*-===//
//
// The small types a service sees: element types, tensors on the host
// (owned) or anywhere (views), and what a model takes and returns. They are
// kiln's API, not its IR: the runtime converts them to its own
// (lib/runtime/EngineInternal.h), so this header stays the same when the IR
// changes. It includes the standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TENSOR_H
#define KILN_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

/// The element types a model's inputs and outputs can have.
enum class ElementType : uint8_t {
  F32,
  F16,
  BF16,
  F64,
  I64,
  I32,
  I8,
  U8,
  Bool
};

/// Bytes per element.
size_t elementSize(ElementType T);
/// "f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8" or "bool".
const char *elementTypeName(ElementType T);

/// A dense row-major tensor in host or device memory, not owned.
struct TensorView {
  void *Data = nullptr;
  ElementType Type = ElementType::F32;
  std::vector<int64_t> Dims;
  bool OnDevice = false;
};

/// A dense row-major tensor in host memory, owning its bytes.
struct HostTensor {
  ElementType Type = ElementType::F32;
  std::vector<int64_t> Dims;
  std::vector<uint8_t> Bytes;

  HostTensor() = default;
  /// Zero-filled.
  HostTensor(ElementType Type, std::vector<int64_t> Dims);

  /// Product of the dims (1 for a scalar).
  int64_t numElements() const;
  template <typename T> T *data() {
    return reinterpret_cast<T *>(Bytes.data());
  }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(Bytes.data());
  }
  /// A host view of these bytes (writable through it: an output's).
  TensorView view() const;
};

/// A dim of a model's input or output: a static size, a named symbol
/// ("batch", "seq") bound by the request, or (neither) unknown.
struct ModelDim {
  int64_t Size = -1; // >= 0 when static
  std::string Symbol;
  bool isStatic() const { return Size >= 0; }
  bool isSymbol() const { return Size < 0 && !Symbol.empty(); }
};

/// A graph input or output as the model declares it.
struct ModelIo {
  std::string Name;
  ElementType Type = ElementType::F32;
  std::vector<ModelDim> Dims;
};

/// One compiled shape. Its index in ModelInfo::Buckets is the bucket
/// number that ExecutionContext's stage, timeBucket and profileBucket take.
struct ModelBucket {
  int64_t Batch = 0;
  int64_t Seq = 0; // 0 when the model has no fixed seq
};

/// What a compiled model is: its inputs and outputs (in order), the buckets
/// it was compiled for, its precision and target.
struct ModelInfo {
  std::string ModelName;
  std::string Producer;  // "kiln <version>"
  std::string Precision; // "f32", "f16" or "bf16"
  std::string Arch;      // "sm_90a"
  /// Strictly increasing; SeqBuckets is empty when seq is not fixed.
  std::vector<int64_t> BatchBuckets, SeqBuckets;
  std::vector<ModelBucket> Buckets;
  std::vector<ModelIo> Inputs, Outputs;
};

} // namespace kiln

#endif
