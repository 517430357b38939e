import Admin
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Publishing
import Steering

/// `GET /metrics` in the Prometheus text format, on `admin.metrics` (loopback by default),
/// and the operator dashboard under `/dashboard` when `admin.dashboard` is set.
///
/// The request path never touches a metric: at each scrape the exporter collects the
/// workers' own counters (`ProxyServer.stats()`) and the kernel's per-CPU counters, and
/// writes them into the swift-prometheus registry — counters grow by what the workers counted
/// since the last scrape (``CounterContinuity``: never reset, also across reloads), gauges
/// are set to the current values — which renders the text; latencies are histograms rendered
/// beside it (``LatencyHistogramText``). Control-plane events reach the same
/// registry through the swift-metrics API as they happen (``EventMetrics``).
///
/// `@unchecked Sendable` by this discipline: `start` and `stop` (the listening `channel`) run
/// on the server's lifecycle thread, one at a time; everything else — the connection count,
/// ``CounterContinuity``, rendering — runs on the one loop the endpoint serves on, whose
/// channels' initializers and request handlers hold the endpoint.
final class MetricsEndpoint: @unchecked Sendable {
    /// Scrapers connected at once; more are closed as they are accepted. A scraper needs one.
    static let maxConnections = 16
    /// A connection that sends nothing, or takes this long to send its request, is closed.
    static let idleTimeout = TimeAmount.seconds(5)
    /// No connection lives longer, however it trickles (slowloris on the admin port).
    static let maxLifetime = TimeAmount.seconds(30)

    private let registry: PrometheusCollectorRegistry
    private let continuity = CounterContinuity()
    /// Connections open now; touched only on the endpoint's loop.
    private var connections = 0
    private var channel: Channel?
    private weak var server: ProxyServer?
    private let steering: () -> SteeringCounters?
    /// The dashboard's credentials; nil = no dashboard (`/dashboard` is 404).
    let dashboard: DashboardAccess?
    /// The page as served, built once.
    let page: [UInt8]

    init(
        server: ProxyServer, registry: PrometheusCollectorRegistry, dashboard: DashboardAccess? = nil,
        steering: @escaping () -> SteeringCounters?
    ) {
        self.server = server
        self.registry = registry
        self.dashboard = dashboard
        self.page = DashboardPage.bytes(allowChanges: dashboard.map { $0.allowChanges && $0.requiresCredentials } ?? false)
        self.steering = steering
    }

