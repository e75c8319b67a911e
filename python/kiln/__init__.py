"""kiln: sentence-embedding models compiled ahead of time; text in, embeddings out.

    import kiln
    kiln.compile("all-MiniLM-L6-v2.onnx", "minilm.kiln", batch=[1, 8, 32],
                 seq=[32, 128], tokenizer="tokenizer.json")
    model = kiln.Model("minilm.kiln", device="cpu")   # or "gpu"
    vectors = model.embed(["A man is eating food."])  # float32 [1, 384]

Model wraps kiln's C++ text API (kiln/TextModel.h): the artifact's IR on
the reference executor (device="cpu": exact, no GPU needed) or its kernels
on one or more GPUs. A Model is safe to use from many threads at once, and
the GIL is released while it runs. Every error is a kiln.Error (a
RuntimeError) carrying kiln's message.

A package built against an installed libkiln (python/CMakeLists.txt: the
runtime only, no compiler) compiles by running the `kiln` command
($KILN_BINARY, else `kiln` on PATH) with the same options.
"""
import os
import shutil
import subprocess

import numpy as np

from ._kiln import Error, _Model

try:
    from ._kiln import _compile
except ImportError:  # built against a prebuilt libkiln: no compiler inside
    _compile = None

__all__ = ["Error", "Model", "compile"]

_DTYPES = {
    "f32": np.float32, "f16": np.float16, "f64": np.float64, "i64": np.int64,
    "i32": np.int32, "i8": np.int8, "u8": np.uint8, "bool": np.bool_,
}


def _numpy_dtype(name):
    if name not in _DTYPES:
        raise Error(f"kiln: numpy has no dtype for kiln's {name}")
    return _DTYPES[name]


class Model:
    """A compiled .kiln artifact, loaded on the CPU or the GPU.

    device: "cpu" (the reference executor) or "gpu". devices: the GPU
    ordinals to spread batches over (default [0]). max_batch: texts per
    batch (0: the largest batch bucket on the GPU, 32 on the CPU).
    """

    def __init__(self, path, device="gpu", devices=None, max_batch=0):
        self._model = _Model(str(path), device, list(devices or []), max_batch)
        self._meta = self._model.metadata()

    @property
    def dimension(self):
        """Width of one embedding."""
        return self._model.dimension

    @property
    def metadata(self):
        """What the artifact says of itself: model_name, precision, arch,
        batch_buckets, seq_buckets, inputs and outputs (name, dtype, shape),
        device, dimension, max_length, tokenizer, output, pooling,
        normalized."""
        return dict(self._meta)

    @property
    def inputs(self):
        return [i["name"] for i in self._meta["inputs"]]

    @property
    def outputs(self):
        return [o["name"] for o in self._meta["outputs"]]

    def embed(self, texts, truncate=True):
        """float32 array [len(texts), dimension], row i the embedding of
        texts[i]. truncate=False refuses a text longer than max_length."""
        if isinstance(texts, str):
            raise TypeError("embed takes a list of strings, not a string")
        return self._model.embed(list(texts), truncate)

    def run(self, inputs):
        """Runs the model on tensors: {input name: array} (every input of
        metadata["inputs"]) -> {output name: numpy array}."""
        names = self.inputs
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise Error(f"kiln: the model has no input {unknown[0]} "
                        f"(its inputs: {', '.join(names)})")
        packed = []
        for io in self._meta["inputs"]:
            if io["name"] not in inputs:
                raise Error(f"kiln: missing input {io['name']}")
            a = np.ascontiguousarray(inputs[io["name"]],
                                     dtype=_numpy_dtype(io["dtype"]))
            packed.append((a.tobytes(), list(a.shape), io["dtype"]))
        results = self._model.run(packed)
        return {
            io["name"]: np.frombuffer(data, dtype=_numpy_dtype(dtype))
            .reshape(dims).copy()
            for io, (data, dims, dtype) in zip(self._meta["outputs"], results)
        }

    def __repr__(self):
        return (f"kiln.Model({self._meta['model_name']!r}, "
                f"device={self._meta['device']!r}, dimension={self.dimension})")


def compile(model, output, batch=(1, 8, 32, 128, 256), seq=(32, 128, 512),
            precision="f32", tokenizer=None, arch="sm_90a", cache_dir=None,
            jobs=0, ptx=True, prune=""):
    """What `kiln compile MODEL -o OUTPUT` does, with the same defaults.

    model: an .onnx or .kir file. precision: "f32", "fp16" or "bf16".
    tokenizer: a tokenizer.json to store in the artifact (None: a
    tokenizer.json beside the model, if any; "none" or False: none).
    cache_dir: the kernel cache (None: $KILN_CACHE_DIR, else ~/.cache/kiln;
    "none" disables it). prune: "heads=R,ffn=R" as --prune.
    """
    if tokenizer is False:
        tokenizer = "none"
    if _compile is None:
        _compile_with_cli(str(model), str(output), batch, seq, precision,
                          str(tokenizer or ""), arch, str(cache_dir or ""),
                          int(jobs), bool(ptx), prune)
        return
    _compile(str(model), str(output), [int(b) for b in batch],
             [int(s) for s in seq], precision, str(tokenizer or ""), arch,
             str(cache_dir or ""), int(jobs), bool(ptx), prune)


def _compile_with_cli(model, output, batch, seq, precision, tokenizer, arch,
                      cache_dir, jobs, ptx, prune):
    """kiln.compile through the kiln command, for a runtime-only build."""
    exe = os.environ.get("KILN_BINARY") or shutil.which("kiln")
    if not exe or not os.path.exists(exe):
        raise Error("kiln: this package was built against a prebuilt libkiln, "
                    "which has no compiler; kiln.compile runs the kiln command: "
                    "set KILN_BINARY or put kiln on PATH")
    cmd = [exe, "compile", model, "-o", output,
           "--batch", ",".join(str(int(b)) for b in batch),
           "--seq", ",".join(str(int(s)) for s in seq),
           "--precision", precision, "--arch", arch]
    if tokenizer:
        cmd += ["--tokenizer", tokenizer]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    if not ptx:
        cmd.append("--no-ptx")
    if prune:
        cmd += ["--prune", prune]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Error(r.stderr.strip().removeprefix("error: ") or
                    f"kiln compile failed with status {r.returncode}")
