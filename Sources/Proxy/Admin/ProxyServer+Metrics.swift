import Admin
import AdminServer
import Forwarding
import Foundation
import NIOCore
import Prometheus
import Publishing
import Steering

/// What the admin listener (`MetricsEndpoint`) asks of the server: a scrape, the dashboard's
/// `stats --json` object, and the control socket's commands (`handleControl`).
extension ProxyServer: AdminSource {
    package func scrape(into registry: PrometheusCollectorRegistry, continuity: CounterContinuity, on loop: EventLoop) -> EventLoopFuture<String> {
        let kernel = try? steering?.counters()
        return stats().hop(to: loop).assumeIsolated().map { stats in
            Self.updateMetrics(registry, with: stats, kernel: kernel, continuity: continuity)
        }.nonisolated()
    }

    /// The kernel part read from the pinned maps as the CLI reads it (off the event loop),
    /// then the process part from `stats()`.
    package func statsDocument(on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        let instance = runtime.config.instance
        let pinRoot = environment.pinRoot
        let time = Date()
        let promise = loop.makePromise(of: (StatsSample.Kernel?, String?).self)
        DispatchQueue.global().async {
            promise.succeed(StatsSample.kernel(instance: instance, pinRoot: pinRoot))
        }
        return promise.futureResult.flatMap { kernel in
            self.stats().hop(to: loop).map { stats in
                var sample = StatsSample()
                (sample.time, sample.kernel, sample.kernelError) = (time, kernel.0, kernel.1)
                sample.process = ProcessStats(stats)
                return Array(JSONOutput.data(sample.document(instance: instance)))
            }
        }
    }

