//===- Tokenize.h - the `kiln tokenize` subcommand ---------------*- C++ -*-===//
#ifndef KILN_TOOLS_KILN_TOKENIZE_H
#define KILN_TOOLS_KILN_TOKENIZE_H

namespace kiln {

/// `kiln tokenize TOKENIZER [--max-length N] ...`; argv[0] is "tokenize".
/// Returns the process exit status.
int runTokenizeCommand(int Argc, char **Argv);

} // namespace kiln

#endif
