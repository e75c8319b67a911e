//===- CublasLt.cpp - GemmSteps on cuBLASLt -------------------------------===//
#include "runtime/CublasLt.h"
#include "runtime/CutlassGemm.h"
#include "runtime/DeviceError.h"

#include "ir/Error.h"

#include "llvm/ADT/ScopeExit.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace kiln {

char DeviceError::ID = 0;

DeviceError::Severity classifyCudaError(int Code) {
  switch (cudaError_t(Code)) {
  // CUDA's documentation: "the process must be terminated and relaunched".
  case cudaErrorIllegalAddress:
  case cudaErrorLaunchFailure:
  case cudaErrorAssert:
  case cudaErrorECCUncorrectable:
  case cudaErrorHardwareStackError:
  case cudaErrorIllegalInstruction:
  case cudaErrorMisalignedAddress:
  case cudaErrorInvalidAddressSpace:
  case cudaErrorInvalidPc:
  case cudaErrorLaunchTimeout:
  case cudaErrorDevicesUnavailable:
  case cudaErrorNoDevice:
  case cudaErrorDeviceUninitialized:
  case cudaErrorContextIsDestroyed:
  case cudaErrorNvlinkUncorrectable:
  case cudaErrorUnknown: return DeviceError::Severity::Lost;
  default: return DeviceError::Severity::Recoverable;
  }
}

llvm::Error withDevice(llvm::Error E, int Device) {
  return llvm::handleErrors(std::move(E),
                            [&](std::unique_ptr<DeviceError> D) -> llvm::Error {
                              if (D->device() < 0)
                                D->setDevice(Device);
                              return llvm::Error(std::move(D));
                            });
}

llvm::Error cudaFailure(cudaError_t E, const llvm::Twine &What) {
  return llvm::make_error<DeviceError>((What + ": CUDA error " +
                                        cudaGetErrorName(E) + ": " +
                                        cudaGetErrorString(E))
                                           .str(),
                                       classifyCudaError(int(E)), int(E));
}

llvm::Error cublasFailure(cublasStatus_t S, const llvm::Twine &What) {
  // cuBLASLt reports a kernel that failed to run as EXECUTION_FAILED; the
  // CUDA error behind it, when sticky, shows on the next CUDA call.
  DeviceError::Severity Sev = S == CUBLAS_STATUS_EXECUTION_FAILED
                                  ? DeviceError::Severity::Lost
                                  : DeviceError::Severity::Recoverable;
  return llvm::make_error<DeviceError>((What + ": cuBLASLt error " +
                                        cublasLtGetStatusName(S) + ": " +
                                        cublasLtGetStatusString(S))
                                           .str(),
                                       Sev, int(S));
}

namespace {

cudaDataType cudaType(DType T) {
  switch (T) {
  case DType::F16: return CUDA_R_16F;
  case DType::BF16: return CUDA_R_16BF;
  default: return CUDA_R_32F;
  }
}

} // namespace

PreparedGemm::~PreparedGemm() {
  if (LayoutA)
    cublasLtMatrixLayoutDestroy(LayoutA);
  if (LayoutB)
    cublasLtMatrixLayoutDestroy(LayoutB);
  if (LayoutD)
    cublasLtMatrixLayoutDestroy(LayoutD);
  if (Desc)
    cublasLtMatmulDescDestroy(Desc);
}

