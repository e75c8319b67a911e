#!/bin/bash
# Where kiln's own GEMM at small batches loses (run 14: 1x128 0.178 ms
# against cuBLASLt's 0.158): all-MiniLM-L6-v2 fp16 at 1x128 compiled with
# --small-gemm-rows 0 (cuBLASLt) and 512 (our GEMMs, and GEMM +
# SkipLayerNorm kernels), each timed with programmatic dependent launch on
# and off (does PDL pay once every step is ours?), and every kernel's
# duration under Nsight Compute (one forward, graph nodes profiled one by
# one, clocks left alone): our GEMM against cuBLASLt's on each shape.
# Also --gelu-gemm cutlass at 1x128 (the GELU pass gone, 6 steps fewer, a
# CUTLASS GEMM in place of cuBLASLt's for the FFN's first projection).
#
#   scripts/bench/small_gemm_probe.sh [CARRY]   (CARRY holds kiln)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
[ -e $M ] || python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1
for r in 0 512; do
  timeout 60 $C/kiln compile $M -o $W/probe$r.kiln --batch 1 --seq 128 --precision fp16 --small-gemm-rows $r --cache-dir $W/cc-probe 2>&1 | tail -1
done
timeout 60 $C/kiln compile $M -o $W/probe-cutlass.kiln --batch 1 --seq 128 --precision fp16 --gelu-gemm cutlass --cache-dir $W/cc-probe 2>&1 | tail -1
t pdl
for turn in 1 2; do
  for r in 0 512; do
    for p in true false; do
      echo "-- rows $r, programmatic-launch=$p"
      timeout 30 $C/kiln bench $W/probe$r.kiln --shapes 1x128 --iters 300 --programmatic-launch=$p 2>&1 | grep -E "^\| [0-9]|rror"
    done
  done
  echo "-- --gelu-gemm cutlass (the CUTLASS GEMM with the erf GELU at 128 rows: 6 steps fewer)"
  timeout 30 $C/kiln bench $W/probe-cutlass.kiln --shapes 1x128 --iters 300 2>&1 | grep -E "^\| [0-9]|rror"
done
t ncu
[ -n "${NO_NCU:-}" ] && { t done; exit 0; }
for r in 0 512; do
  echo "-- rows $r: kernel, grid, block, duration (ns)"
  timeout 60 ncu --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
    $C/kiln bench $W/probe$r.kiln --shapes 1x128 --iters 1 --warmup 0 > $W/ncu$r.csv 2> $W/ncu$r.err
  echo "rc=$?"; tail -2 $W/ncu$r.err
  python3 - $W/ncu$r.csv <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: sys.exit("no ncu rows")
h = rows[0]; K = h.index("Kernel Name"); V = h.index("Metric Value")
G = h.index("Grid Size") if "Grid Size" in h else None
B = h.index("Block Size") if "Block Size" in h else None
seen = collections.OrderedDict()
for r in rows[1:]:
    name = r[K][:90]
    key = (name, r[G] if G is not None else "", r[B] if B is not None else "")
    seen.setdefault(key, []).append(float(r[V].replace(",", "")))
total = 0
for (n, g, b), v in seen.items():
    v.sort(); total += sum(v)
    print(f"{len(v):3d}x median {v[len(v)//2]/1000:7.2f} us  grid {g:>14} block {b:>12}  {n}")
print(f"sum of kernel durations {total/1000:.1f} us over {sum(len(v) for v in seen.values())} launches")
PY
done
t done
