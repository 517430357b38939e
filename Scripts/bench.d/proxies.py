#!/usr/bin/env python3
"""edgesplit vs HAProxy vs nginx on one machine, one run (driven by `Scripts/bench proxy`).

Every proxy does the same job: TLS termination with the same certificate, route by Host,
forward the original Host, add X-Forwarded-For and X-Forwarded-Proto, keep-alive to the
member (plain HTTP, or HTTPS re-encryption verified against the bench CA). One worker each,
pinned to CPU 1; the load generators and the backend nginx on CPU 0. Loopback only.
"""
import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_CPU, LOAD_CPU = "1", "0"
PROXIES = ["haproxy", "nginx", "edgesplit"]
PEERS = ["haproxy", "nginx"]
APP, REENC, UNKNOWN = "app.bench.test", "tls.bench.test", "nope.bench.test"
BACKEND_NAME = "backend.bench.test"
HZ = os.sysconf("SC_CLK_TCK")
BIG = 1 << 20
children = []  # Popen objects, stopped in reverse order


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _pdeathsig():
    # The proxies die with this script even when it is killed outright.
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgid(0, 0)


def spawn(name, argv, cpu, logdir, env=None):
    out = open(os.path.join(logdir, f"{name}.log"), "wb")
    p = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig, env=env)
    p.bench_name = name
    children.append(p)
    return p


def stop_all():
    for p in reversed(children):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 5
    for p in reversed(children):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    children.clear()


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port, proc, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.bench_name} exited with {proc.returncode} before listening (see its log)")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{proc.bench_name} is not listening on {port} after {seconds}s")


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw).stdout.decode()


