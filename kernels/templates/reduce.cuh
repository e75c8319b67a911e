// reduce.cuh - reductions: ReduceX over any axes, ArgMax/ArgMin, CumSum.
//
// T is the element type, A the accumulator: double for floating-point
// inputs and for the kinds whose result is real (mean, L2, log-sums), as the
// reference accumulates; long long (wrapping) for integer sums, products
// and extrema. Dims lists (size, input stride) of the kept dims, outermost
// first, then of the reduced dims: the reduced elements of one output need
// not be contiguous.
//
//   reduce_block   one block of ReduceThreads per output: long reductions
//   reduce_thread  one thread per output: short ones over many outputs
//   arg_reduce     one thread per (outer, inner) position
//   cumsum         one thread per (outer, inner) position, sequential
//   matmul         one thread per output: MatMuls cuBLASLt does not take
//                  (f64 and integer types, partially broadcast batches)
#pragma once

#include "numeric.cuh"

namespace kiln {

constexpr int ReduceThreads = 256;

enum ReduceKind {
  ReduceSum,
  ReduceMean,
  ReduceMax,
  ReduceMin,
  ReduceProd,
  ReduceL1,
  ReduceL2,
  ReduceSumSquare,
  ReduceLogSum,
  ReduceLogSumExp
};

__device__ __forceinline__ double add_acc(double A, double B) { return A + B; }
__device__ __forceinline__ long long add_acc(long long A, long long B) {
  return wrap_add(A, B);
}
__device__ __forceinline__ double mul_acc(double A, double B) { return A * B; }
__device__ __forceinline__ long long mul_acc(long long A, long long B) {
  return wrap_mul(A, B);
}

/// Folds X into the accumulator; NaN wins max and min, as in numpy.
template <int Kind, typename A> struct Fold {
  __device__ __forceinline__ A operator()(A Acc, A X) const {
    switch (Kind) {
    case ReduceMax: return X > Acc || X != X ? X : Acc;
    case ReduceMin: return X < Acc || X != X ? X : Acc;
    case ReduceProd: return mul_acc(Acc, X);
    case ReduceL1: return add_acc(Acc, X < A(0) ? mul_acc(X, A(-1)) : X);
    case ReduceL2:
    case ReduceSumSquare: return add_acc(Acc, mul_acc(X, X));
    default: return add_acc(Acc, X);
    }
  }
};

/// How two partial results combine: like Fold, except that squares and
/// absolute values were taken already.
template <int Kind, typename A> struct Merge {
  __device__ __forceinline__ A operator()(A Acc, A X) const {
    switch (Kind) {
    case ReduceMax:
    case ReduceMin:
    case ReduceProd:
    case ReduceLogSumExp: return Fold<Kind, A>()(Acc, X);
    default: return add_acc(Acc, X);
    }
  }
};

template <int Kind, typename T, typename A> __device__ A reduce_seed() {
  switch (Kind) {
  case ReduceMax:
  case ReduceLogSumExp: return A(Limits<T>::lowest());
  case ReduceMin: return A(Limits<T>::highest());
  case ReduceProd: return A(1);
  default: return A(0);
  }
}

/// The product of the sizes of dims [From, To) of a (size, stride) list.
template <long long... Dims>
__host__ __device__ constexpr long long dims_product(int From, int To) {
  constexpr long long D[] = {Dims..., 0};
  long long P = 1;
  for (int K = From; K < To; ++K)
    P *= D[2 * K];
  return P;
}

/// The offsets of output O's first input and of reduced element R.
template <int KeptRank, long long... Dims> struct ReduceIndex {
  static constexpr int Rank = sizeof...(Dims) / 2;
  static constexpr long long Outputs = dims_product<Dims...>(0, KeptRank);
  static constexpr long long Reduced = dims_product<Dims...>(KeptRank, Rank);

  static __device__ __forceinline__ long long offset(long long I, int From,
                                                     int To) {
    constexpr long long D[] = {Dims..., 0};
    long long At = 0;
#pragma unroll
    for (int K = To - 1; K >= From; --K) {
      long long C = I % D[2 * K];
      I /= D[2 * K];
      At += C * D[2 * K + 1];
    }
    return At;
  }
  static __device__ __forceinline__ long long output(long long O) {
    return offset(O, 0, KeptRank);
  }
  static __device__ __forceinline__ long long reduced(long long R) {
    return offset(R, KeptRank, Rank);
  }
};

/// The result from the folded accumulator (and, for LogSumExp, the max).
template <int Kind, typename A>
__device__ __forceinline__ A reduce_finish(A Acc, A Max, long long Count) {
  switch (Kind) {
  case ReduceMean: return Acc / A(Count);
  case ReduceL2: return A(sqrt(double(Acc)));
  case ReduceLogSum: return A(log(double(Acc)));
  case ReduceLogSumExp:
    return isinf(double(Max)) ? Max : A(double(Max) + log(double(Acc)));
  default: return Acc;
  }
}

template <int Kind, typename T, typename A, int KeptRank, long long... Dims>
__global__ void __launch_bounds__(ReduceThreads)
    reduce_block(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  using Ix = ReduceIndex<KeptRank, Dims...>;
  const T *Base = In + Ix::output(blockIdx.x);
  A Max = A(0);
  if (Kind == ReduceLogSumExp) {
    A M = reduce_seed<ReduceMax, T, A>();
    for (long long R = threadIdx.x; R < Ix::Reduced; R += ReduceThreads)
      M = Fold<ReduceMax, A>()(M, load_as<A>(Base[Ix::reduced(R)]));
    Max = block_reduce<ReduceThreads>(M, Merge<ReduceMax, A>());
  }
  A Acc = Kind == ReduceLogSumExp ? A(0) : reduce_seed<Kind, T, A>();
  for (long long R = threadIdx.x; R < Ix::Reduced; R += ReduceThreads) {
    A X = load_as<A>(Base[Ix::reduced(R)]);
    if (Kind == ReduceLogSumExp)
      Acc += isinf(double(Max)) ? A(0) : A(exp(double(X - Max)));
    else
      Acc = Fold<Kind, A>()(Acc, X);
  }
  Acc = block_reduce<ReduceThreads>(
      Acc, Merge<Kind == ReduceLogSumExp ? ReduceSum : Kind, A>());
  if (threadIdx.x == 0)
    Out[blockIdx.x] =
        Store<T>::from(reduce_finish<Kind>(Acc, Max, Ix::Reduced));
}

template <int Kind, typename T, typename A, int KeptRank, long long... Dims>
__global__ void __launch_bounds__(ReduceThreads)
    reduce_thread(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  using Ix = ReduceIndex<KeptRank, Dims...>;
  long long O = (long long)blockIdx.x * ReduceThreads + threadIdx.x;
  if (O >= Ix::Outputs)
    return;
  const T *Base = In + Ix::output(O);
  A Max = A(0);
  if (Kind == ReduceLogSumExp) {
    Max = reduce_seed<ReduceMax, T, A>();
    for (long long R = 0; R < Ix::Reduced; ++R)
      Max = Fold<ReduceMax, A>()(Max, load_as<A>(Base[Ix::reduced(R)]));
  }
  A Acc = Kind == ReduceLogSumExp ? A(0) : reduce_seed<Kind, T, A>();
  for (long long R = 0; R < Ix::Reduced; ++R) {
    A X = load_as<A>(Base[Ix::reduced(R)]);
    if (Kind == ReduceLogSumExp)
      Acc += isinf(double(Max)) ? A(0) : A(exp(double(X - Max)));
    else
      Acc = Fold<Kind, A>()(Acc, X);
  }
  Out[O] = Store<T>::from(reduce_finish<Kind>(Acc, Max, Ix::Reduced));
}

/// Whether V replaces Best as the extremum: the first NaN wins, or the last
/// one with Last (select_last_index), as in the reference.
template <bool IsMax, bool Last, typename A>
__device__ __forceinline__ bool replaces(A V, A Best) {
  bool VNaN = V != V, BestNaN = Best != Best;
  if (Last ? VNaN : BestNaN)
    return Last;
  if (Last ? BestNaN : VNaN)
    return !Last;
  if (V == Best)
    return Last;
  return IsMax ? V > Best : V < Best;
}

/// Input viewed as [Outer, N, Inner]; Out[o, i] is the k of the extremum.
template <typename T, typename A, bool IsMax, bool Last, long long Outer,
          long long N, long long Inner>
__global__ void __launch_bounds__(ReduceThreads)
    arg_reduce(const T *__restrict__ In, long long *__restrict__ Out) {
  wait_for_predecessor();
  long long I = (long long)blockIdx.x * ReduceThreads + threadIdx.x;
  if (I >= Outer * Inner)
    return;
  const T *Row = In + I / Inner * N * Inner + I % Inner;
  A Best = load_as<A>(Row[0]);
  long long BestK = 0;
  for (long long K = 1; K < N; ++K) {
    A V = load_as<A>(Row[K * Inner]);
    if (replaces<IsMax, Last>(V, Best)) {
      Best = V;
      BestK = K;
    }
  }
  Out[I] = BestK;
}

__device__ __forceinline__ float add_cum(float A, float B) { return A + B; }
__device__ __forceinline__ double add_cum(double A, double B) { return A + B; }
__device__ __forceinline__ long long add_cum(long long A, long long B) {
  return wrap_add(A, B);
}

/// Input viewed as [Outer, N, Inner]; sums along N in the compute type C,
/// in order, as the reference does.
template <typename T, typename C, bool Exclusive, bool Reverse, long long Outer,
          long long N, long long Inner>
__global__ void __launch_bounds__(ReduceThreads)
    cumsum(const T *__restrict__ In, T *__restrict__ Out) {
  wait_for_predecessor();
  long long I = (long long)blockIdx.x * ReduceThreads + threadIdx.x;
  if (I >= Outer * Inner)
    return;
  long long Base = I / Inner * N * Inner + I % Inner;
  C Acc = C(0);
  for (long long Step = 0; Step < N; ++Step) {
    long long At = Base + (Reverse ? N - 1 - Step : Step) * Inner;
    C X = load_as<C>(In[At]);
    if (Exclusive)
      Out[At] = Store<T>::from(Acc);
    Acc = add_cum(Acc, X);
    if (!Exclusive)
      Out[At] = Store<T>::from(Acc);
  }
}

__device__ __forceinline__ float mul_term(float A, float B) { return A * B; }
__device__ __forceinline__ double mul_term(double A, double B) { return A * B; }
__device__ __forceinline__ long long mul_term(long long A, long long B) {
  return wrap_mul(A, B);
}

/// Out[b, m, n] = sum_k A[b, m, k] * B[b, k, n] in the compute type C, over
/// an output of batch dims Batch (size, A stride, B stride per dim,
/// outermost first; a broadcast dim has stride 0).
template <typename T, typename C, long long M, long long K, long long N,
          long long... Batch>
__global__ void __launch_bounds__(ReduceThreads)
    matmul(const T *__restrict__ A, const T *__restrict__ B,
           T *__restrict__ Out) {
  wait_for_predecessor();
  constexpr int Rank = sizeof...(Batch) / 3;
  constexpr long long D[] = {Batch..., 0};
  long long Count = M * N;
#pragma unroll
  for (int Dim = 0; Dim < Rank; ++Dim)
    Count *= D[3 * Dim];
  long long I = (long long)blockIdx.x * ReduceThreads + threadIdx.x;
  if (I >= Count)
    return;
  long long Col = I % N, Row = I / N % M, Rest = I / (M * N);
  long long AAt = Row * K, BAt = Col;
#pragma unroll
  for (int Dim = Rank - 1; Dim >= 0; --Dim) {
    long long Coord = Rest % D[3 * Dim];
    Rest /= D[3 * Dim];
    AAt += Coord * D[3 * Dim + 1];
    BAt += Coord * D[3 * Dim + 2];
  }
  C Acc = C(0);
  for (long long Step = 0; Step < K; ++Step)
    Acc = add_cum(Acc, mul_term(load_as<C>(A[AAt + Step]),
                                load_as<C>(B[BAt + Step * N])));
  Out[I] = Store<T>::from(Acc);
}

} // namespace kiln
