import Foundation

/// The stats of several edge hosts of one farm, merged into one report: totals by rule,
/// listener and farm member, and what the hosts disagree on.
///
/// Pure: it takes the JSON objects `edgesplit stats --json` prints (or the control socket's
/// `stats` answer, which is that object's `process` part) and does no I/O; the command reads
/// files and sockets. Hosts of one farm run the same configuration file, so they must show
/// the same configuration digest and, in the operator's eyes, the same member states; the
/// report names every difference instead of hiding it in a sum.
public struct MergedStats {
    /// One host as given: a name (the file or socket it was read from) and its stats.
    public struct Input {
        public let host: String
        public let stats: [String: Any]

        public init(host: String, stats: [String: Any]) {
            self.host = host
            self.stats = stats
        }
    }

    /// One host's headline figures.
    public struct Host: Equatable {
        public let name: String
        public let instance: String
        /// Nil when the host sent none (an older edgesplit) or is not running.
        public let configurationDigest: String?
        /// False when the input holds no process part (`"running": false`).
        public let running: Bool
        public let accepted: UInt64
        public let requests: UInt64
    }

    /// Requests, status classes and bytes, summed over hosts; requests also per host.
    public struct Traffic: Equatable {
        public let name: String
        public var requests: UInt64 = 0
        /// 1xx…5xx.
        public var statusClasses: [UInt64] = [0, 0, 0, 0, 0]
        public var bytesIn: UInt64 = 0
        public var bytesOut: UInt64 = 0
        /// In host order; 0 for a host that does not have this name.
        public var requestsByHost: [UInt64]
        /// In host order: whether the host lists this name at all.
        public var presentOn: [Bool]
    }

    /// One farm member over every host.
    public struct Member: Equatable {
        public let farm: String
        public let member: String
        /// Exchanges forwarded to it, summed over hosts.
        public var requests: UInt64 = 0
        /// In flight now, summed over hosts.
        public var active: UInt64 = 0
        /// In host order: up, down, drained, or nil when the host does not list the member.
        public var states: [String?]
        public var requestsByHost: [UInt64]
    }

    public let hosts: [Host]
    public let listeners: [Traffic]
    public let rules: [Traffic]
    public let members: [Member]
    /// One sentence per difference an operator should look at; empty when the hosts agree.
    public let disagreements: [String]

    public init(_ inputs: [Input]) {
        let processes = inputs.map { Self.process(of: $0.stats) }
        hosts = zip(inputs, processes).map { input, process in
            let workers = process?["workers"] as? [[String: Any]] ?? []
            return Host(
                name: input.host,
                instance: process?["instance"] as? String ?? input.stats["instance"] as? String ?? "?",
                configurationDigest: process?["config_digest"] as? String,
                running: process != nil,
                accepted: workers.reduce(0) { $0 &+ Self.count($1["accepted"]) },
                requests: workers.reduce(0) { $0 &+ Self.count($1["requests"]) }
            )
        }
        listeners = Self.traffic(key: "listeners", processes)
        rules = Self.traffic(key: "rules", processes)
        members = Self.members(processes)
        disagreements = Self.disagreements(hosts: hosts, listeners: listeners, rules: rules, members: members)
    }

    /// The process part of `stats --json` (`process`), or the object itself when it is the
    /// control socket's answer; nil when the host's process was not reachable.
    static func process(of stats: [String: Any]) -> [String: Any]? {
        if stats.keys.contains("process") { return stats["process"] as? [String: Any] }
        return stats["workers"] != nil || stats["rules"] != nil ? stats : nil
    }

    static func count(_ value: Any?) -> UInt64 {
        switch value {
        case let v as UInt64: return v
        case let v as Int: return UInt64(max(0, v))
        case let v as Double: return v.isFinite && v > 0 ? UInt64(v) : 0
        case let v as NSNumber: return v.uint64Value
        default: return 0
        }
    }

