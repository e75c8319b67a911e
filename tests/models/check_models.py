#!/usr/bin/env python3
"""Runs every model of tests/models/manifest.json through kiln's CPU reference
executor and compares each output with the onnxruntime outputs stored beside
the model (computed when the fixtures were exported) and with onnxruntime run
here, live.

    python tests/models/check_models.py --kiln build/bin/kiln [--real-minilm PATH]

--real-minilm takes the all-MiniLM-L6-v2.onnx that scripts/fetch_minilm.py
builds; its embeddings must also keep a cosine similarity of at least
0.99999 with onnxruntime's. Without --kiln only the fixtures themselves are
checked: live onnxruntime against the stored outputs.

A fixture whose manifest entry has `kiln_xfail` (the reason kiln cannot run
it correctly yet) is still run: a failure prints XFAIL with the reason and
counts as expected, a pass prints XPASS and counts as failed (the mark is
stale: remove it).

Prints one line per model and `model tests: N passed, M failed, K xfail`;
exits 1 when any model failed.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import onnxruntime as ort
except ImportError:
    ort = None

HERE = Path(__file__).resolve().parent
KILN_TOLERANCE = 1e-4
# Live onnxruntime here against the stored outputs of another onnxruntime
# version on another machine: both fp32, so they agree far below kiln's bound.
ORT_TOLERANCE = 1e-5
MIN_COSINE = 0.99999
REAL_MINILM = "all-MiniLM-L6-v2"


def run_ort(model, inputs):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {i.name: inputs[i.name] for i in sess.get_inputs()})))


def run_kiln(kiln, model, inputs, workdir):
    cmd = [str(kiln), "run", "--device", "cpu", str(model)]
    for name, value in inputs.items():
        path = Path(workdir) / f"{name}.npy"
        np.save(path, value)
        cmd += ["--input", f"{name}={path}"]
    out = Path(workdir) / "out.npz"
    cmd += ["-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(f"kiln exited {proc.returncode}: {lines[-1] if lines else 'no output'}")
    with np.load(out) as got:
        return {k: got[k] for k in got.files}


def max_error(got, want):
    """Largest absolute difference over the outputs `want` names; an output
    missing from `got` or of another shape is an error."""
    worst = 0.0
    for name, ref in want.items():
        if name not in got:
            raise RuntimeError(f"output {name} missing (got {sorted(got)})")
        if got[name].shape != ref.shape:
            raise RuntimeError(f"output {name} has shape {list(got[name].shape)}, "
                               f"expected {list(ref.shape)}")
        worst = max(worst, float(np.max(np.abs(got[name].astype(np.float64) - ref))))
    return worst


def min_cosine(got, want):
    a = got.astype(np.float64)
    b = want.astype(np.float64)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(np.min(cos))


def check_model(name, model, inputs, stored, kiln, real):
    """Returns (passed, report line)."""
    parts, ok = [], True
    live = run_ort(model, inputs) if ort else None
    if stored is not None and live is not None:
        err = max_error(live, stored)
        parts.append(f"ort-vs-stored {err:.2e}")
        ok &= err <= ORT_TOLERANCE
    if kiln:
        with tempfile.TemporaryDirectory(prefix="kiln-model-") as work:
            got = run_kiln(kiln, model, inputs, work)
        for label, ref in (("stored", stored), ("ort", live)):
            if ref is None:
                continue
            err = max_error(got, ref)
            parts.append(f"kiln-vs-{label} {err:.2e}")
            ok &= err <= KILN_TOLERANCE
        if real:
            ref = live if live is not None else stored
            cos = min_cosine(got["sentence_embedding"], ref["sentence_embedding"])
            parts.append(f"min-cosine {cos:.7f}")
            ok &= cos >= MIN_COSINE
    if not parts:
        raise RuntimeError("nothing to compare: no stored outputs and no onnxruntime")
    return ok, " ".join(parts)


def load_npz(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def main():
    parser = argparse.ArgumentParser(description="kiln's model tests.")
    parser.add_argument("--kiln", type=Path, help="the kiln CLI (build/bin/kiln)")
    parser.add_argument("--real-minilm", type=Path,
                        help="all-MiniLM-L6-v2.onnx built by scripts/fetch_minilm.py")
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.json")
    parser.add_argument("--only", nargs="*", help="model names to check (default: all)")
    args = parser.parse_args()

    if args.kiln and not args.kiln.exists():
        print(f"error: {args.kiln} does not exist", file=sys.stderr)
        return 2
    if not args.kiln and ort is None:
        print("error: without --kiln the check needs onnxruntime", file=sys.stderr)
        return 2
    manifest = json.loads(args.manifest.read_text())
    base = args.manifest.parent
    cases = [(m["name"], base / m["file"], base / m["inputs"], base / m["outputs"], False,
              m.get("kiln_xfail") if args.kiln else None)
             for m in manifest["models"]]
    if args.real_minilm:
        stored = base / f"{REAL_MINILM}.ort.npz"
        cases.append((REAL_MINILM, args.real_minilm, base / f"{REAL_MINILM}.inputs.npz",
                      stored if stored.exists() else None, True, None))
    if args.only:
        cases = [c for c in cases if c[0] in args.only]

    passed = failed = xfailed = 0
    width = max((len(c[0]) for c in cases), default=0)
    for name, model, inputs_path, outputs_path, real, xfail in cases:
        try:
            stored = load_npz(outputs_path) if outputs_path else None
            ok, line = check_model(name, model, load_npz(inputs_path), stored, args.kiln, real)
        except Exception as err:  # any failure of one model is reported, the rest still run
            ok, line = False, f"error: {err}"
        tag = outcome(ok, xfail)
        passed += tag == "PASS"
        xfailed += tag == "XFAIL"
        failed += tag in ("FAIL", "XPASS")
        print(f"{tag} {name:<{width}} {line}" + (f" (expected to fail: {xfail})" if xfail else ""),
              flush=True)
    print(f"model tests: {passed} passed, {failed} failed, {xfailed} xfail")
    return 1 if failed else 0


def outcome(ok, xfail):
    """PASS or FAIL; for a fixture marked kiln_xfail, XFAIL or XPASS (a
    stale mark, counted as a failure)."""
    if xfail:
        return "XPASS" if ok else "XFAIL"
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    sys.exit(main())
