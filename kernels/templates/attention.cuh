// attention.cuh - multi-head attention, flash style.
//
//   out[b, i, h*D : (h+1)*D] =
//       sum_j softmax_j(q_i . k_j * scale + mask[b, h, i, j]) v_j
//
// q, k and v rows are [B, S, H*D] slices: `QStride`/`KStride`/`VStride` are
// the elements between tokens and `KOff`/`VOff` where k and v start within a
// token's row, so the packed layout that -O2 produces (one [B, S, 3*H*D]
// tensor, q | k | v) is the same kernel with strides 3*H*D and offsets H*D,
// 2*H*D, reading the QKV projection's output in place. The additive mask is
// addressed through four broadcast strides (0 along its size-1 dims).
// Scores never leave registers: each query row keeps a running max m, a
// running sum l and an fp32 output accumulator that is rescaled when m
// grows (online softmax).
//
// attention_mma<D, Warps, T, M, MaskKind> (T = __half or __nv_bfloat16,
// D = 16, 32, 48 ... 128): tensor cores, mma.sync m16n8k16 with fp32
// accumulation.
// - A CTA owns 16 * Warps query rows of one (batch, head); each warp owns 16
//   rows and keeps its Q fragments in registers for the whole kernel (read
//   once from global memory). Warps = 4 (64 rows) or 8 (128 rows, halving the
//   K/V traffic per query when the grid has enough CTAs anyway).
// - K/V tiles of BK keys are staged in shared memory with cp.async, double
//   buffered: BK = 64 keys for D <= 64 and 32 for D = 128, so both stages of
//   K and V fit the 48 KB of static shared memory (D = 32: 20 KB, D = 64:
//   36 KB, D = 128: 34 KB) and several CTAs share an SM. Rows are padded by
//   16 bytes: the 8 row addresses of each ldmatrix phase hit distinct banks.
// - S = Q K^T comes from ldmatrix (K rows are B's columns), P = exp(S - m)
//   is rounded to T and reused in registers as the A operand of P V (the
//   m16n8 accumulator layout of two adjacent key blocks is the A layout of
//   one k16 block), V comes from ldmatrix.trans.
// - Registers per thread: O is D/2 floats, Q D/4 words, S BK/2 floats; at
//   D = 128 about 140 in all, no spills. At D = 32 the launch bounds cap
//   them at 80 so that 3 CTAs of 8 warps share an SM (MmaShape::MinBlocks).
// - Other tilings (MmaShape's last arguments, TargetInfo::Attention*, for
//   timing): 32 query rows a warp (two m16 tiles sharing each K and V
//   fragment), BK up to 128 keys, and the CTAs an SM must hold.
// - MaskKind 1 loads the next tile's mask values into registers when it
//   issues that tile's K/V copies and stores them to shared memory after the
//   current tile's math, so no warp waits on them.
// - MaskKind 0: no mask. 1: the mask does not vary along the query axis
//   (the usual [B, 1, 1, S] padding mask): the CTA stages each tile's BK
//   values once in shared memory. 2: anything else, read per element.
//   3: packed tokens (PackTokens, FlashAttention's varlen form): the mask
//   slot holds spans, [batch, 2] int32_t (first token, count), q, k and v
//   are [1, SeqQ, ...] with SeqQ = SeqK the packed tokens, and CTA (x, h, b)
//   computes queries x * BQ ... of span b against span b's keys only. The
//   grid's x covers the longest span; CTAs past their span's end exit at
//   once. Spans are clamped to the tokens, so no span can address memory
//   outside q, k, v or the result; tokens in no span are not written.
//
// attention_simt<D, T, M, MaskKind> (fp32, and any D <= 128 the tensor-core
// kernel does not take; MaskKind 0, 2 or 3 as above): 4 warps, 4 query rows
// each; K/V tiles of 32 keys in shared memory as floats; lane j scores key
// j, then each lane accumulates output columns lane, lane + 32, ...
//
// Numerics: attention_mma keeps scores in log2 units, x = q.k * (scale *
// log2 e) + mask * log2 e (one FMA a score), and exponentiates exp2(x - m);
// a mask of -FLT_MAX stays -FLT_MAX (mask_log2), finite, so a row whose
// every key is masked that way averages v as the reference does. Keys past
// the end score -inf; a row with nothing but -inf (an -inf mask everywhere)
// writes 0 instead of NaN. The row sums are P (rounded to T, as P V uses
// it) times a column of ones on the tensor cores, one mma a k16 block of
// keys in place of an add a score, and need no shuffles at the end.
// attention_simt keeps natural units: exp2((x - m) * log2 e).
//
// An absent mask keeps its pointer slot; the launch passes 0.
#pragma once

#include "common.cuh"

namespace kiln {

constexpr float Log2e = 1.4426950408889634f;

/// -inf without math.h, which NVRTC does not have.
__device__ __forceinline__ float neg_inf() {
  return __int_as_float(0xff800000);
}

__device__ __forceinline__ float fast_exp2(float X) {
  float Y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(Y) : "f"(X));
  return Y;
}

/// The base that scores are exponentiated against: the running max, or 0
/// while every score seen is -inf (so exp2 gives 0, not NaN).
__device__ __forceinline__ float softmax_base(float Max) {
  return Max == neg_inf() ? 0.0f : Max;
}

