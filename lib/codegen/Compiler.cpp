//===- Compiler.cpp - a graph to an executable artifact -------------------===//
#include "codegen/Compiler.h"

#include "codegen/ElementwiseCodegen.h"
#include "codegen/MemoryPlanner.h"
#include "codegen/Nvrtc.h"
#include "ir/Error.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"
#include "passes/Pruning.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <map>
#include <optional>
#include <thread>

namespace kiln {
namespace {

constexpr uint64_t WeightAlignment = 256;

//===-- Weights -----------------------------------------------------------===//

/// The weights buffer, each distinct constant stored once.
class WeightTable {
public:
  uint64_t add(const Tensor &T) {
    llvm::ArrayRef<uint8_t> Bytes(T.bytes(), T.byteSize());
    std::string Key = key(Bytes);
    if (auto It = Offsets.find(Key); It != Offsets.end())
      return It->second;
    uint64_t Offset =
        (Data.size() + WeightAlignment - 1) / WeightAlignment * WeightAlignment;
    Data.resize(Offset, '\0');
    Data.append(reinterpret_cast<const char *>(Bytes.data()), Bytes.size());
    Offsets[Key] = Offset;
    return Offset;
  }
  /// Starts the table with `Blob`, whose `Entries` later adds find.
  void seed(const std::string &Blob, llvm::ArrayRef<WeightEntry> Entries) {
    Data = Blob;
    for (const WeightEntry &E : Entries) {
      uint64_t Bytes = uint64_t(numElementsOf(E.Dims)) * dtypeSize(E.Type);
      if (E.Offset + Bytes > Data.size())
        continue;
      llvm::ArrayRef<uint8_t> View(
          reinterpret_cast<const uint8_t *>(Data.data()) + E.Offset, Bytes);
      Offsets.try_emplace(key(View), E.Offset);
    }
  }
  std::string take() { return std::move(Data); }

private:
  static std::string key(llvm::ArrayRef<uint8_t> Bytes) {
    llvm::XXH128_hash_t H = llvm::xxh3_128bits(Bytes);
    return llvm::utohexstr(H.high64) + ":" + llvm::utohexstr(H.low64) + ":" +
           std::to_string(Bytes.size());
  }

  std::string Data;
  std::map<std::string, uint64_t> Offsets;
};

//===-- Kernels -----------------------------------------------------------===//

/// Instantiations grouped into NVRTC programs, one per (module, bucket).
class KernelTable {
public:
  uint32_t add(const KernelLaunch &L, size_t Bucket) {
    std::string GroupKey =
        L.Module + "\0" + std::to_string(Bucket) + "\0" + L.Source;
    auto [It, New] = Groups.try_emplace(GroupKey, Modules.size());
    if (New) {
      ModuleSource M;
      M.Name = L.Module;
      M.Source =
          L.Source.empty() ? "#include \"" + L.Module + "\"\n" : L.Source;
      Modules.push_back(std::move(M));
    }
    uint32_t Module = It->second;
    std::string KernelKey = std::to_string(Module) + "\0" + L.NameExpr;
    auto [KIt, KNew] = KernelIndex.try_emplace(KernelKey, Kernels.size());
    if (KNew) {
      Kernels.push_back({Module, unsigned(Modules[Module].NameExprs.size())});
      Modules[Module].NameExprs.push_back(L.NameExpr);
    }
    return KIt->second;
  }

