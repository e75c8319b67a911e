#!/bin/bash
# Builds the carry folder scripts/bench/small_rows_gpu.sh runs from, on
# the machine without a GPU (the device has no ONNX real model and no
# compiler for ours): kiln and kiln-gpu-tests stripped and xz-compressed,
# the real all-MiniLM-L6-v2 compiled with the options under test
# (real.kiln.xz), 4 rows of 8..128 random token ids (in.npz) and
# onnxruntime fp32's embeddings of them (ref.npz). About 46 MB: with the
# checkout, under the device's 64 MiB transfer limit. Keep CARRY out of git
# (.git/info/exclude), or it travels twice.
#
#   scripts/bench/small_rows_carry.sh [CARRY] [BUILD]   (after make build real-model)
set -eu
CARRY=${1:-.carry4}; BUILD=${2:-build}
PY=.venv/bin/python; MODEL=$BUILD/models/all-MiniLM-L6-v2.onnx
mkdir -p $CARRY; rm -f $CARRY/*
for b in kiln kiln-gpu-tests; do
  cp $BUILD/bin/$b $CARRY/ && strip $CARRY/$b && xz -T2 -6 $CARRY/$b
done
$BUILD/bin/kiln compile $MODEL -o $CARRY/real.kiln --batch 1,4 --seq 128 --tokens 256,384 \
  --precision fp16 --small-gemm-rows 512 --ksplit-layernorm auto --prefetch-weights on \
  --cache-dir none | tail -1
xz -T2 -6 $CARRY/real.kiln
$PY - $CARRY/in.npz $MODEL <<'PYEOF'
import sys, numpy as np, onnx
m = onnx.load(sys.argv[2], load_external_data=False)
names = {i.name for i in m.graph.input}
rng = np.random.default_rng(11)
B, S = 4, 128
ids = np.zeros((B, S), np.int64); mask = np.zeros((B, S), np.int64)
for b, L in enumerate(rng.integers(8, S + 1, size=B)):
    ids[b, :L] = rng.integers(1000, 30000, size=L); ids[b, 0] = 101; ids[b, L - 1] = 102
    mask[b, :L] = 1
d = {"input_ids": ids, "attention_mask": mask}
if "token_type_ids" in names:
    d["token_type_ids"] = np.zeros((B, S), np.int64)
np.savez(sys.argv[1], **d)
print("in.npz: lengths", mask.sum(1).tolist())
PYEOF
$PY scripts/bench/check_embeddings.py --onnx $MODEL --inputs $CARRY/in.npz --write-reference $CARRY/ref.npz
du -cb $CARRY/* | tail -1
