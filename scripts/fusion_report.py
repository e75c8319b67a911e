#!/usr/bin/env python3
"""What -O2 leaves unfused in each fixture model: one table row per model of
tests/models/manifest.json with the fused ops kiln-opt made (Attention,
LayerNorm forms, FusedGemm and its epilogues) and the ops that a fully fused
encoder would no longer have (Softmax, MatMul, ReduceMean, Erf, Where, ...).

    python scripts/fusion_report.py --kiln build/bin/kiln --kiln-opt build/bin/kiln-opt \\
        [--pipeline -O2] [--only NAME ...] [--jobs N]

Reads the optimized graph's op histogram from `kiln inspect --json` and the
FusedGemm epilogues from its text form. The rows come in manifest order
(tests/lit/passes/pipeline-o2-zoo.test pins them).
"""

import argparse
import concurrent.futures
import os
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUSED = ["Attention", "EmbedLayerNorm", "LayerNorm", "SkipLayerNorm", "FusedGemm"]
LEFT = ["MatMul", "Softmax", "ReduceMean", "Pow", "Sqrt", "Erf", "Tanh", "Gelu", "Where", "IsNaN",
        "FusedElementwise"]


def report(kiln, kiln_opt, model, pipeline, work):
    kir = Path(work) / (model.parent.name + "_" + model.stem + ".kir")
    subprocess.run([str(kiln_opt), pipeline, str(model), "-o", str(kir)], check=True,
                   capture_output=True, text=True)
    info = json.loads(subprocess.run([str(kiln), "inspect", "--json", str(kir)], check=True,
                                     capture_output=True, text=True).stdout)
    epilogues = Counter(re.findall(r'= FusedGemm\(.*\{activation = "(\w+)"', kir.read_text()))
    return info["ops"], epilogues


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", type=Path, default=ROOT / "build/bin/kiln")
    parser.add_argument("--kiln-opt", type=Path, default=ROOT / "build/bin/kiln-opt")
    parser.add_argument("--manifest", type=Path, default=ROOT / "tests/models/manifest.json")
    parser.add_argument("--pipeline", default="-O2")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    manifest = json.loads(args.manifest.read_text())
    base = args.manifest.parent
    models = [m for m in manifest["models"] if not args.only or m["name"] in args.only]
    head = ["model"] + FUSED + ["gelu epi"] + LEFT + ["other"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))

    def row(m):
        try:
            ops, epi = report(args.kiln, args.kiln_opt, base / m["file"], args.pipeline, work)
        except subprocess.CalledProcessError as err:
            return f"| {m['name']} | kiln-opt failed: {err.stderr.strip()[-200:]} |"
        other = sum(v for k, v in ops.items() if k not in FUSED + LEFT)
        cells = [m["name"]] + [str(ops.get(k, 0)) for k in FUSED]
        cells += [str(epi.get("gelu", 0) + epi.get("gelu_tanh", 0))]
        cells += [str(ops.get(k, 0) or "") for k in LEFT] + [str(other)]
        return "| " + " | ".join(cells) + " |"

    with tempfile.TemporaryDirectory() as work:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for line in pool.map(row, models):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
