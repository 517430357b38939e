#!/usr/bin/env python3
"""Clients for Scripts/farm-lab: HTTP/1.1 requests to the VIP from many source addresses.

One JSON line per connection on stdout: the client address and source port, when it started
and ended, and either the status, edge host and member that answered (and any Set-Cookie) or
the error. `round` opens --connections new connections per client; `loop` has every client
send requests one after another (a new connection each) for --seconds.
"""
import argparse
import collections
import concurrent.futures
import json
import socket
import sys
import threading
import time


used_ports = collections.defaultdict(set)
ports_lock = threading.Lock()


def bound_socket(source):
    """A socket bound to a port this client has not used in this run, so that (address, port)
    names one connection: the lab tells which host saw a connection by it."""
    held = []
    try:
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source, 0))
            port = sock.getsockname()[1]
            with ports_lock:
                if port not in used_ports[source]:
                    used_ports[source].add(port)
                    return sock, port
            held.append(sock)  # kept open until a new port comes, so bind does not repeat it
    finally:
        for other in held:
            other.close()


def request(source, args, cookie):
    record = {"client": source, "sport": 0, "start": time.time()}
    sock, record["sport"] = bound_socket(source)
    sock.settimeout(args.timeout)
    try:
        sock.connect((args.vip, args.port))
        head = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\nConnection: close\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        sock.sendall((head + "\r\n").encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 "):
            raise ValueError(f"not an HTTP response: {lines[0][:60]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        length = int(headers.get("content-length", "-1"))
        if length >= 0 and len(body) < length:
            raise ValueError(f"short body: {len(body)} of {length} bytes")
        record.update(
            ok=True, status=int(lines[0].split()[1]), edge=headers.get("x-edge"), member=headers.get("x-member"),
            set_cookie=headers.get("set-cookie"),
        )
    except Exception as error:  # every failure is a result to report, not a crash
        record.update(ok=False, error=f"{type(error).__name__}: {error}")
    finally:
        sock.close()
    record["end"] = time.time()
    return record


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["round", "loop"])
    parser.add_argument("--sources", required=True, help="file with one client address a line")
    parser.add_argument("--vip", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--host", required=True, help="the Host header")
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--cookies", help='JSON file {"cookies": {client address: Cookie header value}}')
    parser.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    sources = [line.strip() for line in open(args.sources) if line.strip()]
    cookies = json.load(open(args.cookies))["cookies"] if args.cookies else {}
    lock = threading.Lock()

    def emit(record):
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")

    if args.mode == "round":
        tasks = [s for s in sources for _ in range(args.connections)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=48) as pool:
            for record in pool.map(lambda s: request(s, args, cookies.get(s)), tasks):
                emit(record)
    else:
        deadline = time.time() + args.seconds

        def loop(source):
            while time.time() < deadline:
                emit(request(source, args, cookies.get(source)))

        threads = [threading.Thread(target=loop, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