# ---------------------------------------------------------------- /proc accounting

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_stat():
    """Busy and steal ticks per CPU from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d", line):
                v = [int(x) for x in line.split()[1:]]
                # user nice system steal: irq and softirq are left out because they are largely
                # the proxy's own network work (loopback softirq in the idle task or ksoftirqd).
                busy = v[0] + v[1] + v[2] + v[7]
                out[line.split()[0]] = (busy, v[7])
    return out


class Meter:
    """Proxy CPU, backend CPU, load-generator CPU (waited children) and per-CPU busy time."""

    def __init__(self, proxy_pid, backend_pid):
        self.proxy_pid, self.backend_pid = proxy_pid, backend_pid

    def __enter__(self):
        self.t0 = time.monotonic()
        self.p0 = cpu_ticks(self.proxy_pid)
        self.b0 = cpu_ticks(self.backend_pid)
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.c0 = r.ru_utime + r.ru_stime
        self.s0 = cpu_stat()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.proxy_s = (cpu_ticks(self.proxy_pid) - self.p0) / HZ
        self.backend_s = (cpu_ticks(self.backend_pid) - self.b0) / HZ
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.client_s = r.ru_utime + r.ru_stime - self.c0
        s1 = cpu_stat()
        self.cpu_busy = {k: (s1[k][0] - self.s0[k][0]) / HZ for k in s1}
        self.steal = sum(s1[k][1] - self.s0[k][1] for k in s1) / HZ
        return False

    def summary(self):
        cpu1 = self.cpu_busy.get("cpu" + PROXY_CPU, 0.0)
        total = sum(self.cpu_busy.values())
        return {
            "wall_s": round(self.wall, 3),
            "proxy_cpu_s": round(self.proxy_s, 3),
            "proxy_busy_pct": round(100 * self.proxy_s / self.wall, 1),
            "client_cpu_s": round(self.client_s, 3),
            "backend_cpu_s": round(self.backend_s, 3),
            # CPU time on CPU1 not spent by the proxy, and on the machine not spent by the three
            # processes of the run: others' load (irq and softirq time not counted, see cpu_stat).
            "other_cpu1_pct": round(100 * max(0.0, cpu1 - self.proxy_s) / self.wall, 1),
            "unaccounted_pct": round(100 * max(0.0, total - self.proxy_s - self.client_s - self.backend_s) / self.wall, 1),
            "steal_s": round(self.steal, 3),
        }


# ---------------------------------------------------------------- setup

def make_certs(d):
    def ossl(*a):
        run(["openssl", *a])

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=edgesplit bench CA", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")

    def leaf(name, keyargs, sans):
        ossl("req", "-new", "-newkey", *keyargs, "-nodes", "-subj", f"/CN={sans[0]}",
             "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")
        ext = f"{d}/{name}.ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join(("IP:" if s[0].isdigit() else "DNS:") + s for s in sans) + "\n")
            f.write("extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        ossl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", f"{d}/{name}.crt")
        with open(f"{d}/{name}.pem", "w") as out:  # HAProxy wants certificate and key in one file
            out.write(open(f"{d}/{name}.crt").read() + open(f"{d}/{name}.key").read())

    names = [APP, REENC, "*.bench.test"]
    leaf("ecdsa", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], names)
    leaf("rsa", ["rsa:2048"], names)
    leaf("backend", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], [BACKEND_NAME, "127.0.0.1"])


def render(template, path, **values):
    with open(os.path.join(HERE, template)) as f:
        text = f.read()
    for k, v in values.items():
        text = text.replace("@" + k + "@", str(v))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise BenchError(f"{template}: unfilled {left}")
    with open(path, "w") as f:
        f.write(text)
    return path


def nginx_worker(master_pid, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
                if int(rest[1]) == master_pid:
                    return int(pid)
            except OSError:
                continue
        time.sleep(0.1)
    raise BenchError(f"no nginx worker under {master_pid}")


def https_get(port, host, path, cafile=None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLEOFError, ConnectionResetError):
                    break
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def check_job(name, port):
    """The same job everywhere: Host-routed, original Host, X-Forwarded-For/Proto, 404 otherwise."""
    for host in (APP, REENC):
        status, body = https_get(port, host, "/echo")
        text = body.decode(errors="replace").strip()
        want = f"host={host} xff=127.0.0.1 proto=https"
        if status != 200 or text != want:
            raise BenchError(f"{name}: GET /echo for {host} gave {status} {text!r}, expected 200 {want!r}")
    status, body = https_get(port, APP, "/small")
    if status != 200 or len(body) != 64:
        raise BenchError(f"{name}: GET /small gave {status} with {len(body)} bytes")
    status, _ = https_get(port, UNKNOWN, "/small")
    if status != 404:
        raise BenchError(f"{name}: unknown Host gave {status}, expected 404")


def h2_get(port, host, path):
    """One GET over TLS with ALPN h2 (curl, SNI and :authority = host): status, protocol, body."""
    with tempfile.NamedTemporaryFile() as body:
        out = run(["curl", "-sS", "-k", "--http2", "--max-time", "20", "--connect-to", f"{host}:443:127.0.0.1:{port}",
                   "-o", body.name, "-w", "%{http_code} %{http_version}", f"https://{host}{path}"]).split()
        return int(out[0]), out[1], open(body.name, "rb").read()


def check_h2(name, port):
    """The same job over HTTP/2: ALPN h2, Host from :authority, X-Forwarded-*, both body sizes."""
    status, proto, body = h2_get(port, APP, "/echo")
    want = f"host={APP} xff=127.0.0.1 proto=https"
    if status != 200 or proto != "2" or body.decode(errors="replace").strip() != want:
        raise BenchError(f"{name}: h2 GET /echo gave {status} over HTTP/{proto} {body[:80]!r}, expected 200 over HTTP/2 {want!r}")
    for path, size in (("/small", 64), ("/big", BIG)):
        status, proto, body = h2_get(port, APP, path)
        if status != 200 or proto != "2" or len(body) != size:
            raise BenchError(f"{name}: h2 GET {path} gave {status} over HTTP/{proto} with {len(body)} bytes, expected 200 with {size}")


# ---------------------------------------------------------------- load generators

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk(port, host, path, conns, seconds):
    out = run(["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
               "-H", f"Host: {host}", f"https://127.0.0.1:{port}{path}"], timeout=seconds + 30)
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not m:
        raise BenchError("unexpected wrk output:\n" + out)
    res = {"requests": int(m.group(1)), "seconds": float(m.group(2)) * UNIT[m.group(3)] / 1e3}
    res["per_second"] = res["requests"] / res["seconds"]
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)", out, re.M)
        res[f"p{pct}_ms"] = float(m.group(1)) * UNIT[m.group(2)] if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(map(int, m.groups())) if m else 0
    return res


def tls_conns(client, port, seconds, threads, version):
    out = run(["taskset", "-c", LOAD_CPU, client, "conn", "127.0.0.1", str(port), str(seconds), str(threads),
               APP, "/small", version], timeout=seconds + 30)
    return json.loads(out.strip().splitlines()[-1])


def h2load(port, host, path, conns, streams, requests, size, timeout):
    """h2load over TLS (ALPN h2, SNI and :authority = host), `requests` GETs spread over `conns`
    connections with up to `streams` streams open on each; every request started completes, so
    the proxy's CPU over the run is all theirs (and 10 handshakes')."""
    argv = ["taskset", "-c", LOAD_CPU, "h2load", "-t1", f"-c{conns}", f"-m{streams}", f"-n{requests}",
            f"--connect-to=127.0.0.1:{port}", f"https://{host}{path}"]
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout).stdout.decode()
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        log(f"  h2load did not finish within {timeout:.0f} s")
        return {"requests": 0, "seconds": float(timeout), "per_second": 0.0, "failures": requests,
                "failure_kinds": {"timeout": requests}, "protocol": None}
    res = {"protocol": None}
    m = re.search(r"Application protocol: (\S+)", out)
    res["protocol"] = m.group(1) if m else None
    m = re.search(r"finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s", out)
    m2 = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    m3 = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    m4 = re.search(r"traffic: .*\((\d+)\) data", out)
    if not (m and m2 and m3 and m4):
        log("  unexpected h2load output:\n" + out[-2000:])
        return {"requests": 0, "seconds": 0.0, "per_second": 0.0, "failures": requests,
                "failure_kinds": {"unparsed_output": requests}, "protocol": res["protocol"]}
    total, started, done, ok, failed, errored, timedout = map(int, m2.groups())
    s2xx, s3xx, s4xx, s5xx = map(int, m3.groups())
    data = int(m4.group(1))
    res["seconds"] = float(m.group(1)) * UNIT[m.group(2)] / 1e3
    res["requests"] = ok
    res["per_second"] = float(m.group(3))
    kinds = {"not_done": total - done, "failed": failed, "errored": errored, "timeout": timedout,
             "non_2xx": s3xx + s4xx + s5xx,
             # every successful response carries exactly the body: 64 B or 1 MiB
             "body_size_mismatch": -(-(ok * size - data) // size) if data < ok * size else int(data > ok * size),
             "not_h2": requests if res["protocol"] != "h2" else 0}
    res["failure_kinds"] = {k: v for k, v in kinds.items() if v}
    res["failures"] = sum(res["failure_kinds"].values())
    res["data_bytes"] = data
    m = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)
    res["mean_ms"] = float(m.group(5)) * UNIT[m.group(6)] if m else None
    return res


# ---------------------------------------------------------------- workloads

def measure(target, backend_pid, fn):
    with Meter(target["pid"], backend_pid) as m:
        res = fn()
    res.update(m.summary())
    return res


def wl_keepalive(host, path, conns):
    def go(t, client, seconds, backend_pid):
        r = measure(t, backend_pid, lambda: wrk(t["ecdsa_port"], host, path, conns, seconds))
        r["proxy_cpu_us_per_req"] = 1e6 * r["proxy_cpu_s"] / max(1, r["requests"])
        r["mb_per_s"] = r["per_second"] * (BIG if path == "/big" else 64) / 1e6
        if r["non_2xx"] or r["socket_errors"]:
            log(f"  warning: {t['name']}: {r['non_2xx']} non-2xx, {r['socket_errors']} socket errors")
        return r
    return go


def wl_handshake(cert, threads, version="1.3"):
    def go(t, client, seconds, backend_pid):
        r = measure(t, backend_pid, lambda: tls_conns(client, t[cert + "_port"], seconds, threads, version))
        n = max(1, r["connections"])
        r["proxy_cpu_us_per_conn"] = 1e6 * r["proxy_cpu_s"] / n
        r["client_cpu_us_per_conn"] = 1e6 * r["client_cpu_s"] / n
        # What one fully busy proxy CPU would sustain at the measured cost.
        r["conn_per_proxy_cpu_s"] = n / r["proxy_cpu_s"] if r["proxy_cpu_s"] > 0 else 0
        if r["resumed"] or r["failed"] or r["non_200"]:
            log(f"  warning: {t['name']}: {r['resumed']} resumed, {r['failed']} failed, {r['non_200']} non-200")
        return r
    return go


def wl_h2(host, path, conns, streams):
    """HTTP/2 GETs with h2load. The request count is set from the proxy's previous run (the
    warm-up's first) so that a run lasts about `seconds`."""
    size = BIG if path == "/big" else 64
    unit = conns * streams
    rate = {}  # proxy -> requests/s of its last run

    def go(t, client, seconds, backend_pid):
        first = 2 if size == BIG else 20  # requests per stream slot in a proxy's very first run
        n = unit * max(2, round(rate[t["name"]] * seconds / unit)) if t["name"] in rate else unit * first
        timeout = max(60.0, 20 * seconds)
        r = measure(t, backend_pid, lambda: h2load(t["ecdsa_port"], host, path, conns, streams, n, size, timeout))
        r["requests_sent"] = n
        if r["per_second"] > 0:
            rate[t["name"]] = r["per_second"]
        r["proxy_cpu_us_per_req"] = 1e6 * r["proxy_cpu_s"] / max(1, r["requests"]) if r["requests"] else None
        r["req_per_proxy_cpu_s"] = r["requests"] / r["proxy_cpu_s"] if r["requests"] and r["proxy_cpu_s"] > 0 else None
        r["mb_per_s"] = r["per_second"] * size / 1e6
        if r["failures"]:
            log(f"  FAILED: {t['name']}: {r['failures']} of {n} requests failed ({r['failure_kinds']})")
        return r
    return go


