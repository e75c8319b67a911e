//===- Printer.h - the text form of a graph ---------------------*- C++ -*-===//
//
// Prints a Graph in kiln's text form (docs/ir.md). Parsing the output with
// parseGraph and printing again gives the same bytes.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_PRINTER_H
#define KILN_IR_PRINTER_H

#include "ir/Graph.h"

#include "llvm/Support/raw_ostream.h"

#include <string>

namespace kiln {

struct PrintOptions {
  /// Prints constants of more than 16 elements as `elided` instead of hex.
  bool ElideWeights = false;
};

void printGraph(const Graph &G, llvm::raw_ostream &OS,
                const PrintOptions &Options = {});
std::string printGraphToString(const Graph &G,
                               const PrintOptions &Options = {});

/// `f32[batch, "s 1", ?]` as the text form writes it.
std::string printType(const TensorType &T);

} // namespace kiln

#endif
