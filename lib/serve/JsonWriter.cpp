//===- JsonWriter.cpp - embeddings written as JSON, fast ------------------===//
//
// The output grows once per array by the bound (15 characters is the
// longest shortest-round-trip float, "-1.17549435e-38", plus a comma) and
// is cut back to what was written.
//
//===----------------------------------------------------------------------===//
#include "serve/JsonWriter.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace kiln::serve {

void appendFloatArray(std::string &Out, const float *V, size_t N) {
  size_t Start = Out.size();
  Out.resize(Start + floatArrayBound(N));
  char *P = Out.data() + Start, *End = Out.data() + Out.size();
  *P++ = '[';
  for (size_t I = 0; I < N; ++I) {
    if (I)
      *P++ = ',';
    if (!std::isfinite(V[I])) {
      std::memcpy(P, "null", 4);
      P += 4;
      continue;
    }
    P = std::to_chars(P, End, V[I]).ptr;
  }
  *P++ = ']';
  Out.resize(size_t(P - Out.data()));
}

} // namespace kiln::serve
