#!/bin/bash
# Issue 15: where the forward's time goes kernel by kernel, and whether
# CUTLASS's bias-only GEMMs beat cuBLASLt at MiniLM's other GEMM shapes
# (the QKV projection 1152x384, the attention output 384x384, the FFN's
# output 384x1536), in one device job, each step's output also in $OUT:
#  1. kernels.txt: Nsight Compute, every kernel's duration in one forward
#     of the all-MiniLM-L6-v2 architecture (fp16) at 256x128, 32x128 and
#     1x128 (scripts/bench/ncu_kernels.py);
#  2. probe.txt: GpuCutlassProbe (a kiln-gpu-tests built with
#     -DKILN_CUTLASS_PROBE=ON) at those shapes, the bias-only and plain
#     variants, beside cuBLASLt's bias GEMM in a graph of its own;
#  3. peers.txt: the issue's workloads beside PyTorch eager (SDPA) and
#     torch.compile (reduce-overhead); NO_PEERS=1 skips it.
#
#   scripts/bench/gemm_shapes_gpu.sh [CARRY]
#   (CARRY holds kiln and the probe build's kiln-gpu-tests, either as
#   NAME.xz)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
timeout 150 $C/kiln compile $M -o $W/m.kiln --batch 1,32,256 --seq 32,128 --tokens $TOK --precision fp16 \
  --cache-dir $W/cc 2>&1 | tail -1
{
t kernels
for s in 256x128 32x128 1x128; do
  echo "-- $s: kernel, launches, median duration"
  timeout 90 ncu --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
    $C/kiln bench $W/m.kiln --shapes $s --iters 1 --warmup 0 > $W/ncu-$s.csv 2> $W/ncu-$s.err
  echo "rc=$?"; python3 scripts/bench/ncu_kernels.py $W/ncu-$s.csv
done
} 2>&1 | tee $OUT/kernels.txt
{
t probe
KILN_GEMM_GELU_TIMING=1 KILN_PROBE_SHAPES=1152x384,384x384,384x1536,1536x384 KILN_PROBE_VARIANTS=1,2,5 \
  timeout 240 $C/kiln-gpu-tests --gtest_filter='GpuCutlassProbe.*' 2>&1 |
  grep -E "probe M|timing M|Failure|FAILED|OK \]|rror" | sed 's/graph replay median/graph/'
} 2>&1 | tee $OUT/probe.txt
[ -n "${NO_PEERS:-}" ] && { t done; exit 0; }
{
t peers
peers_step $W/m.kiln
t done
} 2>&1 | tee $OUT/peers.txt