  std::vector<ModuleSource> Modules;
  struct Entry {
    uint32_t Module;
    unsigned Expr;
  };
  std::vector<Entry> Kernels;

private:
  std::map<std::string, uint32_t> Groups;
  std::map<std::string, uint32_t> KernelIndex;
};

//===-- One bucket --------------------------------------------------------===//

bool isView(llvm::StringRef Op) {
  return Op == "Reshape" || Op == "Flatten" || Op == "Squeeze" ||
         Op == "Unsqueeze" || Op == "Identity";
}

bool isGemm(llvm::StringRef Op) {
  return Op == "FusedGemm" || Op == "MatMul" || Op == "Gemm";
}

uint64_t byteSize(const Value *V) {
  return uint64_t(V->type().staticNumElements()) * dtypeSize(V->dtype());
}

/// Where a value lives: in the weights, or in an arena slot.
struct Location {
  bool InWeights = false;
  uint64_t WeightOffset = 0;
  int Slot = -1;
};

/// The matrix product a MatMul, Gemm or FusedGemm computes, as a GemmStep
/// without buffers, plus what runs after it.
struct GemmShape {
  GemmStep Step;
  bool GeluAfter = false; // erf GELU, which cuBLASLt's epilogue is not
  /// ONNX Gemm's beta * C when C is no bias vector: added after the GEMM.
  std::optional<KernelLaunch> AddCAfter;
  bool HasBias = false;
};

llvm::Expected<GemmShape> gemmShape(const Node &N) {
  const TensorType &A = N.operand(0)->type(), &B = N.operand(1)->type();
  std::vector<int64_t> As = A.staticSizes(), Bs = B.staticSizes(),
                       Ds = N.result()->type().staticSizes();
  GemmShape G;
  GemmStep &S = G.Step;
  S.AType = A.Elem;
  S.BType = B.Elem;
  S.DType_ = N.result()->dtype();
  S.Label = N.describe();
  auto Unsupported = [&](const llvm::Twine &Why) {
    return makeError(N.describe() + ": no GPU lowering: " + Why);
  };
  for (DType T : {S.AType, S.BType, S.DType_})
    if (T != DType::F32 && T != DType::F16 && T != DType::BF16)
      return Unsupported("matrix products run in f32, f16 or bf16, got " +
                         dtypeName(T));

  if (N.opName() == "MatMul") {
    if (As.size() == 1)
      As.insert(As.begin(), 1);
    bool VectorB = Bs.size() == 1;
    if (VectorB)
      Bs.push_back(1);
    S.M = As[As.size() - 2];
    S.K = As.back();
    S.N = Bs.back();
    auto Prod = [](llvm::ArrayRef<int64_t> D) {
      int64_t P = 1;
      for (int64_t X : D)
        P *= X;
      return P;
    };
    llvm::ArrayRef<int64_t> BatchA = llvm::ArrayRef(As).drop_back(2),
                            BatchB = llvm::ArrayRef(Bs).drop_back(2);
    int64_t NA = Prod(BatchA), NB = Prod(BatchB);
    if (NB == 1) {
      // B is one matrix: fold A's batch into M (A is contiguous).
      S.M *= NA;
    } else if (NA == 1) {
      S.Batch = NB;
      S.StrideB = S.K * S.N;
      S.StrideD = S.M * S.N;
    } else {
      size_t Rank = std::max(BatchA.size(), BatchB.size());
      auto Padded = [&](llvm::ArrayRef<int64_t> D) {
        std::vector<int64_t> P(Rank - D.size(), 1);
        P.insert(P.end(), D.begin(), D.end());
        return P;
      };
      if (Padded(BatchA) != Padded(BatchB))
        return Unsupported("batch dims that broadcast partially (" + A.str() +
                           " @ " + B.str() + ")");
      S.Batch = NA;
      S.StrideA = S.M * S.K;
      S.StrideB = S.K * S.N;
      S.StrideD = S.M * S.N;
    }
    return G;
  }

  // FusedGemm(a, b, bias?) {activation, trans_b} and ONNX Gemm(A, B, C?).
  bool TransA = N.opName() == "Gemm" && N.getInt("transA", 0);
  S.TransA = TransA;
  S.TransB = N.getInt(N.opName() == "Gemm" ? "transB" : "trans_b", 0);
  if (N.opName() == "Gemm") {
    S.M = TransA ? As[1] : As[0];
    S.K = TransA ? As[0] : As[1];
    S.Alpha = N.getFloat("alpha", 1.0f);
  } else {
    S.K = As.back();
    S.M = 1;
    for (size_t I = 0; I + 1 < As.size(); ++I)
      S.M *= As[I];
  }
  S.N = S.TransB ? Bs[0] : Bs[1];
  if (const Value *C = N.operand(2)) {
    std::vector<int64_t> Cs = C->type().staticSizes();
    int64_t CElems = C->type().staticNumElements();
    bool Vector =
        CElems == S.N && (Cs.size() == 1 || (Cs.size() == 2 && Cs[0] == 1));
    float Beta = N.opName() == "Gemm" ? N.getFloat("beta", 1.0f) : 1.0f;
    if (Vector && Beta == 1.0f && C->dtype() == S.DType_) {
      G.HasBias = true;
    } else if (N.opName() == "Gemm" && Beta != 0.0f) {
      // D = alpha A B, then D += beta C (C broadcasts to D), in place.
      auto Sum = std::make_unique<Expr>();
      Sum->K = Expr::Kind::Call;
      Sum->Fn = "add";
      auto X0 = std::make_unique<Expr>(), X1 = std::make_unique<Expr>(),
           B = std::make_unique<Expr>(), Scaled = std::make_unique<Expr>();
      X0->K = X1->K = Expr::Kind::Operand;
      X1->Operand = 1;
      B->Number = Beta;
      Scaled->K = Expr::Kind::Call;
      Scaled->Fn = "mul";
      Scaled->Args.push_back(std::move(X1));
      Scaled->Args.push_back(std::move(B));
      Sum->Args.push_back(std::move(X0));
      Sum->Args.push_back(std::move(Scaled));
      const TensorType &D = N.result()->type();
      auto K = generateElementwiseKernel(*Sum, IntegerMath::ViaDouble,
                                         {&D, &C->type()}, D);
      if (!K)
        return Unsupported(llvm::toString(K.takeError()));
      KernelLaunch L;
      L.Module = K->Module;
      L.Source = K->Source;
      L.NameExpr = K->KernelName;
      constexpr int64_t Threads = 256;
      L.Grid[0] = uint32_t((K->NumElements + Threads - 1) / Threads);
      L.Block[0] = uint32_t(Threads);
      for (unsigned I : K->Operands)
        L.Args.push_back(I == 0 ? LaunchArg::result(0) : LaunchArg::operand(2));
      L.Args.push_back(LaunchArg::result(0));
      G.AddCAfter = std::move(L);
    } else if (N.opName() != "Gemm") {
      return Unsupported("the bias must be a vector of " + llvm::Twine(S.N) +
                         " elements of the result's dtype, got " +
                         C->type().str());
    }
  }
  std::string Act = N.getString("activation", "none");
  using E = GemmStep::Epilogue;
  if (Act.empty() || Act == "none" || Act == "gelu")
    S.Epi = G.HasBias ? E::Bias : E::None;
  else if (Act == "relu")
    S.Epi = G.HasBias ? E::ReluBias : E::Relu;
  else if (Act == "gelu_tanh")
    S.Epi = G.HasBias ? E::GeluTanhBias : E::GeluTanh;
  else
    return Unsupported("activation '" + Act + "'");
  G.GeluAfter = Act == "gelu";
  (void)Ds;
  return G;
}

/// The GEMM step of a MatMul, Gemm or FusedGemm; nullopt for a MatMul
/// cuBLASLt does not take (f64 or integer operands, batch dims that
/// broadcast only partially), which runs the generic matmul kernel instead.
/// For Gemm and FusedGemm gemmShape's refusal is the error.
llvm::Expected<std::optional<GemmShape>> cublasGemm(const Node &N) {
  auto Shape = gemmShape(N);
  if (Shape)
    return std::optional(std::move(*Shape));
  if (N.opName() != "MatMul")
    return Shape.takeError();
  llvm::consumeError(Shape.takeError());
  return std::nullopt;
}

/// The elementwise erf GELU applied in place after a GEMM.
KernelLaunch geluAfterGemm(DType T, int64_t Elements) {
  KernelLaunch L;
  L.Module = "gemm_epilogue.cuh";
  L.NameExpr = "kiln::gelu_erf_inplace<" + cudaTypeName(T).str() + ">";
  // 16 bytes per thread per step; a grid of a few waves strides the rest.
  constexpr uint32_t Threads = 256;
  uint64_t PerThread = 16 / dtypeSize(T);
  uint64_t Blocks = (uint64_t(Elements) / PerThread + Threads - 1) / Threads;
  L.Grid[0] = uint32_t(std::clamp<uint64_t>(Blocks, 1, 132 * 16));
  L.Block[0] = Threads;
  L.Args = {LaunchArg::result(0), LaunchArg::i64(Elements)};
  return L;
}

class BucketLowering {
public:
  BucketLowering(const Graph &G, size_t BucketIndex, const TargetInfo &Target,
                 WeightTable &Weights, KernelTable &Kernels)
      : G(G), BucketIndex(BucketIndex), Target(Target), Weights(Weights),
        Kernels(Kernels) {}

