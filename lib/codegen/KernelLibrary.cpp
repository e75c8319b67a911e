//===- KernelLibrary.cpp - the lowering rules and template sources --------===//
#include "codegen/KernelLibrary.h"

#include "llvm/ADT/StringExtras.h"

namespace kiln {

const KernelRegistry &KernelRegistry::get() {
  static const KernelRegistry Registry = [] {
    KernelRegistry R;
    registerGenericKernels(R);
    // Fused ops register last: a family never overrides another's op.
    registerFusedKernels(R);
    registerAttentionKernels(R);
    registerRowKernels(R);
    return R;
  }();
  return Registry;
}

TargetInfo targetFor(llvm::StringRef Arch) {
  TargetInfo T;
  T.Arch = Arch.str();
  T.SmCount = 132;
  return T;
}

unsigned archNumber(llvm::StringRef Arch) {
  unsigned Number = 0;
  Arch.consume_front("sm_");
  Arch = Arch.take_while(llvm::isDigit);
  return Arch.getAsInteger(10, Number) ? 0 : Number;
}

const std::vector<std::pair<llvm::StringRef, llvm::StringRef>> &
templateSources() {
  static const std::vector<std::pair<llvm::StringRef, llvm::StringRef>>
      Sources = {
#include "KernelTemplates.inc"
      };
  return Sources;
}

llvm::StringRef templateSource(llvm::StringRef FileName) {
  for (const auto &[Name, Source] : templateSources())
    if (Name == FileName)
      return Source;
  return {};
}

llvm::StringRef cudaTypeName(DType T) {
  switch (T) {
  case DType::F32: return "float";
  case DType::F16: return "__half";
  case DType::BF16: return "__nv_bfloat16";
  case DType::F64: return "double";
  case DType::I64: return "int64_t";
  case DType::I32: return "int32_t";
  case DType::I8: return "int8_t";
  case DType::U8: return "uint8_t";
  case DType::Bool: return "bool";
  }
  return "float";
}

} // namespace kiln
