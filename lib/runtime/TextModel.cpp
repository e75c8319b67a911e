//===- TextModel.cpp - text in, embeddings out ----------------------------===//
//
// Tokenize, sort by length, batch, run on the reference executor or the
// GPU engines, put the rows back in the caller's order. kiln/TextModel.h
// says what is promised; this file adds no model logic.
//
//===----------------------------------------------------------------------===//
#include "kiln/TextModel.h"

#include "ir/Error.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"
#include "runtime/TextModelInternal.h"
#include "tokenizer/Tokenizer.h"

#include "llvm/Support/JSON.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

using namespace kiln;
using llvm::Error;
using llvm::Expected;

namespace {

/// One GPU: its engine and the contexts no call is using.
struct GpuSlot {
  std::unique_ptr<Engine> E;
  std::mutex Mu;
  std::vector<std::unique_ptr<ExecutionContext>> Free;
};

constexpr size_t CpuBatch = 32;

} // namespace

struct TextModel::Impl {
  Device Where = Device::CPU;
  ArtifactMetadata Meta; // inputs with their roles, outputs, pooling
  ModelInfo Model;
  TextModelInfo Info;
  /// Truncating to MaxLength, and not truncating (to refuse long texts).
  std::optional<tokenizer::Tokenizer> Tok, FullTok;
  /// Why embed() cannot work (no tokenizer, no [batch, dim] output, ...).
  std::string TextProblem;
  int IdsInput = -1, MaskInput = -1, TypesInput = -1, OutputIndex = -1;
  size_t Dimension = 0, MaxLength = 0, MaxBatch = CpuBatch;
  uint32_t PadId = 0;
  std::unique_ptr<Graph> G; // CPU
  std::vector<std::unique_ptr<GpuSlot>> Gpus;

  Error configure(const std::string &TokenizerJson, int64_t SentenceMax);
  Expected<std::vector<Tensor>> runBatch(llvm::ArrayRef<Tensor> Inputs,
                                         size_t Gpu) const;
};

