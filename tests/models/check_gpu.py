#!/usr/bin/env python3
"""kiln on the GPU against onnxruntime (fp32), for every fixture model and
the real all-MiniLM-L6-v2.

Two phases, because compiling needs no GPU and GPU time is scarce:

    # on any machine: compile every fixture at f32 and f16 into DIR
    python tests/models/check_gpu.py compile --kiln build/bin/kiln --out DIR \\
        [--real-minilm build/models/all-MiniLM-L6-v2.onnx]
    # on the GPU machine: run them and compare
    python tests/models/check_gpu.py run --kiln .carry/kiln --dir DIR

Fixtures are compiled with batch bucket 2 and seq buckets 16 and 32: their
3-row inputs split into a full bucket and a padded one, and the random
inputs (seq 11) are padded along the sequence too. Each model is checked on
its stored inputs (one row padded) against the stored onnxruntime outputs,
and on random inputs with padded masks against onnxruntime run live.

Outputs are compared where the attention mask is 1: an output with a
sequence dim (the artifact's `seq` symbol, as `kiln inspect --json` shows
it) is compared at the real tokens only (the rows of the mask input, the
input named `attention_mask` (or `*mask*`), that are 1), because values at
padded positions are read by no one and are implementation-defined: a
fully masked attention row (a padded query; ModernBERT's local window
holding no real token) is 0 in kiln's Attention, something else in torch
and onnxruntime, and DeBERTa's dynamo export averages such a row over every
key, so it changes when kiln pads the sequence to a bucket. Outputs without
a seq dim (pooled, normalized embeddings) are compared whole.

Bounds: f32 max abs error 1e-4. f16 per-row cosine similarity >= 0.9999
and max abs error <= 2e-3 x max(1, max |reference|): 2e-3 for normalized
embeddings, scaled for raw hidden states of magnitude ~4, whose fp16
storage alone rounds by ~2e-3.

Prints one line per (model, precision, inputs) and `gpu model tests: N
passed, M failed`; exits 1 when any failed.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PRECISIONS = {"f32": "f32", "f16": "fp16"}
REAL = "all-MiniLM-L6-v2"


def fixtures():
    manifest = json.loads((HERE / "manifest.json").read_text())
    for m in manifest["models"]:
        yield m["name"], HERE / m["file"]


def compile_all(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for name, path in fixtures():
        if args.only and args.only not in name:
            continue
        for prec, flag in PRECISIONS.items():
            jobs.append((name, path, prec, flag, ["--batch", "2", "--seq", "16,32"]))
    if args.real_minilm:
        jobs.append((REAL, Path(args.real_minilm), "f16", "fp16",
                     ["--batch", "4,16", "--seq", "16,64"]))
    failed = 0
    for name, path, prec, flag, buckets in jobs:
        target = out / f"{name}.{prec}.kiln"
        cmd = [args.kiln, "compile", str(path), "-o", str(target),
               "--precision", flag, "--no-ptx"] + buckets
        proc = subprocess.run(cmd, capture_output=True, text=True)
        status = "ok" if proc.returncode == 0 else "FAILED"
        failed += proc.returncode != 0
        print(f"compile {name} {prec}: {status} {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    if args.real_minilm:
        write_real_check(Path(args.real_minilm), out / f"{REAL}.check.npz")
    return failed


def random_inputs(input_names, batch, seq, vocab, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(1, seq // 4), seq + 1, size=batch)
    lengths[0] = seq
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    feeds = {}
    for name in input_names:
        if "mask" in name:
            feeds[name] = mask
        elif "type" in name:
            feeds[name] = np.zeros((batch, seq), np.int64)
        else:
            feeds[name] = rng.integers(1, vocab, size=(batch, seq)).astype(np.int64)
    return feeds


def run_ort(model, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    ins = {i.name: feeds[i.name] for i in sess.get_inputs()}
    return dict(zip(names, sess.run(names, ins)))


def write_real_check(model, path):
    """Random padded inputs for the real model and onnxruntime's outputs,
    made where the 90 MB model is (it does not travel to the GPU machine)."""
    feeds = random_inputs(["input_ids", "attention_mask", "token_type_ids"], 16, 64, 30000, 7)
    ref = run_ort(model, feeds)
    np.savez(path, **{f"in.{k}": v for k, v in feeds.items()},
             **{f"ref.{k}": v for k, v in ref.items()})
    print(f"wrote {path}")


def run_kiln(kiln, artifact, feeds, workdir):
    cmd = [kiln, "run", str(artifact)]
    for name, value in feeds.items():
        p = Path(workdir) / f"{name}.npy"
        np.save(p, value)
        cmd += ["--input", f"{name}={p}"]
    out = Path(workdir) / "out.npz"
    cmd += ["-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"exit {proc.returncode}")
    return dict(np.load(out))


def seq_dims(kiln, artifact):
    """Output name -> index of its `seq` dim, from the artifact's metadata."""
    proc = subprocess.run([kiln, "inspect", "--json", str(artifact)],
                          capture_output=True, text=True, check=True)
    outs = json.loads(proc.stdout)["outputs"]
    return {o["name"]: o["shape"].index("seq") for o in outs if "seq" in o["shape"]}


