"""The kiln Python package (issue 13): kiln.Model on the CPU (the
reference executor, so no GPU is needed), kiln.compile and kiln.Error."""
import json
import subprocess
import threading
import time

import numpy as np
import pytest

import kiln

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Café, naïve façade — déjà vu! 東京は日本の首都です。",
    "",
    "word " * 300,  # longer than the model's 128 tokens: truncated
]


def test_metadata(cpu_model):
    meta = cpu_model.metadata
    assert cpu_model.dimension == 384 == meta["dimension"]
    assert meta["tokenizer"] == "WordPiece" and meta["has_tokenizer"]
    assert meta["device"] == "cpu"
    assert meta["batch_buckets"] == [1, 4] and meta["seq_buckets"] == [16, 128]
    assert meta["max_length"] == 128
    assert meta["pooling"] == "mean" and meta["normalized"]
    assert [i["name"] for i in meta["inputs"]] == [
        "input_ids", "attention_mask", "token_type_ids"]
    assert meta["outputs"][0]["name"] == "sentence_embedding"
    assert meta["outputs"][0]["shape"] == ["batch", 384]


def test_embed_equals_kiln_embed(cpu_model, text_artifact, kiln_binary):
    got = cpu_model.embed(SENTENCES)
    assert got.dtype == np.float32 and got.shape == (len(SENTENCES), 384)
    r = subprocess.run([kiln_binary, "embed", text_artifact, "--device", "cpu"],
                       input="".join(json.dumps(s) + "\n" for s in SENTENCES),
                       capture_output=True, text=True, check=True)
    want = np.array([json.loads(l) for l in r.stdout.splitlines()], np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # Normalized by the model: unit rows.
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_embed_no_truncate_refuses(cpu_model):
    with pytest.raises(kiln.Error):
        cpu_model.embed(["word " * 300], truncate=False)


def test_embed_empty_list(cpu_model):
    assert cpu_model.embed([]).shape == (0, 384)


def test_bad_path_raises_kilns_message():
    with pytest.raises(kiln.Error, match="/no/such/model.kiln: No such file"):
        kiln.Model("/no/such/model.kiln", device="cpu")
    assert issubclass(kiln.Error, RuntimeError)


def test_bad_device_raises():
    with pytest.raises(kiln.Error, match="device must be"):
        kiln.Model("/no/such/model.kiln", device="tpu")


def test_compile_bad_model_raises(tmp_path):
    with pytest.raises(kiln.Error, match="no-such.onnx"):
        kiln.compile(str(tmp_path / "no-such.onnx"), str(tmp_path / "x.kiln"))
    with pytest.raises(kiln.Error, match="precision|fp8"):
        kiln.compile(str(tmp_path / "no-such.onnx"), str(tmp_path / "x.kiln"),
                     precision="fp8")


def test_two_threads_embed_at_once(cpu_model):
    texts = SENTENCES[:5]
    want = cpu_model.embed(texts)
    got = [None, None]
    errors = []

    def work(i):
        try:
            for _ in range(2):
                got[i] = cpu_model.embed(texts)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_gil_is_released_while_embedding(cpu_model):
    # While another thread is inside embed(), this one keeps running Python:
    # were the GIL held for the whole call, the counter would stand still
    # until it returned.
    texts = ["word " * 60] * 8
    start = time.perf_counter()
    cpu_model.embed(texts)
    alone = time.perf_counter() - start
    done = threading.Event()
    ticks_during = 0

    def embed():
        cpu_model.embed(texts)
        done.set()

    t = threading.Thread(target=embed)
    t.start()
    time.sleep(0.02)  # let it enter the call
    deadline = time.perf_counter() + alone / 2
    while not done.is_set() and time.perf_counter() < deadline:
        ticks_during += 1
    in_call = not done.is_set()
    t.join()
    assert in_call, f"embed() returned within {alone / 2 + 0.02:.2f} s"
    assert ticks_during > 1000, ticks_during


def test_run_without_tokenizer(bare_artifact, cpu_model):
    bare = kiln.Model(bare_artifact, device="cpu")
    assert not bare.metadata["has_tokenizer"]
    with pytest.raises(kiln.Error):
        bare.embed(["hello"])
    ids = np.array([[101, 1037, 2158, 2003, 5983, 2833, 1012, 102]])
    out = bare.run({"input_ids": ids, "attention_mask": np.ones_like(ids),
                    "token_type_ids": np.zeros_like(ids)})
    assert list(out) == ["sentence_embedding"]
    assert out["sentence_embedding"].dtype == np.float32
    assert out["sentence_embedding"].shape == (1, 384)
    # The same ids as the tokenizer gives "A man is eating food.".
    np.testing.assert_allclose(out["sentence_embedding"][0],
                               cpu_model.embed(["A man is eating food."])[0],
                               atol=1e-6)
    with pytest.raises(kiln.Error, match="missing input"):
        bare.run({"input_ids": ids})
    with pytest.raises(kiln.Error, match="no input"):
        bare.run({"input_ids": ids, "attention_mask": ids,
                  "token_type_ids": ids, "pixels": ids})


def test_compiled_artifact_loads(tmp_path, onnx_model, cache_dir):
    out = tmp_path / "fp16.kiln"
    kiln.compile(onnx_model, out, batch=[2], seq=[32], precision="fp16",
                 tokenizer=False, cache_dir=cache_dir, ptx=False)
    m = kiln.Model(out, device="cpu")
    meta = m.metadata
    assert meta["precision"] == "f16" and meta["batch_buckets"] == [2]
    assert meta["seq_buckets"] == [32] and not meta["has_tokenizer"]
    assert m.dimension == 384
