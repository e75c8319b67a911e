//===- ReferenceExecutor.h - run any graph on the CPU -----------*- C++ -*-===//
//
// The oracle: evaluates a graph node by node with each op's reference
// implementation from the registry (fp32 math for 16- and 32-bit floats).
// Inputs are checked against the graph's input types, symbols are bound on
// first sight (`batch` = 2) and every result is checked against its static
// type, so a wrong shape inference shows up as an error naming the node.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_REFERENCEEXECUTOR_H
#define KILN_RUNTIME_REFERENCEEXECUTOR_H

#include "ir/Graph.h"

#include "llvm/Support/Error.h"

#include <map>

namespace kiln {

struct ReferenceOptions {
  /// Check each result's shape against its value's static type.
  bool CheckResultTypes = true;
};

/// Runs `G` with `Inputs` given in graph-input order; returns the outputs in
/// graph-output order.
llvm::Expected<std::vector<Tensor>>
runReference(const Graph &G, llvm::ArrayRef<Tensor> Inputs,
             const ReferenceOptions &Options = {});

/// The same with inputs by name; every graph input must be given.
llvm::Expected<std::vector<Tensor>>
runReference(const Graph &G, const std::map<std::string, Tensor> &Inputs,
             const ReferenceOptions &Options = {});

} // namespace kiln

#endif
