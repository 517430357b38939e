#!/usr/bin/env python3
"""A steady load against a live edgesplit for a long time (driven by `Scripts/soak`).

The stack is the benchmark's (Scripts/bench.d): edgesplit with its own configuration and
instance name, in front of a backend nginx, both on loopback. Clients keep a fixed request
rate over TLS keep-alive connections and open a new connection every --per-connection
requests, alternating the plain and the re-encrypting rule and the ECDSA and RSA listeners.
Every --interval seconds the edgesplit process's open fds, RSS and that window's request
latency (p50, p99) are recorded.

Verdict: the first --warmup seconds are not judged (TLS session caches, pools and the
allocator fill up). Of the samples after it, the baseline is the median of the first
`k` samples and the end value the median of the last `k` (k = 6, i.e. one minute, or a third
of the judged samples when the run is shorter). The run fails when fds, RSS or p50 latency
end more than 5 % above their baseline (latency also needs to be 0.5 ms higher: below that a
difference is scheduling noise on a shared machine), or when any request failed.
"""
import argparse
import json
import os
import socket
import ssl
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench.d"))
import proxies  # noqa: E402  (the benchmark's stack: certificates, backend, process control)
import shutil  # noqa: E402

GROWTH_LIMIT = 0.05
LATENCY_FLOOR_MS = 0.5


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


