#!/bin/bash
# Issue 15, the 256x128 target: bias GEMMs on the CUTLASS ping-pong kernel
# (`kiln compile --cutlass-bias-gemm auto`: from 32768 tokens, so MiniLM's
# QKV, attention-output and FFN-output GEMMs at 256x128) against cuBLASLt
# with the skip in its epilogue, in one device job, most important first
# (each step also goes to a file in $OUT):
#  1. checks.txt: the CUTLASS, GELU-GEMM, residual and lowering GPU tests;
#     compute-sanitizer memcheck over the bias kernel's tests; the real
#     all-MiniLM-L6-v2 (CARRY/real.kiln, compiled with --cutlass-bias-gemm
#     auto) at 256x128 padded (in256.npz, ref256.npz: onnxruntime fp32);
#     the nontrivial-weight architecture against onnxruntime fp32 on the
#     device, off and auto;
#  2. forward.txt: the forward (fp16), off and auto in turns, three turns;
#  3. ncu.txt: every kernel's duration in one forward at 256x128, auto.
#
#   scripts/bench/cutlass_bias_gpu.sh [CARRY]
#   (CARRY from scripts/bench/issue15_carry.sh: kiln, kiln-gpu-tests,
#   real.kiln, in256.npz, ref256.npz; any of them may come xz-compressed)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
G=$C/kiln-gpu-tests
{
t checks
tests_and_memcheck 300 'GpuCutlassBiasGemm.*:GpuCutlassGeluGemm.*:GpuGemmGelu.*:CutlassBiasGemmLowering.*:*ResidualGemm*' \
  'GpuCutlassBiasGemm.*'
timeout 60 $C/kiln run $C/real.kiln --packed off --inputs $C/in256.npz -o $W/real256.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
python3 scripts/bench/check_embeddings.py --reference $C/ref256.npz --actual $W/real256.npz \
  --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, 256x128 padded, bias GEMMs on CUTLASS" 2>&1 | tail -2
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for v in off auto; do
  timeout 150 $C/kiln compile $M -o $W/$v.kiln --batch 32,256 --seq 32,128 --precision fp16 \
    --cutlass-bias-gemm $v --cache-dir $W/cc 2>&1 | tail -1
done
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for v in off auto; do
  timeout 60 $C/kiln run $W/$v.kiln --inputs $W/in256.npz --output $W/out-$v.npz > $W/run.log 2>&1 || { echo "kiln run $v failed"; tail -3 $W/run.log; }
  echo -n "--cutlass-bias-gemm $v, 256x128: "
  timeout 120 python3 scripts/bench/check_embeddings.py --onnx $M --inputs $W/in256.npz \
    --actual $W/out-$v.npz --min-cos 0.9999 2>&1 | tail -2 | tr '\n' ' '; echo
done
} 2>&1 | tee $OUT/checks.txt
{
t forward
for turn in 1 2 3; do
  for v in off auto; do
    echo "-- turn $turn, --cutlass-bias-gemm $v"
    timeout 40 $C/kiln bench $W/$v.kiln --shapes 256x128,256x32,32x128 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
  done
done
} 2>&1 | tee $OUT/forward.txt
{
t ncu
echo "-- auto, 256x128: kernel, grid, block, duration (ns)"
timeout 90 ncu --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
  $C/kiln bench $W/auto.kiln --shapes 256x128 --iters 1 --warmup 0 > $W/ncu.csv 2> $W/ncu.err
echo "rc=$?"; tail -2 $W/ncu.err
python3 scripts/bench/ncu_kernels.py $W/ncu.csv
t done
} 2>&1 | tee $OUT/ncu.txt
