import Admin
import AdminServer
import EdgeTLS
import Forwarding
import Foundation
import NIOCore
import Publishing

/// The control socket's commands (`ControlRequest`), mapped onto the management API.
extension ProxyServer {
    /// One decoded request on the control socket (see `ControlSocket`): a thin mapping onto
    /// the management API above. A failure becomes a `refused` reply, never a dropped line.
    package func handleControl(_ request: ControlRequest, on loop: EventLoop) -> EventLoopFuture<ControlReply> {
        @Sendable func failure(_ error: Error) -> EventLoopFuture<ControlReply> {
            loop.makeSucceededFuture(.refused("\(error)"))
        }
        switch request {
        case .ping:
            return loop.makeSucceededFuture(.pong(instance: runtime.config.instance, generation: generation))
        case .farmStatus:
            let farms = runtime.config.farms
            return memberStatus().map { members -> ControlReply in
                let formatter = ISO8601DateFormatter()
                return .farms(farms.map { farm in
                    FarmStatus(
                        name: farm.name, activeChecks: farm.health != nil,
                        members: members.filter { $0.farm == farm.name }.map { status in
                            FarmStatus.Member(
                                member: status.member, state: status.state, up: status.up, drained: status.drained,
                                consecutiveFailures: status.consecutiveFailures, lastCheck: status.lastCheck,
                                lastCheckAt: status.lastCheckAt.map { formatter.string(from: $0) } ?? "")
                        })
                })
            }.flatMapError(failure)
        case .retire:
            // A newer process of this instance accepts now (see `start()`).
            retire()
            return loop.makeSucceededFuture(.done)
        case .reload:
            let promise = loop.makePromise(of: ControlReply.self)
            DispatchQueue.global().async { [self] in
                do {
                    promise.succeed(.reloaded(generation: try reloadFromSource()))
                } catch {
                    promise.succeed(.refused("\(error)"))
                }
            }
            return promise.futureResult
        case .stats:
            return stats().map { .stats(ProcessStats($0)) }.flatMapError(failure)
        case .farmDrain(let farm, let member), .farmUndrain(let farm, let member):
            let drain = if case .farmDrain = request { true } else { false }
            return setDrained(farm: farm, member: member, drain).map { ControlReply.done }.flatMapError(failure)
        }
    }
}

extension ProcessStats {
    /// The server's collected `stats()` in the shared model: what the control socket sends,
    /// what `stats --json` prints as `process` and what the dashboard feed carries.
    public init(_ stats: ProxyServer.Stats, now: Date = Date()) {
        let iso = ISO8601DateFormatter()
        func traffic(_ name: String, _ t: TrafficCounters) -> Traffic {
            var figures = Traffic(name: name)
            (figures.requests, figures.statusClasses, figures.bytesIn, figures.bytesOut) = (t.requests, t.statusClasses, t.bytesIn, t.bytesOut)
            figures.latencyP50Milliseconds = t.latencyMilliseconds(percentile: 50)
            figures.latencyP99Milliseconds = t.latencyMilliseconds(percentile: 99)
            figures.recentLatencyP50Milliseconds = t.recentLatency.milliseconds(percentile: 50)
            figures.recentLatencyP99Milliseconds = t.recentLatency.milliseconds(percentile: 99)
            return figures
        }
        let workers = stats.workers.map { w in
            var figures = Worker(worker: w.index)
            (figures.accepted, figures.active, figures.requests) = (w.accepted, w.active, w.requests)
            (figures.tlsHandshakes, figures.tlsResumed, figures.tlsHandshakeFailures) = (w.tlsHandshakes, w.tlsResumed, w.tlsHandshakeFailures)
            (figures.clientHelloMalformed, figures.clientHelloTimeouts) = (w.clientHelloMalformed, w.clientHelloTimeouts)
            figures.limited = Dictionary(uniqueKeysWithValues: LimitReason.allCases.map { ($0.rawValue, w.limited[$0] ?? 0) })
            (figures.limitSources, figures.limitSourcesEvicted, figures.limitUntracked) = (w.limitSources, w.limitSourcesEvicted, w.limitUntracked)
            figures.http2 = w.http2
            return figures
        }
        let members = zip(stats.members, stats.membersActive).enumerated().map { index, pair in
            let (member, active) = pair
            var figures = Member(farm: member.farm, member: member.member, state: member.state)
            (figures.active, figures.consecutiveFailures) = (active, member.consecutiveFailures)
            figures.requests = index < stats.membersForwarded.count ? stats.membersForwarded[index] : 0
            figures.lastCheck = member.lastCheck
            figures.lastCheckAt = member.lastCheckAt.map { iso.string(from: $0) } ?? ""
            return figures
        }
        let routes = stats.l4Routes.map { r in
            var figures = L4Route(name: r.name, listener: r.listener, farm: r.farm)
            (figures.connections, figures.active, figures.spliced) = (r.counters.connections, r.counters.active, r.counters.spliced)
            (figures.fallbacks, figures.copiedBytes) = (r.counters.fallbacks, r.counters.bytesCopied)
            (figures.splicedBytesToMember, figures.splicedBytesToClient) = (r.splicedToMember, r.splicedToClient)
            (figures.memberFailures, figures.noMember, figures.idleClosed) = (r.counters.memberFailures, r.counters.noMember, r.counters.idleClosed)
            return figures
        }
        let certificates = stats.certificates.map { c in
            var figures = Certificate(listener: c.listener, subject: c.subject)
            (figures.names, figures.signer, figures.ocsp) = (c.names, c.signer, c.ocsp)
            figures.notValidAfter = iso.string(from: c.notValidAfter)
            figures.daysLeft = Int(c.notValidAfter.timeIntervalSince(now) / 86_400)
            figures.ocspNextUpdate = c.ocspNextUpdate.map { iso.string(from: $0) } ?? ""
            return figures
        }
        self.init(
            instance: stats.instance, configurationDigest: stats.configurationDigest, startedAt: iso.string(from: stats.startedAt),
            uptimeSeconds: now.timeIntervalSince(stats.startedAt), workers: workers,
            listeners: stats.listeners.map { traffic($0.name, $0.traffic) }, rules: stats.rules.map { traffic($0.name, $0.traffic) },
            members: members, l4Splice: stats.spliceLoaded ? "kernel" : "userspace", l4SplicedBytesDropped: stats.splicedBytesDropped,
            l4Routes: routes, certificates: certificates,
            tls: stats.tls.map { ListenerTLS(listener: $0.listener, handshakes: $0.handshakes, resumed: $0.resumed, resumptionRate: $0.resumptionRate) },
            recentServerErrors: stats.recentServerErrors.map {
                ServerError(time: iso.string(from: $0.time), rule: $0.rule, member: $0.member, status: $0.status, worker: $0.worker)
            },
            sessionTickets: SessionTickets(
                rotations: stats.tickets.rotations, currentKeyAgeSeconds: stats.tickets.currentKeyAge, rotateSeconds: stats.tickets.interval.seconds)
        )
    }
}
