//===- BucketLowering.cpp - one specialized graph to a BucketPlan ---------===//
#include "codegen/BucketLowering.h"

#include "codegen/GemmLowering.h"
#include "codegen/MemoryPlanner.h"
#include "ir/Error.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/xxhash.h"

#include <set>

namespace kiln {

constexpr uint64_t WeightAlignment = 256;

uint64_t WeightTable::add(const Tensor &T) {
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

void WeightTable::seed(const std::string &Blob,
                       llvm::ArrayRef<WeightEntry> Entries) {
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

std::string WeightTable::key(llvm::ArrayRef<uint8_t> Bytes) {
  llvm::XXH128_hash_t H = llvm::xxh3_128bits(Bytes);
  return llvm::utohexstr(H.high64) + ":" + llvm::utohexstr(H.low64) + ":" +
         std::to_string(Bytes.size());
}

uint32_t KernelTable::add(const KernelLaunch &L, size_t Bucket) {
  std::string GroupKey =
      L.Module + "\0" + std::to_string(Bucket) + "\0" + L.Source;
  auto [It, New] = Groups.try_emplace(GroupKey, Modules.size());
  if (New) {
    ModuleSource M;
    M.Name = L.Module;
    M.Source = L.Source.empty() ? "#include \"" + L.Module + "\"\n" : L.Source;
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

namespace {

bool isView(llvm::StringRef Op) {
  return Op == "Reshape" || Op == "Flatten" || Op == "Squeeze" ||
         Op == "Unsqueeze" || Op == "Identity";
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

class BucketLowering {
public:
  BucketLowering(const Graph &G, size_t BucketIndex, const TargetInfo &Target,
                 WeightTable &Weights, KernelTable &Kernels,
                 llvm::MutableArrayRef<IndexCheck> Checks)
      : G(G), BucketIndex(BucketIndex), Target(Target), Weights(Weights),
        Kernels(Kernels), Checks(Checks) {}

  llvm::Expected<BucketPlan> run();

private:
  /// Absorbed: a GEMM whose result a later node's kernel computes itself
  /// (no step, no slot).
  enum class NodeKind { Skip, View, Gemm, Kernels, Absorbed };
  struct NodeWork {
    const Node *N;
    NodeKind Kind;
    NodeLowering Lowering;    // NodeKind::Kernels
    GemmShape Gemm;           // NodeKind::Gemm
    std::vector<int> Scratch; // slots
    /// When not empty, what the launches' operands name instead of N's:
    /// a kernel that computes a GEMM and the node after it in one.
    std::vector<const Value *> Operands;
    /// A GEMM with a residual epilogue (residualIntoGemm): its C, and the
    /// SkipLayerNorm's extra bias when that became the GEMM's bias.
    const Value *Residual = nullptr, *ExtraBias = nullptr;
  };
  /// The SkipLayerNorm that takes a GEMM's result as x and nothing else
  /// does (no other use, no graph output), or null.
  const Node *soleSkipLayerNormUser(const Node &Gemm) const;

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
  llvm::MutableArrayRef<IndexCheck> Checks;
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
          !IsOperand
              ? (A.Index < W.N->numResults() ? W.N->result(A.Index) : nullptr)
          : W.Operands.empty()          ? W.N->operand(A.Index)
          : A.Index < W.Operands.size() ? W.Operands[A.Index]
                                        : nullptr;
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
    case LaunchArg::Kind::IndexFault:
      Arg.K = KernelArg::Kind::Buffer;
      Arg.Buffer = {BufferRef::Space::Fault, 0, IndexFaultBytes};
      break;
    case LaunchArg::Kind::IndexCheck: {
      // The checks were found on the graph before specialization, whose
      // nodes the bucket's graph keeps by name.
      Arg.K = KernelArg::Kind::I32;
      Arg.Int = -1;
      std::string Node = W.N->describe();
      for (size_t I = 0; I < Checks.size(); ++I)
        if (Checks[I].Node == Node && Checks[I].Table == A.Table) {
          Arg.Int = int64_t(I);
          Checks[I].ReportedOnDevice = true;
          break;
        }
      break;
    }
    }
    K.Args.push_back(Arg);
  }
  Plan.Steps.push_back(std::move(K));
  return llvm::Error::success();
}

const Node *BucketLowering::soleSkipLayerNormUser(const Node &Gemm) const {
  const Value *R = Gemm.result();
  if (R->uses().size() != 1 || llvm::is_contained(G.outputs(), R))
    return nullptr;
  const Use &U = R->uses().front();
  return U.User->opName() == "SkipLayerNorm" && U.OperandIndex == 0 ? U.User
                                                                    : nullptr;
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
  // A SkipLayerNorm that runs as one kernel with the GEMM before it: that
  // kernel and its operands (the GEMM's, then the SkipLayerNorm's but x).
  llvm::DenseMap<const Node *,
                 std::pair<KernelLaunch, std::vector<const Value *>>>
      WithGemm;
  // SkipLayerNorms whose GEMM adds the skip: they run as LayerNorms.
  llvm::DenseSet<const Node *> AsLayerNorm;
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
    NodeWork W{N, NodeKind::Kernels, {}, {}, {}, {}};
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
        geluIntoGemmEpilogue(W.Gemm, Target);
        if (const Node *LN = soleSkipLayerNormUser(*N))
          if (auto L = gemmSkipLayerNorm(W.Gemm, *LN, Target)) {
            // The GEMM's result never exists: the SkipLayerNorm's kernel
            // computes it.
            std::vector<const Value *> Ops = {
                N->operand(0), N->operand(1),
                N->numOperands() > 2 ? N->operand(2) : nullptr};
            for (unsigned I = 1; I < 5; ++I)
              Ops.push_back(I < LN->numOperands() ? LN->operand(I) : nullptr);
            WithGemm[LN] = {std::move(*L), std::move(Ops)};
            W.Kind = NodeKind::Absorbed;
          }
        if (W.Kind == NodeKind::Gemm)
          biasGemmOnCutlass(W.Gemm, Target);
        if (const Node *LN = soleSkipLayerNormUser(*N);
            LN && W.Kind == NodeKind::Gemm) {
          // The skip and any extra bias must exist when the GEMM runs.
          bool Ready = true;
          for (unsigned I : {1u, 4u})
            if (I < LN->numOperands() && LN->operand(I))
              Ready &= Locs.count(LN->operand(I)) > 0;
          if (residualIntoGemm(W.Gemm, *LN, Target, Ready, &W.ExtraBias)) {
            W.Residual = LN->operand(1);
            use(W.Residual, Time);
            if (W.ExtraBias)
              use(W.ExtraBias, Time);
            AsLayerNorm.insert(LN);
          }
        }
      }
    } else if (AsLayerNorm.count(N)) {
      auto Lowered = lowerSkipLayerNormAsLayerNorm(*N);
      if (!Lowered)
        return Lowered.takeError();
      W.Lowering = std::move(*Lowered);
    } else if (auto It = WithGemm.find(N); It != WithGemm.end()) {
      W.Lowering.Launches.push_back(std::move(It->second.first));
      W.Operands = std::move(It->second.second);
      for (const Value *Op : W.Operands)
        if (Op)
          use(Op, Time);
    }
    // Everything else, and a MatMul cuBLASLt does not take, runs kernels.
    if (W.Kind == NodeKind::Kernels && W.Operands.empty() &&
        !AsLayerNorm.count(N)) {
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
    } else if (W.Kind != NodeKind::Absorbed) {
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
    case NodeKind::Absorbed:
    case NodeKind::View: break;
    case NodeKind::Gemm: {
      if (auto Fused = ownGemm(W.Gemm, Target)) {
        if (llvm::Error E = emitKernel(W, *Fused, Plan))
          return std::move(E);
        break;
      }
      GemmStep S = W.Gemm.Step;
      S.A = ref(W.N->operand(0));
      S.B = ref(W.N->operand(1));
      S.D = ref(W.N->result());
      if (W.Gemm.HasBias)
        S.Bias = ref(W.N->operand(2));
      if (W.ExtraBias)
        S.Bias = ref(W.ExtraBias);
      if (W.Residual)
        S.C = ref(W.Residual);
      Plan.Steps.push_back(std::move(S));
      if (W.Gemm.GeluAfter)
        if (llvm::Error E = emitKernel(
                W,
                geluAfterGemm(W.N->result()->dtype(),
                              W.N->result()->type().staticNumElements(),
                              Target),
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

} // namespace

llvm::Expected<BucketPlan>
lowerBucket(const Graph &G, size_t BucketIndex, const TargetInfo &Target,
            WeightTable &Weights, KernelTable &Kernels,
            llvm::MutableArrayRef<IndexCheck> Checks) {
  return BucketLowering(G, BucketIndex, Target, Weights, Kernels, Checks).run();
}

} // namespace kiln
