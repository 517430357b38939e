#!/usr/bin/env python3
"""The operator dashboard in headless Chromium (driven by `Scripts/dashboard-test`).

Starts edgesplit on 127.0.0.1 with two loopback farm members, a plain and a TLS listener (its
certificate expiring in 20 days), an L4 route to a TLS member and a token-guarded dashboard;
sends traffic from 127.0.x.y sources (plain, TLS with session resumption, and through the L4
route), and checks with selenium that:
  - without the token the page and its feed answer 401, and the token never comes back;
  - the page loads (token handed over once, then a cookie) with no console errors;
  - under traffic, every number the page shows lies between two `edgesplit stats --json`
    taken just before and just after the page's own sample, and the feed has exactly the
    shape of `stats --json` (one model); with traffic stopped, they are equal;
  - a member drained with `edgesplit farm drain` shows as drained within 2 s;
  - the page's undrain button undrains it (the same control command as the CLI);
and writes a screenshot. Every address it talks to is on 127.0.0.0/8.
"""
import argparse
import http.client
import http.server
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench.d"))
import proxies  # noqa: E402  (free loopback ports)
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PUBLIC_NAME = "app.contoso.test"
L4_NAME = "sip.contoso.test"
# Keys whose values only grow: under traffic they are bracketed by two CLI samples.
MONOTONIC = {
    "accepted", "requests", "status_2xx", "status_4xx", "status_5xx", "tls_handshakes", "tls_resumed", "tls_handshake_failures",
    "decisions", "fallbacks", "migrations", "selections", "overflowed", "connections", "spliced_bytes_to_member",
    "spliced_bytes_to_client", "copied_bytes", "handshakes", "resumed",
}


class Failure(Exception):
    pass


class Member(http.server.BaseHTTPRequestHandler):
    """A farm member: 200 for everything, 503 for /fail."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        status, body = (503, b"unavailable\n") if self.path.startswith("/fail") else (200, b"ok\n")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def certificate(directory):
    """A self-signed P-256 certificate for both names, valid for 20 days (a warning on the page)."""
    key, cert = os.path.join(directory, "edge.key"), os.path.join(directory, "edge.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "20", "-subj", f"/CN={PUBLIC_NAME}",
                    "-addext", f"subjectAltName=DNS:{PUBLIC_NAME},DNS:{L4_NAME}"], check=True, capture_output=True)
    return cert, key


class TLSEcho(threading.Thread):
    """The L4 route's member: terminates TLS itself and echoes one line."""

    def __init__(self, cert, key):
        super().__init__(daemon=True)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        try:
            connection.settimeout(5)
            with self.context.wrap_socket(connection, server_side=True) as tls:
                line = tls.recv(4096)
                tls.sendall(b"echo " + line)
        except OSError:
            pass


class Instance:
    """`edgesplit serve` with a dashboard, and the CLI calls made against it."""

    def __init__(self, edgesplit, directory, members, tls_member, cert, key):
        self.edgesplit = edgesplit
        self.name = f"dash{os.getpid() % 100000}"
        self.port, self.tls_port, self.admin = proxies.free_ports(3)
        self.token = secrets.token_hex(16)
        self.members = members
        token_file = os.path.join(directory, "dashboard.token")
        with open(token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(token_file, 0o600)
        member_list = ", ".join(f'"{m}"' for m in members)
        self.config = os.path.join(directory, "edgesplit.yaml")
        with open(self.config, "w") as f:
            f.write(f"""instance: {self.name}
listeners:
  - {{ name: web, address: 127.0.0.1, port: {self.port} }}
  - name: secure
    address: 127.0.0.1
    port: {self.tls_port}
    tls: {{ certificates: [{{ cert: {cert}, key: {key} }}] }}
    l4_routes:
      - {{ name: sip, public_names: [{L4_NAME}], farm: sip }}
farms:
  - name: app
    members: [{member_list}]
    persistence: none
    health: {{ path: /health, interval: 2s }}
  - {{ name: sip, members: ["{tls_member}"] }}
rules:
  - {{ name: app, public_names: [{PUBLIC_NAME}], farm: app }}
admin:
  metrics: 127.0.0.1:{self.admin}
  dashboard: {{ token_file: {token_file}, allow_changes: true }}
""")
        check = self.cli(["check", "--config", self.config], instance=False)
        if check.returncode != 0:
            raise Failure(f"edgesplit check refused the configuration:\n{check.stderr}")
        arguments = [edgesplit, "serve", "--config", self.config, "--workers", "2"]
        if os.geteuid() != 0:
            arguments.append("--no-bpf")
        self.stderr_path = os.path.join(directory, "serve.err")
        self.process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(self.stderr_path, "w"))
        deadline = time.time() + 20
        while "edgesplit: serving instance" not in self.stderr():
            if self.process.poll() is not None or time.time() > deadline:
                raise Failure(f"edgesplit did not start:\n{self.stderr()}")
            time.sleep(0.1)

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def cli(self, arguments, instance=True):
        command = [self.edgesplit] + arguments + (["--instance", self.name] if instance else [])
        return subprocess.run(command, capture_output=True, text=True, timeout=30)

    def stats(self):
        result = self.cli(["stats", "--json"])
        if result.returncode != 0:
            raise Failure(f"stats --json failed: {result.stderr}")
        return json.loads(result.stdout)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.path.exists(f"/sys/fs/bpf/edgesplit/{self.name}"):
            self.cli(["bpf", "unload", "--force"])


