#!/bin/bash
# One GPU job over a build of main: the GPU tests, memcheck of the device-view,
# pipeline and replicate paths, kiln bench at the five shapes and at mixed
# lengths, the embedding kernel's profile, and kiln bench --devices 0,0
# (replicate and pipeline, with and without a lost device).
#
#   scripts/bench/main_gpu.sh [CARRY]   (CARRY: kiln, kiln-gpu-tests and, for
#   an A/B of the embedding kernel, kiln-noreport and kiln-hspeed; default .carry)
#
# Logs go to $OUT/logs.tgz.
set -u
OUT=${OUT:-gpu-report}
C=$(realpath "${1:-.carry}"); W=/tmp/w; mkdir -p $W $OUT/l
# The GPU tests read their fixtures from the source folder they were built
# in (KILN_SOURCE_DIR): /work/main for builds carried from the dev machine.
[ -e /work/main ] || { mkdir -p /work && ln -sfn $PWD /work/main; }
T0=$(date +%s); t() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }
t env; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
M=$W/minilm.onnx
(python3 scripts/bench/minilm.py export --weights nontrivial -o $M > $W/export.log 2>&1) &
t gpu-tests
timeout 110 $C/kiln-gpu-tests --gtest_brief=1 > $OUT/l/gpu-tests.txt 2>&1; echo "rc=$?" >> $OUT/l/gpu-tests.txt
grep -E "FAILED|PASSED|SKIPPED \]|tests ran|rc=" $OUT/l/gpu-tests.txt | head -20
wait; tail -1 $W/export.log
t compile
for k in kiln kiln-noreport kiln-hspeed; do [ -x $C/$k ] || continue; timeout 30 $C/$k compile $M -o $W/$k.kiln --batch 1,32,128,256 --seq 32,128 --precision fp16 > /dev/null 2>&1 || echo "compile $k failed"; done
timeout 30 $C/kiln compile $M -o $W/pipe.kiln --batch 1,8,32 --seq 128 --precision fp16 --devices 2 --partition pipeline > $OUT/l/pipe-compile.txt 2>&1 || tail -3 $OUT/l/pipe-compile.txt
t bench
for k in kiln kiln-noreport kiln-hspeed; do [ -x $C/$k ] || continue; echo "-- $k"; timeout 25 $C/$k bench $W/$k.kiln --shapes 1x128,32x128,128x128,256x128,256x32 --iters 100 2>&1 | grep -E "^\| [0-9]|rror"; done
t profile-embed
for k in kiln kiln-noreport kiln-hspeed; do [ -x $C/$k ] || continue; echo "-- $k"; timeout 20 $C/$k bench $W/$k.kiln --shapes 256x128 --profile --iters 20 2>&1 | grep -iE "embed|total|rror" | head -4; done
t lengths
timeout 20 $C/kiln bench $W/kiln.kiln --batch 256 --lengths 8:128 --seed 0 --iters 100 2>&1 | grep -E "^lengths|^\| [0-9]|rror"
t devices
B="timeout 15 $C/kiln bench --threads 8 --shapes 32x128 --duration 3"
$B $W/kiln.kiln --devices 0 > $OUT/l/dev-one.txt 2>&1
$B $W/kiln.kiln --devices 0,0 --mode replicate --inject-fault 1:after:3000 > $OUT/l/dev-rep-fault.txt 2>&1
$B $W/pipe.kiln --devices 0,0 --mode pipeline > $OUT/l/dev-pipe.txt 2>&1
$B $W/pipe.kiln --devices 0,0 --mode pipeline --inject-fault 1:after:3000 > $OUT/l/dev-pipe-fault.txt 2>&1
for f in dev-one dev-rep-fault dev-pipe dev-pipe-fault; do echo "-- $f"; head -40 $OUT/l/$f.txt; done
t sanitize
timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 $C/kiln-gpu-tests --gtest_brief=1 --gtest_filter='BadInput.DeviceView*:BadInput.Host*:Pipeline.MatchesTheWholeModelOnOneCard:MultiDevice.ReplicateOnOneCard*' > $OUT/l/memcheck.txt 2>&1; echo "rc=$?" >> $OUT/l/memcheck.txt
tail -4 $OUT/l/memcheck.txt
t done
cd $OUT && tar czf logs.tgz l && rm -rf l