def mask_of(feeds):
    """The attention mask among the inputs (batch x seq, 1 at real tokens)."""
    names = [k for k in feeds if k == "attention_mask"] or [k for k in feeds if "mask" in k]
    return feeds[names[0]].astype(bool) if names else None


def real_tokens(value, mask, dim):
    """`value` with its padded positions (mask 0 along `dim`) set to 0."""
    keep = mask.reshape(mask.shape[:1] + (1,) * (dim - 1) + mask.shape[1:2] +
                        (1,) * (value.ndim - dim - 1))
    return np.where(keep, value, 0.0)


def compare(got, ref, prec, mask=None, seqdims=None):
    worst_abs, worst_cos, ok = 0.0, 1.0, True
    for name, want in ref.items():
        have = got[name].astype(np.float64)
        want = want.astype(np.float64)
        if have.shape != want.shape:
            return False, f"{name}: shape {have.shape} != {want.shape}"
        dim = (seqdims or {}).get(name)
        if mask is not None and dim is not None and dim >= 1 and \
                have.shape[0] == mask.shape[0] and have.shape[dim] == mask.shape[1]:
            have, want = real_tokens(have, mask, dim), real_tokens(want, mask, dim)
        err = float(np.abs(have - want).max()) if want.size else 0.0
        worst_abs = max(worst_abs, err)
        scale = max(1.0, float(np.abs(want).max()))
        if prec == "f32":
            ok &= err <= 1e-4
        else:
            a = have.reshape(have.shape[0], -1)
            b = want.reshape(want.shape[0], -1)
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
            worst_cos = min(worst_cos, float(cos.min()))
            ok &= err <= 2e-3 * scale and worst_cos >= 0.9999
    return ok, f"max abs {worst_abs:.2e}, min cosine {worst_cos:.7f}"


def run_all(args):
    d = Path(args.dir)
    passed = failed = 0
    models = list(fixtures()) + [(REAL, None)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in models:
            for prec in PRECISIONS:
                artifact = d / f"{name}.{prec}.kiln"
                if not artifact.exists():
                    continue
                cases = []
                if path is not None:
                    stored = dict(np.load(HERE / f"{name}.inputs.npz"))
                    cases.append(("stored", stored, dict(np.load(HERE / f"{name}.ort.npz"))))
                    # Ids below the largest stored one fit every vocabulary.
                    vocab = int(max(v.max() for k, v in stored.items() if "ids" in k and "type" not in k)) + 1
                    feeds = random_inputs(list(stored), 3, 11, vocab, 1)
                    cases.append(("random-padded", feeds, run_ort(path, feeds)))
                else:
                    stored = dict(np.load(HERE / f"{name}.inputs.npz"))
                    cases.append(("stored", stored, dict(np.load(HERE / f"{name}.ort.npz"))))
                    check = d / f"{name}.check.npz"
                    if check.exists():
                        c = dict(np.load(check))
                        cases.append(("random-padded-16x64",
                                      {k[3:]: v for k, v in c.items() if k.startswith("in.")},
                                      {k[4:]: v for k, v in c.items() if k.startswith("ref.")}))
                seqdims = seq_dims(args.kiln, artifact)
                for label, feeds, ref in cases:
                    try:
                        got = run_kiln(args.kiln, artifact, feeds, tmp)
                        ok, detail = compare(got, ref, prec, mask_of(feeds), seqdims)
                    except Exception as e:  # report and go on
                        ok, detail = False, str(e).splitlines()[-1] if str(e) else repr(e)
                    passed += ok
                    failed += not ok
                    print(f"{'PASS' if ok else 'FAIL'} {name} {prec} {label}: {detail}", flush=True)
    print(f"gpu model tests: {passed} passed, {failed} failed")
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile")
    c.add_argument("--kiln", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--real-minilm")
    c.add_argument("--only", help="compile only the fixtures whose name contains this")
    r = sub.add_parser("run")
    r.add_argument("--kiln", required=True)
    r.add_argument("--dir", required=True)
    args = ap.parse_args()
    return 1 if (compile_all(args) if args.cmd == "compile" else run_all(args)) else 0


if __name__ == "__main__":
    sys.exit(main())
