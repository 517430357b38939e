import AdminServer
import EdgeTLS
import Forwarding
import Foundation
import MemberConnections
import NIOCore
import Publishing
import Steering

/// The management API of a running server: farm members' state, members drained by the admin and the
/// collected counters. The control socket, `/metrics` and the tests use it.
extension ProxyServer {
    /// Everything `edgesplit stats` shows about the process, collected from every worker.
    public struct Stats: Sendable {
        public struct Certificate: Sendable {
            public let listener: String
            public let subject: String
            public let names: [String]
            public let notValidAfter: Date
            /// Who signs handshakes with its key: "BoringSSL", or the host's OpenSSL for RSA.
            public let signer: String
            /// "none" (no ocsp file), "stapled", or why no staple is sent.
            public let ocsp: String
            public let ocspNextUpdate: Date?
        }

        /// One TLS listener's handshakes (summed over its certificates and the workers).
        public struct ListenerTLS: Sendable {
            public let listener: String
            public let handshakes: UInt64
            public let resumed: UInt64
            /// resumed / handshakes, 0 before the first handshake.
            public var resumptionRate: Double { handshakes == 0 ? 0 : Double(resumed) / Double(handshakes) }
        }

        public var instance: String
        public var startedAt: Date
        package var workers: [WorkerStats]
        /// Per listener and per rule (the last rule entry is "no rule"), summed over workers.
        package var listeners: [(name: String, traffic: TrafficCounters)]
        package var rules: [(name: String, traffic: TrafficCounters)]
        public var members: [MemberStatus]
        /// Exchanges in flight per member, in `members` order.
        public var membersActive: [Int]
        public var certificates: [Certificate]
        public var tls: [ListenerTLS]
        public var tickets: SessionTicketKeys.Status
        /// Per L4 route, summed over workers, with the bytes the kernel spliced.
        public var l4Routes: [L4RouteStats]
        /// Whether L4 routes are spliced in the kernel (false: copied in userspace).
        public var spliceLoaded: Bool
        /// Bytes the splice program dropped because a socket's peer was gone.
        public var splicedBytesDropped: UInt64
        /// Exchanges forwarded per member since the configuration was loaded, in `members` order.
        public var membersForwarded: [UInt64] = []
        /// SHA-256 of the configuration text being served (`RuntimeConfiguration.digest`).
        public var configurationDigest: String? = nil
        /// The last `ServerErrorAnswer.kept` 5xx answers of all workers, newest first.
        package var recentServerErrors: [ServerErrorAnswer] = []
    }

    /// One L4 route's counters.
    public struct L4RouteStats: Sendable {
        public let name: String
        public let listener: String
        public let farm: String
        package var counters: L4RouteCounters
        /// Bytes the kernel forwarded client → member and member → client.
        public var splicedToMember: UInt64
        public var splicedToClient: UInt64
    }

    /// A consistent-enough snapshot: each worker copies its own counters on its own loop.
    public func stats() -> EventLoopFuture<Stats> {
        let loop = group.next()
        let config = runtime.config
        let digest = runtime.digest
        let perWorker = workers.map { worker in
            worker.eventLoop.submit {
                (worker.statsSnapshot(), worker.balancers.map(\.outstandingRequests), worker.balancers.map(\.forwarded))
            }
        }
        let certificates = config.listeners.enumerated().flatMap { index, listener -> [Stats.Certificate] in
            (runtime.listenerCertificates[index]?.entries ?? []).map { entry in
                var ocsp = "none"
                var nextUpdate: Date?
                switch entry.hooks.staple {
                case .notConfigured: break
                case .stapled(_, let next): (ocsp, nextUpdate) = ("stapled", next)
                case .rejected(let reason): ocsp = reason
                }
                return Stats.Certificate(
                    listener: listener.name, subject: entry.subject, names: entry.names, notValidAfter: entry.notValidAfter,
                    signer: entry.signer, ocsp: ocsp, ocspNextUpdate: nextUpdate
                )
            }
        }
        let tls = config.listeners.enumerated().compactMap { index, listener -> Stats.ListenerTLS? in
            guard let counts = runtime.listenerCertificates[index]?.handshakeCounts else { return nil }
            return Stats.ListenerTLS(listener: listener.name, handshakes: counts.handshakes, resumed: counts.resumed)
        }
        let tickets = ticketKeys.status
        let startedAt = self.startedAt
        let spliced = spliceCounters()
        let routeOwners = config.listeners.flatMap { listener in listener.l4Routes.map { (listener.name, $0) } }
        return EventLoopFuture.whenAllSucceed(perWorker, on: loop).and(memberStatus()).map { collected, members in
            let workers = collected.map(\.0)
            var listeners = config.listeners.map { (name: $0.name, traffic: TrafficCounters()) }
            var rules = config.rules.map { (name: $0.name, traffic: TrafficCounters()) } + [(name: "(no rule)", traffic: TrafficCounters())]
            var active = Array(repeating: 0, count: members.count)
            let forwarded = collected.map { $0.2.flatMap { $0 } }.reduce(Array(repeating: UInt64(0), count: members.count)) {
                zip($0, $1).map { $0 &+ $1 }
            }
            for (worker, outstanding, _) in collected {
                for i in listeners.indices { listeners[i].traffic.add(worker.listeners[i]) }
                for i in rules.indices { rules[i].traffic.add(worker.rules[i]) }
                var position = 0
                for farm in outstanding {
                    for count in farm {
                        active[position] += count
                        position += 1
                    }
                }
            }
            let l4Routes = routeOwners.enumerated().map { index, owner in
                var counters = L4RouteCounters()
                for worker in workers where index < worker.l4Routes.count { counters.add(worker.l4Routes[index]) }
                let kernel = index < (spliced?.toMember.count ?? 0)
                return L4RouteStats(
                    name: owner.1.name, listener: owner.0, farm: owner.1.farm, counters: counters,
                    splicedToMember: kernel ? spliced!.toMember[index] : 0, splicedToClient: kernel ? spliced!.toClient[index] : 0)
            }
            // What ended before the last two 10-second slots is no longer recent, whichever
            // worker last recorded it.
            let slot = RecentLatency.slot(of: .now())
            for i in listeners.indices { listeners[i].traffic.recentLatency.advance(to: slot) }
            for i in rules.indices { rules[i].traffic.recentLatency.advance(to: slot) }
            let recent = workers.flatMap(\.recentServerErrors).sorted { $0.time > $1.time }.prefix(ServerErrorAnswer.kept)
            return Stats(
                instance: config.instance, startedAt: startedAt, workers: workers, listeners: listeners,
                rules: rules, members: members, membersActive: active, certificates: certificates, tls: tls,
                tickets: tickets,
                l4Routes: l4Routes, spliceLoaded: spliced != nil, splicedBytesDropped: spliced?.dropped ?? 0,
                membersForwarded: forwarded, configurationDigest: digest,
                recentServerErrors: Array(recent)
            )
        }
    }