    func start(endpoint: AdminEndpoint, on loop: EventLoop) throws -> Int {
        let channel = try ServerBootstrap(group: loop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections < Self.maxConnections else {
                        channel.close(promise: nil)
                        return
                    }
                    connections += 1
                    channel.closeFuture.assumeIsolated().whenComplete { _ in self.connections -= 1 }
                    let lifetime = channel.eventLoop.scheduleTask(in: Self.maxLifetime) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in lifetime.cancel() }
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: Self.idleTimeout))
                    try sync.addHandler(CloseWhenIdle())
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(MetricsRequestHandler(endpoint: self))
                }
            }
            .bind(host: endpoint.address, port: endpoint.port)
            .wait()
        self.channel = channel
        return channel.localAddress?.port ?? endpoint.port
    }

    func stop() {
        try? channel?.close().wait()
        channel = nil
    }

    /// The `stats --json` object, for the dashboard: the kernel part read from the pinned
    /// maps as the CLI reads it (off the event loop), then the process part from `stats()`.
    func statsDocument(on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        guard let server else { return loop.makeFailedFuture(ProxyServer.ManagementError.notRunning) }
        let instance = server.runtime.config.instance
        let pinRoot = server.environment.pinRoot
        let time = Date()
        let promise = loop.makePromise(of: (StatsSample.Kernel?, String?).self)
        DispatchQueue.global().async {
            promise.succeed(StatsSample.kernel(instance: instance, pinRoot: pinRoot))
        }
        return promise.futureResult.flatMap { kernel in
            server.stats().hop(to: loop).map { stats in
                var sample = StatsSample()
                (sample.time, sample.kernel, sample.kernelError) = (time, kernel.0, kernel.1)
                sample.process = ProcessStats(stats)
                return Array(JSONOutput.data(sample.document(instance: instance)))
            }
        }
    }

    /// Drain or undrain a member through the control socket's own command (`edgesplit farm drain`).
    func change(drain: Bool, farm: String, member: String, on loop: EventLoop) -> EventLoopFuture<ControlReply> {
        guard let server else { return loop.makeSucceededFuture(.refused("the server is not running")) }
        let request: ControlRequest = drain ? .farmDrain(farm: farm, member: member) : .farmUndrain(farm: farm, member: member)
        return server.handleControl(request, on: loop).hop(to: loop)
    }

    /// Collects and renders; completes on the caller's loop, which is the endpoint's.
    func render(on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        guard let server else { return loop.makeSucceededFuture([]) }
        let kernel = steering()
        return server.stats().hop(to: loop).assumeIsolated().map { [registry, continuity] stats in
            let latency = Self.update(registry, with: stats, kernel: kernel, continuity: continuity)
            return registry.emitToBuffer() + Array(latency.utf8)
        }.nonisolated()
    }

    /// Writes the scrape's figures into `registry` and returns the latency histograms, which
    /// are rendered beside it (``LatencyHistogramText``).
    static func update(
        _ registry: PrometheusCollectorRegistry, with stats: ProxyServer.Stats, kernel: SteeringCounters?,
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

/// One admin request at a time: `/metrics`, and the dashboard's pages when configured
/// (`DashboardRequest` decides; this handler only performs).
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoint: MetricsEndpoint
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The body went over `DashboardRequest.maxBody`: answered 413, and closed.
    private var refused = false

    init(endpoint: MetricsEndpoint) {
        self.endpoint = endpoint
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            refused = false
        case .body(let chunk):
            guard !refused else { return }
            if body.count + chunk.readableBytes > DashboardRequest.maxBody {
                refused = true
                respond(context: context, status: .payloadTooLarge, type: "text/plain",
                        body: Array("a request body on the admin listener is at most \(DashboardRequest.maxBody) bytes\n".utf8), close: true)
                return
            }
            body += chunk.readableBytesView
        case .end:
            guard !refused, let head else { return }
            self.head = nil
            let decision = DashboardRequest.decide(
                method: head.method, uri: head.uri, headers: head.headers, body: body, access: endpoint.dashboard
            )
            body = []
            perform(decision, context: context)
        }
    }

    private func perform(_ decision: DashboardRequest, context: ChannelHandlerContext) {
        // Each future below completes on this handler's loop (the endpoint hops there), so its
        // callbacks may use the handler and its context directly.
        switch decision {
        case .metrics:
            endpoint.render(on: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                respond(context: context, result, type: "text/plain; version=0.0.4; charset=utf-8")
            }
        case .page:
            respond(context: context, status: .ok, type: "text/html; charset=utf-8", body: endpoint.page, extra: DashboardPage.headers)
        case .acceptToken(let token):
            // HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it.
            respond(context: context, status: .seeOther, type: "text/plain", body: Array("see /dashboard\n".utf8), extra: [
                ("Location", "/dashboard"),
                ("Set-Cookie", "\(DashboardAccess.cookieName)=\(token); Path=/dashboard; HttpOnly; SameSite=Strict"),
            ])
        case .stats:
            endpoint.statsDocument(on: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                respond(context: context, result, type: "application/json")
            }
        case .change(let drain, let farm, let member):
            endpoint.change(drain: drain, farm: farm, member: member, on: context.eventLoop).assumeIsolated().whenComplete { [self] result in
                let answer = (try? result.get()) ?? .refused("the change did not complete")
                respond(context: context, status: answer.ok ? .ok : .badRequest, type: "application/json", body: Array(JSONOutput.data(answer)))
            }
        case .refuse(let status, let message):
            var extra: [(String, String)] = []
            if status == .unauthorized, let access = endpoint.dashboard { extra.append(("WWW-Authenticate", access.challenge)) }
            respond(context: context, status: status, type: "text/plain", body: Array(message.utf8), extra: extra)
        }
    }

    /// 200 with the body, or 500 with the error.
    private func respond(context: ChannelHandlerContext, _ result: Result<[UInt8], Error>, type: String) {
        switch result {
        case .success(let body):
            respond(context: context, status: .ok, type: type, body: body)
        case .failure(let error):
            respond(context: context, status: .internalServerError, type: "text/plain", body: Array("\(error)\n".utf8))
        }
    }

    private func respond(
        context: ChannelHandlerContext, status: HTTPResponseStatus, type: String, body: [UInt8],
        extra: [(String, String)] = [], close: Bool = false
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in extra { headers.add(name: name, value: value) }
        if close { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Closes a metrics connection on `IdleStateHandler`'s event: nothing moved either way for
/// `MetricsEndpoint.idleTimeout`.
private final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
