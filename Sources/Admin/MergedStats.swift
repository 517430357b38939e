import Foundation

/// The stats of several edge hosts of one farm, merged into one report: totals by rule,
/// listener and farm member, and what the hosts disagree on.
///
/// Pure: it takes the documents `edgesplit stats --json` prints (or the control socket's
/// `stats` reply, which is that document's `process` part) and does no I/O; the command reads
/// files and sockets. Hosts of one farm run the same configuration file, so they must show
/// the same configuration digest and, in the operator's eyes, the same member states; the
/// report names every difference instead of hiding it in a sum.
public struct MergedStats: Sendable {
    /// One host as given: a name (the file or socket it was read from) and its stats.
    public struct Input: Sendable {
        public let host: String
        /// The instance name the document gives, for a host whose process is not running.
        public let instance: String?
        /// Nil when the host's process was not reachable.
        public let process: ProcessStats?

        public init(host: String, instance: String? = nil, process: ProcessStats?) {
            (self.host, self.instance, self.process) = (host, instance, process)
        }

        /// A saved `stats --json` document, or a saved control-socket `stats` reply (the
        /// process part alone).
        public init(host: String, json: Data) throws {
            let shape = try JSONDecoder().decode(Shape.self, from: json)
            if shape.isDocument {
                let document = try JSONDecoder().decode(StatsDocument.self, from: json)
                self.init(host: host, instance: document.instance, process: document.process)
            } else {
                let process = shape.isProcess ? try JSONDecoder().decode(ProcessStats.self, from: json) : nil
                self.init(host: host, instance: process?.instance, process: process)
            }
        }

        /// Which of the two a saved object is.
        private struct Shape: Decodable {
            var isDocument: Bool
            var isProcess: Bool

            enum CodingKeys: String, CodingKey { case process, workers, rules }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                isDocument = c.contains(.process)
                isProcess = c.contains(.workers) || c.contains(.rules)
            }
        }
    }

    /// One host's headline figures.
    public struct Host: Equatable, Sendable {
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
    public struct Traffic: Equatable, Sendable {
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
    public struct Member: Equatable, Sendable {
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
        let processes = inputs.map(\.process)
        hosts = inputs.map { input in
            let workers = input.process?.workers ?? []
            return Host(
                name: input.host,
                instance: [input.process?.instance, input.instance].compactMap { $0 }.first { !$0.isEmpty } ?? "?",
                configurationDigest: input.process?.configurationDigest,
                running: input.process != nil,
                accepted: workers.reduce(0) { $0 &+ $1.accepted },
                requests: workers.reduce(0) { $0 &+ $1.requests }
            )
        }
        listeners = Self.traffic(processes.map { $0?.listeners })
        rules = Self.traffic(processes.map { $0?.rules })
        members = Self.members(processes)
        disagreements = Self.disagreements(hosts: hosts, listeners: listeners, rules: rules, members: members)
    }

    /// Names in the order they first appear, host by host.
    private static func traffic(_ processes: [[ProcessStats.Traffic]?]) -> [Traffic] {
        var merged: [Traffic] = []
        var index: [String: Int] = [:]
        for (h, entries) in processes.enumerated() {
            for entry in entries ?? [] {
                let name = entry.name
                let i = index[name] ?? {
                    merged.append(Traffic(
                        name: name, requestsByHost: Array(repeating: 0, count: processes.count),
                        presentOn: Array(repeating: false, count: processes.count)
                    ))
                    index[name] = merged.count - 1
                    return merged.count - 1
                }()
                merged[i].presentOn[h] = true
                merged[i].requests &+= entry.requests
                merged[i].requestsByHost[h] &+= entry.requests
                for (c, count) in entry.statusClasses.prefix(5).enumerated() { merged[i].statusClasses[c] &+= count }
                merged[i].bytesIn &+= entry.bytesIn
                merged[i].bytesOut &+= entry.bytesOut
            }
        }
        return merged
    }

    private static func members(_ processes: [ProcessStats?]) -> [Member] {
        var merged: [Member] = []
        var index: [String: Int] = [:]
        for (h, process) in processes.enumerated() {
            for entry in process?.members ?? [] {
                let (farm, member) = (entry.farm, entry.member)
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
                merged[i].requests &+= entry.requests
                merged[i].requestsByHost[h] &+= entry.requests
                merged[i].active &+= UInt64(max(0, entry.active))
                merged[i].states[h] = entry.state
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