/// A mask value in log2 units (times log2 e), kept finite where it was: a
/// mask of -FLT_MAX (masked keys, finite) must not become -inf, or a row
/// whose every key is masked would average nothing instead of v.
__device__ __forceinline__ float mask_log2(float Mask) {
  float L = Mask * Log2e;
  return L == neg_inf() && Mask != neg_inf() ? -3.4028234663852886e38f : L;
}

/// The tokens of sequence `B`: its first token in the [batch, seq] or packed
/// [1, tokens] layout and its length. Without spans, row B of SeqQ and SeqK
/// tokens; with spans (MaskKind 3), span B clamped to the SeqQ packed tokens.
struct AttentionRows {
  int64_t QFirst, KFirst;
  int SeqQ, SeqK;
};

template <int MaskKind, typename M>
__device__ __forceinline__ AttentionRows attention_rows(const M *Mask, int B,
                                                        int SeqQ, int SeqK) {
  if constexpr (MaskKind == 3) {
    int First = min(max(int(Mask[2 * B]), 0), SeqQ);
    int Count = min(max(int(Mask[2 * B + 1]), 0), SeqQ - First);
    return {First, First, Count, Count};
  } else {
    return {int64_t(B) * SeqQ, int64_t(B) * SeqK, SeqQ, SeqK};
  }
}

//===----------------------------------------------------------------------===//
// Tensor-core kernel
//===----------------------------------------------------------------------===//

template <typename T>
__device__ __forceinline__ uint32_t pack2(float A, float B);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float A, float B) {
  __half2 H = __floats2half2_rn(A, B);
  return *reinterpret_cast<uint32_t *>(&H);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float A, float B) {
  __nv_bfloat162 H = __floats2bfloat162_rn(A, B);
  return *reinterpret_cast<uint32_t *>(&H);
}

/// C += A B for one m16n8k16 tile, fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float *C, const uint32_t *A,
                                         uint32_t B0, uint32_t B1);
template <>
__device__ __forceinline__ void mma16816<__half>(float *C, const uint32_t *A,
                                                 uint32_t B0, uint32_t B1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(C[0]), "+f"(C[1]), "+f"(C[2]), "+f"(C[3])
               : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B0), "r"(B1));
}
template <>
__device__ __forceinline__ void
mma16816<__nv_bfloat16>(float *C, const uint32_t *A, uint32_t B0, uint32_t B1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};"
               : "+f"(C[0]), "+f"(C[1]), "+f"(C[2]), "+f"(C[3])
               : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B0), "r"(B1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t *R, uint32_t Addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];"
               : "=r"(R[0]), "=r"(R[1]), "=r"(R[2]), "=r"(R[3])
               : "r"(Addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t *R, uint32_t Addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
               "{%0, %1, %2, %3}, [%4];"
               : "=r"(R[0]), "=r"(R[1]), "=r"(R[2]), "=r"(R[3])
               : "r"(Addr));
}

/// 16 bytes global -> shared, bypassing L1; `Bytes` = 0 writes zeros.
__device__ __forceinline__ void cp_async16(uint32_t Dst, const void *Src,
                                           int Bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(Dst),
               "l"(Src), "r"(Bytes));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;");
}
template <int Pending> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(Pending));
}

template <int D, int Warps, int RowTiles = 1, int KeyTile = 0,
          int MinBlocksArg = 0>
struct MmaShape {
  static_assert(D % 16 == 0 && D <= 128, "head_dim: a multiple of 16 <= 128");
  static_assert(RowTiles == 1 || RowTiles == 2, "16 or 32 queries a warp");
  static constexpr int Threads = Warps * 32;
  static constexpr int BQ = 16 * RowTiles * Warps;
  static constexpr int BK = KeyTile ? KeyTile : D <= 64 ? 64 : 32;
  static_assert(BK % 16 == 0 && BK <= 128, "keys a tile: a multiple of 16");
  /// Shared-memory row of a K/V tile, in elements: 16 bytes of padding.
  static constexpr int Row = D + 8;
  static constexpr int TileElems = BK * Row;
  static_assert(2 * 2 * TileElems * 2 <= 48 * 1024,
                "two stages of K and V in 48 KB of static shared memory");
  /// CTAs an SM must hold at once, which caps registers at 65536 /
  /// (Threads * MinBlocks): 80 at D = 32 (3 CTAs of 8 warps), where the
  /// kernel is latency-bound and 95 registers allowed only 2. A cap of 64
  /// (4 CTAs) is slower again (H100, MiniLM 256 x 128: 0.527 ms of
  /// attention at 95 registers, 0.455 at 80, 0.471 at 64). Other tilings
  /// name their own (TargetInfo::Attention*), 1 when they do not.
  static constexpr int MinBlocks = MinBlocksArg ? MinBlocksArg
                                   : D <= 32 && RowTiles == 1 && !KeyTile
                                       ? 24 / Warps
                                       : 1;
};

/// One block of BK keys (keys Key0 ... Key0 + BK - 1) of the math that
/// attention_mma and attention_short share, for a warp's RT tiles of 16
/// query rows (A fragments that `LoadQ(QF)` fills once the scores are
/// zeroed: from registers, or from shared memory where keeping them across
/// the blocks would spill): S = Q K^T from the K rows at shared address
/// KS (ldmatrix at KLane, rows of Row elements), the scores in log2 units
/// with the mask (MaskKind 1: MaskVals[MaskAt + J] for key Key0 + J, the
/// staged values, -inf past the end; 2: per element from MaskBase at MaskRow; otherwise keys
/// from SeqK on score -inf), the online softmax's rescale of O and RowSum,
/// O += P V from the V rows at VS (ldmatrix.trans at VLane), and P's row
/// sums on the tensor cores. attention_short passes its whole staged mask
/// with MaskAt = Key0, not MaskS + Key0, and both kernels compute KLane and
/// VLane themselves: either other way ptxas spilled at the 80-register cap.
template <int D, int BK, int RT, int Row, typename T, typename M, int MaskKind,
          typename LoadQ>
