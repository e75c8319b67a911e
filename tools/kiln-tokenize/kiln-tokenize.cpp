//===- kiln-tokenize.cpp - `kiln tokenize` as its own program -------------===//
#include "kiln/Tokenize.h"

int main(int Argc, char **Argv) { return kiln::runTokenizeCommand(Argc, Argv); }
