//===- Nvrtc.cpp - CUDA source to CUBIN, with a disk cache ----------------===//
#include "codegen/Nvrtc.h"

#include "codegen/KernelLibrary.h"
#include "ir/Error.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <nvrtc.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

namespace kiln {
namespace {

/// Where cuda_fp16.h and cuda_bf16.h are: $CUDA_HOME/include, else the
/// toolkit kiln was built against, else the usual install path.
std::string cudaIncludeDir() {
  std::vector<std::string> Candidates;
  if (auto Home = llvm::sys::Process::GetEnv("CUDA_HOME"))
    Candidates.push_back(*Home + "/include");
  Candidates.push_back(KILN_CUDA_INCLUDE_DIR);
  Candidates.push_back("/usr/local/cuda/include");
  for (const std::string &Dir : Candidates)
    if (llvm::sys::fs::exists(Dir + "/cuda_fp16.h"))
      return Dir;
  return "";
}

std::vector<std::string> compileFlags(const std::string &Arch) {
  std::vector<std::string> Flags = {"--gpu-architecture=" + Arch, "-std=c++17"};
  if (std::string Dir = cudaIncludeDir(); !Dir.empty())
    Flags.push_back("-I" + Dir);
  return Flags;
}

/// sm_90a -> compute_90a: the PTX twin of a CUBIN target.
std::string virtualArch(const std::string &Arch) {
  return "compute_" + Arch.substr(3);
}

llvm::Error nvrtcError(const ModuleSource &M, llvm::StringRef What,
                       nvrtcResult R, llvm::StringRef Log = "") {
  std::string Msg = "NVRTC " + What.str() + " failed for module '" + M.Name +
                    "': " + nvrtcGetErrorString(R);
  if (!Log.empty())
    Msg += "\n" + Log.str();
  return makeError(Msg);
}

/// One NVRTC compile to `Arch`; fills the CUBIN or the PTX.
llvm::Error compileOnce(const ModuleSource &M, const std::string &Arch,
                        bool WantPtx, CompiledModule &Out) {
  const auto &Templates = templateSources();
  std::vector<std::string> HeaderText, HeaderName;
  for (const auto &[Name, Text] : Templates) {
    HeaderName.push_back(Name.str());
    HeaderText.push_back(Text.str());
  }
  std::vector<const char *> Headers, Includes;
  for (size_t I = 0; I < HeaderText.size(); ++I) {
    Headers.push_back(HeaderText[I].c_str());
    Includes.push_back(HeaderName[I].c_str());
  }
  // The program is named apart from the templates it includes.
  std::string ProgramName = M.Name + ".unit.cu";
  nvrtcProgram Prog;
  if (nvrtcResult R = nvrtcCreateProgram(
          &Prog, M.Source.c_str(), ProgramName.c_str(), int(Headers.size()),
          Headers.data(), Includes.data());
      R != NVRTC_SUCCESS)
    return nvrtcError(M, "create", R);
  auto Destroy = llvm::make_scope_exit([&] { nvrtcDestroyProgram(&Prog); });
  for (const std::string &Expr : M.NameExprs)
    if (nvrtcResult R = nvrtcAddNameExpression(Prog, Expr.c_str());
        R != NVRTC_SUCCESS)
      return nvrtcError(M, "name expression '" + Expr + "'", R);

  std::vector<std::string> Flags = compileFlags(Arch);
  std::vector<const char *> Argv;
  for (const std::string &F : Flags)
    Argv.push_back(F.c_str());
  nvrtcResult R = nvrtcCompileProgram(Prog, int(Argv.size()), Argv.data());
  size_t LogSize = 0;
  nvrtcGetProgramLogSize(Prog, &LogSize);
  std::string Log(LogSize, '\0');
  if (LogSize)
    nvrtcGetProgramLog(Prog, Log.data());
  while (!Log.empty() && (Log.back() == '\0' || Log.back() == '\n'))
    Log.pop_back();
  if (R != NVRTC_SUCCESS)
    return nvrtcError(M, "compile (" + Arch + ")", R, Log);

  if (WantPtx) {
    size_t Size = 0;
    nvrtcGetPTXSize(Prog, &Size);
    Out.Ptx.assign(Size, '\0');
    if (nvrtcResult E = nvrtcGetPTX(Prog, Out.Ptx.data()); E != NVRTC_SUCCESS)
      return nvrtcError(M, "get PTX", E);
    while (!Out.Ptx.empty() && Out.Ptx.back() == '\0')
      Out.Ptx.pop_back();
    return llvm::Error::success();
  }
  size_t Size = 0;
  nvrtcGetCUBINSize(Prog, &Size);
  Out.Cubin.assign(Size, '\0');
  if (nvrtcResult E = nvrtcGetCUBIN(Prog, Out.Cubin.data()); E != NVRTC_SUCCESS)
    return nvrtcError(M, "get CUBIN", E);
  Out.LoweredNames.clear();
  for (const std::string &Expr : M.NameExprs) {
    const char *Lowered = nullptr;
    if (nvrtcResult E = nvrtcGetLoweredName(Prog, Expr.c_str(), &Lowered);
        E != NVRTC_SUCCESS)
      return nvrtcError(M, "lowered name of '" + Expr + "'", E);
    Out.LoweredNames.push_back(Lowered);
  }
  return llvm::Error::success();
}

//===-- The cache ---------------------------------------------------------===//
//
// One file per module, named by the key: "KILNMOD1", then u64-length-
// prefixed strings (names count as a u64 then each name, CUBIN, PTX), then
// the xxh3 of everything before it.

constexpr llvm::StringLiteral CacheMagic = "KILNMOD1";

std::string cacheKey(const ModuleSource &M, const NvrtcOptions &Options) {
  std::string Text;
  llvm::raw_string_ostream OS(Text);
  int Major = 0, Minor = 0;
  nvrtcVersion(&Major, &Minor);
  OS << "nvrtc " << Major << "." << Minor << "\0arch " << Options.Arch
     << "\0ptx " << Options.EmitPtx << '\0';
  for (const std::string &F : compileFlags(Options.Arch))
    OS << F << '\0';
  OS << M.Source << '\0';
  for (const auto &[Name, Source] : templateSources())
    OS << Name << '\0' << Source << '\0';
  for (const std::string &E : M.NameExprs)
    OS << E << '\0';
  llvm::XXH128_hash_t H = llvm::xxh3_128bits(llvm::ArrayRef(
      reinterpret_cast<const uint8_t *>(Text.data()), Text.size()));
  return llvm::utohexstr(H.high64, false, 16) +
         llvm::utohexstr(H.low64, false, 16);
}

void appendString(std::string &Out, llvm::StringRef S) {
  uint64_t N = S.size();
  Out.append(reinterpret_cast<const char *>(&N), 8);
  Out.append(S.data(), S.size());
}

std::string encodeCacheEntry(const CompiledModule &C) {
  std::string Out(CacheMagic);
  uint64_t Count = C.LoweredNames.size();
  Out.append(reinterpret_cast<const char *>(&Count), 8);
  for (const std::string &N : C.LoweredNames)
    appendString(Out, N);
  appendString(Out, C.Cubin);
  appendString(Out, C.Ptx);
  uint64_t Sum = llvm::xxh3_64bits(Out);
  Out.append(reinterpret_cast<const char *>(&Sum), 8);
  return Out;
}

/// Decodes a cache entry; nullopt for anything damaged.
std::optional<CompiledModule> decodeCacheEntry(llvm::StringRef Bytes,
                                               size_t Expected) {
  if (Bytes.size() < CacheMagic.size() + 16 || !Bytes.starts_with(CacheMagic))
    return std::nullopt;
  llvm::StringRef Body = Bytes.drop_back(8);
  uint64_t Sum;
  std::memcpy(&Sum, Bytes.end() - 8, 8);
  if (Sum != llvm::xxh3_64bits(Body))
    return std::nullopt;
  llvm::StringRef Rest = Body.drop_front(CacheMagic.size());
  auto ReadU64 = [&](uint64_t &V) {
    if (Rest.size() < 8)
      return false;
    std::memcpy(&V, Rest.data(), 8);
    Rest = Rest.drop_front(8);
    return true;
  };
  auto ReadString = [&](std::string &S) {
    uint64_t N;
    if (!ReadU64(N) || N > Rest.size())
      return false;
    S = Rest.take_front(N).str();
    Rest = Rest.drop_front(N);
    return true;
  };
  CompiledModule C;
  uint64_t Count;
  if (!ReadU64(Count) || Count != Expected)
    return std::nullopt;
  C.LoweredNames.resize(Count);
  for (std::string &N : C.LoweredNames)
    if (!ReadString(N))
      return std::nullopt;
  if (!ReadString(C.Cubin) || !ReadString(C.Ptx) || !Rest.empty())
    return std::nullopt;
  C.FromCache = true;
  return C;
}

/// Writes atomically; a cache that cannot be written only costs speed.
void storeCacheEntry(const std::string &Path, const CompiledModule &C) {
  llvm::SmallString<256> Tmp;
  int FD;
  if (llvm::sys::fs::createUniqueFile(Path + ".tmp-%%%%%%", FD, Tmp))
    return;
  {
    llvm::raw_fd_ostream OS(FD, /*shouldClose=*/true);
    OS << encodeCacheEntry(C);
    if (OS.has_error()) {
      OS.clear_error();
      llvm::sys::fs::remove(Tmp);
      return;
    }
  }
  if (llvm::sys::fs::rename(Tmp, Path))
    llvm::sys::fs::remove(Tmp);
}

} // namespace

llvm::Error checkArch(const std::string &Arch) {
  llvm::StringRef A(Arch);
  unsigned Number;
  llvm::StringRef Digits = A.drop_front(3);
  if (Digits.ends_with("a"))
    Digits = Digits.drop_back();
  if (!A.starts_with("sm_") || Digits.getAsInteger(10, Number) || Number < 75)
    return makeError("unsupported arch '" + Arch +
                     "': expected sm_75 or newer, e.g. sm_90a");
  int Count = 0;
  if (nvrtcGetNumSupportedArchs(&Count) == NVRTC_SUCCESS && Count > 0) {
    std::vector<int> Archs(Count);
    nvrtcGetSupportedArchs(Archs.data());
    if (std::find(Archs.begin(), Archs.end(), int(Number)) == Archs.end())
      return makeError("arch '" + Arch + "' is not supported by this NVRTC");
  }
  return llvm::Error::success();
}

std::string defaultCacheDir() {
  if (auto Dir = llvm::sys::Process::GetEnv("KILN_CACHE_DIR"))
    return *Dir;
  if (auto Home = llvm::sys::Process::GetEnv("HOME"))
    return *Home + "/.cache/kiln";
  return "";
}

llvm::Expected<CompiledModule> compileModule(const ModuleSource &M,
                                             const NvrtcOptions &Options) {
  std::string Path;
  if (!Options.CacheDir.empty()) {
    Path = Options.CacheDir + "/" + cacheKey(M, Options) + ".kmod";
    if (auto Buf =
            llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false))
      if (auto Hit = decodeCacheEntry((*Buf)->getBuffer(), M.NameExprs.size()))
        return std::move(*Hit);
  }
  CompiledModule Out;
  if (llvm::Error E = compileOnce(M, Options.Arch, /*WantPtx=*/false, Out))
    return std::move(E);
  if (Options.EmitPtx)
    if (llvm::Error E =
            compileOnce(M, virtualArch(Options.Arch), /*WantPtx=*/true, Out))
      return std::move(E);
  if (!Path.empty() && !llvm::sys::fs::create_directories(Options.CacheDir))
    storeCacheEntry(Path, Out);
  return Out;
}

llvm::Expected<std::vector<CompiledModule>>
compileModules(const std::vector<ModuleSource> &Modules,
               const NvrtcOptions &Options, unsigned Jobs) {
  std::vector<std::optional<llvm::Expected<CompiledModule>>> Results(
      Modules.size());
  std::atomic<size_t> Next{0};
  auto Worker = [&] {
    for (size_t I; (I = Next++) < Modules.size();)
      Results[I].emplace(compileModule(Modules[I], Options));
  };
  std::vector<std::thread> Threads;
  Jobs = std::max(1u, std::min<unsigned>(Jobs, Modules.size()));
  for (unsigned T = 1; T < Jobs; ++T)
    Threads.emplace_back(Worker);
  Worker();
  for (std::thread &T : Threads)
    T.join();

  std::vector<CompiledModule> Out;
  llvm::Error Errors = llvm::Error::success();
  for (auto &R : Results) {
    if (!*R) {
      Errors = llvm::joinErrors(std::move(Errors), R->takeError());
      continue;
    }
    Out.push_back(std::move(**R));
  }
  if (Errors)
    return std::move(Errors);
  return Out;
}

} // namespace kiln