WORKLOADS = [
    # key, label, function, measured seconds scale
    ("keepalive", "keep-alive GET 64 B, 50 conns, plain member", wl_keepalive(APP, "/small", 50)),
    ("keepalive_reenc", "keep-alive GET 64 B, 50 conns, re-encrypted", wl_keepalive(REENC, "/small", 50)),
    ("handshake_ecdsa", "new TLS 1.3 conn/request, ECDSA P-256", wl_handshake("ecdsa", 8)),
    ("handshake_rsa", "new TLS 1.3 conn/request, RSA-2048", wl_handshake("rsa", 8)),
    ("bulk_reenc", "GET 1 MiB, 8 conns, re-encrypted", wl_keepalive(REENC, "/big", 8)),
    # HTTP/2 over TLS (ALPN h2) to the proxy, HTTP/1.1 to the plain member; h2load on CPU 0
    ("h2_c10m10_64", "h2 GET 64 B, 10 conns x 10 streams, plain member", wl_h2(APP, "/small", 10, 10)),
    ("h2_c10m100_64", "h2 GET 64 B, 10 conns x 100 streams, plain member", wl_h2(APP, "/small", 10, 100)),
    ("h2_c10m10_1m", "h2 GET 1 MiB, 10 conns x 10 streams, plain member", wl_h2(APP, "/big", 10, 10)),
    ("h2_c10m100_1m", "h2 GET 1 MiB, 10 conns x 100 streams, plain member", wl_h2(APP, "/big", 10, 100)),
]
H2_WORKLOADS = [k for k, _, _ in WORKLOADS if k.startswith("h2_")]


