//===- BenchDevices.h - kiln bench and kiln run over several devices -*- C++ -*-===//
#ifndef KILN_TOOLS_KILN_BENCHDEVICES_H
#define KILN_TOOLS_KILN_BENCHDEVICES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace kiln {

/// Parses `--devices 0,1` (CUDA ordinals, repeats allowed: 0,0 is two
/// logical devices on one card).
llvm::Expected<std::vector<int>> parseDeviceList(llvm::StringRef Spec,
                                                 llvm::StringRef Flag);

/// True when `kiln bench` was given --devices (or one of the options that
/// only go with it, which benchDevicesCommand then refuses).
bool benchDevicesRequested();

/// `kiln bench MODEL --devices ...`: a load of many threads on a
/// multi-device engine (docs/multi-gpu.md). `Shapes` is bench's --shapes
/// (its first shape is the request's), `JsonPath` its --json.
llvm::Error benchDevicesCommand(llvm::StringRef Model, llvm::StringRef Shapes,
                                llvm::StringRef JsonPath);

} // namespace kiln

#endif
