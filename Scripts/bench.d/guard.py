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
are divided by the number of requests. HAProxy (`nbthread 1`) and nginx (`master_process off`,
one worker) do the same job under the same client and are counted the same way, for the ratio
edgesplit / best peer; the pass/fail is edgesplit against its own baseline only. Cycles per
request come from `perf stat -e cycles` where the machine has hardware counters.
Loopback only; everything started is stopped.
"""
import argparse
import json
import platform
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


# The farm's persistence in edgesplit's configuration (`--persistence`): `none`, as the peers
# balance, or `source`, edgesplit's default, to count what affinity costs per request.
PERSISTENCE = "none"


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
  - {{ name: app, members: ["127.0.0.1:{member_port}"], persistence: {PERSISTENCE} }}
rules:
  - {{ name: app, public_names: [{HOST}], farm: app, forward_original_host: true }}
timeouts: {{ shutdown: 1s }}
""")
    return path


def write_haproxy_config(work, port, member_port, crt, key):
    pem = os.path.join(work, "guard.pem")  # HAProxy wants certificate and key in one file
    with open(pem, "w") as out:
        out.write(open(crt).read() + open(key).read())
    path = os.path.join(work, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(f"""global
    nbthread 1
    maxconn 100
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 300s
    timeout http-keep-alive 300s
    http-reuse always
frontend https
    bind 127.0.0.1:{port} ssl crt {pem} alpn h2,http/1.1
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    use_backend app if {{ req.hdr(host),field(1,:) -i {HOST} }}
    default_backend notfound
backend app
    server m1 127.0.0.1:{member_port}
backend notfound
    http-request return status 404
""")
    return path


def write_nginx_config(work, port, member_port, crt, key):
    path = os.path.join(work, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    ssl_protocols TLSv1.2 TLSv1.3;
    upstream app {{ server 127.0.0.1:{member_port}; keepalive 64; }}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto https;
    server {{
        listen 127.0.0.1:{port} ssl http2 default_server;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        return 404;
    }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        server_name {HOST};
        ssl_certificate {crt};
        ssl_certificate_key {key};
        location / {{ proxy_pass http://app; }}
    }}
}}
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
                    if status != 200 or length != len(BODY):
                        raise RuntimeError(f"guard: status {status} with {length} bytes from the proxy")
                    return
            chunk = self.tls.recv(65536)
            if not chunk:
                raise RuntimeError("guard: the proxy closed the connection")
            self.buffer += chunk


class H2Client:
    """HTTP/2 over TLS (ALPN h2) with h2load: each call is one connection carrying `streams`
    concurrent streams, as a browser opening a meeting page does. The connection's handshake is
    counted with its requests, so runs are long enough (2,000 requests) for it to be about 1 %."""

    def __init__(self, port, crt, streams):
        self.port, self.streams = port, streams
        self.protocol = f"h2, {streams} streams"

    def run(self, requests):
        argv = ["h2load", "-t1", "-c1", f"-m{self.streams}", f"-n{requests}",
                "--connect-to", f"127.0.0.1:{self.port}", f"https://{HOST}:{self.port}/guard"]
        out = subprocess.run(argv, capture_output=True, timeout=600).stdout.decode(errors="replace")
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
        if not done or int(done.group(2)) != requests or "Application protocol: h2" not in out:
            raise RuntimeError(f"guard: h2load did not get {requests} h2 answers:\n{out[-1500:]}")

    def close(self):
        pass


def wait_for_port(port, process, seconds, name):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"guard: {name} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"guard: {name} did not listen in time")


def callgrind_total(path):
    """The Ir total of a callgrind dump (its `totals:` or `summary:` line)."""
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError(f"guard: no totals in {path}")


# Where edgesplit's instructions go: each function's own instructions (callgrind's self cost),
# put in one component by its symbol. edgesplit is linked statically, so the libraries' Swift
# code is told apart by the module in its mangled name; the Swift runtime and libc are shared
# objects of their own.
COMPONENTS = [
    ("Swift runtime: retain/release, allocation, generic metadata, casts", lambda s, obj: "libswift" in obj),
    ("libc: malloc/free, memcpy", lambda s, obj: "libc.so" in obj or "ld-linux" in obj),
    ("BoringSSL: TLS records (AES-GCM), handshakes", lambda s, obj: re.search(r"CNIOBoringSSL|bssl|aead|gcm|aes_|sha\d|x25519|fe_|ec_", s) is not None),
    ("swift-nio-http2: frames, HPACK, stream state, flow-control buffers", lambda s, obj: "8NIOHTTP2" in s or "8NIOHPACK" in s),
    ("swift-nio-ssl: the TLS handler", lambda s, obj: "6NIOSSL" in s),
    ("swift-nio: pipeline, buffers, event loop, sockets", lambda s, obj: re.search(r"7NIOCore|8NIOPosix|13NIOEmbedded|c_nio", s) is not None),
    ("edgesplit: handlers, parsing, rules, members", lambda s, obj: re.search(r"\$s5Proxy|\$s10Forwarding|\$s12HTTP1Serving|\$s12HTTP2Serving|\$s17MemberConnections|\$s7EdgeTLS|\$s2L4|\$s11AdminServer|\$s5Admin|\$s8Steering|\$s5HTTP1|14ConnectionCore|\$s7Members|10Publishing|8Affinity|11ClientHello", s) is not None),
    ("Swift standard library code specialised in the binary", lambda s, obj: s.startswith("$s")),
]


def annotate(dump, *extra):
    r = subprocess.run(["callgrind_annotate", "--threshold=100", *extra, dump], capture_output=True, timeout=300)
    return r.stdout.decode(errors="replace")


def breakdown(dump, requests):
    """Instructions per request by component, and calls per request of malloc and of the
    socket writes, from one callgrind dump."""
    parts = {}
    for line in annotate(dump, "--inclusive=no").splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?):(.*?)(?: \[(.*)\])?$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        count, symbol, obj = int(m.group(1).replace(",", "")), m.group(3), m.group(4) or ""
        name = next((n for n, match in COMPONENTS if match(symbol, obj)), "other")
        parts[name] = parts.get(name, 0) + count
    calls = {}
    tree = annotate(dump, "--tree=caller", "--inclusive=yes").splitlines()
    for key, pattern in (("malloc", r"\*\s+\S*:malloc \["), ("writev", r"\*\s+\S*:(?:__)?writev \["),
                         ("write", r"\*\s+\S*:(?:__libc_)?write \["), ("swift_retain", r"\*\s+\S*:swift_retain \[")):
        total = 0
        for i, line in enumerate(tree):
            if re.search(pattern, line):
                j = i - 1
                while j >= 0 and " < " in tree[j]:
                    c = re.search(r"\((\d[\d,]*)x\)", tree[j])
                    total += int(c.group(1).replace(",", "")) if c else 0
                    j -= 1
        calls[key] = round(total / requests, 1)
    return {k: round(v / requests) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])}, calls


