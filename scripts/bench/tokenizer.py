#!/usr/bin/env python3
"""Times kiln's tokenizer against `tokenizers`' encode_batch, one thread each.

Both encode the same corpus (tests/tokenizer/make_corpus.py, or its English
part with --english) from memory with all-MiniLM-L6-v2's tokenizer.json,
padding off, the tokenizer's truncation (128) on. kiln is timed inside
kiln tokenize --time (JSON parsing and output excluded); tokenizers with
RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false. Best of --repeat runs.

    scripts/bench/tokenizer.py --kiln build/bin/kiln
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "tokenizer"))
import check_exactness  # noqa: E402
import make_corpus  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True, help="the kiln binary")
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--english", action="store_true",
                    help="only the English sentences, repeated to 20,000")
    args = ap.parse_args()
    from tokenizers import Tokenizer

    tj = args.tokenizer or check_exactness.default_tokenizer_json()
    corpus = make_corpus.generate(13)
    if args.english:
        english = corpus[21:3021]
        corpus = (english * 7)[:20000]
    tok = Tokenizer.from_file(tj)
    tok.no_padding()
    best_hf = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        encs = tok.encode_batch(corpus)
        best_hf = min(best_hf, time.perf_counter() - t0)
    tokens = sum(len(e.ids) for e in encs)

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as f:
        for s in corpus:
            f.write(json.dumps(s) + "\n")
        f.flush()
        best_kiln = float("inf")
        for _ in range(args.repeat):
            with open(f.name, "rb") as stdin:
                r = subprocess.run([args.kiln, "tokenize", tj, "--time"], stdin=stdin,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   check=True)
            m = re.search(r"(\d+) strings, (\d+) tokens in ([0-9.]+) s", r.stderr.decode())
            assert m and int(m.group(2)) == tokens, r.stderr.decode()
            best_kiln = min(best_kiln, float(m.group(3)))

    n = len(corpus)
    print(f"corpus: {n} strings, {tokens} tokens (with [CLS]/[SEP]), best of {args.repeat}")
    for name, t in (("tokenizers encode_batch (1 thread)", best_hf), ("kiln", best_kiln)):
        print(f"{name:36s} {t * 1e3:9.1f} ms  {tokens / t / 1e6:7.2f} M tokens/s  "
              f"{n / t / 1e3:8.1f} k strings/s")
    print(f"kiln speedup: {best_hf / best_kiln:.2f}x")


if __name__ == "__main__":
    main()
