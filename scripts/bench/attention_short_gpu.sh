#!/bin/bash
# Issue 15, item 3: attention_short (every key of a short sequence in
# shared memory, one barrier a CTA) against attention_mma, in one device
# job with one build (`kiln compile --attention-short auto|off`), most
# important first so that a job cut short still says the most (each step's
# output also goes to a file in $OUT):
#  1. checks.txt: the attention, packed-token and lowering GPU tests, every
#     forced tiling; compute-sanitizer memcheck over the attention tests;
#     the real all-MiniLM-L6-v2 (CARRY/real.kiln, in.npz, ref.npz: onnxruntime
#     fp32) packed and padded; the nontrivial-weight MiniLM architecture
#     against onnxruntime fp32 on the device, auto and off;
#  2. forward.txt: the forward (fp16), off, auto and on in turns, three
#     turns (on differs from auto on the small grid: 1x128);
#  3. timing.txt: GpuAttentionTiming (attention alone, every variant);
#  4. ncu.txt: both kernels' issue and stall picture at 256x128 and 32x128;
#  5. peers.txt: the issue's workloads beside PyTorch eager (SDPA) and
#     torch.compile (reduce-overhead), NO_PEERS=1 skips it.
#
#   scripts/bench/attention_short_gpu.sh [CARRY]
#   (CARRY holds kiln, kiln-gpu-tests, real.kiln, in.npz, ref.npz; any of
#   them may come xz-compressed as NAME.xz, for the transfer limit)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
unpack_carry
G=$C/kiln-gpu-tests
TOK=1024,2048,4096,8192,12288,16384,18432,20480,22528,24576
{
t checks
tests_and_memcheck 240 '*Attention*:PackedTokens*:FusedLowering*:Runtime.Packed*:Runtime.ProgrammaticLaunch*' \
  '*AttentionTest.*:*PackedTokensAttention*'
for p in on off; do
  timeout 60 $C/kiln run $C/real.kiln --packed $p --inputs $C/in.npz -o $W/real-$p.npz > /dev/null 2> $W/real.log || tail -3 $W/real.log
  python3 scripts/bench/check_embeddings.py --reference $C/ref.npz --actual $W/real-$p.npz \
    --min-cos 0.9999 --label "real all-MiniLM-L6-v2 fp16, 32 rows, --packed $p" 2>&1 | tail -2
done
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for a in auto off on; do
  timeout 150 $C/kiln compile $M -o $W/$a.kiln --batch 1,32,256 --seq 32,128 --tokens $TOK --precision fp16 \
    --attention-short $a --cache-dir $W/cc 2>&1 | tail -1
done
python3 scripts/bench/minilm.py inputs --batch 32 --seq 128 --seed 3 -o $W/in32.npz > /dev/null
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for a in auto off; do
  for i in in32 in256; do
    timeout 60 $C/kiln run $W/$a.kiln --inputs $W/$i.npz --output $W/out-$a-$i.npz > $W/run.log 2>&1 || { echo "kiln run $a $i failed"; tail -3 $W/run.log; }
    echo -n "--attention-short $a, $i: "
    timeout 90 python3 scripts/bench/check_embeddings.py --onnx $M --inputs $W/$i.npz \
      --actual $W/out-$a-$i.npz --min-cos 0.9999 2>&1 | tail -2 | tr '\n' ' '; echo
  done
done
} 2>&1 | tee $OUT/checks.txt
B() { timeout 40 $C/kiln bench $W/$1.kiln --shapes 1x128,32x128,256x128,256x32 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
      for b in 256 32; do
        timeout 30 $C/kiln bench $W/$1.kiln --batch $b --lengths 8:128 --seed 0 --iters 200 2>&1 | grep -E "^\| [0-9]|rror"
      done; }
{
t forward
for turn in 1 2 3; do
  for a in off auto on; do echo "-- turn $turn, --attention-short $a"; B $a; done
done
} 2>&1 | tee $OUT/forward.txt
{
t timing
KILN_ATTENTION_TIMING=1 timeout 200 $G --gtest_filter='GpuAttentionTiming.*' > $W/timing.log 2>&1
echo "rc=$?"; grep -E "^timing|Failure|FAILED" $W/timing.log | sed 's/timing attention //; s/ (attention.cuh)//; s/step median/step/; s/graph replay median/graph/'
} 2>&1 | tee $OUT/timing.txt
{
t ncu
for a in auto off; do
  for s in 256x128 32x128; do
    echo "-- --attention-short $a, $s"
    timeout 60 ncu --clock-control none -k regex:attention --launch-count 1 \
      --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,smsp__inst_executed.sum,sm__cycles_elapsed.avg,smsp__issue_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active' \
      $C/kiln bench $W/$a.kiln --shapes $s --iters 1 --warmup 0 > $W/ncu-$a-$s.txt 2>&1
    awk '/^    [a-z]/ { v=$NF; gsub(",", "", v); if (!/stalled/ || v+0 > 0.2) { m=$1; sub("smsp__average_warps_issue_stalled_", "stall ", m); sub("_per_issue_active.ratio", "", m); print "   " m " " v } }' $W/ncu-$a-$s.txt | head -30
  done
done
} 2>&1 | tee $OUT/ncu.txt
[ -n "${NO_PEERS:-}" ] && { t done; exit 0; }
{
t peers
peers_step $W/auto.kiln
t done
} 2>&1 | tee $OUT/peers.txt