def idle_test(t, client, n, backend_pid):
    """Proxy RSS growth per idle TLS 1.3 connection (ECDSA), after the handshake and after one request."""
    pid = t["pid"]
    time.sleep(1)
    base = rss_kib(pid)
    p = subprocess.Popen(["taskset", "-c", LOAD_CPU, client, "hold", "127.0.0.1", str(t["ecdsa_port"]), str(n), "64",
                          APP, "/small"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
    res = {"connections": n, "rss_base_kib": base}
    try:
        line = p.stdout.readline().decode().split()
        if not line or line[0] != "handshaken":
            raise BenchError(f"{t['name']}: hold client said {line}")
        res["handshaken"], res["handshake_failed"] = int(line[1]), int(line[2])
        res["establish_s"], res["resumed"] = float(line[3]), int(line[4])
        time.sleep(2)
        res["rss_handshaken_kib"] = rss_kib(pid)
        p.send_signal(signal.SIGUSR1)
        line = p.stdout.readline().decode().split()
        if not line or line[0] != "requested":
            raise BenchError(f"{t['name']}: hold client said {line}")
        res["requested"], res["request_failed"], res["non_200"] = int(line[1]), int(line[2]), int(line[4])
        time.sleep(2)
        res["rss_requested_kib"] = rss_kib(pid)
        p.send_signal(signal.SIGUSR1)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    ok = max(1, res["handshaken"])
    res["kib_per_conn_handshaken"] = (res["rss_handshaken_kib"] - base) / ok
    res["kib_per_conn_requested"] = (res["rss_requested_kib"] - base) / max(1, res["requested"])
    if res["handshake_failed"] or res["request_failed"]:
        log(f"  warning: {t['name']}: {res['handshake_failed']} handshakes and {res['request_failed']} requests failed")
    time.sleep(3)  # let the proxy close 10 000 connections before the next one is measured
    return res


# ---------------------------------------------------------------- main

def versions(edgesplit):
    def first(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20).stdout.decode().strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001 - informational only
            return f"? ({e})"
    return {
        "haproxy": first(["haproxy", "-v"]),
        "nginx": first(["nginx", "-v"]),
        "wrk": first(["wrk", "-v"]),
        "h2load": first(["h2load", "--version"]),
        "openssl": first(["openssl", "version"]),
        "swift": first(["swift", "--version"]),
        "edgesplit_commit": first(["git", "-C", os.path.dirname(os.path.dirname(HERE)), "rev-parse", "--short", "HEAD"]),
    }


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = open("/proc/meminfo").readline().split()[1]
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": os.uname().release,
            "mem_gib": round(int(mem) / 1048576, 1), "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def prepare(work):
    """Certificates and the backend's documents."""
    make_certs(work)
    for f in os.listdir(work):
        secret = f.endswith(".key") or (f.endswith(".pem") and f != "ca.pem")
        os.chmod(os.path.join(work, f), 0o600 if secret else 0o644)
    docroot = os.path.join(work, "www")
    os.mkdir(docroot, 0o755)
    with open(os.path.join(docroot, "small"), "wb") as f:
        f.write(b"edgesplit bench: a 64-byte response body for keep-alive tests.\n"[:63].ljust(63, b".") + b"\n")
    with open(os.path.join(docroot, "big"), "wb") as f:
        f.write(os.urandom(BIG))
    for f in ("small", "big"):
        os.chmod(os.path.join(docroot, f), 0o644)


def start_stack(work, edgesplit, names):
    """Starts the backend (CPU 0) and the proxies named (CPU 1); returns targets and the backend worker pid."""
    bp, bt, hpe, hpr, npe, npr, epe, epr = free_ports(8)
    common = dict(WORK=work, BACKEND_HTTP=bp, BACKEND_HTTPS=bt, APP=APP, REENC=REENC, BACKEND_NAME=BACKEND_NAME)
    os.mkdir(f"{work}/backend")
    conf = render("backend-nginx.conf", f"{work}/backend/nginx.conf", **common)
    backend = spawn("backend", ["nginx", "-p", f"{work}/backend/", "-e", f"{work}/backend/error.log", "-c", conf], LOAD_CPU, work)
    wait_port(bp, backend)
    wait_port(bt, backend)
    backend_worker = nginx_worker(backend.pid)

    targets = []
    if "haproxy" in names:
        conf = render("haproxy.cfg", f"{work}/haproxy.cfg", PORT_ECDSA=hpe, PORT_RSA=hpr, **common)
        p = spawn("haproxy", ["haproxy", "-db", "-f", conf], PROXY_CPU, work)
        targets.append({"name": "haproxy", "proc": p, "pid": p.pid, "ecdsa_port": hpe, "rsa_port": hpr})
    if "nginx" in names:
        os.mkdir(f"{work}/nginx")
        conf = render("proxy-nginx.conf", f"{work}/nginx/nginx.conf", PORT_ECDSA=npe, PORT_RSA=npr, **common)
        p = spawn("nginx", ["nginx", "-p", f"{work}/nginx/", "-e", f"{work}/nginx/error.log", "-c", conf], PROXY_CPU, work)
        targets.append({"name": "nginx", "proc": p, "ecdsa_port": npe, "rsa_port": npr})
    if "edgesplit" in names:
        conf = render("edgesplit.yaml", f"{work}/edgesplit.yaml", PORT_ECDSA=epe, PORT_RSA=epr,
                      INSTANCE=f"bench-{os.getpid()}", **common)
        p = spawn("edgesplit", [edgesplit, "serve", "--config", conf, "--no-bpf", "--workers", "1"], PROXY_CPU, work)
        targets.append({"name": "edgesplit", "proc": p, "pid": p.pid, "ecdsa_port": epe, "rsa_port": epr})

    for t in targets:
        wait_port(t["ecdsa_port"], t["proc"])
        wait_port(t["rsa_port"], t["proc"])
        if t["name"] == "nginx":
            t["pid"] = nginx_worker(t["proc"].pid)
        check_job(t["name"], t["ecdsa_port"])
        check_job(t["name"], t["rsa_port"])
        check_h2(t["name"], t["ecdsa_port"])
    log(f"{', '.join(t['name'] for t in targets)}: the same job checked (Host routing, original Host, "
        "X-Forwarded-For/Proto, 404 for unknown names; over HTTP/2 too: ALPN h2, 64 B and 1 MiB bodies)")
    return targets, backend_worker


def bench(a, work, started):
    targets, backend_worker = start_stack(work, a.edgesplit, PROXIES)
    secs = int(a.seconds) if a.seconds == int(a.seconds) else a.seconds
    only = set(filter(None, a.only.split(",")))
    results = {"started_utc": started.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "versions": versions(a.edgesplit),
               "settings": {"seconds": a.seconds, "rounds": a.rounds, "idle_connections": a.idle, "retries": a.retries,
                            "disturbed_above_other_cpu1_pct": DISTURBED_PCT,
                            "proxy_cpu": PROXY_CPU, "load_cpu": LOAD_CPU},
               "runs": {}, "idle": {}}
    retries_left = [a.retries]
    for key, label, fn in WORKLOADS:
        if only and key not in only:
            continue
        runs = {t["name"]: [] for t in targets}
        for t in targets:  # warm-up: first connections, member pools, caches
            fn(t, a.client, 1, backend_worker)
        for r in range(a.rounds):
            order = targets[r % 3:] + targets[:r % 3]  # nobody always goes first
            for t in order:
                tries = 0
                while True:
                    res = fn(t, a.client, secs, backend_worker)
                    res["disturbed"] = res["other_cpu1_pct"] > DISTURBED_PCT
                    runs[t["name"]].append(res)
                    log(f"{key} round {r + 1} {t['name']:9s} {res['per_second']:9.0f}/s  proxy {res['proxy_busy_pct']:5.1f}% busy,"
                        f" others on CPU{PROXY_CPU} {res['other_cpu1_pct']:4.1f}%" + ("  (disturbed)" if res["disturbed"] else ""))
                    # Others' load on the proxy's CPU: measure again while the retry budget lasts.
                    if not res["disturbed"] or retries_left[0] <= 0 or tries >= RETRIES_PER_RUN:
                        break
                    retries_left[0] -= 1
                    tries += 1
        results["runs"][key] = {"label": label, "by_proxy": runs}
    if a.idle and (not only or "idle" in only):
        for t in targets:
            res = idle_test(t, a.client, a.idle, backend_worker)
            results["idle"][t["name"]] = res
            log(f"idle {t['name']:9s} {res['kib_per_conn_handshaken']:6.1f} KiB/conn after handshake,"
                f" {res['kib_per_conn_requested']:6.1f} KiB/conn after one request ({res['handshaken']} conns)")
    for t in targets:
        if t["proc"].poll() is not None:
            raise BenchError(f"{t['name']} exited during the run")
    results["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    results["summary"] = summarize(results)
    results["saturation"] = saturation(results)
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print_table(results)
    print(f"\nJSON: {a.json}")


# ---------------------------------------------------------------- profile

PROFILE_WORKLOADS = {
    "keepalive": (APP, "/small", 50),
    "keepalive_reenc": (REENC, "/small", 50),
    "bulk_reenc": (REENC, "/big", 8),
}
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def attach_during(tool_argv, t, workload, a):
    """Runs a tool attached to the proxy while the workload runs; returns (tool output, units done)."""
    out = open(os.path.join(a.out, "tool.tmp"), "w+b")
    tool = subprocess.Popen(tool_argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
    time.sleep(1.0)  # attached
    try:
        if workload in PROFILE_WORKLOADS:
            host, path, conns = PROFILE_WORKLOADS[workload]
            done = wrk(t["ecdsa_port"], host, path, conns, int(a.seconds))["requests"]
        else:
            r = tls_conns(a.client, t[workload.split("_")[1] + "_port"], int(a.seconds), 8, "1.3")
            done = r["connections"]
    finally:
        tool.send_signal(signal.SIGINT)
        try:
            tool.wait(timeout=60)
        except subprocess.TimeoutExpired:
            tool.kill()
            tool.wait()
    out.seek(0)
    text = out.read().decode(errors="replace")
    out.close()
    return text, done


def strace_counts(text):
    calls = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    return calls


def demangle(text):
    try:
        return subprocess.run(["swift", "demangle", "--simplified"], input=text.encode(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=60).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return text


def perf_report(data, *args):
    return subprocess.run(["perf", "report", "-i", data, "--stdio", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.decode(errors="replace")


CATEGORIES = [  # first match wins; matched against "dso [k|.] symbol" of perf's self-time rows
    ("kernel (syscalls, TCP/IP, scheduling)", r"\[kernel|\[k\]"),
    ("TLS library (BoringSSL / OpenSSL)", r"^(libssl|libcrypto)|\] (CNIOBoringSSL|bssl::|fiat_|x25519|ecp_nistz256|__ecp_|sha\d+_block|"
                                                  r"aes_|gcm_|ssl_|tls_|do_ssl|ec_|ecdsa|bn_|BN_|__bn_|mulx4x|sqrx8x|mul4x|sqr8x|rsaz|fe_|ge_|x25519|cbb_|cbs_|"
                                                  r"sha\d+_|hkdf|hmac)"),
    ("Swift refcounting (retain/release)", r"swift_retain|swift_release|RefCounts|swift_isUniquelyReferenced|"
                                           r"swift_bridgeObjectRe|swift_unknownObjectRe|ValueWitnesses|swift_arrayInitWithCopy|swift_arrayDestroy"),
    ("Swift exclusivity checks", r"swift_beginAccess|swift_endAccess|AccessSet"),
    ("malloc/free", r"malloc|_int_free|\] free|cfree|swift_allocObject|swift_deallocObject|swift_slowAlloc|swift_slowDealloc|"
                    r"tcache|unlink_chunk|_int_realloc|realloc|swift_deallocClassInstance"),
    ("memcpy/memmove", r"memmove|memcpy|memset"),
    ("the proxy's own code (edgesplit: Proxy, HTTP1, Publishing)", r"^(haproxy|nginx) |Proxy|HTTP1|Publishing|Affinity|ClientHandler|MemberHandler|MemberPool|RuleTable|"
                                                  r"HeadParser|RequestHead|ResponseHead|Exchange|analyseFields|appendSanitised|"
                                                  r"parseRequestLine|ASCII|FieldKind|PublishingRule|Forwarding|BodyFramer|ClientAddress"),
    ("SwiftNIO and NIOSSL (Swift)", r"NIO|ByteBuffer|Channel|EventLoop|Selector|Socket|PendingWrites|CircularBuffer|Heap|"
                                    r"ScheduledTask|check_iovec_alias|ManagedAtomic|PriorityQueue|RecvByteBuffer|SSLConnection|BoringSSL|"
                                    r"TLSUserEvent|ByteToMessage|CanDequeueWrites"),
    ("Swift stdlib (collections, strings) and other Swift runtime", r"libswiftCore|libswift_|swift_|Array|Dictionary|_Raw|String|"
                                                                    r"Sequence|Collection|Set|Range"),
    ("other (libc syscall wrappers, vdso, loader)", r"."),
]


def categorize(flat_rows):
    """Self-time shares by category from demangled 'pct% dso [.] symbol' rows."""
    out = {name: 0.0 for name, _ in CATEGORIES}
    for row in flat_rows:
        m = re.match(r"([\d.]+)% (\S+) \[(.)\] (.*)", row)
        if not m:
            continue
        text = f"{m.group(2)} [{m.group(3)}] {m.group(4)}"
        for name, pattern in CATEGORIES:
            if re.search(pattern, text):
                out[name] += float(m.group(1))
                break
    return out


def perf_summary(data, path):
    """Self time by DSO and by symbol, inclusive time of edgesplit's own code, and who calls the
    hottest runtime functions (retain/release, malloc/free, memmove)."""
    dsos = perf_report(data, "--no-children", "-g", "none", "--sort", "dso")
    flat = demangle(perf_report(data, "--no-children", "-g", "none", "--percent-limit", "0.5", "--sort", "dso,symbol"))
    incl = demangle(perf_report(data, "--children", "-g", "none", "--percent-limit", "2", "--sort", "symbol"))
    callers = demangle(perf_report(data, "--no-children", "-g", "caller,0.5,callee,function,percent", "--max-stack", "6",
                                   "--percent-limit", "2", "--sort", "symbol",
                                   "--symbols", "swift_retain,swift_release,malloc,_int_malloc,free,_int_free,"
                                   "__memmove_avx512_unaligned_erms,__memmove_avx_unaligned_erms,swift_allocObject"))
    with open(path, "w") as f:
        f.write("### self time by DSO\n" + dsos + "\n### self time by symbol\n" + flat +
                "\n### inclusive time (children)\n" + incl + "\n### callers of runtime hot spots\n" + callers)
    samples = re.search(r"# Samples: (\S+)", flat)
    def rows(text):
        return [re.sub(r"\s+", " ", l.strip()).rstrip(" -") for l in text.splitlines() if re.match(r"^\s+[\d.]+%", l)]
    everything = demangle(perf_report(data, "--no-children", "-g", "none", "--sort", "dso,symbol"))
    return {"perf_report": path, "perf_samples": samples.group(1) if samples else None,
            "perf_dsos": rows(dsos), "perf_top": rows(flat)[:40], "perf_inclusive": rows(incl)[:40],
            "perf_categories_pct": {k: round(v, 1) for k, v in categorize(rows(everything)).items()}}


def profile(a, work):
    """Where the proxies spend per request: syscalls (strace -c), libc malloc calls (uprobes),
    and edgesplit's CPU profile (perf, cpu-clock sampling)."""
    os.makedirs(a.out, exist_ok=True)
    names = a.proxies.split(",")
    targets, _ = start_stack(work, a.edgesplit, names)
    report = {"workloads": {}}
    probes = False
    try:
        r = subprocess.run(["perf", "probe", "-q", "-x", LIBC, "--add", "malloc"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        probes = r.returncode == 0
        if not probes:
            log("no malloc uprobe: " + r.stdout.decode().strip())
        for wl in a.workloads.split(","):
            report["workloads"][wl] = {}
            for t in targets:
                # warm up the pools, then one strace -c run and one malloc-count run
                if wl in PROFILE_WORKLOADS:
                    host, path, conns = PROFILE_WORKLOADS[wl]
                    wrk(t["ecdsa_port"], host, path, conns, 1)
                entry = {}
                text, done = attach_during(["strace", "-c", "-f", "-p", str(t["pid"])], t, wl, a)
                calls = strace_counts(text)
                entry["units"] = done
                entry["syscalls_per_unit"] = {k: round(v / max(1, done), 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])}
                entry["syscalls_total_per_unit"] = round(sum(calls.values()) / max(1, done), 2)
                if probes:
                    text, done = attach_during(["perf", "stat", "-x,", "-e", "probe_libc:malloc", "-p", str(t["pid"])], t, wl, a)
                    m = re.search(r"^(\d+),,probe_libc:malloc", text, re.M)
                    entry["mallocs_per_unit"] = round(int(m.group(1)) / max(1, done), 1) if m else None
                if True:  # a CPU profile of every proxy, to compare where the time goes
                    data = os.path.join(a.out, f"perf-{wl}-{t['name']}.data")
                    c0 = cpu_ticks(t["pid"])
                    _, done = attach_during(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-g",
                                             "-o", data, "-p", str(t["pid"])], t, wl, a)
                    entry["perf_run_cpu_us_per_unit"] = round(1e6 * (cpu_ticks(t["pid"]) - c0) / HZ / max(1, done), 1)
                    entry.update(perf_summary(data, os.path.join(a.out, f"perf-{wl}-{t['name']}.txt")))
                report["workloads"][wl][t["name"]] = entry
                top = ", ".join(f"{k} {v}" for k, v in list(entry["syscalls_per_unit"].items())[:8])
                log(f"{wl} {t['name']:9s} {entry['syscalls_total_per_unit']} syscalls/unit ({top}); "
                    f"mallocs/unit {entry.get('mallocs_per_unit')}")
    finally:
        if probes:
            subprocess.run(["perf", "probe", "-q", "--del", "probe_libc:malloc"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(a.out, "profile.json"), "w") as f:
        json.dump(report, f, indent=1)
    for wl, by in report["workloads"].items():
        print(f"\n== {wl}: per {'request' if wl in PROFILE_WORKLOADS else 'connection'}")
        for name, e in by.items():
            print(f"{name:9s} syscalls {e['syscalls_total_per_unit']:6.2f}  mallocs {e.get('mallocs_per_unit')}  "
                  + "  ".join(f"{k} {v}" for k, v in list(e["syscalls_per_unit"].items())[:10]))
        if all(e.get("perf_categories_pct") for e in by.values()):
            print("CPU us per unit under perf (profiling overhead included), by category:")
            print(f"   {'category':60s}" + "".join(f"{n:>10s}" for n in by))
            for cat, _ in CATEGORIES:
                print(f"   {cat:60s}" + "".join(f"{e['perf_run_cpu_us_per_unit'] * e['perf_categories_pct'][cat] / 100:10.1f}" for e in by.values()))
            print(f"   {'total':60s}" + "".join(f"{e['perf_run_cpu_us_per_unit']:10.1f}" for e in by.values()))
        e = by.get("edgesplit")
        if e and e.get("perf_top"):
            print(f"edgesplit: {e['perf_samples']} samples; self time by DSO: " + "; ".join(e["perf_dsos"]))
            print("self time by symbol:")
            for line in e["perf_top"][:25]:
                print("   " + line)
    print(f"\nprofile data: {a.out}")


def begin(prefix):
    """Signals end the run through `finally` (which stops everything); returns a fresh work
    directory readable by the proxies' workers and the start time."""
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)
    return work, datetime.datetime.now(datetime.timezone.utc)


def arguments(seconds):
    """The options every bench driver takes: the binary under test, the TLS client, the length."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgesplit", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--seconds", type=float, default=seconds)
    return ap


def main():
    ap = arguments(seconds=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--retries", type=int, default=10, help="extra runs allowed for runs disturbed by others' load")
    ap.add_argument("--only", default="", help="comma-separated workload keys (and/or 'idle')")
    ap.add_argument("--json", default=".build/bench.json")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    ap.add_argument("--profile", action="store_true", help="profile instead of benchmarking")
    ap.add_argument("--proxies", default=",".join(PROXIES), help="profile: which proxies")
    ap.add_argument("--workloads", default="keepalive,handshake_ecdsa,handshake_rsa,bulk_reenc", help="profile: which workloads")
    ap.add_argument("--out", default=".build/bench-profile", help="profile: output directory")
    a = ap.parse_args()
    work, started = begin("edgesplit-bench-")
    try:
        log(f"work directory {work}")
        prepare(work)
        if a.profile:
            profile(a, work)
        else:
            bench(a, work, started)
    finally:
        stop_all()
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- summary

# key, row label, workload, field, better ("high"/"low"), target (ratio or absolute), target kind
ROWS = [
    ("ka_rps", "keep-alive req/s", "keepalive", "per_second", "high", 1.2, "ratio"),
    ("ka_p50", "keep-alive p50 ms", "keepalive", "p50_ms", "low", None, None),
    ("ka_p99", "keep-alive p99 ms", "keepalive", "p99_ms", "low", 1.0, "ratio"),
    ("ka_cpu", "keep-alive proxy CPU us/req", "keepalive", "proxy_cpu_us_per_req", "low", None, None),
    ("ka_busy", "keep-alive proxy CPU busy %", "keepalive", "proxy_busy_pct", None, None, None),
    ("kar_rps", "re-encrypted keep-alive req/s", "keepalive_reenc", "per_second", "high", None, None),
    ("kar_cpu", "re-encrypted proxy CPU us/req", "keepalive_reenc", "proxy_cpu_us_per_req", "low", None, None),
    ("hse_cpu", "TLS1.3 ECDSA proxy CPU us/conn", "handshake_ecdsa", "proxy_cpu_us_per_conn", "low", None, None),
    ("hse_cap", "TLS1.3 ECDSA handshakes/proxy-CPU-s", "handshake_ecdsa", "conn_per_proxy_cpu_s", "high", 1.0, "ratio"),
    ("hse_cps", "TLS1.3 ECDSA conn/s (client-bound)", "handshake_ecdsa", "per_second", "high", None, None),
    ("hsr_cps", "TLS1.3 RSA conn/s", "handshake_rsa", "per_second", "high", 1.0, "ratio"),
    ("hsr_cpu", "TLS1.3 RSA proxy CPU us/conn", "handshake_rsa", "proxy_cpu_us_per_conn", "low", None, None),
    ("hsr_cap", "TLS1.3 RSA handshakes/proxy-CPU-s", "handshake_rsa", "conn_per_proxy_cpu_s", "high", 1.0, "ratio"),
    ("hsr_busy", "TLS1.3 RSA proxy CPU busy %", "handshake_rsa", "proxy_busy_pct", None, None, None),
    ("bulk_mbs", "1 MiB re-encrypted MB/s", "bulk_reenc", "mb_per_s", "high", 1.0, "ratio"),
    ("bulk_cpu", "1 MiB re-encrypted proxy CPU us/req", "bulk_reenc", "proxy_cpu_us_per_req", "low", None, None),
]
for _wl, _name in (("h2_c10m10_64", "h2 64 B c10 m10"), ("h2_c10m100_64", "h2 64 B c10 m100"),
                   ("h2_c10m10_1m", "h2 1 MiB c10 m10"), ("h2_c10m100_1m", "h2 1 MiB c10 m100")):
    ROWS += [
        (_wl + "_rps", _name + " req/s", _wl, "per_second", "high", None, None),
        (_wl + "_cpu", _name + " proxy CPU us/req", _wl, "proxy_cpu_us_per_req", "low", None, None),
        (_wl + "_cap", _name + " req/proxy-CPU-s", _wl, "req_per_proxy_cpu_s", "high", 1.0, "ratio"),
        (_wl + "_busy", _name + " proxy CPU busy %", _wl, "proxy_busy_pct", None, None, None),
    ]
SATURATED_PCT = 95.0  # proxy CPU busy below this: req/s measures the client and backend too
IDLE_ROWS = [
    ("idle_hs", "idle TLS conn RSS KiB (handshake only)", "kib_per_conn_handshaken", 40.0),
    ("idle_rq", "idle TLS conn RSS KiB (after 1 request)", "kib_per_conn_requested", 40.0),
]


DISTURBED_PCT = 25.0  # others' CPU time on the proxy's CPU (tick-sampled, about ±15 %), in % of a run: disturbed above
RETRIES_PER_RUN = 2   # so that one busy spell does not spend the whole retry budget on one proxy


def usable(runs):
    """The undisturbed runs when there are any (the anchors' advice: keep runs with little
    unaccounted CPU time), else all of them."""
    clean = [r for r in runs if not r.get("disturbed")]
    return clean or runs


def summarize(res):
    out = {}
    for key, label, wl, field, better, target, kind in ROWS:
        if wl not in res["runs"]:
            continue
        vals = {p: med([r.get(field) for r in usable(res["runs"][wl]["by_proxy"].get(p, []))]) for p in PROXIES}
        # A proxy with failed requests (h2load: failed, errored, timed out, non-2xx, short bodies)
        # in any run of the workload gets no figure: its row says FAILED.
        failed = [p for p in PROXIES if any(r.get("failures") for r in res["runs"][wl]["by_proxy"].get(p, []))]
        for p in failed:
            vals[p] = None
        row = {"label": label, "values": vals, "better": better, "failed": failed,
               "disturbed_only": [p for p in PROXIES if res["runs"][wl]["by_proxy"].get(p)
                                  and all(r.get("disturbed") for r in res["runs"][wl]["by_proxy"][p])]}
        peers = [vals[p] for p in PEERS if vals[p] is not None]
        if better and peers and vals["edgesplit"] is not None:
            best = max(peers) if better == "high" else min(peers)
            row["best_peer"] = best
            row["ratio"] = vals["edgesplit"] / best if best else None
            if target is not None and row["ratio"] is not None:
                row["target"] = (">=" if better == "high" else "<=") + f"{target:g}x"
                row["met"] = row["ratio"] >= target if better == "high" else row["ratio"] <= target
        out[key] = row
    for key, label, field, limit in IDLE_ROWS:
        if not res["idle"]:
            continue
        vals = {p: res["idle"].get(p, {}).get(field) for p in PROXIES}
        peers = [vals[p] for p in PEERS if vals[p] is not None]
        row = {"label": label, "values": vals, "better": "low"}
        if peers and vals["edgesplit"] is not None:
            row["best_peer"] = min(peers)
            row["ratio"] = vals["edgesplit"] / row["best_peer"] if row["best_peer"] > 0 else None
            row["target"] = f"<={limit:g} KiB"
            row["met"] = vals["edgesplit"] <= limit
        out[key] = row
    return out


def saturation(res):
    """Keep-alive and HTTP/2 workloads: is every proxy's CPU busy >= SATURATED_PCT (median)? When
    not, req/s measures the client or the backend as well, and requests per proxy-CPU-second
    is the figure to compare."""
    out = {}
    for wl in ["keepalive", "keepalive_reenc"] + H2_WORKLOADS:
        if wl not in res["runs"]:
            continue
        busy = {p: med([r.get("proxy_busy_pct") for r in usable(res["runs"][wl]["by_proxy"].get(p, []))]) for p in PROXIES}
        out[wl] = {"busy_pct": busy, "threshold_pct": SATURATED_PCT,
                   "saturated": all(b is not None and b >= SATURATED_PCT for b in busy.values())}
    return out


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def print_table(res):
    s = res["summary"]
    print()
    print(f"edgesplit vs HAProxy vs nginx, one worker each on CPU{PROXY_CPU}, load and backend on CPU{LOAD_CPU}; "
          f"{res['started_utc']} UTC; medians of {res['settings']['rounds']} rounds x {res['settings']['seconds']:g} s, undisturbed runs")
    print()
    hdr = f"| {'metric':40s} | {'HAProxy':>9s} | {'nginx':>9s} | {'edgesplit':>9s} | {'es/best':>7s} | {'target':>10s} | {'met':>4s} |"
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for key, row in s.items():
        v = row["values"]
        ratio = row.get("ratio")
        met = row.get("met")
        star = lambda p: ("FAILED" if p in row.get("failed", []) else fmt(v[p])) + ("*" if p in row.get("disturbed_only", []) else "")
        print(f"| {row['label']:40s} | {star('haproxy'):>9s} | {star('nginx'):>9s} | {star('edgesplit'):>9s} | "
              f"{(f'{ratio:.2f}' if ratio is not None else '-'):>7s} | {row.get('target', ''):>10s} | "
              f"{('yes' if met else 'NO') if met is not None else '':>4s} |")
    allruns = [r for wl in res["runs"].values() for rs in wl["by_proxy"].values() for r in rs]
    disturbed = [r for r in allruns if r.get("disturbed")]
    dirty = [f"{k}/{p}" for k, wl in res["runs"].items() for p, rs in wl["by_proxy"].items() if rs and all(r.get("disturbed") for r in rs)]
    limit = res["settings"].get("disturbed_above_other_cpu1_pct", DISTURBED_PCT)
    print(f"\n{len(allruns)} runs, {len(disturbed)} disturbed (others used > {limit:g} % of CPU{PROXY_CPU}) and left out of the medians"
          + (f"; * = only disturbed runs ({', '.join(dirty)}), their median is used" if dirty else ""))
    others = [r.get("other_cpu1_pct", 0) for wl in res["runs"].values() for rs in wl["by_proxy"].values() for r in rs]
    unacc = [r.get("unaccounted_pct", 0) for wl in res["runs"].values() for rs in wl["by_proxy"].values() for r in rs]
    if others:
        print(f"CPU time on CPU{PROXY_CPU} not used by the measured proxy: median {med(others):.1f} %, max {max(others):.1f} % of a run; "
              f"machine CPU outside proxy+client+backend: median {med(unacc):.1f} %, max {max(unacc):.1f} %")
    for wl in ("handshake_ecdsa", "handshake_rsa"):
        if wl in res["runs"]:
            rs = [r for rr in res["runs"][wl]["by_proxy"].values() for r in rr]
            kinds = sorted({f"{r['version']} {r['cipher']} {r['group']}" for r in rs})
            print(f"{wl}: {sum(r['full_handshakes'] for r in rs)} full handshakes, {sum(r['resumed'] for r in rs)} resumed, "
                  f"{sum(r['failed'] + r['non_200'] for r in rs)} failed; negotiated {', '.join(kinds)}")
    for wl, sat in res.get("saturation", {}).items():
        if not sat["saturated"]:
            busy = ", ".join(f"{p} {b:.0f} %" for p, b in sat["busy_pct"].items() if b is not None)
            print(f"{wl}: not saturated (proxy CPU busy {busy}; < {SATURATED_PCT:g} %): req/s there is bounded by the "
                  f"client or the backend too; compare the proxies' CPU per request (requests per proxy-CPU-second)")
    for wl in res["runs"]:
        bad = {p: sum(r.get("failures") or 0 for r in rs) for p, rs in res["runs"][wl]["by_proxy"].items()}
        if any(bad.values()):
            print(f"{wl}: FAILED requests: " + ", ".join(f"{p} {n}" for p, n in bad.items() if n))
    load = res["machine"]["loadavg_at_start"]
    print(f"load average at start: {' '.join(load)}")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(1)
