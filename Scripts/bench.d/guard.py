#!/usr/bin/env python3
"""Instructions per proxied request, counted by callgrind, against a committed baseline.

Wall-clock figures on a shared machine move by tens of percent from one run to the next;
instruction counts do not (callgrind counts the same total for the same binary and inputs
whatever else the machine is doing). So this guard measures a fixed small workload in
instructions and fails when edgesplit needs more than `tolerance` above the baseline:

  edgesplit (release, one worker, under callgrind) ── TLS 1.3, ECDSA P-256, keep-alive
     ▲                                                 │
  client: one connection, one request at a time        ▼
  (GET of 64 bytes, Host routed by a rule)          member: HTTP/1.1 keep-alive, 64-byte body

Only instructions executed between the end of the warm-up and the last response count; they
are divided by the number of requests. Loopback only; everything started is stopped.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"x" * 64
HOST = "app.guard.test"


class Member(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(work):
    key, crt = os.path.join(work, "guard.key"), os.path.join(work, "guard.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}"], check=True, capture_output=True)
    return crt, key


def write_config(work, port, member_port, crt, key):
    path = os.path.join(work, "edgesplit.yaml")
    with open(path, "w") as f:
        f.write(f"""instance: guard-{os.getpid()}
workers: 1
listeners:
  - name: https
    address: 127.0.0.1
    port: {port}
    tls: {{ certificates: [ {{ cert: {crt}, key: {key} }} ] }}
farms:
  - {{ name: app, members: ["127.0.0.1:{member_port}"], persistence: none }}
rules:
  - {{ name: app, public_names: [{HOST}], farm: app, forward_original_host: true }}
timeouts: {{ shutdown: 1s }}
""")
    return path


class Client:
    """One TLS keep-alive connection sending one request at a time, as a browser would."""

    def __init__(self, port, crt):
        context = ssl.create_default_context(cafile=crt)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        raw = socket.create_connection(("127.0.0.1", port), timeout=120)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = context.wrap_socket(raw, server_hostname=HOST)
        self.request = (f"GET /guard HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: edgesplit-guard\r\n"
                        "Accept: */*\r\n\r\n").encode()
        self.buffer = b""

    def get(self):
        self.tls.sendall(self.request)
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buffer[:end].decode("latin-1")
                length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1))
                if len(self.buffer) >= end + 4 + length:
                    status = int(head.split(" ", 2)[1])
                    self.buffer = self.buffer[end + 4 + length:]
                    if status != 200:
                        raise RuntimeError(f"guard: status {status} from edgesplit")
                    return
            chunk = self.tls.recv(65536)
            if not chunk:
                raise RuntimeError("guard: edgesplit closed the connection")
            self.buffer += chunk


def wait_for_port(port, process, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"guard: edgesplit exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("guard: edgesplit did not listen in time")


def callgrind_total(path):
    """The Ir total of a callgrind dump (its `totals:` or `summary:` line)."""
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError(f"guard: no totals in {path}")


def measure(edgesplit, work, requests, warmup):
    member = ThreadingHTTPServer(("127.0.0.1", 0), Member)
    threading.Thread(target=member.serve_forever, daemon=True).start()
    crt, key = make_certificate(work)
    port = free_port()
    config = write_config(work, port, member.server_address[1], crt, key)
    out = os.path.join(work, "callgrind.out")
    # valgrind 3.19 (Debian 12) cannot read the DWARF 5 the Swift toolchain writes: count
    # instructions on a copy without debug information (the symbol table stays).
    stripped = os.path.join(work, "edgesplit")
    subprocess.run(["objcopy", "--strip-debug", edgesplit, stripped], check=True)
    shim = os.path.join(work, "sigsuspend-copy.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", shim,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigsuspend-copy.c")], check=True)
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
         stripped, "serve", "--config", config, "--no-bpf", "--workers", "1"],
        env={**os.environ, "LD_PRELOAD": shim},
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "edgesplit.log"), "w"),
        start_new_session=True)
    try:
        wait_for_port(port, process, 300)
        client = Client(port, crt)
        for _ in range(warmup):
            client.get()
        control = ["callgrind_control"]
        subprocess.run(control + ["--instr=on", str(process.pid)], check=True, capture_output=True)
        for _ in range(warmup):  # the code is instrumented anew: let it settle before counting
            client.get()
        subprocess.run(control + ["--zero", str(process.pid)], check=True, capture_output=True)
        for _ in range(requests):
            client.get()
        subprocess.run(control + ["--dump=guard", str(process.pid)], check=True, capture_output=True)
        client.tls.close()
        dumps = [os.path.join(work, n) for n in os.listdir(work) if n.startswith("callgrind.out.")]
        dumps = [d for d in dumps if any("guard" in line for line in open(d).readlines()[:20])]
        if not dumps:
            raise RuntimeError("guard: callgrind wrote no dump")
        return callgrind_total(max(dumps, key=os.path.getmtime)) / requests
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        member.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edgesplit", required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--update", action="store_true", help="write the measured figure as the new baseline")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (callgrind dumps, log)")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="edgesplit-guard-")
    try:
        per_request = measure(args.edgesplit, work, args.requests, args.warmup)
    finally:
        if args.keep:
            print(f"guard: work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"guard: {per_request:,.0f} instructions per proxied request ({args.requests} requests)")
    if args.update:
        with open(args.baseline, "w") as f:
            json.dump({"instructions_per_request": round(per_request),
                       "requests": args.requests, "warmup": args.warmup,
                       "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, f, indent=2)
            f.write("\n")
        print(f"guard: baseline written to {args.baseline}")
        return 0
    with open(args.baseline) as f:
        baseline = json.load(f)["instructions_per_request"]
    ratio = per_request / baseline
    print(f"guard: baseline {baseline:,.0f}; ratio {ratio:.3f} (fails above {1 + args.tolerance:.2f})")
    if ratio > 1 + args.tolerance:
        print("guard: FAIL: more instructions per request than the baseline allows", file=sys.stderr)
        return 1
    print("guard: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