    /// Writes the scrape's figures into `registry` and returns the latency histograms, which
    /// are rendered beside it (``LatencyHistogramText``).
    static func updateMetrics(
        _ registry: PrometheusCollectorRegistry, with stats: Stats, kernel: SteeringCounters?,
        continuity: CounterContinuity
    ) -> String {
        func counter(_ name: String, _ labels: [(String, String)], _ value: UInt64, _ help: String) {
            let c = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
            let key = name + labels.map { "\u{0}\($0.0)\u{0}\($0.1)" }.joined()
            let growth = continuity.growth(key, value)
            if growth > 0 { c.increment(by: Int64(clamping: growth)) }
        }
        func gauge(_ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(to: value)
        }
        let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
        var latency = LatencyHistogramText(
            name: "edgesplit_request_duration_seconds",
            help: "Request latency by rule, from the first byte of the request head to the end of the exchange (HDR histogram).")
        for (name, traffic) in stats.rules {
            for (i, codeClass) in classes.enumerated() {
                counter("edgesplit_requests_total", [("rule", name), ("code_class", codeClass)], traffic.statusClasses[i],
                        "Requests by publishing rule and response status class.")
            }
            counter("edgesplit_received_bytes_total", [("rule", name)], traffic.bytesIn, "Bytes received from clients, by rule.")
            counter("edgesplit_sent_bytes_total", [("rule", name)], traffic.bytesOut, "Bytes sent to clients, by rule.")
            latency.add(labels: [("rule", name)], histogram: traffic.latency)
        }
        for (name, traffic) in stats.listeners {
            for (i, codeClass) in classes.enumerated() {
                counter("edgesplit_listener_requests_total", [("listener", name), ("code_class", codeClass)],
                        traffic.statusClasses[i], "Requests by listener and response status class.")
            }
        }
        for worker in stats.workers {
            let w = [("worker", String(worker.index))]
            counter("edgesplit_connections_accepted_total", w, worker.accepted, "Client connections accepted, by worker.")
            gauge("edgesplit_connections_active", w, Double(worker.active), "Client connections open, by worker.")
            counter("edgesplit_tls_handshakes_total", w + [("result", "ok")], worker.tlsHandshakes, "TLS handshakes with clients.")
            counter("edgesplit_tls_handshakes_total", w + [("result", "failed")], worker.tlsHandshakeFailures, "TLS handshakes with clients.")
            for reason in LimitReason.allCases {
                counter("edgesplit_limited_total", w + [("reason", reason.rawValue)], worker.limited[reason] ?? 0,
                        "Connections closed at accept and requests answered 429 by per-source limits, by limit.")
            }
            gauge("edgesplit_limit_sources", w, Double(worker.limitSources), "Sources the per-source limit table counts now.")
            counter("edgesplit_limit_sources_evicted_total", w, worker.limitSourcesEvicted,
                    "Sources forgotten before their windows ended because the limit table was full.")
            let h2 = worker.http2
            counter("edgesplit_http2_connections_total", w, h2.connections, "Client connections that chose HTTP/2.")
            counter("edgesplit_http2_streams_total", w, h2.streams, "HTTP/2 streams opened by clients.")
            for (event, count) in [
                ("http11_required", h2.http11Required), ("stream_limit", h2.streamLimitCloses),
                ("header_list_rejected", h2.headerListRejections), ("rapid_reset", h2.rapidResetCloses),
                ("malformed", h2.malformedStreams),
            ] {
                counter("edgesplit_http2_refusals_total", w + [("reason", event)], count,
                        "HTTP/2 streams or connections ended by edgesplit, by reason.")
            }
            counter("edgesplit_client_hello_rejected_total", w + [("reason", "malformed")], worker.clientHelloMalformed,
                    "TLS connections closed before a decision: malformed or oversized ClientHello, or none within 5 s.")
            counter("edgesplit_client_hello_rejected_total", w + [("reason", "timeout")], worker.clientHelloTimeouts,
                    "TLS connections closed before a decision: malformed or oversized ClientHello, or none within 5 s.")
            if let kernel {
                counter("edgesplit_steering_selections_total", w, kernel.selections(of: worker.index),
                        "Connections the kernel steering program sent to each worker.")
                counter("edgesplit_steering_overflows_total", w, kernel.overflowed(of: worker.index),
                        "Connections whose worker held more than affinity.balance_factor allows, sent on to another worker.")
            }
        }
        if let kernel {
            counter("edgesplit_steering_fallbacks_total", [], kernel.fallback, "Connections left to the kernel's own choice.")
            counter("edgesplit_steering_migrations_total", [], kernel.migrations, "Queued connections migrated from closed listeners.")
        }
        for route in stats.l4Routes {
            let r = [("route", route.name)]
            counter("edgesplit_l4_connections_total", r + [("path", "kernel")], route.counters.spliced,
                    "L4 route connections, spliced in the kernel or copied in userspace (fallback).")
            counter("edgesplit_l4_connections_total", r + [("path", "userspace")], route.counters.fallbacks,
                    "L4 route connections, spliced in the kernel or copied in userspace (fallback).")
            gauge("edgesplit_l4_connections_active", r, Double(route.counters.active), "L4 route connections open.")
            counter("edgesplit_l4_spliced_bytes_total", r + [("direction", "to_member")], route.splicedToMember,
                    "Bytes the kernel forwarded between an L4 route's sockets.")
            counter("edgesplit_l4_spliced_bytes_total", r + [("direction", "to_client")], route.splicedToClient,
                    "Bytes the kernel forwarded between an L4 route's sockets.")
            counter("edgesplit_l4_copied_bytes_total", r, route.counters.bytesCopied, "Bytes of L4 route connections copied in userspace.")
            counter("edgesplit_l4_member_failures_total", r, route.counters.memberFailures, "Failed connections to L4 route members.")
            counter("edgesplit_l4_idle_closed_total", r, route.counters.idleClosed, "L4 route connections closed after the route's idle timeout.")
        }
        for (member, active) in zip(stats.members, stats.membersActive) {
            let labels = [("farm", member.farm), ("member", member.member)]
            gauge("edgesplit_member_up", labels, member.up ? 1 : 0, "1 when the farm member is up.")
            gauge("edgesplit_member_drained", labels, member.drained ? 1 : 0, "1 when the farm member is drained.")
            gauge("edgesplit_member_active_requests", labels, Double(active), "Exchanges in flight to the member.")
        }
        for certificate in stats.certificates {
            gauge("edgesplit_certificate_expiry_seconds", [("listener", certificate.listener), ("subject", certificate.subject)],
                  certificate.notValidAfter.timeIntervalSinceNow, "Seconds until the certificate expires.")
        }
        for tls in stats.tls {
            let l = [("listener", tls.listener)]
            counter("edgesplit_tls_listener_handshakes_total", l, tls.handshakes, "TLS handshakes completed, by listener.")
            counter("edgesplit_tls_resumed_handshakes_total", l, tls.resumed,
                    "TLS handshakes that resumed a session from a ticket, by listener.")
        }
        counter("edgesplit_tls_ticket_key_rotations_total", [], UInt64(stats.tickets.rotations),
                "Session-ticket key rotations since the process started.")
        gauge("edgesplit_tls_ticket_key_age_seconds", [], stats.tickets.currentKeyAge,
              "Seconds since the current session-ticket key started sealing tickets.")
        for certificate in stats.certificates where certificate.ocsp != "none" {
            gauge("edgesplit_certificate_ocsp_stapled", [("listener", certificate.listener), ("subject", certificate.subject)],
                  certificate.ocsp == "stapled" ? 1 : 0, "1 when an OCSP response is stapled for the certificate.")
        }
        gauge("edgesplit_start_time_seconds", [], stats.startedAt.timeIntervalSince1970, "When the process started serving.")
        return latency.text
    }
}