def proxy_command(name, binary, work, port, member_port, crt, key):
    """argv and extra environment of one proxy doing the guard's job, one thread."""
    if name == "edgesplit":
        config = write_config(work, port, member_port, crt, key)
        # valgrind 3.19 (Debian 12) cannot read the DWARF 5 the Swift toolchain writes: count
        # instructions on a copy without debug information (the symbol table stays).
        stripped = os.path.join(work, "edgesplit")
        subprocess.run(["objcopy", "--strip-debug", binary, stripped], check=True)
        shim = os.path.join(work, "sigsuspend-copy.so")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", shim,
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigsuspend-copy.c")], check=True)
        return [stripped, "serve", "--config", config, "--no-bpf", "--workers", "1"], {"LD_PRELOAD": shim}
    if name == "haproxy":
        return ["haproxy", "-db", "-f", write_haproxy_config(work, port, member_port, crt, key)], {}
    if name == "nginx":
        conf = write_nginx_config(work, port, member_port, crt, key)
        return ["nginx", "-p", work + "/", "-e", os.path.join(work, "nginx-error.log"), "-c", conf], {}
    raise ValueError(name)


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def measure(name, binary, work, requests, warmup, member_port, crt, key, h2_streams=0):
    """Instructions per request of one proxy under callgrind: instrumentation off at the start
    (--instr-atstart=no), `warmup` requests, instrumentation on, `warmup` more while the code is
    instrumented anew, counters zeroed, `requests` counted, dumped."""
    work = os.path.join(work, name)
    os.makedirs(work)
    port = free_port()
    argv, env = proxy_command(name, binary, work, port, member_port, crt, key)
    out = os.path.join(work, "callgrind.out")
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p"] + argv,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{name}.log"), "w"),
        start_new_session=True)
    try:
        wait_for_port(port, process, 300, name)
        control = ["callgrind_control"]
        if h2_streams:
            client = H2Client(port, crt, h2_streams)
            client.run(warmup)
            subprocess.run(control + ["--instr=on", str(process.pid)], check=True, capture_output=True)
            client.run(warmup)  # the code is instrumented anew: let it settle before counting
            subprocess.run(control + ["--zero", str(process.pid)], check=True, capture_output=True)
            client.run(requests)
            subprocess.run(control + ["--dump=guard", str(process.pid)], check=True, capture_output=True)
            version, cipher = client.protocol, "TLS 1.3 (h2load)"
        else:
            client = Client(port, crt)
            for _ in range(warmup):
                client.get()
            subprocess.run(control + ["--instr=on", str(process.pid)], check=True, capture_output=True)
            for _ in range(warmup):  # the code is instrumented anew: let it settle before counting
                client.get()
            subprocess.run(control + ["--zero", str(process.pid)], check=True, capture_output=True)
            for _ in range(requests):
                client.get()
            subprocess.run(control + ["--dump=guard", str(process.pid)], check=True, capture_output=True)
            cipher = client.tls.cipher()[0]
            version = client.tls.version()
            client.tls.close()
        dumps = [os.path.join(work, n) for n in os.listdir(work) if n.startswith("callgrind.out.")]
        dumps = [d for d in dumps if any("guard" in line for line in open(d).readlines()[:20])]
        if not dumps:
            raise RuntimeError(f"guard: callgrind wrote no dump for {name}")
        dump = max(dumps, key=os.path.getmtime)
        total = callgrind_total(dump)
        result = {"instructions_per_request": total / requests, "instructions_total": total, "tls": f"{version} {cipher}"}
        if name == "edgesplit":
            result["components"], result["calls_per_request"] = breakdown(dump, requests)
        return result
    finally:
        stop(process)


