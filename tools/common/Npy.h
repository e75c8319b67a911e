//===- Npy.h - NumPy .npy and .npz files ------------------------*- C++ -*-===//
//
// How tensors get in and out of the tools: `np.save` / `np.savez` files.
// Reading accepts .npy format versions 1 to 3, little-endian, C order, with
// the dtypes kiln has (f32 f16 f64 i64 i32 i8 u8 bool; NumPy has no bfloat16).
// An .npz is a zip of .npy members; members may be stored (np.savez) or
// deflated (np.savez_compressed). Writing produces .npy version 1 and stored
// .npz archives that np.load reads, through a temporary file renamed into
// place, so a failed write leaves nothing half-written.
//
// A malformed file is an error naming the file and what is wrong with it,
// never a crash.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_NPY_H
#define KILN_TOOLS_NPY_H

#include "ir/Tensor.h"

#include "llvm/Support/Error.h"

#include <string>
#include <utility>
#include <vector>

namespace kiln {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

llvm::Expected<Tensor> readNpy(llvm::StringRef Path);
llvm::Error writeNpy(llvm::StringRef Path, const Tensor &T);

/// The members in archive order, named without their `.npy` suffix.
llvm::Expected<NamedTensors> readNpz(llvm::StringRef Path);
/// Each tensor becomes member `<name>.npy`; names must be unique.
llvm::Error writeNpz(llvm::StringRef Path, const NamedTensors &Tensors);

/// The in-memory forms the file functions are built on. `Name` is used in
/// messages only.
llvm::Expected<Tensor> parseNpy(llvm::StringRef Bytes, llvm::StringRef Name);
llvm::Expected<std::string> serializeNpy(const Tensor &T);
llvm::Expected<NamedTensors> parseNpz(llvm::StringRef Bytes,
                                      llvm::StringRef Name);
llvm::Expected<std::string> serializeNpz(const NamedTensors &Tensors);

} // namespace kiln

#endif
