#if canImport(Glibc)
import Glibc
#endif
import Affinity
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Publishing
import Steering

/// edgesplit's data plane: N workers, each a SwiftNIO event loop that owns one listening
/// socket per listener and every connection accepted on it.
///
/// Each listener is a group of N `SO_REUSEPORT` sockets. With kernel steering on, the BPF
/// program attached to the group picks the socket — and so the worker — from the client's
/// masked source address; without it the kernel's own 4-tuple hash spreads connections.
/// One `ServerBootstrap` per (listener, worker) with that worker's loop as both group and
/// child group keeps accepted channels on the loop that accepted them.
public final class ProxyServer {
    public let runtime: RuntimeConfiguration
    public let environment: ServerEnvironment
    public let workerCount: Int
    /// When `start()` began serving.
    public private(set) var startedAt = Date()
    /// Why the control socket could not be opened, when it could not.
    public private(set) var controlWarning: String?
    /// Why kernel steering is off, when it is.
    public private(set) var steeringWarning: String?
    /// The bound port of each listener (useful with port 0).
    public private(set) var boundPorts: [Int] = []

    private let group: MultiThreadedEventLoopGroup
    private var workers: [Worker] = []
    private var serverChannels: [Channel] = []
    private var listenerGroups: [ListenerGroup] = []
    private var steering: SteeringProgram?
    private var monitor: HealthMonitor?
    private var control: ControlSocket?
    private var metrics: MetricsEndpoint?
    /// The bound port of the metrics endpoint, when `admin.metrics` is set.
    public private(set) var metricsPort: Int?
    private var accessLog: AccessLog?
    private var logger: Logger { environment.logger }

