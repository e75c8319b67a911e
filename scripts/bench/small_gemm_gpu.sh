#!/bin/bash
# One GPU job for kiln's own GEMM at small batches (issue 15, item 4):
# `kiln compile --small-gemm-rows R` against R = 0 (cuBLASLt, the default
# before) with the same binary, timed in turns (0, R, 0, R) at 1x128,
# 4x128, 32x128 and 32 rows of 8..128 tokens; the step profile at 1x128;
# then the GPU tests of the kernels and memcheck over them.
#
#   scripts/bench/small_gemm_gpu.sh [CARRY]   (kiln, kiln-gpu-tests; .carry)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
t gpu-tests
F='SmallGemm*:GpuSmallGemm*:GpuGemmSkip*:GpuGemmGelu.*:GemmGelu*'
timeout 120 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "FAILED|PASSED|Failure|tests ran|Which is|Actual|Expected|mismatch|max" | head -30
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter='GpuSmallGemm*:GpuGemmSkip*' 2>&1 | tail -2
t compile
ROWS=${ROWS:-512 4096}
for r in 0 $ROWS; do
  timeout 60 $C/kiln compile $M -o $W/r$r.kiln --batch 1,4,32 --seq 128 --tokens 2048 --precision fp16 --small-gemm-rows $r --cache-dir $W/cc 2>&1 | tail -1
done
t bench
for turn in 1 2; do
  for r in 0 $ROWS; do
    echo "-- turn $turn, --small-gemm-rows $r"
    timeout 30 $C/kiln bench $W/r$r.kiln --shapes 1x128,4x128,32x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
    timeout 30 $C/kiln bench $W/r$r.kiln --batch 32 --lengths 8:128 --seed 0 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
t profile
for r in 0 $ROWS; do
  echo "-- --small-gemm-rows $r"
  timeout 30 $C/kiln bench $W/r$r.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -16
done
t done
