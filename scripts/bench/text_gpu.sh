#!/usr/bin/env bash
# Text and serving on the GPU machine, in one job (issues 13 and 14):
#   1. the Python package on the GPU (scripts/gpu-python.sh run);
#   2. tokenizing batches of 256 texts of 128 tokens on 1, 8 and 16 threads
#      (kiln tokenize --time --batch 256 --threads N) next to the GPU time
#      of a 256x128 batch (kiln bench);
#   3. kiln serve's host cost per request with no model at all
#      (kiln-serve-bench fake: HTTP, JSON, tokenizing, batching);
#   4. kiln serve --device gpu under kiln-serve-bench load (1 and 64
#      connections, one sentence of 8-128 tokens a request; 64 connections
#      of 32 sentences) with the server's CPU time per request and share,
#      for BASE_KILN (the baseline build, when given) and the new build, one
#      after the other on the same card; next to the engine's own
#      throughput on the same length mix (kiln bench at 256xS).
#
#   scripts/bench/text_gpu.sh W OUT [BASE_KILN]
#
# W holds bin/kiln, bin/kiln-serve-bench, tokenizer.json and py/ (from
# scripts/gpu-python.sh prepare); the model is all-MiniLM-L6-v2's
# architecture with seeded weights (scripts/bench/minilm.py export), fp16.
set -u
W=$1 OUT=$2 BASE=${3:-}
# minilm.py from the checkout the job runs in (the current folder).
MINILM=${MINILM:-$PWD/scripts/bench/minilm.py}
K=$W/bin/kiln
TOK=$W/tokenizer.json
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"

echo "== model"
python3 "$MINILM" export --weights nontrivial --seed 0 -o "$W/minilm.onnx" >"$OUT/export.log" 2>&1 ||
  { tail -5 "$OUT/export.log"; exit 1; }
SECONDS=0
"$K" compile "$W/minilm.onnx" -o "$W/model.kiln" --precision fp16 --batch 1,8,32,128,256 \
  --seq 16,32,64,128 --tokenizer "$TOK" >"$OUT/compile.log" 2>&1 || { tail -5 "$OUT/compile.log"; exit 1; }
echo "compiled in ${SECONDS} s"

echo "== python package on the GPU"
ln -sf "$W/model.kiln" "$W/py/model.kiln"
ln -sf "$W/minilm.onnx" "$W/py/model.onnx"
ln -sf "$TOK" "$W/py/tokenizer.json"
mkdir -p "$W/py/bin" && ln -sf "$K" "$W/py/bin/kiln"
timeout 60 bash "$W/gpu-python.sh" run "$W/py" "$OUT/python" 2>&1 | tail -8

echo "== tokenizer: batches of 256 x 128 tokens vs the GPU time of 256x128"
python3 - "$W/long.jsonl" <<'PY'
import json, random, sys
words = ("the of and to in is was for on that with as by at from his her it an were are which this be "
         "or has had not but one their they all two new first after also who more other its time can "
         "been when into year there world people city state school music made work life could over may "
         "house game water family film book team day night small great good long old high light place "
         "home river road war party church art man woman child country number power market group line "
         "name system design model language table computer window garden morning evening").split()
rng = random.Random(1)
with open(sys.argv[1], "w") as f:
    for i in range(256 * 40):
        f.write(json.dumps(" ".join(rng.choice(words) for _ in range(140))) + "\n")
PY
for t in 1 8 16; do
  "$K" tokenize "$TOK" --time --batch 256 --threads $t <"$W/long.jsonl" 2>&1 >/dev/null | tail -1
done | tee "$OUT/tokenizer.txt"
"$K" bench "$W/model.kiln" --shapes 256x16,256x32,256x64,256x128 --json "$OUT/bench.json" \
  >"$OUT/bench.txt" 2>&1 || tail -5 "$OUT/bench.txt"
python3 - "$OUT/bench.json" <<'PY' | tee -a "$OUT/tokenizer.txt"
import json, sys
rs = [r for r in json.load(open(sys.argv[1])) if r.get("impl", "kiln") == "kiln"]
t = {r["seq"]: r["gpu_ms_median"] for r in rs}
print("GPU time (kiln bench, median): " + ", ".join(f"256x{s}: {t[s]:.3f} ms" for s in sorted(t)))
# The engine alone on the load test's mix: lengths 8..128 evenly, each in
# its bucket, in full batches of 256.
lens = range(8, 129)
per = sum(t[min(b for b in t if b >= n)] / 256 for n in lens) / len(lens)
print(f"engine alone on sentences of 8-128 tokens (full 256 batches): {1e3 / per:,.0f} sentences/s")
PY

echo "== kiln serve: host cost per request (fake mode: tokenize-only backend)"
# BASE_BENCH: kiln-serve-bench built on the baseline's lib/serve (optional).
for b in ${BASE_BENCH:+"$BASE_BENCH"} "$W/bin/kiln-serve-bench"; do
  echo "-- $b"
  "$b" fake "$TOK" --connections 1,64 --requests 20000 --warmup 0.5
  "$b" fake "$TOK" --connections 64 --batch 32 --requests 2000 --warmup 0.5
done 2>&1 | grep -v '^kiln serve:' | tee "$OUT/serve-fake.txt"

serve_load() { # NAME KILN
  local name=$1 kiln=$2 log=$OUT/serve-$1.log url=""
  "$kiln" serve "$W/model.kiln" --device gpu --host 127.0.0.1 --port 0 >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
    [[ -n $url ]] && break
    sleep 0.1
  done
  [[ -n $url ]] || { echo "$name: server did not start"; tail -3 "$log"; kill $pid; return; }
  echo "-- $name"
  "$W/bin/kiln-serve-bench" load "$url" --server-pid $pid --connections 1,64 --duration ${DUR:-5} --warmup 0.5
  "$W/bin/kiln-serve-bench" load "$url" --server-pid $pid --connections 64 --batch 32 --duration ${DUR:-5} --warmup 0.5
  kill -TERM $pid
  wait $pid
  echo "$name: exit status after SIGTERM: $?"
}
echo "== kiln serve --device gpu under load (same card, one after the other)"
{
  [[ -n $BASE ]] && serve_load base "$BASE"
  serve_load new "$K"
} | tee "$OUT/serve-gpu.txt"
