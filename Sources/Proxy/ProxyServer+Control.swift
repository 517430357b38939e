import EdgeTLS
import Foundation
import NIOCore
import Publishing

/// The control socket's JSON commands, mapped onto the management API.
extension ProxyServer {
    /// Requests on the control socket (see `ControlSocket`): a thin mapping onto the
    /// management API above.
    func handleControl(_ request: [String: Any], on loop: EventLoop) -> EventLoopFuture<[String: Any]> {
        func failure(_ error: Error) -> EventLoopFuture<[String: Any]> {
            loop.makeSucceededFuture(["ok": false, "error": "\(error)"])
        }
        switch request["command"] as? String {
        case "ping":
            return loop.makeSucceededFuture(["ok": true, "instance": runtime.config.instance, "generation": generation])
        case "farm-status":
            let formatter = ISO8601DateFormatter()
            let farms = runtime.config.farms
            return memberStatus().map { members -> [String: Any] in
                [
                    "ok": true,
                    "farms": farms.map { farm -> [String: Any] in
                        [
                            "name": farm.name,
                            "active_checks": farm.health != nil,
                            "members": members.filter { $0.farm == farm.name }.map { status -> [String: Any] in
                                [
                                    "member": status.member,
                                    "state": status.state,
                                    "up": status.up,
                                    "drained": status.drained,
                                    "consecutive_failures": status.consecutiveFailures,
                                    "last_check": status.lastCheck,
                                    "last_check_at": status.lastCheckAt.map { formatter.string(from: $0) } ?? "",
                                ]
                            },
                        ]
                    },
                ]
            }.flatMapError(failure)
        case "retire":
            // A newer process of this instance accepts now (see `start()`).
            retire()
            return loop.makeSucceededFuture(["ok": true])
        case "reload":
            let promise = loop.makePromise(of: [String: Any].self)
            DispatchQueue.global().async { [self] in
                do {
                    let generation = try reloadFromSource()
                    promise.succeed(["ok": true, "generation": generation])
                } catch {
                    promise.succeed(["ok": false, "error": "\(error)"])
                }
            }
            return promise.futureResult
        case "stats":
            return stats().map { Self.json($0) }.flatMapError(failure)
        case "farm-drain", "farm-undrain":
            let drain = request["command"] as? String == "farm-drain"
            return setDrained(
                farm: request["farm"] as? String ?? "",
                member: request["member"] as? String ?? "",
                drain
            ).map { ["ok": true] as [String: Any] }.flatMapError(failure)
        default:
            return loop.makeSucceededFuture(["ok": false, "error": "unknown command '\(request["command"] ?? "")'"])
        }
    }

