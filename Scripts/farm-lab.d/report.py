#!/usr/bin/env python3
"""What Scripts/farm-lab saw, per scenario: who reached which host and member, and whether
the farm kept its promises. Prints the figures; exits 1 when a promise was broken."""
import collections
import json
import sys

failures = []


def check(condition, message):
    print(("   ok: " if condition else "   FAILED: ") + message)
    if not condition:
        failures.append(message)


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def members_by_client(records):
    seen = collections.defaultdict(set)
    for r in records:
        if r.get("ok"):
            seen[r["client"]].add(r["member"])
    return seen


def share_check(records):
    ok = [r for r in records if r.get("ok")]
    hosts = collections.Counter(r["edge"] for r in ok)
    total = sum(hosts.values())
    for edge in ("edge-a", "edge-b"):
        share = 100 * hosts[edge] / total if total else 0
        check(30 <= share <= 70, f"{edge} took {hosts[edge]} of {total} connections ({share:.1f} %, between 30 % and 70 %)")


def source(path):
    records = load(path)
    by_client = collections.defaultdict(list)
    for r in records:
        by_client[r["client"]].append(r)
    print("   client          hosts (connections)       member")
    for client in sorted(by_client, key=lambda a: tuple(int(x) for x in a.split("."))):
        rs = by_client[client]
        hosts = collections.Counter(r.get("edge") or "failed" for r in rs)
        cell = " ".join(f"{h}×{n}" for h, n in sorted(hosts.items()))
        print(f"   {client:<15} {cell:<25} {' '.join(sorted({r['member'] for r in rs if r.get('ok')}))}")
    check(all(r.get("ok") and r["status"] == 200 for r in records), f"all {len(records)} connections answered 200")
    share_check(records)
    seen = members_by_client(records)
    both = sum(1 for c, rs in by_client.items() if len({r.get("edge") for r in rs}) == 2)
    check(all(len(m) == 1 for m in seen.values()), f"each of {len(seen)} clients reached one member "
          f"({both} of them through both hosts)")
    print("   members:", dict(sorted(collections.Counter(r["member"] for r in records if r.get("ok")).items())))


def token(set_cookie):
    return set_cookie.split(";", 1)[0] if set_cookie else None


def cookie_plan(issue_path):
    records = [r for r in load(issue_path) if r.get("ok")]
    names = sorted({r["member"] for r in records})
    issued = collections.defaultdict(dict)  # member -> edge -> cookie
    for r in records:
        if r.get("set_cookie"):
            issued[r["member"]][r["edge"]] = token(r["set_cookie"])
    plan = {"cookies": {}, "issuer": {}, "expect": {}}
    for r in records:
        wanted = names[(names.index(r["member"]) + 1) % len(names)]
        tokens = issued.get(wanted, {})
        issuer = r["edge"] if r["edge"] in tokens else next(iter(tokens), None)
        if issuer is None:
            continue
        plan["cookies"][r["client"]] = tokens[issuer]
        plan["issuer"][r["client"]] = issuer
        plan["expect"][r["client"]] = wanted
    plan["tokens"] = issued
    print(json.dumps(plan))


def cookie(issue_path, path, plan_path):
    issue = load(issue_path)
    plan = json.load(open(plan_path))
    records = load(path)
    check(all(r.get("ok") and r.get("set_cookie") for r in issue),
          f"all {len(issue)} first requests (no cookie) answered with a Set-Cookie")
    same = all(len(set(by_edge.values())) == 1 for by_edge in plan["tokens"].values())
    check(same, "both hosts issue the same token for each member: "
          + ", ".join(f"{m} {sorted(set(e.values()))[0].split('=')[1]}" for m, e in sorted(plan["tokens"].items())))
    check(all(r.get("ok") for r in records), f"all {len(records)} requests with a cookie answered")
    honoured = [r for r in records if r.get("ok") and r["member"] == plan["expect"].get(r["client"])]
    check(len(honoured) == len(records), f"{len(honoured)} of {len(records)} reached the member their token names "
          "(the member after the one source persistence picks)")
    pairs = collections.Counter((plan["issuer"][r["client"]], r["edge"]) for r in honoured)
    for issuer, server in (("edge-a", "edge-b"), ("edge-b", "edge-a")):
        check(pairs[(issuer, server)] > 0, f"tokens issued by {issuer} honoured by {server}: {pairs[(issuer, server)]}")
    check(not any(r.get("set_cookie") for r in records), "no Set-Cookie when the request carried a valid token")


def withdraw(path, at_path, syn_a, syn_b, source_path):
    records = load(path)
    began, at = (float(t) for t in open(at_path).read().split())
    host = {}
    for edge, syn in (("edge-a", syn_a), ("edge-b", syn_b)):
        for line in open(syn):
            address, port = line.split()
            # The clients never reuse a port in a run: one (address, port) is one connection.
            host[(address, int(port))] = "both" if (address, int(port)) in host else edge
    before = {c: next(iter(m)) for c, m in members_by_client(load(source_path)).items()}
    failed = [r for r in records if not r.get("ok")]
    in_flight_a = [r for r in records if r["start"] < at and r["end"] > began and host.get((r["client"], r["sport"])) == "edge-a"]
    print(f"   {len(records)} connections, {len(failed)} failed; {len(in_flight_a)} were in flight on edge-a when it was withdrawn")
    for r in failed[:5]:
        print(f"   failed: {r['client']}:{r['sport']} on {host.get((r['client'], r['sport']), '?')}: {r['error']}")
    check(all(r["start"] < at and host.get((r["client"], r["sport"])) == "edge-a" for r in failed),
          "every failed connection had started on edge-a before the withdrawal")
    later = [r for r in records if r["start"] > at + 0.5]
    check(later and all(r.get("ok") and r["edge"] == "edge-b" for r in later),
          f"all {len(later)} connections started 0.5 s after the withdrawal went to edge-b and were answered")
    moved = [r for r in records if r.get("ok") and before.get(r["client"], r["member"]) != r["member"]]
    check(not moved, f"every client kept the member it had in the source round ({len(moved)} did not)")
    clients_both = {r["client"] for r in records if r.get("ok") and r["edge"] == "edge-a"} & \
        {r["client"] for r in records if r.get("ok") and r["edge"] == "edge-b"}
    print(f"   {len(clients_both)} clients were answered by edge-a before and edge-b after")


def drain(source_path, path):
    before = members_by_client(load(source_path))
    records = load(path)
    after = members_by_client(records)
    check(all(r.get("ok") for r in records), f"all {len(records)} connections answered")
    check(all(len(m) == 1 for m in after.values()), "each client reached one member, whichever host took it")
    check(not any("fe2" in m for m in after.values()), "no client reached the drained fe2")
    kept = [c for c in after if before[c] != {"fe2"}]
    check(all(after[c] == before[c] for c in kept), f"the {len(kept)} clients of fe1 and fe3 kept their member")
    moved = collections.Counter(next(iter(after[c])) for c in after if before[c] == {"fe2"})
    print(f"   fe2's {sum(moved.values())} clients moved to: {dict(sorted(moved.items()))}")


def main():
    mode, *paths = sys.argv[1:]
    {"source": source, "cookie-plan": cookie_plan, "cookie": cookie, "withdraw": withdraw, "drain": drain}[mode](*paths)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
