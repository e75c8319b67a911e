/* Built against an installed kiln with pkg-config (check_text.py): embeds
 * argv[2..] with the artifact argv[1] through the C API (on the CPU, or
 * the GPU with KILN_EMBED_DEVICE=gpu) and
 * prints one JSON array per text; then runs the tensor-level call on
 * [CLS] [SEP] and checks that a bad path is an error. */
#include <kiln/kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: embed MODEL.kiln TEXT...\n");
    return 2;
  }
  kiln_model *model;
  char *error;
  /* KILN_EMBED_DEVICE=gpu runs it on the GPU (scripts/bench/embed_gpu.py). */
  const char *device = getenv("KILN_EMBED_DEVICE");
  kiln_device where = device && strcmp(device, "gpu") == 0 ? KILN_DEVICE_GPU
                                                           : KILN_DEVICE_CPU;
  if (kiln_model_load(argv[1], where, &model, &error)) {
    fprintf(stderr, "error: %s\n", error);
    kiln_string_free(error);
    return 1;
  }
  size_t count = (size_t)(argc - 2), dim = (size_t)kiln_model_dimension(model);
  float *out = malloc(sizeof(float) * count * dim);
  if (kiln_embed(model, (const char *const *)(argv + 2), count, out, &error)) {
    fprintf(stderr, "error: %s\n", error);
    kiln_string_free(error);
    return 1;
  }
  for (size_t t = 0; t < count; ++t)
    for (size_t i = 0; i < dim; ++i)
      printf("%s%.9g%s", i ? "," : "[", out[t * dim + i], i + 1 < dim ? "" : "]\n");

  /* The tensor-level call: [CLS] [SEP] with every input by name. */
  kiln_tensor in[3];
  int64_t shape[2] = {1, 2};
  int64_t data[3][2] = {{101, 102}, {1, 1}, {0, 0}};
  size_t n = kiln_model_input_count(model);
  for (size_t k = 0; k < n && k < 3; ++k) {
    const char *name = kiln_model_input_name(model, k);
    in[k].name = name;
    in[k].dtype = KILN_I64;
    in[k].shape = shape;
    in[k].rank = 2;
    in[k].data = data[name[0] == 'i' ? 0 : name[0] == 'a' ? 1 : 2];
  }
  kiln_tensor *outs;
  size_t nouts;
  if (kiln_run(model, in, n, &outs, &nouts, &error)) {
    fprintf(stderr, "error: %s\n", error);
    kiln_string_free(error);
    return 1;
  }
  for (size_t o = 0; o < nouts; ++o)
    fprintf(stderr, "kiln_run: %s rank %zu [%lld, ...]\n", outs[o].name,
            outs[o].rank, (long long)outs[o].shape[0]);
  kiln_tensors_free(outs, nouts);

  /* Errors come back as values. */
  kiln_model *none;
  if (kiln_model_load("/nonexistent.kiln", KILN_DEVICE_CPU, &none, &error) ==
      KILN_OK)
    return 1;
  fprintf(stderr, "expected error: %s\n", error);
  kiln_string_free(error);
  free(out);
  kiln_model_free(model);
  return 0;
}
