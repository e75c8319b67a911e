//===- Protocol.h - TEI and OpenAI embedding requests and answers -*- C++ -*-===//
//
// The wire formats of `kiln serve`, apart from the HTTP server so that they
// can be unit-tested and fuzzed: parsing a TEI `/embed` or an OpenAI
// `/v1/embeddings` body into one EmbedRequest, checking it against the
// server's limits, and writing answers and errors in each API's shape.
// Parsing never throws and never trusts the body: any byte string gives a
// request or an ApiError.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_PROTOCOL_H
#define KILN_SERVE_PROTOCOL_H

#include "serve/Backend.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::serve {

/// Why a request failed, each with its HTTP status (httpStatus) and TEI
/// error_type (errorType).
enum class ErrorKind {
  Empty,           // 400 "empty"
  Validation,      // 422 "validation"
  PayloadTooLarge, // 413 "payload_too_large"
  NotFound,        // 404 "not_found"
  Overloaded,      // 429 "overloaded"
  Unhealthy,       // 503 "unhealthy"
  Backend,         // 424 "backend"
};
int httpStatus(ErrorKind K);
const char *errorType(ErrorKind K);

struct ApiError {
  ErrorKind Kind = ErrorKind::Validation;
  std::string Message;
};

/// One embedding request, whichever API it came from.
struct EmbedRequest {
  /// Texts to tokenize, or (IdsGiven) inputs already tokenized.
  std::vector<std::string> Texts;
  std::vector<std::vector<uint32_t>> Ids;
  bool IdsGiven = false;
  bool Normalize = true;
  /// Unset: the server's --auto-truncate.
  std::optional<bool> Truncate;
  Side Direction = Side::Right;
  /// Matryoshka: keep the first N values (before normalizing).
  std::optional<size_t> Dimensions;
  /// OpenAI: "encoding_format": "base64".
  bool Base64 = false;
  std::string Model;

  size_t size() const { return IdsGiven ? Ids.size() : Texts.size(); }
};

/// TEI: {"inputs": str|[str]|[int]|[[int]], "normalize", "truncate",
/// "truncation_direction", "dimensions", "prompt_name"}.
std::optional<ApiError> parseTeiEmbed(std::string_view Body, EmbedRequest &Out);
/// OpenAI: {"input": str|[str]|[int]|[[int]], "model", "encoding_format",
/// "dimensions", "user"}.
std::optional<ApiError> parseOpenAIEmbed(std::string_view Body,
                                         EmbedRequest &Out);

/// The server's limits that a request is checked against before any work.
struct RequestLimits {
  size_t MaxClientBatchSize = 32;
  size_t Dimension = 0;
  size_t VocabSize = 0;
};
/// Empty inputs (400), too many inputs, dimensions out of range, token ids
/// outside the vocabulary (422).
std::optional<ApiError> validateRequest(const EmbedRequest &R,
                                        const RequestLimits &L);

/// Cuts \p V to \p Dimensions (when given) and L2-normalizes it (when asked).
void finishEmbedding(std::vector<float> &V, std::optional<size_t> Dimensions,
                     bool Normalize);

/// TEI's answer: [[f, ...], ...].
std::string teiEmbeddings(const std::vector<std::vector<float>> &Vectors);
/// OpenAI's answer, with usage counting every token given to the model.
std::string openAIEmbeddings(const std::vector<std::vector<float>> &Vectors,
                             const std::string &Model, size_t PromptTokens,
                             bool Base64);
/// {"error": "...", "error_type": "..."}
std::string teiError(const ApiError &E);
/// {"error": {"message", "type", "param", "code"}}
std::string openAIError(const ApiError &E);

/// Standard base64 (RFC 4648, with padding) of \p Bytes.
std::string base64(std::string_view Bytes);

} // namespace kiln::serve

#endif
