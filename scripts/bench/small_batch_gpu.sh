#!/bin/bash
# One GPU job for kiln's own GEMM at small batches (issue 15, item 4):
# `kiln compile --small-gemm-rows R` (the GEMM in gemm_gelu.cuh with its
# bias and erf GELU, and the SkipLayerNorm after a GEMM in the same kernel).
# CARRY holds kiln (the change), kiln-base (the build before it) and
# kiln-gpu-tests (the change's). The GPU tests of the new kernels and
# memcheck over them; then kiln-base, kiln with R = 0 (cuBLASLt, as
# kiln-base; a check that nothing else moved) and kiln with each R of
# $ROWS, timed in turns (twice) at 1x128, 4x128, 32x128 and 32 rows of
# 8..128 tokens; the step profiles at 1x128. If CARRY holds kiln-pool (a
# build of a branch to compare, e.g. small-batch-pool), it is timed too, at
# each R, in the same turns. MEMCHECK (a gtest filter) and PROFILE_ROWS
# narrow a short job.
#
#   scripts/bench/small_batch_gpu.sh [CARRY]   (default .carry)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
t gpu-tests
F='SmallGemm*:GpuSmallGemm*:GpuGemmSkip*:GpuGemmGelu.*:GemmGelu*'
timeout 120 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "FAILED|PASSED|Failure|tests ran|Which is|Actual|Expected|mismatch|max" | head -30
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="${MEMCHECK:-GpuSmallGemm*:GpuGemmSkip*}" 2>&1 | tail -2
t compile
ROWS=${ROWS:-512 4096}
B="--batch 1,4,32 --seq 128 --tokens 2048 --precision fp16"
[ -x $C/kiln-base ] && timeout 60 $C/kiln-base compile $M -o $W/base.kiln $B --cache-dir $W/cc-base 2>&1 | tail -1
for r in 0 $ROWS; do
  timeout 60 $C/kiln compile $M -o $W/r$r.kiln $B --small-gemm-rows $r --cache-dir $W/cc 2>&1 | tail -1
  [ -x $C/kiln-pool ] && timeout 60 $C/kiln-pool compile $M -o $W/p$r.kiln $B --small-gemm-rows $r --cache-dir $W/cc-pool 2>&1 | tail -1
done
run() { # binary artifact
  timeout 30 $C/$1 bench $W/$2.kiln --shapes 1x128,4x128,32x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  timeout 30 $C/$1 bench $W/$2.kiln --batch 32 --lengths 8:128 --seed 0 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
}
t bench
for turn in 1 2; do
  [ -x $C/kiln-base ] && { echo "-- turn $turn, kiln-base"; run kiln-base base; }
  for r in 0 $ROWS; do
    echo "-- turn $turn, --small-gemm-rows $r"; run kiln r$r
    [ -x $C/kiln-pool ] && { echo "-- turn $turn, kiln-pool, --small-gemm-rows $r"; run kiln-pool p$r; }
  done
done
t profile
[ -x $C/kiln-base ] && { echo "-- kiln-base"; timeout 30 $C/kiln-base bench $W/base.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -16; }
for r in ${PROFILE_ROWS:-0 $ROWS}; do
  echo "-- --small-gemm-rows $r"
  timeout 30 $C/kiln bench $W/r$r.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -16
done
[ -x $C/kiln-pool ] && { echo "-- kiln-pool, --small-gemm-rows ${ROWS##* }"; timeout 30 $C/kiln-pool bench $W/p${ROWS##* }.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -16; }
t done
