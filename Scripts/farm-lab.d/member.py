#!/usr/bin/env python3
"""Lync-like farm members for Scripts/farm-lab: one HTTP/1.1 server per NAME=ADDRESS:PORT.

Every answer names the member (X-Member) and the edge host whose connection carried the
request (X-Edge, from the connection's peer address, mapped by --edge ADDRESS=NAME), so the
lab can tell which host and which member a client reached. GET /slow?ms=N answers after N ms.
"""
import argparse
import http.server
import json
import sys
import threading
import time
import urllib.parse


def serve(name, address, port, edges):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/slow":
                query = urllib.parse.parse_qs(url.query)
                time.sleep(min(int(query.get("ms", ["0"])[0]), 10_000) / 1000)
            edge = edges.get(self.client_address[0], self.client_address[0])
            body = json.dumps({
                "member": name, "edge": edge, "path": self.path,
                "client": self.headers.get("X-Forwarded-For", ""),
            }).encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Member", name)
            self.send_header("X-Edge", edge)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server((address, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("members", nargs="+", help="NAME=ADDRESS:PORT")
    parser.add_argument("--edge", action="append", default=[], help="ADDRESS=NAME of an edge host")
    args = parser.parse_args()
    edges = dict(e.split("=", 1) for e in args.edge)
    for spec in args.members:
        name, endpoint = spec.split("=", 1)
        address, port = endpoint.rsplit(":", 1)
        serve(name, address, int(port), edges)
    print("members up", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
