//===- fuzz_serve_request.cpp - libFuzzer target for kiln serve's parsing -===//
//
// Splits the input at the first blank line into an HTTP head and a body.
// The head goes through the header parser `kiln serve` runs on (cpp-httplib's
// read_headers, over an in-memory stream); the body through both APIs'
// request parsers, the limits check, and, when it parses, the answer and
// error writers on made-up vectors. An error or a result, never a crash.
//
//===----------------------------------------------------------------------===//
#include "serve/Protocol.h"

#include <httplib.h>

#include <cstdint>
#include <string>
#include <string_view>

using namespace kiln::serve;

static void body(std::string_view B, bool OpenAI) {
  EmbedRequest R;
  std::optional<ApiError> E =
      OpenAI ? parseOpenAIEmbed(B, R) : parseTeiEmbed(B, R);
  if (!E)
    E = validateRequest(R, {32, 8, 512});
  if (E) {
    (void)teiError(*E);
    (void)openAIError(*E);
    (void)httpStatus(E->Kind);
    return;
  }
  std::vector<std::vector<float>> V(R.size(), std::vector<float>(8, 0.5f));
  for (auto &X : V)
    finishEmbedding(X, R.Dimensions, R.Normalize);
  (void)teiEmbeddings(V);
  (void)openAIEmbeddings(V, R.Model, R.size(), R.Base64);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  std::string_view In(reinterpret_cast<const char *>(Data), Size);
  size_t Split = In.find("\r\n\r\n");
  std::string_view Head =
      Split == std::string_view::npos ? "" : In.substr(0, Split + 4);
  std::string_view Body =
      Split == std::string_view::npos ? In : In.substr(Split + 4);
  if (!Head.empty()) {
    httplib::detail::BufferStream S;
    S.write(Head.data(), Head.size());
    httplib::Headers H;
    if (httplib::detail::read_headers(S, H))
      for (const auto &[K, V] : H)
        (void)httplib::detail::get_header_value_u64(H, K, 0, 0);
  }
  body(Body, false);
  body(Body, true);
  return 0;
}
