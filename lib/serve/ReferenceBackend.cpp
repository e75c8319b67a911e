//===- ReferenceBackend.cpp - serve from tokenizer.json on the CPU --------===//
//
// Everything model-specific that the server needs, in one file, so that the
// text API can replace it: input roles by the artifact's record or by name,
// padding, the maximum input length (the position-embedding rows, else the
// largest sequence bucket, else the tokenizer's truncation, else 512), and
// the embedding width found by running a one-token input at load.
//
//===----------------------------------------------------------------------===//
#include "serve/ReferenceBackend.h"

#include "common/ModelLoader.h"
#include "ir/Error.h"
#include "runtime/Artifact.h"
#include "runtime/ReferenceExecutor.h"
#include "tokenizer/Tokenizer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace kiln::serve {
namespace {

enum class Role { Ids, Mask, Types };

class ReferenceBackend final : public Backend {
public:
  std::string Name;
  std::unique_ptr<Graph> G;
  std::vector<Role> Roles;
  std::vector<DType> InputTypes;
  // tokenizers' truncation is a setting, not an argument: one tokenizer per
  // way of truncating keeps tokenize() free of locks.
  std::optional<tokenizer::Tokenizer> Whole, CutRight, CutLeft;
  size_t Dim = 0, MaxLength = 512, Vocab = 0;
  std::vector<size_t> Buckets;
  struct Dev {
    std::atomic<bool> Up{true};
    std::atomic<uint64_t> Calls{0};
  };
  std::vector<std::unique_ptr<Dev>> Devs;
  long FaultDevice = -1;
  uint64_t FaultAfter = 0;

  std::string modelName() const override { return Name; }
  std::string dtype() const override { return "float32"; }
  size_t dimension() const override { return Dim; }
  size_t maxInputLength() const override { return MaxLength; }
  size_t vocabSize() const override { return Vocab; }
  std::vector<size_t> seqBuckets() const override { return Buckets; }
  size_t maxBatchSize() const override { return 0; }

  std::optional<Failure> tokenize(std::string_view Text, bool Truncate,
                                  Side Direction, Tokens &Out) const override {
    const tokenizer::Tokenizer &T = !Truncate                 ? *Whole
                                    : Direction == Side::Left ? *CutLeft
                                                              : *CutRight;
    tokenizer::Encoding E;
    if (llvm::Error Err =
            T.encode(llvm::StringRef(Text.data(), Text.size()), E))
      return Failure{Failure::BadInput, llvm::toString(std::move(Err))};
    Out.Ids = std::move(E.Ids);
    Out.TypeIds = std::move(E.TypeIds);
    return std::nullopt;
  }

  std::optional<Failure> run(const std::vector<const Tokens *> &Batch,
                             std::vector<std::vector<float>> &Out) const {
    size_t Seq = 1;
    for (const Tokens *T : Batch)
      Seq = std::max(Seq, T->Ids.size());
    int64_t B = int64_t(Batch.size());
    std::vector<Tensor> Inputs;
    for (size_t I = 0; I < Roles.size(); ++I) {
      std::vector<int64_t> V(size_t(B) * Seq, 0);
      for (int64_t R = 0; R < B; ++R) {
        const Tokens &T = *Batch[size_t(R)];
        for (size_t C = 0; C < T.Ids.size(); ++C)
          V[size_t(R) * Seq + C] =
              Roles[I] == Role::Ids ? T.Ids[C]
              : Roles[I] == Role::Mask
                  ? 1
                  : (C < T.TypeIds.size() ? T.TypeIds[C] : 0);
      }
      Inputs.push_back(Tensor::fromInts(InputTypes[I], {B, int64_t(Seq)}, V));
    }
    auto Outputs = runReference(*G, Inputs);
    if (!Outputs)
      return Failure{Failure::DeviceFailed,
                     llvm::toString(Outputs.takeError())};
    const Tensor &E = (*Outputs)[0];
    if (E.rank() != 2 || E.dim(0) != B)
      return Failure{Failure::DeviceFailed,
                     "the model's first output is not [batch, dim]"};
    std::vector<double> D = E.toDoubles();
    size_t W = size_t(E.dim(1));
    Out.resize(Batch.size());
    for (size_t R = 0; R < Batch.size(); ++R)
      Out[R].assign(D.begin() + long(R * W), D.begin() + long((R + 1) * W));
    return std::nullopt;
  }

  std::optional<Failure> embed(size_t Device,
                               const std::vector<const Tokens *> &Batch,
                               std::vector<std::vector<float>> &Out) override {
    Dev &D = *Devs[Device];
    uint64_t Call = ++D.Calls;
    if (long(Device) == FaultDevice && Call >= FaultAfter) {
      D.Up = false;
      return Failure{Failure::DeviceFailed, "device " + std::to_string(Device) +
                                                " lost (KILN_FAULT_INJECT)"};
    }
    return run(Batch, Out);
  }

