#!/bin/bash
# Issue 15: the three opt-in options of run 19 (--ksplit-layernorm,
# --prefetch-weights, --cutlass-bias-gemm) checked and timed in one device
# call of under 10 minutes (about 2 on an H100), most important first
# (each step also goes to a file in $OUT):
#  1. checks.txt: the real all-MiniLM-L6-v2 (CARRY/real.kiln, every option
#     on) against onnxruntime fp32, 4 rows of 8..96 tokens (kiln's own
#     GEMMs, K split, prefetch; packed and padded) and 256x128 padded (bias
#     GEMMs on CUTLASS); the nontrivial-weight architecture against
#     onnxruntime fp32 on the device with each variant below;
#  2. forward.txt: the forward (fp16), every variant, three turns;
#  3. tests.txt, memcheck.txt: the new kernels' GPU tests, then
#     compute-sanitizer memcheck over them (each within 100 s);
#  4. ncu.txt: every kernel's duration in one forward at 1x128, K split.
#
#   scripts/bench/issue15_quick_gpu.sh [CARRY]   (CARRY from issue15_carry.sh)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
G=$C/kiln-gpu-tests
# name: kiln compile flags, each option named (cublas was the default plan
# of run 19's first job; the three options are defaults since)
OFF="--ksplit-layernorm off --prefetch-weights off --cutlass-bias-gemm off"
VARIANTS=(
  "cublas:$OFF"
  "own512:$OFF --small-gemm-rows 512"
  "own512-prefetch:$OFF --small-gemm-rows 512 --prefetch-weights on"
  "own512-ksplit:$OFF --small-gemm-rows 512 --ksplit-layernorm auto --prefetch-weights on"
  "own512-ksplit-noprefetch:$OFF --small-gemm-rows 512 --ksplit-layernorm auto"
  "cutlass-bias:$OFF --residual-gemm off --cutlass-bias-gemm auto"
)
{
t checks
for p in on off; do
  timeout 60 $C/kiln run $C/real.kiln --packed $p --inputs $C/in.npz -o $W/real-$p.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
  python3 scripts/bench/check_embeddings.py --reference $C/ref.npz --actual $W/real-$p.npz \
    --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, 4 rows, own GEMMs, K split, prefetch, --packed $p" 2>&1 | tail -2
done
timeout 60 $C/kiln run $C/real.kiln --packed off --inputs $C/in256.npz -o $W/real256.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
python3 scripts/bench/check_embeddings.py --reference $C/ref256.npz --actual $W/real256.npz \
  --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, 256x128 padded, bias GEMMs on CUTLASS" 2>&1 | tail -2
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for v in "${VARIANTS[@]}"; do
  timeout 150 $C/kiln compile $M -o $W/${v%%:*}.kiln --batch 1,4,32,256 --seq 128 \
    --precision fp16 ${v#*:} --cache-dir $W/cc 2>&1 | tail -1
done
python3 scripts/bench/minilm.py inputs --batch 4 --seq 128 --seed 3 -o $W/in4.npz > /dev/null
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for vi in own512-ksplit:in4 own512-ksplit-noprefetch:in4 own512-prefetch:in4 cutlass-bias:in256; do
  check_variant ${vi%%:*} ${vi#*:}
done
} 2>&1 | tee $OUT/checks.txt
{
t forward
for turn in 1 2 3; do
  for v in "${VARIANTS[@]}"; do
    v=${v%%:*}; echo "-- turn $turn, $v"
    case $v in
      cutlass-bias) timeout 40 $C/kiln bench $W/$v.kiln --shapes 256x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror" ;;
      cublas) timeout 40 $C/kiln bench $W/$v.kiln --shapes 1x128,4x128,32x128,256x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror" ;;
      *) timeout 40 $C/kiln bench $W/$v.kiln --shapes 1x128,4x128 --iters 300 2>&1 | grep -E "^\| [0-9]|rror" ;;
    esac
  done
done
} 2>&1 | tee $OUT/forward.txt
{
t tests
tests_and_memcheck 100 '*SmallGemm*:*GemmSkipLayerNorm*:GpuCutlassBiasGemm.*:CutlassBiasGemmLowering.*' \
  'GpuGemmSkipLayerNorm.*:GpuCutlassBiasGemm.*'
} 2>&1 | tee $OUT/tests-summary.txt
{
t ncu
for v in cublas own512-ksplit; do
  echo "-- $v, 1x128: kernel, grid, block, duration (ns)"
  ncu_kernels $W/$v.kiln 1x128 $v
done
t done
} 2>&1 | tee $OUT/ncu.txt
