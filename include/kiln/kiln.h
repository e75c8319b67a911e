/*===- kiln/kiln.h - kiln's C API -------------------------------*- C -*-===*\
 *
 * Plain C (C99), for C, Go (cgo), Rust (bindgen), C# (P/Invoke) and any
 * other language with a C FFI. Link with -lkiln (pkg-config kiln, or CMake's
 * find_package(kiln) and kiln::runtime).
 *
 *   kiln_model *m; char *err;
 *   if (kiln_model_load("model.kiln", KILN_DEVICE_CPU, &m, &err)) {
 *     fprintf(stderr, "%s\n", err); kiln_string_free(err); return 1;
 *   }
 *   const char *texts[] = {"A man is eating food."};
 *   float *out = malloc(sizeof(float) * kiln_model_dimension(m));
 *   kiln_embed(m, texts, 1, out, &err);
 *   kiln_model_free(m);
 *
 * Handles are opaque. Every call that can fail returns 0 on success or a
 * kiln_status; when `error` is not NULL it then receives a message (UTF-8,
 * NUL-terminated) that the caller frees with kiln_string_free, and NULL on
 * success. Nothing aborts the process.
 *
 * Devices: KILN_DEVICE_CPU runs the artifact's IR on kiln's reference
 * executor (exact fp32 math, no GPU needed); KILN_DEVICE_GPU runs the
 * compiled kernels (one engine per GPU of kiln_model_load_devices).
 *
 * Thread safety: a loaded model is immutable; kiln_embed, kiln_run and the
 * kiln_model_* queries may be called on one model from many threads at
 * once (on the GPU each concurrent call gets its own execution context).
 * kiln_model_free must not race with any other call on that model.
 *
\*===----------------------------------------------------------------------===*/
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_model kiln_model;

typedef enum { KILN_DEVICE_CPU = 0, KILN_DEVICE_GPU = 1 } kiln_device;

typedef enum {
  KILN_OK = 0,
  /* A NULL pointer, an unknown name, a shape or dtype the model refuses. */
  KILN_ERROR_INVALID_ARGUMENT = 1,
  /* The file is missing, not an artifact, or the device cannot run it. */
  KILN_ERROR_LOAD = 2,
  /* Tokenizing or running failed (a text too long without truncation, a
   * model without a tokenizer, a CUDA error). */
  KILN_ERROR_RUN = 3
} kiln_status;

/* Element types; the same numbering as kiln::ElementType. */
typedef enum {
  KILN_F32 = 0,
  KILN_F16 = 1,
  KILN_BF16 = 2,
  KILN_F64 = 3,
  KILN_I64 = 4,
  KILN_I32 = 5,
  KILN_I8 = 6,
  KILN_U8 = 7,
  KILN_BOOL = 8
} kiln_dtype;

/* A dense row-major tensor in host memory. */
typedef struct {
  const char *name; /* the model's input or output name */
  kiln_dtype dtype;
  const int64_t *shape;
  size_t rank;
  void *data;
} kiln_tensor;

/* Loads a .kiln artifact. On the GPU it uses device 0. */
int kiln_model_load(const char *path, kiln_device device, kiln_model **out,
                    char **error);
/* Loads an artifact onto the GPUs `devices[0..count)`; embed spreads its
 * batches over them. */
int kiln_model_load_devices(const char *path, const int *devices, size_t count,
                            kiln_model **out, char **error);
void kiln_model_free(kiln_model *model);
void kiln_string_free(char *s);

/* The embedding width; 0 when the model cannot embed text. */
int kiln_model_dimension(const kiln_model *model);
/* Tokens per text at most (special tokens included); 0: no limit. */
int kiln_model_max_length(const kiln_model *model);
/* 1 when the artifact carries a tokenizer. */
int kiln_model_has_tokenizer(const kiln_model *model);

/* Embeds `count` UTF-8 texts into `out` (count x dimension floats, row i
 * for texts[i]). Texts longer than kiln_model_max_length are truncated. */
int kiln_embed(kiln_model *model, const char *const *texts, size_t count,
               float *out, char **error);
/* The same; with truncate 0 a text that is too long is an error. */
int kiln_embed_truncate(kiln_model *model, const char *const *texts,
                        size_t count, int truncate, float *out, char **error);

/* The model's inputs and outputs: count, and the name of each (owned by
 * the model, valid until kiln_model_free). */
size_t kiln_model_input_count(const kiln_model *model);
const char *kiln_model_input_name(const kiln_model *model, size_t index);
size_t kiln_model_output_count(const kiln_model *model);
const char *kiln_model_output_name(const kiln_model *model, size_t index);

/* Runs the model on tensors, for models without a tokenizer: `inputs` by
 * name (every model input once, in any order; data is read, not kept).
 * On success *outputs holds *num_outputs tensors in the model's output
 * order, with name, shape and data allocated by kiln: free them with
 * kiln_tensors_free. */
int kiln_run(kiln_model *model, const kiln_tensor *inputs, size_t num_inputs,
             kiln_tensor **outputs, size_t *num_outputs, char **error);
void kiln_tensors_free(kiln_tensor *tensors, size_t count);

#ifdef __cplusplus
}
#endif

#endif
