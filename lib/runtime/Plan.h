//===- Plan.h - what the GPU runtime executes -------------------*- C++ -*-===//
//
// An ExecutablePlan is the compiled form of one model: the kernel modules
// (CUBIN, with PTX kept as a fallback) and, for every bucket (batch, seq), a
// flat list of steps over two kinds of device memory:
//
//   Weights  one read-only buffer per device, uploaded once at load
//   Arena    one buffer per execution context; graph inputs, outputs and
//            intermediates live at fixed offsets planned by liveness, so a
//            captured CUDA graph can be replayed with new inputs
//
// Codegen (lib/codegen) produces plans; the runtime (lib/runtime) runs them
// and never sees the IR. The artifact stores them (Artifact.h).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_PLAN_H
#define KILN_RUNTIME_PLAN_H

#include "ir/DType.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace kiln {

/// The bytes of a kernel's IndexFault record (kernels/templates/common.cuh).
inline constexpr uint64_t IndexFaultBytes = 16;

/// A byte range of device memory.
struct BufferRef {
  /// Fault: the context's IndexFault record (Offset 0, IndexFaultBytes),
  /// where gathers report a table index out of range.
  enum class Space : uint8_t { Weights, Arena, Fault };
  Space In = Space::Arena;
  uint64_t Offset = 0;
  uint64_t Bytes = 0;
};

/// One parameter of a kernel launch, in the kernel's parameter order.
struct KernelArg {
  enum class Kind : uint8_t { Buffer, I32, I64, F32 };
  Kind K = Kind::I32;
  BufferRef Buffer; // Kind::Buffer: passed as a device pointer
  int64_t Int = 0;  // Kind::I32, Kind::I64
  float Float = 0;  // Kind::F32
};

struct KernelStep {
  uint32_t Kernel = 0; // index into ExecutablePlan::Kernels
  uint32_t Grid[3] = {1, 1, 1};
  uint32_t Block[3] = {1, 1, 1};
  uint32_t SharedBytes = 0;
  std::vector<KernelArg> Args;
  std::string Label; // the node it came from, for messages and profiles
};

/// D[b] = epilogue(alpha * op(A[b]) @ op(B[b]) (+ bias)), all row-major:
/// op(A) is [M, K], op(B) is [K, N], D is [M, N]. Batch strides are in
/// elements; a stride of 0 broadcasts that operand over the batch. The
/// runtime maps this onto cuBLASLt (fp32 accumulation).
struct GemmStep {
  /// cuBLASLt's epilogues, and GeluErfBias: gelu_erf(x + bias), which
  /// cuBLASLt cannot do (its GELU is the tanh approximation), run by the
  /// CUTLASS kernels instead (CutlassGemm.h). Without it the erf GELU runs
  /// as a separate kernel after a Bias or None epilogue. Residual and
  /// ResidualBias add C, a matrix shaped as D (x + C, x + bias + C):
  /// cuBLASLt's beta = 1. CutlassBias is Bias run by the CUTLASS kernels
  /// (a ping-pong 128x128 kernel that was ahead of cuBLASLt on MiniLM's
  /// bias GEMMs at 32768 rows, docs/runtime.md), CutlassResidualBias
  /// ResidualBias run by the same kernel with C as its source.
  enum class Epilogue : uint8_t {
    None,
    Bias,
    Relu,
    ReluBias,
    GeluTanh,
    GeluTanhBias,
    GeluErfBias,
    Residual,
    ResidualBias,
    CutlassBias,
    CutlassResidualBias
  };
  int64_t M = 0, N = 0, K = 0;
  int64_t Batch = 1;
  int64_t StrideA = 0, StrideB = 0, StrideD = 0;
  bool TransA = false, TransB = false;
  DType AType = DType::F32, BType = DType::F32, DType_ = DType::F32;
  Epilogue Epi = Epilogue::None;
  float Alpha = 1.0f;
  BufferRef A, B, D, Bias; // Bias: the *Bias epilogues (N elements)
  BufferRef C;             // the Residual epilogues: [M, N] as D, one matrix
  /// A cublasLtMatmulAlgo_t chosen by autotuning; empty: the heuristic's
  /// first choice, asked for at load.
  std::vector<uint8_t> Algo;
  std::string Label;
};

/// Whether the CUTLASS kernels run a GEMM of epilogue `E`
/// (runCutlassGemm), not cuBLASLt.
inline bool runsOnCutlass(GemmStep::Epilogue E) {
  return E == GemmStep::Epilogue::GeluErfBias ||
         E == GemmStep::Epilogue::CutlassBias ||
         E == GemmStep::Epilogue::CutlassResidualBias;
}

/// Whether `E` adds the matrix C (and the artifact stores C).
inline bool hasResidual(GemmStep::Epilogue E) {
  return E == GemmStep::Epilogue::Residual ||
         E == GemmStep::Epilogue::ResidualBias ||
         E == GemmStep::Epilogue::CutlassResidualBias;
}

/// A device-to-device copy inside the arena (or from the weights).
struct CopyStep {
  BufferRef Src, Dst;
  std::string Label;
};

using Step = std::variant<KernelStep, GemmStep, CopyStep>;

/// A graph input or output of a bucket: its place in the arena and its
/// static shape in that bucket.
struct IoBinding {
  std::string Name;
  DType Type = DType::F32;
  std::vector<int64_t> Dims;
  BufferRef Buffer;
};

struct BucketPlan {
  int64_t Batch = 0;
  int64_t Seq = 0; // 0: the model has no `seq` symbol, or it is not fixed
  /// 0 for a padded bucket. Otherwise a packed-token plan (`kiln compile
  /// --tokens`, pack-tokens): it takes the same [Batch, Seq] inputs as the
  /// padded bucket and runs only the tokens the attention mask keeps, at
  /// most Tokens of them. Packed plans follow the padded ones in
  /// ExecutablePlan::Buckets.
  int64_t Tokens = 0;
  uint64_t ArenaBytes = 0;
  std::vector<IoBinding> Inputs, Outputs;
  std::vector<Step> Steps;
};

struct KernelModule {
  std::string Name;  // the template (or generated source) it came from
  std::string Cubin; // bytes; empty when only PTX was produced
  std::string Ptx;   // fallback for archs the CUBIN does not run on
};

struct KernelRef {
  uint32_t Module = 0;
  std::string LoweredName; // the mangled name NVRTC gave the instantiation
};

struct ExecutablePlan {
  std::string Arch; // "sm_90a"
  std::vector<KernelModule> Modules;
  std::vector<KernelRef> Kernels;
  std::vector<BucketPlan> Buckets;
  uint64_t WeightBytes = 0; // size of the weights buffer
};

} // namespace kiln

#endif
