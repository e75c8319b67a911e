#!/usr/bin/env python3
"""Per-row lengths of a mixed-length benchmark batch, drawn exactly as
`kiln bench --batch N --lengths MIN:MAX --seed S` draws them
(tools/common/RandomLengths.cpp): splitmix64 from the seed, then
MIN + x mod (MAX - MIN + 1) per row.

    lengths.py --batch 256 --lengths 8:128 --seed 0 [-o lengths.json]

prints (or writes) the file `kiln bench --lengths-out` writes:
{"batch", "min", "max", "seed", "lengths"}.
"""

import argparse
import json
import sys

MASK64 = (1 << 64) - 1


def parse_range(text):
    """'MIN:MAX' -> (MIN, MAX) with 1 <= MIN <= MAX, else ValueError."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"--lengths: '{text}' is not MIN:MAX (e.g. 8:128)")
    try:
        lo, hi = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"--lengths: '{text}' is not MIN:MAX (e.g. 8:128)") from None
    if lo < 1 or hi < lo:
        raise ValueError(f"--lengths: '{text}' needs 1 <= MIN <= MAX")
    return lo, hi


def random_lengths(batch, lo, hi, seed):
    state = seed & MASK64
    span = hi - lo + 1
    out = []
    for _ in range(batch):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append(lo + z % span)
    return out


def lengths_record(batch, lo, hi, seed):
    return {"batch": batch, "min": lo, "max": hi, "seed": seed,
            "lengths": random_lengths(batch, lo, hi, seed)}


def load(path):
    """The lengths file -> its record, checked."""
    with open(path) as f:
        rec = json.load(f)
    lengths = rec.get("lengths")
    if not isinstance(lengths, list) or not lengths or \
            any(not isinstance(n, int) or n < 1 for n in lengths):
        raise ValueError(f"{path}: 'lengths' must be a non-empty list of positive integers")
    return rec


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--lengths", required=True, help="MIN:MAX")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output")
    args = parser.parse_args(argv)
    try:
        lo, hi = parse_range(args.lengths)
    except ValueError as err:
        parser.error(str(err))
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    text = json.dumps(lengths_record(args.batch, lo, hi, args.seed)) + "\n"
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
