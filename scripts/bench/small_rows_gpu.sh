#!/bin/bash
# Issue 15, item 4 and the 1x128 / 32x128 targets: kiln's own GEMMs at
# small batches with the weights prefetched under programmatic dependent
# launch, and the GEMM + residual LayerNorm whose cluster splits K
# (gemm_ksplit_layernorm_f16), against cuBLASLt + the LayerNorm kernels,
# in one device job, most important first (each step also goes to a file
# in $OUT):
#  1. checks.txt: the small-GEMM, GEMM + LayerNorm, GELU-GEMM, residual and
#     programmatic-launch GPU tests; compute-sanitizer memcheck over the
#     new kernels' tests; the real all-MiniLM-L6-v2 (CARRY/real.kiln,
#     compiled with --small-gemm-rows 512 --ksplit-layernorm auto
#     --prefetch-weights on; in.npz, ref.npz: onnxruntime fp32, 4 rows of
#     8..128 tokens); the nontrivial-weight architecture against
#     onnxruntime fp32 on the device with the variants below;
#  2. forward.txt: the forward (fp16) at 1x128, 4x128, 32x128 and 32 mixed
#     rows, every variant, three turns;
#  3. ncu.txt: every kernel's duration in one forward at 1x128 (cuBLASLt
#     plan, and ours);
#  4. peers.txt: 1x128 and 32x128 beside PyTorch eager (SDPA) and
#     torch.compile (reduce-overhead), with PEERS=1 only (the steps above
#     take about 8 of a device call's 10 minutes).
#
#   scripts/bench/small_rows_gpu.sh [CARRY]
#   (CARRY holds kiln, kiln-gpu-tests, real.kiln, in.npz, ref.npz; any of
#   them may come xz-compressed as NAME.xz, for the transfer limit;
#   scripts/bench/issue15_carry.sh makes it)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
G=$C/kiln-gpu-tests
# name: kiln compile flags (own512 is run 14's plan; the options under
# test are off by default)
VARIANTS=(
  "cublas:--small-gemm-rows 0"
  "own512:--small-gemm-rows 512"
  "own512-prefetch:--small-gemm-rows 512 --prefetch-weights on"
  "own512-ksplit:--small-gemm-rows 512 --ksplit-layernorm auto --prefetch-weights on"
  "own512-ksplit-noprefetch:--small-gemm-rows 512 --ksplit-layernorm auto"
  "own4096-prefetch:--small-gemm-rows 4096 --prefetch-weights on"
  "own4096-ksplit:--small-gemm-rows 4096 --ksplit-layernorm on --prefetch-weights on"
)
{
t checks
tests_and_memcheck 300 '*SmallGemm*:*GemmSkipLayerNorm*:GpuGemmGelu.*:*ResidualGemm*:Runtime.ProgrammaticLaunch*' \
  'GpuGemmSkipLayerNorm.*:GpuSmallGemm.*'
for p in on off; do
  timeout 60 $C/kiln run $C/real.kiln --packed $p --inputs $C/in.npz -o $W/real-$p.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
  python3 scripts/bench/check_embeddings.py --reference $C/ref.npz --actual $W/real-$p.npz \
    --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, own GEMMs, K split, prefetch, --packed $p" 2>&1 | tail -2
done
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for v in "${VARIANTS[@]}"; do
  timeout 150 $C/kiln compile $M -o $W/${v%%:*}.kiln --batch 1,4,32 --seq 128 --tokens 1024,2048,3072 \
    --precision fp16 ${v#*:} --cache-dir $W/cc 2>&1 | tail -1
done
python3 scripts/bench/minilm.py inputs --batch 4 --seq 128 --seed 3 -o $W/in4.npz > /dev/null
python3 scripts/bench/minilm.py inputs --batch 32 --seq 128 --seed 4 --padded -o $W/in32.npz > /dev/null
for v in own512-prefetch own512-ksplit own512-ksplit-noprefetch own4096-prefetch own4096-ksplit; do
  for i in in4 in32; do
    timeout 60 $C/kiln run $W/$v.kiln --inputs $W/$i.npz --output $W/out-$v-$i.npz > $W/run.log 2>&1 || { echo "kiln run $v $i failed"; tail -3 $W/run.log; }
    echo -n "$v, $i: "
    timeout 90 python3 scripts/bench/check_embeddings.py --onnx $M --inputs $W/$i.npz \
      --actual $W/out-$v-$i.npz --min-cos 0.9999 2>&1 | tail -2 | tr '\n' ' '; echo
  done
done
} 2>&1 | tee $OUT/checks.txt
B() { timeout 40 $C/kiln bench $W/$1.kiln --shapes 1x128,4x128,32x128 --iters 300 2>&1 | grep -E "^\| [0-9]|rror"
      timeout 30 $C/kiln bench $W/$1.kiln --batch 32 --lengths 8:128 --seed 0 --iters 300 2>&1 | grep -E "^\| [0-9]|rror"; }
{
t forward
for turn in 1 2 3; do
  for v in "${VARIANTS[@]}"; do echo "-- turn $turn, ${v%%:*}"; B ${v%%:*}; done
done
echo "-- own512-ksplit without programmatic launch"
timeout 40 $C/kiln bench $W/own512-ksplit.kiln --shapes 1x128,4x128 --iters 300 --programmatic-launch=false 2>&1 | grep -E "^\| [0-9]|rror"
} 2>&1 | tee $OUT/forward.txt
{
t ncu
for v in cublas own512 own512-ksplit; do
  echo "-- $v, 1x128: kernel, grid, block, duration (ns)"
  timeout 60 ncu --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
    $C/kiln bench $W/$v.kiln --shapes 1x128 --iters 1 --warmup 0 > $W/ncu-$v.csv 2> $W/ncu-$v.err
  echo "rc=$?"; tail -2 $W/ncu-$v.err
  python3 scripts/bench/ncu_kernels.py $W/ncu-$v.csv
done
} 2>&1 | tee $OUT/ncu.txt
[ -z "${PEERS:-}" ] && { t done; exit 0; }
{
t peers
PEERS="python3 scripts/bench/peers.py --device cuda --warmup 5 --iters 50"
for v in cublas own512-ksplit; do
  echo "-- $v"
  timeout 150 $C/kiln bench $W/$v.kiln --shapes 1x128,32x128 --iters 300 --peers "$PEERS" 2>&1 | grep -E "^\| [0-9]|rror"
done
t done
} 2>&1 | tee $OUT/peers.txt
