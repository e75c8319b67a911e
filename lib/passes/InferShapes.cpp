//===- InferShapes.cpp - symbolic shape inference -------------------------===//
//
// Re-runs type inference over the whole graph in order, refining dims the
// graph left unknown, then removes the run-time shape arithmetic exporters
// emit for dynamic dims (Shape -> Gather -> Unsqueeze -> Concat -> Reshape):
//  - a small integer value whose symbolic content is fully static becomes a
//    constant;
//  - a Reshape whose target is computed gets a constant target built from
//    its inferred result type: a static dim as is, a dim equal to the
//    input's dim at the same position as 0 ("copy"), at most one other as -1;
//  - an Expand whose shape is computed gets a constant shape: a static dim as
//    is, a dim equal to the input's aligned dim as 1.
// The shape subgraphs are then dead, for dce to remove.
//
//===----------------------------------------------------------------------===//
#include "ir/ShapeInference.h"
#include "passes/Passes.h"

namespace kiln {
namespace {

std::optional<std::vector<int64_t>> reshapeTarget(const Node &N) {
  if (N.getInt("allowzero", 0))
    return std::nullopt;
  const TensorType &In = N.operand(0)->type(), &Out = N.result(0)->type();
  std::vector<int64_t> Target;
  bool UsedMinusOne = false;
  for (int64_t I = 0; I < Out.rank(); ++I) {
    const Dim &D = Out.Dims[I];
    if (D.isStatic() && D.value() != 0) {
      Target.push_back(D.value());
    } else if (I < In.rank() && D.sameAs(In.Dims[I])) {
      Target.push_back(0);
    } else if (!UsedMinusOne && !(D.isStatic() && D.value() == 0)) {
      Target.push_back(-1);
      UsedMinusOne = true;
    } else {
      return std::nullopt;
    }
  }
  return Target;
}

std::optional<std::vector<int64_t>> expandShape(const Node &N) {
  const TensorType &In = N.operand(0)->type(), &Out = N.result(0)->type();
  std::vector<int64_t> Shape;
  int64_t Offset = Out.rank() - In.rank();
  for (int64_t I = 0; I < Out.rank(); ++I) {
    const Dim &D = Out.Dims[I];
    if (D.isStatic())
      Shape.push_back(D.value());
    else if (I >= Offset && D.sameAs(In.Dims[I - Offset]))
      Shape.push_back(1);
    else
      return std::nullopt;
  }
  return Shape;
}

} // namespace

llvm::Expected<bool> runInferShapes(Graph &G, const PassOptions &,
                                    PassContext &Ctx) {
  std::vector<TensorType> Before;
  for (const auto &N : G.nodes())
    for (Value *R : N->results())
      Before.push_back(R->type());
  ShapeValueMap ShapeValues;
  if (llvm::Error E = inferGraphTypes(G, &ShapeValues))
    return std::move(E);
  size_t I = 0;
  int64_t Refined = 0;
  for (const auto &N : G.nodes())
    for (Value *R : N->results())
      Refined += R->type() != Before[I++];
  Ctx.bumpStat("types-refined", Refined);
  bool Changed = Refined > 0;

  for (Node *N : G.nodeList()) {
    // Fully static shape values become constants.
    for (Value *R : N->results()) {
      auto It = ShapeValues.find(R);
      if (It == ShapeValues.end() || !R->hasUses() || !isInteger(R->dtype()))
        continue;
      std::vector<int64_t> Ints;
      for (const Dim &D : It->second) {
        if (!D.isStatic())
          break;
        Ints.push_back(D.value());
      }
      if (Ints.size() != It->second.size() || !R->type().isStatic() ||
          R->type().staticNumElements() != int64_t(Ints.size()))
        continue;
      Value *C = G.addConstant(
          G.uniqueName(R->name() + ".static"),
          Tensor::fromInts(R->dtype(), R->type().staticSizes(), Ints));
      R->replaceAllUsesWith(C);
      Ctx.bumpStat("shape-values-materialized");
      Changed = true;
    }

    // Computed Reshape targets and Expand shapes become constants.
    bool IsReshape = N->opName() == "Reshape",
         IsExpand = N->opName() == "Expand";
    if ((!IsReshape && !IsExpand) || !N->operand(1) ||
        N->operand(1)->isConstant())
      continue;
    auto Target = IsReshape ? reshapeTarget(*N) : expandShape(*N);
    if (!Target) {
      Ctx.debug() << "infer-shapes: " << N->describe() << ": result type "
                  << N->result(0)->type().str()
                  << " cannot be written as a constant shape\n";
      continue;
    }
    int64_t Len = int64_t(Target->size());
    Value *C = G.addConstant(G.uniqueName(N->result(0)->name() + ".shape"),
                             Tensor::fromInts(DType::I64, {Len}, *Target));
    N->setOperand(1, C);
    Ctx.bumpStat(IsReshape ? "reshape-targets-fixed" : "expand-shapes-fixed");
    Changed = true;
  }
  return Changed;
}

} // namespace kiln