__device__ __forceinline__ void
attention_block(LoadQ &&loadQ, uint32_t KS, uint32_t VS, int KLane, int VLane,
                int Key0, int SeqK, float ScaleLog2, const float *MaskVals,
                int MaskAt, const M *MaskBase, const int64_t (&MaskRow)[RT][2],
                int64_t MaskJ, int Tq, float (&O)[RT][D / 8][4],
                float (&RowMax)[RT][2], float (&RowSum)[RT][4]) {
  constexpr int NT = BK / 8, DT = D / 8;
  // S = Q K^T for this warp's rows and BK keys.
  float Sc[RT][NT][4];
#pragma unroll
  for (int R = 0; R < RT; ++R)
#pragma unroll
    for (int N = 0; N < NT; ++N)
      Sc[R][N][0] = Sc[R][N][1] = Sc[R][N][2] = Sc[R][N][3] = 0.0f;
  uint32_t QF[RT][D / 16][4];
  loadQ(QF);
#pragma unroll
  for (int Kb = 0; Kb < D / 16; ++Kb)
#pragma unroll
    for (int N = 0; N < NT; N += 2) {
      uint32_t Bf[4];
      ldmatrix_x4(Bf, KS + 2 * (KLane + N * 8 * Row + Kb * 16));
#pragma unroll
      for (int R = 0; R < RT; ++R) {
        mma16816<T>(Sc[R][N], QF[R][Kb], Bf[0], Bf[1]);
        mma16816<T>(Sc[R][N + 1], QF[R][Kb], Bf[2], Bf[3]);
      }
    }

  // Scale, mask, and the running max of each of the thread's rows.
  const bool Partial = Key0 + BK > SeqK;
  float Alpha[RT][2];
#pragma unroll
  for (int R = 0; R < RT; ++R) {
    float TileMax[2] = {neg_inf(), neg_inf()};
#pragma unroll
    for (int N = 0; N < NT; ++N)
#pragma unroll
      for (int E = 0; E < 4; ++E) {
        int J = N * 8 + Tq * 2 + E % 2; // key within the tile
        float X = Sc[R][N][E] * ScaleLog2;
        if constexpr (MaskKind == 1)
          X += MaskVals[MaskAt + J];
        if constexpr (MaskKind == 2)
          if (Key0 + J < SeqK)
            X += mask_log2(to_float(
                MaskBase[MaskRow[R][E / 2] + int64_t(Key0 + J) * MaskJ]));
        if (MaskKind != 1 && Partial && Key0 + J >= SeqK)
          X = neg_inf();
        Sc[R][N][E] = X;
        TileMax[E / 2] = fmaxf(TileMax[E / 2], X);
      }
#pragma unroll
    for (int I = 0; I < 2; ++I) {
      TileMax[I] =
          fmaxf(TileMax[I], __shfl_xor_sync(0xffffffffu, TileMax[I], 1));
      TileMax[I] =
          fmaxf(TileMax[I], __shfl_xor_sync(0xffffffffu, TileMax[I], 2));
      float NewMax = fmaxf(RowMax[R][I], TileMax[I]);
      float Base = softmax_base(NewMax);
      Alpha[R][I] = fast_exp2(RowMax[R][I] - Base);
      RowMax[R][I] = NewMax;
      RowSum[R][2 * I] *= Alpha[R][I];
    }
  }
#pragma unroll
  for (int R = 0; R < RT; ++R) {
    const float Base0 = softmax_base(RowMax[R][0]),
                Base1 = softmax_base(RowMax[R][1]);
#pragma unroll
    for (int N = 0; N < NT; ++N) {
      Sc[R][N][0] = fast_exp2(Sc[R][N][0] - Base0);
      Sc[R][N][1] = fast_exp2(Sc[R][N][1] - Base0);
      Sc[R][N][2] = fast_exp2(Sc[R][N][2] - Base1);
      Sc[R][N][3] = fast_exp2(Sc[R][N][3] - Base1);
    }
#pragma unroll
    for (int N = 0; N < DT; ++N) {
      O[R][N][0] *= Alpha[R][0];
      O[R][N][1] *= Alpha[R][0];
      O[R][N][2] *= Alpha[R][1];
      O[R][N][3] *= Alpha[R][1];
    }
  }

  // O += P V: P's A fragments are the accumulators of key blocks 2kb and
  // 2kb + 1, rounded to T.
#pragma unroll
  for (int Kb = 0; Kb < BK / 16; ++Kb) {
    uint32_t PF[RT][4];
#pragma unroll
    for (int R = 0; R < RT; ++R) {
      PF[R][0] = pack2<T>(Sc[R][2 * Kb][0], Sc[R][2 * Kb][1]);
      PF[R][1] = pack2<T>(Sc[R][2 * Kb][2], Sc[R][2 * Kb][3]);
      PF[R][2] = pack2<T>(Sc[R][2 * Kb + 1][0], Sc[R][2 * Kb + 1][1]);
      PF[R][3] = pack2<T>(Sc[R][2 * Kb + 1][2], Sc[R][2 * Kb + 1][3]);
    }
#pragma unroll
    for (int N = 0; N < DT; N += 2) {
      uint32_t Bf[4];
      ldmatrix_x4_trans(Bf, VS + 2 * (VLane + Kb * 16 * Row + N * 8));
#pragma unroll
      for (int R = 0; R < RT; ++R) {
        mma16816<T>(O[R][N], PF[R], Bf[0], Bf[1]);
        mma16816<T>(O[R][N + 1], PF[R], Bf[2], Bf[3]);
      }
    }
    // The row sums: P times ones (B fragments of 1.0 in T).
    const uint32_t Ones = pack2<T>(1.0f, 1.0f);
#pragma unroll
    for (int R = 0; R < RT; ++R)
      mma16816<T>(RowSum[R], PF[R], Ones, Ones);
  }
}

