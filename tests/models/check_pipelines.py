#!/usr/bin/env python3
"""Checks that optimization keeps meaning: for every fixture model and every
named pipeline, the reference executor's outputs on the optimized graph
agree with those on the imported graph within 1e-5 (fp32), on the fixture's
inputs and on fresh random inputs with padded attention masks.

    python tests/models/check_pipelines.py --kiln build/bin/kiln --kiln-opt build/bin/kiln-opt

Fixtures marked `kiln_xfail` in the manifest are run too; their failures
print XFAIL (expected), their passes XPASS (counted as failed: the mark is
stale). --fast checks each fixture on one pipeline only (-O2) and its own
inputs only.

Prints one line per (model, pipeline) and
`pipeline tests: N passed, M failed, K xfail`.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from check_models import load_npz, max_error, outcome, run_kiln

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-5
# Each entry is kiln-opt's arguments; the partitioned ones check that a
# pipeline cut (PeerCopy is the identity on the reference executor) keeps
# meaning on every fixture.
PIPELINES = ["-O1", "-O2", "-O2 -p partition{stages=2}", "-O2 -p partition{stages=3}"]
# Multi-device artifacts of a few fixtures (kiln compile --devices N): a
# pipeline artifact runs on the CPU stage by stage (its stage artifacts, the
# values handed on as its partition says), a replicate one as the whole
# model; both must match the unoptimized model. Small buckets keep the
# compiles short; the CPU run does not use them.
ARTIFACT_FIXTURES = ["minilm_l2_opset17", "bert_opset17", "distilbert_opset17"]
ARTIFACT_MODES = ["--devices 2 --partition pipeline", "--devices 3 --partition pipeline",
                  "--devices 2 --partition replicate"]


def random_inputs(fixture, rng, batch=2, seq=7):
    """Inputs shaped like the fixture's, with ids drawn from the ranges the
    fixture uses and masks whose rows have random lengths >= 1."""
    out = {}
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    for name, value in fixture.items():
        if "mask" in name:
            mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(value.dtype)
            out[name] = mask
        elif np.issubdtype(value.dtype, np.integer):
            out[name] = rng.integers(0, int(value.max()) + 1, size=(batch, seq)).astype(value.dtype)
        else:
            out[name] = rng.standard_normal((batch, seq) + value.shape[2:]).astype(value.dtype)
    return out


def optimize(kiln_opt, model, pipeline, out):
    proc = subprocess.run([str(kiln_opt), *pipeline.split(), str(model), "-o", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(f"kiln-opt {pipeline} failed: {lines[-1] if lines else proc.returncode}")


def compile_artifact(kiln, model, mode, out):
    cmd = [str(kiln), "compile", str(model), *mode.split(), "--batch", "2", "--seq", "16",
           "--no-ptx", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(f"kiln compile {mode} failed: {lines[-1] if lines else proc.returncode}")


def main():
    parser = argparse.ArgumentParser(description="Optimization keeps meaning.")
    parser.add_argument("--kiln", type=Path, required=True)
    parser.add_argument("--kiln-opt", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true",
                        help="-O2 on the fixture's own inputs only")
    args = parser.parse_args()

    manifest = json.loads(args.manifest.read_text())
    base = args.manifest.parent
    rng = np.random.default_rng(args.seed)
    counts = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
    for m in manifest["models"]:
        model = base / m["file"]
        xfail = m.get("kiln_xfail")
        note = f" (expected to fail: {xfail})" if xfail else ""
        fixture = load_npz(base / m["inputs"])
        # Drawn even when unused, so the random inputs of later fixtures stay the same.
        random_set = random_inputs(fixture, rng)
        input_sets = [fixture] + ([] if args.fast else [random_set])
        pipelines = ["-O2"] if args.fast else PIPELINES
        with tempfile.TemporaryDirectory(prefix="kiln-pipeline-") as work:
            work = Path(work)
            try:
                refs = [run_kiln(args.kiln, model, inputs, work) for inputs in input_sets]
            except Exception as err:
                for pipeline in pipelines:
                    tag = outcome(False, xfail)
                    counts[tag] += 1
                    print(f"{tag} {m['name']} {pipeline}: unoptimized run: {err}{note}")
                continue
            for pipeline in pipelines:
                try:
                    optimized = work / f"opt{len(pipeline)}-{abs(hash(pipeline))}.kir"
                    optimize(args.kiln_opt, model, pipeline, optimized)
                    err = max(max_error(run_kiln(args.kiln, optimized, inputs, work), ref)
                              for inputs, ref in zip(input_sets, refs))
                    ok, line = err <= TOLERANCE, f"max abs diff {err:.2e}"
                except Exception as e:  # report the failure, check the rest
                    ok, line = False, f"error: {e}"
                tag = outcome(ok, xfail)
                counts[tag] += 1
                print(f"{tag} {m['name']} {pipeline}: {line}{note}", flush=True)
            if args.fast or m["name"] not in ARTIFACT_FIXTURES:
                continue
            for mode in ARTIFACT_MODES:
                try:
                    artifact = work / f"{mode.replace(' ', '_')}.kiln"
                    compile_artifact(args.kiln, model, mode, artifact)
                    err = max(max_error(run_kiln(args.kiln, artifact, inputs, work), ref)
                              for inputs, ref in zip(input_sets, refs))
                    ok, line = err <= TOLERANCE, f"max abs diff {err:.2e}"
                except Exception as e:
                    ok, line = False, f"error: {e}"
                tag = outcome(ok, xfail)
                counts[tag] += 1
                print(f"{tag} {m['name']} artifact {mode}: {line}{note}", flush=True)
    failed = counts["FAIL"] + counts["XPASS"]
    print(f"pipeline tests: {counts['PASS']} passed, {failed} failed, {counts['XFAIL']} xfail")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
