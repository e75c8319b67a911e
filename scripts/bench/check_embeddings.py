#!/usr/bin/env python3
"""Checks kiln's outputs against onnxruntime in fp32 on the same model and inputs.

    check_embeddings.py --onnx model.onnx --inputs in.npz --actual kiln_out.npz \\
        [--min-cos 0.9999] [--max-abs 2e-3] [--outputs sentence_embedding] [--json result.json]
    check_embeddings.py --onnx model.onnx --inputs in.npz --write-reference ref.npz
    check_embeddings.py --reference ref.npz --actual kiln_out.npz ...

--write-reference runs onnxruntime and saves its outputs; --reference reads
such a file instead of running the model (the GPU machine then needs neither
the fp32 model nor onnxruntime's time).

--inputs is an .npz keyed by the model's input names (minilm.py inputs writes
one); --actual is what `kiln run ... -o OUT.npz` wrote (members named like the
graph outputs), or an .npy when the model has one output. Every output of the
model that --actual holds is compared (or those named by --outputs): per row
(the first axis; the rest flattened) the cosine similarity, and over all
elements the max abs error and ||actual - ref|| / ||ref||. A NaN or Inf in
either fails. Exits 1 when any output misses --min-cos or --max-abs, 2 when
the files do not fit together; prints one line per output.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


class CheckError(Exception):
    pass


def load_arrays(path):
    """{name: array} of an .npz, or {None: array} of an .npy."""
    path = Path(path)
    if not path.is_file():
        raise CheckError(f"{path} does not exist")
    try:
        if path.suffix == ".npy":
            return {None: np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError) as err:
        raise CheckError(f"{path}: not a NumPy file: {err}") from None


def run_reference(onnx_path, inputs):
    opts = ort.SessionOptions()
    # Exact fp32: no fusions that change the arithmetic.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        if i.name not in inputs:
            raise CheckError(f"--inputs lacks the model input '{i.name}' "
                             f"(it has {', '.join(sorted(map(str, inputs)))})")
        feeds[i.name] = inputs[i.name]
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def pick_actual(actual, reference, wanted):
    """Pairs (name, actual, reference) to compare."""
    if None in actual:
        if len(reference) != 1 and not wanted:
            raise CheckError("--actual is an .npy but the model has outputs "
                             f"{', '.join(reference)}: name one with --outputs")
        name = wanted[0] if wanted else next(iter(reference))
        actual = {name: actual[None]}
    names = wanted or [n for n in reference if n in actual]
    if not names:
        raise CheckError(f"--actual holds {', '.join(map(str, actual))}, none of the model's "
                         f"outputs {', '.join(reference)}")
    pairs = []
    for name in names:
        if name not in reference:
            raise CheckError(f"the model has no output '{name}'")
        if name not in actual:
            raise CheckError(f"--actual lacks output '{name}'")
        a, r = actual[name], reference[name]
        if a.shape != r.shape:
            raise CheckError(f"output '{name}': kiln's shape {list(a.shape)}, "
                             f"onnxruntime's {list(r.shape)}")
        pairs.append((name, a, r))
    return pairs


def compare(actual, reference):
    a = actual.astype(np.float64).reshape(actual.shape[0] if actual.ndim else 1, -1)
    r = reference.astype(np.float64).reshape(a.shape)
    finite = bool(np.isfinite(a).all() and np.isfinite(r).all())
    dots = (a * r).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    # Two zero rows agree; one zero row against a non-zero one does not.
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0),
                   np.where(np.linalg.norm(a - r, axis=1) == 0, 1.0, 0.0))
    ref_norm = np.linalg.norm(r)
    return {
        "finite": finite,
        "min_cos": float(np.nan_to_num(cos, nan=-1.0).min()),
        "worst_row": int(np.nan_to_num(cos, nan=-1.0).argmin()),
        "max_abs": float(np.abs(a - r).max()) if a.size else 0.0,
        "rel_l2": float(np.linalg.norm(a - r) / ref_norm) if ref_norm > 0 else None,
        "rows": int(a.shape[0]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", help="the fp32 ONNX model kiln compiled")
    parser.add_argument("--inputs", help=".npz keyed by input name")
    parser.add_argument("--actual", help="kiln's outputs (.npz or .npy)")
    parser.add_argument("--reference", help="onnxruntime's outputs saved by --write-reference")
    parser.add_argument("--write-reference", help="run onnxruntime, save its outputs here, exit")
    parser.add_argument("--min-cos", type=float, default=0.9999)
    parser.add_argument("--max-abs", type=float, default=2e-3)
    parser.add_argument("--outputs", help="comma-separated output names (default: all)")
    parser.add_argument("--label", default="", help="prefix for the printed lines")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    try:
        if args.reference:
            if args.onnx or args.inputs or args.write_reference or not args.actual:
                raise CheckError("--reference goes with --actual alone")
            reference = load_arrays(args.reference)
        else:
            if not args.onnx or not args.inputs:
                raise CheckError("--onnx and --inputs are needed without --reference")
            inputs = load_arrays(args.inputs)
            if None in inputs:
                raise CheckError("--inputs must be an .npz keyed by input name")
            reference = run_reference(args.onnx, inputs)
            if args.write_reference:
                np.savez(args.write_reference, **reference)
                print(f"wrote {args.write_reference}: {', '.join(reference)}")
                return 0
            if not args.actual:
                raise CheckError("--actual is needed (or --write-reference)")
        wanted = args.outputs.split(",") if args.outputs else []
        pairs = pick_actual(load_arrays(args.actual), reference, wanted)
    except CheckError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    results, failed = {}, False
    label = f"{args.label}: " if args.label else ""
    for name, actual, ref in pairs:
        res = compare(actual, ref)
        res["passed"] = (res["finite"] and res["min_cos"] >= args.min_cos
                         and res["max_abs"] <= args.max_abs)
        failed |= not res["passed"]
        results[name] = res
        rel = "-" if res["rel_l2"] is None else f"{res['rel_l2']:.3e}"
        print(f"{label}{name}: {'PASS' if res['passed'] else 'FAIL'} min cos {res['min_cos']:.7f} "
              f"(row {res['worst_row']} of {res['rows']}, need >= {args.min_cos}), "
              f"max abs {res['max_abs']:.3e} (need <= {args.max_abs:g}), rel l2 {rel}"
              + ("" if res["finite"] else ", NON-FINITE values"))
    if args.json:
        Path(args.json).write_text(json.dumps({"min_cos": args.min_cos, "max_abs": args.max_abs,
                                               "outputs": results}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