/// Which inputs take ids, mask and token types, which output is the
/// embedding, how long a text may be; what embed() cannot do is kept in
/// TextProblem rather than failing the load, so run() still works.
Error TextModel::Impl::configure(const std::string &TokenizerJson,
                                 int64_t SentenceMax) {
  auto Problem = [&](std::string Why) {
    if (TextProblem.empty())
      TextProblem = std::move(Why);
  };
  for (size_t I = 0; I < Meta.Inputs.size(); ++I) {
    const IoSpec &S = Meta.Inputs[I];
    int &Slot = S.Role == IoRole::AttentionMask ? MaskInput
                : S.Role == IoRole::TokenTypes  ? TypesInput
                                                : IdsInput;
    if (Slot >= 0 || S.Dims.size() != 2 || isFloat(S.Type))
      Problem("input '" + S.Name +
              "' is not one of the token ids, attention mask and token "
              "types, each [batch, seq] integers");
    Slot = int(I);
  }
  if (IdsInput < 0)
    Problem("no input takes token ids");
  if (Meta.Pooling && Meta.Pooling->Mode != "none") {
    Info.Output = Meta.Pooling->Output;
    Info.Pooling = Meta.Pooling->Mode;
    Info.Normalized = Meta.Pooling->Normalize;
  } else {
    Info.Pooling = Meta.Pooling ? "none" : "";
    for (const IoSpec &S : Meta.Outputs)
      if (S.Dims.size() == 2) {
        if (!Info.Output.empty())
          Problem("more than one [batch, dim] output and no pooling recorded "
                  "to choose one; use run()");
        Info.Output = S.Name;
      }
  }
  for (size_t I = 0; I < Meta.Outputs.size(); ++I)
    if (Meta.Outputs[I].Name == Info.Output) {
      OutputIndex = int(I);
      const Dim &D = Meta.Outputs[I].Dims.back();
      if (D.isStatic())
        Dimension = size_t(D.value());
    }
  if (OutputIndex < 0)
    Problem("no output is [batch, dim]: the model returns no embedding; use "
            "run()");
  else if (!Dimension)
    Problem("the embedding output '" + Info.Output + "' has no static width");

  if (TokenizerJson.empty()) {
    Problem("the model carries no tokenizer (kiln compile --tokenizer)");
    return Error::success();
  }
  auto T = tokenizer::Tokenizer::fromJson(TokenizerJson, "the tokenizer");
  if (!T)
    return T.takeError();
  auto Full = tokenizer::Tokenizer::fromJson(TokenizerJson, "the tokenizer");
  if (!Full)
    return Full.takeError();
  if (auto J = llvm::json::parse(TokenizerJson)) {
    if (const llvm::json::Object *Root = J->getAsObject())
      if (const llvm::json::Object *M = Root->getObject("model"))
        if (std::optional<llvm::StringRef> Type = M->getString("type"))
          Info.TokenizerType = Type->str();
  } else {
    llvm::consumeError(J.takeError());
  }
  auto Limit = [&](size_t N) {
    if (N && (!MaxLength || N < MaxLength))
      MaxLength = N;
  };
  Limit(T->truncation().MaxLength);
  Limit(size_t(std::max<int64_t>(SentenceMax, 0)));
  // The position tables' bound, recorded by kiln compile (0: unknown).
  Limit(size_t(std::max<int64_t>(Meta.MaxSequenceLength, 0)));
  if (Where == Device::GPU && !Model.SeqBuckets.empty())
    Limit(size_t(Model.SeqBuckets.back()));
  tokenizer::Truncation Cut = T->truncation();
  Cut.MaxLength = MaxLength;
  if (Error E = T->setTruncation(Cut))
    return E;
  Cut.MaxLength = 0;
  if (Error E = Full->setTruncation(Cut))
    return E;
  PadId = T->padding().Enabled ? T->padding().PadId
                               : T->tokenToId("[PAD]").value_or(0);
  Tok.emplace(std::move(*T));
  FullTok.emplace(std::move(*Full));
  return Error::success();
}

Expected<std::vector<Tensor>>
TextModel::Impl::runBatch(llvm::ArrayRef<Tensor> Inputs, size_t Gpu) const {
  if (Where == Device::CPU)
    return runReference(*G, Inputs);
  GpuSlot &S = *Gpus[Gpu];
  std::unique_ptr<ExecutionContext> Ctx;
  {
    std::lock_guard<std::mutex> Lock(S.Mu);
    if (!S.Free.empty()) {
      Ctx = std::move(S.Free.back());
      S.Free.pop_back();
    }
  }
  if (!Ctx) {
    auto C = S.E->createContext();
    if (!C)
      return C.takeError();
    Ctx = std::move(*C);
  }
  auto Out = runTensors(*Ctx, Inputs);
  std::lock_guard<std::mutex> Lock(S.Mu);
  S.Free.push_back(std::move(Ctx));
  return Out;
}

TextModel::TextModel(std::unique_ptr<Impl> I) : P(std::move(I)) {}
TextModel::~TextModel() = default;

size_t TextModel::dimension() const { return P->Dimension; }
size_t TextModel::maxLength() const { return P->MaxLength; }
bool TextModel::hasTokenizer() const { return P->Tok.has_value(); }
Device TextModel::device() const { return P->Where; }
const TextModelInfo &TextModel::info() const { return P->Info; }
const ModelInfo &TextModel::model() const { return P->Model; }

