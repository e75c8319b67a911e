//===- ModelLoader.h - a model file to a verified graph ---------*- C++ -*-===//
//
// The one way the tools open a model: `.onnx` files go through the ONNX
// importer, anything else (and `-`, standard input) is parsed as kiln's text
// form. The graph is verified before it is returned.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_MODELLOADER_H
#define KILN_TOOLS_MODELLOADER_H

#include "ir/Graph.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace kiln {

llvm::Expected<std::unique_ptr<Graph>> loadModel(llvm::StringRef Path);

} // namespace kiln

#endif
