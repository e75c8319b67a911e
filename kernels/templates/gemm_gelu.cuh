// gemm_gelu.cuh - D = gelu_erf(A @ B + bias) in one kernel, fp16 in and out,
// fp32 accumulation: the FFN's first projection of BERT-family encoders.
// cuBLASLt's GELU epilogue is the tanh approximation, so without this kernel
// the exact erf GELU is a second pass that reads and writes the whole
// [tokens, 4 * hidden] activation again (gemm_epilogue.cuh). The same main
// loop (GemmTile) serves any f16 GEMM of a small batch (bias or none, GELU
// or none: gemm_bias_gelu_f16) and a GEMM followed by a residual LayerNorm
// (gemm_skip_layernorm_f16, sm_90: a thread-block cluster per row block).
//
// Tensor cores through mma.sync m16n8k16 (sm_80 and newer): a CTA computes a
// BM x BN tile of D with its warps, each a (BM / WARPS_M) x (BN / WARPS_N)
// sub-tile; A and B tiles of BK (32 or 64) along K stream through STAGES buffers
// of shared memory with cp.async, so loads of later k-steps overlap the
// math of the current one. Shared memory rows are XOR-swizzled in 16-byte
// chunks so that ldmatrix's 8 row addresses fall in 8 different bank
// groups. The epilogue adds the bias, applies the erf GELU in fp32, rounds
// to fp16 and stages the tile through shared memory to store 16 bytes per
// thread.
//
// Shapes: A [M, K] row-major; B [K, N] row-major (TRANS_B = false) or
// [N, K] row-major (TRANS_B = true, ONNX Gemm's transB); D [M, N]. The
// lowering (GemmLowering.cpp) guarantees N % BN == 0 and K % BK == 0; M is
// arbitrary (rows past M are zero-filled on load and not stored). Pointers
// are 16-byte aligned (arena and weights are 256-byte aligned, and N, K are
// multiples of 8).
#pragma once
#include "common.cuh"

namespace kiln {
namespace gemm_gelu_detail {

__device__ __forceinline__ uint32_t smem_addr(const void *P) {
  return uint32_t(__cvta_generic_to_shared(P));
}

__device__ __forceinline__ void cp_async16(uint32_t Dst, const void *Src,
                                           bool Valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(Dst),
               "l"(Src), "r"(Valid ? 16 : 0));
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&R)[4], uint32_t Addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];"
               : "=r"(R[0]), "=r"(R[1]), "=r"(R[2]), "=r"(R[3])
               : "r"(Addr));
}

__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&R)[4], uint32_t Addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
               "{%0, %1, %2, %3}, [%4];"
               : "=r"(R[0]), "=r"(R[1]), "=r"(R[2]), "=r"(R[3])
               : "r"(Addr));
}

__device__ __forceinline__ void mma16816(float (&C)[4], const uint32_t (&A)[4],
                                         uint32_t B0, uint32_t B1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(C[0]), "+f"(C[1]), "+f"(C[2]), "+f"(C[3])
               : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B0), "r"(B1));
}

/// Element offset of 16-byte chunk `Chunk` of row `Row` in a tile whose rows
/// are 32 halves (4 chunks, 64 bytes): two rows share a 128-byte line, and
/// the chunk is XORed with the row pair so 8 consecutive rows at one logical
/// chunk cover all 8 slots of the line.
__device__ __forceinline__ int k32_offset(int Row, int Chunk) {
  return Row * 32 + ((Chunk ^ ((Row >> 1) & 3)) << 3);
}

/// The same for rows of `Width` halves (Width / 8 >= 8 chunks): the low 3
/// bits of the chunk are XORed with the row.
template <int Width>
__device__ __forceinline__ int wide_offset(int Row, int Chunk) {
  return Row * Width + ((Chunk ^ (Row & 7)) << 3);
}

/// The swizzled offset for rows of `Width` (32, or a multiple of 64) halves.
template <int Width>
__device__ __forceinline__ int tile_offset(int Row, int Chunk) {
  if constexpr (Width == 32)
    return k32_offset(Row, Chunk);
  else
    return wide_offset<Width>(Row, Chunk);
}

