#!/bin/bash
# The issue's workloads in a short device window (issue 15): kiln alone
# first (five shapes, the mixed-length batches), then kiln's small-batch
# probe (small_gemm_probe.sh), then the same workloads beside the peers
# (PyTorch eager with SDPA, torch.compile reduce-overhead), so that a job
# cut short still has kiln's figures. The same buckets as main_gpu.sh.
# NO_PEERS=1 stops before the peers (and NO_NCU=1 skips the probe's
# Nsight Compute step) for the shortest window.
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
[ -n "${NO_PEERS:-}" ] && { t done; exit 0; }
t peers
timeout 90 $C/kiln bench $W/m.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 --peers "$PEERS" 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
timeout 150 $C/kiln bench $W/m.kiln --shapes $SHAPES --iters 200 --peers "$PEERS" 2>&1 | grep -E "^\| [0-9]|rror"
t done
