#if canImport(Glibc)
import EdgeTLS
import Forwarding
import Glibc
#endif
import AdminServer
import Affinity
import CoreMetrics
import Foundation
import Logging
import MemberConnections
import NIOConcurrencyHelpers
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
///
/// Sendable by discipline, which the compiler cannot check: `start()` runs before any other
/// thread sees the server; after it, reloads, retirement and shutdown change its state on the
/// `lifecycle` queue alone, one at a time; the serving generation, which the event loops read
/// (control socket, metrics), is behind a lock. Closures that the event loops or the lifecycle
/// queue run may therefore hold the server.
public final class ProxyServer: @unchecked Sendable {
    public let environment: ServerEnvironment
    public let workerCount: Int
    /// The configuration being served (the newest generation's).
    public var runtime: RuntimeConfiguration { current?.runtime ?? initialRuntime }
    /// 1 at start, one more per successful reload.
    public var generation: Int { current?.number ?? 0 }
    /// When `start()` began serving.
    public private(set) var startedAt = Date()
    /// Why the control socket could not be opened, when it could not.
    public private(set) var controlWarning: String?
    /// Why kernel steering is off, when it is.
    public private(set) var steeringWarning: String?
    /// Why L4 routes are copied in userspace instead of spliced in the kernel, when they are.
    public private(set) var spliceWarning: String?
    /// The bound port of each listener (useful with port 0).
    public private(set) var boundPorts: [Int] = []
    /// The bound port of the metrics endpoint, when `admin.metrics` is set.
    public private(set) var metricsPort: Int?
    /// Called (on no particular thread) when a newer process of the same instance took over
    /// and this one's connections have drained: the caller should stop and exit.
    public var onRetired: (@Sendable () -> Void)?
    /// Set when this process took over a running instance from an older process.
    public private(set) var tookOverFromPredecessor = false

    let group: MultiThreadedEventLoopGroup
    private let initialRuntime: RuntimeConfiguration
    /// The generation serving now. Replaced on the lifecycle queue by a reload while event
    /// loops read it (the control socket's `stats`, the metrics endpoint), so every access
    /// takes the lock.
    private var current: Generation? {
        get { currentBox.withLockedValue { $0 } }
        set { currentBox.withLockedValue { $0 = newValue } }
    }
    private let currentBox = NIOLockedValueBox<Generation?>(nil)
    /// Older generations whose connections are still draining after a reload.
    private var retiring: [Generation] = []
    var workers: [Worker] { current?.workers ?? [] }
    var monitor: HealthMonitor? { current?.monitor }
    private(set) var steering: SteeringProgram?
    /// The kernel splice of L4 routes (nil: userspace copying).
    private(set) var splice: SpliceProgram?
    private var control: ControlSocket?
    private var metrics: MetricsEndpoint?
    /// Reloads, member state changes and health checks, through swift-metrics into the
    /// registry `/metrics` renders.
    let events = EventMetrics()
    private var logger: Logger { environment.logger }
    /// The session-ticket keys of this process, kept across reloads.
    let ticketKeys: SessionTicketKeys
    /// Per event loop: the per-source limit counts, kept across reloads.
    private let sourceCounts: [SourceCounts]
    /// Open connections per loop, for bounded-load steering.
    private let connectionLoads: [ConnectionLoad]
    private var loadReaper: RepeatedTask?
    /// Reloads and shutdown run one at a time, off the event loops (they wait on them).
    private let lifecycle = DispatchQueue(label: "edgesplit.lifecycle")

