#!/bin/bash
# Two builds side by side (run 17): CARRY holds the change (kiln,
# kiln-gpu-tests), BASE the build before it (kiln). The CUTLASS GEMM's GPU
# tests and memcheck over them, then both builds' forward of
# all-MiniLM-L6-v2's architecture (fp16) in turns (new, base, three times)
# where the ping-pong 128x128 CUTLASS GEMM runs: 32x128 (4096 tokens) and
# 32 rows of 8..128 (a 2048-token bucket); 256x128 as a control.
#
#   scripts/bench/tile_ab_gpu.sh CARRY BASE
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
BASE=$(realpath "${2:-.carry-old}")
(python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1) &
F='GpuCutlassGeluGemm.*:GpuGemmGelu.*'
t gpu-tests
timeout 150 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "FAILED|PASSED|Failure|tests ran" | head
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 \
  --gtest_filter='GpuCutlassGeluGemm.EveryTileConfiguration' 2>&1 | tail -2
wait
t compile
for k in new base; do
  K=$C/kiln; [ $k = base ] && K=$BASE/kiln
  timeout 60 $K compile $M -o $W/$k.kiln --batch 1,32,256 --seq 128 --tokens 2048,16384 --precision fp16 --cache-dir $W/cc-$k 2>&1 | tail -1
done
t forward
for turn in 1 2 3; do
  for k in new base; do
    K=$C/kiln; [ $k = base ] && K=$BASE/kiln
    echo "-- turn $turn, $k"
    timeout 30 $K bench $W/$k.kiln --shapes 32x128,256x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
    timeout 30 $K bench $W/$k.kiln --batch 32 --lengths 8:128 --seed 0 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
t done
