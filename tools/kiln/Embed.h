//===- Embed.h - the `kiln embed` subcommand --------------------*- C++ -*-===//
//
// Text in, embeddings out, through kiln::TextModel (Embed.cpp). It reads
// its own arguments, like `kiln tokenize`.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_EMBED_H
#define KILN_TOOLS_KILN_EMBED_H

namespace kiln {

/// `kiln embed`'s entry point; Argv[0] is "embed". Returns the exit code.
int runEmbedCommand(int Argc, char **Argv);

} // namespace kiln

#endif