/// x * Phi(x), Phi the normal CDF, with erfc from Abramowitz and Stegun
/// 7.1.26 (|error| <= 1.5e-7) on |x| / sqrt(2): one reciprocal, one exp and
/// a degree-5 polynomial, no branches, where erff costs about twice the
/// instructions with a branch, time this epilogue would not hide behind
/// the tensor cores. For x < 0, Phi = erfc(|x| / sqrt(2)) / 2 directly, so
/// the small tail is not 1 - 0.99999... Measured against the exact GELU on
/// [-12, 12] in float32: max abs error 4.2e-7 (erff's form: 4.5e-7).
__device__ __forceinline__ float gelu_erf(float V) {
  float Z = fabsf(V) * 0.70710678118654752f;
  float T = __fdividef(1.0f, 1.0f + 0.3275911f * Z);
  float P = fmaf(T, 1.061405429f, -1.453152027f);
  P = fmaf(T, P, 1.421413741f);
  P = fmaf(T, P, -0.284496736f);
  P = fmaf(T, P, 0.254829592f);
  float Q = 0.5f * T * P * __expf(-Z * Z); // Phi(-|x|)
  return V * (V >= 0.0f ? 1.0f - Q : Q);
}

/// The main loop the kernels below share: `Acc` (this warp's MI x NI
/// m16n8 accumulators) = A[Row0 .., K0 .. K0 + KLen] B[K0 .. K0 + KLen,
/// Col0 ..] for the CTA's BM x BN tile (K is the row length of A, and of B
/// when TRANS_B), through STAGES shared-memory buffers at `Smem`
/// (STAGES * (BM * BK + BK * BN) halves). Returns with every copy landed
/// and the CTA synchronized, so the caller may reuse the buffers.
///
/// With PREFETCH, run waits for the predecessor kernel itself (the caller
/// must not have), after it has issued the copies of B for the first
/// STAGES - 1 k-steps: B is a weight no kernel writes, so under
/// programmatic dependent launch those copies overlap the predecessor's
/// run, and only A's wait for it.
template <int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES,
          bool TRANS_B>
struct GemmTile {
  static constexpr int Threads = WARPS_M * WARPS_N * 32;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  static constexpr int MI = WM / 16, NI = WN / 8;
  static constexpr int TileA = BM * BK, TileB = BK * BN;
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tile of 16x16 steps");
  static_assert(STAGES >= 2, "a stage in use and one being filled");
  static_assert(BK == 32 || BK % 64 == 0, "rows of 32 or 64k halves");
  static_assert(TRANS_B || BN % 64 == 0, "B rows need 8 chunks to swizzle");
  // Chunks of 16 bytes a thread copies a stage (the last round partial
  // where the tile has fewer chunks than a multiple of the threads).
  static constexpr int ChunksA = BM * BK / 8, ChunksB = BK * BN / 8;