  std::vector<DeviceState> devices() const override {
    std::vector<DeviceState> S;
    for (size_t I = 0; I < Devs.size(); ++I)
      S.push_back({"cpu:" + std::to_string(I), Devs[I]->Up.load()});
    return S;
  }
};

llvm::Error parseFault(llvm::StringRef Spec, ReferenceBackend &B) {
  // device:D:after:K
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  Spec.split(Parts, ':');
  unsigned long long D, K;
  if (Parts.size() != 4 || Parts[0] != "device" || Parts[2] != "after" ||
      llvm::getAsUnsignedInteger(Parts[1], 10, D) ||
      llvm::getAsUnsignedInteger(Parts[3], 10, K))
    return makeError("KILN_FAULT_INJECT expects device:D:after:K, got '" +
                     Spec + "'");
  B.FaultDevice = long(D);
  B.FaultAfter = K;
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::unique_ptr<Backend>>
createReferenceBackend(const ReferenceBackendOptions &Options) {
  auto B = std::make_unique<ReferenceBackend>();
  llvm::StringRef Path = Options.ModelPath;
  B->Name = llvm::sys::path::stem(Path).str();
  std::optional<Artifact> A;
  if (Path.ends_with(".kiln")) {
    auto Read = readArtifact(Path);
    if (!Read)
      return Read.takeError();
    auto G = artifactGraph(*Read);
    if (!G)
      return G.takeError();
    B->G = std::move(*G);
    A.emplace(std::move(*Read));
    if (!A->Meta.ModelName.empty())
      B->Name = A->Meta.ModelName;
  } else {
    auto G = loadModel(Path);
    if (!G)
      return G.takeError();
    B->G = std::move(*G);
  }
  for (size_t I = 0; I < B->G->inputs().size(); ++I) {
    const Value *V = B->G->inputs()[I];
    llvm::StringRef N = V->name();
    Role R = N.contains("mask")   ? Role::Mask
             : N.contains("type") ? Role::Types
                                  : Role::Ids;
    if (A && I < A->Meta.Inputs.size()) {
      IoRole IR = A->Meta.Inputs[I].Role;
      R = IR == IoRole::AttentionMask ? Role::Mask
          : IR == IoRole::TokenTypes  ? Role::Types
                                      : Role::Ids;
    }
    B->Roles.push_back(R);
    B->InputTypes.push_back(V->dtype());
  }
  if (B->G->outputs().empty())
    return makeError(Path + ": the model has no output");

  std::string TokPath = Options.TokenizerPath;
  if (TokPath.empty()) {
    llvm::SmallString<256> Beside = llvm::sys::path::parent_path(Path);
    llvm::sys::path::append(Beside, "tokenizer.json");
    TokPath = std::string(Beside);
  }
  for (auto *T : {&B->Whole, &B->CutRight, &B->CutLeft}) {
    auto Tok = tokenizer::Tokenizer::load(TokPath);
    if (!Tok)
      return Tok.takeError();
    T->emplace(std::move(*Tok));
  }
  B->Vocab = B->Whole->vocabSize();

  // The longest input: the position embeddings' rows when the model has
  // them, else the largest compiled sequence, else the tokenizer's limit.
  size_t TokMax = B->Whole->truncation().MaxLength;
  B->MaxLength = TokMax ? TokMax : 512;
  for (const Value *C : B->G->constants())
    if (llvm::StringRef(C->name()).contains("position_embeddings") &&
        C->rank() == 2 && C->type().Dims[0].isStatic())
      B->MaxLength = size_t(C->type().Dims[0].value());
  if (A && !A->Meta.SeqBuckets.empty()) {
    for (int64_t S : A->Meta.SeqBuckets)
      B->Buckets.push_back(size_t(S));
    B->MaxLength = B->Buckets.back();
  }
  for (auto *T : {&B->CutRight, &B->CutLeft}) {
    tokenizer::Truncation Tr = (*T)->truncation();
    Tr.MaxLength = B->MaxLength;
    Tr.Side = T == &B->CutLeft ? tokenizer::Direction::Left
                               : tokenizer::Direction::Right;
    if (llvm::Error E = (*T)->setTruncation(Tr))
      return std::move(E);
  }
  if (llvm::Error E = B->Whole->setTruncation({}))
    return std::move(E);

  for (size_t I = 0; I < std::max<size_t>(Options.Devices, 1); ++I)
    B->Devs.push_back(std::make_unique<ReferenceBackend::Dev>());
  std::string Fault = Options.FaultInject;
  if (Fault.empty())
    if (const char *Env = std::getenv("KILN_FAULT_INJECT"))
      Fault = Env;
  if (!Fault.empty())
    if (llvm::Error E = parseFault(Fault, *B))
      return std::move(E);

  // The width, from a run on the empty text (also checks the model runs).
  Tokens Probe;
  if (auto F = B->tokenize("", true, Side::Right, Probe))
    return makeError(TokPath + ": " + F->Message);
  std::vector<std::vector<float>> Out;
  if (auto F = B->run({&Probe}, Out))
    return makeError(Path + ": " + F->Message);
  B->Dim = Out[0].size();
  return std::unique_ptr<Backend>(std::move(B));
}

} // namespace kiln::serve
