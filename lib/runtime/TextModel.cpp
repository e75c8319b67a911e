//===- TextModel.cpp - text in, embeddings out ----------------------------===//
//
// Tokenize, sort by length, batch, run on the reference executor (or its
// logical devices, TextModelCpuDevices.h) or the GPU engine, put the rows
// back in the caller's order. kiln/TextModel.h says what is promised; this
// file adds no model logic, and no device logic: failover is the engine's
// (DeviceGroup) or the CPU devices' (the same Failover).
//
//===----------------------------------------------------------------------===//
#include "kiln/TextModel.h"

#include "ir/Error.h"
#include "runtime/EngineInternal.h"
#include "runtime/ReferenceExecutor.h"
#include "runtime/TextModelCpuDevices.h"
#include "runtime/TextModelInternal.h"
#include "tokenizer/EncoderPool.h"
#include "tokenizer/Tokenizer.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

using namespace kiln;
using llvm::Error;
using llvm::Expected;

namespace {

/// The GPU engine (over one device or several) and the contexts no call is
/// using.
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
  /// Truncating to MaxLength from the right and from the left, and not
  /// truncating (to refuse long texts).
  std::optional<tokenizer::Tokenizer> Tok, LeftTok, FullTok;
  /// Why embed() cannot work (no tokenizer, no [batch, dim] output, ...).
  std::string TextProblem;
  int IdsInput = -1, MaskInput = -1, TypesInput = -1, OutputIndex = -1;
  size_t Dimension = 0, MaxLength = 0, MaxBatch = CpuBatch;
  uint32_t PadId = 0;
  std::unique_ptr<Graph> G; // CPU
  /// CPU with several logical devices or faults to inject (after G: it
  /// runs G, so it goes first).
  std::unique_ptr<CpuDevices> Cpus;
  std::unique_ptr<GpuSlot> Gpu;
  std::vector<std::string> DeviceNames;
  /// Batches embed() runs at once: every context of every device.
  size_t Parallel = 1;
  /// Tokenizes embed()'s texts (parallelFor may be called concurrently).
  std::unique_ptr<tokenizer::EncoderPool> Pool;

  using MakeTokenizer = llvm::function_ref<Expected<tokenizer::Tokenizer>()>;
  /// `Make` is null when the model carries no tokenizer.
  Error configure(MakeTokenizer Make, std::string TokenizerType,
                  int64_t SentenceMax);
  /// configure() with a tokenizer.json document (empty: no tokenizer).
  Error configureJson(const std::string &Json, int64_t SentenceMax);
  /// The CPU's logical devices, when Options ask for more than one device
  /// or for faults (G and Meta set).
  Error setUpCpuDevices(const TextModelOptions &Options);
  Expected<std::vector<Tensor>> runBatch(llvm::ArrayRef<Tensor> Inputs) const;
  const tokenizer::Tokenizer &tokenizerFor(const EmbedOptions &O) const {
    return !O.Truncate                      ? *FullTok
           : O.Side == TruncationSide::Left ? *LeftTok
                                            : *Tok;
  }
  /// Runs one batch (at most MaxBatch rows), padded to its longest row;
  /// row R of the embedding goes to RowOut(R).
  Error embedRows(llvm::ArrayRef<TokenView> Rows,
                  llvm::function_ref<float *(size_t)> RowOut) const;
};

