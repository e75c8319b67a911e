#!/bin/bash
# The issue's workloads in a short device window (issue 15): kiln alone
# first (five shapes, the mixed-length batches), then kiln's small-batch
# probe (small_gemm_probe.sh), then the same workloads beside the peers
# (PyTorch eager with SDPA, torch.compile reduce-overhead), so that a job
# cut short still has kiln's figures. The same buckets as main_gpu.sh.
# Nsight Compute gives every kernel's duration at 1x128 (the probe), 32x128
# and 256x128, and the attention kernel's stall picture (text in $OUT).
# NO_PEERS=1 stops before the peers (and NO_NCU=1 skips the Nsight
# Compute steps) for the shortest window.
#
#   scripts/bench/targets_gpu.sh [CARRY]   (CARRY holds kiln)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
PEERS="python3 scripts/bench/peers.py --device cuda --warmup 5 --iters 50"
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
timeout 120 $C/kiln compile $M -o $W/m.kiln --batch 1,32,128,256 --seq 32,128 --tokens $TOK --precision fp16 --cache-dir $W/cc 2>&1 | tail -1
SHAPES=1x128,32x128,128x128,256x128,256x32
t kiln
timeout 40 $C/kiln bench $W/m.kiln --shapes $SHAPES --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
for s in "256 0" "256 1" "32 0"; do
  set -- $s
  timeout 30 $C/kiln bench $W/m.kiln --batch $1 --lengths 8:128 --seed $2 --iters 100 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
done
bash scripts/bench/small_gemm_probe.sh "$C"
if [ -z "${NO_NCU:-}" ]; then
  t ncu-shapes
  for s in 32x128 256x128; do
    echo "-- $s (default plan): kernel, grid, block, duration"
    timeout 90 ncu --clock-control none --metrics gpu__time_duration.sum --print-units base --csv \
      $C/kiln bench $W/m.kiln --shapes $s --iters 1 --warmup 0 > $W/ncu-$s.csv 2> $W/ncu-$s.err
    echo "rc=$?"; python3 scripts/bench/ncu_kernels.py $W/ncu-$s.csv
    # The attention kernel's issue and stall picture (item 3), whole text to $OUT.
    timeout 90 ncu --clock-control none -k regex:attention --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
      --section MemoryWorkloadAnalysis $C/kiln bench $W/m.kiln --shapes $s --iters 1 --warmup 0 > $OUT/ncu-attn-$s.txt 2>&1
    grep -E "Duration|Issue Slots Busy|Eligible Warps|Active Warps Per|No Eligible|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per" $OUT/ncu-attn-$s.txt | head -14
  done
fi
[ -n "${NO_PEERS:-}" ] && { t done; exit 0; }
t peers
timeout 90 $C/kiln bench $W/m.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 --peers "$PEERS" 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
timeout 150 $C/kiln bench $W/m.kiln --shapes $SHAPES --iters 200 --peers "$PEERS" 2>&1 | grep -E "^\| [0-9]|rror"
t done
