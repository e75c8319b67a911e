#!/bin/bash
# One GPU job of benchmarks over a build of main (issue 15): kiln bench at
# the five shapes (with PDL_OFF=1 also with programmatic dependent launch
# off, then on again), beside
# PyTorch eager (SDPA) and torch.compile (reduce-overhead); one batch of 256
# rows of 8..128 tokens, packed and padded, beside the peers on the same rows;
# the step profile of both; the same with --gelu-gemm separate (the erf
# GELU as its own pass after cuBLASLt) and --gelu-gemm tanh (cuBLASLt's
# tanh-form epilogue); compile time cold and warm; and kiln bench
# --devices 0,0 (replicate, one device lost). With SMALL_GEMM_ROWS="R ...",
# the same buckets compiled with --small-gemm-rows R are timed too at the
# five shapes and the mixed batches (and with kiln-pool, a second build in
# CARRY, if there is one), with their 1x128 and 32x128 profiles. QUICK=1
# keeps the issue's workloads beside the peers and the profiles only (no
# compile times, GEMM timing test, --gelu-gemm variants or devices).
#
#   scripts/bench/main_gpu.sh [CARRY]   (CARRY holds kiln and kiln-gpu-tests;
#   default .carry)
#
# Logs go to $OUT/logs.tgz.
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
PEERS="python3 scripts/bench/peers.py --device cuda --warmup 5 --iters 50"
Q=${QUICK:-}
t compile-time
[ -n "$Q" ] || for run in cold warm; do /usr/bin/time -f "$run: %e s wall" timeout 60 $C/kiln compile $M -o $W/five.kiln --batch 1,8,32,128,256 --seq 128 --precision fp16 --cache-dir $W/cc 2>&1 | tail -2; done
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
/usr/bin/time -f "with --tokens $TOK: %e s wall" timeout 120 $C/kiln compile $M -o $W/m.kiln --batch 1,32,128,256 --seq 32,128 --tokens $TOK --precision fp16 --cache-dir $W/cc 2>&1 | tail -2
[ -n "$Q" ] || timeout 120 $C/kiln compile $M -o $W/sep.kiln --batch 1,32,128,256 --seq 32,128 --tokens $TOK --precision fp16 --cache-dir $W/cc --gelu-gemm separate 2>&1 | tail -1
[ -n "$Q" ] || timeout 120 $C/kiln compile $M -o $W/tanh.kiln --batch 1,32,128,256 --seq 32,128 --tokens $TOK --precision fp16 --cache-dir $W/cc --gelu-gemm tanh 2>&1 | tail -1
t gemm-gelu-timing
[ -z "$Q" ] && [ -x $C/kiln-gpu-tests ] && KILN_GEMM_GELU_TIMING=1 timeout 60 $C/kiln-gpu-tests --gtest_filter='GpuGemmGeluTiming.*' 2>&1 | grep -vE "^\[ *(RUN|OK) " | tail -12
t shapes
timeout 150 $C/kiln bench $W/m.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 --peers "$PEERS" 2>&1 | grep -E "^\| [0-9]|rror"
if [ -n "${PDL_OFF:-}" ]; then
  echo "-- programmatic-launch=false"
  timeout 40 $C/kiln bench $W/m.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 --programmatic-launch=false 2>&1 | grep -E "^\| [0-9]|rror"
  echo "-- programmatic-launch=true (again)"
  timeout 40 $C/kiln bench $W/m.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
fi
t lengths
timeout 120 $C/kiln bench $W/m.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 --peers "$PEERS" 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
timeout 30 $C/kiln bench $W/m.kiln --batch 256 --lengths 8:128 --seed 1 --iters 100 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
timeout 30 $C/kiln bench $W/m.kiln --batch 32 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
if [ -z "$Q" ]; then
echo "-- --gelu-gemm separate (cuBLASLt + the erf GELU pass)"
timeout 30 $C/kiln bench $W/sep.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
timeout 30 $C/kiln bench $W/sep.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
echo "-- --gelu-gemm tanh (cuBLASLt's tanh-form GELU epilogue, an approximation)"
timeout 30 $C/kiln bench $W/tanh.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
timeout 30 $C/kiln bench $W/tanh.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
fi
for r in ${SMALL_GEMM_ROWS:-}; do
  t small-gemm-rows $r
  for k in kiln kiln-pool; do
    [ -x $C/$k ] || continue
    timeout 120 $C/$k compile $M -o $W/$k-r$r.kiln --batch 1,32,128,256 --seq 32,128 --tokens $TOK --precision fp16 --cache-dir $W/cc-$k --small-gemm-rows $r 2>&1 | tail -1
    echo "-- $k --small-gemm-rows $r"
    timeout 40 $C/$k bench $W/$k-r$r.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
    timeout 30 $C/$k bench $W/$k-r$r.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
    timeout 30 $C/$k bench $W/$k-r$r.kiln --batch 32 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"
  done
  timeout 30 $C/kiln bench $W/kiln-r$r.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -14
  timeout 30 $C/kiln bench $W/kiln-r$r.kiln --shapes 32x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -14
done
t profile
timeout 30 $C/kiln bench $W/m.kiln --batch 256 --lengths 8:128 --seed 0 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -30
timeout 30 $C/kiln bench $W/m.kiln --shapes 1x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -14
timeout 30 $C/kiln bench $W/m.kiln --shapes 32x128 --iters 20 --profile 2>&1 | grep -vE "^\|" | head -14
t devices
[ -n "$Q" ] || timeout 15 $C/kiln bench $W/m.kiln --threads 8 --shapes 32x128 --duration 3 --devices 0,0 --mode replicate --inject-fault 1:after:3000 2>&1 | head -30
t done
cd $OUT && tar czf logs.tgz l && rm -rf l