template <int D, int Warps, typename T, typename M, int MaskKind,
          int RowTiles = 1, int KeyTile = 0, int MinBlocksArg = 0>
__global__ void __launch_bounds__(
    Warps * 32, MmaShape<D, Warps, RowTiles, KeyTile, MinBlocksArg>::MinBlocks)
    attention_mma(const T *__restrict__ Q, const T *__restrict__ K,
                  const T *__restrict__ V, const M *__restrict__ Mask,
                  T *__restrict__ Out, int SeqQ, int SeqK, int Heads,
                  int64_t QStride, int64_t KStride, int64_t VStride,
                  int64_t KOff, int64_t VOff, int64_t MaskB, int64_t MaskH,
                  int64_t MaskI, int64_t MaskJ, float Scale) {
  wait_for_predecessor();
  using S = MmaShape<D, Warps, RowTiles, KeyTile, MinBlocksArg>;
  constexpr int BK = S::BK, DT = D / 8, RT = RowTiles;
  __shared__ __align__(16) T Ks[2][S::TileElems];
  __shared__ __align__(16) T Vs[2][S::TileElems];
  __shared__ float MaskTile[2][MaskKind == 1 ? BK : 1];

  const int Tid = threadIdx.x, Warp = Tid / 32, Lane = Tid % 32;
  const int G = Lane / 4, Tq = Lane % 4; // accumulator row and column pair
  const int H = blockIdx.y, B = blockIdx.z;
  const AttentionRows Rows = attention_rows<MaskKind>(Mask, B, SeqQ, SeqK);
  SeqQ = Rows.SeqQ;
  SeqK = Rows.SeqK;
  if (int(blockIdx.x) * S::BQ >= SeqQ)
    return; // past the end of a span: the whole CTA, before any barrier
  // Row tile R of this warp holds queries Q0 + 16 R ... Q0 + 16 R + 15.
  const int Q0 = blockIdx.x * S::BQ + Warp * 16 * RT;
  const int64_t HiddenOut = int64_t(Heads) * D;
  const T *KBase = K + Rows.KFirst * KStride + KOff + int64_t(H) * D;
  const T *VBase = V + Rows.KFirst * VStride + VOff + int64_t(H) * D;
  const M *MaskBase = Mask + int64_t(B) * MaskB + int64_t(H) * MaskH;

  // Stages the keys [Key0, Key0 + BK) of K and V (zeros past the end).
  auto loadTile = [&](int Stage, int Key0) {
    constexpr int Chunks = BK * D / 8; // 16 bytes each
#pragma unroll
    for (int I = 0; I < (Chunks + S::Threads - 1) / S::Threads; ++I) {
      int C = Tid + I * S::Threads;
      if (Chunks % S::Threads && C >= Chunks)
        break;
      int R = C / (D / 8), Col = C % (D / 8) * 8;
      int Key = Key0 + R;
      bool In = Key < SeqK;
      int64_t Src = int64_t(In ? Key : 0);
      cp_async16(
          uint32_t(__cvta_generic_to_shared(&Ks[Stage][R * S::Row + Col])),
          KBase + Src * KStride + Col, In ? 16 : 0);
      cp_async16(
          uint32_t(__cvta_generic_to_shared(&Vs[Stage][R * S::Row + Col])),
          VBase + Src * VStride + Col, In ? 16 : 0);
    }
    cp_async_commit();
  };
  // MaskKind 1: thread J < BK's mask value for key Key0 + J (-inf past the
  // end). The load for the next tile is issued with its K/V copies and
  // stored to MaskTile only after this tile's math, so no thread waits on
  // global memory in between.
  auto maskValue = [&](int Key0) {
    int Key = Key0 + Tid;
    return Tid < BK && Key < SeqK
               ? mask_log2(to_float(MaskBase[int64_t(Key) * MaskJ]))
               : neg_inf();
  };
  static_assert(MaskKind != 1 || BK <= S::Threads, "one mask value a thread");

  // Q fragments (A operand, row-major 16 x 16 per k-block) straight from
  // global memory; rows past the end are zeros and never stored.
  uint32_t QF[RT][D / 16][4];
#pragma unroll
  for (int R = 0; R < RT; ++R) {
    const int R0 = Q0 + 16 * R + G, R1 = R0 + 8;
    const T *Row0 = Q + (Rows.QFirst + R0) * QStride + int64_t(H) * D;
    const T *Row1 = Q + (Rows.QFirst + R1) * QStride + int64_t(H) * D;
#pragma unroll
    for (int Kb = 0; Kb < D / 16; ++Kb) {
      int Col = Kb * 16 + Tq * 2;
      QF[R][Kb][0] =
          R0 < SeqQ ? *reinterpret_cast<const uint32_t *>(Row0 + Col) : 0u;
      QF[R][Kb][1] =
          R1 < SeqQ ? *reinterpret_cast<const uint32_t *>(Row1 + Col) : 0u;
      QF[R][Kb][2] =
          R0 < SeqQ ? *reinterpret_cast<const uint32_t *>(Row0 + Col + 8) : 0u;
      QF[R][Kb][3] =
          R1 < SeqQ ? *reinterpret_cast<const uint32_t *>(Row1 + Col + 8) : 0u;
    }
  }

  float O[RT][DT][4];
#pragma unroll
  for (int R = 0; R < RT; ++R)
#pragma unroll
    for (int N = 0; N < DT; ++N)
      O[R][N][0] = O[R][N][1] = O[R][N][2] = O[R][N][3] = 0.0f;
  // Per row tile, the thread's two rows G and G + 8: their running max (log2
  // units) and their sums of P, which P times a column of ones accumulates
  // on the tensor cores (elements 0 and 2 of RowSum, rows G and G + 8; 1
  // and 3 are the same sums and unused).
  float RowMax[RT][2], RowSum[RT][4];
  const float ScaleLog2 = Scale * Log2e;
  // MaskKind 2 reads the mask per element; rows past the end reuse the last.
  int64_t MaskRow[RT][2];
#pragma unroll
  for (int R = 0; R < RT; ++R) {
    RowMax[R][0] = RowMax[R][1] = neg_inf();
    RowSum[R][0] = RowSum[R][1] = RowSum[R][2] = RowSum[R][3] = 0.0f;
    MaskRow[R][0] = int64_t(min(Q0 + 16 * R + G, SeqQ - 1)) * MaskI;
    MaskRow[R][1] = int64_t(min(Q0 + 16 * R + G + 8, SeqQ - 1)) * MaskI;
  }

  // ldmatrix lane addresses, as element offsets within a tile. K (x4): the
  // four 8x8 matrices are (keys +0..7, d +0..7), (keys +0..7, d +8..15),
  // (keys +8..15, d +0..7), (keys +8..15, d +8..15): B fragments of two key
  // blocks for one k16 block of d. V (x4.trans): (keys +0..7, d +0..7),
  // (keys +8..15, d +0..7), (keys +0..7, d +8..15), (keys +8..15, d +8..15):
  // B fragments of two d blocks for one k16 block of keys. Each fragment
  // serves every row tile of the warp.
  const int KLane = (Lane % 8 + (Lane / 16) * 8) * S::Row + (Lane / 8 % 2) * 8;
  const int VLane = (Lane % 8 + (Lane / 8 % 2) * 8) * S::Row + (Lane / 16) * 8;

  const int Tiles = (SeqK + BK - 1) / BK;
  if (Tiles > 0) {
    loadTile(0, 0);
    if constexpr (MaskKind == 1)
      if (Tid < BK)
        MaskTile[0][Tid] = maskValue(0);
  }
  for (int Tile = 0; Tile < Tiles; ++Tile) {
    const int Stage = Tile % 2, Key0 = Tile * BK;
    [[maybe_unused]] float NextMask = 0.0f;
    if (Tile + 1 < Tiles) {
      loadTile(Stage ^ 1, Key0 + BK);
      if constexpr (MaskKind == 1)
        NextMask = maskValue(Key0 + BK);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    const uint32_t KS = uint32_t(__cvta_generic_to_shared(&Ks[Stage][0]));
    const uint32_t VS = uint32_t(__cvta_generic_to_shared(&Vs[Stage][0]));

    attention_block<D, BK, RT, S::Row, T, M, MaskKind>(
        [&](uint32_t(&F)[RT][D / 16][4]) {
#pragma unroll
          for (int R = 0; R < RT; ++R)
#pragma unroll
            for (int Kb = 0; Kb < D / 16; ++Kb)
#pragma unroll
              for (int I = 0; I < 4; ++I)
                F[R][Kb][I] = QF[R][Kb][I];
        },
        KS, VS, KLane, VLane, Key0, SeqK, ScaleLog2, MaskTile[Stage], 0,
        MaskBase, MaskRow, MaskJ, Tq, O, RowMax, RowSum);
    if constexpr (MaskKind == 1)
      if (Tile + 1 < Tiles && Tid < BK)
        MaskTile[Stage ^ 1][Tid] = NextMask;
    // The next iteration's loadTile overwrites this stage.
    __syncthreads();
  }

#pragma unroll
  for (int R = 0; R < RT; ++R)
#pragma unroll
    for (int I = 0; I < 2; ++I) {
      const float L = RowSum[R][2 * I];
      const float Inv = L > 0.0f ? 1.0f / L : 0.0f;
      const int Row = Q0 + 16 * R + G + I * 8;
      if (Row >= SeqQ)
        continue;
      T *Dst = Out + (Rows.QFirst + Row) * HiddenOut + int64_t(H) * D + Tq * 2;
#pragma unroll
      for (int N = 0; N < DT; ++N)
        *reinterpret_cast<uint32_t *>(Dst + N * 8) =
            pack2<T>(O[R][N][2 * I] * Inv, O[R][N][2 * I + 1] * Inv);
    }
}

//===----------------------------------------------------------------------===//
// Short sequences: every key of the sequence in shared memory
//===----------------------------------------------------------------------===//

/// attention_short<D, Warps, MinBlocks, T, M, MaskKind>: attention_mma's
/// math for heads of at most 32 and sequences of at most ShortKeys keys
/// (the lowering sees to both). A CTA copies its 16 * Warps query rows and
/// every key and value of its (sequence, head) into shared memory in one
/// cp.async batch and waits once: one barrier a CTA instead of two a key
/// tile, Q through the same batch instead of scattered 4-byte loads, and
/// shared-memory offsets that do not change from tile to tile. The online
/// softmax then runs over 64-key chunks of what is resident (one or two),
/// and each warp writes its 16 rows through its own rows of Q's buffer, 16
/// bytes a lane. MaskKind as attention_mma's; kind 1 stages the mask once.
/// TwoBatches: Q and the first 64 keys are one cp.async batch and the rest
/// another, waited for (a second barrier) after the first chunk's math.
constexpr int ShortKeys = 128;

template <int D, int Warps> struct ShortShape {
  static_assert(D % 16 == 0 && D <= 32, "head_dim 16 or 32");
  static constexpr int Threads = Warps * 32, BQ = 16 * Warps;
  static constexpr int Chunk = 64;  // keys a pass of the online softmax
  static constexpr int Row = D + 8; // 16 bytes of padding, as attention_mma
  static constexpr int RowChunks = D / 8; // 16-byte copies a row
  static_assert(Threads % RowChunks == 0, "whole rows a pass");
  static constexpr int RowsAPass = Threads / RowChunks;
  static_assert(BQ % RowsAPass == 0 && ShortKeys % RowsAPass == 0,
                "whole passes over Q's rows and the keys");
};

template <int D, int Warps, int MinBlocks, typename T, typename M, int MaskKind,
          bool TwoBatches = false>
__global__ void __launch_bounds__(Warps * 32, MinBlocks)
    attention_short(const T *__restrict__ Q, const T *__restrict__ K,
                    const T *__restrict__ V, const M *__restrict__ Mask,
                    T *__restrict__ Out, int SeqQ, int SeqK, int Heads,
                    int64_t QStride, int64_t KStride, int64_t VStride,
                    int64_t KOff, int64_t VOff, int64_t MaskB, int64_t MaskH,
                    int64_t MaskI, int64_t MaskJ, float Scale) {
  wait_for_predecessor();
  using S = ShortShape<D, Warps>;
  static_assert(!TwoBatches || S::Chunk % S::RowsAPass == 0,
                "a batch ends where a chunk does");
  constexpr int DT = D / 8, Row = S::Row;
  __shared__ __align__(16) T Qs[S::BQ * Row];
  __shared__ __align__(16) T Ks[ShortKeys * Row];
  __shared__ __align__(16) T Vs[ShortKeys * Row];
  __shared__ float MaskS[MaskKind == 1 ? ShortKeys : 1];

  const int Tid = threadIdx.x, Warp = Tid / 32, Lane = Tid % 32;
  const int G = Lane / 4, Tq = Lane % 4;
  const int H = blockIdx.y, B = blockIdx.z;
  const AttentionRows Rows = attention_rows<MaskKind>(Mask, B, SeqQ, SeqK);
  SeqQ = Rows.SeqQ;
  SeqK = min(Rows.SeqK, ShortKeys); // never more: shared memory holds these
  const int QBase = blockIdx.x * S::BQ;
  if (QBase >= SeqQ)
    return; // past the end of a span: the whole CTA, before the barrier
  const int Chunks = (SeqK + S::Chunk - 1) / S::Chunk;
  const int KeyRows = Chunks * S::Chunk; // zeros past SeqK
  const M *MaskBase = Mask + int64_t(B) * MaskB + int64_t(H) * MaskH;

  // One batch: Q's rows (zeros past SeqQ), then K's and V's.
  {
    const int R0 = Tid / S::RowChunks, Col = Tid % S::RowChunks * 8;
    const T *QSrc = Q + (Rows.QFirst + QBase) * QStride + int64_t(H) * D + Col;
    const T *KSrc = K + Rows.KFirst * KStride + KOff + int64_t(H) * D + Col;
    const T *VSrc = V + Rows.KFirst * VStride + VOff + int64_t(H) * D + Col;
    const uint32_t QDst = uint32_t(__cvta_generic_to_shared(&Qs[Col])),
                   KDst = uint32_t(__cvta_generic_to_shared(&Ks[Col])),
                   VDst = uint32_t(__cvta_generic_to_shared(&Vs[Col]));
#pragma unroll
    for (int P = 0; P < S::BQ / S::RowsAPass; ++P) {
      const int R = R0 + P * S::RowsAPass;
      const bool In = QBase + R < SeqQ;
      cp_async16(QDst + 2 * R * Row, QSrc + int64_t(In ? R : 0) * QStride,
                 In ? 16 : 0);
    }
#pragma unroll
    for (int P = 0; P < ShortKeys / S::RowsAPass; ++P) {
      const int R = R0 + P * S::RowsAPass;
      if (R >= KeyRows)
        break;
      const bool In = R < SeqK;
      const int64_t Src = In ? R : 0;
      cp_async16(KDst + 2 * R * Row, KSrc + Src * KStride, In ? 16 : 0);
      cp_async16(VDst + 2 * R * Row, VSrc + Src * VStride, In ? 16 : 0);
      if (TwoBatches && (P + 1) * S::RowsAPass == S::Chunk)
        cp_async_commit();
    }
    cp_async_commit();
  }
  // Kind 1: the keys' mask values in log2 units, -inf past the end; the
  // loads overlap the copies in flight.
  if constexpr (MaskKind == 1) {
#pragma unroll
    for (int P = 0; P < (ShortKeys + S::Threads - 1) / S::Threads; ++P) {
      const int J = Tid + P * S::Threads;
      if (J < KeyRows)
        MaskS[J] = J < SeqK ? mask_log2(to_float(MaskBase[int64_t(J) * MaskJ]))
                            : neg_inf();
    }
  }
  if constexpr (TwoBatches)
    cp_async_wait<1>(); // Q and the first chunk's keys
  else
    cp_async_wait<0>();
  __syncthreads();

  const int QW = QBase + Warp * 16; // this warp's first query
  if (QW >= SeqQ) {
    if (TwoBatches && Chunks > 1) {
      cp_async_wait<0>(); // the second chunk's barrier, for the others
      __syncthreads();
    }
    return;
  }
  const uint32_t QS = uint32_t(__cvta_generic_to_shared(&Qs[0]));
  const uint32_t KS = uint32_t(__cvta_generic_to_shared(&Ks[0]));
  const uint32_t VS = uint32_t(__cvta_generic_to_shared(&Vs[0]));
  // Q's A fragments come from ldmatrix x4 (rows +0..7 and +8..15, d +0..7
  // and +8..15), again each chunk: 8 registers fewer across the loop.
  const uint32_t QLane =
      QS + 2 * ((Warp * 16 + Lane % 16) * Row + (Lane / 16) * 8);
  // As attention_mma: K (x4) gives B fragments of two key blocks, V
  // (x4.trans) of two d blocks.
  const int KLane = (Lane % 8 + (Lane / 16) * 8) * Row + (Lane / 8 % 2) * 8;
  const int VLane = (Lane % 8 + (Lane / 8 % 2) * 8) * Row + (Lane / 16) * 8;

  float O[1][DT][4], RowMax[1][2] = {{neg_inf(), neg_inf()}},
                     RowSum[1][4] = {{0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
  for (int N = 0; N < DT; ++N)
    O[0][N][0] = O[0][N][1] = O[0][N][2] = O[0][N][3] = 0.0f;
  const float ScaleLog2 = Scale * Log2e;
  const int64_t MaskRow[1][2] = {{int64_t(min(QW + G, SeqQ - 1)) * MaskI,
                                  int64_t(min(QW + G + 8, SeqQ - 1)) * MaskI}};

#pragma unroll 1
  for (int C = 0; C < Chunks; ++C) {
    if (TwoBatches && C == 1) {
      cp_async_wait<0>();
      __syncthreads();
    }
    const int Key0 = C * S::Chunk;
    attention_block<D, S::Chunk, 1, Row, T, M, MaskKind>(
        [&](uint32_t(&F)[1][D / 16][4]) {
#pragma unroll
          for (int Kb = 0; Kb < D / 16; ++Kb)
            ldmatrix_x4(F[0][Kb], QLane + 2 * Kb * 16);
        },
        KS + 2 * Key0 * Row, VS + 2 * Key0 * Row, KLane, VLane, Key0, SeqK,
        ScaleLog2, MaskS, Key0, MaskBase, MaskRow, MaskJ, Tq, O, RowMax,
        RowSum);
  }

  // O / l rounded to T into this warp's rows of Qs (its Q is in registers
  // now), then 16-byte stores of the rows that exist.
  T *Stage = &Qs[Warp * 16 * Row];
  __syncwarp();
#pragma unroll
  for (int I = 0; I < 2; ++I) {
    const float L = RowSum[0][2 * I];
    const float Inv = L > 0.0f ? 1.0f / L : 0.0f;
#pragma unroll
    for (int N = 0; N < DT; ++N)
      *reinterpret_cast<uint32_t *>(
          &Stage[(G + 8 * I) * Row + N * 8 + Tq * 2]) =
          pack2<T>(O[0][N][2 * I] * Inv, O[0][N][2 * I + 1] * Inv);
  }
  __syncwarp();
  const int64_t HiddenOut = int64_t(Heads) * D;
  T *Dst = Out + (Rows.QFirst + QW) * HiddenOut + int64_t(H) * D;
#pragma unroll
  for (int I = Lane; I < 16 * S::RowChunks; I += 32) {
    const int R = I / S::RowChunks, Col = I % S::RowChunks * 8;
    if (QW + R < SeqQ)
      *reinterpret_cast<uint4 *>(Dst + R * HiddenOut + Col) =
          *reinterpret_cast<const uint4 *>(&Stage[R * Row + Col]);
  }
}

//===----------------------------------------------------------------------===//
// SIMT kernel
//===----------------------------------------------------------------------===//

template <int D> struct SimtShape {
  static_assert(D >= 1 && D <= 128, "head_dim <= 128");
  static constexpr int Warps = 4, RowsPerWarp = 4;
  static constexpr int Threads = Warps * 32;
  static constexpr int BQ = Warps * RowsPerWarp;
  static constexpr int BK = 32;
  /// Output columns per lane.
  static constexpr int Cols = (D + 31) / 32;
  /// K rows in shared memory: an odd stride, so lane j reading row j hits
  /// bank (j * KRow + d) % 32, distinct across the warp.
  static constexpr int KRow = D % 2 ? D : D + 1;
};

template <int D, typename T, typename M, int MaskKind>
__global__ void __launch_bounds__(128)
    attention_simt(const T *__restrict__ Q, const T *__restrict__ K,
                   const T *__restrict__ V, const M *__restrict__ Mask,
                   T *__restrict__ Out, int SeqQ, int SeqK, int Heads,
                   int64_t QStride, int64_t KStride, int64_t VStride,
                   int64_t KOff, int64_t VOff, int64_t MaskB, int64_t MaskH,
                   int64_t MaskI, int64_t MaskJ, float Scale) {
  wait_for_predecessor();
  using S = SimtShape<D>;
  constexpr int R = S::RowsPerWarp;
  __shared__ float Qs[S::BQ][D];
  __shared__ float Ks[S::BK][S::KRow];
  __shared__ float Vs[S::BK][D];

  const int Tid = threadIdx.x, Warp = Tid / 32, Lane = Tid % 32;
  static_assert(MaskKind == 0 || MaskKind == 2 || MaskKind == 3,
                "attention_simt: no mask, a mask read per element, or spans");
  const int H = blockIdx.y, B = blockIdx.z;
  const AttentionRows Rows = attention_rows<MaskKind>(Mask, B, SeqQ, SeqK);
  SeqQ = Rows.SeqQ;
  SeqK = Rows.SeqK;
  const int Q0 = blockIdx.x * S::BQ;
  if (Q0 >= SeqQ)
    return; // past the end of a span: the whole CTA, before any barrier
  const T *KBase = K + Rows.KFirst * KStride + KOff + int64_t(H) * D;
  const T *VBase = V + Rows.KFirst * VStride + VOff + int64_t(H) * D;
  const M *MaskBase = Mask + int64_t(B) * MaskB + int64_t(H) * MaskH;

  for (int E = Tid; E < S::BQ * D; E += S::Threads) {
    int Row = E / D, Col = E % D;
    int I = Q0 + Row;
    Qs[Row][Col] =
        I < SeqQ
            ? to_float(Q[(Rows.QFirst + I) * QStride + int64_t(H) * D + Col])
            : 0.0f;
  }

  float O[R][S::Cols];
  float RowMax[R], RowSum[R];
#pragma unroll
  for (int Ri = 0; Ri < R; ++Ri) {
    RowMax[Ri] = neg_inf();
    RowSum[Ri] = 0.0f;
#pragma unroll
    for (int C = 0; C < S::Cols; ++C)
      O[Ri][C] = 0.0f;
  }

  for (int Key0 = 0; Key0 < SeqK; Key0 += S::BK) {
    __syncthreads(); // the previous tile is consumed (and Qs is written)
    for (int E = Tid; E < S::BK * D; E += S::Threads) {
      int Row = E / D, Col = E % D;
      int J = Key0 + Row;
      bool In = J < SeqK;
      Ks[Row][Col] = In ? to_float(KBase[int64_t(J) * KStride + Col]) : 0.0f;
      Vs[Row][Col] = In ? to_float(VBase[int64_t(J) * VStride + Col]) : 0.0f;
    }
    __syncthreads();

    const int J = Key0 + Lane;
    float X[R];
#pragma unroll
    for (int Ri = 0; Ri < R; ++Ri)
      X[Ri] = 0.0f;
#pragma unroll 8
    for (int Dd = 0; Dd < D; ++Dd) {
      float Kv = Ks[Lane][Dd];
#pragma unroll
      for (int Ri = 0; Ri < R; ++Ri)
        X[Ri] += Qs[Warp * R + Ri][Dd] * Kv;
    }
#pragma unroll
    for (int Ri = 0; Ri < R; ++Ri) {
      int I = min(Q0 + Warp * R + Ri, SeqQ - 1);
      float Xv = X[Ri] * Scale;
      if constexpr (MaskKind == 2)
        if (J < SeqK)
          Xv += to_float(MaskBase[int64_t(I) * MaskI + int64_t(J) * MaskJ]);
      if (J >= SeqK)
        Xv = neg_inf();
      float NewMax = fmaxf(RowMax[Ri], warp_max(Xv));
      float Base = softmax_base(NewMax);
      float Alpha = exp2f((RowMax[Ri] - Base) * Log2e);
      float P = exp2f((Xv - Base) * Log2e);
      RowMax[Ri] = NewMax;
      RowSum[Ri] = RowSum[Ri] * Alpha + warp_sum(P);
#pragma unroll
      for (int C = 0; C < S::Cols; ++C)
        O[Ri][C] *= Alpha;
      X[Ri] = P;
    }
    const int Keys = min(S::BK, SeqK - Key0);
    for (int Jj = 0; Jj < Keys; ++Jj) {
#pragma unroll
      for (int Ri = 0; Ri < R; ++Ri) {
        float P = __shfl_sync(0xffffffffu, X[Ri], Jj);
#pragma unroll
        for (int C = 0; C < S::Cols; ++C)
          if (Lane + 32 * C < D)
            O[Ri][C] += P * Vs[Jj][Lane + 32 * C];
      }
    }
  }

#pragma unroll
  for (int Ri = 0; Ri < R; ++Ri) {
    int I = Q0 + Warp * R + Ri;
    if (I >= SeqQ)
      continue;
    float Inv = RowSum[Ri] > 0.0f ? 1.0f / RowSum[Ri] : 0.0f;
    T *Dst = Out + (Rows.QFirst + I) * (int64_t(Heads) * D) + int64_t(H) * D;
#pragma unroll
    for (int C = 0; C < S::Cols; ++C)
      if (Lane + 32 * C < D)
        Dst[Lane + 32 * C] = from_float<T>(O[Ri][C] * Inv);
  }
}

} // namespace kiln
