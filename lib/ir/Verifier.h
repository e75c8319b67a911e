//===- Verifier.h - structural and type checks of a graph -------*- C++ -*-===//
//
// verifyGraph checks what every stage may assume of a graph: operands are
// defined before their use, every node matches its op's definition (operand
// and result counts, attributes, the op's own checks), graph outputs exist,
// and each result's recorded type agrees with what inference derives. In a
// partitioned graph every node has a device and reads only values made on
// its device (or graph inputs and constants): values crossing devices go
// through PeerCopy.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_VERIFIER_H
#define KILN_IR_VERIFIER_H

#include "ir/Graph.h"

#include "llvm/Support/Error.h"

namespace kiln {

/// Returns the first problem found, naming the node and the types involved.
llvm::Error verifyGraph(const Graph &G);

} // namespace kiln

#endif
