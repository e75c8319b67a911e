// Built against an installed kiln with find_package (check_text.py): embeds
// argv[2..] with the artifact argv[1] on the CPU through kiln/TextModel.h
// and prints one JSON array per text.
#include <kiln/TextModel.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: embed_cpp MODEL.kiln TEXT...\n");
    return 2;
  }
  kiln::TextModelOptions Options;
  Options.Where = kiln::Device::CPU;
  auto Model = kiln::TextModel::load(argv[1], Options);
  if (!Model) {
    std::fprintf(stderr, "error: %s\n",
                 llvm::toString(Model.takeError()).c_str());
    return 1;
  }
  std::vector<std::string> Texts(argv + 2, argv + argc);
  auto Vectors = (*Model)->embed(Texts);
  if (!Vectors) {
    std::fprintf(stderr, "error: %s\n",
                 llvm::toString(Vectors.takeError()).c_str());
    return 1;
  }
  size_t Dim = (*Model)->dimension();
  for (size_t T = 0; T < Texts.size(); ++T)
    for (size_t I = 0; I < Dim; ++I)
      std::printf("%s%.9g%s", I ? "," : "[", (*Vectors)[T * Dim + I],
                  I + 1 < Dim ? "" : "]\n");
  std::fprintf(stderr, "pooling %s, normalized %d, max length %zu\n",
               (*Model)->info().Pooling.c_str(), (*Model)->info().Normalized,
               (*Model)->maxLength());
  return 0;
}
