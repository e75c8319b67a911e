//===- Precision.cpp - 16-bit storage, fp32 math --------------------------===//
//
// `precision{type=f16}` (kiln-opt --precision fp16) stores every f32 tensor
// of the graph in f16 (or bf16): weights are converted (finite values
// saturate to the target's range, so a finfo.min mask constant stays a large
// negative number instead of -inf), intermediate values are retyped, f32
// graph inputs are cast on entry and f32 graph outputs cast back on exit (or,
// for a PoolNormalize, stored in f32 by it), so the graph's interface does
// not change. Ops keep computing in fp32 (the
// reference executor and the kernels accumulate in fp32; LayerNorm
// statistics, softmax, pooling and normalization run in fp32 inside their
// fused ops); only storage narrows. Not part of -O2: precision is chosen
// separately.
//
//===----------------------------------------------------------------------===//
#include "passes/Precision.h"
#include "ir/ShapeInference.h"
#include "ir/ops/ElementwiseExpr.h"
#include "passes/Passes.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace kiln {
namespace {

Tensor narrow(const Tensor &T, DType To) {
  double Max = To == DType::F16 ? 65504.0 : 3.3895313892515355e38;
  Tensor Out(To, T.sizes().vec());
  for (int64_t I = 0; I < T.numElements(); ++I) {
    double V = T.getDouble(I);
    if (std::isfinite(V))
      V = std::clamp(V, -Max, Max);
    Out.setDouble(I, V);
  }
  return Out;
}

/// Rewrites `cast_f32` inside an expression to the narrow type.
std::string retargetExpr(const std::string &Text, DType To) {
  std::string Out;
  llvm::StringRef Rest = Text, From = "cast_f32";
  std::string ToName = "cast_" + dtypeName(To).str();
  while (!Rest.empty()) {
    size_t At = Rest.find(From);
    Out += Rest.substr(0, At).str();
    if (At == llvm::StringRef::npos)
      break;
    Out += ToName;
    Rest = Rest.drop_front(At + From.size());
  }
  return Out;
}

} // namespace

llvm::Expected<bool> runPrecision(Graph &G, const PassOptions &Options,
                                  PassContext &Ctx) {
  std::string Name = Options.getString("type", "f16");
  std::optional<DType> To = parseDType(Name);
  if (!To || (*To != DType::F16 && *To != DType::BF16))
    return makeError("precision: type must be f16 or bf16, got '" + Name + "'");
  std::string ToName = dtypeName(*To).str();
  std::vector<bool> OutputWasF32;
  for (Value *V : G.outputs())
    OutputWasF32.push_back(V->dtype() == DType::F32);

  for (Value *C : G.constants())
    if (C->dtype() == DType::F32 && C->constantData()) {
      C->setConstantData(narrow(*C->constantData(), *To));
      Ctx.bumpStat("constants-narrowed");
    } else if (C->dtype() == DType::F32) {
      C->setType(TensorType(*To, C->type().Dims));
    }

  for (const auto &N : G.nodes()) {
    if (N->opName() == "Cast" && N->getString("to", "") == "f32")
      N->setAttr("to", ToName);
    if (N->opName() == "FusedElementwise") {
      N->setAttr("expr", retargetExpr(N->getString("expr", ""), *To));
      if (N->getString("dtype", "") == "f32")
        N->setAttr("dtype", ToName);
    }
    if (const Attribute *A = N->attr("value");
        A && A->kind() == AttrKind::Tensor &&
        A->getTensor().dtype() == DType::F32)
      N->setAttr("value", narrow(A->getTensor(), *To));
    for (Value *R : N->results())
      if (R->dtype() == DType::F32) {
        R->setType(TensorType(*To, R->type().Dims));
        Ctx.bumpStat("values-narrowed");
      }
  }

  // f32 graph inputs are cast on entry.
  Node *First = G.nodes().empty() ? nullptr : G.nodes().front().get();
  for (Value *In : G.inputs()) {
    if (In->dtype() != DType::F32 || !In->hasUses())
      continue;
    Node *Cast = G.createNode("Cast", {In}, {TensorType(*To, In->type().Dims)},
                              {{"to", ToName}}, "",
                              {G.uniqueName(In->name() + "." + ToName)}, First);
    for (const Use &U : std::vector<Use>(In->uses().begin(), In->uses().end()))
      if (U.User != Cast)
        U.User->setOperand(U.OperandIndex, Cast->result());
  }

  // Outputs keep their f32 type and their names. A PoolNormalize whose
  // result is only graph outputs stores f32 itself (its `dtype`): the
  // sentence embedding is written once, in fp32, instead of rounded to 16
  // bits and cast back by another kernel.
  std::vector<Value *> Outputs(G.outputs().begin(), G.outputs().end());
  for (size_t I = 0; I < Outputs.size(); ++I) {
    Value *V = Outputs[I];
    if (!OutputWasF32[I] || V->dtype() != *To)
      continue;
    Node *Def = V->definingNode();
    if (Def && Def->opName() == "PoolNormalize" && !V->hasUses()) {
      Def->setAttr("dtype", "f32");
      V->setType(TensorType(DType::F32, V->type().Dims));
      Ctx.bumpStat("outputs-stored-f32");
      continue;
    }
    std::string OutName = V->name();
    G.rename(V, G.uniqueName(OutName + "." + ToName));
    Node *Cast =
        G.createNode("Cast", {V}, {TensorType(DType::F32, V->type().Dims)},
                     {{"to", "f32"}}, "", {OutName});
    for (size_t J = I; J < Outputs.size(); ++J)
      if (Outputs[J] == V) {
        G.setOutput(unsigned(J), Cast->result());
        Outputs[J] = Cast->result();
      }
  }
  if (llvm::Error E = inferGraphTypes(G))
    return std::move(E);
  return true;
}

llvm::Expected<Precision> parsePrecision(llvm::StringRef Text) {
  if (Text == "f32" || Text == "fp32")
    return Precision::F32;
  if (Text == "f16" || Text == "fp16")
    return Precision::F16;
  if (Text == "bf16")
    return Precision::BF16;
  return makeError("unknown precision '" + Text +
                   "': expected f32, f16 or bf16");
}

llvm::StringRef precisionName(Precision P) {
  switch (P) {
  case Precision::F32: return "f32";
  case Precision::F16: return "f16";
  case Precision::BF16: return "bf16";
  }
  llvm_unreachable("unknown precision");
}

PipelineStep precisionStep(Precision P) {
  assert(P != Precision::F32 && "f32 is no storage the precision pass makes");
  return passStep("precision", {{"type", precisionName(P)}});
}

} // namespace kiln