class Load:
    """Fixed-rate HTTPS clients; latencies and failures per sampling window."""

    def __init__(self, targets, rate, threads, per_connection):
        self.targets, self.rate, self.threads, self.per_connection = targets, rate, threads, per_connection
        self.lock = threading.Lock()
        self.latencies, self.failures, self.total, self.total_failed = [], [], 0, 0
        self.stop = threading.Event()
        self.ctx = ssl._create_unverified_context()

    def take_window(self):
        with self.lock:
            latencies, failures = self.latencies, self.failures
            self.latencies, self.failures = [], []
        return latencies, failures

    def _request(self, conn, host, path):
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response head")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:
            raise ConnectionError("no Content-Length in the response")
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the body")
            body += chunk
        if status != 200:
            raise ConnectionError(f"status {status}")

    def _client(self, index):
        interval = self.threads / self.rate
        next_at = time.monotonic() + index * interval / self.threads
        sent = 0
        while not self.stop.is_set():
            target = self.targets[(index + sent // self.per_connection) % len(self.targets)]
            port, host = target
            conn = None
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=10)
                conn = self.ctx.wrap_socket(raw, server_hostname=host)
                for _ in range(self.per_connection):
                    if self.stop.is_set():
                        break
                    now = time.monotonic()
                    if next_at > now:
                        time.sleep(next_at - now)
                    next_at += interval
                    started = time.monotonic()
                    try:
                        self._request(conn, host, "/small")
                    except (OSError, ValueError, IndexError) as error:
                        with self.lock:
                            self.failures.append(str(error))
                            self.total_failed += 1
                        break
                    finally:
                        sent += 1
                    with self.lock:
                        self.latencies.append((time.monotonic() - started) * 1000)
                        self.total += 1
            except OSError as error:
                with self.lock:
                    self.failures.append(f"connect: {error}")
                    self.total_failed += 1
                sent += 1
                time.sleep(interval)
            finally:
                if conn is not None:
                    conn.close()

    def start(self):
        self.workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.threads)]
        for w in self.workers:
            w.start()

    def finish(self):
        self.stop.set()
        for w in self.workers:
            w.join(timeout=15)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def judge(samples, warmup):
    judged = [s for s in samples if s["t"] > warmup]
    if len(judged) < 2:
        return [], ["too few samples after the warm-up to judge growth (run longer)"]
    k = max(1, min(6, len(judged) // 3))
    rows, failures = [], []
    for key, floor in (("fds", 0), ("rss_kib", 0), ("p50_ms", LATENCY_FLOOR_MS)):
        base = round(statistics.median(s[key] for s in judged[:k]), 3)
        end = round(statistics.median(s[key] for s in judged[-k:]), 3)
        growth = (end - base) / base if base else 0.0
        bad = growth > GROWTH_LIMIT and end - base > floor
        rows.append({"metric": key, "baseline": base, "end": end, "growth_pct": round(100 * growth, 2), "ok": not bad})
        if bad:
            failures.append(f"{key} grew {100 * growth:.1f} % ({base} -> {end})")
    return rows, failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgesplit", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=None, help="seconds not judged (default: 2 minutes, or 20 %% of a shorter run)")
    ap.add_argument("--rate", type=float, default=200, help="requests per second, all clients together")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-connection", type=int, default=50, help="requests per client connection")
    ap.add_argument("--json", default=".build/soak.json")
    a = ap.parse_args()
    duration = a.minutes * 60
    warmup = a.warmup if a.warmup is not None else min(120.0, 0.2 * duration)

    work, _ = proxies.begin("edgesplit-soak-")
    try:
        proxies.prepare(work)
        targets, _ = proxies.start_stack(work, a.edgesplit, ["edgesplit"])
        edge = targets[0]
        pid = edge["pid"]
        load = Load([(edge["ecdsa_port"], proxies.APP), (edge["rsa_port"], proxies.REENC),
                     (edge["ecdsa_port"], proxies.REENC), (edge["rsa_port"], proxies.APP)],
                    a.rate, a.threads, a.per_connection)
        log(f"edgesplit pid {pid}: {a.rate:g} req/s over {a.threads} clients, a new TLS connection every "
            f"{a.per_connection} requests, for {a.minutes:g} min; warm-up {warmup:g} s; sample every {a.interval:g} s")
        print(f"{'t_s':>6} {'fds':>5} {'rss_kib':>8} {'req':>6} {'failed':>6} {'p50_ms':>7} {'p99_ms':>7}", flush=True)
        load.start()
        started = time.monotonic()
        samples = []
        while True:
            time.sleep(max(0.0, started + (len(samples) + 1) * a.interval - time.monotonic()))
            if edge["proc"].poll() is not None:
                raise proxies.BenchError(f"edgesplit exited with {edge['proc'].returncode} during the soak")
            latencies, failures = load.take_window()
            s = {"t": round(time.monotonic() - started, 1), "fds": fd_count(pid), "rss_kib": proxies.rss_kib(pid),
                 "requests": len(latencies), "failed": len(failures),
                 "p50_ms": round(percentile(latencies, 50) or 0, 3), "p99_ms": round(percentile(latencies, 99) or 0, 3)}
            samples.append(s)
            print(f"{s['t']:>6} {s['fds']:>5} {s['rss_kib']:>8} {s['requests']:>6} {s['failed']:>6} "
                  f"{s['p50_ms']:>7} {s['p99_ms']:>7}", flush=True)
            for f in failures[:3]:
                log(f"failed request: {f}")
            if s["t"] >= duration:
                break
        load.finish()
        rows, failures = judge(samples, warmup)
        if load.total_failed:
            failures.append(f"{load.total_failed} of {load.total + load.total_failed} requests failed")
        for r in rows:
            print(f"{r['metric']:>8}: baseline {r['baseline']}, end {r['end']}, growth {r['growth_pct']} % "
                  f"{'ok' if r['ok'] else 'TOO MUCH'}")
        print(f"requests: {load.total} ok, {load.total_failed} failed")
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"minutes": a.minutes, "rate": a.rate, "warmup_s": warmup, "samples": samples,
                       "verdict": rows, "failures": failures, "requests_ok": load.total,
                       "requests_failed": load.total_failed}, f, indent=1)
        if failures:
            print("soak: FAILED: " + "; ".join(failures))
            return 1
        print(f"soak: passed (JSON: {a.json})")
        return 0
    finally:
        proxies.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
