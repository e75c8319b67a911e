//===- CudaCheck.h - CUDA and cuBLASLt status as errors ---------*- C++ -*-===//
//
// Every CUDA runtime and cuBLASLt call of the runtime goes through
// KILN_CUDA or KILN_CUBLAS: a failure returns an llvm::Error from the
// enclosing function, naming what was being done and the library's status;
// it is a DeviceError (DeviceError.h), classified for failover.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_CUDACHECK_H
#define KILN_RUNTIME_CUDACHECK_H

#include "runtime/DeviceError.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cublasLt.h>
#include <cuda_runtime.h>

namespace kiln {

llvm::Error cudaFailure(cudaError_t E, const llvm::Twine &What);
llvm::Error cublasFailure(cublasStatus_t S, const llvm::Twine &What);

} // namespace kiln

#define KILN_CUDA(Expr, What)                                                  \
  do {                                                                         \
    if (cudaError_t Err_ = (Expr); Err_ != cudaSuccess)                        \
      return ::kiln::cudaFailure(Err_, What);                                  \
  } while (0)

#define KILN_CUBLAS(Expr, What)                                                \
  do {                                                                         \
    if (cublasStatus_t St_ = (Expr); St_ != CUBLAS_STATUS_SUCCESS)             \
      return ::kiln::cublasFailure(St_, What);                                 \
  } while (0)

#endif