  llvm::Expected<BucketPlan> run();

private:
  enum class NodeKind { Skip, View, Gemm, Kernels };
  struct NodeWork {
    const Node *N;
    NodeKind Kind;
    NodeLowering Lowering;    // NodeKind::Kernels
    GemmShape Gemm;           // NodeKind::Gemm
    std::vector<int> Scratch; // slots
  };

  int newSlot(uint64_t Bytes, int64_t First) {
    Slots.push_back({Bytes, First, First});
    return int(Slots.size()) - 1;
  }
  void use(const Value *V, int64_t Time) {
    auto It = Locs.find(V);
    if (It != Locs.end() && It->second.Slot >= 0)
      Slots[It->second.Slot].Last = std::max(Slots[It->second.Slot].Last, Time);
  }
  BufferRef ref(const Value *V) const {
    const Location &L = Locs.find(V)->second;
    if (L.InWeights)
      return {BufferRef::Space::Weights, L.WeightOffset, byteSize(V)};
    return {BufferRef::Space::Arena, Layout.Offsets[L.Slot], byteSize(V)};
  }
  BufferRef slotRef(int Slot) const {
    return {BufferRef::Space::Arena, Layout.Offsets[Slot], Slots[Slot].Bytes};
  }
  llvm::Error emitKernel(const NodeWork &W, const KernelLaunch &L,
                         BucketPlan &Plan);