    /// The stats as the control socket sends them (stable snake_case keys).
    static func json(_ stats: Stats) -> [String: Any] {
        let iso = ISO8601DateFormatter()
        func traffic(_ t: TrafficCounters) -> [String: Any] {
            [
                "requests": t.requests,
                "status_1xx": t.statusClasses[0], "status_2xx": t.statusClasses[1], "status_3xx": t.statusClasses[2],
                "status_4xx": t.statusClasses[3], "status_5xx": t.statusClasses[4],
                "bytes_in": t.bytesIn, "bytes_out": t.bytesOut,
                "latency_p50_ms": t.latencyMilliseconds(percentile: 50),
                "latency_p99_ms": t.latencyMilliseconds(percentile: 99),
                "latency_recent_p50_ms": t.recentLatency.milliseconds(percentile: 50),
                "latency_recent_p99_ms": t.recentLatency.milliseconds(percentile: 99),
            ]
        }
        return [
            "ok": true,
            "instance": stats.instance,
            "config_digest": stats.configurationDigest ?? NSNull(),
            "started_at": iso.string(from: stats.startedAt),
            "uptime_seconds": Date().timeIntervalSince(stats.startedAt),
            "workers": stats.workers.map { w -> [String: Any] in
                [
                    "worker": w.index, "accepted": w.accepted, "active": w.active,
                    "tls_handshakes": w.tlsHandshakes, "tls_resumed": w.tlsResumed, "tls_handshake_failures": w.tlsHandshakeFailures,
                    "client_hello_malformed": w.clientHelloMalformed, "client_hello_timeouts": w.clientHelloTimeouts,
                    "requests": w.requests,
                    "limited": Dictionary(uniqueKeysWithValues: LimitReason.allCases.map { ($0.rawValue, w.limited[$0] ?? 0) }),
                    "limit_sources": w.limitSources, "limit_sources_evicted": w.limitSourcesEvicted,
                    "limit_untracked": w.limitUntracked,
                    "http2": [
                        "connections": w.http2.connections, "streams": w.http2.streams,
                        "http11_required": w.http2.http11Required, "stream_limit_closes": w.http2.streamLimitCloses,
                        "header_list_rejections": w.http2.headerListRejections,
                        "rapid_reset_closes": w.http2.rapidResetCloses, "malformed_streams": w.http2.malformedStreams,
                    ] as [String: Any],
                ]
            },
            "listeners": stats.listeners.map { ["name": $0.name].merging(traffic($0.traffic)) { a, _ in a } },
            "rules": stats.rules.map { ["name": $0.name].merging(traffic($0.traffic)) { a, _ in a } },
            "members": zip(stats.members, stats.membersActive).enumerated().map { index, pair -> [String: Any] in
                let (member, active) = pair
                return [
                    "farm": member.farm, "member": member.member, "state": member.state,
                    "active": active, "consecutive_failures": member.consecutiveFailures,
                    "requests": index < stats.membersForwarded.count ? stats.membersForwarded[index] : 0,
                    "last_check": member.lastCheck,
                    "last_check_at": member.lastCheckAt.map { iso.string(from: $0) } ?? "",
                ]
            },
            "l4_splice": stats.spliceLoaded ? "kernel" : "userspace",
            "l4_spliced_bytes_dropped": stats.splicedBytesDropped,
            "l4_routes": stats.l4Routes.map { r -> [String: Any] in
                [
                    "name": r.name, "listener": r.listener, "farm": r.farm,
                    "connections": r.counters.connections, "active": r.counters.active,
                    "spliced": r.counters.spliced, "fallbacks": r.counters.fallbacks,
                    "spliced_bytes_to_member": r.splicedToMember, "spliced_bytes_to_client": r.splicedToClient,
                    "copied_bytes": r.counters.bytesCopied,
                    "member_failures": r.counters.memberFailures, "no_member": r.counters.noMember,
                    "idle_closed": r.counters.idleClosed,
                ]
            },
            "certificates": stats.certificates.map { c -> [String: Any] in
                [
                    "listener": c.listener, "subject": c.subject, "names": c.names,
                    "not_valid_after": iso.string(from: c.notValidAfter),
                    "days_left": Int(c.notValidAfter.timeIntervalSinceNow / 86_400),
                    "signer": c.signer,
                    "ocsp": c.ocsp,
                    "ocsp_next_update": c.ocspNextUpdate.map { iso.string(from: $0) } ?? "",
                ]
            },
            "tls": stats.tls.map { t -> [String: Any] in
                [
                    "listener": t.listener, "handshakes": t.handshakes, "resumed": t.resumed,
                    "resumption_rate": t.resumptionRate,
                ]
            },
            "recent_5xx": stats.recentServerErrors.map { e -> [String: Any] in
                ["time": iso.string(from: e.time), "rule": e.rule, "member": e.member, "status": e.status, "worker": e.worker]
            },
            "session_tickets": [
                "rotations": stats.tickets.rotations,
                "current_key_age_seconds": stats.tickets.currentKeyAge,
                "rotate_seconds": stats.tickets.interval.seconds,
            ] as [String: Any],
        ]
    }
}