    public init(runtime: RuntimeConfiguration, environment: ServerEnvironment) {
        self.runtime = runtime
        self.environment = environment
        let configured = environment.workers ?? runtime.config.workers ?? System.coreCount
        self.workerCount = max(1, min(configured, 64))
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: workerCount)
    }

    /// Binds every listener, loads kernel steering when asked and possible, and starts
    /// accepting. Throws before accepting anything if a listener cannot be bound.
    public func start() throws {
        let config = runtime.config
        startedAt = Date()
        do {
            accessLog = try config.accessLog.map(AccessLog.init(settings:))
            let loops = Array(group.makeIterator())
            workers = loops.enumerated().map { index, loop in
                Worker(index: index, eventLoop: loop, runtime: runtime, accessLog: accessLog)
            }
            let workers = self.workers
            let monitor = HealthMonitor(
                eventLoop: loops[0],
                runtime: runtime,
                onChange: { farm, member, available in
                    for worker in workers {
                        worker.eventLoop.execute { worker.setMemberAvailable(farm: farm, member: member, available) }
                    }
                },
                onAddress: { farm, member, address in
                    for worker in workers {
                        worker.eventLoop.execute { worker.setMemberAddress(farm: farm, member: member, address) }
                    }
                }
            )
            for worker in workers { worker.monitor = monitor }
            self.monitor = monitor
            monitor.start()
            if let endpoint = config.admin.metrics {
                let metrics = MetricsEndpoint(server: self) { [weak self] in try? self?.steering?.counters() }
                do {
                    metricsPort = try metrics.start(endpoint: endpoint, on: loops[0])
                } catch {
                    throw SetupError(endpoint.position, "admin.metrics: cannot listen on \(endpoint.address):\(endpoint.port): \(error)")
                }
                self.metrics = metrics
            }
            if let directory = environment.controlDirectory {
                let control = ControlSocket(directory: directory, instance: config.instance)
                do {
                    try control.start(on: loops[0]) { [weak self] request in
                        guard let self else { return loops[0].makeSucceededFuture(["ok": false, "error": "stopping"]) }
                        return self.handleControl(request, on: loops[0])
                    }
                    self.control = control
                } catch {
                    controlWarning = "no control socket at \(control.path) (\(error)); `edgesplit farm` cannot reach this instance"
                }
            }
            for listener in config.listeners {
                listenerGroups.append(
                    try ListenerGroup(address: listener.address, port: listener.port, workers: workerCount)
                )
            }
            boundPorts = listenerGroups.map(\.port)
            if environment.kernelSteering {
                var loaded: SteeringProgram?
                do {
                    let program = try SteeringProgram(
                        SteeringProgram.Options(
                            instance: config.instance,
                            pinRoot: environment.pinRoot,
                            mask: config.affinity.mask,
                            seed: config.affinity.seed,
                            workers: workerCount
                        )
                    )
                    loaded = program
                    for group in listenerGroups { try program.attach(group) }
                    steering = program
                } catch {
                    // Loaded but not attached: its pins would mislead `edgesplit maps`.
                    loaded?.close(unpin: true)
                    steering = nil
                    steeringWarning = "\(error)"
                }
            } else {
                steeringWarning = "kernel steering disabled (--no-bpf)"
            }
            for (listenerIndex, listener) in config.listeners.enumerated() {
                let sockets = listenerGroups[listenerIndex]
                for (workerIndex, worker) in workers.enumerated() {
                    let channel = try bootstrap(listener: listenerIndex, worker: worker)
                        .withBoundSocket(sockets.descriptors[workerIndex]).wait()
                    // NIO's withBoundSocket listens with a backlog of 128; restore ours.
                    _ = Glibc.listen(sockets.descriptors[workerIndex], 4096)
                    serverChannels.append(channel)
                }
                sockets.relinquish()
                logger.info(
                    "listening",
                    metadata: [
                        "listener": "\(listener.name)", "address": "\(listener.address)",
                        "port": "\(sockets.port)", "tls": "\(listener.tls != nil)",
                    ]
                )
            }
        } catch {
            stopImmediately()
            throw error
        }
    }

    private func bootstrap(listener listenerIndex: Int, worker: Worker) -> ServerBootstrap {
        let certificates = runtime.listenerCertificates[listenerIndex]
        return ServerBootstrap(group: worker.eventLoop, childGroup: worker.eventLoop)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let handler = ClientHandler(worker: worker, listenerIndex: listenerIndex, isTLS: certificates != nil)
                do {
                    if let certificates {
                        let sni = SNIHandler { result in
                            var name: String? = nil
                            if case .hostname(let hostname) = result { name = hostname }
                            let tls = NIOSSLServerHandler(context: certificates.context(forServerName: name))
                            return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(tls, position: .before(handler)) }
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(sni))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    /// Stops accepting, lets in-flight exchanges finish for up to `deadline`, then closes
    /// what remains and releases the kernel state (pins are removed on a clean stop).
    public func shutdown(deadline: TimeAmount) {
        for channel in serverChannels { try? channel.close().wait() }
        serverChannels.removeAll()
        let drained = workers.map { worker in
            worker.eventLoop.flatSubmit { worker.drain() }
        }
        let all = EventLoopFuture.andAllComplete(drained, on: group.next())
        let timeout = group.next().scheduleTask(in: deadline) {}
        let finished = group.next().makePromise(of: Void.self)
        all.whenComplete { _ in finished.succeed(()) }
        timeout.futureResult.whenComplete { _ in finished.succeed(()) }
        try? finished.futureResult.wait()
        timeout.cancel()
        for worker in workers {
            try? worker.eventLoop.submit {
                worker.closeAll()
                worker.stop()
            }.wait()
        }
        stopImmediately()
    }

    /// Everything `edgesplit stats` shows about the process, collected from every worker.
    public struct Stats: Sendable {
        public struct Certificate: Sendable {
            public let listener: String
            public let subject: String
            public let names: [String]
            public let notValidAfter: Date
        }

        public var instance: String
        public var startedAt: Date
        public var workers: [WorkerStats]
        /// Per listener and per rule (the last rule entry is "no rule"), summed over workers.
        public var listeners: [(name: String, traffic: TrafficCounters)]
        public var rules: [(name: String, traffic: TrafficCounters)]
        public var members: [MemberStatus]
        /// Exchanges in flight per member, in `members` order.
        public var membersActive: [Int]
        public var certificates: [Certificate]
    }

    /// A consistent-enough snapshot: each worker copies its own counters on its own loop.
    public func stats() -> EventLoopFuture<Stats> {
        let loop = group.next()
        let config = runtime.config
        let perWorker = workers.map { worker in
            worker.eventLoop.submit { (worker.stats, worker.balancers.map(\.outstandingRequests)) }
        }
        let certificates = config.listeners.enumerated().flatMap { index, listener -> [Stats.Certificate] in
            (runtime.listenerCertificates[index]?.entries ?? []).map {
                Stats.Certificate(listener: listener.name, subject: $0.subject, names: $0.names, notValidAfter: $0.notValidAfter)
            }
        }
        let startedAt = self.startedAt
        return EventLoopFuture.whenAllSucceed(perWorker, on: loop).and(memberStatus()).map { collected, members in
            let workers = collected.map(\.0)
            var listeners = config.listeners.map { (name: $0.name, traffic: TrafficCounters()) }
            var rules = config.rules.map { (name: $0.name, traffic: TrafficCounters()) } + [(name: "(no rule)", traffic: TrafficCounters())]
            var active = Array(repeating: 0, count: members.count)
            for (worker, outstanding) in collected {
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
            return Stats(
                instance: config.instance, startedAt: startedAt, workers: workers, listeners: listeners,
                rules: rules, members: members, membersActive: active, certificates: certificates
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

    /// Every farm member's health and drain state.
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

    /// Admin drain: the member gets no new clients; exchanges in progress finish.
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

    /// Requests on the control socket (see `ControlSocket`): a thin mapping onto the
    /// management API above.
    private func handleControl(_ request: [String: Any], on loop: EventLoop) -> EventLoopFuture<[String: Any]> {
        func failure(_ error: Error) -> EventLoopFuture<[String: Any]> {
            loop.makeSucceededFuture(["ok": false, "error": "\(error)"])
        }
        switch request["command"] as? String {
        case "ping":
            return loop.makeSucceededFuture(["ok": true, "instance": runtime.config.instance])
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
            ]
        }
        return [
            "ok": true,
            "instance": stats.instance,
            "started_at": iso.string(from: stats.startedAt),
            "uptime_seconds": Date().timeIntervalSince(stats.startedAt),
            "workers": stats.workers.map { w -> [String: Any] in
                [
                    "worker": w.index, "accepted": w.accepted, "active": w.active,
                    "tls_handshakes": w.tlsHandshakes, "tls_handshake_failures": w.tlsHandshakeFailures,
                    "requests": w.requests,
                ]
            },
            "listeners": stats.listeners.map { ["name": $0.name].merging(traffic($0.traffic)) { a, _ in a } },
            "rules": stats.rules.map { ["name": $0.name].merging(traffic($0.traffic)) { a, _ in a } },
            "members": zip(stats.members, stats.membersActive).map { member, active -> [String: Any] in
                [
                    "farm": member.farm, "member": member.member, "state": member.state,
                    "active": active, "consecutive_failures": member.consecutiveFailures,
                    "last_check": member.lastCheck,
                    "last_check_at": member.lastCheckAt.map { iso.string(from: $0) } ?? "",
                ]
            },
            "certificates": stats.certificates.map { c -> [String: Any] in
                [
                    "listener": c.listener, "subject": c.subject, "names": c.names,
                    "not_valid_after": iso.string(from: c.notValidAfter),
                    "days_left": Int(c.notValidAfter.timeIntervalSinceNow / 86_400),
                ]
            },
        ]
    }

    private func stopImmediately() {
        metrics?.stop()
        metrics = nil
        control?.stop()
        control = nil
        monitor?.stop()
        monitor = nil
        for channel in serverChannels { try? channel.close().wait() }
        serverChannels.removeAll()
        for group in listenerGroups { group.close() }
        listenerGroups.removeAll()
        steering?.close(unpin: true)
        steering = nil
        accessLog?.close()
        try? group.syncShutdownGracefully()
    }
}
