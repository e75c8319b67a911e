// Compiled with only include/ and LLVM's headers on the include path (see
// the kiln-public-header-check target in CMakeLists.txt): the build fails if
// kiln's public API reaches for the IR or any other header under lib/.
#include "kiln/Engine.h"
#include "kiln/Tensor.h"
#include "kiln/TextModel.h"
#include "kiln/kiln.h"

#include <type_traits>

namespace {

// Use what a service uses, so the declarations are checked, not only parsed.
[[maybe_unused]] llvm::Expected<std::vector<kiln::HostTensor>>
runOnce(const std::string &Path, const std::vector<kiln::HostTensor> &In) {
  auto E = kiln::Engine::load(Path);
  if (!E)
    return E.takeError();
  auto Ctx = (*E)->createContext();
  if (!Ctx)
    return Ctx.takeError();
  [[maybe_unused]] const kiln::ModelInfo &Info = (*E)->model();
  return (*Ctx)->run(In);
}

static_assert(std::is_default_constructible_v<kiln::EngineOptions>);

[[maybe_unused]] llvm::Expected<std::vector<float>>
embedOnce(const std::string &Path, const std::vector<std::string> &Texts) {
  kiln::TextModelOptions Options;
  Options.Where = kiln::Device::CPU;
  auto M = kiln::TextModel::load(Path, Options);
  if (!M)
    return M.takeError();
  return (*M)->embed(Texts);
}

} // namespace
