import EdgeTLS
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
///
/// `@unchecked Sendable` by that discipline: the monitor is built on the thread that starts
/// a generation; from then on its state is touched only on `eventLoop`. Its entry points
/// (`start`, `stop`, `passiveFailure`, `setDrained`, `snapshot`) hop there with
/// `eventLoop.execute` or `submit`, and the checks run there (their futures, timers and
/// channels all belong to `eventLoop`).
package final class HealthMonitor: @unchecked Sendable {
    package struct MemberState: Sendable {
        package var up = true
        package var drained = false
        package var failures = 0
        package var passes = 0
        package var lastResult = "not checked yet"
        package var lastCheck: Date?
        package var available: Bool { up && !drained }
    }

    let eventLoop: EventLoop
    private let config: EdgesplitConfig
    /// By farm index; nil for plain-HTTP farms.
    private let memberTLS: [MemberTLSContext?]
    private(set) var states: [[MemberState]]
    /// Members' current addresses: resolved at start, re-resolved before each check.
    private var addresses: [[SocketAddress?]]
    private var tasks: [RepeatedTask] = []
    private let events: any HealthEvents
    private let onChange: (_ farm: Int, _ member: Int, _ available: Bool) -> Void
    private let onAddress: (_ farm: Int, _ member: Int, _ address: SocketAddress) -> Void

    /// `memberTLS` by farm and `addresses` by farm and member, as the configuration was
    /// compiled for serving (nil: plain HTTP; a name that did not resolve).
    package init(
        eventLoop: EventLoop,
        config: EdgesplitConfig,
        memberTLS: [MemberTLSContext?],
        addresses: [[SocketAddress?]],
        events: any HealthEvents,
        onChange: @escaping (_ farm: Int, _ member: Int, _ available: Bool) -> Void,
        onAddress: @escaping (_ farm: Int, _ member: Int, _ address: SocketAddress) -> Void
    ) {
        self.eventLoop = eventLoop
        self.config = config
        self.memberTLS = memberTLS
        self.events = events
        self.onChange = onChange
        self.onAddress = onAddress
        self.states = config.farms.map { farm in
            farm.members.map { _ in
                var state = MemberState()
                if farm.health == nil { state.lastResult = "no active checks" }
                return state
            }
        }
        self.addresses = addresses
    }

    /// Schedules the checks of every farm that has a `health` block, spread over the first
    /// interval so members are not probed in lockstep.
    package func start() {
        eventLoop.execute { [self] in
            for (farmIndex, farm) in config.farms.enumerated() {
                guard let health = farm.health else { continue }
                let interval = TimeAmount(health.interval)
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

    package func stop() {
        eventLoop.execute { [self] in
            for task in tasks { task.cancel() }
            tasks.removeAll()
        }
    }

    /// A worker saw a connection to a member fail. Counts toward `fall` when the farm has
    /// active checks (which bring it back); without them the worker holds it out briefly.
    package func passiveFailure(farm: Int, member: Int, reason: String) {
        eventLoop.execute { [self] in
            guard config.farms[farm].health != nil else { return }
            record(farm: farm, member: member, passed: false, detail: "traffic: \(reason)", active: false)
        }
    }

    /// A member drained by the admin (`farm drain`): no new clients; what is in flight finishes.
    package func setDrained(farm: Int, member: Int, drained: Bool) -> EventLoopFuture<Void> {
        eventLoop.submit { [self] in
            let before = states[farm][member].available
            if states[farm][member].drained != drained {
                emitStateChange(farm: farm, member: member, to: drained ? "drained" : "undrained")
            }
            states[farm][member].drained = drained
            if states[farm][member].available != before {
                onChange(farm, member, states[farm][member].available)
            }
        }
    }

    package func snapshot() -> EventLoopFuture<[[MemberState]]> {
        eventLoop.submit { self.states }
    }

    /// Records a check's or a connection's outcome; `started` is when an active check began.
    private func record(farm: Int, member: Int, passed: Bool, detail: String, active: Bool, started: NIODeadline? = nil) {
        guard let health = config.farms[farm].health else { return }
        var state = states[farm][member]
        let before = state.available
        let wasUp = state.up
        if active {
            state.lastResult = detail
            state.lastCheck = Date()
            let names = config.farms[farm]
            events.healthChecked(farm: names.name, member: names.members[member].text, passed: passed,
                                 nanoseconds: started.map { (NIODeadline.now() - $0).nanoseconds } ?? 0)
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
        if state.up != wasUp { emitStateChange(farm: farm, member: member, to: state.up ? "up" : "down") }
        if state.available != before { onChange(farm, member, state.available) }
    }

    private func emitStateChange(farm: Int, member: Int, to state: String) {
        let names = config.farms[farm]
        events.memberStateChanged(farm: names.name, member: names.members[member].text, to: state)
    }

    /// One active check: re-resolve a member given by name (off the event loop; a changed
    /// address is handed to every worker), connect (TLS like the traffic), `GET path` with
    /// the farm's host, read the status line. Redirects are not followed.
    private func check(farm farmIndex: Int, member: Int) -> EventLoopFuture<Void> {
        let started = NIODeadline.now()
        let memberConfig = config.farms[farmIndex].members[member]
        guard !memberConfig.isLiteralAddress else { return probe(farm: farmIndex, member: member, started: started) }
        let resolved = eventLoop.makePromise(of: SocketAddress.self)
        DispatchQueue.global().async {
            do {
                resolved.succeed(try SocketAddress.makeAddressResolvingHost(memberConfig.host, port: memberConfig.port))
            } catch {
                resolved.fail(error)
            }
        }
        return resolved.futureResult.flatMap { address in
            if self.addresses[farmIndex][member] != address {
                self.addresses[farmIndex][member] = address
                self.onAddress(farmIndex, member, address)
            }
            return self.probe(farm: farmIndex, member: member, started: started)
        }.flatMapError { error in
            self.record(
                farm: farmIndex, member: member, passed: false,
                detail: "'\(memberConfig.host)' does not resolve (\(error))", active: true, started: started
            )
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }

    private func probe(farm farmIndex: Int, member: Int, started: NIODeadline) -> EventLoopFuture<Void> {
        let farm = config.farms[farmIndex]
        guard let health = farm.health else { return eventLoop.makeSucceededVoidFuture() }
        guard let address = addresses[farmIndex][member] else {
            record(farm: farmIndex, member: member, passed: false, detail: "name does not resolve", active: true, started: started)
            return eventLoop.makeSucceededVoidFuture()
        }
        let memberConfig = farm.members[member]
        let host = health.host ?? farm.tls?.serverName ?? memberConfig.host
        let tls = memberTLS[farmIndex]
        let promise = eventLoop.makePromise(of: ResponseHead.self)
        let reader = MemberResponseReader(promise: promise)
        let request = MemberResponseReader.anonymousGET(target: health.path, host: host, userAgent: "edgesplit-health-check")
        // A check runs on `eventLoop`, as does the channel it opens (its initializer and futures).
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(health.timeout)) {
            reader.fail(HealthProbeError.timedOut)
        }
        let boundReader = NIOLoopBound(reader, eventLoop: eventLoop)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(health.timeout))
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
                    try channel.pipeline.syncOperations.addHandler(boundReader.value)
                }
            }
            .connect(to: address)
            .assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    var buffer = channel.allocator.buffer(capacity: request.utf8.count)
                    buffer.writeString(request)
                    channel.writeAndFlush(buffer, promise: nil)
                case .failure(let error):
                    reader.fail(error)
                }
            }
        return promise.futureResult.map { head -> Void in
            timeout.cancel()
            let passed = health.accepts(status: head.status)
            self.record(farm: farmIndex, member: member, passed: passed, detail: "HTTP \(head.status)", active: true, started: started)
        }.flatMapError { error in
            timeout.cancel()
            self.record(farm: farmIndex, member: member, passed: false, detail: HealthProbeError.describe(error), active: true,
                        started: started)
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }
}

package enum HealthProbeError: Error {
    case timedOut

    package static func describe(_ error: Error) -> String {
        switch error {
        case HealthProbeError.timedOut: return "timed out"
        case let error as MemberResponseReader.Failure: return error.description
        case let error as NIOSSLError: return "TLS: \(error)"
        case let error as BoringSSLError: return "TLS: \(error)"
        case let error as IOError: return "connect: \(error.description)"
        case let error as ChannelError: return "\(error)"
        default: return "\(error)"
        }
    }
}

/// Where the monitor reports what it saw, as it happens: the process's event metrics.
package protocol HealthEvents: Sendable {
    /// A member's health (`up`/`down`) or drain by the admin (`drained`/`undrained`) changed.
    func memberStateChanged(farm: String, member: String, to state: String)
    /// An active check ended after `nanoseconds`.
    func healthChecked(farm: String, member: String, passed: Bool, nanoseconds: Int64)
}
