import Foundation

/// `edgesplit stats --merge` output: JSON with stable snake_case keys, and a text report.
extension MergedStats {
    /// The report as a JSON object (hosts in the order given).
    public var json: [String: Any] {
        let names = hosts.map(\.name)
        func byHost<T>(_ values: [T]) -> [String: Any] {
            Dictionary(uniqueKeysWithValues: zip(names, values.map { $0 as Any }))
        }
        func traffic(_ t: Traffic) -> [String: Any] {
            [
                "name": t.name, "requests": t.requests,
                "status_1xx": t.statusClasses[0], "status_2xx": t.statusClasses[1], "status_3xx": t.statusClasses[2],
                "status_4xx": t.statusClasses[3], "status_5xx": t.statusClasses[4],
                "bytes_in": t.bytesIn, "bytes_out": t.bytesOut,
                "requests_by_host": byHost(t.requestsByHost),
            ]
        }
        return [
            "hosts": hosts.map { h -> [String: Any] in
                [
                    "host": h.name, "instance": h.instance, "running": h.running,
                    "config_digest": h.configurationDigest.map { $0 as Any } ?? NSNull(),
                    "accepted": h.accepted, "requests": h.requests,
                ]
            },
            "totals": [
                "accepted": hosts.reduce(UInt64(0)) { $0 &+ $1.accepted },
                "requests": hosts.reduce(UInt64(0)) { $0 &+ $1.requests },
            ] as [String: Any],
            "listeners": listeners.map(traffic),
            "rules": rules.map(traffic),
            "members": members.map { m -> [String: Any] in
                [
                    "farm": m.farm, "member": m.member, "requests": m.requests, "active": m.active,
                    "requests_by_host": byHost(m.requestsByHost),
                    "state_by_host": byHost(m.states.map { $0.map { $0 as Any } ?? NSNull() }),
                ]
            },
            "config_digests_agree": Set(hosts.filter(\.running).map { $0.configurationDigest ?? "" }).count <= 1,
            "disagreements": disagreements,
        ]
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