    public init(runtime: RuntimeConfiguration, environment: ServerEnvironment) {
        self.initialRuntime = runtime
        self.environment = environment
        let configured = environment.workers ?? runtime.config.workers ?? System.coreCount
        self.workerCount = max(1, min(configured, 64))
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: workerCount)
        self.ticketKeys = SessionTicketKeys(interval: runtime.config.tls.tickets.rotate)
        self.sourceCounts = (0..<workerCount).map { _ in SourceCounts() }
        self.connectionLoads = (0..<workerCount).map { ConnectionLoad(worker: $0) }
    }

    private var loops: [EventLoop] { Array(group.makeIterator()) }

    /// Binds every listener, loads kernel steering when asked and possible, and starts
    /// accepting. Throws before accepting anything if a listener cannot be bound.
    public func start() throws {
        let config = initialRuntime.config
        startedAt = Date()
        do {
            let accessLog = try config.accessLog.map(AccessLog.init(settings:))
            loadSplice()
            let generation = Generation(
                number: 1, runtime: initialRuntime, loops: loops, accessLog: accessLog, ticketKeys: ticketKeys,
                sourceCounts: sourceCounts, connectionLoads: connectionLoads, events: events, splice: splice
            )
            current = generation
            events.reloaded(.ok, generation: 1, counted: false)
            ticketKeys.rotate(every: config.tls.tickets.rotate)
            if let endpoint = config.admin.metrics {
                let metrics = MetricsEndpoint(source: self, registry: events.registry, dashboard: initialRuntime.dashboardAccess)
                do {
                    metricsPort = try metrics.start(endpoint: endpoint, on: loops[0])
                } catch {
                    throw SetupError(endpoint.position, "admin.metrics: cannot listen on \(endpoint.address):\(endpoint.port): \(error)")
                }
                self.metrics = metrics
            }
            var predecessor: ControlConnection?
            if let directory = environment.controlDirectory {
                let control = ControlSocket(directory: directory, instance: config.instance)
                let loop = loops[0]
                // An older process serving this instance (a binary upgrade): keep a connection
                // to it, opened before our socket replaces its file, to retire it once we accept.
                if let connection = try? ControlConnection(path: control.path),
                    case .pong(let instance, _)? = try? connection.call(.ping, timeoutSeconds: 2),
                    instance == config.instance
                {
                    predecessor = connection
                }
                do {
                    try control.start(on: loop) { [weak self] request in
                        guard let self else { return loop.makeSucceededFuture(.refused("stopping")) }
                        return self.handleControl(request, on: loop)
                    }
                    self.control = control
                } catch {
                    controlWarning = "no control socket at \(control.path) (\(error)); `edgesplit farm` cannot reach this instance"
                }
            }
            boundPorts = try generation.bindListeners()
            if environment.kernelSteering {
                var loaded: SteeringProgram?
                do {
                    let program = try SteeringProgram(
                        SteeringProgram.Options(
                            instance: config.instance,
                            pinRoot: environment.pinRoot,
                            mask: config.affinity.mask,
                            seed: config.affinity.seed,
                            workers: workerCount,
                            balance: config.affinity.balance
                        )
                    )
                    loaded = program
                    for group in generation.listenerGroups { try program.attach(group) }
                    steering = program
                    // Before the first accept: the loads start at zero with the row.
                    for load in connectionLoads { load.kernel = program.loads }
                    // A process killed during a hitless restart leaves its row counted: clear it.
                    loadReaper = loops[0].scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { [loads = program.loads] _ in
                        loads.reapDeadOwners()
                    }
                } catch {
                    // Loaded but not attached: its pins would mislead `edgesplit maps`.
                    loaded?.close(unpin: true)
                    steering = nil
                    steeringWarning = "\(error)"
                }
            } else {
                steeringWarning = "kernel steering disabled (--no-bpf)"
            }
            if steering == nil { Self.enableKernelMigration(logger: logger) }
            try generation.startAccepting(logger: logger)
            if let predecessor {
                // Our sockets are in the groups (and the steering array): the older process
                // may close its listeners now; their queued connections migrate to ours.
                let answer = try? predecessor.call(.retire, timeoutSeconds: 5)
                tookOverFromPredecessor = answer?.ok == true
                logger.info("took over from the previous process", metadata: ["retiring": "\(tookOverFromPredecessor)"])
            }
        } catch {
            stopImmediately()
            throw error
        }
    }

    /// Loads the L4 splice program (with kernel steering on); without it L4 routes are
    /// copied in userspace, and a configuration with L4 routes says so once.
    private func loadSplice() {
        if environment.kernelSteering {
            do {
                splice = try SpliceProgram(instance: initialRuntime.config.instance, pinRoot: environment.pinRoot)
            } catch {
                spliceWarning = "\(error)"
            }
        } else {
            spliceWarning = "kernel splicing disabled (--no-bpf)"
        }
        if let spliceWarning, !initialRuntime.config.l4Routes.isEmpty {
            logger.warning("L4 routes are copied in userspace: \(spliceWarning)")
        }
    }

    /// Bytes spliced in the kernel by L4 route, when the splice program is loaded.
    public func spliceCounters() -> SpliceCounters? { try? splice?.counters() }

    /// Without the migrate program, the kernel's own listener migration
    /// (`net.ipv4.tcp_migrate_req`, Linux 5.14) keeps a reload from resetting the
    /// connections queued in the old listeners. Needs root; harmless otherwise.
    static func enableKernelMigration(logger: Logger) {
        let path = "/proc/sys/net/ipv4/tcp_migrate_req"
        guard geteuid() == 0, let current = try? String(contentsOfFile: path, encoding: .utf8),
            current.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
        else { return }
        if (try? "1\n".write(toFile: path, atomically: false, encoding: .utf8)) != nil {
            logger.info("enabled net.ipv4.tcp_migrate_req so reloads migrate queued connections")
        }
    }

    /// Why a reload was refused; the old generation keeps serving.
    public struct ReloadRefused: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Hitless reload: a new generation with `newRuntime` joins the listening groups, the
    /// steering socket array switches to it, the old generation's listeners close (their
    /// queued connections migrate) and its connections drain for `timeouts.drain`.
    /// Blocks until the new generation accepts; call it off the event loops.
    @discardableResult
    public func reload(to newRuntime: RuntimeConfiguration) throws -> Int {
        do {
            let number = try lifecycle.sync { try reloadLocked(to: newRuntime) }
            events.reloaded(.ok, generation: number)
            return number
        } catch {
            events.reloaded(.refused, generation: generation)
            throw error
        }
    }

    /// Makes the swift-metrics `MetricsSystem` of this process emit into the registry that
    /// `/metrics` renders, so metrics of any library using the swift-metrics API appear there
    /// too. Once per process (the command-line entry points call it); the server's own event
    /// metrics do not depend on it.
    public func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(events.factory)
    }

    /// Reloads from `environment.reloadConfiguration` (the file `serve` was started with):
    /// what SIGHUP and `edgesplit reload` do.
    public func reloadFromSource() throws -> Int {
        guard let source = environment.reloadConfiguration else {
            throw ReloadRefused("this server has no configuration file to reload")
        }
        let next: RuntimeConfiguration
        do {
            next = try source()
        } catch {
            events.reloaded(.refused, generation: generation)
            throw error
        }
        return try reload(to: next)
    }

    private func reloadLocked(to newRuntime: RuntimeConfiguration) throws -> Int {
        guard let old = current else { throw ReloadRefused("the server is not running") }
        let before = old.runtime.config
        let after = newRuntime.config
        if after.instance != before.instance {
            throw ReloadRefused("instance changed from '\(before.instance)' to '\(after.instance)': start a new process")
        }
        let workers = environment.workers ?? after.workers ?? System.coreCount
        if max(1, min(workers, 64)) != workerCount {
            throw ReloadRefused("workers changed from \(workerCount) to \(workers): restart edgesplit to change it")
        }
        var sameAffinity = after.affinity
        sameAffinity.balance = before.affinity.balance
        if sameAffinity != before.affinity {
            throw ReloadRefused("affinity changed: restart edgesplit, or change prefixes with `edgesplit maps set-prefix`")
        }
        if after.admin != before.admin {
            throw ReloadRefused("admin changed: restart edgesplit to move the metrics endpoint or change the dashboard (its credentials are read at start)")
        }
        let sameLog = after.accessLog?.path == before.accessLog?.path && after.accessLog?.format == before.accessLog?.format
        let accessLog = sameLog ? old.accessLog : try after.accessLog.map(AccessLog.init(settings:))
        let next = Generation(
            number: old.number + 1, runtime: newRuntime, loops: loops, accessLog: accessLog, ticketKeys: ticketKeys,
            sourceCounts: sourceCounts, connectionLoads: connectionLoads, events: events, splice: splice
        )
        let ports: [Int]
        do {
            ports = try next.bindListeners()
            if let steering { for group in next.listenerGroups { try steering.attach(group) } }
            try next.startAccepting(logger: logger)
        } catch {
            if let steering { for group in old.listenerGroups { try? steering.attach(group) } }
            for worker in old.workers { worker.configureLimits() }
            next.stopAccepting()
            _ = try? next.drainConnections(gentle: false, deadline: .zero, on: loops[0]).wait()
            if !sameLog { accessLog?.close() }
            throw ReloadRefused("the new configuration could not start: \(error)")
        }
        current = next
        boundPorts = ports
        if after.affinity.balance != before.affinity.balance, let steering {
            // The one affinity setting a reload applies: the next connections use it.
            do { try steering.maps.setBalance(after.affinity.balance) } catch {
                logger.warning("affinity.balance_factor not applied: \(error)")
            }
        }
        ticketKeys.rotate(every: after.tls.tickets.rotate)
        old.stopAccepting()
        retiring.append(old)
        let loop = loops[0]
        old.drainConnections(gentle: true, deadline: after.timeouts.drain.timeAmount, on: loop).whenComplete { [weak self] _ in
            if !sameLog { old.accessLog?.close() }
            guard let self else { return }
            self.lifecycle.async { self.retiring.removeAll { $0 === old } }
        }
        logger.info("reloaded", metadata: ["generation": "\(next.number)"])
        // What `check` would warn about (an unusable OCSP file, a member that does not resolve).
        for warning in newRuntime.warnings { logger.warning("\(warning.message)", metadata: ["config": "\(warning.position)"]) }
        return next.number
    }

    /// A newer process took over (binary upgrade): stop accepting — the kernel migrates the
    /// queued connections to the newer process's sockets — drain its connections gently for
    /// `timeouts.drain`, then call `onRetired`.
    public func retire() {
        lifecycle.async { [self] in
            guard let generation = current else { return }
            generation.stopAccepting()
            let retired = onRetired
            generation.drainConnections(gentle: true, deadline: generation.runtime.config.timeouts.drain.timeAmount, on: loops[0])
                .whenComplete { _ in retired?() }
        }
    }

    /// Stops accepting, lets in-flight exchanges finish for up to `deadline`, then closes
    /// what remains and releases the kernel state (pins are removed on a clean stop).
    public func shutdown(deadline: TimeAmount) {
        lifecycle.sync {
            let generations = (current.map { [$0] } ?? []) + retiring
            for generation in generations { generation.stopAccepting() }
            let loop = loops[0]
            let drained = generations.map { $0.drainConnections(gentle: false, deadline: deadline, on: loop) }
            try? EventLoopFuture.andAllComplete(drained, on: loop).wait()
            current?.accessLog?.close()
            retiring.removeAll()
            stopImmediately()
        }
    }

    private func stopImmediately() {
        ticketKeys.stop()
        metrics?.stop()
        metrics = nil
        control?.stop()
        control = nil
        current?.monitor.stop()
        current?.stopAccepting()
        splice?.close(unpin: steering == nil)
        splice = nil
        loadReaper?.cancel()
        loadReaper = nil
        let program = steering
        steering = nil
        try? group.syncShutdownGracefully()
        // After the loops: no worker stores its count into the released row any more.
        program?.close(unpin: true)
    }
}
