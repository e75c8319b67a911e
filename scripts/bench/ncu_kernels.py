#!/usr/bin/env python3
"""Summarise an Nsight Compute CSV (gpu__time_duration.sum, --print-units
base) of one kiln forward: each kernel (name, grid, block) with its launch
count and median duration, then the sum over all launches.

    python3 scripts/bench/ncu_kernels.py NCU.csv
"""
import collections
import csv
import sys

rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows:
    sys.exit("no ncu rows in " + sys.argv[1])
h = rows[0]
K, V = h.index("Kernel Name"), h.index("Metric Value")
G = h.index("Grid Size") if "Grid Size" in h else None
B = h.index("Block Size") if "Block Size" in h else None
seen = collections.OrderedDict()
for r in rows[1:]:
    key = (r[K][:90], r[G] if G is not None else "", r[B] if B is not None else "")
    seen.setdefault(key, []).append(float(r[V].replace(",", "")))
total = 0.0
for (n, g, b), v in seen.items():
    v.sort()
    total += sum(v)
    print(f"{len(v):3d}x median {v[len(v)//2]/1000:7.2f} us  grid {g:>14} block {b:>12}  {n}")
print(f"sum of kernel durations {total/1000:.1f} us over {sum(len(v) for v in seen.values())} launches")
