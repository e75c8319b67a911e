"""The kiln Python package on the GPU (issue 13): embeddings from Python equal
the C API's and `kiln embed`'s on the same device, and match onnxruntime's
fp32 on the same ids with cosine >= 0.9999 for an fp16 artifact.

Runs under pytest or as a script (the GPU machine may have no pytest):

    KILN_GPU_ARTIFACT=model.kiln KILN_GPU_ONNX=model.onnx \\
    KILN_TOKENIZER=tokenizer.json KILN_BINARY=kiln KILN_LIB=libkiln.so \\
        python3 tests/python/test_gpu.py

scripts/gpu-python.sh sets these up (and compiles the artifact, fp16, with
the tokenizer). Without a GPU, or without those variables, every test is
skipped with the reason.
"""
import ctypes
import json
import os
import subprocess
import sys
import threading

import numpy as np

try:
    import pytest
except ImportError:  # run as a script
    pytest = None

import kiln

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "Café, naïve façade — déjà vu! 東京は日本の首都です。",
    "Emoji 👩‍👩‍👧 and zero\u200bwidth text.",
    "",
    "word " * 300,  # truncated to the model's 128 tokens
] + [f"Sentence number {i} is about {'rivers and mountains ' * (i % 9)}today."
     for i in range(120)]

ENV = ("KILN_GPU_ARTIFACT", "KILN_GPU_ONNX", "KILN_TOKENIZER", "KILN_BINARY", "KILN_LIB")


class Skip(Exception):
    pass


def _need():
    missing = [v for v in ENV if not os.environ.get(v)]
    if missing:
        raise Skip("set " + ", ".join(missing) + " (scripts/gpu-python.sh does)")
    try:
        r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    except OSError as e:
        raise Skip(f"no GPU (nvidia-smi: {e})")
    if r.returncode != 0 or "GPU" not in r.stdout:
        raise Skip("no GPU (nvidia-smi -L)")
    return {v: os.environ[v] for v in ENV}


def _skip_or(fn):
    """Turns Skip into pytest's skip under pytest."""
    def wrapped():
        try:
            return fn()
        except Skip as e:
            if pytest:
                pytest.skip(str(e))
            raise
    wrapped.__name__ = fn.__name__
    return wrapped


_MODEL = {}


def _model():
    env = _need()
    if "m" not in _MODEL:
        _MODEL["m"] = kiln.Model(env["KILN_GPU_ARTIFACT"], device="gpu")
    return _MODEL["m"], env


def _cos(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@_skip_or
def test_python_equals_kiln_embed():
    m, env = _model()
    got = m.embed(SENTENCES)
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    r = subprocess.run([env["KILN_BINARY"], "embed", "--device", "gpu", env["KILN_GPU_ARTIFACT"]],
                       input="".join(json.dumps(s) + "\n" for s in SENTENCES),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = np.array([json.loads(l) for l in r.stdout.splitlines()], np.float32)
    diff = float(np.abs(got - want).max())
    print(f"python vs kiln embed (GPU): max abs diff {diff:.3g}")
    assert diff <= 1e-6


@_skip_or
def test_python_equals_c_api():
    m, env = _model()
    lib = ctypes.CDLL(env["KILN_LIB"])
    lib.kiln_model_load.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_void_p),
                                    ctypes.POINTER(ctypes.c_char_p)]
    lib.kiln_model_dimension.argtypes = [ctypes.c_void_p]
    lib.kiln_embed.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                               ctypes.c_size_t, ctypes.POINTER(ctypes.c_float),
                               ctypes.POINTER(ctypes.c_char_p)]
    lib.kiln_model_free.argtypes = [ctypes.c_void_p]
    handle, err = ctypes.c_void_p(), ctypes.c_char_p()
    assert lib.kiln_model_load(env["KILN_GPU_ARTIFACT"].encode(), 1, ctypes.byref(handle),
                               ctypes.byref(err)) == 0, err.value
    try:
        dim = lib.kiln_model_dimension(handle)
        texts = (ctypes.c_char_p * len(SENTENCES))(*[s.encode() for s in SENTENCES])
        out = np.zeros((len(SENTENCES), dim), np.float32)
        assert lib.kiln_embed(handle, texts, len(SENTENCES),
                              out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                              ctypes.byref(err)) == 0, err.value
    finally:
        lib.kiln_model_free(handle)
    diff = float(np.abs(m.embed(SENTENCES) - out).max())
    print(f"python vs C API (GPU): max abs diff {diff:.3g}")
    assert diff <= 1e-6


@_skip_or
def test_fp16_matches_onnxruntime():
    m, env = _model()
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise Skip(f"no onnxruntime: {e}")
    r = subprocess.run([env["KILN_BINARY"], "tokenize", env["KILN_TOKENIZER"]],
                       input="".join(json.dumps(s) + "\n" for s in SENTENCES),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(l) for l in r.stdout.splitlines()]
    sess = ort.InferenceSession(env["KILN_GPU_ONNX"], providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    want = []
    for row in ids:
        feeds = {"input_ids": np.array([row], np.int64),
                 "attention_mask": np.ones((1, len(row)), np.int64),
                 "token_type_ids": np.zeros((1, len(row)), np.int64)}
        want.append(sess.run(None, {n: feeds[n] for n in names})[0][0])
    got = m.embed(SENTENCES)
    cos = _cos(got.astype(np.float64), np.array(want, np.float64))
    print(f"python (GPU, {m.metadata['precision']}) vs onnxruntime fp32: "
          f"min cosine {cos.min():.7f} over {len(cos)} texts")
    assert cos.min() >= 0.9999


@_skip_or
def test_two_threads_at_once():
    m, _ = _model()
    want = m.embed(SENTENCES)
    out, errors = [None, None], []

    def work(k):
        try:
            for _ in range(5):
                out[k] = m.embed(SENTENCES)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for o in out:
        assert float(np.abs(o - want).max()) <= 1e-6


@_skip_or
def test_bad_path_raises():
    _need()
    try:
        kiln.Model("/no/such/model.kiln", device="gpu")
    except kiln.Error as e:
        assert "/no/such/model.kiln" in str(e)
    else:
        raise AssertionError("no kiln.Error for a missing file")


if __name__ == "__main__":
    failed = skipped = passed = 0
    for name, fn in list(globals().items()):
        if not name.startswith("test_") or not callable(fn):
            continue
        try:
            fn()
            passed += 1
            print(f"PASS {name}")
        except Skip as e:
            skipped += 1
            print(f"SKIP {name}: {e}")
        except Exception as e:  # noqa: BLE001 - a test failure, reported
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    print(f"gpu python tests: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)
