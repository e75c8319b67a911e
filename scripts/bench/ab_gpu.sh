#!/bin/bash
# One GPU job that compares two builds of kiln side by side (run 13): CARRY
# holds kiln (the change) and kiln-base (the build before it), and
# kiln-gpu-tests of the change. Runs the packed-token and pooling GPU tests
# and memcheck over them, then times both builds in turns (new, base, new,
# base) on 256 rows of 8..128 tokens (seeds 0 and 1), 32 rows of 8..128, and
# 1x128, 32x128, 256x128; with --gelu-gemm tanh, and --autotune, for the new
# build; and the step profile of the packed batch and of 1x128.
#
#   scripts/bench/ab_gpu.sh [CARRY]   (default .carry)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
(python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1) &
F='PackedTokens*:Runtime.Packed*:PoolNormalize*'
t gpu-tests
timeout 90 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="$F" 2>&1 | grep -E "FAILED|PASSED|Failure|tests ran" | head
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter="$F" 2>&1 | tail -2
wait
t compile
TOK=2048,16384,18432
for k in kiln kiln-base; do
  timeout 40 $C/$k compile $M -o $W/$k.kiln --batch 1,32,256 --seq 128 --tokens $TOK --precision fp16 --cache-dir $W/cc-$k 2>&1 | tail -1
done
timeout 40 $C/kiln compile $M -o $W/tanh.kiln --batch 1,32,256 --seq 128 --tokens $TOK --precision fp16 --gelu-gemm tanh --cache-dir $W/cc-kiln 2>&1 | tail -1
t lengths
for k in kiln kiln-base kiln kiln-base; do
  echo "-- $k"
  for s in 0 1; do timeout 20 $C/$k bench $W/$k.kiln --batch 256 --lengths 8:128 --seed $s --iters 100 2>&1 | grep -E "^\| [0-9]|rror"; done
  timeout 20 $C/$k bench $W/$k.kiln --batch 32 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
done
timeout 20 $C/kiln bench $W/kiln.kiln --batch 256 --lengths 8:128 --seed 0 --iters 20 --profile 2>&1 | grep -E "pack_|total|over the steps" | head -6
t tanh
for i in 1 2; do
  timeout 20 $C/kiln bench $W/tanh.kiln --shapes 1x128,32x128,256x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  timeout 20 $C/kiln bench $W/tanh.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
done
t shapes
for k in kiln kiln-base kiln kiln-base; do echo "-- $k"; timeout 20 $C/$k bench $W/$k.kiln --shapes 1x128,32x128,256x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"; done
echo "-- --autotune"
timeout 60 $C/kiln bench $W/kiln.kiln --shapes 1x128,32x128,256x128 --iters 200 --autotune 2>&1 | grep -E "^\| [0-9]|rror"
timeout 20 $C/kiln bench $W/kiln.kiln --shapes 1x128 --iters 50 --profile 2>&1 | grep -vE "^\|" | head -14
t done