class Traffic(threading.Thread):
    """From 127.0.x.y sources, each on a new connection: GETs (one in ten to /fail), every third
    over TLS resuming the previous session, every seventh a line through the L4 route; bounded in time."""

    def __init__(self, port, tls_port, seconds=120):
        super().__init__(daemon=True)
        self.port, self.tls_port, self.deadline = port, tls_port, time.time() + seconds
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client.check_hostname = False
        self.client.verify_mode = ssl.CERT_NONE
        self.session = None
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.sent = 0
        self.errors = []

    def run(self):
        i = 0
        while time.time() < self.deadline and not self.stopped.is_set():
            if not self.running.wait(0.1):
                continue
            i += 1
            source = f"127.0.{1 + i % 7}.{1 + i % 31}"
            path = "/fail" if i % 10 == 0 else f"/item{i}"
            try:
                if i % 7 == 0:
                    self.through_l4(source)
                elif i % 3 == 0:
                    self.over_tls(source, path)
                else:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5, source_address=(source, 0))
                    connection.request("GET", path, headers={"Host": PUBLIC_NAME})
                    connection.getresponse().read()
                    connection.close()
                self.sent += 1
            except (OSError, Failure) as error:
                self.errors.append(f"{source} {path}: {error}")
            time.sleep(0.02)

    def over_tls(self, source, path):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5, source_address=(source, 0)) as raw:
            with self.client.wrap_socket(raw, server_hostname=PUBLIC_NAME, session=self.session) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {PUBLIC_NAME}\r\nConnection: close\r\n\r\n".encode())
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
                self.session = tls.session  # TLS 1.3: the ticket arrived with the answer
        if not answer.startswith(b"HTTP/1.1 "):
            raise Failure(f"TLS answer {answer[:40]!r}")

    def through_l4(self, source):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5, source_address=(source, 0)) as raw:
            with self.client.wrap_socket(raw, server_hostname=L4_NAME) as tls:
                tls.sendall(b"ping\n")
                if tls.recv(4096) != b"echo ping\n":
                    raise Failure("no echo through the L4 route")

    def pause(self, settle=1.5):
        self.running.clear()
        time.sleep(settle)


def value_at(document, key):
    node = document
    for part in key.split("."):
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() and int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def shown(value):
    """A model value as the page's text shows it (String(v) in JavaScript)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def shape(node, path="", out=None):
    """The key paths of a JSON object (first element of each list), to compare two models' shapes."""
    out = set() if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(f"{path}.{k}")
            shape(v, f"{path}.{k}", out)
    elif isinstance(node, list) and node:
        shape(node[0], f"{path}[]", out)
    return out


class Check:
    def __init__(self):
        self.count = 0

    def __call__(self, condition, message):
        self.count += 1
        if not condition:
            raise Failure(message)
        print(f"  ok: {message}")


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--force-device-scale-factor=1", "--no-proxy-server", "--disable-extensions", "--no-first-run"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver from Debian's chromium-driver: selenium must not go looking for one.
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def console_errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def text_of(driver, css):
    """The text of the element `css` selects now (one call: the page redraws every second)."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)


def page_sample(driver):
    """Pauses the page's polling, has it fetch and render one sample; returns the model and the keyed texts."""
    driver.execute_script("window.edgesplit.pause()")
    model = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.edgesplit.refresh().then(() => done(window.edgesplit.model()), e => done(String(e)));")
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-key]')).map(e => [e.dataset.key, e.textContent]);")
    return model, texts


