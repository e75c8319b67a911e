//===- Protocol.cpp - TEI and OpenAI embedding requests and answers -------===//
//
// JSON is parsed with nlohmann-json without exceptions (parse(..., false)
// and type checks before every access), so a hostile body can only produce
// an ApiError. Floats are written by JsonWriter: the shortest text that
// reads back to the same float.
//
//===----------------------------------------------------------------------===//
#include "serve/Protocol.h"
#include "serve/JsonWriter.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>

using nlohmann::json;

namespace kiln::serve {

int httpStatus(ErrorKind K) {
  switch (K) {
  case ErrorKind::Empty: return 400;
  case ErrorKind::Validation: return 422;
  case ErrorKind::PayloadTooLarge: return 413;
  case ErrorKind::NotFound: return 404;
  case ErrorKind::Overloaded: return 429;
  case ErrorKind::Unhealthy: return 503;
  case ErrorKind::Backend: return 424;
  }
  return 500;
}

const char *errorType(ErrorKind K) {
  switch (K) {
  case ErrorKind::Empty: return "empty";
  case ErrorKind::Validation: return "validation";
  case ErrorKind::PayloadTooLarge: return "payload_too_large";
  case ErrorKind::NotFound: return "not_found";
  case ErrorKind::Overloaded: return "overloaded";
  case ErrorKind::Unhealthy: return "unhealthy";
  case ErrorKind::Backend: return "backend";
  }
  return "internal";
}

static ApiError invalid(std::string Message) {
  return {ErrorKind::Validation, std::move(Message)};
}

/// A JSON integer that fits a token id.
static bool tokenId(const json &V, uint32_t &Out) {
  if (V.is_number_unsigned()) {
    uint64_t U = V.get<uint64_t>();
    if (U > UINT32_MAX)
      return false;
    Out = uint32_t(U);
    return true;
  }
  if (V.is_number_integer()) {
    int64_t I = V.get<int64_t>();
    if (I < 0 || I > int64_t(UINT32_MAX))
      return false;
    Out = uint32_t(I);
    return true;
  }
  return false;
}

/// str | [str] | [int] | [[int]], under the field name \p Field.
static std::optional<ApiError> parseInputs(const json &V, const char *Field,
                                           EmbedRequest &Out) {
  std::string F = std::string("`") + Field + "`";
  if (V.is_string()) {
    Out.Texts.push_back(V.get<std::string>());
    return std::nullopt;
  }
  if (!V.is_array())
    return invalid(F + " must be a string, an array of strings, an array of "
                       "token ids or an array of arrays of token ids");
  if (V.empty())
    return ApiError{ErrorKind::Empty, F + " cannot be empty"};
  const json &First = V.front();
  if (First.is_string()) {
    for (const json &E : V) {
      if (!E.is_string())
        return invalid(F + " mixes strings with other types");
      Out.Texts.push_back(E.get<std::string>());
    }
    return std::nullopt;
  }
  Out.IdsGiven = true;
  if (First.is_number()) {
    Out.Ids.emplace_back();
    for (const json &E : V) {
      uint32_t Id;
      if (!tokenId(E, Id))
        return invalid(F + " must hold token ids (integers >= 0)");
      Out.Ids.back().push_back(Id);
    }
    return std::nullopt;
  }
  if (First.is_array()) {
    for (const json &Row : V) {
      if (!Row.is_array())
        return invalid(F + " mixes arrays of token ids with other types");
      Out.Ids.emplace_back();
      for (const json &E : Row) {
        uint32_t Id;
        if (!tokenId(E, Id))
          return invalid(F + " must hold token ids (integers >= 0)");
        Out.Ids.back().push_back(Id);
      }
    }
    return std::nullopt;
  }
  return invalid(F + " must be a string, an array of strings, an array of "
                     "token ids or an array of arrays of token ids");
}

static std::optional<ApiError> parseDimensions(const json &Obj,
                                               EmbedRequest &Out) {
  auto It = Obj.find("dimensions");
  if (It == Obj.end() || It->is_null())
    return std::nullopt;
  if (!It->is_number_integer() ||
      (!It->is_number_unsigned() && It->get<int64_t>() <= 0))
    return invalid("`dimensions` must be a positive integer");
  Out.Dimensions = It->get<uint64_t>();
  return std::nullopt;
}

static std::optional<ApiError> parseObject(std::string_view Body, json &Obj) {
  Obj = json::parse(Body.begin(), Body.end(), nullptr, /*allow_exceptions=*/
                    false);
  if (Obj.is_discarded())
    return invalid("the body is not valid JSON");
  if (!Obj.is_object())
    return invalid("the body must be a JSON object");
  return std::nullopt;
}

std::optional<ApiError> parseTeiEmbed(std::string_view Body,
                                      EmbedRequest &Out) {
  json Obj;
  if (auto E = parseObject(Body, Obj))
    return E;
  auto In = Obj.find("inputs");
  if (In == Obj.end())
    return invalid("missing field `inputs`");
  if (auto E = parseInputs(*In, "inputs", Out))
    return E;
  if (auto It = Obj.find("normalize"); It != Obj.end() && !It->is_null()) {
    if (!It->is_boolean())
      return invalid("`normalize` must be a boolean");
    Out.Normalize = It->get<bool>();
  }
  if (auto It = Obj.find("truncate"); It != Obj.end() && !It->is_null()) {
    if (!It->is_boolean())
      return invalid("`truncate` must be a boolean");
    Out.Truncate = It->get<bool>();
  }
  if (auto It = Obj.find("truncation_direction");
      It != Obj.end() && !It->is_null()) {
    std::string D = It->is_string() ? It->get<std::string>() : "";
    if (D == "right" || D == "Right")
      Out.Direction = Side::Right;
    else if (D == "left" || D == "Left")
      Out.Direction = Side::Left;
    else
      return invalid("`truncation_direction` must be \"right\" or \"left\"");
  }
  if (auto It = Obj.find("prompt_name"); It != Obj.end() && !It->is_null())
    return invalid("`prompt_name` is not supported: the model has no prompts");
  return parseDimensions(Obj, Out);
}

std::optional<ApiError> parseOpenAIEmbed(std::string_view Body,
                                         EmbedRequest &Out) {
  json Obj;
  if (auto E = parseObject(Body, Obj))
    return E;
  auto In = Obj.find("input");
  if (In == Obj.end())
    return invalid("missing field `input`");
  if (auto E = parseInputs(*In, "input", Out))
    return E;
  if (auto It = Obj.find("model"); It != Obj.end() && !It->is_null()) {
    if (!It->is_string())
      return invalid("`model` must be a string");
    Out.Model = It->get<std::string>();
  }
  if (auto It = Obj.find("encoding_format");
      It != Obj.end() && !It->is_null()) {
    std::string F = It->is_string() ? It->get<std::string>() : "";
    if (F != "float" && F != "base64")
      return invalid("`encoding_format` must be \"float\" or \"base64\"");
    Out.Base64 = F == "base64";
  }
  if (auto It = Obj.find("user");
      It != Obj.end() && !It->is_null() && !It->is_string())
    return invalid("`user` must be a string");
  return parseDimensions(Obj, Out);
}

std::optional<ApiError> validateRequest(const EmbedRequest &R,
                                        const RequestLimits &L) {
  if (R.size() == 0)
    return ApiError{ErrorKind::Empty, "the request has no inputs"};
  if (R.size() > L.MaxClientBatchSize)
    return invalid("batch size " + std::to_string(R.size()) +
                   " > maximum allowed batch size " +
                   std::to_string(L.MaxClientBatchSize));
  for (const std::string &T : R.Texts)
    if (T.empty())
      return ApiError{ErrorKind::Empty, "an input is an empty string"};
  for (const auto &Row : R.Ids) {
    if (Row.empty())
      return ApiError{ErrorKind::Empty, "an input has no token ids"};
    for (uint32_t Id : Row)
      if (Id >= L.VocabSize)
        return invalid("token id " + std::to_string(Id) +
                       " is outside the vocabulary (size " +
                       std::to_string(L.VocabSize) + ")");
  }
  if (R.Dimensions && (*R.Dimensions == 0 || *R.Dimensions > L.Dimension))
    return invalid("`dimensions` must be between 1 and " +
                   std::to_string(L.Dimension) + ", got " +
                   std::to_string(*R.Dimensions));
  return std::nullopt;
}

void finishEmbedding(std::vector<float> &V, std::optional<size_t> Dimensions,
                     bool Normalize) {
  if (Dimensions && *Dimensions < V.size())
    V.resize(*Dimensions);
  if (!Normalize)
    return;
  double Sum = 0;
  for (float X : V)
    Sum += double(X) * X;
  double Norm = std::sqrt(Sum);
  if (Norm > 0)
    for (float &X : V)
      X = float(X / Norm);
}

static void appendVector(std::string &Out, const std::vector<float> &V) {
  appendFloatArray(Out, V.data(), V.size());
}

/// Bytes the floats of \p Vectors take at most, with \p PerRow more each.
static size_t answerBound(const std::vector<std::vector<float>> &Vectors,
                          size_t PerRow) {
  size_t N = 64;
  for (const auto &V : Vectors)
    N += floatArrayBound(V.size()) + PerRow;
  return N;
}

std::string teiEmbeddings(const std::vector<std::vector<float>> &Vectors) {
  std::string Out;
  Out.reserve(answerBound(Vectors, 1));
  Out.push_back('[');
  for (size_t I = 0; I < Vectors.size(); ++I) {
    if (I)
      Out.push_back(',');
    appendVector(Out, Vectors[I]);
  }
  Out.push_back(']');
  return Out;
}

std::string openAIEmbeddings(const std::vector<std::vector<float>> &Vectors,
                             const std::string &Model, size_t PromptTokens,
                             bool Base64) {
  std::string Out;
  Out.reserve(answerBound(Vectors, 64) + Model.size() * 6);
  Out += "{\"object\":\"list\",\"data\":[";
  for (size_t I = 0; I < Vectors.size(); ++I) {
    if (I)
      Out.push_back(',');
    Out += "{\"object\":\"embedding\",\"embedding\":";
    if (Base64) {
      // Little-endian float32, as OpenAI sends it (x86 and ARM both are).
      const auto &V = Vectors[I];
      Out += '"' +
             base64({reinterpret_cast<const char *>(V.data()),
                     V.size() * sizeof(float)}) +
             '"';
    } else {
      appendVector(Out, Vectors[I]);
    }
    Out += ",\"index\":" + std::to_string(I) + "}";
  }
  Out += "],\"model\":" +
         json(Model).dump(-1, ' ', false, json::error_handler_t::replace);
  Out += ",\"usage\":{\"prompt_tokens\":" + std::to_string(PromptTokens) +
         ",\"total_tokens\":" + std::to_string(PromptTokens) + "}}";
  return Out;
}

std::string teiError(const ApiError &E) {
  json J = {{"error", E.Message}, {"error_type", errorType(E.Kind)}};
  return J.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string openAIError(const ApiError &E) {
  const char *Type = E.Kind == ErrorKind::Empty ||
                             E.Kind == ErrorKind::Validation ||
                             E.Kind == ErrorKind::PayloadTooLarge ||
                             E.Kind == ErrorKind::NotFound
                         ? "invalid_request_error"
                     : E.Kind == ErrorKind::Overloaded ? "rate_limit_error"
                                                       : "server_error";
  json J = {{"error",
             {{"message", E.Message},
              {"type", Type},
              {"param", nullptr},
              {"code", errorType(E.Kind)}}}};
  return J.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string base64(std::string_view Bytes) {
  static const char Alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string Out;
  Out.reserve((Bytes.size() + 2) / 3 * 4);
  size_t I = 0;
  for (; I + 3 <= Bytes.size(); I += 3) {
    uint32_t N = uint32_t(uint8_t(Bytes[I])) << 16 |
                 uint32_t(uint8_t(Bytes[I + 1])) << 8 | uint8_t(Bytes[I + 2]);
    Out += Alphabet[N >> 18];
    Out += Alphabet[(N >> 12) & 63];
    Out += Alphabet[(N >> 6) & 63];
    Out += Alphabet[N & 63];
  }
  if (size_t Rest = Bytes.size() - I) {
    uint32_t N = uint32_t(uint8_t(Bytes[I])) << 16;
    if (Rest == 2)
      N |= uint32_t(uint8_t(Bytes[I + 1])) << 8;
    Out += Alphabet[N >> 18];
    Out += Alphabet[(N >> 12) & 63];
    Out += Rest == 2 ? Alphabet[(N >> 6) & 63] : '=';
    Out += '=';
  }
  return Out;
}

} // namespace kiln::serve
