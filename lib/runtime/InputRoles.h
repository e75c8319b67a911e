//===- InputRoles.h - what a model's inputs and dims stand for --*- C++ -*-===//
//
// The runtime pads requests to buckets, and the tools make up inputs, by
// what each input and dim stands for: which input is the attention mask
// (padding a sequence needs one; made-up masks are all ones), which the
// token types, which dim follows the batch and which the sequence. The
// compiler records them in the artifact (IoSpec::Role, found by
// codegen/InputRoleAnalysis.h; the dims it names `batch` and `seq`), and
// this is the one place that reads them. Nothing here looks at names.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_INPUTROLES_H
#define KILN_RUNTIME_INPUTROLES_H

#include "ir/Type.h"
#include "runtime/Artifact.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <vector>

namespace kiln {

enum class DimRole : uint8_t { Other, Batch, Seq };

/// What dim `D` of a tensor follows.
DimRole dimRole(const Dim &D);

/// The roles of a graph input or output and of its dims.
struct IoRoles {
  bool AttentionMask = false;
  bool TokenTypes = false;
  std::vector<DimRole> Dims;

  /// The first dim of role `R`, or -1.
  int firstDim(DimRole R) const;
  int batchDim() const { return firstDim(DimRole::Batch); }
  int seqDim() const { return firstDim(DimRole::Seq); }
};

/// The roles of an input or output of role `Role` with dims `Dims`.
IoRoles ioRoles(IoRole Role, llvm::ArrayRef<Dim> Dims);
inline IoRoles ioRoles(const IoSpec &S) { return ioRoles(S.Role, S.Dims); }

/// The roles of an artifact's inputs, in order.
std::vector<IoRoles> inputRoles(const ArtifactMetadata &Meta);

} // namespace kiln

#endif