  const Graph &G;
  size_t BucketIndex;
  const TargetInfo &Target;
  WeightTable &Weights;
  KernelTable &Kernels;
  llvm::DenseMap<const Value *, Location> Locs;
  std::vector<LiveBuffer> Slots;
  ArenaLayout Layout;
};

llvm::Error BucketLowering::emitKernel(const NodeWork &W, const KernelLaunch &L,
                                       BucketPlan &Plan) {
  KernelStep K;
  K.Kernel = Kernels.add(L, BucketIndex);
  std::copy(std::begin(L.Grid), std::end(L.Grid), K.Grid);
  std::copy(std::begin(L.Block), std::end(L.Block), K.Block);
  K.SharedBytes = L.SharedBytes;
  K.Label = W.N->describe();
  for (const LaunchArg &A : L.Args) {
    KernelArg Arg;
    switch (A.K) {
    case LaunchArg::Kind::Operand:
    case LaunchArg::Kind::Result: {
      bool IsOperand = A.K == LaunchArg::Kind::Operand;
      const Value *V =
          IsOperand
              ? W.N->operand(A.Index)
              : (A.Index < W.N->numResults() ? W.N->result(A.Index) : nullptr);
      if (!V)
        return makeError(W.N->describe() + ": kernel argument names " +
                         (IsOperand ? "operand " : "result ") +
                         llvm::Twine(A.Index) + ", which is absent");
      Arg.K = KernelArg::Kind::Buffer;
      Arg.Buffer = ref(V);
      break;
    }
    case LaunchArg::Kind::Scratch:
      if (A.Index >= W.Scratch.size())
        return makeError(W.N->describe() + ": kernel argument names scratch " +
                         llvm::Twine(A.Index) + " of " +
                         llvm::Twine(W.Scratch.size()));
      Arg.K = KernelArg::Kind::Buffer;
      Arg.Buffer = slotRef(W.Scratch[A.Index]);
      break;
    case LaunchArg::Kind::I32:
      Arg.K = KernelArg::Kind::I32;
      Arg.Int = A.Int;
      break;
    case LaunchArg::Kind::I64:
      Arg.K = KernelArg::Kind::I64;
      Arg.Int = A.Int;
      break;
    case LaunchArg::Kind::F32:
      Arg.K = KernelArg::Kind::F32;
      Arg.Float = A.Float;
      break;
    }
    K.Args.push_back(Arg);
  }
  Plan.Steps.push_back(std::move(K));
  return llvm::Error::success();
}

llvm::Expected<BucketPlan> BucketLowering::run() {
  // Every value must have a static type by now.
  auto CheckStatic = [&](const Value *V) -> llvm::Error {
    if (!V->type().isStatic())
      return makeError("value '" + V->name() + "' has type " + V->type().str() +
                       " after specialization: a dimension is not bound by "
                       "a bucket");
    return llvm::Error::success();
  };
  for (const Value *V : G.inputs()) {
    if (llvm::Error E = CheckStatic(V))
      return std::move(E);
    Locs[V] = {false, 0, newSlot(byteSize(V), -1)};
  }
  for (const Value *V : G.constants()) {
    if (!V->constantData())
      return makeError("constant '" + V->name() + "' has no data (elided)");
    Locs[V] = {true, Weights.add(*V->constantData()), -1};
  }

  // Pass 1: what each node becomes, and the slots it needs.
  std::vector<NodeWork> Work;
  int64_t Time = 0;
  for (const auto &NodePtr : G.nodes()) {
    const Node *N = NodePtr.get();
    for (const Value *R : N->results())
      if (!R->type().isStatic())
        return makeError(N->describe() + ": result %" + R->name() +
                         " has type " + R->type().str() +
                         " after specialization; the GPU plan needs static "
                         "shapes (a size that depends on the data, or a "
                         "dimension no bucket binds)");
    NodeWork W{N, NodeKind::Kernels, {}, {}, {}};
    bool Empty = true;
    for (const Value *R : N->results())
      Empty &= R->type().staticNumElements() == 0;
    if (Empty && N->numResults() > 0) {
      W.Kind = NodeKind::Skip;
    } else if (isView(N->opName())) {
      W.Kind = NodeKind::View;
    } else if (isGemm(N->opName())) {
      auto Shape = cublasGemm(*N);
      if (!Shape)
        return Shape.takeError();
      if (*Shape) {
        W.Kind = NodeKind::Gemm;
        W.Gemm = std::move(**Shape);
      }
    }
    // Everything else, and a MatMul cuBLASLt does not take, runs kernels.
    if (W.Kind == NodeKind::Kernels) {
      const LoweringRule *Rule = KernelRegistry::get().lookup(N->opName());
      if (!Rule)
        return makeError(N->describe() + ": no GPU kernel for op '" +
                         N->opName() + "'");
      auto Lowered = (*Rule)(*N, Target);
      if (!Lowered)
        return Lowered.takeError();
      W.Lowering = std::move(*Lowered);
    }

    for (const Value *Op : N->operands())
      if (Op)
        use(Op, Time);
    if (W.Kind == NodeKind::View) {
      Locs[N->result()] = Locs.find(N->operand(0))->second;
    } else {
      for (const Value *R : N->results())
        Locs[R] = {false, 0, newSlot(byteSize(R), Time)};
      for (uint64_t Bytes : W.Lowering.ScratchBytes)
        W.Scratch.push_back(newSlot(Bytes, Time));
    }
    Work.push_back(std::move(W));
    ++Time;
  }

  // Outputs need slots of their own: a weight, an input or an output that
  // another output already uses is copied.
  std::vector<std::pair<const Value *, int>> OutputCopies;
  std::set<int> Claimed;
  for (const Value *In : G.inputs())
    Claimed.insert(Locs[In].Slot);
  std::vector<int> OutputSlots;
  for (const Value *Out : G.outputs()) {
    if (llvm::Error E = CheckStatic(Out))
      return std::move(E);
    const Location &L = Locs[Out];
    int Slot = L.Slot;
    if (L.InWeights || Claimed.count(Slot)) {
      use(Out, Time); // the copy reads it after every node
      Slot = newSlot(byteSize(Out), Time);
      OutputCopies.push_back({Out, Slot});
    }
    Claimed.insert(Slot);
    OutputSlots.push_back(Slot);
  }
  for (int Slot : OutputSlots)
    Slots[Slot].Last = Time + 1;
  for (const Value *In : G.inputs())
    Slots[Locs[In].Slot].First = -1;

  Layout = planArena(Slots);

  // Pass 2: the steps.
  BucketPlan Plan;
  Plan.ArenaBytes = Layout.Bytes;
  for (const Value *In : G.inputs())
    Plan.Inputs.push_back(
        {In->name(), In->dtype(), In->type().staticSizes(), ref(In)});
  for (const NodeWork &W : Work) {
    switch (W.Kind) {
    case NodeKind::Skip:
    case NodeKind::View: break;
    case NodeKind::Gemm: {
      GemmStep S = W.Gemm.Step;
      S.A = ref(W.N->operand(0));
      S.B = ref(W.N->operand(1));
      S.D = ref(W.N->result());
      if (W.Gemm.HasBias)
        S.Bias = ref(W.N->operand(2));
      Plan.Steps.push_back(std::move(S));
      if (W.Gemm.GeluAfter)
        if (llvm::Error E = emitKernel(
                W,
                geluAfterGemm(W.N->result()->dtype(),
                              W.N->result()->type().staticNumElements()),
                Plan))
          return std::move(E);
      if (W.Gemm.AddCAfter)
        if (llvm::Error E = emitKernel(W, *W.Gemm.AddCAfter, Plan))
          return std::move(E);
      break;
    }
    case NodeKind::Kernels:
      for (const KernelLaunch &L : W.Lowering.Launches)
        if (llvm::Error E = emitKernel(W, L, Plan))
          return std::move(E);
      break;
    }
  }
  for (const auto &[Out, Slot] : OutputCopies)
    Plan.Steps.push_back(CopyStep{ref(Out), slotRef(Slot), "output copy"});
  for (size_t I = 0; I < G.outputs().size(); ++I) {
    const Value *Out = G.outputs()[I];
    BufferRef Buf = slotRef(OutputSlots[I]);
    Buf.Bytes = byteSize(Out);
    Plan.Outputs.push_back(
        {Out->name(), Out->dtype(), Out->type().staticSizes(), Buf});
  }
  return Plan;
}

//===-- The whole model ---------------------------------------------------===//

/// Renames the first input's first two symbolic dims to `batch` and `seq`
/// everywhere, so that buckets bind them whatever the exporter called them.
/// Returns which of the two the model has.
std::pair<bool, bool> canonicalizeSymbols(Graph &G) {
  if (G.inputs().empty())
    return {false, false};
  const TensorType &T = G.inputs()[0]->type();
  llvm::StringMap<std::string> Renames;
  bool HasBatch = false, HasSeq = false;
  if (T.rank() >= 1 && T.Dims[0].isSymbol()) {
    Renames[T.Dims[0].symbol()] = "batch";
    HasBatch = true;
  }
  if (T.rank() >= 2 && T.Dims[1].isSymbol() &&
      T.Dims[1].symbol() != T.Dims[0].symbol()) {
    Renames[T.Dims[1].symbol()] = "seq";
    HasSeq = true;
  }
  auto Rename = [&](Value *V) {
    TensorType NT = V->type();
    bool Changed = false;
    for (Dim &D : NT.Dims)
      if (D.isSymbol())
        if (auto It = Renames.find(D.symbol()); It != Renames.end()) {
          D = Dim::symbol(It->second);
          Changed = true;
        }
    if (Changed)
      V->setType(std::move(NT));
  };
  for (Value *V : G.inputs())
    Rename(V);
  for (Node *N : G.nodeList())
    for (Value *R : N->results())
      Rename(R);
  return {HasBatch, HasSeq};
}

/// Turns graph input `Name` into a constant holding `Data`.
llvm::Error bindInput(Graph &G, const std::string &Name, const Tensor &Data) {
  Value *In = G.lookup(Name);
  if (!In || !In->isInput())
    return makeError("--bind " + Name +
                     ": the graph has no input of that "
                     "name");
  const TensorType &T = In->type();
  bool Fits = T.Elem == Data.dtype() && T.rank() == Data.rank();
  for (int64_t D = 0; Fits && D < T.rank(); ++D)
    Fits = !T.Dims[D].isStatic() || T.Dims[D].value() == Data.dim(D);
  if (!Fits)
    return makeError("--bind " + Name + ": the input is " + T.str() +
                     ", the value given is " + Data.type().str());
  G.rename(In, G.uniqueName(Name + ".bound"));
  Value *C = G.addConstant(Name, Data);
  In->replaceAllUsesWith(C);
  G.eraseValue(In);
  return llvm::Error::success();
}

std::vector<IoSpec> ioSpecs(llvm::ArrayRef<Value *> Values) {
  std::vector<IoSpec> Specs;
  for (const Value *V : Values)
    Specs.push_back(
        {V->name(), V->dtype(),
         std::vector<Dim>(V->type().Dims.begin(), V->type().Dims.end())});
  return Specs;
}

} // namespace

llvm::Error specializeGraph(Graph &G, llvm::StringRef Bindings) {
  PipelineOptions PO;
  if (!Bindings.empty())
    if (llvm::Error E =
            runPassPipeline(G, "specialize{" + Bindings.str() + "}", PO))
      return E;
  // Shape arithmetic (an expanded ONNX function's Shape, Div, Where and
  // Concat feeding an Expand) folds a step per round.
  return runPassPipelineToFixpoint(
      G, "fold-constants,infer-shapes,canonicalize,cse,dce", PO,
      /*MaxRounds=*/8);
}

Node *firstUnknownShape(const Graph &G, std::string *Why) {
  for (Node *N : G.nodeList()) {
    // A NonZero's size is its operand's count of nonzeros, whatever type
    // the exporter declared for it, until a `count` fixes it.
    if (N->opName() == "NonZero" && N->operand(0) &&
        !N->operand(0)->isConstant() && !N->hasAttr("count")) {
      if (Why)
        *Why = N->describe() +
               ": its result size is the count of nonzeros in %" +
               N->operand(0)->name();
      return N;
    }
    for (const Value *R : N->results())
      if (!R->type().isStatic()) {
        if (Why)
          *Why = N->describe() + ": result %" + R->name() + " has type " +
                 R->type().str() + " once every input dim is bound";
        return N;
      }
  }
  return nullptr;
}

BucketCompiler makeJitCompiler(std::string CacheDir) {
  return [CacheDir](const Artifact &Base, int64_t Batch,
                    int64_t Seq) -> llvm::Expected<Artifact> {
    auto G = artifactGraph(Base);
    if (!G)
      return G.takeError();
    CompileOptions O;
    O.Batches = {Batch};
    O.Seqs = {Seq > 0 ? Seq : 1};
    // The stored IR is already optimized and in its storage precision.
    O.Pipeline = "";
    O.Precision = "f32";
    O.Target.Arch = Base.Meta.Arch;
    O.CacheDir = CacheDir;
    O.EmitPtx = false;
    O.ModelName = Base.Meta.ModelName;
    O.WeightsPrefix = &Base.Weights;
    O.WeightsPrefixEntries = &Base.WeightEntries;
    O.CompileCommand = Base.Meta.CompileCommand + " (on demand: batch " +
                       std::to_string(Batch) + ", seq " + std::to_string(Seq) +
                       ")";
    auto A = compileGraph(std::move(*G), O);
    if (!A)
      return A.takeError();
    A->Meta.Precision = Base.Meta.Precision;
    return A;
  };
}

llvm::Expected<Artifact> compileGraph(std::unique_ptr<Graph> G,
                                      const CompileOptions &Options,
                                      CompileStats *Stats) {
  auto Start = std::chrono::steady_clock::now();
  if (llvm::Error E = checkArch(Options.Target.Arch))
    return std::move(E);
  if (Options.Precision != "f32" && Options.Precision != "f16" &&
      Options.Precision != "bf16")
    return makeError("unknown precision '" + Options.Precision +
                     "': expected f32, f16 or bf16");
  if (Options.Batches.empty())
    return makeError("no batch bucket given");
  for (int64_t B : Options.Batches)
    if (B <= 0)
      return makeError("batch bucket " + llvm::Twine(B) + " is not positive");
  for (int64_t S : Options.Seqs)
    if (S <= 0)
      return makeError("seq bucket " + llvm::Twine(S) + " is not positive");

  for (const auto &[Name, Data] : Options.BoundInputs)
    if (llvm::Error E = bindInput(*G, Name, Data))
      return std::move(E);
  auto [HasBatch, HasSeq] = canonicalizeSymbols(*G);
  PipelineOptions PO;
  std::string Pipeline = Options.Pipeline.empty()
                             ? std::string()
                             : namedPipeline(Options.Pipeline).str();
  if (Pipeline.empty() && !Options.Pipeline.empty())
    Pipeline = Options.Pipeline;
  if (Options.Precision != "f32")
    Pipeline +=
        std::string(Pipeline.empty() ? "" : ",") +
        "precision{type=" + Options.Precision + "}" +
        (Options.Pipeline.empty() ? ""
                                  : ",canonicalize,fuse-elementwise,cse,dce");
  if (!Options.Prune.empty()) {
    if (llvm::Error E = prune::runPipelineWithPruning(
            *G, Pipeline, Options.Prune, PO, llvm::errs()))
      return std::move(E);
  } else if (!Pipeline.empty()) {
    if (llvm::Error E = runPassPipeline(*G, Pipeline, PO))
      return std::move(E);
  }

  Artifact A;
  A.Meta.ModelName = Options.ModelName.empty() ? G->name() : Options.ModelName;
  A.Meta.Producer = "kiln 0.1";
  A.Meta.Precision = Options.Precision;
  A.Meta.Arch = Options.Target.Arch;
  A.Meta.CompileCommand = Options.CompileCommand;
  A.Meta.Inputs = ioSpecs(G->inputs());
  A.Meta.Outputs = ioSpecs(G->outputs());
  PrintOptions Print;
  Print.ElideWeights = true;
  A.IrText = printGraphToString(*G, Print);

  WeightTable Weights;
  if (Options.WeightsPrefix)
    Weights.seed(*Options.WeightsPrefix,
                 Options.WeightsPrefixEntries
                     ? llvm::ArrayRef(*Options.WeightsPrefixEntries)
                     : llvm::ArrayRef<WeightEntry>());
  for (const Value *C : G->constants())
    if (const Tensor *T = C->constantData())
      A.WeightEntries.push_back(
          {C->name(), Weights.add(*T), T->dtype(), T->sizes().vec()});

  auto Sorted = [](std::vector<int64_t> V) {
    llvm::sort(V);
    V.erase(std::unique(V.begin(), V.end()), V.end());
    return V;
  };
  // A model without a batch symbol has one bucket, recorded as batch 1.
  std::vector<int64_t> Batches =
      HasBatch ? Sorted(Options.Batches) : std::vector<int64_t>{1};
  std::vector<int64_t> Seqs =
      HasSeq ? Sorted(Options.Seqs) : std::vector<int64_t>{0};
  if (HasSeq && Seqs.empty())
    return makeError("the model has a sequence dimension: give seq buckets");
  A.Meta.BatchBuckets = Batches;
  A.Meta.SeqBuckets = HasSeq ? Seqs : std::vector<int64_t>{};

  KernelTable Kernels;
  auto LowerBuckets = [&]() -> llvm::Error {
    for (int64_t B : Batches)
      for (int64_t S : Seqs) {
        std::unique_ptr<Graph> Bucket = G->clone();
        std::string Bind;
        if (HasBatch)
          Bind += "batch=" + std::to_string(B);
        if (HasSeq)
          Bind +=
              std::string(Bind.empty() ? "" : ",") + "seq=" + std::to_string(S);
        std::string Where = "bucket batch=" + std::to_string(B) +
                            (HasSeq ? " seq=" + std::to_string(S) : "");
        if (llvm::Error E = specializeGraph(*Bucket, Bind))
          return makeError(Where + ": " + llvm::toString(std::move(E)));
        // Every bucket has the same nodes: the first one tells whether a
        // size depends on the data.
        std::string Why;
        if (firstUnknownShape(*Bucket, &Why)) {
          A.Meta.DataDependent = Why;
          A.Meta.BatchBuckets.clear();
          A.Meta.SeqBuckets.clear();
          A.Plan.Buckets.clear();
          return llvm::Error::success();
        }
        BucketLowering Lowering(*Bucket, A.Plan.Buckets.size(), Options.Target,
                                Weights, Kernels);
        auto Plan = Lowering.run();
        if (!Plan)
          return makeError(Where + ": " + llvm::toString(Plan.takeError()));
        Plan->Batch = B;
        Plan->Seq = HasSeq ? S : 0;
        A.Plan.Buckets.push_back(std::move(*Plan));
      }
    return llvm::Error::success();
  };
  if (llvm::Error E = LowerBuckets())
    return std::move(E);

  NvrtcOptions NO;
  NO.Arch = Options.Target.Arch;
  NO.EmitPtx = Options.EmitPtx;
  NO.CacheDir = Options.CacheDir;
  unsigned Jobs = Options.Jobs
                      ? Options.Jobs
                      : std::max(1u, std::thread::hardware_concurrency());
  // Buckets often need the same instantiations (a LayerNorm of one width
  // serves every batch): compile each distinct program once.
  std::vector<ModuleSource> Unique;
  std::vector<size_t> UniqueOf;
  std::map<std::string, size_t> Seen;
  for (const ModuleSource &M : Kernels.Modules) {
    std::string Key = M.Source;
    for (const std::string &E : M.NameExprs)
      Key += '\0' + E;
    auto [It, New] = Seen.try_emplace(Key, Unique.size());
    if (New)
      Unique.push_back(M);
    UniqueOf.push_back(It->second);
  }
  auto NvrtcStart = std::chrono::steady_clock::now();
  auto Compiled = compileModules(Unique, NO, Jobs);
  if (!Compiled)
    return Compiled.takeError();
  double NvrtcSeconds = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - NvrtcStart)
                            .count();
  unsigned Hits = 0;
  for (size_t I = 0; I < Compiled->size(); ++I) {
    CompiledModule &C = (*Compiled)[I];
    Hits += C.FromCache;
    A.Plan.Modules.push_back(
        {Unique[I].Name, std::move(C.Cubin), std::move(C.Ptx)});
  }
  // Kernel indices point into the distinct programs.
  for (const KernelTable::Entry &K : Kernels.Kernels) {
    uint32_t Module = uint32_t(UniqueOf[K.Module]);
    A.Plan.Kernels.push_back(
        {Module, (*Compiled)[Module].LoweredNames[K.Expr]});
  }
  A.Weights = Weights.take();
  A.Plan.WeightBytes = A.Weights.size();
  A.Plan.Arch = Options.Target.Arch;
  // What the runtime will check at load, checked where it is made.
  if (llvm::Error E = validateArtifact(A))
    return makeError("internal error: the compiled plan is invalid: " +
                     llvm::toString(std::move(E)));

  if (Stats) {
    Stats->Seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - Start)
            .count();
    Stats->NvrtcSeconds = NvrtcSeconds;
    Stats->Modules = unsigned(Unique.size());
    Stats->CacheHits = Hits;
    Stats->Kernels = unsigned(Kernels.Kernels.size());
  }
  return A;
}

} // namespace kiln
