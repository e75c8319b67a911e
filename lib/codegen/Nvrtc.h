//===- Nvrtc.h - CUDA source to CUBIN, with a disk cache --------*- C++ -*-===//
//
// Compiles one module (a template file, or generated source, plus the
// template instantiations it needs) with NVRTC: a CUBIN for the target arch
// and, when asked, PTX for the arch family as a fallback. Every file of
// kernels/templates is visible to `#include`. A cache directory keyed by a
// hash of (source, include set, instantiations, arch, options, NVRTC
// version) makes a recompile near-instant; a damaged cache entry is ignored
// and rewritten.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_NVRTC_H
#define KILN_CODEGEN_NVRTC_H

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace kiln {

struct ModuleSource {
  std::string Name;                   // for messages: "layernorm.cuh"
  std::string Source;                 // the translation unit
  std::vector<std::string> NameExprs; // instantiations to emit
};

struct CompiledModule {
  std::string Cubin;
  std::string Ptx; // empty unless asked for
  /// Lowered (mangled) name of each NameExpr, in order.
  std::vector<std::string> LoweredNames;
  bool FromCache = false;
};

struct NvrtcOptions {
  std::string Arch = "sm_90a";
  bool EmitPtx = true;
  /// Empty: no cache.
  std::string CacheDir;
};

/// Compiles one module; an NVRTC failure returns the program log.
llvm::Expected<CompiledModule> compileModule(const ModuleSource &M,
                                             const NvrtcOptions &Options);

/// Compiles modules on up to `Jobs` threads; results are in input order.
llvm::Expected<std::vector<CompiledModule>>
compileModules(const std::vector<ModuleSource> &Modules,
               const NvrtcOptions &Options, unsigned Jobs);

/// `$KILN_CACHE_DIR`, else `$HOME/.cache/kiln`, else empty.
std::string defaultCacheDir();

/// Checks that `Arch` is an sm_XY or sm_XYa name NVRTC knows.
llvm::Error checkArch(const std::string &Arch);

} // namespace kiln

#endif
