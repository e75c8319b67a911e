#!/usr/bin/env python3
"""Tests `kiln serve` end to end on the CPU, over loopback only.

    check_serve.py --kiln build/bin/kiln [--soak 20000]

The model is the fixture tests/models/minilm_l2_opset17.onnx (a 2-layer
MiniLM with a 512-token vocabulary and 64 positions), with
tests/serve/vocab.txt: a BERT vocab.txt of the fixture's size whose special
tokens sit at BERT's ids. Every case prints `PASS name` or `FAIL name: why`;
the last line counts them. Cases:

  openai-client     the official `openai` client (float and base64) gets the
                    vectors of a direct `kiln run` of the same model on the
                    same ids (reference executor), and the token counts
  tei               /embed gives the same vectors; dimensions, normalize,
                    truncation, token-id inputs; /health, /info, /metrics
  errors-*          each error status with a JSON error, and a good request
                    answered right after it
  overloaded        429 past --max-concurrent-requests
  device-lost       a device that fails: 424 for its batch, then 503
  failover          two logical devices, one failing: no request fails
  inject-fault      --devices 0,1 --inject-fault 1:after:K under load: no
                    request fails, /health 200, /metrics and /info show
                    device 1 lost with its error; a recoverable fault: the
                    device comes back up
  concurrent        32 clients at once, every answer right
  soak              N requests (default 20,000), 0 errors, resident memory
                    within +-10% of its level after warm-up
  sigterm           SIGTERM under load: requests sent before it are
                    answered, the server exits 0
"""
import argparse
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "tests/models/minilm_l2_opset17.onnx")
VOCAB = os.path.join(ROOT, "tests/serve/vocab.txt")
WORDS = ("the world is a small place and people know it but we can see "
         "how many years of good work make great things").split()

results = []


def report(name, ok, why=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why), flush=True)


def sentence(i, n=None):
    n = n or 3 + i % 12
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n))


