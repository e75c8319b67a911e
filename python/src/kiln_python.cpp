//===- kiln_python.cpp - the kiln Python package's extension module -------===//
//
// kiln._kiln, wrapped by python/kiln/__init__.py: a TextModel
// (kiln/TextModel.h) as _Model, and _compile, what `kiln compile` does
// (lib/codegen's compileGraph, then the tokenizer and pooling the artifact
// records). Tensors cross as bytes plus dims and a dtype name; the Python
// side turns them into numpy arrays. Every kiln error becomes kiln.Error
// (a RuntimeError) with kiln's message, and the GIL is released while a
// model loads, runs or compiles, so Python threads run it concurrently.
//
//
// Built two ways: by the whole build (pip install ., KILN_PYTHON), with
// _compile; or by python/CMakeLists.txt against an installed libkiln (the
// runtime only, no compiler: KILN_PYTHON_RUNTIME_ONLY), without it, where
// kiln.compile runs the kiln command instead. _Model uses the public API
// (kiln/TextModel.h) alone, so it is the same in both.
//
//===----------------------------------------------------------------------===//
#include "kiln/TextModel.h"

#ifndef KILN_PYTHON_RUNTIME_ONLY
#include "codegen/Compiler.h"
#include "codegen/KernelLibrary.h"
#include "codegen/Nvrtc.h"
#include "codegen/TextFiles.h"
#include "common/ModelLoader.h"
#include "ir/Error.h"
#include "ir/Parser.h"
#include "passes/Precision.h"
#include "runtime/Artifact.h"

#include "llvm/Support/Path.h"
#endif

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nb = nanobind;
using namespace kiln;

namespace {

/// Raised for every kiln error; registered as kiln.Error (a RuntimeError).
struct KilnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T> T take(llvm::Expected<T> V) {
  if (!V)
    throw KilnError(llvm::toString(V.takeError()));
  return std::move(*V);
}

#ifndef KILN_PYTHON_RUNTIME_ONLY
void check(llvm::Error E) {
  if (E)
    throw KilnError(llvm::toString(std::move(E)));
}
#endif

nb::list ioList(const std::vector<ModelIo> &Ios) {
  nb::list L;
  for (const ModelIo &Io : Ios) {
    nb::list Shape;
    for (const ModelDim &D : Io.Dims) {
      if (D.isStatic())
        Shape.append(D.Size);
      else if (D.isSymbol())
        Shape.append(D.Symbol);
      else
        Shape.append(nb::none());
    }
    nb::dict Entry;
    Entry["name"] = Io.Name;
    Entry["dtype"] = std::string(elementTypeName(Io.Type));
    Entry["shape"] = Shape;
    L.append(Entry);
  }
  return L;
}

class PyModel {
public:
  PyModel(const std::string &Path, const std::string &DeviceName,
          std::vector<int> Devices, size_t MaxBatch) {
    TextModelOptions Options;
    if (DeviceName == "cpu")
      Options.Where = Device::CPU;
    else if (DeviceName == "gpu")
      Options.Where = Device::GPU;
    else
      throw KilnError("device must be \"cpu\" or \"gpu\", not \"" + DeviceName +
                      "\"");
    Options.Devices = std::move(Devices);
    Options.MaxBatch = MaxBatch;
    nb::gil_scoped_release Release;
    M = take(TextModel::load(Path, Options));
  }

  size_t dimension() const { return M->dimension(); }

  nb::dict metadata() const {
    const ModelInfo &MI = M->model();
    const TextModelInfo &TI = M->info();
    nb::dict D;
    D["model_name"] = MI.ModelName;
    D["producer"] = MI.Producer;
    D["precision"] = MI.Precision;
    D["arch"] = MI.Arch;
    D["batch_buckets"] = MI.BatchBuckets;
    D["seq_buckets"] = MI.SeqBuckets;
    D["inputs"] = ioList(MI.Inputs);
    D["outputs"] = ioList(MI.Outputs);
    D["device"] = M->device() == Device::CPU ? "cpu" : "gpu";
    D["dimension"] = M->dimension();
    D["max_length"] = M->maxLength();
    D["has_tokenizer"] = M->hasTokenizer();
    D["tokenizer"] = TI.TokenizerType;
    D["output"] = TI.Output;
    D["pooling"] = TI.Pooling;
    D["normalized"] = TI.Normalized;
    return D;
  }

  nb::ndarray<nb::numpy, float, nb::ndim<2>>
  embed(const std::vector<std::string> &Texts, bool Truncate) const {
    EmbedOptions Options;
    Options.Truncate = Truncate;
    auto *Rows = new std::vector<float>();
    try {
      nb::gil_scoped_release Release;
      *Rows = take(M->embed(Texts, Options));
    } catch (...) {
      delete Rows;
      throw;
    }
    nb::capsule Owner(Rows, [](void *P) noexcept {
      delete static_cast<std::vector<float> *>(P);
    });
    size_t Shape[2] = {Texts.size(), M->dimension()};
    return nb::ndarray<nb::numpy, float, nb::ndim<2>>(Rows->data(), 2, Shape,
                                                      Owner);
  }

