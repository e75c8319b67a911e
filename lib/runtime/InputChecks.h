//===- InputChecks.h - refusing requests the model cannot answer -*- C++ -*-===//
//
// The reference executor rejects an index outside its table; a GPU kernel
// cannot, and would answer with a plausible wrong vector. So before a run
// the runtime checks what the compiler recorded (ArtifactMetadata's
// IndexChecks and MaxSequenceLength, found by codegen/IndexBounds.h): the
// sequence length against the position tables, and every input that
// indexes a table against the table's size, with the reference executor's
// message. These functions read host memory only, so they are tested
// without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_INPUTCHECKS_H
#define KILN_RUNTIME_INPUTCHECKS_H

#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace kiln {

/// A request's input as the checks read it: Count integers of Type at
/// Data (host memory), or Data null when the values are not on the host.
struct IndexInput {
  const void *Data = nullptr;
  DType Type = DType::I64;
  int64_t Count = 0;
};

/// The reference executor's message for `Value` out of range of `C`'s
/// table, naming the input it came from.
std::string indexErrorMessage(const IndexCheck &C, int64_t Value);

/// Refuses a sequence longer than the model's position tables allow.
llvm::Error checkSequenceLength(const ArtifactMetadata &Meta, int64_t Seq);

/// Checks the values of every input an IndexCheck names (`Inputs` in the
/// order of Meta.Inputs; inputs with null Data are skipped).
llvm::Error checkIndexInputs(const ArtifactMetadata &Meta,
                             llvm::ArrayRef<IndexInput> Inputs);

} // namespace kiln

#endif