/// Which inputs take ids, mask and token types, which output is the
/// embedding, how long a text may be; what embed() cannot do is kept in
/// TextProblem rather than failing the load, so run() still works.
Error TextModel::Impl::configure(MakeTokenizer Make, std::string TokenizerType,
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

  if (!Make) {
    Problem("the model carries no tokenizer (kiln compile --tokenizer)");
    return Error::success();
  }
  auto T = Make();
  if (!T)
    return T.takeError();
  auto Left = Make();
  if (!Left)
    return Left.takeError();
  auto Full = Make();
  if (!Full)
    return Full.takeError();
  Info.TokenizerType = std::move(TokenizerType);
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
  Cut.Side = tokenizer::Direction::Left;
  if (Error E = Left->setTruncation(Cut))
    return E;
  Cut.MaxLength = 0;
  if (Error E = Full->setTruncation(Cut))
    return E;
  PadId = T->padding().Enabled ? T->padding().PadId
                               : T->tokenToId("[PAD]").value_or(0);
  Tok.emplace(std::move(*T));
  LeftTok.emplace(std::move(*Left));
  FullTok.emplace(std::move(*Full));
  return Error::success();
}

Error TextModel::Impl::configureJson(const std::string &Json,
                                     int64_t SentenceMax) {
  if (Json.empty())
    return configure(nullptr, "", SentenceMax);
  std::string Type;
  if (auto J = llvm::json::parse(Json)) {
    if (const llvm::json::Object *Root = J->getAsObject())
      if (const llvm::json::Object *M = Root->getObject("model"))
        if (std::optional<llvm::StringRef> T = M->getString("type"))
          Type = T->str();
  } else {
    llvm::consumeError(J.takeError());
  }
  return configure(
      [&] { return tokenizer::Tokenizer::fromJson(Json, "the tokenizer"); },
      std::move(Type), SentenceMax);
}

/// Whether Options ask for the failover of several (logical) devices:
/// more than one, faults to inject, or a partition.
static bool wantsDeviceGroup(const TextModelOptions &Options) {
  const char *Env = std::getenv("KILN_FAULT_INJECT");
  return Options.Devices.size() > 1 || !Options.Faults.empty() ||
         (Env && *Env) || Options.Partition != PartitionMode::FromArtifact;
}

Error TextModel::Impl::setUpCpuDevices(const TextModelOptions &Options) {
  size_t N = std::max<size_t>(Options.Devices.size(), 1);
  for (size_t D = 0; D < N; ++D)
    DeviceNames.push_back("cpu:" + std::to_string(D));
  if (!wantsDeviceGroup(Options))
    return Error::success();
  if (Options.Partition == PartitionMode::Pipeline)
    return makeError("a pipeline partition needs GPUs; logical CPU devices "
                     "each run the whole model");
  // A probe runs one token (a mask of 1) through the whole model.
  std::vector<Tensor> Probe;
  for (const IoSpec &S : Meta.Inputs) {
    std::vector<int64_t> Dims;
    for (const Dim &D : S.Dims)
      Dims.push_back(D.isStatic() ? D.value() : 1);
    Probe.emplace_back(S.Type, Dims);
    if (S.Role == IoRole::AttentionMask)
      for (int64_t E = 0; E < Probe.back().numElements(); ++E)
        Probe.back().setInt(E, 1);
  }
  auto C = CpuDevices::create(*G, unsigned(N), Options.ContextsPerDevice,
                              Options.Faults, std::move(Probe));
  if (!C)
    return C.takeError();
  Cpus = std::move(*C);
  Parallel = N * Options.ContextsPerDevice;
  return Error::success();
}

