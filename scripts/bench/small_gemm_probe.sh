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
  python3 scripts/bench/ncu_kernels.py $W/ncu$r.csv
done
t done
