//===- ModelFlops.cpp - the arithmetic a model does -----------------------===//
#include "common/ModelFlops.h"

#include "runtime/InputRoles.h"

namespace kiln {

double modelFlops(const Graph &G, int64_t Batch, int64_t Seq) {
  auto Size = [&](const Dim &D) -> double {
    if (D.isStatic())
      return double(D.value());
    switch (dimRole(D)) {
    case DimRole::Batch: return double(Batch);
    case DimRole::Seq: return double(Seq);
    case DimRole::Other: return 0;
    }
    return 0;
  };
  auto Numel = [&](const TensorType &T) {
    double N = 1;
    for (const Dim &D : T.Dims)
      N *= Size(D);
    return N;
  };
  double Flops = 0;
  for (const auto &N : G.nodes()) {
    llvm::StringRef Op = N->opName();
    if (Op == "FusedGemm" || Op == "MatMul" || Op == "Gemm") {
      const TensorType &A = N->operand(0)->type();
      double K = A.rank() ? Size(A.Dims.back()) : 0;
      Flops += 2 * Numel(N->result()->type()) * K;
    } else if (Op == "Attention") {
      // q k^T and p v: 4 * B * S * S * (H * D).
      const TensorType &Q = N->operand(0)->type();
      if (Q.rank() != 3)
        continue;
      double Hidden = Size(Q.Dims[2]) / (N->operand(1) ? 1 : 3);
      Flops += 4 * Size(Q.Dims[0]) * Size(Q.Dims[1]) * Size(Q.Dims[1]) * Hidden;
    }
  }
  return Flops;
}

} // namespace kiln
