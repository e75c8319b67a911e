// gather.cuh - indexing ops: Gather, GatherElements, GatherND, ScatterND,
// NonZero.
//
// T is the element's storage of its size (uint8_t ... uint64_t), Idx the
// index dtype. Negative indices count from the back, as in ONNX. The
// reference rejects an index out of range; a kernel cannot stop, so it
// writes zero (gathers) or skips the update (scatter) instead of touching
// memory outside the tensor, and Gather reports the index to `Fault`
// (common.cuh) when it comes from a graph input the runtime checks. One thread per output element, except NonZero (one
// block, below).
#pragma once

#include "copy.cuh"

namespace kiln {

/// Index P into a dim of Size made non-negative; -1 when out of range.
template <typename Idx>
__device__ __forceinline__ long long checked_index(Idx P, long long Size) {
  long long I = (long long)P;
  if (I < 0)
    I += Size;
  return I >= 0 && I < Size ? I : -1;
}

/// Data viewed as [Outer, Size, Inner], the result as [Outer, Picks,
/// Inner]: Out[o, j, k] = Data[o, Indices[j], k].
template <typename T, typename Idx, long long Outer, long long Size,
          long long Picks, long long Inner>
__global__ void __launch_bounds__(CopyThreads)
    gather(const T *__restrict__ Data, const Idx *__restrict__ Indices,
           T *__restrict__ Out, IndexFault *Fault, int Check) {
  wait_for_predecessor();
  long long I = global_thread();
  if (I >= Outer * Picks * Inner)
    return;
  long long K = I % Inner, J = (I / Inner) % Picks, O = I / (Inner * Picks);
  long long P = checked_index(Indices[J], Size);
  if (P < 0 && K == 0 && O == 0)
    report_index_fault(Fault, Check, (long long)Indices[J]);
  Out[I] = P < 0 ? T(0) : Data[(O * Size + P) * Inner + K];
}

/// Out[c] = Data[c with c[Axis] replaced by Indices[c]]; Dims lists (index
/// size, data stride) per dim, outermost first.
template <typename T, typename Idx, int Axis, long long AxisSize,
          long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    gather_elements(const T *__restrict__ Data, const Idx *__restrict__ Indices,
                    T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr int Rank = sizeof...(Dims) / 2;
  constexpr long long D[] = {Dims..., 0};
  constexpr long long Count = product_of<Rank, 2>(D);
  long long I = global_thread();
  if (I >= Count)
    return;
  long long P = checked_index(Indices[I], AxisSize);
  long long Rest = I, At = 0;
#pragma unroll
  for (int K = Rank - 1; K >= 0; --K) {
    long long C = Rest % D[2 * K];
    Rest /= D[2 * K];
    At += (K == Axis ? P : C) * D[2 * K + 1];
  }
  Out[I] = P < 0 ? T(0) : Data[At];
}

/// gather_elements with the indices broadcast to the result's shape
/// (ExpandGatherElements): Dims lists (result size, data stride, index
/// stride) per dim, outermost first; an index stride is 0 along a dim the
/// indices broadcast over, so no expanded index is ever stored.
template <typename T, typename Idx, int Axis, long long AxisSize,
          long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    gather_elements_bcast(const T *__restrict__ Data,
                          const Idx *__restrict__ Indices,
                          T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr int Rank = sizeof...(Dims) / 3;
  constexpr long long D[] = {Dims..., 0};
  constexpr long long Count = product_of<Rank, 3>(D);
  long long I = global_thread();
  if (I >= Count)
    return;
  long long Rest = I, Pick = 0;
#pragma unroll
  for (int K = Rank - 1; K >= 0; --K) {
    Pick += (Rest % D[3 * K]) * D[3 * K + 2];
    Rest /= D[3 * K];
  }
  long long P = checked_index(Indices[Pick], AxisSize);
  long long At = 0;
  Rest = I;
#pragma unroll
  for (int K = Rank - 1; K >= 0; --K) {
    long long C = Rest % D[3 * K];
    Rest /= D[3 * K];
    At += (K == Axis ? P : C) * D[3 * K + 1];
  }
  Out[I] = P < 0 ? T(0) : Data[At];
}

/// The offset the index tuple at Tuple selects; Dims lists (size, stride)
/// of the indexed data dims. -1 when an index is out of range.
template <typename Idx, long long... Dims>
__device__ __forceinline__ long long
tuple_offset(const Idx *__restrict__ Tuple) {
  constexpr int K = sizeof...(Dims) / 2;
  constexpr long long D[] = {Dims..., 0};
  long long At = 0;
  bool Inside = true;
#pragma unroll
  for (int J = 0; J < K; ++J) {
    long long P = checked_index(Tuple[J], D[2 * J]);
    Inside = Inside && P >= 0;
    At += P * D[2 * J + 1];
  }
  return Inside ? At : -1;
}

/// GatherND: the result is [Batches, PerBatch, SliceElems]; each index
/// tuple (of sizeof...(Dims) / 2 entries) selects a slice of SliceElems
/// elements in its batch of BatchStride elements.
template <typename T, typename Idx, long long Batches, long long PerBatch,
          long long SliceElems, long long BatchStride, long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    gather_nd(const T *__restrict__ Data, const Idx *__restrict__ Indices,
              T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr long long K = sizeof...(Dims) / 2;
  long long I = global_thread();
  if (I >= Batches * PerBatch * SliceElems)
    return;
  long long E = I % SliceElems, Tuple = I / SliceElems;
  long long B = Tuple / PerBatch;
  long long At = tuple_offset<Idx, Dims...>(Indices + Tuple * K);
  Out[I] = At < 0 ? T(0) : Data[B * BatchStride + At + E];
}

/// ScatterND's second step (the first copies data to Out): slice n of
/// Updates (SliceElems elements) goes where index tuple n points.
template <typename T, typename Idx, long long Tuples, long long SliceElems,
          long long... Dims>
__global__ void __launch_bounds__(CopyThreads)
    scatter_nd(const Idx *__restrict__ Indices, const T *__restrict__ Updates,
               T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr long long K = sizeof...(Dims) / 2;
  long long I = global_thread();
  if (I >= Tuples * SliceElems)
    return;
  long long At = tuple_offset<Idx, Dims...>(Indices + I / SliceElems * K);
  if (At >= 0)
    Out[At + I % SliceElems] = Updates[I];
}

constexpr int NonZeroThreads = 1024;

/// NonZero once its count is known (the node's `count`, which
/// DataDependentRunner reads back per request): Out[d * Count + k] is
/// coordinate d of the k-th nonzero element of In (T as stored, any dtype),
/// in row-major order; Dims are In's sizes. One block walks In in chunks of
/// NonZeroThreads, ranks each chunk's nonzeros with a ballot and a scan of
/// the warp totals, and carries the running count; no write goes past
/// Count.
template <typename T, long long Count, long long... Dims>
__global__ void __launch_bounds__(NonZeroThreads)
    nonzero(const T *__restrict__ In, long long *__restrict__ Out) {
  wait_for_predecessor();
  constexpr int Rank = sizeof...(Dims);
  constexpr long long D[] = {Dims..., 1};
  constexpr long long Total = product_of<Rank, 1>(D);
  constexpr int Warps = NonZeroThreads / 32;
  __shared__ int WarpBase[Warps];
  __shared__ int ChunkCount;
  const int Lane = threadIdx.x % 32, Warp = threadIdx.x / 32;
  long long Base = 0;
  for (long long Start = 0; Start < Total; Start += NonZeroThreads) {
    long long I = Start + threadIdx.x;
    bool Flag = I < Total && load_as<double>(In[I]) != 0.0;
    unsigned Ballot = __ballot_sync(0xffffffffu, Flag);
    if (Lane == 0)
      WarpBase[Warp] = __popc(Ballot);
    __syncthreads();
    if (Warp == 0) {
      // Exclusive scan of the warp totals.
      int Own = WarpBase[Lane], Sum = Own;
#pragma unroll
      for (int Step = 1; Step < 32; Step *= 2) {
        int Up = __shfl_up_sync(0xffffffffu, Sum, Step);
        if (Lane >= Step)
          Sum += Up;
      }
      WarpBase[Lane] = Sum - Own;
      if (Lane == 31)
        ChunkCount = Sum;
    }
    __syncthreads();
    long long At = Base + WarpBase[Warp] + __popc(Ballot & ((1u << Lane) - 1));
    if (Flag && At < Count) {
      long long Rest = I;
#pragma unroll
      for (int K = Rank - 1; K >= 0; --K) {
        Out[K * Count + At] = Rest % D[K];
        Rest /= D[K];
      }
    }
    Base += ChunkCount;
    __syncthreads(); // WarpBase and ChunkCount are rewritten next chunk
  }
}

} // namespace kiln