Expected<std::vector<Tensor>>
TextModel::Impl::runBatch(llvm::ArrayRef<Tensor> Inputs) const {
  if (Cpus)
    return Cpus->run(Inputs);
  if (Where == Device::CPU)
    return runReference(*G, Inputs);
  GpuSlot &S = *Gpu;
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

Error TextModel::Impl::embedRows(
    llvm::ArrayRef<TokenView> Rows,
    llvm::function_ref<float *(size_t)> RowOut) const {
  int64_t N = int64_t(Rows.size()), Seq = 1;
  for (const TokenView &V : Rows)
    Seq = std::max<int64_t>(Seq, V.Ids.size());
  std::vector<Tensor> Inputs;
  for (const IoSpec &S : Meta.Inputs)
    Inputs.emplace_back(S.Type, std::vector<int64_t>{N, Seq});
  // Element by element through a typed pointer for the usual i64 and i32
  // inputs (the tensors start zeroed: padding needs no write but PadId's);
  // setInt's per-element dtype switch only for other types.
  auto Fill = [&](int Input, auto Value) {
    if (Input < 0)
      return;
    Tensor &T = Inputs[Input];
    auto Write = [&](auto *D) {
      for (int64_t R = 0; R < N; ++R)
        for (int64_t S = 0; S < Seq; ++S)
          D[R * Seq + S] = static_cast<std::remove_reference_t<decltype(*D)>>(
              Value(Rows[R], S));
    };
    if (T.dtype() == DType::I64)
      Write(T.mutableData<int64_t>());
    else if (T.dtype() == DType::I32)
      Write(T.mutableData<int32_t>());
    else
      for (int64_t R = 0; R < N; ++R)
        for (int64_t S = 0; S < Seq; ++S)
          T.setInt(R * Seq + S, Value(Rows[R], S));
  };
  Fill(IdsInput, [&](const TokenView &V, int64_t S) -> int64_t {
    return S < int64_t(V.Ids.size()) ? V.Ids[S] : PadId;
  });
  Fill(MaskInput, [](const TokenView &V, int64_t S) -> int64_t {
    return S < int64_t(V.Ids.size()) ? 1 : 0;
  });
  Fill(TypesInput, [](const TokenView &V, int64_t S) -> int64_t {
    return S < int64_t(V.Ids.size()) && size_t(S) < V.TypeIds.size()
               ? V.TypeIds[S]
               : 0;
  });
  auto Result = runBatch(Inputs);
  if (!Result)
    return Result.takeError();
  const Tensor &Y = (*Result)[OutputIndex];
  if (Y.rank() != 2 || Y.dim(0) != N || Y.dim(1) != int64_t(Dimension))
    return makeError("output '" + Info.Output + "' is " + Y.type().str() +
                     ", expected [" + std::to_string(N) + ", " +
                     std::to_string(Dimension) + "]");
  for (int64_t R = 0; R < N; ++R) {
    float *Row = RowOut(size_t(R));
    if (Y.dtype() == DType::F32)
      std::memcpy(Row, Y.data<float>() + R * int64_t(Dimension),
                  Dimension * sizeof(float));
    else
      for (size_t C = 0; C < Dimension; ++C)
        Row[C] = float(Y.getDouble(R * int64_t(Dimension) + int64_t(C)));
  }
  return Error::success();
}

TextModel::TextModel(std::unique_ptr<Impl> I) : P(std::move(I)) {}
TextModel::~TextModel() = default;

size_t TextModel::dimension() const { return P->Dimension; }
size_t TextModel::maxLength() const { return P->MaxLength; }
bool TextModel::hasTokenizer() const { return P->Tok.has_value(); }
Device TextModel::device() const { return P->Where; }
const TextModelInfo &TextModel::info() const { return P->Info; }
const ModelInfo &TextModel::model() const { return P->Model; }
std::vector<TextModelDevice> TextModel::devices() const {
  std::vector<DeviceState> States = P->Cpus  ? P->Cpus->devices()
                                    : P->Gpu ? P->Gpu->E->devices()
                                             : std::vector<DeviceState>(1);
  std::vector<TextModelDevice> Out;
  for (size_t D = 0; D < States.size(); ++D) {
    const DeviceState &S = States[D];
    Out.push_back({D < P->DeviceNames.size() ? P->DeviceNames[D]
                                             : "device " + std::to_string(D),
                   S.Health, S.LastError, S.Runs, S.Failures});
  }
  return Out;
}
size_t TextModel::maxBatch() const { return P->MaxBatch; }
size_t TextModel::tokenizerThreads() const { return P->Pool->threads(); }
size_t TextModel::vocabSize() const { return P->Tok ? P->Tok->vocabSize() : 0; }

Expected<TokenizedText> TextModel::tokenize(std::string_view Text,
                                            const EmbedOptions &Options) const {
  if (!P->TextProblem.empty())
    return makeError("cannot tokenize text: " + P->TextProblem);
  tokenizer::Encoding E;
  if (Error Err = P->tokenizerFor(Options).encode(
          llvm::StringRef(Text.data(), Text.size()), E))
    return std::move(Err);
  return TokenizedText{std::move(E.Ids), std::move(E.TypeIds)};
}

Error TextModel::tokenizeBatch(std::span<const std::string> Texts,
                               std::vector<TokenizedText> &Out,
                               const EmbedOptions &Options) const {
  if (!P->TextProblem.empty())
    return makeError("cannot tokenize text: " + P->TextProblem);
  std::vector<tokenizer::Encoding> Enc;
  if (Error E = encodeBatch(P->tokenizerFor(Options), *P->Pool, Texts, Enc))
    return E;
  Out.resize(Texts.size());
  for (size_t T = 0; T < Texts.size(); ++T)
    Out[T] = {std::move(Enc[T].Ids), std::move(Enc[T].TypeIds)};
  return Error::success();
}

Expected<std::vector<float>>
TextModel::embedTokens(std::span<const TokenView> Batch) const {
  const Impl &I = *P;
  if (!I.TextProblem.empty())
    return makeError("cannot embed text: " + I.TextProblem);
  for (size_t T = 0; T < Batch.size(); ++T)
    if (I.MaxLength && Batch[T].Ids.size() > I.MaxLength)
      return makeError("input " + std::to_string(T) + " has " +
                       std::to_string(Batch[T].Ids.size()) +
                       " tokens, more than the model's " +
                       std::to_string(I.MaxLength));
  std::vector<float> Out(Batch.size() * I.Dimension);
  llvm::ArrayRef<TokenView> All(Batch.data(), Batch.size());
  for (size_t Begin = 0; Begin < All.size(); Begin += I.MaxBatch) {
    size_t Rows = std::min(I.MaxBatch, All.size() - Begin);
    if (Error E = I.embedRows(All.slice(Begin, Rows), [&](size_t R) {
          return &Out[(Begin + R) * I.Dimension];
        }))
      return std::move(E);
  }
  return Out;
}

Expected<std::vector<float>>
TextModel::embed(std::span<const std::string> Texts,
                 const EmbedOptions &Options) const {
  const Impl &I = *P;
  if (!I.TextProblem.empty())
    return makeError("cannot embed text: " + I.TextProblem);
  size_t N = Texts.size();
  std::vector<tokenizer::Encoding> Enc;
  if (Error E = encodeBatch(I.tokenizerFor(Options), *I.Pool, Texts, Enc))
    return std::move(E);
  for (size_t T = 0; T < N; ++T) {
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

  std::vector<TokenView> Views(N);
  for (size_t R = 0; R < N; ++R)
    Views[R] = {Enc[Order[R]].Ids, Enc[Order[R]].TypeIds};
  auto RunBatch = [&](size_t B) -> Error {
    size_t Begin = B * I.MaxBatch, End = std::min(N, Begin + I.MaxBatch);
    return I.embedRows(
        llvm::ArrayRef<TokenView>(Views).slice(Begin, End - Begin),
        [&](size_t R) { return &Out[Order[Begin + R] * I.Dimension]; });
  };

  size_t Threads = std::min(I.Parallel, Batches);
  if (Threads <= 1) {
    for (size_t B = 0; B < Batches; ++B)
      if (Error E = RunBatch(B))
        return std::move(E);
    return Out;
  }
  // Several devices: as many threads as they run batches at once, each
  // taking the next batch until none is left; the devices' failover
  // places them.
  std::atomic<size_t> Next{0};
  std::vector<std::string> Errors(Threads);
  std::vector<std::thread> Pool;
  for (size_t T = 0; T < Threads; ++T)
    Pool.emplace_back([&, T] {
      for (size_t B; (B = Next++) < Batches;)
        if (Error E = RunBatch(B)) {
          Errors[T] = llvm::toString(std::move(E));
          Next = Batches;
        }
    });
  for (std::thread &T : Pool)
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
  auto Out = P->runBatch(In);
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
    if (Error E = I->setUpCpuDevices(Options))
      return withContext(std::move(E), Path);
  } else {
    std::vector<int> Devices = Options.Devices;
    if (Devices.empty())
      Devices = {0};
    EngineOptions EO;
    if (wantsDeviceGroup(Options)) {
      EO.Devices = Devices;
      EO.Partition = Options.Partition;
      EO.ContextsPerDevice = Options.ContextsPerDevice;
      EO.Faults = Options.Faults;
      I->Parallel = Devices.size() * Options.ContextsPerDevice;
    } else {
      EO.Device = Devices[0];
    }
    auto E = createEngine(*A, EO);
    if (!E)
      return withContext(E.takeError(), Path);
    I->Gpu = std::make_unique<GpuSlot>();
    I->Gpu->E = std::move(*E);
    // One card listed twice (--devices 0,0) is two logical devices: their
    // names must still tell them apart.
    std::map<int, int> Seen;
    for (int D : Devices) {
      int K = Seen[D]++;
      I->DeviceNames.push_back("cuda:" + std::to_string(D) +
                               (K ? "#" + std::to_string(K) : ""));
    }
    I->Model = I->Gpu->E->model();
    if (!I->Model.BatchBuckets.empty())
      I->MaxBatch = size_t(I->Model.BatchBuckets.back());
  }
  if (Options.MaxBatch)
    I->MaxBatch = Options.MaxBatch;
  I->Pool = std::make_unique<tokenizer::EncoderPool>(Options.TokenizerThreads);
  if (Error E = I->configureJson(A->Tokenizer, A->Meta.SentenceMaxSeqLength))
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

/// A CPU Impl of `G` with its roles, not yet configured.
static Expected<std::unique_ptr<TextModel::Impl>>
cpuImpl(std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
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
  I->Pool = std::make_unique<tokenizer::EncoderPool>(Options.TokenizerThreads);
  I->G = std::move(G);
  if (Error E = I->setUpCpuDevices(Options))
    return std::move(E);
  return I;
}

Expected<std::unique_ptr<TextModel>> kiln::createTextModel(
    std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
    const std::string &TokenizerJson, int64_t SentenceMaxSeqLength,
    const TextModelOptions &Options) {
  auto I = cpuImpl(std::move(G), Roles, Options);
  if (!I)
    return I.takeError();
  if (Error E = (*I)->configureJson(TokenizerJson, SentenceMaxSeqLength))
    return std::move(E);
  return std::make_unique<TextModel>(std::move(*I));
}

Expected<std::unique_ptr<TextModel>> kiln::createTextModelFromFile(
    std::unique_ptr<Graph> G, const std::vector<IoRole> &Roles,
    const std::string &TokenizerPath, int64_t SentenceMaxSeqLength,
    const TextModelOptions &Options) {
  auto Buf = llvm::MemoryBuffer::getFile(TokenizerPath);
  if (!Buf)
    return makeError(TokenizerPath + ": " + Buf.getError().message());
  std::string Text = (*Buf)->getBuffer().str();
  if (!llvm::StringRef(TokenizerPath).ends_with(".txt"))
    return createTextModel(std::move(G), Roles, Text, SentenceMaxSeqLength,
                           Options);
  auto I = cpuImpl(std::move(G), Roles, Options);
  if (!I)
    return I.takeError();
  if (Error E = (*I)->configure(
          [&] { return tokenizer::Tokenizer::fromVocab(Text, {}); },
          "WordPiece", SentenceMaxSeqLength))
    return withContext(std::move(E), TokenizerPath);
  return std::make_unique<TextModel>(std::move(*I));
}
