#!/bin/bash
# Issue 15, one device job for three epilogue changes, most important
# first so that a job cut short still says the most:
#  1. checks: the residual GEMM (GpuResidualGemm, ResidualGemmLowering), the
#     CUTLASS GEMM under programmatic launch, the CUTLASS and GELU tests,
#     compute-sanitizer over the new GPU tests;
#  2. the forward of all-MiniLM-L6-v2's architecture (fp16) compiled with
#     --residual-gemm off, auto and on (checked against onnxruntime fp32 on
#     the device first), two turns, and the auto artifact
#     with the CUTLASS GEMM launched plainly
#     (KILN_EXPERIMENT_CUTLASS_NO_PDL=1); then cuBLASLt autotuned;
#  3. the CUTLASS epilogue probe (a build configured with
#     -DKILN_CUTLASS_PROBE=ON: GpuCutlassProbe) beside cuBLASLt's bias GEMM;
#  4. Nsight Compute on each probe variant and cuBLASLt's kernel at
#     32768 x 1536 x 384 (whole text in $OUT/ncu.txt).
#
#   scripts/bench/epilogues_gpu.sh [CARRY]   (CARRY holds kiln, kiln-gpu-tests)
. "$(dirname "$0")/gpu_job_env.sh" "${1:-.carry}"
G=$C/kiln-gpu-tests
t checks
timeout 200 $G --gtest_filter='GpuResidualGemm.*:ResidualGemmLowering.*:GpuGemmGelu.*:GpuCutlassGeluGemm.*:Runtime.ProgrammaticLaunch*' 2>&1 |
  grep -E "^\[  PASSED|^\[  FAILED|Failure|rror:|SKIPPED \]" | head -30
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 $G \
  --gtest_filter='GpuResidualGemm.MatchesTheReference:GpuGemmGelu.CutlassProgrammatic*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|PASSED|FAILED" $OUT/memcheck.txt | head -5
t forward
python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1; tail -1 $W/export.log
for r in off auto on; do
  timeout 120 $C/kiln compile $M -o $W/$r.kiln --batch 1,32,256 --seq 128 --tokens 16384 --precision fp16 \
    --residual-gemm $r --cache-dir $W/cc 2>&1 | tail -1
done
# Numerics: against onnxruntime fp32 on the device (all-ones 32 x 128, the
# padded bucket; 256 rows of random lengths, the packed 16,384-token one).
python3 scripts/bench/minilm.py inputs --batch 32 --seq 128 --seed 3 -o $W/in32.npz > /dev/null
python3 scripts/bench/minilm.py inputs --batch 256 --seq 128 --seed 4 --padded -o $W/in256.npz > /dev/null
for r in off on; do
  for i in in32 in256; do
    timeout 60 $C/kiln run $W/$r.kiln --inputs $W/$i.npz --output $W/out-$r-$i.npz > /dev/null 2>&1 || echo "kiln run $r $i failed"
    echo -n "--residual-gemm $r, $i: "
    timeout 90 python3 scripts/bench/check_embeddings.py --onnx $M --inputs $W/$i.npz \
      --actual $W/out-$r-$i.npz --min-cos 0.9999 2>&1 | tail -2 | tr '\n' ' '; echo
  done
done
B() { timeout 40 $C/kiln bench $W/$1.kiln --shapes 32x128,256x128 --iters 200 "${@:2}" 2>&1 | grep -E "^\| [0-9]|rror"
      timeout 30 $C/kiln bench $W/$1.kiln --batch 256 --lengths 8:128 --seed 0 --iters 200 "${@:2}" 2>&1 | grep -E "^\| [0-9]|rror"; }
for turn in 1 2; do
  for r in off auto on; do echo "-- turn $turn, --residual-gemm $r"; B $r; done
  echo "-- turn $turn, --residual-gemm auto, CUTLASS launched plainly"
  KILN_EXPERIMENT_CUTLASS_NO_PDL=1 B auto
done
echo "-- auto, cuBLASLt autotuned in the context"; B auto --autotune
t probe
KILN_GEMM_GELU_TIMING=1 timeout 200 $G --gtest_filter='GpuCutlassProbe.*' 2>&1 |
  grep -E "probe M|timing M|Failure|FAILED|OK \]|rror" | tee $OUT/probe.txt
t ncu
KILN_PROBE_ONCE=1 timeout 200 ncu --clock-control none -k regex:'GemmUniversal|nvjet|xmma|gemm' \
  --launch-count 8 --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
  --section SchedulerStats --section Occupancy --section LaunchStats --section InstructionStats \
  $G --gtest_filter='GpuCutlassProbe.*' > $OUT/ncu.txt 2>&1
echo "ncu rc=$?"
grep -E "^  [a-zA-Z_].*[(<]|Duration|SM Frequency|Issue Slots Busy|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|Executed Ipc Active|Eligible Warps|No Eligible|Registers Per|Grid Size|Executed Instructions  " \
  $OUT/ncu.txt | cut -c1-140 | head -150
t done