Expected<std::vector<float>>
TextModel::embed(std::span<const std::string> Texts,
                 const EmbedOptions &Options) const {
  const Impl &I = *P;
  if (!I.TextProblem.empty())
    return makeError("cannot embed text: " + I.TextProblem);
  size_t N = Texts.size();
  std::vector<tokenizer::Encoding> Enc(N);
  for (size_t T = 0; T < N; ++T) {
    if (Error E =
            (Options.Truncate ? *I.Tok : *I.FullTok).encode(Texts[T], Enc[T]))
      return withContext(std::move(E), "text " + std::to_string(T));
    if (I.MaxLength && Enc[T].Ids.size() > I.MaxLength)
      return makeError("text " + std::to_string(T) + " has " +
                       std::to_string(Enc[T].Ids.size()) +
                       " tokens, more than the model's " +
                       std::to_string(I.MaxLength) + " (truncation is off)");
  }
  // Similar lengths side by side: a batch is padded to its longest text.
  std::vector<size_t> Order(N);
  std::iota(Order.begin(), Order.end(), 0);
  std::stable_sort(Order.begin(), Order.end(), [&](size_t A, size_t B) {
    return Enc[A].Ids.size() < Enc[B].Ids.size();
  });
  size_t Batches = (N + I.MaxBatch - 1) / I.MaxBatch;
  std::vector<float> Out(N * I.Dimension);

  auto RunBatch = [&](size_t B, size_t Gpu) -> Error {
    size_t Begin = B * I.MaxBatch, End = std::min(N, Begin + I.MaxBatch);
    int64_t Rows = int64_t(End - Begin), Seq = 1;
    for (size_t R = Begin; R < End; ++R)
      Seq = std::max<int64_t>(Seq, Enc[Order[R]].Ids.size());
    std::vector<Tensor> Inputs;
    for (const IoSpec &S : I.Meta.Inputs)
      Inputs.emplace_back(S.Type, std::vector<int64_t>{Rows, Seq});
    for (int64_t R = 0; R < Rows; ++R) {
      const tokenizer::Encoding &E = Enc[Order[Begin + R]];
      for (int64_t S = 0; S < Seq; ++S) {
        bool Real = S < int64_t(E.Ids.size());
        int64_t At = R * Seq + S;
        Inputs[I.IdsInput].setInt(At, Real ? E.Ids[S] : I.PadId);
        if (I.MaskInput >= 0)
          Inputs[I.MaskInput].setInt(At, Real ? 1 : 0);
        if (I.TypesInput >= 0)
          Inputs[I.TypesInput].setInt(At, Real ? E.TypeIds[S] : 0);
      }
    }
    auto Result = I.runBatch(Inputs, Gpu);
    if (!Result)
      return Result.takeError();
    const Tensor &Y = (*Result)[I.OutputIndex];
    if (Y.rank() != 2 || Y.dim(0) != Rows || Y.dim(1) != int64_t(I.Dimension))
      return makeError("output '" + I.Info.Output + "' is " + Y.type().str() +
                       ", expected [" + std::to_string(Rows) + ", " +
                       std::to_string(I.Dimension) + "]");
    for (int64_t R = 0; R < Rows; ++R) {
      float *Row = &Out[Order[Begin + R] * I.Dimension];
      for (size_t C = 0; C < I.Dimension; ++C)
        Row[C] = float(Y.getDouble(R * int64_t(I.Dimension) + int64_t(C)));
    }
    return Error::success();
  };

  if (I.Where == Device::CPU || I.Gpus.size() == 1) {
    for (size_t B = 0; B < Batches; ++B)
      if (Error E = RunBatch(B, 0))
        return std::move(E);
    return Out;
  }
  // Several GPUs: one thread each, taking the next batch until none is left.
  std::atomic<size_t> Next{0};
  std::vector<std::string> Errors(I.Gpus.size());
  std::vector<std::thread> Threads;
  for (size_t G = 0; G < I.Gpus.size(); ++G)
    Threads.emplace_back([&, G] {
      for (size_t B; (B = Next++) < Batches;)
        if (Error E = RunBatch(B, G)) {
          Errors[G] = llvm::toString(std::move(E));
          Next = Batches;
        }
    });
  for (std::thread &T : Threads)
    T.join();
  for (const std::string &E : Errors)
    if (!E.empty())
      return makeError(E);
  return Out;
}

