//===- GatherKernels.cpp - the gather.cuh rules -----------------------------===//
#include "codegen/GenericKernels.h"

namespace kiln::generic {

namespace {

llvm::Expected<std::string> indexType(const Node &N, unsigned I) {
  DType T = N.operand(I)->dtype();
  if (!isInteger(T))
    return makeError(N.describe() + ": indices must be integers");
  return cudaTypeName(T).str();
}

llvm::Expected<NodeLowering> lowerGather(const Node &N, const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Data->size()));
  if (!Axis)
    return Axis.takeError();
  llvm::ArrayRef<int64_t> D = *Data;
  int64_t Outer = product(D.take_front(*Axis)), Size = D[*Axis];
  int64_t Inner = product(D.drop_front(*Axis + 1));
  int64_t Picks = product(*Indices);
  int64_t Count = Outer * Picks * Inner;
  if (Count == 0)
    return NodeLowering();
  return single(launch(
      "gather.cuh",
      instance("gather", {storageType(N.operand(0)->dtype()), *Idx, lit(Outer),
                          lit(Size), lit(Picks), lit(Inner)}),
      Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0),
       LaunchArg::indexFault(),
       LaunchArg::indexCheck("axis " + std::to_string(*Axis))}));
}

llvm::Expected<NodeLowering> lowerGatherElements(const Node &N,
                                                 const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  if (Data->size() != Indices->size() || Data->empty())
    return makeError(N.describe() + ": data and indices differ in rank");
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Data->size()));
  if (!Axis)
    return Axis.takeError();
  int64_t Count = product(*Indices);
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(*Data);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()), *Idx,
                                   std::to_string(*Axis), lit((*Data)[*Axis])};
  for (size_t D = 0; D < Data->size(); ++D)
    Args.insert(Args.end(), {lit((*Indices)[D]), lit(Strides[D])});
  return single(launch(
      "gather.cuh", instance("gather_elements", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

/// GatherElements(data, Expand(indices, shape)) reading the small indices
/// through broadcast strides instead of an expanded copy.
llvm::Expected<NodeLowering> lowerExpandGatherElements(const Node &N,
                                                       const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Out = sizesOf(N, N.result(0));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Out || !Idx)
    return joinErrors(
        joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                   Out.takeError()),
        Idx.takeError());
  if (Data->size() != Out->size() || Data->empty() ||
      Indices->size() > Out->size())
    return makeError(N.describe() + ": data and indices differ in rank");
  auto Axis = axisOf(N, N.getInt("axis", 0), int64_t(Data->size()));
  if (!Axis)
    return Axis.takeError();
  int64_t Count = product(*Out);
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(*Data);
  std::vector<int64_t> IdxStrides = broadcastStrides(*Indices, *Out);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()), *Idx,
                                   std::to_string(*Axis), lit((*Data)[*Axis])};
  for (size_t D = 0; D < Data->size(); ++D)
    Args.insert(Args.end(),
                {lit((*Out)[D]), lit(Strides[D]), lit(IdxStrides[D])});
  return single(launch(
      "gather.cuh", instance("gather_elements_bcast", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerGatherND(const Node &N, const TargetInfo &) {
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  int64_t Batch = N.getInt("batch_dims", 0);
  int64_t R = int64_t(Data->size()), Q = int64_t(Indices->size());
  int64_t K = Q ? Indices->back() : 0;
  if (Q < 1 || Batch < 0 || Batch >= std::min(R, Q) || K < 1 || K > R - Batch)
    return makeError(N.describe() + ": indices do not fit the data");
  llvm::ArrayRef<int64_t> D = *Data;
  int64_t Batches = product(D.take_front(Batch));
  int64_t PerBatch =
      product(llvm::ArrayRef(*Indices).slice(Batch, Q - 1 - Batch));
  int64_t SliceElems = product(D.drop_front(Batch + K));
  int64_t BatchStride = product(D.drop_front(Batch));
  int64_t Count = Batches * PerBatch * SliceElems;
  if (Count == 0)
    return NodeLowering();
  std::vector<int64_t> Strides = stridesOf(D);
  std::vector<std::string> Args = {storageType(N.operand(0)->dtype()),
                                   *Idx,
                                   lit(Batches),
                                   lit(PerBatch),
                                   lit(SliceElems),
                                   lit(BatchStride)};
  for (int64_t J = 0; J < K; ++J)
    Args.insert(Args.end(), {lit(D[Batch + J]), lit(Strides[Batch + J])});
  return single(launch(
      "gather.cuh", instance("gather_nd", Args), Count,
      {LaunchArg::operand(0), LaunchArg::operand(1), LaunchArg::result(0)}));
}

llvm::Expected<NodeLowering> lowerScatterND(const Node &N, const TargetInfo &) {
  if (N.getString("reduction", "none") != "none")
    return makeError(N.describe() + ": unsupported ScatterND reduction '" +
                     N.getString("reduction", "none") + "'");
  auto Data = sizesOf(N, N.operand(0));
  auto Indices = sizesOf(N, N.operand(1));
  auto Idx = indexType(N, 1);
  if (!Data || !Indices || !Idx)
    return joinErrors(joinErrors(Data.takeError(), Indices.takeError()),
                      Idx.takeError());
  int64_t K = Indices->empty() ? -1 : Indices->back();
  if (K < 0 || K > int64_t(Data->size()))
    return makeError(N.describe() + ": indices do not fit the data");
  DType T = N.operand(0)->dtype();
  NodeLowering L =
      single(gatherCopy(T, *Data, stridesOf(*Data), 0, LaunchArg::operand(0),
                        LaunchArg::result(0)));
  int64_t Tuples = product(llvm::ArrayRef(*Indices).drop_back());
  int64_t SliceElems = product(llvm::ArrayRef(*Data).drop_front(K));
  if (Tuples * SliceElems == 0)
    return L;
  std::vector<int64_t> Strides = stridesOf(*Data);
  std::vector<std::string> Args = {storageType(T), *Idx, lit(Tuples),
                                   lit(SliceElems)};
  for (int64_t J = 0; J < K; ++J)
    Args.insert(Args.end(), {lit((*Data)[J]), lit(Strides[J])});
  L.Launches.push_back(launch(
      "gather.cuh", instance("scatter_nd", Args), Tuples * SliceElems,
      {LaunchArg::operand(1), LaunchArg::operand(2), LaunchArg::result(0)}));
  return L;
}

/// NonZero with a static result [rank, count]: one block (gather.cuh).
llvm::Expected<NodeLowering> lowerNonZero(const Node &N, const TargetInfo &) {
  auto In = sizesOf(N, N.operand(0));
  auto Out = sizesOf(N, N.result(0));
  if (!In || !Out)
    return joinErrors(In.takeError(), Out.takeError());
  int64_t Count = (*Out)[1];
  if (Count == 0 || product(*In) == 0 || In->empty())
    return NodeLowering();
  std::vector<std::string> Args = {elementType(N.operand(0)->dtype()),
                                   lit(Count)};
  for (int64_t D : *In)
    Args.push_back(lit(D));
  KernelLaunch L;
  L.Module = "gather.cuh";
  L.NameExpr = instance("nonzero", Args);
  L.Block[0] = 1024; // gather.cuh's NonZeroThreads
  L.Args = {LaunchArg::operand(0), LaunchArg::result(0)};
  return single(std::move(L));
}

} // namespace

void registerGatherKernels(KernelRegistry &R) {
  R.add("Gather", lowerGather);
  R.add("GatherElements", lowerGatherElements);
  R.add("ExpandGatherElements", lowerExpandGatherElements);
  R.add("GatherND", lowerGatherND);
  R.add("ScatterND", lowerScatterND);
  R.add("NonZero", lowerNonZero);
}

} // namespace kiln::generic