def run(arguments):
    check = Check()
    directory = tempfile.mkdtemp(prefix="edgesplit-dashboard-")
    servers = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Member)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    members = [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    cert, key = certificate(directory)
    echo = TLSEcho(cert, key)
    echo.start()
    instance = Instance(arguments.edgesplit, directory, members, f"127.0.0.1:{echo.port}", cert, key)
    traffic = Traffic(instance.port, instance.tls_port)
    traffic.start()
    driver = None
    base = f"http://127.0.0.1:{instance.admin}"
    try:
        print(f"dashboard-test: instance {instance.name}, listener 127.0.0.1:{instance.port}, dashboard {base}/dashboard")

        # 1. The token is required, and never echoed.
        for path, headers in [("/dashboard", {}), ("/dashboard/stats", {}), ("/dashboard/stats", {"Authorization": "Bearer wrong"}),
                              (f"/dashboard/stats?token={instance.token}", {})]:
            try:
                urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=5)
                raise Failure(f"{path} answered without the token")
            except urllib.error.HTTPError as error:
                body = error.read().decode()
                check(error.code == 401 and instance.token not in body and instance.token not in str(error.headers),
                      f"GET {path.replace(instance.token, 'TOKEN')} {headers or ''}: 401, the token not in the answer")
        driver = browser()
        driver.get(base + "/dashboard")
        check("authentication required" in driver.find_element(By.TAG_NAME, "body").text,
              "the browser without the token gets 'authentication required'")
        driver.get_log("browser")  # the 401 above is logged by the browser: not the page's doing

        # 2. The page loads with the token (handed over once, then a cookie) and no console errors.
        traffic.running.set()
        driver.get(f"{base}/dashboard?token={instance.token}")
        check(driver.current_url == base + "/dashboard", f"the token left the address bar ({driver.current_url})")
        WebDriverWait(driver, 10).until(lambda d: int(d.execute_script("return document.body.dataset.samples || 0")) >= 3)
        errors = console_errors(driver)
        check(not errors, f"the page loaded with no console errors {errors or ''}")

        # 3. Under traffic: each number between two `stats --json` around the page's own sample.
        time.sleep(2)
        for attempt in range(3):  # a sample during which no counter moved proves nothing: take another
            before = instance.stats()
            model, texts = page_sample(driver)
            after = instance.stats()
            if not isinstance(model, dict):
                raise Failure(f"the page rendered no sample: {model}")
            moving = 0
            for key, text in texts:
                check_value = value_at(model, key)
                if shown(check_value) != text:
                    raise Failure(f"{key}: the page shows {text!r}, its sample has {check_value!r}")
                if key.split(".")[-1] in MONOTONIC or (key.split(".")[-2] in MONOTONIC and key.split(".")[-1].isdigit()):
                    low, high = value_at(before, key), value_at(after, key)
                    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low <= float(text) <= high):
                        raise Failure(f"{key}: the page shows {text}, stats --json had {low} before and {high} after")
                    moving += low < high
            if moving > 0:
                break
            driver.execute_script("window.edgesplit.resume()")
            time.sleep(1)
        check(shape(model) == shape(after),
              f"the feed has exactly the shape of stats --json (differences: {sorted(shape(model) ^ shape(after))[:6]})")
        check(len(texts) >= 20, f"the page shows {len(texts)} keyed numbers, each as its sample has it")
        check(moving > 0, f"under traffic ({traffic.sent} requests so far): every counter on the page is between the "
                          f"stats --json before and after it ({moving} of them moved meanwhile)")

        # 4. Traffic stopped: the page equals stats --json.
        traffic.pause()
        quiet = instance.stats()
        model, texts = page_sample(driver)
        quiet_after = instance.stats()
        unequal = [(key, text, shown(value_at(quiet, key))) for key, text in texts
                   if text != shown(value_at(quiet, key)) or shown(value_at(quiet, key)) != shown(value_at(quiet_after, key))]
        check(not unequal, f"with traffic stopped, the {len(texts)} numbers on the page equal stats --json {unequal[:5] or ''}")
        check(value_at(quiet, "process.certificates.0.days_left") in (19, 20) and
              "warn" in (driver.execute_script("return document.querySelector('[data-key=\"process.certificates.0.days_left\"]').className") or ""),
              "the certificate's days left, with the warning under 30 days")
        check((value_at(quiet, "process.tls.0.resumed") or 0) > 0, f"TLS resumption counted "
              f"({value_at(quiet, 'process.tls.0.resumed')} of {value_at(quiet, 'process.tls.0.handshakes')} handshakes)")
        worker_resumed = sum(w.get("tls_resumed", 0) for w in value_at(quiet, "process.workers") or [])
        check(worker_resumed == value_at(quiet, "process.tls.0.resumed"),
              f"resumed handshakes per worker ({worker_resumed}) add up to the listener's")
        l4_bytes = (value_at(quiet, "process.l4_routes.0.spliced_bytes_to_member") or 0) + (value_at(quiet, "process.l4_routes.0.copied_bytes") or 0)
        check(value_at(quiet, "process.l4_routes.0.connections") > 0 and l4_bytes > 0,
              f"L4 route bytes on the page ({value_at(quiet, 'process.l4_splice')}: {l4_bytes} bytes toward the member)")
        check(value_at(quiet, "process.recent_5xx.0.status") == 503 and
              value_at(quiet, "process.recent_5xx.0.member") in members,
              "recent 5xx answers: the member's 503 is listed with its member")

        # 5. Drained with the CLI: on the page within 2 s.
        driver.execute_script("window.edgesplit.resume()")
        traffic.running.set()
        member = members[1]
        state = f'tr[data-member="app/{member}"] td[data-key$=".state"]'
        check(text_of(driver, state) == "up", f"{member} shows up")
        drained = instance.cli(["farm", "drain", "app", member])
        started = time.monotonic()
        check(drained.returncode == 0, f"edgesplit farm drain app {member}: {drained.stdout.strip()}")
        WebDriverWait(driver, 2, poll_frequency=0.05).until(lambda d: text_of(d, state) == "drained")
        check(True, f"the page shows {member} drained {time.monotonic() - started:.2f} s after the CLI drained it")

        # 6. The page's undrain button: the same control command. Polling paused, so the
        #    button is not redrawn under the click; the page redraws after its own change.
        driver.execute_script("window.edgesplit.pause()")
        driver.find_element(By.CSS_SELECTOR, f'tr[data-member="app/{member}"] button[data-action="undrain"]').click()
        WebDriverWait(driver, 5, poll_frequency=0.05).until(lambda d: text_of(d, state) == "up")
        driver.execute_script("window.edgesplit.resume()")
        status = json.loads(instance.cli(["farm", "status", "--json"]).stdout)
        states = {m["member"]: m["state"] for f in status["farms"] for m in f["members"]}
        check(states[member] == "up", f"undrained with the page's button: edgesplit farm status says {states[member]}")

        # 7. A screenshot with some history in the charts.
        time.sleep(arguments.history)
        driver.execute_script("window.scrollTo(0, 0)")
        os.makedirs(os.path.dirname(os.path.abspath(arguments.screenshot)), exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(max(height + 160, 800), 1600))
        time.sleep(1.2)
        driver.save_screenshot(arguments.screenshot)
        check(os.path.getsize(arguments.screenshot) > 0, f"screenshot written to {arguments.screenshot}")
        errors = console_errors(driver)
        check(not errors, f"no console errors in the whole run {errors or ''}")
        check(not traffic.errors, f"{traffic.sent} requests sent, none failed {traffic.errors[:3] or ''}")
        print(f"dashboard-test: passed ({check.count} checks)")
        return 0
    except Failure as failure:
        print(f"dashboard-test: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        traffic.stopped.set()
        if driver is not None:
            driver.quit()
        instance.stop()
        for server in servers:
            server.shutdown()
        echo.stopped.set()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edgesplit", required=True, help="the edgesplit binary")
    parser.add_argument("--screenshot", default=".build/dashboard.png")
    parser.add_argument("--history", type=float, default=8, help="seconds of traffic before the screenshot")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