class Server:
    def __init__(self, kiln, *flags, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [kiln, "serve", MODEL, "--tokenizer", VOCAB, "--port", "0", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on http://"):
            raise RuntimeError("kiln serve did not start: " + line + self.proc.stderr.read())
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, conn=None):
        c = conn or self.conn()
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        c.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        payload = r.read()
        if conn is None:
            c.close()
        return r.status, payload

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


def tokenize(kiln, texts):
    out = subprocess.run([kiln, "tokenize", VOCAB, "--max-length", "0"],
                         input="".join(json.dumps(t) + "\n" for t in texts),
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def direct(kiln, ids, tmp):
    """The reference executor's embedding of one tokenized input, via kiln run."""
    a = np.array([ids], dtype=np.int64)
    files = {}
    for name, v in (("input_ids", a), ("attention_mask", np.ones_like(a)),
                    ("token_type_ids", np.zeros_like(a))):
        files[name] = os.path.join(tmp, name + ".npy")
        np.save(files[name], v)
    out = os.path.join(tmp, "out.npz")
    subprocess.run([kiln, "run", "--device", "cpu", MODEL, "-o", out] +
                   ["--input=%s=%s" % kv for kv in files.items()], check=True,
                   capture_output=True)
    v = np.load(out)["sentence_embedding"][0].astype(np.float64)
    return v / np.linalg.norm(v)


def close(a, b, tol=1e-5):
    return np.allclose(np.asarray(a, dtype=np.float64), b, atol=tol, rtol=0)


def test_openai_and_tei(kiln, srv):
    from openai import OpenAI
    texts = [sentence(i) for i in range(5)]
    ids = tokenize(kiln, texts)
    with tempfile.TemporaryDirectory() as tmp:
        want = [direct(kiln, i, tmp) for i in ids]
    client = OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0)
    for fmt in ("float", "base64"):
        r = client.embeddings.create(input=texts, model="minilm", encoding_format=fmt)
        got = [d.embedding for d in r.data]
        if fmt == "base64" and isinstance(got[0], str):
            got = [np.frombuffer(base64.b64decode(g), dtype="<f4") for g in got]
        ok = all(close(g, w) for g, w in zip(got, want)) and len(got) == 5
        ok &= [d.index for d in r.data] == list(range(5))
        ok &= r.usage.prompt_tokens == sum(len(i) for i in ids) == r.usage.total_tokens
        report("openai-client-" + fmt, ok, "vectors or usage differ from kiln run")
    # The client's default (no encoding_format: it asks for base64 and decodes).
    r = client.embeddings.create(input=texts[0], model="minilm")
    report("openai-client-default", close(r.data[0].embedding, want[0]), "differs")
    r = client.embeddings.create(input=ids[1], model="minilm")  # token ids
    report("openai-client-ids", close(r.data[0].embedding, want[1]), "differs")

    st, body = srv.request("POST", "/embed", {"inputs": texts})
    got = json.loads(body)
    report("tei-embed", st == 200 and all(close(g, w) for g, w in zip(got, want)),
           "status %d or vectors differ" % st)
    st, body = srv.request("POST", "/embed", {"inputs": texts[0], "dimensions": 8})
    v = np.array(json.loads(body)[0])
    report("tei-dimensions", st == 200 and len(v) == 8 and abs(np.linalg.norm(v) - 1) < 1e-5 and
           close(v, want[0][:8] / np.linalg.norm(want[0][:8])), "wrong Matryoshka cut")
    st, body = srv.request("POST", "/embed", {"inputs": "word " * 200, "truncate": True})
    st2, body2 = srv.request("POST", "/embed", {"inputs": "word " * 200, "truncate": True,
                                                "truncation_direction": "left"})
    report("tei-truncate", st == 200 and st2 == 200, "status %d, %d" % (st, st2))
    st, body = srv.request("POST", "/embed", {"inputs": [ids[2]]})
    report("tei-ids", st == 200 and close(json.loads(body)[0], want[2]), "differs")
    st, _ = srv.request("GET", "/health")
    report("health", st == 200, "status %d" % st)
    st, body = srv.request("GET", "/info")
    info = json.loads(body)
    report("info", st == 200 and info["max_input_length"] == 64 and info["dimension"] == 96 and
           info["max_client_batch_size"] == 32, body.decode())
    st, body = srv.request("GET", "/metrics")
    text = body.decode()
    need = ["kiln_requests_total", "kiln_request_success_total", "kiln_request_failure_total{err=",
            "kiln_request_duration_seconds_bucket", "kiln_request_tokenization_duration_seconds",
            "kiln_request_queue_duration_seconds", "kiln_request_inference_duration_seconds",
            "kiln_batch_size_bucket", "kiln_batch_tokens_bucket", "kiln_queue_size",
            'kiln_device_up{device="cpu:0"} 1']
    missing = [n for n in need if n not in text]
    report("metrics", st == 200 and not missing, "missing " + ", ".join(missing))
    return want[0], texts[0]


def test_errors(srv, good_text, good_vec):
    too_many = {"inputs": [sentence(i) for i in range(33)]}
    cases = [
        ("empty-list", "/embed", {"inputs": []}, 400),
        ("empty-string", "/embed", {"inputs": ""}, 400),
        ("malformed-json", "/embed", b'{"inputs": [', 422),
        ("not-an-object", "/embed", b'[1, 2]', 422),
        ("wrong-type", "/embed", {"inputs": 5}, 422),
        ("wrong-type-normalize", "/embed", {"inputs": "a", "normalize": "yes"}, 422),
        ("missing-field", "/embed", {"input": "a"}, 422),
        ("too-many-inputs", "/embed", too_many, 422),
        ("too-long", "/embed", {"inputs": "word " * 200, "truncate": False}, 422),
        ("bad-dimensions", "/embed", {"inputs": "a", "dimensions": 1000}, 422),
        ("bad-direction", "/embed", {"inputs": "a", "truncation_direction": "up"}, 422),
        ("id-out-of-vocab", "/embed", {"inputs": [[101, 99999, 102]]}, 422),
        ("payload-limit", "/embed", {"inputs": "a" * 2100000}, 413),
        ("openai-empty", "/v1/embeddings", {"input": [], "model": "m"}, 400),
        ("openai-wrong-type", "/v1/embeddings", {"input": {"a": 1}}, 422),
        ("openai-bad-format", "/v1/embeddings", {"input": "a", "encoding_format": "hex"}, 422),
        ("openai-payload-limit", "/embeddings", {"input": "a" * 2100000}, 413),
        ("unknown-path", "/nothing", {"inputs": "a"}, 404),
    ]
    for name, path, body, status in cases:
        st, payload = srv.request("POST", path, body)
        try:
            err = json.loads(payload)
            shaped = ("message" in err["error"]) if path != "/embed" and "embeddings" in path \
                else (isinstance(err["error"], str) and "error_type" in err)
        except (ValueError, KeyError, TypeError):
            shaped = False
        st2, ok_body = srv.request("POST", "/embed", {"inputs": good_text})
        still = st2 == 200 and close(json.loads(ok_body)[0], good_vec)
        report("errors-" + name, st == status and shaped and still,
               "status %d (want %d), json error %s, served after: %s" %
               (st, status, shaped, still))


def test_overloaded(kiln):
    srv = Server(kiln, "--max-concurrent-requests", "2", "--max-batch-delay-us", "1500000")
    try:
        with ThreadPoolExecutor(3) as ex:
            futs = [ex.submit(srv.request, "POST", "/embed", {"inputs": "the world"})]
            time.sleep(0.2)
            futs.append(ex.submit(srv.request, "POST", "/embed", {"inputs": "the world"}))
            time.sleep(0.2)
            futs.append(ex.submit(srv.request, "POST", "/embed", {"inputs": "the world"}))
            sts = sorted(f.result()[0] for f in futs)
        err = json.loads(futs[2].result()[1])
        report("overloaded", sts == [200, 200, 429] and err.get("error_type") == "overloaded",
               "statuses %s" % sts)
    finally:
        report("overloaded-exit", srv.stop() == 0, "exit status")


def test_device_lost(kiln):
    srv = Server(kiln, env={"KILN_FAULT_INJECT": "device:0:after:2"})
    try:
        a, _ = srv.request("POST", "/embed", {"inputs": "the world"})
        b, body = srv.request("POST", "/embed", {"inputs": "the world"})
        c, body_c = srv.request("POST", "/embed", {"inputs": "the world"})
        h, _ = srv.request("GET", "/health")
        _, m = srv.request("GET", "/metrics")
        ok = (a, b, c, h) == (200, 424, 503, 503)
        ok &= json.loads(body)["error_type"] == "backend"
        ok &= json.loads(body_c)["error_type"] == "unhealthy"
        ok &= 'kiln_device_up{device="cpu:0"} 0' in m.decode()
        report("device-lost", ok, "statuses %s" % ((a, b, c, h),))
    finally:
        report("device-lost-exit", srv.stop() == 0, "exit status")


def test_failover(kiln):
    srv = Server(kiln, "--devices", "0,0", env={"KILN_FAULT_INJECT": "device:1:after:3"})
    try:
        def client(t):
            c = srv.conn()
            bad = 0
            for i in range(100):
                st, _ = srv.request("POST", "/embed", {"inputs": [sentence(t * 100 + i)]}, conn=c)
                bad += st != 200
            return bad
        with ThreadPoolExecutor(8) as ex:
            bad = sum(ex.map(client, range(8)))
        h, _ = srv.request("GET", "/health")
        _, m = srv.request("GET", "/metrics")
        ok = bad == 0 and h == 200 and 'kiln_device_up{device="cpu:1"} 0' in m.decode()
        report("failover", ok, "%d failed requests, health %d" % (bad, h))
    finally:
        report("failover-exit", srv.stop() == 0, "exit status")


def load(srv, clients, per):
    """`clients` connections sending `per` requests each; the failures."""
    def client(t):
        c = srv.conn()
        bad = 0
        for i in range(per):
            st, _ = srv.request("POST", "/embed", {"inputs": [sentence(t * per + i)]}, conn=c)
            bad += st != 200
        return bad
    with ThreadPoolExecutor(clients) as ex:
        return sum(ex.map(client, range(clients)))


def test_inject_fault(kiln):
    srv = Server(kiln, "--device", "cpu", "--devices", "0,1", "--inject-fault", "1:after:5")
    try:
        bad = load(srv, 16, 40)
        h, _ = srv.request("GET", "/health")
        _, m = srv.request("GET", "/metrics")
        _, body = srv.request("GET", "/info")
        devs = {d["name"]: d for d in json.loads(body)["devices"]}
        d1 = devs.get("cpu:1", {})
        m = m.decode()
        ok = bad == 0 and h == 200
        ok &= 'kiln_device_up{device="cpu:1"} 0' in m and 'kiln_device_up{device="cpu:0"} 1' in m
        # Its two workers' batches may both have been on it when it fell.
        ok &= any('kiln_device_failures_total{device="cpu:1"} %d' % n in m for n in (1, 2))
        ok &= d1.get("health") == "lost" and d1.get("up") is False and d1.get("failures") in (1, 2)
        ok &= d1.get("runs") == 4 and "injected fault" in d1.get("last_error", "")
        ok &= devs.get("cpu:0", {}).get("runs", 0) + 4 >= 16 * 40 // 32
        report("inject-fault", ok, "%d failed requests, health %d, devices %s" %
               (bad, h, list(devs.values())))
    finally:
        report("inject-fault-exit", srv.stop() == 0, "exit status")

    srv = Server(kiln, "--device", "cpu", "--devices", "0,1", "--inject-fault",
                 "1:after:3:recoverable:2")
    try:
        bad = load(srv, 16, 20)
        back = False
        for _ in range(200):  # the prober brings it back within ~0.2 s
            _, m = srv.request("GET", "/metrics")
            if 'kiln_device_up{device="cpu:1"} 1' in m.decode():
                back = True
                break
            time.sleep(0.05)
        _, body = srv.request("GET", "/info")
        d1 = {d["name"]: d for d in json.loads(body)["devices"]}.get("cpu:1", {})
        bad += load(srv, 4, 10)
        ok = bad == 0 and back and d1.get("failures") == 2 and "out of memory" in d1.get("last_error", "")
        report("inject-fault-recoverable", ok, "%d failed requests, back up %s, device %s" %
               (bad, back, d1))
    finally:
        report("inject-fault-recoverable-exit", srv.stop() == 0, "exit status")


def test_concurrent(srv):
    texts = [sentence(i) for i in range(64)]
    st, body = srv.request("POST", "/embed", {"inputs": texts[:32]})
    st2, body2 = srv.request("POST", "/embed", {"inputs": texts[32:]})
    want = json.loads(body) + json.loads(body2)
    wrong = []

    def client(t):
        c = srv.conn()
        for i in range(40):
            k = (t * 13 + i) % 64
            st, b = srv.request("POST", "/embed", {"inputs": texts[k]}, conn=c)
            if st != 200 or not close(json.loads(b)[0], np.array(want[k])):
                wrong.append((t, i, st))
    threads = [threading.Thread(target=client, args=(t,)) for t in range(32)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    report("concurrent", not wrong, "%d wrong answers, first %s" % (len(wrong), wrong[:1]))


def test_soak(srv, total):
    body = [json.dumps({"inputs": sentence(i)}).encode() for i in range(256)]
    threads, per = 16, -(-total // 16)
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()
    samples = []

    def client(t):
        c = srv.conn()
        ok = bad = 0
        for i in range(per):
            try:
                st, _ = srv.request("POST", "/embed", body[(t * 31 + i) % 256], conn=c)
            except (OSError, http.client.HTTPException):
                st = -1
                c = srv.conn()
            ok += st == 200
            bad += st != 200
        with lock:
            counts["ok"] += ok
            counts["bad"] += bad

    start = time.time()
    ths = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    while any(th.is_alive() for th in ths):
        samples.append((time.time() - start, srv.rss_kb()))
        time.sleep(0.25)
    for th in ths:
        th.join()
    elapsed = time.time() - start
    n = counts["ok"] + counts["bad"]
    # Warm-up: the first fifth of the run (pools, allocator arenas).
    after = [kb for t, kb in samples if t >= elapsed / 5] or [srv.rss_kb()]
    base = after[0]
    lo, hi = min(after), max(after)
    flat = lo >= base * 0.9 and hi <= base * 1.1
    print("soak: %d requests in %.1f s (%.0f/s), %d errors; RSS after warm-up %d kB, "
          "min %d, max %d, end %d" % (n, elapsed, n / elapsed, counts["bad"], base, lo, hi,
                                       srv.rss_kb()), flush=True)
    report("soak", n >= total and counts["bad"] == 0 and flat,
           "%d errors, RSS %d..%d kB from %d" % (counts["bad"], lo, hi, base))


def test_sigterm(kiln):
    srv = Server(kiln, "--max-batch-delay-us", "100000")
    log = []  # (sent, status)
    lock = threading.Lock()
    stop = threading.Event()

    def client(t):
        c = srv.conn()
        while not stop.is_set():
            sent = time.time()
            try:
                st, _ = srv.request("POST", "/embed", {"inputs": sentence(t)}, conn=c)
            except (OSError, http.client.HTTPException):
                st = None  # the server closed or refused the connection
                try:
                    c = srv.conn()
                    c.connect()
                except OSError:
                    with lock:
                        log.append((sent, st))
                    return
            with lock:
                log.append((sent, st))
    ths = [threading.Thread(target=client, args=(t,)) for t in range(16)]
    for th in ths:
        th.start()
    time.sleep(1.0)
    signalled = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        code = -1
    stop.set()
    for th in ths:
        th.join()
    before = [st for sent, st in log if sent < signalled - 0.02]
    wrong_status = [st for _, st in log if st is not None and st != 200]
    unanswered = [st for st in before if st != 200]
    late = sorted(round(signalled - sent, 3) for sent, st in log if st != 200)
    print("sigterm: %d answers, %d not answered, sent these seconds before the signal: %s" %
          (len(log) - len(late), len(late), late[:20]), flush=True)
    report("sigterm", code == 0 and before and not unanswered and not wrong_status,
           "exit %s, %d sent before the signal, %d unanswered, statuses %s" %
           (code, len(before), len(unanswered), sorted(set(map(str, wrong_status)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--soak", type=int, default=20000)
    args = ap.parse_args()
    kiln = os.path.abspath(args.kiln)
    srv = Server(kiln)
    try:
        good_vec, good_text = test_openai_and_tei(kiln, srv)
        test_errors(srv, good_text, good_vec)
        test_concurrent(srv)
        test_soak(srv, args.soak)
    finally:
        report("server-exit", srv.stop() == 0, "exit status")
    only = os.environ.get("SERVE_ONLY")
    for t in (test_overloaded, test_device_lost, test_failover, test_inject_fault,
              test_sigterm):
        if not only or only in t.__name__:
            t(kiln)
    failed = results.count(False)
    print("serve tests: %d passed, %d failed" % (results.count(True), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
