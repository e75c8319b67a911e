//===- Backend.h - what the embedding service asks of a model ---*- C++ -*-===//
//
// The narrow interface between `kiln serve` and the model that computes
// embeddings: tokenize a text, embed a batch of tokenized inputs (the
// backend picks the device and fails over), and say the model's name,
// width, input limit and devices with their health. The
// server (lib/serve) depends on nothing else of the model, so the backend
// can be swapped without touching it. kiln serve's is TextModelBackend, an
// adapter over the text API (include/kiln/TextModel.h).
//
// Thread safety: tokenize() and the accessors may be called from many
// threads at once; embed() is called by the server's workers (by default
// two per device, ServerOptions::WorkersPerDevice) concurrently.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_BACKEND_H
#define KILN_SERVE_BACKEND_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::serve {

/// Which end of a too-long input truncation removes tokens from.
enum class Side { Right, Left };

/// One tokenized input: token ids with the model's special tokens, and
/// their segment ids. The attention mask is all ones (padding is the
/// backend's business).
struct Tokens {
  std::vector<uint32_t> Ids;
  std::vector<uint32_t> TypeIds;
};

/// Why a backend call failed. BadInput is the caller's fault (422);
/// DeviceFailed means no device could compute it (the backend has tried
/// every one that is up): the server answers 424.
struct Failure {
  enum Kind { BadInput, DeviceFailed } K = BadInput;
  std::string Message;
};

/// A device the backend computes on, and how it is doing now.
struct DeviceState {
  std::string Name; // "cpu:0", "cuda:1"
  bool Up = true;
  std::string Health = "up"; // "up", "down" (probed again), "lost"
  std::string LastError;     // what took it down; empty while it never failed
  uint64_t Runs = 0;         // batches it answered
  uint64_t Failures = 0;     // batches and probes that failed on it
};

class Backend {
public:
  virtual ~Backend() = default;

  /// The model's name, as /info and OpenAI's "model" report it.
  virtual std::string modelName() const = 0;
  /// "float32", "float16", ...: the precision the model computes in.
  virtual std::string dtype() const = 0;
  /// The width of an embedding.
  virtual size_t dimension() const = 0;
  /// The most tokens (special tokens included) one input may have.
  virtual size_t maxInputLength() const = 0;
  /// Token ids must be below this (for inputs given as ids).
  virtual size_t vocabSize() const = 0;
  /// The sequence lengths the model is compiled for, ascending; empty when
  /// any length runs as is. The batcher pads to these to group requests.
  virtual std::vector<size_t> seqBuckets() const = 0;
  /// The largest batch one embed() call takes; 0 for no limit.
  virtual size_t maxBatchSize() const = 0;

  /// Tokenizes \p Text with the special tokens. With \p Truncate, the result
  /// is cut to maxInputLength() from \p Direction; without, it is returned
  /// whole (the server refuses it when too long).
  virtual std::optional<Failure> tokenize(std::string_view Text, bool Truncate,
                                          Side Direction,
                                          Tokens &Out) const = 0;

  /// Embeds \p Batch on a device of the backend's choice, failing over to
  /// another when one fails: one vector of dimension() floats per input, in
  /// order, as the model outputs it (the server normalizes and truncates
  /// dimensions itself).
  virtual std::optional<Failure>
  embed(const std::vector<const Tokens *> &Batch,
        std::vector<std::vector<float>> &Out) = 0;

  /// Every device the backend may compute on, with its health now.
  virtual std::vector<DeviceState> devices() const = 0;
};

} // namespace kiln::serve

#endif
