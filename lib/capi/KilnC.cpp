//===- KilnC.cpp - kiln's C API over kiln::TextModel ----------------------===//
//
// Each entry point converts the C arguments, calls TextModel and turns an
// llvm::Error into a status and a malloc'd message; no exception or error
// crosses the C boundary unhandled.
//
//===----------------------------------------------------------------------===//
#include "kiln/TextModel.h"
#include "kiln/kiln.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct kiln_model {
  std::unique_ptr<kiln::TextModel> M;
};

namespace {

char *copyString(const std::string &S) {
  char *C = static_cast<char *>(std::malloc(S.size() + 1));
  if (C)
    std::memcpy(C, S.c_str(), S.size() + 1);
  return C;
}

int report(char **Error, kiln_status Status, const std::string &Message) {
  if (Error)
    *Error = copyString(Message);
  return Status;
}

int report(char **Error, kiln_status Status, llvm::Error E) {
  return report(Error, Status, llvm::toString(std::move(E)));
}

int ok(char **Error) {
  if (Error)
    *Error = nullptr;
  return KILN_OK;
}

int load(const char *Path, const kiln::TextModelOptions &Options,
         kiln_model **Out, char **Error) {
  if (!Path || !Out)
    return report(Error, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_model_load: path and out must not be NULL");
  *Out = nullptr;
  try {
    auto M = kiln::TextModel::load(Path, Options);
    if (!M)
      return report(Error, KILN_ERROR_LOAD, M.takeError());
    *Out = new kiln_model{std::move(*M)};
  } catch (const std::bad_alloc &) {
    return report(Error, KILN_ERROR_LOAD, "out of memory");
  }
  return ok(Error);
}

} // namespace

extern "C" {

int kiln_model_load(const char *path, kiln_device device, kiln_model **out,
                    char **error) {
  if (device != KILN_DEVICE_CPU && device != KILN_DEVICE_GPU)
    return report(error, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_model_load: unknown device " + std::to_string(device));
  kiln::TextModelOptions O;
  O.Where = device == KILN_DEVICE_CPU ? kiln::Device::CPU : kiln::Device::GPU;
  return load(path, O, out, error);
}

int kiln_model_load_devices(const char *path, const int *devices, size_t count,
                            kiln_model **out, char **error) {
  if (!devices || !count)
    return report(error, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_model_load_devices: no devices given");
  kiln::TextModelOptions O;
  O.Where = kiln::Device::GPU;
  O.Devices.assign(devices, devices + count);
  return load(path, O, out, error);
}

void kiln_model_free(kiln_model *model) { delete model; }
void kiln_string_free(char *s) { std::free(s); }

int kiln_model_dimension(const kiln_model *model) {
  return model ? int(model->M->dimension()) : 0;
}
int kiln_model_max_length(const kiln_model *model) {
  return model ? int(model->M->maxLength()) : 0;
}
int kiln_model_has_tokenizer(const kiln_model *model) {
  return model && model->M->hasTokenizer();
}

int kiln_embed_truncate(kiln_model *model, const char *const *texts,
                        size_t count, int truncate, float *out, char **error) {
  if (!model || (count && (!texts || !out)))
    return report(error, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_embed: model, texts and out must not be NULL");
  try {
    std::vector<std::string> Texts;
    Texts.reserve(count);
    for (size_t I = 0; I < count; ++I) {
      if (!texts[I])
        return report(error, KILN_ERROR_INVALID_ARGUMENT,
                      "kiln_embed: texts[" + std::to_string(I) + "] is NULL");
      Texts.emplace_back(texts[I]);
    }
    kiln::EmbedOptions O;
    O.Truncate = truncate != 0;
    auto V = model->M->embed(Texts, O);
    if (!V)
      return report(error, KILN_ERROR_RUN, V.takeError());
    std::memcpy(out, V->data(), V->size() * sizeof(float));
  } catch (const std::bad_alloc &) {
    return report(error, KILN_ERROR_RUN, "out of memory");
  }
  return ok(error);
}

int kiln_embed(kiln_model *model, const char *const *texts, size_t count,
               float *out, char **error) {
  return kiln_embed_truncate(model, texts, count, 1, out, error);
}

size_t kiln_model_input_count(const kiln_model *model) {
  return model ? model->M->model().Inputs.size() : 0;
}
const char *kiln_model_input_name(const kiln_model *model, size_t index) {
  if (!model || index >= model->M->model().Inputs.size())
    return nullptr;
  return model->M->model().Inputs[index].Name.c_str();
}
size_t kiln_model_output_count(const kiln_model *model) {
  return model ? model->M->model().Outputs.size() : 0;
}
const char *kiln_model_output_name(const kiln_model *model, size_t index) {
  if (!model || index >= model->M->model().Outputs.size())
    return nullptr;
  return model->M->model().Outputs[index].Name.c_str();
}

int kiln_run(kiln_model *model, const kiln_tensor *inputs, size_t num_inputs,
             kiln_tensor **outputs, size_t *num_outputs, char **error) {
  if (!model || (num_inputs && !inputs) || !outputs || !num_outputs)
    return report(error, KILN_ERROR_INVALID_ARGUMENT,
                  "kiln_run: model, inputs and outputs must not be NULL");
  *outputs = nullptr;
  *num_outputs = 0;
  const kiln::ModelInfo &Info = model->M->model();
  try {
    std::vector<kiln::HostTensor> In(Info.Inputs.size());
    std::vector<bool> Given(Info.Inputs.size());
    for (size_t I = 0; I < num_inputs; ++I) {
      const kiln_tensor &T = inputs[I];
      size_t K = 0;
      while (K < Info.Inputs.size() &&
             (!T.name || Info.Inputs[K].Name != T.name))
        ++K;
      if (K == Info.Inputs.size())
        return report(error, KILN_ERROR_INVALID_ARGUMENT,
                      std::string("kiln_run: the model has no input '") +
                          (T.name ? T.name : "(null)") + "'");
      if (Given[K])
        return report(error, KILN_ERROR_INVALID_ARGUMENT,
                      "kiln_run: input '" + Info.Inputs[K].Name +
                          "' given twice");
      if (unsigned(T.dtype) > unsigned(KILN_BOOL) || (T.rank && !T.shape))
        return report(error, KILN_ERROR_INVALID_ARGUMENT,
                      "kiln_run: input '" + Info.Inputs[K].Name +
                          "' has an unknown dtype or no shape");
      std::vector<int64_t> Dims(T.shape, T.shape + T.rank);
      for (int64_t D : Dims)
        if (D < 0)
          return report(error, KILN_ERROR_INVALID_ARGUMENT,
                        "kiln_run: input '" + Info.Inputs[K].Name +
                            "' has a negative dim");
      kiln::HostTensor H(kiln::ElementType(T.dtype), std::move(Dims));
      if (!H.Bytes.empty()) {
        if (!T.data)
          return report(error, KILN_ERROR_INVALID_ARGUMENT,
                        "kiln_run: input '" + Info.Inputs[K].Name +
                            "' has no data");
        std::memcpy(H.Bytes.data(), T.data, H.Bytes.size());
      }
      In[K] = std::move(H);
      Given[K] = true;
    }
    for (size_t K = 0; K < Given.size(); ++K)
      if (!Given[K])
        return report(error, KILN_ERROR_INVALID_ARGUMENT,
                      "kiln_run: input '" + Info.Inputs[K].Name +
                          "' is missing");
    auto Out = model->M->run(In);
    if (!Out)
      return report(error, KILN_ERROR_RUN, Out.takeError());
    size_t N = Out->size();
    auto *Ts = static_cast<kiln_tensor *>(std::calloc(N, sizeof(kiln_tensor)));
    if (!Ts && N)
      throw std::bad_alloc();
    for (size_t I = 0; I < N; ++I) {
      const kiln::HostTensor &H = (*Out)[I];
      kiln_tensor &T = Ts[I];
      T.name = copyString(I < Info.Outputs.size() ? Info.Outputs[I].Name : "");
      T.dtype = kiln_dtype(H.Type);
      T.rank = H.Dims.size();
      auto *Shape =
          static_cast<int64_t *>(std::malloc(sizeof(int64_t) * (T.rank + 1)));
      auto *Data = std::malloc(H.Bytes.size() + 1);
      if (!T.name || !Shape || !Data) {
        std::free(Shape);
        std::free(Data);
        kiln_tensors_free(Ts, N);
        throw std::bad_alloc();
      }
      std::memcpy(Shape, H.Dims.data(), sizeof(int64_t) * T.rank);
      std::memcpy(Data, H.Bytes.data(), H.Bytes.size());
      T.shape = Shape;
      T.data = Data;
    }
    *outputs = Ts;
    *num_outputs = N;
  } catch (const std::bad_alloc &) {
    return report(error, KILN_ERROR_RUN, "out of memory");
  }
  return ok(error);
}

void kiln_tensors_free(kiln_tensor *tensors, size_t count) {
  if (!tensors)
    return;
  for (size_t I = 0; I < count; ++I) {
    std::free(const_cast<char *>(tensors[I].name));
    std::free(const_cast<int64_t *>(tensors[I].shape));
    std::free(tensors[I].data);
  }
  std::free(tensors);
}

} // extern "C"
