#!/bin/bash
# Issue 15, after issue15_quick_gpu.sh (same warm machine, same carry): why
# gemm_ksplit_layernorm_f16 misses its latency prediction at 1x128, and
# where the CUTLASS bias GEMMs' time goes at 256x128.
#  1. ksplit.txt: Nsight Compute's speed-of-light, launch, occupancy,
#     scheduler and warp-state sections for the first two k-split kernels
#     of a 1x128 forward (attention output, FFN output);
#  2. ncu256.txt: every kernel's duration in one 256x128 forward, the
#     default plan (cuBLASLt) and --cutlass-bias-gemm auto.
#
#   scripts/bench/issue15_profile_gpu.sh [CARRY]
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
[ -e $M ] || python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1
OFF="--ksplit-layernorm off --prefetch-weights off --cutlass-bias-gemm off"
for v in "cublas:$OFF" "own512-ksplit:$OFF --small-gemm-rows 512 --ksplit-layernorm auto --prefetch-weights on" \
         "cutlass-bias:$OFF --residual-gemm off --cutlass-bias-gemm auto"; do
  [ -e $W/${v%%:*}.kiln ] || timeout 150 $C/kiln compile $M -o $W/${v%%:*}.kiln --batch 1,4,32,256 --seq 128 \
    --precision fp16 ${v#*:} --cache-dir $W/cc 2>&1 | tail -1
done
{
t ksplit
timeout 120 ncu --clock-control none -k regex:gemm_ksplit_layernorm -c 2 \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section SchedulerStats \
  --section WarpStateStats --section MemoryWorkloadAnalysis \
  $C/kiln bench $W/own512-ksplit.kiln --shapes 1x128 --iters 1 --warmup 0 2>&1 | grep -vE "^==PROF==|^\s*$|----" | head -230
} 2>&1 | tee $OUT/ksplit.txt
{
t ncu256
for v in cublas cutlass-bias; do
  echo "-- $v, 256x128: kernel, grid, block, duration (ns)"
  ncu_kernels $W/$v.kiln 256x128 256-$v
done
t done
} 2>&1 | tee $OUT/ncu256.txt
