//===- kiln/TextModel.h - text in, embeddings out ---------------*- C++ -*-===//
//
// The one text API that every door uses (kiln embed, the C API of
// kiln/kiln.h, the Python package, kiln serve):
//
//   kiln::TextModelOptions Options;
//   Options.Where = kiln::Device::CPU;                  // or GPU (default)
//   auto M = kiln::TextModel::load("model.kiln", Options); // Expected<...>
//   std::vector<std::string> Texts = {"A man is eating food."};
//   auto Vectors = (*M)->embed(Texts);     // Texts.size() x dimension()
//
// A TextModel is an artifact that carries its tokenizer (`kiln compile
// --tokenizer`), run on the CPU (the artifact's IR on the reference
// executor: exact, slow, no GPU needed) or on one or more GPUs (one
// Engine; over several devices, or with faults to inject or a partition
// asked for, a multi-device one: docs/multi-gpu.md). embed() tokenizes, sorts the texts by length so that a batch
// holds texts of similar length (less padding), splits them into batches of
// at most the largest batch bucket, runs them and returns the rows of the
// model's embedding output in the caller's order. It adds no model logic:
// the vectors are what the model computes (pooled and normalized only if
// the model's graph does it: see info().Pooling).
//
// Sequence length: a text is cut to maxLength() tokens (special tokens
// included), the smallest of the tokenizer's max_length, the
// sentence_bert_config.json max_seq_length recorded at compile time, the
// longest sequence the position tables allow (also recorded) and, on the
// GPU, the largest seq bucket. With EmbedOptions::Truncate off, a
// longer text is an error instead.
//
// Services that batch texts themselves (kiln serve) split the two steps:
// tokenize() each text, then embedTokens() a batch, from as many threads as
// the devices have contexts (TextModelOptions::ContextsPerDevice). The
// model picks the device: the least loaded one that is up; a device that
// fails is taken out and the batch runs again on another (failover), and
// devices() says how each is doing. On the CPU, Devices gives logical
// devices (reference executors) behind the same failover, so a service's
// failover is testable without a GPU.
//
// Thread safety: a TextModel is immutable after load; embed(), run() and
// every const member may be called from many threads at once. On the GPU
// each concurrent call takes an execution context of its own from a pool
// (created on demand), so calls run concurrently.
//
// Like kiln/Engine.h (which it includes for the device and fault types),
// this header includes the standard library, llvm/Support/Error.h and
// kiln/Tensor.h only, never the IR.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TEXTMODEL_H
#define KILN_TEXTMODEL_H

#include "kiln/Engine.h"
#include "kiln/Tensor.h"

#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class Device { CPU, GPU };

struct TextModelOptions {
  Device Where = Device::GPU;
  /// GPU: the CUDA ordinal of each logical device (EngineOptions::Devices:
  /// {0, 0} is two on one card); empty means {0}. CPU: one logical device
  /// (a reference executor) per entry, the values unused.
  std::vector<int> Devices;
  /// How a multi-device engine uses its devices (GPU; the CPU replicates).
  PartitionMode Partition = PartitionMode::FromArtifact;
  /// Batches each logical device runs at once.
  unsigned ContextsPerDevice = 2;
  /// Faults to inject into the logical devices (docs/multi-gpu.md); with
  /// none, KILN_FAULT_INJECT is read.
  std::vector<FaultInjection> Faults;
  /// Texts per batch; 0: the largest batch bucket (GPU) or 32 (CPU).
  size_t MaxBatch = 0;
  /// Threads that tokenize an embed() call's texts, the caller's included
  /// (a pool that lives as long as the model); 0: min(hardware threads, 8),
  /// 1: the calling thread alone.
  size_t TokenizerThreads = 0;
};

/// Which end of a too-long text truncation removes tokens from.
enum class TruncationSide { Right, Left };

struct EmbedOptions {
  /// Cut texts longer than maxLength() tokens; off: refuse them.
  bool Truncate = true;
  TruncationSide Side = TruncationSide::Right;
};

