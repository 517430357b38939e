#if canImport(Glibc)
import Glibc
#endif
import AdminServer
import EdgeTLS
import Forwarding
import HTTP1Serving
import HTTP2Serving
import Logging
import MemberConnections
import NIOCore
import NIOPosix
import NIOSSL
import Publishing
import Steering

/// One configuration's workers and listening sockets.
///
/// A reload starts a new generation beside the old one on the same event loops: its sockets
/// join the same `SO_REUSEPORT` groups, the steering program's socket array is pointed at
/// them, and only then does the old generation close its listeners — the kernel migrates
/// their queued connections to the new ones — and drain its connections.
///
/// `@unchecked Sendable` by ``ProxyServer``'s discipline: a generation is built, binds, starts
/// and stops accepting on the thread that runs the server's lifecycle, one step at a time;
/// event loops and the closures they run only read its constants (`number`, `runtime`,
/// `workers`, `monitor`, `accessLog`) and reach the workers and the monitor through their loops.
final class Generation: @unchecked Sendable {
    let number: Int
    let runtime: RuntimeConfiguration
    let workers: [Worker]
    let monitor: HealthMonitor
    let accessLog: AccessLog?
    private(set) var listenerGroups: [ListenerGroup] = []
    private var serverChannels: [Channel] = []
    private var ocspWatch: OCSPStapleWatch?

    /// `ticketKeys` is the process's ring: every generation seals tickets with it, so a
    /// reload does not cost clients their sessions. `splice` carries L4 routes in the kernel.
    init(
        number: Int, runtime: RuntimeConfiguration, loops: [EventLoop], accessLog: AccessLog?, ticketKeys: SessionTicketKeys,
        sourceCounts: [SourceCounts], connectionLoads: [ConnectionLoad], events: EventMetrics, splice: SpliceProgram? = nil
    ) {
        self.number = number
        self.runtime = runtime
        self.accessLog = accessLog
        for certificates in runtime.listenerCertificates { certificates?.useTicketKeys(ticketKeys) }
        let workers = loops.enumerated().map { index, loop in
            Worker(
                index: index, eventLoop: loop, runtime: runtime, accessLog: accessLog, sourceCounts: sourceCounts[index],
                connectionLoad: connectionLoads[index], startHTTP2: HTTP2Clients.start)
        }
        for worker in workers { worker.splice = splice }
        self.workers = workers
        monitor = HealthMonitor(
            eventLoop: loops[0],
            config: runtime.config,
            memberTLS: runtime.memberTLS,
            addresses: runtime.memberAddresses,
            events: events,
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
        monitor.start()
    }

    /// Binds one `SO_REUSEPORT` socket per worker for every listener (joining the groups
    /// of an older generation on the same addresses). Returns the bound ports.
    func bindListeners() throws -> [Int] {
        for listener in runtime.config.listeners {
            listenerGroups.append(
                try ListenerGroup(address: listener.address, port: listener.port, workers: workers.count)
            )
        }
        return listenerGroups.map(\.port)
    }

    /// Hands every socket to its worker's event loop and starts accepting.
    func startAccepting(logger: Logger) throws {
        let watch = OCSPStapleWatch(
            listeners: zip(runtime.config.listeners, runtime.listenerCertificates).map { (name: $0.name, certificates: $1) },
            logger: logger
        )
        watch.start()
        ocspWatch = watch
        for (listenerIndex, listener) in runtime.config.listeners.enumerated() {
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
                    "port": "\(sockets.port)", "tls": "\(listener.tls != nil)", "generation": "\(number)",
                ]
            )
        }
    }

    /// Closes the listening sockets. With the migrate program (or `tcp_migrate_req`), the
    /// connections still queued in them move to the group's other sockets.
    func stopAccepting() {
        ocspWatch?.stop()
        ocspWatch = nil
        for channel in serverChannels { try? channel.close().wait() }
        serverChannels.removeAll()
        for group in listenerGroups { group.close() }
    }

    /// Drains the workers' connections: `gentle` (reload) keeps idle keep-alive connections until their
    /// next response, which closes them; otherwise (shutdown) idle ones close at once. What
    /// is left at `deadline` is closed. Completes when the generation is gone.
    func drainConnections(gentle: Bool, deadline: TimeAmount, on loop: EventLoop) -> EventLoopFuture<Void> {
        let drained = workers.map { worker in worker.eventLoop.flatSubmit { worker.drainConnections(gentle: gentle) } }
        let finished = loop.makePromise(of: Void.self)
        let timeout = loop.scheduleTask(in: deadline) { finished.succeed(()) }
        EventLoopFuture.andAllComplete(drained, on: loop).whenComplete { _ in finished.succeed(()) }
        return finished.futureResult.flatMap { [self] in
            timeout.cancel()
            monitor.stop()
            let closed = workers.map { worker in
                worker.eventLoop.submit {
                    worker.closeAll()
                    worker.stop()
                }
            }
            return EventLoopFuture.andAllComplete(closed, on: loop)
        }
    }

    private func bootstrap(listener listenerIndex: Int, worker: Worker) -> ServerBootstrap {
        let certificates = runtime.listenerCertificates[listenerIndex]
        return ServerBootstrap(group: worker.eventLoop, childGroup: worker.eventLoop)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let load = worker.connectionLoad
                load.opened()
                channel.closeFuture.assumeIsolated().whenComplete { _ in load.closed() }
                // Per-source limits first: a refused connection gets no TLS and no handler of
                // its own. On a TLS listener the ticket counts a half-open handshake until
                // `handshakeEnded()`; a path that never terminates TLS here must call it when
                // it takes the connection over.
                let ticket: SourceTicket?
                switch worker.admitConnection(channel, handshake: certificates != nil) {
                case .success(let admitted): ticket = admitted
                case .failure:
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler())
                    }
                }
                let handler = HTTP1Clients.handler(
                    worker: worker, listenerIndex: listenerIndex, isTLS: certificates != nil, sourceTicket: ticket)
                do {
                    if let certificates {
                        // Reads the ClientHello first: an L4 route passes the connection
                        // through, anything else gets TLS terminated here.
                        let hello = ClientHelloHandler(worker: worker, listenerIndex: listenerIndex, certificates: certificates)
                        try channel.pipeline.syncOperations.addHandler(hello)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }
}

/// The health monitor's events go to the process's event metrics (`/metrics`).
extension EventMetrics: HealthEvents {}
