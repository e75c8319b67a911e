//===- Serve.h - the `kiln serve` subcommand ---------------------*- C++ -*-===//
#ifndef KILN_TOOLS_KILN_SERVE_H
#define KILN_TOOLS_KILN_SERVE_H

namespace kiln {

/// `kiln serve MODEL [...]`; argv[0] is "serve". Returns the exit status.
int runServeCommand(int Argc, char **Argv);

} // namespace kiln

#endif