  template <bool PREFETCH = false>
  __device__ static void
  run(const __half *__restrict__ A, const __half *__restrict__ B, int M, int N,
      int K, int Row0, int Col0, __half *Smem, float (&Acc)[MI][NI][4],
      int K0 = 0, int KLen = -1) {
    __half *SA = Smem;
    __half *SB = SA + STAGES * TileA;
    const int Tid = threadIdx.x, Lane = Tid & 31, Warp = Tid >> 5;
    const int WarpM = Warp / WARPS_N, WarpN = Warp % WARPS_N;
    const int KTiles = (KLen < 0 ? K : KLen) / BK;

    auto LoadA = [&](int Stage, int KTile) {
      const int KA = K0 + KTile * BK;
      __half *DA = SA + Stage * TileA;
#pragma unroll
      for (int I = 0; I < (ChunksA + Threads - 1) / Threads; ++I) {
        int Idx = Tid + I * Threads, R = Idx / (BK / 8), C = Idx % (BK / 8);
        if (ChunksA % Threads != 0 && Idx >= ChunksA)
          break;
        int GRow = Row0 + R;
        bool Valid = GRow < M;
        const __half *Src = A + (int64_t(Valid ? GRow : 0) * K + KA + C * 8);
        cp_async16(smem_addr(DA + tile_offset<BK>(R, C)), Src, Valid);
      }
    };
    auto LoadB = [&](int Stage, int KTile) {
      const int KB = K0 + KTile * BK;
      __half *DB = SB + Stage * TileB;
#pragma unroll
      for (int I = 0; I < (ChunksB + Threads - 1) / Threads; ++I) {
        int Idx = Tid + I * Threads;
        if (ChunksB % Threads != 0 && Idx >= ChunksB)
          break;
        if constexpr (TRANS_B) { // B is [N, K]: the tile is BN rows of BK
          int R = Idx / (BK / 8), C = Idx % (BK / 8);
          const __half *Src = B + (int64_t(Col0 + R) * K + KB + C * 8);
          cp_async16(smem_addr(DB + tile_offset<BK>(R, C)), Src, true);
        } else { // B is [K, N]: the tile is BK rows of BN
          int R = Idx / (BN / 8), C = Idx % (BN / 8);
          const __half *Src = B + (int64_t(KB + R) * N + Col0 + C * 8);
          cp_async16(smem_addr(DB + wide_offset<BN>(R, C)), Src, true);
        }
      }
    };
    auto LoadStage = [&](int Stage, int KTile) {
      LoadA(Stage, KTile);
      LoadB(Stage, KTile);
    };

#pragma unroll
    for (int I = 0; I < MI; ++I)
#pragma unroll
      for (int J = 0; J < NI; ++J)
#pragma unroll
        for (int E = 0; E < 4; ++E)
          Acc[I][J][E] = 0.0f;

    if constexpr (PREFETCH) {
      // The weights' first stages, then the wait, then A's: the first
      // commit group holds every B copy issued here.
#pragma unroll
      for (int S = 0; S < STAGES - 1; ++S)
        if (S < KTiles)
          LoadB(S, S);
      wait_for_predecessor();
#pragma unroll
      for (int S = 0; S < STAGES - 1; ++S) {
        if (S < KTiles)
          LoadA(S, S);
        asm volatile("cp.async.commit_group;");
      }
    } else {
#pragma unroll
      for (int S = 0; S < STAGES - 1; ++S) {
        if (S < KTiles)
          LoadStage(S, S);
        asm volatile("cp.async.commit_group;");
      }
    }

    for (int KT = 0; KT < KTiles; ++KT) {
      asm volatile("cp.async.wait_group %0;" ::"n"(STAGES - 2));
      __syncthreads(); // stage KT landed; everyone is done with stage KT - 1
      if (KT + STAGES - 1 < KTiles)
        LoadStage((KT + STAGES - 1) % STAGES, KT + STAGES - 1);
      asm volatile("cp.async.commit_group;");

      const __half *TA = SA + (KT % STAGES) * TileA;
      const __half *TB = SB + (KT % STAGES) * TileB;
#pragma unroll
      for (int KK = 0; KK < BK / 16; ++KK) {
        uint32_t AF[MI][4];
#pragma unroll
        for (int I = 0; I < MI; ++I) {
          int R = WarpM * WM + I * 16 + (Lane & 15);
          ldsm_x4(AF[I],
                  smem_addr(TA + tile_offset<BK>(R, KK * 2 + (Lane >> 4))));
        }
        uint32_t BF[NI][2];
#pragma unroll
        for (int J = 0; J < NI / 2; ++J) {
          uint32_t R4[4];
          if constexpr (TRANS_B) {
            // Matrices: n 0-7 k 0-7, n 0-7 k 8-15, n 8-15 k 0-7, n 8-15 k 8-15.
            int R = WarpN * WN + J * 16 + (Lane & 7) + ((Lane >> 4) << 3);
            ldsm_x4(R4, smem_addr(TB + tile_offset<BK>(
                                           R, KK * 2 + ((Lane >> 3) & 1))));
          } else {
            // Transposed: k 0-7 n 0-7, k 8-15 n 0-7, k 0-7 n 8-15, k 8-15 n
            // 8-15.
            int R = KK * 16 + (Lane & 7) + (((Lane >> 3) & 1) << 3);
            int C = (WarpN * WN + J * 16) / 8 + (Lane >> 4);
            ldsm_x4_trans(R4, smem_addr(TB + wide_offset<BN>(R, C)));
          }
          BF[2 * J][0] = R4[0];
          BF[2 * J][1] = R4[1];
          BF[2 * J + 1][0] = R4[2];
          BF[2 * J + 1][1] = R4[3];
        }
#pragma unroll
        for (int I = 0; I < MI; ++I)
#pragma unroll
          for (int J = 0; J < NI; ++J)
            mma16816(Acc[I][J], AF[I], BF[J][0], BF[J][1]);
      }
    }
    asm volatile("cp.async.wait_group 0;");
    __syncthreads(); // the pipeline's buffers are free
  }
};