    /// One farm member's state, as `edgesplit farm status` shows it.
    public struct MemberStatus: Sendable {
        public let farm: String
        public let member: String
        public let up: Bool
        public let drained: Bool
        public let activeChecks: Bool
        public let consecutiveFailures: Int
        public let lastCheck: String
        public let lastCheckAt: Date?

        public var state: String { drained ? "drained" : (up ? "up" : "down") }
    }

    public enum ManagementError: Error, CustomStringConvertible {
        case notRunning
        case noSuchFarm(String, known: [String])
        case noSuchMember(farm: String, member: String, known: [String])

        public var description: String {
            switch self {
            case .notRunning: return "the server is not running"
            case .noSuchFarm(let farm, let known): return "no farm '\(farm)' (farms are: \(known.joined(separator: ", ")))"
            case .noSuchMember(let farm, let member, let known):
                return "farm '\(farm)' has no member '\(member)' (members are: \(known.joined(separator: ", ")))"
            }
        }
    }

    /// Every farm member's health and whether the admin drained it.
    public func memberStatus() -> EventLoopFuture<[MemberStatus]> {
        guard let monitor else { return group.next().makeFailedFuture(ManagementError.notRunning) }
        let farms = runtime.config.farms
        return monitor.snapshot().map { states in
            farms.enumerated().flatMap { f, farm in
                farm.members.enumerated().map { m, member in
                    let state = states[f][m]
                    return MemberStatus(
                        farm: farm.name, member: member.text, up: state.up, drained: state.drained,
                        activeChecks: farm.health != nil, consecutiveFailures: state.failures,
                        lastCheck: state.lastResult, lastCheckAt: state.lastCheck
                    )
                }
            }
        }
    }

    /// A member drained by the admin (`farm drain`): it gets no new clients; exchanges in
    /// progress finish.
    /// `member` is the member as written in the configuration, or its index.
    public func setDrained(farm farmName: String, member memberText: String, _ drained: Bool) -> EventLoopFuture<Void> {
        guard let monitor else { return group.next().makeFailedFuture(ManagementError.notRunning) }
        let farms = runtime.config.farms
        guard let f = farms.firstIndex(where: { $0.name == farmName }) else {
            return group.next().makeFailedFuture(ManagementError.noSuchFarm(farmName, known: farms.map(\.name)))
        }
        let members = farms[f].members
        guard let m = members.firstIndex(where: { $0.text == memberText })
            ?? Int(memberText).flatMap({ members.indices.contains($0) ? $0 : nil })
        else {
            return group.next().makeFailedFuture(
                ManagementError.noSuchMember(farm: farmName, member: memberText, known: members.map(\.text))
            )
        }
        // The monitor hands its verdict to each worker with a task on that worker's loop; a
        // task queued behind it on every worker completes only once all of them applied it,
        // so no exchange started after this future completes goes to a drained member.
        let workers = self.workers
        return monitor.setDrained(farm: f, member: m, drained: drained).flatMap {
            EventLoopFuture.andAllSucceed(workers.map { $0.eventLoop.submit {} }, on: workers[0].eventLoop)
        }
    }
}
