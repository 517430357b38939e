#!/usr/bin/env python3
"""Reloads under connection churn: edgesplit vs HAProxy's seamless reload, one run
(driven by `Scripts/bench reload`).

Both proxies do the benchmark's job (Scripts/bench.d: TLS termination, Host routing to the
backend nginx) on loopback, one worker each pinned to CPU 1. The load is a new TCP + TLS 1.3
connection per request (full handshakes, tlsclient conn mode) from CPU 0 for --seconds, while
the proxy is reloaded --reloads times at even intervals:

  edgesplit  SIGHUP: a new generation joins the SO_REUSEPORT group, the steering program's
             socket array (or, without BPF, the kernel's tcp_migrate_req) takes over the old
             listeners' queued connections, the old generation drains.
  HAProxy    master-worker mode (-W) with `expose-fd listeners` on its stats socket, reloaded
             with SIGUSR2 to the master: the new worker takes the listening sockets over from
             the old one (the seamless reload, `-x` passed by the master).

A failed connection is one the client could not complete: refused or reset connect, failed
handshake, no full response; a non-200 answer counts separately.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxies  # noqa: E402

log = proxies.log


def start_haproxy(work, ports):
    """HAProxy in master-worker mode; its stats socket hands the listeners to each new worker."""
    ecdsa, rsa = ports
    conf = proxies.render("haproxy.cfg", f"{work}/haproxy.cfg", PORT_ECDSA=ecdsa, PORT_RSA=rsa, **common(work))
    with open(conf) as f:
        text = f.read()
    text = text.replace("global\n", f"global\n    stats socket {work}/haproxy.sock mode 600 level admin expose-fd listeners\n", 1)
    with open(conf, "w") as f:
        f.write(text)
    p = proxies.spawn("haproxy", ["haproxy", "-W", "-db", "-S", f"{work}/haproxy-master.sock", "-f", conf],
                      proxies.PROXY_CPU, work)
    return {"name": "haproxy", "proc": p, "ecdsa_port": ecdsa, "rsa_port": rsa,
            "reload": lambda: os.kill(p.pid, signal.SIGUSR2)}  # the master-worker reload


def start_edgesplit(work, ports, edgesplit, bpf):
    ecdsa, rsa = ports
    conf = proxies.render("edgesplit.yaml", f"{work}/edgesplit.yaml", PORT_ECDSA=ecdsa, PORT_RSA=rsa,
                          INSTANCE=f"benchreload-{os.getpid()}", **common(work))
    argv = [edgesplit, "serve", "--config", conf, "--workers", "1"] + ([] if bpf else ["--no-bpf"])
    p = proxies.spawn("edgesplit", argv, proxies.PROXY_CPU, work)
    return {"name": "edgesplit", "proc": p, "ecdsa_port": ecdsa, "rsa_port": rsa,
            "reload": lambda: os.kill(p.pid, signal.SIGHUP)}


def common(work):
    return dict(WORK=work, BACKEND_HTTP=BACKEND[0], BACKEND_HTTPS=BACKEND[1], APP=proxies.APP, REENC=proxies.REENC,
                BACKEND_NAME=proxies.BACKEND_NAME)


BACKEND = []


def churn_with_reloads(target, client, seconds, threads, reloads):
    """Runs the churn load for `seconds` and reloads `reloads` times, evenly, from 1 s in to
    2 s before the end; returns the client's figures and when each reload was sent."""
    result = {}

    def load():
        out = subprocess.run([client, "conn", "127.0.0.1", str(target["ecdsa_port"]), str(seconds), str(threads),
                              proxies.APP, "/small", "1.3"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             preexec_fn=lambda: os.sched_setaffinity(0, {int(proxies.LOAD_CPU)}))
        result.update(json.loads(out.stdout.decode().strip().splitlines()[-1]))
    t = threading.Thread(target=load)
    t.start()
    time.sleep(1)
    span = max(0.5, seconds - 3)
    sent = 0
    started = time.monotonic()
    for i in range(reloads):
        time.sleep(max(0.0, started + i * span / max(1, reloads) - time.monotonic()))
        target["reload"]()
        sent += 1
    t.join()
    result["reloads_sent"] = sent
    return result


def edgesplit_reloads(work):
    with open(os.path.join(work, "edgesplit.log"), errors="replace") as f:
        text = f.read()
    return len(re.findall(r"SIGHUP received; reloaded", text)), len(re.findall(r"reload refused", text))


def haproxy_reloads(work):
    with open(os.path.join(work, "haproxy.log"), errors="replace") as f:
        text = f.read()
    # The master logs "Loading success." for the first worker and for each reload's new one.
    return max(0, text.count("Loading success.") - 1), text.count("Loading failure")


def main():
    ap = proxies.arguments(seconds=30)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--json", default=".build/bench-reload.json")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    work, _ = proxies.begin("edgesplit-benchreload-")
    bpf = os.geteuid() == 0
    try:
        proxies.prepare(work)
        BACKEND.extend(proxies.free_ports(2))
        os.mkdir(f"{work}/backend")
        conf = proxies.render("backend-nginx.conf", f"{work}/backend/nginx.conf", **common(work))
        backend = proxies.spawn("backend", ["nginx", "-p", f"{work}/backend/", "-e", f"{work}/backend/error.log", "-c", conf],
                                proxies.LOAD_CPU, work)
        proxies.wait_port(BACKEND[0], backend)
        results = {"seconds": a.seconds, "reloads": a.reloads, "threads": a.threads, "steering": bpf,
                   "versions": proxies.versions(a.edgesplit)}
        for name in ("haproxy", "edgesplit"):
            ports = proxies.free_ports(2)
            target = start_haproxy(work, ports) if name == "haproxy" else start_edgesplit(work, ports, a.edgesplit, bpf)
            proxies.wait_port(target["ecdsa_port"], target["proc"])
            proxies.check_job(name, target["ecdsa_port"])
            log(f"{name}: {a.seconds:g} s of new TLS connections ({a.threads} client threads), {a.reloads} reloads")
            r = churn_with_reloads(target, a.client, a.seconds, a.threads, a.reloads)
            time.sleep(1)
            done, bad = edgesplit_reloads(work) if name == "edgesplit" else haproxy_reloads(work)
            r.update({"reloads_done": done, "reload_errors": bad, "alive_after": target["proc"].poll() is None})
            results[name] = r
            proxies.check_job(name, target["ecdsa_port"])
            target["proc"].terminate()
            target["proc"].wait(timeout=30)
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nReloads under connection churn: {a.reloads} reloads in {a.seconds:g} s, a new TLS 1.3 connection "
              f"per request, {a.threads} client threads (edgesplit steering: {'BPF' if bpf else 'off'})")
        print(f"{'proxy':<10} {'connections':>11} {'conn/s':>8} {'failed':>7} {'non-200':>8} {'reloads done':>13}")
        for name in ("haproxy", "edgesplit"):
            r = results[name]
            print(f"{name:<10} {r['connections']:>11} {r['per_second']:>8.0f} {r['failed']:>7} {r['non_200']:>8} "
                  f"{r['reloads_done']:>8}/{r['reloads_sent']}")
        print(f"JSON: {a.json}")
        return 0 if results["edgesplit"]["failed"] == 0 and results["edgesplit"]["non_200"] == 0 else 1
    finally:
        proxies.stop_all()
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