Expected<std::vector<HostTensor>>
TextModel::run(std::span<const HostTensor> Inputs) const {
  std::vector<Tensor> In;
  for (const HostTensor &T : Inputs)
    In.push_back(toTensor(T));
  auto Out = P->runBatch(In, 0);
  if (!Out)
    return Out.takeError();
  std::vector<HostTensor> Result;
  for (const Tensor &T : *Out)
    Result.push_back(toHostTensor(T));
  return Result;
}

Expected<std::unique_ptr<TextModel>>
TextModel::load(const std::string &Path, const TextModelOptions &Options) {
  auto A = readArtifact(Path);
  if (!A)
    return A.takeError();
  auto I = std::make_unique<Impl>();
  I->Where = Options.Where;
  I->Meta = A->Meta;
  if (Options.Where == Device::CPU) {
    auto G = artifactGraph(*A);
    if (!G)
      return withContext(G.takeError(), Path);
    I->G = std::move(*G);
    I->Model = modelInfo(A->Meta, A->Plan);
  } else {
    std::vector<int> Devices = Options.Devices;
    if (Devices.empty())
      Devices = {0};
    for (int D : Devices) {
      EngineOptions EO;
      EO.Device = D;
      auto E = createEngine(*A, EO);
      if (!E)
        return withContext(E.takeError(), Path);
      auto Slot = std::make_unique<GpuSlot>();
      Slot->E = std::move(*E);
      I->Gpus.push_back(std::move(Slot));
    }
    I->Model = I->Gpus[0]->E->model();
    if (!I->Model.BatchBuckets.empty())
      I->MaxBatch = size_t(I->Model.BatchBuckets.back());
  }
  if (Options.MaxBatch)
    I->MaxBatch = Options.MaxBatch;
  if (Error E = I->configure(A->Tokenizer, A->Meta.SentenceMaxSeqLength))
    return withContext(std::move(E), Path);
  return std::make_unique<TextModel>(std::move(I));
}

std::optional<OutputPooling> kiln::findOutputPooling(const Graph &G) {
  for (const Value *Out : G.outputs())
    if (const Node *N = Out->definingNode();
        N && N->opName() == "PoolNormalize")
      return OutputPooling{Out->name(), N->getString("mode", ""),
                           N->getInt("normalize", 0) != 0};
  return OutputPooling{"", "none", false};
}

Expected<std::unique_ptr<TextModel>> kiln::createTextModel(
    std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
    const std::string &TokenizerJson, int64_t SentenceMaxSeqLength,
    const TextModelOptions &Options) {
  if (Options.Where != Device::CPU)
    return makeError("a model that is not compiled runs on the CPU only");
  auto I = std::make_unique<TextModel::Impl>();
  I->Where = Device::CPU;
  auto Spec = [](const Value *V, IoRole Role) {
    const auto &Dims = V->type().Dims;
    return IoSpec{V->name(), V->dtype(),
                  std::vector<Dim>(Dims.begin(), Dims.end()), Role};
  };
  const auto &Inputs = G->inputs();
  for (size_t K = 0; K < Inputs.size(); ++K)
    I->Meta.Inputs.push_back(
        Spec(Inputs[K], K < Roles.size() ? Roles[K] : IoRole::None));
  for (const Value *V : G->outputs())
    I->Meta.Outputs.push_back(Spec(V, IoRole::None));
  I->Meta.Pooling = findOutputPooling(*G);
  I->Model = modelInfo(I->Meta, ExecutablePlan{});
  if (Options.MaxBatch)
    I->MaxBatch = Options.MaxBatch;
  I->G = std::move(G);
  if (Error E = I->configure(TokenizerJson, SentenceMaxSeqLength))
    return std::move(E);
  return std::make_unique<TextModel>(std::move(I));
}