llvm::Expected<std::unique_ptr<PreparedGemm>>
prepareGemm(cublasLtHandle_t Lt, const GemmStep &S, const void *BiasPtr,
            unsigned Count, std::vector<cublasLtMatmulAlgo_t> *Candidates) {
  // Row-major D[M,N] = op(A) op(B) is column-major D^T[N,M] = op(B)^T
  // op(A)^T: cuBLASLt's first matrix is our B, its second our A.
  auto G = std::make_unique<PreparedGemm>();
  std::string Where = "preparing the GEMM of " + S.Label;
  if (runsOnCutlass(S.Epi)) {
    // The CUTLASS kernels run it (CutlassGemm.h): no descriptors, no
    // heuristic, nothing to autotune.
    std::string Refusal = cutlassGemmRefusal(S);
    if (!Refusal.empty())
      return makeError(Where +
                       ": the CUTLASS kernels cannot run it: " + Refusal);
    if (llvm::Error Err = checkCutlassDevice())
      return withContext(std::move(Err), Where);
    return std::move(G);
  }
  KILN_CUBLAS(
      cublasLtMatmulDescCreate(&G->Desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
      Where);
  cublasOperation_t OpB = S.TransB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t OpA = S.TransA ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_TRANSA, &OpB, sizeof(OpB)),
              Where);
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_TRANSB, &OpA, sizeof(OpA)),
              Where);
  cublasLtEpilogue_t Epi = CUBLASLT_EPILOGUE_DEFAULT;
  bool Bias = false;
  switch (S.Epi) {
  case GemmStep::Epilogue::None: break;
  case GemmStep::Epilogue::Bias:
    Epi = CUBLASLT_EPILOGUE_BIAS;
    Bias = true;
    break;
  case GemmStep::Epilogue::Relu: Epi = CUBLASLT_EPILOGUE_RELU; break;
  case GemmStep::Epilogue::ReluBias:
    Epi = CUBLASLT_EPILOGUE_RELU_BIAS;
    Bias = true;
    break;
  case GemmStep::Epilogue::GeluTanh: Epi = CUBLASLT_EPILOGUE_GELU; break;
  case GemmStep::Epilogue::GeluTanhBias:
    Epi = CUBLASLT_EPILOGUE_GELU_BIAS;
    Bias = true;
    break;
  case GemmStep::Epilogue::GeluErfBias:
  case GemmStep::Epilogue::CutlassBias:
  case GemmStep::Epilogue::CutlassResidualBias:
    assert(false && "the CUTLASS GEMM returned above");
    break;
  case GemmStep::Epilogue::Residual: break; // C through beta = 1
  case GemmStep::Epilogue::ResidualBias:
    Epi = CUBLASLT_EPILOGUE_BIAS;
    Bias = true;
    break;
  }
  KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                  G->Desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &Epi, sizeof(Epi)),
              Where);
  if (Bias) {
    KILN_CUBLAS(cublasLtMatmulDescSetAttribute(
                    G->Desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &BiasPtr,
                    sizeof(BiasPtr)),
                Where);
  }
  auto Layout = [&](cublasLtMatrixLayout_t &L, DType T, int64_t Rows,
                    int64_t Cols, int64_t Ld, int64_t Stride) -> llvm::Error {
    KILN_CUBLAS(cublasLtMatrixLayoutCreate(&L, cudaType(T), Rows, Cols, Ld),
                Where);
    if (S.Batch > 1) {
      int32_t Count = int32_t(S.Batch);
      KILN_CUBLAS(
          cublasLtMatrixLayoutSetAttribute(
              L, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &Count, sizeof(Count)),
          Where);
      KILN_CUBLAS(cublasLtMatrixLayoutSetAttribute(
                      L, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &Stride,
                      sizeof(Stride)),
                  Where);
    }
    return llvm::Error::success();
  };
  // Our B, stored row-major [K,N] (or [N,K] transposed), is column-major
  // N x K with ld N (or K x N with ld K).
  if (llvm::Error Err =
          Layout(G->LayoutA, S.BType, S.TransB ? S.K : S.N,
                 S.TransB ? S.N : S.K, S.TransB ? S.K : S.N, S.StrideB))
    return std::move(Err);
  if (llvm::Error Err =
          Layout(G->LayoutB, S.AType, S.TransA ? S.M : S.K,
                 S.TransA ? S.K : S.M, S.TransA ? S.M : S.K, S.StrideA))
    return std::move(Err);
  if (llvm::Error Err = Layout(G->LayoutD, S.DType_, S.N, S.M, S.N, S.StrideD))
    return std::move(Err);

  if (!S.Algo.empty() && !Candidates) {
    if (S.Algo.size() != sizeof(G->Algo))
      return makeError(Where + ": the stored algorithm has " +
                       llvm::Twine(S.Algo.size()) + " bytes, expected " +
                       llvm::Twine(sizeof(G->Algo)));
    std::memcpy(&G->Algo, S.Algo.data(), sizeof(G->Algo));
    return std::move(G);
  }
  cublasLtMatmulPreference_t Pref;
  KILN_CUBLAS(cublasLtMatmulPreferenceCreate(&Pref), Where);
  auto DestroyPref =
      llvm::make_scope_exit([&] { cublasLtMatmulPreferenceDestroy(Pref); });
  uint64_t Ws = GemmWorkspaceBytes;
  KILN_CUBLAS(
      cublasLtMatmulPreferenceSetAttribute(
          Pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &Ws, sizeof(Ws)),
      Where);
  std::vector<cublasLtMatmulHeuristicResult_t> Results(std::max(Count, 1u));
  int Found = 0;
  KILN_CUBLAS(cublasLtMatmulAlgoGetHeuristic(
                  Lt, G->Desc, G->LayoutA, G->LayoutB, G->LayoutD, G->LayoutD,
                  Pref, int(Results.size()), Results.data(), &Found),
              Where);
  if (Found == 0)
    return makeError(Where +
                     ": cuBLASLt has no algorithm for M=" + llvm::Twine(S.M) +
                     " N=" + llvm::Twine(S.N) + " K=" + llvm::Twine(S.K));
  G->Algo = Results[0].algo;
  if (Candidates)
    for (int I = 0; I < Found; ++I)
      Candidates->push_back(Results[I].algo);
  return std::move(G);
}

cublasStatus_t runGemm(cublasLtHandle_t Lt, const GemmStep &S,
                       const PreparedGemm &G, const cublasLtMatmulAlgo_t &Algo,
                       const void *A, const void *B, const void *C, void *D,
                       void *Workspace, cudaStream_t Stream) {
  if (runsOnCutlass(S.Epi))
    return CUBLAS_STATUS_NOT_SUPPORTED; // runCutlassGemm runs it
  // C has D's layout; without a residual beta = 0 and C is D.
  bool Residual = hasResidual(S.Epi);
  float Alpha = S.Alpha, Beta = Residual ? 1.0f : 0.0f;
  return cublasLtMatmul(Lt, G.Desc, &Alpha, B, G.LayoutA, A, G.LayoutB, &Beta,
                        Residual ? C : D, G.LayoutD, D, G.LayoutD, &Algo,
                        Workspace, GemmWorkspaceBytes, Stream);
}

} // namespace kiln
