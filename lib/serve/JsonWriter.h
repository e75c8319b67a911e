//===- JsonWriter.h - embeddings written as JSON, fast -----------*- C++ -*-===//
//
// An answer of 32 embeddings of 384 floats is 12,288 numbers: writing them
// is, after tokenizing, the largest host cost of a request. Each float is
// the shortest decimal that reads back to the same float (std::to_chars,
// Ryu), written straight into the output's buffer: no temporary strings,
// no per-character capacity checks. JSON has no NaN or infinity: those are
// written as null.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_SERVE_JSONWRITER_H
#define KILN_SERVE_JSONWRITER_H

#include <cstddef>
#include <string>

namespace kiln::serve {

/// Appends `[f,f,...]` of \p N floats to \p Out.
void appendFloatArray(std::string &Out, const float *V, size_t N);

/// Bytes appendFloatArray writes at most for \p N floats (for reserve()).
constexpr size_t floatArrayBound(size_t N) { return N * 16 + 2; }

} // namespace kiln::serve

#endif