PERF_EVENTS = ["cycles", "instructions"]


def perf_counters_work():
    """`perf stat -e instructions true` counts on a machine with hardware counters; on a VM
    without them it prints <not supported>."""
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    text = r.stderr.decode(errors="replace")
    return r.returncode == 0 and re.search(r"^\d+,", text, re.M) is not None


def measure_perf(name, binary, work, requests, warmup, member_port, crt, key, events=PERF_EVENTS):
    """Counts per request of one proxy running natively (no valgrind): `perf stat -p` attached
    after the warm-up, over the counted requests only."""
    work = os.path.join(work, name + "-perf")
    os.makedirs(work)
    port = free_port()
    argv, env = proxy_command(name, binary, work, port, member_port, crt, key)
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(work, f"{name}.log"), "w"), start_new_session=True)
    try:
        wait_for_port(port, process, 60, name)
        client = Client(port, crt)
        for _ in range(2 * warmup):
            client.get()
        perf = subprocess.Popen(["perf", "stat", "-x,", "-e", ",".join(events), "-p", str(process.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # attached
        for _ in range(requests):
            client.get()
        perf.send_signal(signal.SIGINT)
        text = perf.communicate(timeout=30)[1].decode(errors="replace")
        client.tls.close()
        out = {}
        for line in text.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] in events and re.match(r"^[\d.]+$", fields[0]):
                out[fields[2] + "_per_request"] = float(fields[0]) / requests
        return out
    finally:
        stop(process)


def first_line(argv):
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        return r.stdout.decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired) as e:
        return f"? ({e})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edgesplit", required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--peers", default="haproxy,nginx",
                        help="peers counted the same way for the ratio ('none': edgesplit only)")
    parser.add_argument("--json", default=".build/bench-guard.json")
    parser.add_argument("--update", action="store_true", help="write the measured figure as the new baseline")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (callgrind dumps, logs)")
    parser.add_argument("--h2-streams", type=int, default=0,
                        help="count HTTP/2 instead: one h2load connection per run with this many concurrent "
                             "streams; compared with the baseline's `h2_instructions_per_request`")
    parser.add_argument("--persistence", choices=["none", "source"], default="none",
                        help="edgesplit's farm persistence (the baseline is counted with none; source is the default "
                             "of a configuration, to compare the two)")
    args = parser.parse_args()
    global PERSISTENCE
    PERSISTENCE = args.persistence
    if args.update and args.persistence != "none":
        parser.error("the baseline is counted with --persistence none")
    key_name = "h2_instructions_per_request" if args.h2_streams else "instructions_per_request"
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    for p in peers:
        if p not in ("haproxy", "nginx"):
            parser.error(f"unknown peer {p}")

    work = tempfile.mkdtemp(prefix="edgesplit-guard-")
    os.chmod(work, 0o755)
    member = ThreadingHTTPServer(("127.0.0.1", 0), Member)
    threading.Thread(target=member.serve_forever, daemon=True).start()
    counted, cycles = {}, {}
    perf_ok = perf_counters_work()
    try:
        crt, key = make_certificate(work)
        for name in ["edgesplit"] + peers:
            binary = args.edgesplit if name == "edgesplit" else name
            counted[name] = measure(name, binary, work, args.requests, args.warmup, member.server_address[1], crt, key,
                                    h2_streams=args.h2_streams)
            print(f"guard: {name:9s} {counted[name]['instructions_per_request']:9,.0f} instructions per proxied request "
                  f"({args.requests} requests, {counted[name]['tls']})", flush=True)
            if perf_ok and not args.h2_streams:
                cycles[name] = measure_perf(name, binary, work, args.requests, args.warmup, member.server_address[1], crt, key)
    finally:
        member.shutdown()
        if args.keep:
            print(f"guard: work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    per_request = counted["edgesplit"]["instructions_per_request"]
    print("guard: where edgesplit's instructions per request go (each function's own count):")
    for part, count in counted["edgesplit"]["components"].items():
        print(f"guard:   {count:8,d}  {100 * count / per_request:4.1f} %  {part}")
    calls = counted["edgesplit"]["calls_per_request"]
    print("guard: calls per request: " + ", ".join(f"{v:g} {k}" for k, v in calls.items()))
    report = {"started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
              "requests": args.requests, "warmup": args.warmup,
              "method": "callgrind --instr-atstart=no; callgrind_control --instr=on after the warm-up, "
                        "--zero after a second warm-up, --dump after the counted requests; Ir total / requests",
              "instructions_per_request": {k: round(v["instructions_per_request"]) for k, v in counted.items()},
              "tls": {k: v["tls"] for k, v in counted.items()},
              "edgesplit_components": counted["edgesplit"]["components"],
              "edgesplit_calls_per_request": counted["edgesplit"]["calls_per_request"],
              "versions": {"haproxy": first_line(["haproxy", "-v"]), "nginx": first_line(["nginx", "-v"]),
                           "valgrind": first_line(["valgrind", "--version"]),
                           "edgesplit_commit": first_line(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                                           "rev-parse", "--short", "HEAD"])},
              "cpu": platform.processor() or platform.machine()}
    if peers:
        best_name = min(peers, key=lambda p: counted[p]["instructions_per_request"])
        best = counted[best_name]["instructions_per_request"]
        report["best_peer"] = best_name
        report["edgesplit_over_best_peer"] = round(per_request / best, 3)
        line = ", ".join(f"{p} {counted[p]['instructions_per_request']:,.0f}" for p in peers)
        print(f"guard: peers: {line}; edgesplit / best peer ({best_name}) {per_request / best:.2f} "
              f"(issue 15 target <= 0.80)")
    if perf_ok:
        report["perf"] = {k: {e: round(v) for e, v in c.items()} for k, c in cycles.items()}
        for name, c in cycles.items():
            print(f"guard: {name:9s} " + ", ".join(f"{v:,.0f} {e.replace('_', ' ')}" for e, v in c.items())
                  + " (perf stat, native run)")
    else:
        report["perf"] = "not supported here"
        print("guard: cycles per request: not supported here (perf stat -e instructions: no hardware counters)")

    what = f"HTTP/2 stream ({args.h2_streams} concurrent)" if args.h2_streams else "request"
    print(f"guard: {per_request:,.0f} instructions per proxied {what} for edgesplit ({args.requests} requests)")
    status = 0
    with open(args.baseline) as f:
        recorded = json.load(f)
    if args.update:
        # The HTTP/1.1 and HTTP/2 figures share the file; an update writes its own key only.
        recorded[key_name] = round(per_request)
        if args.h2_streams:
            recorded["h2_streams"] = args.h2_streams
        else:
            recorded.update({"requests": args.requests, "warmup": args.warmup})
        recorded["measured" if not args.h2_streams else "h2_measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        with open(args.baseline, "w") as f:
            json.dump(recorded, f, indent=2)
            f.write("\n")
        print(f"guard: baseline written to {args.baseline}")
        report["baseline_updated"] = True
    elif key_name not in recorded:
        print(f"guard: no {key_name} in {args.baseline} yet (write one with --update)")
    else:
        baseline = recorded[key_name]
        ratio = per_request / baseline
        print(f"guard: baseline {baseline:,.0f}; ratio {ratio:.3f} (fails above {1 + args.tolerance:.2f})")
        report.update({"baseline": baseline, "ratio_to_baseline": round(ratio, 4), "tolerance": args.tolerance,
                       "pass": ratio <= 1 + args.tolerance})
        if ratio > 1 + args.tolerance:
            print("guard: FAIL: more instructions per request than the baseline allows", file=sys.stderr)
            status = 1
        else:
            print("guard: ok")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"guard: JSON: {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
