#!/usr/bin/env python3
"""Zeroes whole attention heads and FFN neurons of a BERT-family ONNX model
in place of structured pruning (the zeros stay dense, as
torch.nn.utils.prune leaves them), for timing pruned models:

    python scripts/bench/zero_units.py model.onnx pruned.onnx --heads 12 \\
        --fraction 0.33 [--seed 0] [--pattern every-layer|fixture-torch]

every-layer: in every layer, round(fraction * heads) heads (q, k, v columns
and biases, output-projection rows) and round(fraction * ffn) neurons (W1
column and bias, W2 row), chosen at random. fixture-torch: the pattern of
tests/models/check_pruning.py (a third of layer 0, every head and half the
neurons of the last layer). Prints how many weights were zeroed.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "models"))
from check_pruning import Pruner, linear_layers, prune  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--fraction", type=float, default=1 / 3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pattern", default="every-layer", choices=["every-layer", "fixture-torch"])
    args = ap.parse_args()
    model = onnx.load(args.model)
    rng = np.random.default_rng(args.seed)
    if args.pattern == "fixture-torch":
        p = prune(model, args.heads, "torch", rng)
    else:
        layers = linear_layers(model)
        p = Pruner(model, args.heads)
        for layer in sorted(layers):
            roles = layers[layer]
            ffn = p.arrays[roles["up"][0]].shape[1]
            h = sorted(rng.choice(args.heads, size=round(args.fraction * args.heads), replace=False))
            n = sorted(rng.choice(ffn, size=round(args.fraction * ffn), replace=False))
            p.kill_heads(roles, [int(x) for x in h], "whole")
            p.kill_neurons(roles, [int(x) for x in n], "whole")
    p.save(model, Path(args.out))
    zeros = sum(int((a == 0).sum()) for a in p.arrays.values())
    print(f"zeroed: {args.pattern}, {zeros} zero weights in the projections; wrote {args.out}")


if __name__ == "__main__":
    main()