/// Stores the BM x BN fp16 tile staged at `Out` (rows of BN + 8 halves) to
/// D's rows below M, 16 bytes a thread.
template <int BM, int BN, int Threads>
__device__ __forceinline__ void store_tile(const __half *Out, __half *D, int M,
                                           int N, int Row0, int Col0) {
  constexpr int Pitch = BN + 8;
#pragma unroll
  for (int I = 0; I < BM * BN / 8 / Threads; ++I) {
    int Idx = threadIdx.x + I * Threads, R = Idx / (BN / 8), C = Idx % (BN / 8);
    if (Row0 + R < M)
      *reinterpret_cast<uint4 *>(D + int64_t(Row0 + R) * N + Col0 + C * 8) =
          *reinterpret_cast<const uint4 *>(Out + R * Pitch + C * 8);
  }
}

// Thread-block clusters (sm_90): a CTA reads a value of another CTA's
// shared memory in its cluster, and the cluster-wide barrier in two halves.
__device__ __forceinline__ float ld_cluster_f32(const float *P, uint32_t Rank) {
  uint32_t Remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
               : "=r"(Remote)
               : "r"(smem_addr(P)), "r"(Rank));
  float V;
  asm volatile("ld.shared::cluster.f32 %0, [%1];"
               : "=f"(V)
               : "r"(Remote)
               : "memory");
  return V;
}
__device__ __forceinline__ float4 ld_cluster_f32x4(const float *P,
                                                   uint32_t Rank) {
  uint32_t Remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
               : "=r"(Remote)
               : "r"(smem_addr(P)), "r"(Rank));
  float4 V;
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(V.x), "=f"(V.y), "=f"(V.z), "=f"(V.w)
               : "r"(Remote)
               : "memory");
  return V;
}
__device__ __forceinline__ void cluster_arrive() {
  asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
}
__device__ __forceinline__ void cluster_wait() {
  asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

} // namespace gemm_gelu_detail

/// D = A B (+ bias), with the erf GELU when GELU: the FFN's first
/// projection, or any f16 GEMM the lowering gives to this kernel (small
/// batches, where its grid of small tiles beats cuBLASLt's launch).
template <int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES,
          bool TRANS_B, bool GELU = true, bool HAS_BIAS = true,
          bool PREFETCH = false>
