import Foundation
import HTTP1
import NIOCore
import NIOPosix
import NIOSSL
import Publishing

/// The up/down/drained state of every farm member, for the whole process, and the active
/// health checks that drive it.
///
/// One monitor runs on one event loop; checks run once per process, not once per worker.
/// When a member's availability changes, `onChange` tells every worker, whose balancers
/// keep a plain local copy: the request path never takes a lock or crosses threads.
/// Workers report passive failures (refused, reset, timed-out connections) back here, where
/// they count toward `fall` like failed checks.
final class HealthMonitor {
    struct MemberState {
        var up = true
        var drained = false
        var failures = 0
        var passes = 0
        var lastResult = "not checked yet"
        var lastCheck: Date?
        var available: Bool { up && !drained }
    }

    let eventLoop: EventLoop
    let runtime: RuntimeConfiguration
    private(set) var states: [[MemberState]]
    private var tasks: [RepeatedTask] = []
    private let onChange: (_ farm: Int, _ member: Int, _ available: Bool) -> Void

    init(
        eventLoop: EventLoop,
        runtime: RuntimeConfiguration,
        onChange: @escaping (_ farm: Int, _ member: Int, _ available: Bool) -> Void
    ) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.onChange = onChange
        self.states = runtime.config.farms.map { farm in farm.members.map { _ in MemberState() } }
    }

    /// Schedules the checks of every farm that has a `health` block, spread over the first
    /// interval so members are not probed in lockstep.
    func start() {
        eventLoop.execute { [self] in
            for (farmIndex, farm) in runtime.config.farms.enumerated() {
                guard let health = farm.health else { continue }
                let interval = health.interval.timeAmount
                for member in farm.members.indices {
                    let spread = interval.nanoseconds * Int64(member) / Int64(max(farm.members.count, 1))
                    let loop = eventLoop
                    let task = eventLoop.scheduleRepeatedAsyncTask(
                        initialDelay: .nanoseconds(spread),
                        delay: interval
                    ) { [weak self] _ in
                        self?.check(farm: farmIndex, member: member) ?? loop.makeSucceededVoidFuture()
                    }
                    tasks.append(task)
                }
            }
        }
    }

    func stop() {
        eventLoop.execute { [self] in
            for task in tasks { task.cancel() }
            tasks.removeAll()
        }
    }

    /// A worker saw a connection to a member fail. Counts toward `fall` when the farm has
    /// active checks (which bring it back); without them the worker holds it out briefly.
    func passiveFailure(farm: Int, member: Int, reason: String) {
        eventLoop.execute { [self] in
            guard runtime.config.farms[farm].health != nil else { return }
            record(farm: farm, member: member, passed: false, detail: "traffic: \(reason)", active: false)
        }
    }

    /// Admin drain: no new clients for the member; what is in flight finishes.
    func setDrained(farm: Int, member: Int, drained: Bool) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            let before = states[farm][member].available
            states[farm][member].drained = drained
            if states[farm][member].available != before {
                onChange(farm, member, states[farm][member].available)
            }
        }
    }

    func snapshot() -> EventLoopFuture<[[MemberState]]> {
        eventLoop.submit { self.states }
    }

    private func record(farm: Int, member: Int, passed: Bool, detail: String, active: Bool) {
        guard let health = runtime.config.farms[farm].health else { return }
        var state = states[farm][member]
        let before = state.available
        if active {
            state.lastResult = detail
            state.lastCheck = Date()
        }
        if passed {
            state.failures = 0
            state.passes += 1
            if !state.up, state.passes >= health.rise { state.up = true }
        } else {
            state.passes = 0
            state.failures += 1
            if state.up, state.failures >= health.fall { state.up = false }
        }
        states[farm][member] = state
        if state.available != before { onChange(farm, member, state.available) }
    }

    /// One active check: connect (TLS like the traffic), `GET path` with the farm's host,
    /// read the status line. Redirects are not followed.
    private func check(farm farmIndex: Int, member: Int) -> EventLoopFuture<Void> {
        let farm = runtime.config.farms[farmIndex]
        guard let health = farm.health else { return eventLoop.makeSucceededVoidFuture() }
        guard let address = runtime.memberAddresses[farmIndex][member] else {
            record(farm: farmIndex, member: member, passed: false, detail: "name does not resolve", active: true)
            return eventLoop.makeSucceededVoidFuture()
        }
        let memberConfig = farm.members[member]
        let host = health.host ?? farm.tls?.serverName ?? memberConfig.host
        let tls = runtime.backendTLS[farmIndex]
        let promise = eventLoop.makePromise(of: Int.self)
        let request = Array(
            "GET \(health.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: edgesplit-health-check\r\nConnection: close\r\n\r\n".utf8
        )
        let timeout = eventLoop.scheduleTask(in: health.timeout.timeAmount) {
            promise.fail(HealthProbeError.timedOut)
        }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(health.timeout.timeAmount)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(
                            context: tls.context,
                            serverHostname: tls.serverName(for: memberConfig)
                        )
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(HealthProbeHandler(request: request, promise: promise))
                }
            }
            .connect(to: address)
            .whenFailure { promise.fail($0) }
        return promise.futureResult.map { status -> Void in
            timeout.cancel()
            let passed = health.accepts(status: status)
            self.record(farm: farmIndex, member: member, passed: passed, detail: "HTTP \(status)", active: true)
        }.flatMapError { error in
            timeout.cancel()
            self.record(farm: farmIndex, member: member, passed: false, detail: HealthProbeError.describe(error), active: true)
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }
}

enum HealthProbeError: Error {
    case timedOut
    case closedWithoutResponse
    case badResponse(String)

    static func describe(_ error: Error) -> String {
        switch error {
        case HealthProbeError.timedOut: return "timed out"
        case HealthProbeError.closedWithoutResponse: return "closed without a response"
        case HealthProbeError.badResponse(let reason): return "bad response: \(reason)"
        case let error as NIOSSLError: return "TLS: \(error)"
        case let error as BoringSSLError: return "TLS: \(error)"
        case let error as IOError: return "connect: \(error.description)"
        case let error as ChannelError: return "\(error)"
        default: return "\(error)"
        }
    }
}

/// Sends one request and completes with the response's status code.
final class HealthProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: [UInt8]
    private let promise: EventLoopPromise<Int>
    private var parser = HeadParser(kind: .response)

    init(request: [UInt8], promise: EventLoopPromise<Int>) {
        self.request = request
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: request.count)
        buffer.writeBytes(request)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
        switch result {
        case .needMore:
            return
        case .response(let head, _):
            if head.isInformational {
                parser.reset()
                return
            }
            promise.succeed(head.status)
        case .request:
            promise.fail(HealthProbeError.badResponse("not a response"))
        case .failure(let error):
            promise.fail(HealthProbeError.badResponse(error.reason))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HealthProbeError.closedWithoutResponse)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
