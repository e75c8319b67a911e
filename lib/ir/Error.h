//===- Error.h - error helpers ----------------------------------*- C++ -*-===//
#ifndef KILN_IR_ERROR_H
#define KILN_IR_ERROR_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace kiln {

/// An error carrying only a message (kiln's errors are for people).
inline llvm::Error makeError(const llvm::Twine &Message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Message);
}

/// Prefixes an error's message with `Context: `.
inline llvm::Error withContext(llvm::Error E, const llvm::Twine &Context) {
  if (!E)
    return E;
  return makeError(Context + ": " + llvm::toString(std::move(E)));
}

} // namespace kiln

#endif
