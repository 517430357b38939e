import Foundation

/// `edgesplit stats --merge` output: JSON with stable snake_case keys (`Encodable`), and a
/// text report.
extension MergedStats: Encodable {
    private enum Keys: String, CodingKey {
        case hosts, totals, listeners, rules, members, disagreements, host, instance, running, accepted, requests, name, farm, member, active
        case configDigest = "config_digest", configDigestsAgree = "config_digests_agree", bytesIn = "bytes_in", bytesOut = "bytes_out"
        case requestsByHost = "requests_by_host", stateByHost = "state_by_host"
        case status1xx = "status_1xx", status2xx = "status_2xx", status3xx = "status_3xx", status4xx = "status_4xx", status5xx = "status_5xx"
    }

    /// Whether every running host serves the same configuration.
    public var configurationDigestsAgree: Bool {
        Set(hosts.filter(\.running).map { $0.configurationDigest ?? "" }).count <= 1
    }

    /// The report as one JSON object (hosts in the order given; per-host figures keyed by the
    /// host's name).
    public func encode(to encoder: any Encoder) throws {
        let names = hosts.map(\.name)
        func byHost<Value>(_ values: [Value]) -> [String: Value] {
            Dictionary(zip(names, values), uniquingKeysWith: { first, _ in first })
        }
        var c = encoder.container(keyedBy: Keys.self)
        var hostList = c.nestedUnkeyedContainer(forKey: .hosts)
        for h in hosts {
            var o = hostList.nestedContainer(keyedBy: Keys.self)
            try o.encode(h.name, forKey: .host)
            try o.encode(h.instance, forKey: .instance)
            try o.encode(h.running, forKey: .running)
            try o.encode(h.configurationDigest, forKey: .configDigest)
            try o.encode(h.accepted, forKey: .accepted)
            try o.encode(h.requests, forKey: .requests)
        }
        var totals = c.nestedContainer(keyedBy: Keys.self, forKey: .totals)
        try totals.encode(hosts.reduce(UInt64(0)) { $0 &+ $1.accepted }, forKey: .accepted)
        try totals.encode(hosts.reduce(UInt64(0)) { $0 &+ $1.requests }, forKey: .requests)
        for (key, entries) in [(Keys.listeners, listeners), (.rules, rules)] {
            var list = c.nestedUnkeyedContainer(forKey: key)
            for t in entries {
                var o = list.nestedContainer(keyedBy: Keys.self)
                try o.encode(t.name, forKey: .name)
                try o.encode(t.requests, forKey: .requests)
                for (status, count) in zip([Keys.status1xx, .status2xx, .status3xx, .status4xx, .status5xx], t.statusClasses) {
                    try o.encode(count, forKey: status)
                }
                try o.encode(t.bytesIn, forKey: .bytesIn)
                try o.encode(t.bytesOut, forKey: .bytesOut)
                try o.encode(byHost(t.requestsByHost), forKey: .requestsByHost)
            }
        }
        var memberList = c.nestedUnkeyedContainer(forKey: .members)
        for m in members {
            var o = memberList.nestedContainer(keyedBy: Keys.self)
            try o.encode(m.farm, forKey: .farm)
            try o.encode(m.member, forKey: .member)
            try o.encode(m.requests, forKey: .requests)
            try o.encode(m.active, forKey: .active)
            try o.encode(byHost(m.requestsByHost), forKey: .requestsByHost)
            // A host that does not list the member: `null`.
            try o.encode(byHost(m.states), forKey: .stateByHost)
        }
        try c.encode(configurationDigestsAgree, forKey: .configDigestsAgree)
        try c.encode(disagreements, forKey: .disagreements)
    }

    /// What `edgesplit stats --merge` prints: hosts, then totals by rule and by member with
    /// each host's share, then the disagreements.
    public var text: String {
        var out = "edgesplit stats — \(hosts.count) edge hosts merged\n\nHOSTS\n"
        out += Self.row(["host", "instance", "config sha256", "accepted", "requests"], [28, 16, 16, 12, 12])
        for h in hosts {
            out += Self.row(
                [h.name, h.instance, h.running ? Self.short(h.configurationDigest) : "(not running)", String(h.accepted), String(h.requests)],
                [28, 16, 16, 12, 12]
            )
        }
        let hostColumns = hosts.map { Self.abbreviated($0.name) }
        let share = { (total: UInt64, part: UInt64) -> String in
            total == 0 ? String(part) : String(format: "%llu (%.0f%%)", part, Double(part) * 100 / Double(total))
        }
        for (title, entries) in [("LISTENERS", listeners), ("RULES", rules)] {
            out += "\n\(title)\n"
            let widths = [24, 10, 8, 8, 8, 8] + hostColumns.map { _ in 16 }
            out += Self.row(["name", "requests", "2xx", "3xx", "4xx", "5xx"] + hostColumns, widths)
            for t in entries where !(t.name == "(no rule)" && t.requests == 0) {
                out += Self.row(
                    [t.name, String(t.requests), String(t.statusClasses[1]), String(t.statusClasses[2]),
                     String(t.statusClasses[3]), String(t.statusClasses[4])]
                        + t.requestsByHost.map { share(t.requests, $0) },
                    widths
                )
            }
        }
        out += "\nFARM MEMBERS  (requests forwarded; state on each host)\n"
        let widths = [14, 24, 10, 8] + hostColumns.map { _ in 22 }
        out += Self.row(["farm", "member", "requests", "active"] + hostColumns, widths)
        for m in members {
            let cells = zip(m.requestsByHost, m.states).map { requests, state in
                "\(state ?? "-") \(share(m.requests, requests))"
            }
            out += Self.row([m.farm, m.member, String(m.requests), String(m.active)] + cells, widths)
        }
        out += "\nDISAGREEMENTS\n"
        out += disagreements.isEmpty ? "  none: same configuration digest, same member states on every host\n"
            : disagreements.map { "  \($0)\n" }.joined()
        return out
    }

    /// A host column heading: the file or socket name without its directory.
    static func abbreviated(_ host: String) -> String {
        host.split(separator: "/").last.map(String.init) ?? host
    }

    private static func row(_ cells: [String], _ widths: [Int]) -> String {
        var line = ""
        for (i, cell) in cells.enumerated() {
            let width = i < widths.count ? widths[i] : 12
            line += cell.count >= width ? cell + " " : cell + String(repeating: " ", count: width - cell.count)
        }
        return line.trimmingCharacters(in: .whitespaces) + "\n"
    }
}
