#!/usr/bin/env python3
"""Scans TLS listeners with sslscan and fails on anything weak (driven by `Scripts/tls-scan`).

Policy (what fails):
  - protocols: SSLv2, SSLv3, TLS 1.0 and TLS 1.1 enabled (TLS 1.2 and 1.3 only);
  - ciphers: anything that is not forward-secret AEAD: NULL, anonymous (ADH, AECDH, anon),
    EXPORT, RC4, DES and 3DES, MD5, every CBC suite (SHA1 *and* SHA256/384: Lucky13-style
    padding oracles, and no client edgesplit serves needs them), static RSA key exchange,
    DHE, keys under 128 bits; a TLS 1.2 suite must be ECDHE with GCM or ChaCha20-Poly1305;
  - insecure renegotiation, TLS compression, Heartbleed;
  - the certificate: RSA under 2048 bits, EC under 256, a SHA-1 or MD5 signature.
Certificate trust (self-signed, expiry) is `edgesplit check`'s business, not this scan's.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench.d"))
import proxies  # noqa: E402  (certificates, the configuration template, process control)

WEAK_PROTOCOLS = {("ssl", "2"), ("ssl", "3"), ("tls", "1.0"), ("tls", "1.1")}
WEAK_CIPHER = re.compile(r"NULL|ADH|AECDH|anon|EXP|RC4|DES|MD5|CBC|IDEA|SEED|CAMELLIA|ARIA|PSK|SRP", re.I)
AEAD = re.compile(r"GCM|CHACHA20|CCM")


def judge(xml_text, target):
    """Findings (strings) for one sslscan XML report; empty when the listener passes."""
    root = ET.fromstring(xml_text)
    test = root.find("ssltest")
    if test is None:
        return [f"{target}: sslscan produced no result: {root.findtext('error') or xml_text[:200]}"]
    findings, accepted = [], []
    for p in test.findall("protocol"):
        if p.get("enabled") == "1" and (p.get("type"), p.get("version")) in WEAK_PROTOCOLS:
            findings.append(f"{target}: protocol {p.get('type').upper()}v{p.get('version')} is enabled")
    for c in test.findall("cipher"):
        name, version, bits = c.get("cipher"), c.get("sslversion"), int(c.get("bits", "0"))
        accepted.append(f"{version} {name}")
        why = []
        if WEAK_CIPHER.search(name):
            why.append("weak algorithm")
        if not AEAD.search(name):
            why.append("not AEAD (CBC)")
        if version == "TLSv1.2" and not name.startswith("ECDHE-"):
            why.append("no ECDHE key exchange")
        if bits < 128:
            why.append(f"{bits}-bit")
        if why:
            findings.append(f"{target}: cipher {version} {name}: {', '.join(why)}")
    if not accepted:
        findings.append(f"{target}: no cipher accepted (is it a TLS listener?)")
    r = test.find("renegotiation")
    if r is not None and r.get("supported") == "1" and r.get("secure") != "1":
        findings.append(f"{target}: insecure renegotiation")
    comp = test.find("compression")
    if comp is not None and comp.get("supported") == "1":
        findings.append(f"{target}: TLS compression (CRIME)")
    for h in test.findall("heartbleed"):
        if h.get("vulnerable") == "1":
            findings.append(f"{target}: Heartbleed over {h.get('sslversion')}")
    for cert in test.iter("certificate"):
        pk = cert.find("pk")
        if pk is not None:
            kind, bits = pk.get("type"), int(pk.get("bits", "0"))
            # sslscan gives an EC key's security bits (P-256: 128); RSA keys by modulus size.
            if (kind == "RSA" and bits < 2048) or (kind == "EC" and bits < 128):
                findings.append(f"{target}: certificate {kind} key of {bits} bits")
        sig = (cert.findtext("signature-algorithm") or "").lower()
        if "sha1" in sig or "md5" in sig:
            findings.append(f"{target}: certificate signed with {sig}")
    return findings, accepted


def scan(target, sni, attempts=3):
    """One complete sslscan report judged. edgesplit closes a connection whose first bytes are no
    acceptable ClientHello (sslscan's SSLv2 and SSLv3 probes) as soon as it has read them, and
    sslscan may still be writing the rest: with SIGPIPE ignored it sees EPIPE, and then it
    sometimes abandons the whole scan ("send() failed: Broken pipe"). An abandoned scan says
    nothing either way, so it is run again; every judged report is a complete one."""
    for attempt in range(1, attempts + 1):
        out = subprocess.run(["sslscan", "--no-colour", "--xml=-", f"--sni-name={sni}", target],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                             preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
        text = out.stdout.decode(errors="replace")
        start = text.find("<?xml")
        if start >= 0 and "</document>" in text:
            return judge(text[start:], target)
        said = (out.stderr.decode(errors="replace") + text[-300:]).strip()
        print(f"{target}: sslscan stopped early (attempt {attempt}, exit {out.returncode}): {said[-160:]}")
    return [f"{target}: sslscan did not complete in {attempts} attempts"], []


def own_listeners(edgesplit, work):
    """Starts edgesplit on loopback with the benchmark's configuration (an ECDSA and an RSA
    listener); the scan needs no member, so none runs."""
    proxies.make_certs(work)
    ecdsa, rsa, member, member_tls = proxies.free_ports(4)
    conf = proxies.render("edgesplit.yaml", f"{work}/edgesplit.yaml", PORT_ECDSA=ecdsa, PORT_RSA=rsa,
                          INSTANCE=f"tlsscan-{os.getpid()}", WORK=work, BACKEND_HTTP=member,
                          BACKEND_HTTPS=member_tls, APP=proxies.APP, REENC=proxies.REENC,
                          BACKEND_NAME=proxies.BACKEND_NAME)
    p = proxies.spawn("edgesplit", [edgesplit, "serve", "--config", conf, "--no-bpf", "--workers", "1"],
                      f"0-{os.cpu_count() - 1}", work)
    proxies.wait_port(ecdsa, p)
    proxies.wait_port(rsa, p)
    return [f"127.0.0.1:{ecdsa}", f"127.0.0.1:{rsa}"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="*", help="HOST:PORT of running listeners; none: start edgesplit")
    ap.add_argument("--edgesplit", help="binary to start when no target is given")
    ap.add_argument("--sni", default=proxies.APP, help="server name to send")
    a = ap.parse_args()
    work, _ = proxies.begin("edgesplit-tlsscan-")
    try:
        targets = a.targets
        if not targets:
            targets = own_listeners(a.edgesplit, work)
        failed = False
        for target in targets:
            findings, accepted = scan(target, a.sni)
            print(f"{target}: accepts {', '.join(accepted) or 'nothing'}")
            for f in findings:
                print(f"  WEAK: {f}")
            failed |= bool(findings)
        print("tls-scan: FAILED" if failed else f"tls-scan: passed ({len(targets)} listener(s), policy in Scripts/tls-scan.d/tls_scan.py)")
        return 1 if failed else 0
    finally:
        proxies.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