    /// Names in the order they first appear, host by host.
    private static func traffic(key: String, _ processes: [[String: Any]?]) -> [Traffic] {
        var merged: [Traffic] = []
        var index: [String: Int] = [:]
        for (h, process) in processes.enumerated() {
            for entry in process?[key] as? [[String: Any]] ?? [] {
                let name = entry["name"] as? String ?? "?"
                let i = index[name] ?? {
                    merged.append(Traffic(
                        name: name, requestsByHost: Array(repeating: 0, count: processes.count),
                        presentOn: Array(repeating: false, count: processes.count)
                    ))
                    index[name] = merged.count - 1
                    return merged.count - 1
                }()
                let requests = count(entry["requests"])
                merged[i].presentOn[h] = true
                merged[i].requests &+= requests
                merged[i].requestsByHost[h] &+= requests
                for (c, status) in ["status_1xx", "status_2xx", "status_3xx", "status_4xx", "status_5xx"].enumerated() {
                    merged[i].statusClasses[c] &+= count(entry[status])
                }
                merged[i].bytesIn &+= count(entry["bytes_in"])
                merged[i].bytesOut &+= count(entry["bytes_out"])
            }
        }
        return merged
    }

    private static func members(_ processes: [[String: Any]?]) -> [Member] {
        var merged: [Member] = []
        var index: [String: Int] = [:]
        for (h, process) in processes.enumerated() {
            for entry in process?["members"] as? [[String: Any]] ?? [] {
                let farm = entry["farm"] as? String ?? "?"
                let member = entry["member"] as? String ?? "?"
                let key = farm + "\u{0}" + member
                let i = index[key] ?? {
                    merged.append(Member(
                        farm: farm, member: member,
                        states: Array(repeating: nil, count: processes.count),
                        requestsByHost: Array(repeating: 0, count: processes.count)
                    ))
                    index[key] = merged.count - 1
                    return merged.count - 1
                }()
                let requests = count(entry["requests"])
                merged[i].requests &+= requests
                merged[i].requestsByHost[h] &+= requests
                merged[i].active &+= count(entry["active"])
                merged[i].states[h] = entry["state"] as? String ?? "?"
            }
        }
        return merged
    }

    private static func disagreements(hosts: [Host], listeners: [Traffic], rules: [Traffic], members: [Member]) -> [String] {
        var found: [String] = []
        let running = hosts.indices.filter { hosts[$0].running }
        for host in hosts where !host.running {
            found.append("\(host.name): the process is not running or not reachable; its figures are missing")
        }
        let digests = running.map { hosts[$0].configurationDigest }
        if Set(digests.map { $0 ?? "" }).count > 1 {
            let listed = running.map { "\(hosts[$0].name) \(Self.short(hosts[$0].configurationDigest))" }
            found.append("configuration digests differ: " + listed.joined(separator: ", "))
        }
        let instances = Set(running.map { hosts[$0].instance })
        if instances.count > 1 {
            found.append("instance names differ: " + running.map { "\(hosts[$0].name) \(hosts[$0].instance)" }.joined(separator: ", "))
        }
        for member in members {
            let states = running.map { member.states[$0] }
            let missing = running.filter { member.states[$0] == nil }.map { hosts[$0].name }
            if !missing.isEmpty {
                found.append("farm \(member.farm) member \(member.member) is not configured on \(missing.joined(separator: ", "))")
            } else if Set(states.map { $0 ?? "" }).count > 1 {
                let listed = running.map { "\(member.states[$0] ?? "?") on \(hosts[$0].name)" }
                found.append("farm \(member.farm) member \(member.member) is " + listed.joined(separator: ", "))
            }
        }
        for (kind, entries) in [("listener", listeners), ("rule", rules)] {
            for entry in entries {
                let missing = running.filter { !entry.presentOn[$0] }.map { hosts[$0].name }
                if !missing.isEmpty {
                    found.append("\(kind) \(entry.name) is not configured on \(missing.joined(separator: ", "))")
                }
            }
        }
        return found
    }

    /// The first 12 hex digits, enough to tell two digests apart at a glance.
    static func short(_ digest: String?) -> String {
        guard let digest else { return "(none)" }
        return String(digest.prefix(12))
    }
}
