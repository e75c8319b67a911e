#!/bin/bash
# Issue 15, the 256x128 target: the CUTLASS bias GEMMs with a residual
# LayerNorm's skip as their C (GemmStep::Epilogue::CutlassResidualBias, the
# default from 32768 tokens) against the same GEMMs without it (the
# SkipLayerNorm kernel adds the skip: --residual-gemm off) and against
# cuBLASLt (--cutlass-bias-gemm off), in one short device call, most
# important first (each step also goes to a file in $OUT):
#  1. checks.txt: the CUTLASS and lowering GPU tests, compute-sanitizer
#     memcheck over the residual kernel's; the real all-MiniLM-L6-v2
#     (CARRY/real.kiln, default flags) at 256x128 padded against
#     onnxruntime fp32 (in256.npz, ref256.npz); the nontrivial-weight
#     architecture against onnxruntime fp32 on the device, every variant;
#  2. forward.txt: the forward (fp16) at 256x128 and 32x128, three turns;
#  3. ncu.txt: every kernel's duration in one 256x128 forward (default).
#
#   scripts/bench/cutlass_residual_gpu.sh [CARRY]   (CARRY from issue15_carry.sh)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
G=$C/kiln-gpu-tests
VARIANTS=(
  "default:"
  "noskip:--residual-gemm off"
  "cublas:--cutlass-bias-gemm off"
)
{
t checks
tests_and_memcheck 150 'GpuCutlassBiasGemm.*:CutlassBiasGemmLowering.*:GpuCutlassGeluGemm.*:*ResidualGemm*' \
  'GpuCutlassBiasGemm.AddsTheResidual:GpuCutlassBiasGemm.ThroughThePlanBesideTheLayerNorm'
timeout 60 $C/kiln run $C/real.kiln --packed off --inputs $C/in256.npz -o $W/real256.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
python3 scripts/bench/check_embeddings.py --reference $C/ref256.npz --actual $W/real256.npz \
  --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, 256x128 padded, default (skip in the CUTLASS GEMMs)" 2>&1 | tail -2
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for v in "${VARIANTS[@]}"; do
  timeout 150 $C/kiln compile $M -o $W/${v%%:*}.kiln --batch 1,32,256 --seq 128 \
    --precision fp16 ${v#*:} --cache-dir $W/cc 2>&1 | tail -1
done
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for v in "${VARIANTS[@]}"; do check_variant ${v%%:*} in256; done
} 2>&1 | tee $OUT/checks.txt
{
t forward
for turn in 1 2 3; do
  for v in "${VARIANTS[@]}"; do
    v=${v%%:*}; echo "-- turn $turn, $v"
    timeout 40 $C/kiln bench $W/$v.kiln --shapes 256x128,32x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
} 2>&1 | tee $OUT/forward.txt
{
t ncu
echo "-- default, 256x128: kernel, grid, block, duration (ns)"
ncu_kernels $W/default.kiln 256x128 default
t done
} 2>&1 | tee $OUT/ncu.txt
