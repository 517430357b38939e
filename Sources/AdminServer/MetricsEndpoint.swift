import Admin
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Publishing

/// `GET /metrics` in the Prometheus text format, on `admin.metrics` (loopback by default),
/// and the operator dashboard under `/dashboard` when `admin.dashboard` is set.
///
/// The request path never touches a metric: at each scrape the server (``AdminSource``) collects
/// the workers' own counters (`ProxyServer.stats()`) and the kernel's per-CPU counters, and
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
package final class MetricsEndpoint: @unchecked Sendable {
    /// Scrapers connected at once; more are closed as they are accepted. A scraper needs one.
    package static let maxConnections = 16
    /// A connection that sends nothing, or takes this long to send its request, is closed.
    static let idleTimeout = TimeAmount.seconds(5)
    /// No connection lives longer, however it trickles (slowloris on the admin port).
    static let maxLifetime = TimeAmount.seconds(30)

    private let registry: PrometheusCollectorRegistry
    private let continuity = CounterContinuity()
    /// Connections open now; touched only on the endpoint's loop.
    private var connections = 0
    private var channel: Channel?
    private weak var source: (any AdminSource)?
    /// The dashboard's credentials; nil = no dashboard (`/dashboard` is 404).
    let dashboard: DashboardAccess?
    /// The page as served, built once.
    let page: [UInt8]

    package init(source: any AdminSource, registry: PrometheusCollectorRegistry, dashboard: DashboardAccess? = nil) {
        self.source = source
        self.registry = registry
        self.dashboard = dashboard
        self.page = DashboardPage.bytes(allowChanges: dashboard.map { $0.allowChanges && $0.requiresCredentials } ?? false)
    }

    package func start(endpoint: AdminEndpoint, on loop: EventLoop) throws -> Int {
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

    package func stop() {
        try? channel?.close().wait()
        channel = nil
    }

    /// Drain or undrain a member through the control socket's own command (`edgesplit farm drain`).
    func change(drain: Bool, farm: String, member: String, on loop: EventLoop) -> EventLoopFuture<ControlReply> {
        guard let source else { return loop.makeSucceededFuture(.refused("the server is not running")) }
        let request: ControlRequest = drain ? .farmDrain(farm: farm, member: member) : .farmUndrain(farm: farm, member: member)
        return source.handleControl(request, on: loop).hop(to: loop)
    }

    /// The `stats --json` object, for the dashboard; completes on the caller's loop.
    func statsDocument(on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        guard let source else { return loop.makeFailedFuture(NotRunning()) }
        return source.statsDocument(on: loop).hop(to: loop)
    }

    /// Collects and renders; completes on the caller's loop, which is the endpoint's.
    func render(on loop: EventLoop) -> EventLoopFuture<[UInt8]> {
        guard let source else { return loop.makeSucceededFuture([]) }
        return source.scrape(into: registry, continuity: continuity, on: loop).assumeIsolated().map { [registry] latency in
            registry.emitToBuffer() + Array(latency.utf8)
        }.nonisolated()
    }
}

/// The server is gone (stopping): the dashboard's stats are answered 500 with this.
private struct NotRunning: Error, CustomStringConvertible {
    var description: String { "the server is not running" }
}

/// What the admin listener asks of the server it belongs to (`ProxyServer`, in Proxy).
package protocol AdminSource: AnyObject, Sendable {
    /// One scrape: writes the server's figures into `registry` — counters grown by what they
    /// grew since the last scrape (`continuity`), gauges set — and returns the text of the
    /// latency histograms, rendered beside the registry's (``LatencyHistogramText``).
    /// Completes on `loop`, the endpoint's, where `continuity` is touched.
    func scrape(into registry: PrometheusCollectorRegistry, continuity: CounterContinuity, on loop: EventLoop) -> EventLoopFuture<String>
    /// The `stats --json` object: the kernel part from the pinned maps, the process part from the server.
    func statsDocument(on loop: EventLoop) -> EventLoopFuture<[UInt8]>
    /// One control socket command (the dashboard's drain and undrain).
    func handleControl(_ request: ControlRequest, on loop: EventLoop) -> EventLoopFuture<ControlReply>
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
