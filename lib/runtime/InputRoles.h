//===- InputRoles.h - what a model's inputs and dims stand for --*- C++ -*-===//
//
// The runtime pads requests to buckets, and the tools make up inputs, by
// what each input and dim stands for: which input is the attention mask
// (padding a sequence needs one; made-up masks are all ones), which the
// token types, which dim follows the batch and which the sequence. This is
// the one place that decides it. Today it reads the names the exporters
// use (an input named like "mask", the symbols `batch` and `seq`); the
// compiler is to record the roles in the artifact instead.
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

/// The roles of the input or output `Name` with dims `Dims`.
IoRoles ioRoles(llvm::StringRef Name, llvm::ArrayRef<Dim> Dims);
inline IoRoles ioRoles(const IoSpec &S) { return ioRoles(S.Name, S.Dims); }

/// The roles of an artifact's inputs, in order.
std::vector<IoRoles> inputRoles(const ArtifactMetadata &Meta);

} // namespace kiln

#endif
