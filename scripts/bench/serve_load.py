#!/usr/bin/env python3
"""Load generator for `kiln serve`: keeps N connections busy, reports rates and latency.

    kiln serve model.kiln --device gpu --port 8080 &
    python3 scripts/bench/serve_load.py --url http://127.0.0.1:8080 \
        --connections 1,8,32,64 --duration 20 [--batch 1] [--api tei|openai] \
        [--json out.json]

Standard library only (the GPU machine has no pip). For each N in
--connections it opens N keep-alive HTTP/1.1 connections, spread over
worker processes (so that Python's GIL does not cap the client), and each
connection sends the next request as soon as the last one is answered
(a closed loop, as wrk and oha do), for --duration seconds after --warmup
seconds. Every request carries --batch sentences drawn from a fixed pool
whose token counts (special tokens included) are spread evenly over
--min-tokens..--max-tokens (8..128): the pool is measured once through the
OpenAI endpoint's usage.prompt_tokens, so the lengths are the server's own.

Per N it prints requests/s, sentences/s, tokens/s, errors and the p50, p95,
p99 and max latency in milliseconds; --json writes the same as a list.
A request counts as an error when its status is not 200 or its body does not
hold --batch vectors; errors are reported, not retried.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import sys
import time
from urllib.parse import urlparse

# Words that BERT's uncased WordPiece vocabulary holds whole: about one token each.
WORDS = ("the of and to in is was for on that with as by at from his her it "
         "an were are which this be or has had not but one their they all two "
         "new first after also who more other its time can been when into year "
         "there world people city state school music made work life could over "
         "may house game water family film book team day night small great good "
         "long old high light place home house river road war party church art "
         "man woman child country number power market group line name system "
         "design model language table computer window garden morning evening "
         "summer winter station village island forest mountain beach street").split()


def parse_url(url):
    u = urlparse(url)
    return u.hostname or "127.0.0.1", u.port or 80


def post(conn, path, body):
    data = json.dumps(body).encode()
    conn.request("POST", path, body=data,
                 headers={"Content-Type": "application/json", "Connection": "keep-alive"})
    r = conn.getresponse()
    return r.status, r.read()


def count_tokens(host, port, texts):
    """Token counts (special tokens included) of each text, from the server."""
    c = http.client.HTTPConnection(host, port, timeout=60)
    counts = []
    for t in texts:
        st, body = post(c, "/v1/embeddings", {"input": t, "model": "m"})
        if st != 200:
            raise SystemExit("cannot measure token counts: %d %s" % (st, body[:200]))
        counts.append(json.loads(body)["usage"]["prompt_tokens"])
    c.close()
    return counts


def make_pool(host, port, size, lo, hi, seed):
    """`size` sentences whose token counts are spread evenly over [lo, hi]."""
    rng = random.Random(seed)
    targets = [lo + (hi - lo) * i // max(size - 1, 1) for i in range(size)]
    texts = []
    for t in targets:
        words = max(t - 2, 1)  # [CLS] and [SEP]
        texts.append(" ".join(rng.choice(WORDS) for _ in range(words)))
    words = [t.split() for t in texts]
    counts = count_tokens(host, port, texts)
    # A word may be several tokens: move each text towards its target a few
    # times, by the words its tokens-per-word ratio says, and remeasure.
    for _ in range(4):
        for i, (want, got) in enumerate(zip(targets, counts)):
            per_word = max((got - 2) / max(len(words[i]), 1), 1.0)
            step = int(round(abs(want - got) / per_word)) or (1 if want != got else 0)
            if got > want:
                words[i] = words[i][:max(1, len(words[i]) - step)]
            elif got < want:
                words[i] += [rng.choice(WORDS) for _ in range(step)]
        fixed = [" ".join(w) for w in words]
        counts = count_tokens(host, port, fixed)
        if counts == targets:
            break
    pool = [(t, n) for t, n in zip(fixed, counts) if lo <= n <= hi]
    if not pool:
        raise SystemExit("no sentence of %d..%d tokens" % (lo, hi))
    return pool


def worker(args):
    """One process: `conns` connections in threads, until `stop_at`."""
    import threading
    host, port, path, api, conns, batch, pool, start_at, stop_at, seed = args
    lock = threading.Lock()
    lat, sentences, tokens, errors = [], [0], [0], [0]

    def body_for(rng):
        picks = [pool[rng.randrange(len(pool))] for _ in range(batch)]
        texts = [p[0] for p in picks]
        if api == "tei":
            return {"inputs": texts}, sum(p[1] for p in picks)
        return {"input": texts, "model": "m"}, sum(p[1] for p in picks)

    def ok_answer(st, body):
        if st != 200:
            return False
        try:
            v = json.loads(body)
        except ValueError:
            return False
        rows = v if api == "tei" else v.get("data", [])
        return len(rows) == batch

    def loop(k):
        rng = random.Random(seed * 1000 + k)
        c = http.client.HTTPConnection(host, port, timeout=60)
        my_lat, my_sent, my_tok, my_err = [], 0, 0, 0
        while True:
            now = time.time()
            if now >= stop_at:
                break
            body, ntok = body_for(rng)
            t0 = time.perf_counter()
            try:
                st, payload = post(c, path, body)
                good = ok_answer(st, payload)
            except (OSError, http.client.HTTPException):
                good = False
                c.close()
                c = http.client.HTTPConnection(host, port, timeout=60)
            dt = time.perf_counter() - t0
            if now < start_at:
                continue  # warm-up
            if good:
                my_lat.append(dt)
                my_sent += batch
                my_tok += ntok
            else:
                my_err += 1
        c.close()
        with lock:
            lat.extend(my_lat)
            sentences[0] += my_sent
            tokens[0] += my_tok
            errors[0] += my_err

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, sentences[0], tokens[0], errors[0]


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def run_level(a, host, port, pool, n, seed):
    procs = max(1, min(n, a.processes))
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    path = "/embed" if a.api == "tei" else "/v1/embeddings"
    start_at = time.time() + 0.5 + a.warmup
    stop_at = start_at + a.duration
    jobs = [(host, port, path, a.api, c, a.batch, pool, start_at, stop_at, seed + i)
            for i, c in enumerate(per) if c]
    with mp.Pool(len(jobs)) as p:
        parts = p.map(worker, jobs)
    lat = sorted(x for part in parts for x in part[0])
    sent = sum(p[1] for p in parts)
    tok = sum(p[2] for p in parts)
    err = sum(p[3] for p in parts)
    ms = lambda s: round(s * 1000.0, 3)
    return {
        "connections": n, "duration_s": a.duration, "batch": a.batch, "api": a.api,
        "requests": len(lat), "errors": err,
        "requests_per_s": round(len(lat) / a.duration, 1),
        "sentences_per_s": round(sent / a.duration, 1),
        "tokens_per_s": round(tok / a.duration, 1),
        "p50_ms": ms(percentile(lat, 50)), "p95_ms": ms(percentile(lat, 95)),
        "p99_ms": ms(percentile(lat, 99)), "max_ms": ms(lat[-1]) if lat else float("nan"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--connections", default="1,8,32,64",
                    help="comma-separated numbers of concurrent connections")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds measured per level")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds not measured per level")
    ap.add_argument("--batch", type=int, default=1, help="sentences per request")
    ap.add_argument("--api", choices=("tei", "openai"), default="tei")
    ap.add_argument("--min-tokens", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--pool", type=int, default=256, help="distinct sentences")
    ap.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                    help="client processes (threads are spread over them)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()

    host, port = parse_url(a.url)
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", "/info")
    info = json.loads(c.getresponse().read())
    c.close()
    pool = make_pool(host, port, a.pool, a.min_tokens, a.max_tokens, a.seed)
    lens = sorted(n for _, n in pool)
    print("server: %s %s devices %s" % (info.get("model_id"), info.get("model_dtype"),
                                        [d.get("name") for d in info.get("devices", [])]))
    print("sentences: %d, tokens %d..%d (median %d), %d per request, %s API, %d client processes"
          % (len(pool), lens[0], lens[-1], lens[len(lens) // 2], a.batch, a.api, a.processes))
    print("%5s %9s %10s %11s %11s %7s %8s %8s %8s %8s" % (
        "conns", "requests", "req/s", "sentences/s", "tokens/s", "errors",
        "p50 ms", "p95 ms", "p99 ms", "max ms"))
    results = []
    for n in [int(x) for x in a.connections.split(",") if x.strip()]:
        r = run_level(a, host, port, pool, n, a.seed)
        results.append(r)
        print("%5d %9d %10.1f %11.1f %11.1f %7d %8.2f %8.2f %8.2f %8.2f" % (
            n, r["requests"], r["requests_per_s"], r["sentences_per_s"], r["tokens_per_s"],
            r["errors"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"server": info, "results": results}, f, indent=1)
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