  /// Inputs in the order of model().Inputs, each (bytes, dims, dtype
  /// name); returns the outputs the same way.
  std::vector<std::tuple<nb::bytes, std::vector<int64_t>, std::string>>
  run(const std::vector<
      std::tuple<nb::bytes, std::vector<int64_t>, std::string>> &Inputs) const {
    const ModelInfo &MI = M->model();
    if (Inputs.size() != MI.Inputs.size())
      throw KilnError("the model takes " + std::to_string(MI.Inputs.size()) +
                      " inputs, not " + std::to_string(Inputs.size()));
    std::vector<HostTensor> Tensors;
    for (size_t I = 0; I < Inputs.size(); ++I) {
      const auto &[Bytes, Dims, Type] = Inputs[I];
      HostTensor T(MI.Inputs[I].Type, Dims);
      if (Type != elementTypeName(T.Type) || Bytes.size() != T.Bytes.size())
        throw KilnError("input " + MI.Inputs[I].Name + ": expected " +
                        elementTypeName(T.Type) + " data of " +
                        std::to_string(T.Bytes.size()) + " bytes");
      std::memcpy(T.Bytes.data(), Bytes.c_str(), T.Bytes.size());
      Tensors.push_back(std::move(T));
    }
    std::vector<HostTensor> Outputs;
    {
      nb::gil_scoped_release Release;
      Outputs = take(M->run(Tensors));
    }
    std::vector<std::tuple<nb::bytes, std::vector<int64_t>, std::string>> R;
    for (const HostTensor &T : Outputs)
      R.emplace_back(nb::bytes(T.Bytes.data(), T.Bytes.size()), T.Dims,
                     elementTypeName(T.Type));
    return R;
  }

private:
  std::unique_ptr<TextModel> M;
};

#ifndef KILN_PYTHON_RUNTIME_ONLY
void compileModel(const std::string &Model, const std::string &Output,
                  std::vector<int64_t> Batches, std::vector<int64_t> Seqs,
                  const std::string &Precision, const std::string &Tokenizer,
                  const std::string &Arch, const std::string &CacheDir,
                  unsigned Jobs, bool Ptx, const std::string &Prune) {
  for (auto *List : {&Batches, &Seqs}) {
    if (List->empty())
      throw KilnError(std::string(List == &Batches ? "batch" : "seq") +
                      " needs at least one size");
    for (int64_t N : *List)
      if (N <= 0)
        throw KilnError("bucket sizes must be positive, not " +
                        std::to_string(N));
  }
  CompileOptions Options;
  Options.Batches = std::move(Batches);
  Options.Seqs = std::move(Seqs);
  Options.Precision = take(parsePrecision(Precision));
  Options.Target = targetFor(Arch);
  Options.CacheDir = CacheDir.empty()     ? defaultCacheDir()
                     : CacheDir == "none" ? std::string()
                                          : CacheDir;
  Options.Jobs = Jobs;
  Options.EmitPtx = Ptx;
  Options.ModelName = llvm::sys::path::stem(Model).str();
  Options.CompileCommand = "kiln.compile(" + Model + ")";
  Options.Prune = Prune;
  nb::gil_scoped_release Release;
  auto G = take(loadModel(Model));
  auto A = compileGraph(std::move(G), Options);
  if (!A)
    check(withContext(A.takeError(), Model));
  check(addTextMetadata(*A, Model, Tokenizer));
  check(writeArtifact(*A, Output));
}
#endif

} // namespace

NB_MODULE(_kiln, m) {
  m.doc() = "kiln's extension module; use the kiln package.";
  nb::exception<KilnError>(m, "Error", PyExc_RuntimeError);

  nb::class_<PyModel>(m, "_Model")
      .def(nb::init<const std::string &, const std::string &, std::vector<int>,
                    size_t>(),
           nb::arg("path"), nb::arg("device"), nb::arg("devices"),
           nb::arg("max_batch"))
      .def_prop_ro("dimension", &PyModel::dimension)
      .def("metadata", &PyModel::metadata)
      .def("embed", &PyModel::embed, nb::arg("texts"), nb::arg("truncate"))
      .def("run", &PyModel::run, nb::arg("inputs"));

#ifndef KILN_PYTHON_RUNTIME_ONLY
  m.def("_compile", &compileModel, nb::arg("model"), nb::arg("output"),
        nb::arg("batch"), nb::arg("seq"), nb::arg("precision"),
        nb::arg("tokenizer"), nb::arg("arch"), nb::arg("cache_dir"),
        nb::arg("jobs"), nb::arg("ptx"), nb::arg("prune"));
#endif
}
