#!/usr/bin/env python3
"""edgesplit L4 routes vs HAProxy `mode tcp` (driven by `Scripts/bench l4`).

Both proxies route a connection by the SNI of its ClientHello and pass its bytes through to a
plain TCP member without terminating TLS; one worker/thread each, pinned to CPU 1; the member
and the load (Scripts/bench.d/l4load.c) on CPU 0. Rounds alternate between the proxies.

- throughput: CONNS connections stream 256 KiB writes to the member for SECONDS.
  Reported per busy core: bytes / (busy CPU seconds of the whole machine). edgesplit's spliced
  bytes are moved by the kernel (softirq and kworkers, not the proxy process), so only a
  machine-wide count is fair to both; the proxy process's own CPU is shown too.
- connections/s: THREADS clients connect, send the hello, wait for the member's one-byte
  answer through the proxy, and reset; also per busy core.
Loopback only.
"""
import argparse
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxies as p  # noqa: E402  (spawn, stop_all, ports, /proc accounting, certificates)

SNI = "l4.bench.test"
PROXY_CPU, LOAD_CPU = p.PROXY_CPU, p.LOAD_CPU


def busy_ticks():
    """All CPUs' non-idle ticks, irq and softirq included (the kernel's splice work is there)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle


def measure(proxy_pid, argv):
    t0, c0, b0 = time.monotonic(), p.cpu_ticks(proxy_pid), busy_ticks()
    out = p.run(["taskset", "-c", LOAD_CPU] + argv)
    wall = time.monotonic() - t0
    proxy_s = (p.cpu_ticks(proxy_pid) - c0) / p.HZ
    busy_s = (busy_ticks() - b0) / p.HZ
    result = json.loads(out.strip().splitlines()[-1])
    return {"total": result["total"], "seconds": result["seconds"], "wall_s": round(wall, 3),
            "proxy_cpu_s": round(proxy_s, 3), "busy_cpu_s": round(busy_s, 3)}


def start(work, edgesplit, load, which):
    member_port, port = p.free_ports(2)
    member = p.spawn(f"member-{which}", [load, "member", str(member_port), SNI], LOAD_CPU, work)
    time.sleep(0.2)
    if which == "haproxy":
        conf = p.render("haproxy-l4.cfg", f"{work}/haproxy-l4.cfg", PORT=port, MEMBER_PORT=member_port, SNI=SNI)
        proc = p.spawn("haproxy", ["haproxy", "-db", "-f", conf], PROXY_CPU, work)
    else:
        conf = p.render("edgesplit-l4.yaml", f"{work}/edgesplit-l4.yaml", PORT=port, MEMBER_PORT=member_port,
                        SNI=SNI, WORK=work, INSTANCE=f"bench-l4-{os.getpid()}")
        proc = p.spawn("edgesplit", [edgesplit, "serve", "--config", conf], PROXY_CPU, work)
    p.wait_port(port, proc)
    return proc, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edgesplit", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--json", default=".build/bench-l4.json")
    a = ap.parse_args()
    work, started = p.begin("edgesplit-bench-l4-")
    runs = {"haproxy": {"stream": [], "cps": []}, "edgesplit": {"stream": [], "cps": []}}
    try:
        p.make_certs(work)
        procs = {}
        for which in ["haproxy", "edgesplit"]:
            procs[which] = start(work, a.edgesplit, a.load, which)
        for r in range(a.rounds):
            for which in ["haproxy", "edgesplit"]:
                proc, port = procs[which]
                s = measure(proc.pid, [a.load, "stream", str(port), SNI, str(a.seconds), str(a.conns)])
                c = measure(proc.pid, [a.load, "cps", str(port), SNI, str(a.seconds), str(a.threads)])
                runs[which]["stream"].append(s)
                runs[which]["cps"].append(c)
                p.log(f"round {r + 1} {which}: {s['total'] / s['seconds'] / 1e6:.0f} MB/s, "
                      f"{c['total'] / c['seconds']:.0f} conn/s")
    finally:
        p.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    def summary(which):
        st, cp = runs[which]["stream"], runs[which]["cps"]
        return {
            "mb_per_s": p.med([x["total"] / x["seconds"] / 1e6 for x in st]),
            "mb_per_busy_core_s": p.med([x["total"] / 1e6 / x["busy_cpu_s"] for x in st if x["busy_cpu_s"] > 0]),
            "stream_proxy_cpu_pct": p.med([100 * x["proxy_cpu_s"] / x["wall_s"] for x in st]),
            "conn_per_s": p.med([x["total"] / x["seconds"] for x in cp]),
            "conn_per_busy_core_s": p.med([x["total"] / x["busy_cpu_s"] for x in cp if x["busy_cpu_s"] > 0]),
            "conn_per_proxy_cpu_s": p.med([x["total"] / x["proxy_cpu_s"] for x in cp if x["proxy_cpu_s"] > 0]),
        }
    res = {"mode": "l4", "started": started.isoformat(), "machine": p.machine(), "seconds": a.seconds,
           "rounds": a.rounds, "conns": a.conns, "threads": a.threads,
           "haproxy": summary("haproxy"), "edgesplit": summary("edgesplit"), "runs": runs}
    e, h = res["edgesplit"], res["haproxy"]
    res["ratios"] = {k: (round(e[k] / h[k], 2) if e[k] and h[k] else None) for k in e}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    print(f"| L4 passthrough ({a.rounds} rounds of {a.seconds:g} s, medians) | HAProxy mode tcp | edgesplit | edgesplit / HAProxy |")
    print("|---|---|---|---|")
    rows = [("throughput MB/s", "mb_per_s"), ("throughput MB per busy core-second", "mb_per_busy_core_s"),
            ("proxy process CPU % while streaming", "stream_proxy_cpu_pct"), ("connections/s", "conn_per_s"),
            ("connections per busy core-second", "conn_per_busy_core_s"),
            ("connections per proxy-process CPU-second", "conn_per_proxy_cpu_s")]
    for label, k in rows:
        fmt = (lambda v: "-" if v is None else f"{v:,.0f}")
        print(f"| {label} | {fmt(h[k])} | {fmt(e[k])} | {res['ratios'][k] if res['ratios'][k] is not None else '-'} |")
    p.log(f"wrote {a.json}")


if __name__ == "__main__":
    try:
        main()
    except p.BenchError as e:
        p.log(f"error: {e}")
        sys.exit(1)
