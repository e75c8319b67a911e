//===- Parser.h - reading the text form of a graph --------------*- C++ -*-===//
//
// Parses one graph in kiln's text form (docs/ir.md) and builds it through
// the Graph API. Errors read `BUFFER:LINE:COL: message`. Any input, however
// malformed, gives a graph or an error; the parser never crashes.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_PARSER_H
#define KILN_IR_PARSER_H

#include "ir/Graph.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace kiln {

/// `FirstLine` is the line number of Text's first line in its buffer, so that
/// a chunk cut from a larger file reports the file's line numbers.
llvm::Expected<std::unique_ptr<Graph>>
parseGraph(llvm::StringRef Text, llvm::StringRef BufferName = "<stdin>",
           unsigned FirstLine = 1);

} // namespace kiln

#endif
