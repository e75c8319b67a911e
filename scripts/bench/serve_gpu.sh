#!/usr/bin/env bash
# kiln serve on a GPU machine: throughput and latency under load, and a
# device fault under load (issue 14).
#
#   scripts/bench/serve_gpu.sh KILN MODEL.onnx TOKENIZER.json OUTDIR
#
# Compiles MODEL.onnx to an fp16 artifact carrying TOKENIZER.json (batch
# buckets 1..256, seq buckets 16, 32, 64, 128), serves it with `kiln serve
# --device gpu` on a free loopback port and drives it with
# scripts/bench/serve_load.py (N keep-alive connections, one sentence of 8
# to 128 tokens a request, at N = 1, 8, 32, 64; then 64 connections of 32
# sentences a request). Then serves it again on two logical devices of the
# one card (--devices 0,0: one multi-device engine) with
# KILN_FAULT_INJECT=device:1:after:200 (lost from its 200th launch, one per
# batch; `--inject-fault 1:after:200` is the same) and 32 connections, and
# reads /health and kiln_device_up, kiln_device_failures_total from
# /metrics after.
# SIGTERM ends each server; its exit status is reported. Everything goes to
# OUTDIR (load*.json and the logs); a summary is printed last.
set -u
KILN=$1 ONNX=$2 TOK=$3 OUT=$4
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
"$KILN" compile "$ONNX" -o "$OUT/serve.kiln" --precision fp16 --batch 1,8,32,128,256 \
  --seq 16,32,64,128 --tokenizer "$TOK" >"$OUT/compile.log" 2>&1 || {
  cat "$OUT/compile.log"
  exit 1
}

start_server() { # LOG ARGS...
  local log=$1
  shift
  "$KILN" serve "$OUT/serve.kiln" --host 127.0.0.1 --port 0 "$@" >"$log" 2>&1 &
  SERVER=$!
  URL=""
  for _ in $(seq 300); do
    URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
    [[ -n $URL ]] && return 0
    kill -0 $SERVER 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start:"
  cat "$log"
  return 1
}
stop_server() {
  kill -TERM $SERVER
  wait $SERVER
  echo "server exit status after SIGTERM: $?"
}
get() { python3 -c "import sys, urllib.request as u
try:
    r = u.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode())
except u.HTTPError as e:
    print(e.code); print(e.read().decode())" "$1"; }

echo "== one GPU"
start_server "$OUT/serve.log" --device gpu || exit 1
python3 "$HERE/serve_load.py" --url "$URL" --connections 1,8,32,64 --duration 10 --warmup 2 \
  --json "$OUT/load.json" | tee "$OUT/load.txt"
python3 "$HERE/serve_load.py" --url "$URL" --connections 64 --batch 32 --duration 10 --warmup 2 \
  --json "$OUT/load-batch32.json" | tee -a "$OUT/load.txt"
stop_server

echo "== --devices 0,0, device 1 fails from its 200th launch (batch)"
KILN_FAULT_INJECT=device:1:after:200 start_server "$OUT/serve-fault.log" --device gpu \
  --devices 0,0 || exit 1
python3 "$HERE/serve_load.py" --url "$URL" --connections 32 --duration 10 --warmup 1 \
  --json "$OUT/load-fault.json" | tee "$OUT/load-fault.txt"
echo "/health after the fault: $(get "$URL/health" | sed -n 1p)"
get "$URL/metrics" | grep -E '^kiln_device_up|^kiln_device_failures_total|^kiln_request_failure' || true
stop_server