__global__ void __launch_bounds__(WARPS_M *WARPS_N * 32)
    gemm_bias_gelu_f16(const __half *__restrict__ A,
                       const __half *__restrict__ B,
                       const __half *__restrict__ Bias, __half *__restrict__ D,
                       int M, int N, int K) {
  if constexpr (!PREFETCH)
    wait_for_predecessor();
  using namespace gemm_gelu_detail;
  using Tile = GemmTile<BM, BN, BK, WARPS_M, WARPS_N, STAGES, TRANS_B>;
  constexpr int MI = Tile::MI, NI = Tile::NI, WM = Tile::WM, WN = Tile::WN;
  extern __shared__ __align__(128) unsigned char Smem[];
  const int Lane = threadIdx.x & 31, Warp = threadIdx.x >> 5;
  const int WarpM = Warp / WARPS_N, WarpN = Warp % WARPS_N;
  const int Row0 = blockIdx.y * BM, Col0 = blockIdx.x * BN;

  float Acc[MI][NI][4];
  Tile::template run<PREFETCH>(A, B, M, N, K, Row0, Col0,
                               reinterpret_cast<__half *>(Smem), Acc);

  // Bias + erf GELU in fp32, rounded once to fp16, into a padded tile (rows
  // of BN + 8 halves: the 8 rows a store touches start 4 banks apart).
  constexpr int Pitch = BN + 8;
  __half *Out = reinterpret_cast<__half *>(Smem);
#pragma unroll
  for (int J = 0; J < NI; ++J) {
    int C = WarpN * WN + J * 8 + (Lane & 3) * 2;
    float B0 = 0.0f, B1 = 0.0f;
    if constexpr (HAS_BIAS) {
      B0 = __half2float(Bias[Col0 + C]);
      B1 = __half2float(Bias[Col0 + C + 1]);
    }
#pragma unroll
    for (int I = 0; I < MI; ++I) {
      int R = WarpM * WM + I * 16 + (Lane >> 2);
      float V[4] = {Acc[I][J][0] + B0, Acc[I][J][1] + B1, Acc[I][J][2] + B0,
                    Acc[I][J][3] + B1};
      if constexpr (GELU)
#pragma unroll
        for (int E = 0; E < 4; ++E)
          V[E] = gelu_erf(V[E]);
      *reinterpret_cast<__half2 *>(Out + R * Pitch + C) =
          __floats2half2_rn(V[0], V[1]);
      *reinterpret_cast<__half2 *>(Out + (R + 8) * Pitch + C) =
          __floats2half2_rn(V[2], V[3]);
    }
  }
  __syncthreads();
  store_tile<BM, BN, Tile::Threads>(Out, D, M, N, Row0, Col0);
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 900 // clusters
/// Y = LayerNorm(A B + bias + extra + skip) * gamma + beta over rows of N,
/// the projection before a residual LayerNorm (SkipLayerNorm) in one
/// kernel: a cluster of CLUSTER CTAs (sm_90) shares each BM-row block, CTA
/// r computing columns [r BN, (r + 1) BN) with N = CLUSTER * BN, so the
/// weights are read once per row block and spread over CLUSTER SMs. The
/// row statistics are fp32 and two-pass like layernorm.cuh's (the mean,
/// then the mean of squared deviations): each CTA sums its columns of a
/// row, and every CTA adds the CLUSTER partial sums it reads from the
/// others' shared memory (distributed shared memory). The GEMM's sum is
/// not rounded to fp16 before the LayerNorm, where the two-kernel form
/// rounds it once. P is the storage of gamma, beta and extra.
template <int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES,
          bool TRANS_B, int CLUSTER, typename P, bool HAS_BIAS, bool HAS_BETA,
          bool HAS_EXTRA, bool PREFETCH = false>
__global__ void __cluster_dims__(CLUSTER, 1, 1)
    __launch_bounds__(WARPS_M *WARPS_N * 32) gemm_skip_layernorm_f16(
        const __half *__restrict__ A, const __half *__restrict__ B,
        const __half *__restrict__ Bias, const __half *__restrict__ Skip,
        const P *__restrict__ Gamma, const P *__restrict__ Beta,
        const P *__restrict__ Extra, __half *__restrict__ Y, int M, int N,
        int K, float Epsilon) {
  if constexpr (!PREFETCH)
    wait_for_predecessor();
  using namespace gemm_gelu_detail;
  using Tile = GemmTile<BM, BN, BK, WARPS_M, WARPS_N, STAGES, TRANS_B>;
  constexpr int MI = Tile::MI, NI = Tile::NI, WM = Tile::WM, WN = Tile::WN;
  static_assert(BM <= Tile::Threads, "a thread per row for the statistics");
  extern __shared__ __align__(128) unsigned char Smem[];
  __shared__ float Part[WARPS_N][BM];     // per warp column, per row
  __shared__ float CtaSum[BM], CtaSq[BM]; // read by the whole cluster
  __shared__ float Mean[BM], Rstd[BM];
  const int Tid = threadIdx.x, Lane = Tid & 31, Warp = Tid >> 5;
  const int WarpM = Warp / WARPS_N, WarpN = Warp % WARPS_N;
  const int G = Lane >> 2, Tq = Lane & 3;
  const int Row0 = blockIdx.y * BM, Col0 = blockIdx.x * BN;

  float Acc[MI][NI][4];
  Tile::template run<PREFETCH>(A, B, M, N, K, Row0, Col0,
                               reinterpret_cast<__half *>(Smem), Acc);

  // Acc becomes x = A B + bias + extra + skip, in fp32.
#pragma unroll
  for (int J = 0; J < NI; ++J) {
    int C = Col0 + WarpN * WN + J * 8 + Tq * 2;
    float B0 = 0.0f, B1 = 0.0f;
    if constexpr (HAS_BIAS) {
      B0 += __half2float(Bias[C]);
      B1 += __half2float(Bias[C + 1]);
    }
    if constexpr (HAS_EXTRA) {
      B0 += to_float(Extra[C]);
      B1 += to_float(Extra[C + 1]);
    }
#pragma unroll
    for (int I = 0; I < MI; ++I)
#pragma unroll
      for (int H = 0; H < 2; ++H) {
        int R = Row0 + WarpM * WM + I * 16 + G + H * 8;
        float2 S = make_float2(0.0f, 0.0f);
        if (R < M)
          S = __half22float2(
              *reinterpret_cast<const __half2 *>(Skip + int64_t(R) * N + C));
        Acc[I][J][2 * H] += B0 + S.x;
        Acc[I][J][2 * H + 1] += B1 + S.y;
      }
  }

  // Sums over the CTA's columns of each of its rows: the 4 lanes of a row
  // by shuffles, the WARPS_N warps through Part.
  // With Squares, of the squared deviations from Mean.
  auto RowSums = [&](bool Squares, float *Dst) {
#pragma unroll
    for (int I = 0; I < MI; ++I)
#pragma unroll
      for (int H = 0; H < 2; ++H) {
        int R = WarpM * WM + I * 16 + G + H * 8;
        float S = 0.0f, Mu = Squares ? Mean[R] : 0.0f;
#pragma unroll
        for (int J = 0; J < NI; ++J) {
          float D0 = Acc[I][J][2 * H] - Mu, D1 = Acc[I][J][2 * H + 1] - Mu;
          S += Squares ? D0 * D0 + D1 * D1 : D0 + D1;
        }
        S += __shfl_xor_sync(0xffffffffu, S, 1);
        S += __shfl_xor_sync(0xffffffffu, S, 2);
        if (Tq == 0)
          Part[WarpN][R] = S;
      }
    __syncthreads();
    if (Tid < BM) {
      float S = 0.0f;
#pragma unroll
      for (int W = 0; W < WARPS_N; ++W)
        S += Part[W][Tid];
      Dst[Tid] = S;
    }
  };
  // The same row's partial sums of every CTA in the cluster.
  auto ClusterSum = [&](const float *Src) {
    float S = 0.0f;
#pragma unroll
    for (int Rank = 0; Rank < CLUSTER; ++Rank)
      S += ld_cluster_f32(Src + Tid, uint32_t(Rank));
    return S;
  };
  const float InvN = 1.0f / float(N);

  RowSums(false, CtaSum);
  cluster_arrive();
  cluster_wait(); // every CTA's CtaSum is written
  if (Tid < BM)
    Mean[Tid] = ClusterSum(CtaSum) * InvN;
  __syncthreads();
  RowSums(true, CtaSq);
  cluster_arrive();
  cluster_wait(); // every CTA's CtaSq is written
  if (Tid < BM)
    Rstd[Tid] = rsqrtf(ClusterSum(CtaSq) * InvN + Epsilon);
  // No CTA may exit while another still reads its shared memory: arrive
  // now, wait before returning.
  cluster_arrive();
  __syncthreads();

  constexpr int Pitch = BN + 8;
  __half *Out = reinterpret_cast<__half *>(Smem);
#pragma unroll
  for (int J = 0; J < NI; ++J) {
    int C = WarpN * WN + J * 8 + Tq * 2;
    float G0 = to_float(Gamma[Col0 + C]), G1 = to_float(Gamma[Col0 + C + 1]);
    float E0 = 0.0f, E1 = 0.0f;
    if constexpr (HAS_BETA) {
      E0 = to_float(Beta[Col0 + C]);
      E1 = to_float(Beta[Col0 + C + 1]);
    }
#pragma unroll
    for (int I = 0; I < MI; ++I)
#pragma unroll
      for (int H = 0; H < 2; ++H) {
        int R = WarpM * WM + I * 16 + G + H * 8;
        float Mu = Mean[R], Rs = Rstd[R];
        *reinterpret_cast<__half2 *>(Out + R * Pitch + C) =
            __floats2half2_rn((Acc[I][J][2 * H] - Mu) * Rs * G0 + E0,
                              (Acc[I][J][2 * H + 1] - Mu) * Rs * G1 + E1);
      }
  }
  __syncthreads();
  store_tile<BM, BN, Tile::Threads>(Out, Y, M, N, Row0, Col0);
  cluster_wait();
}

/// gemm_skip_layernorm_f16's result for the few rows of a small batch,
/// with the cluster splitting K instead of N. CTA r of the CLUSTER that
/// shares a BM-row block multiplies the slice [r KLen, (r + 1) KLen) of K
/// (KLen = K / CLUSTER) into a partial sum for whole rows (BN = N, each of
/// the WARPS_N warps N / WARPS_N columns). So a CTA reads 1 / CLUSTER of
/// A's row block, where the N-split kernel reads all of it, and its slice
/// of B in STAGES large steps issued at once (KLen is a few k-steps), with
/// PREFETCH before the predecessor kernel has ended. The partial sums stay
/// in each CTA's shared memory; CTA r adds the CLUSTER partials of its NC =
/// N / CLUSTER columns through distributed shared memory, then the bias,
/// extra and skip. The LayerNorm's statistics are fp32: each CTA's mean of
/// a row over its NC columns and the sum of squared deviations from it
/// (two passes over values in shared memory), combined over the cluster in
/// one exchange with Chan et al.'s formula for the variance of a union of
/// groups (M2 = sum of M2_r + NC * sum of (mean_r - mean)^2).
template <int BM, int N, int BK, int WARPS_N, int STAGES, bool TRANS_B,
          int CLUSTER, typename P, bool HAS_BIAS, bool HAS_BETA, bool HAS_EXTRA,
          bool PREFETCH>
__global__ void __cluster_dims__(CLUSTER, 1, 1) __launch_bounds__(WARPS_N * 32)
    gemm_ksplit_layernorm_f16(
        const __half *__restrict__ A, const __half *__restrict__ B,
        const __half *__restrict__ Bias, const __half *__restrict__ Skip,
        const P *__restrict__ Gamma, const P *__restrict__ Beta,
        const P *__restrict__ Extra, __half *__restrict__ Y, int M, int K,
        float Epsilon) {
  if constexpr (!PREFETCH)
    wait_for_predecessor();
  using namespace gemm_gelu_detail;
  using Tile = GemmTile<BM, N, BK, 1, WARPS_N, STAGES, TRANS_B>;
  constexpr int MI = Tile::MI, NI = Tile::NI, WN = Tile::WN;
  constexpr int Threads = Tile::Threads;
  constexpr int NC = N / CLUSTER; // the columns this CTA normalizes
  constexpr int Groups = BM * NC / 4,
                PerThread = (Groups + Threads - 1) / Threads;
  constexpr int Pitch = N + 8; // of the partial sums, in floats
  static_assert(N % CLUSTER == 0 && NC % 4 == 0, "4-column groups");
  static_assert(BM <= Threads, "a thread per row for the statistics");
  extern __shared__ __align__(128) unsigned char Smem[];
  __shared__ float X[BM][NC + 1];
  __shared__ float CtaMean[BM], CtaM2[BM]; // read by the whole cluster
  __shared__ float Mean[BM], Rstd[BM];
  const int Tid = threadIdx.x, Lane = Tid & 31, Warp = Tid >> 5;
  const int G = Lane >> 2, Tq = Lane & 3;
  const uint32_t Rank = blockIdx.x; // the grid's x is one cluster
  const int Row0 = blockIdx.y * BM, KLen = K / CLUSTER;

  float Acc[MI][NI][4];
  Tile::template run<PREFETCH>(A, B, M, N, K, Row0, 0,
                               reinterpret_cast<__half *>(Smem), Acc,
                               int(Rank) * KLen, KLen);

  // This CTA's partial sums for the whole rows, where the pipeline was.
  float *Part = reinterpret_cast<float *>(Smem);
#pragma unroll
  for (int I = 0; I < MI; ++I)
#pragma unroll
    for (int J = 0; J < NI; ++J)
#pragma unroll
      for (int H = 0; H < 2; ++H) {
        int R = I * 16 + G + H * 8, C = Warp * WN + J * 8 + Tq * 2;
        *reinterpret_cast<float2 *>(Part + R * Pitch + C) =
            make_float2(Acc[I][J][2 * H], Acc[I][J][2 * H + 1]);
      }
  cluster_arrive();
  cluster_wait(); // every CTA's partial sums are written

  // A thread's I-th group of 4 columns: its row and first column among
  // this CTA's NC, or false past the last group.
  auto GroupAt = [&](int I, int &R, int &C) {
    int Idx = Tid + I * Threads;
    R = Idx / (NC / 4);
    C = (Idx % (NC / 4)) * 4;
    return Groups % Threads == 0 || Idx < Groups;
  };

  // x = the CLUSTER partials + bias + extra + skip, 4 columns a group.
  float4 V[PerThread];
#pragma unroll
  for (int I = 0; I < PerThread; ++I) {
    int R, C;
    if (!GroupAt(I, R, C))
      break;
    const int Col = int(Rank) * NC + C;
    float4 S = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int Q = 0; Q < CLUSTER; ++Q) {
      float4 T = ld_cluster_f32x4(Part + R * Pitch + Col, uint32_t(Q));
      S.x += T.x;
      S.y += T.y;
      S.z += T.z;
      S.w += T.w;
    }
    float Add[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int E = 0; E < 4; ++E) {
      if constexpr (HAS_BIAS)
        Add[E] += __half2float(Bias[Col + E]);
      if constexpr (HAS_EXTRA)
        Add[E] += to_float(Extra[Col + E]);
    }
    if (Row0 + R < M) {
      uint2 Raw =
          *reinterpret_cast<const uint2 *>(Skip + int64_t(Row0 + R) * N + Col);
      float2 S0 = __half22float2(*reinterpret_cast<const __half2 *>(&Raw.x));
      float2 S1 = __half22float2(*reinterpret_cast<const __half2 *>(&Raw.y));
      Add[0] += S0.x;
      Add[1] += S0.y;
      Add[2] += S1.x;
      Add[3] += S1.y;
    }
    V[I] = make_float4(S.x + Add[0], S.y + Add[1], S.z + Add[2], S.w + Add[3]);
    X[R][C] = V[I].x;
    X[R][C + 1] = V[I].y;
    X[R][C + 2] = V[I].z;
    X[R][C + 3] = V[I].w;
  }
  __syncthreads();

  // Each row's mean over this CTA's columns and the sum of squared
  // deviations from it: a warp a row.
  for (int R = Warp; R < BM; R += WARPS_N) {
    float S = 0.0f;
    for (int C = Lane; C < NC; C += 32)
      S += X[R][C];
    float Mu = warp_sum(S) * (1.0f / float(NC)), Q = 0.0f;
    for (int C = Lane; C < NC; C += 32) {
      float D = X[R][C] - Mu;
      Q += D * D;
    }
    Q = warp_sum(Q);
    if (Lane == 0) {
      CtaMean[R] = Mu;
      CtaM2[R] = Q;
    }
  }
  cluster_arrive();
  cluster_wait(); // every CTA's statistics are written
  if (Tid < BM) {
    float Means[CLUSTER], Mu = 0.0f, M2 = 0.0f;
#pragma unroll
    for (int Q = 0; Q < CLUSTER; ++Q) {
      Means[Q] = ld_cluster_f32(CtaMean + Tid, uint32_t(Q));
      M2 += ld_cluster_f32(CtaM2 + Tid, uint32_t(Q));
      Mu += Means[Q];
    }
    Mu *= 1.0f / float(CLUSTER);
#pragma unroll
    for (int Q = 0; Q < CLUSTER; ++Q)
      M2 += float(NC) * (Means[Q] - Mu) * (Means[Q] - Mu);
    Mean[Tid] = Mu;
    Rstd[Tid] = rsqrtf(M2 * (1.0f / float(N)) + Epsilon);
  }
  // No CTA may exit while another still reads its shared memory: arrive
  // now, wait before returning.
  cluster_arrive();
  __syncthreads();

#pragma unroll
  for (int I = 0; I < PerThread; ++I) {
    int R, C;
    if (!GroupAt(I, R, C))
      break;
    const int Col = int(Rank) * NC + C;
    if (Row0 + R >= M)
      continue;
    float Mu = Mean[R], Rs = Rstd[R];
    float Vals[4] = {V[I].x, V[I].y, V[I].z, V[I].w}, Out[4];
#pragma unroll
    for (int E = 0; E < 4; ++E) {
      float Be = 0.0f;
      if constexpr (HAS_BETA)
        Be = to_float(Beta[Col + E]);
      Out[E] = (Vals[E] - Mu) * Rs * to_float(Gamma[Col + E]) + Be;
    }
    __half2 H0 = __floats2half2_rn(Out[0], Out[1]);
    __half2 H1 = __floats2half2_rn(Out[2], Out[3]);
    uint2 Raw;
    Raw.x = *reinterpret_cast<uint32_t *>(&H0);
    Raw.y = *reinterpret_cast<uint32_t *>(&H1);
    *reinterpret_cast<uint2 *>(Y + int64_t(Row0 + R) * N + Col) = Raw;
  }
  cluster_wait();
}

#endif

} // namespace kiln
