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

    let group: MultiThreadedEventLoopGroup
    private(set) var workers: [Worker] = []
    private var serverChannels: [Channel] = []
    private var listenerGroups: [ListenerGroup] = []
    private var steering: SteeringProgram?
    private(set) var monitor: HealthMonitor?
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