/// One text as token ids with the special tokens, and its segment ids.
struct TokenizedText {
  std::vector<uint32_t> Ids;
  std::vector<uint32_t> TypeIds;
};

/// A tokenized input that embedTokens() reads (TypeIds may be empty: all 0).
struct TokenView {
  std::span<const uint32_t> Ids;
  std::span<const uint32_t> TypeIds;
};

/// What a TextModel returns, as recorded in the artifact.
struct TextModelInfo {
  /// The model's output that embed() returns ([batch, dimension]).
  std::string Output;
  /// "mean", "cls", "none" (the output is not pooled by a PoolNormalize),
  /// or "" when the artifact does not say.
  std::string Pooling;
  bool Normalized = false;
  /// The tokenizer's model type ("WordPiece"); empty without a tokenizer.
  std::string TokenizerType;
};

/// A logical device of a TextModel and how it is doing.
struct TextModelDevice {
  /// "cpu:I" (logical device I), or "cuda:P" for CUDA device P; the second
  /// logical device on one card is "cuda:P#1", the third "cuda:P#2".
  std::string Name;
  DeviceHealth Health = DeviceHealth::Up;
  std::string LastError; // what took it down; empty while it never failed
  uint64_t Runs = 0;     // batches that succeeded on it
  uint64_t Failures = 0; // batches and probes that failed on it
};

class TextModel {
public:
  /// Loads a .kiln artifact. An artifact without a tokenizer loads too:
  /// run() works, embed() returns an error.
  static llvm::Expected<std::unique_ptr<TextModel>>
  load(const std::string &Path, const TextModelOptions &Options = {});
  ~TextModel();

  /// Width of one embedding.
  size_t dimension() const;
  /// Tokens per text at most (special tokens included); 0 when unlimited.
  size_t maxLength() const;
  bool hasTokenizer() const;
  Device device() const;
  const TextModelInfo &info() const;
  /// The model's inputs and outputs.
  const ModelInfo &model() const;

  /// Texts.size() x dimension() floats, row i the embedding of Texts[i].
  llvm::Expected<std::vector<float>>
  embed(std::span<const std::string> Texts,
        const EmbedOptions &Options = {}) const;

  /// Tokenizes texts on the model's tokenizer threads, as tokenize() does
  /// each: Out[i] holds Texts[i]'s tokens.
  llvm::Error tokenizeBatch(std::span<const std::string> Texts,
                            std::vector<TokenizedText> &Out,
                            const EmbedOptions &Options = {}) const;

  /// Tokenizes one text with the special tokens. With Options.Truncate it
  /// is cut to maxLength() from Options.Side; without, it is returned whole
  /// (embedTokens() refuses it when longer than maxLength()).
  llvm::Expected<TokenizedText>
  tokenize(std::string_view Text, const EmbedOptions &Options = {}) const;

  /// Embeds inputs already tokenized, in the given order (no sorting), on
  /// whichever device is up and least loaded, failing over to another when
  /// a device fails; an error when every device failed it or none is up.
  /// Batches of more than maxBatch() inputs run as several. Returns
  /// Batch.size() x dimension() floats.
  llvm::Expected<std::vector<float>>
  embedTokens(std::span<const TokenView> Batch) const;

  /// Each logical device and its health now, in the order of
  /// TextModelOptions::Devices (one for a model on one device).
  std::vector<TextModelDevice> devices() const;
  /// Inputs per batch at most (TextModelOptions::MaxBatch as resolved).
  size_t maxBatch() const;
  /// Threads that tokenize a batch (TextModelOptions::TokenizerThreads as
  /// resolved).
  size_t tokenizerThreads() const;
  /// Token ids are below this (the tokenizer's vocabulary); 0 without one.
  size_t vocabSize() const;

  /// Runs the model on tensors: `Inputs` in the order of model().Inputs;
  /// returns the outputs in the order of model().Outputs.
  llvm::Expected<std::vector<HostTensor>>
  run(std::span<const HostTensor> Inputs) const;

  struct Impl;
  explicit TextModel(std::unique_ptr<Impl> I);

private:
  std::unique_ptr<Impl> P;
};

} // namespace kiln

#endif
