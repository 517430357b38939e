import AdminServer
import Affinity
import L4
import MemberConnections
import Members
import NIOCore
import NIOPosix
import NIOSSL
import Publishing
import Steering

/// One worker: a SwiftNIO event loop and everything that belongs to it.
///
/// The kernel steering program sends every connection of a client (or NAT prefix) to the
/// same worker, so the state kept here — member connection pool, farm balancers, the
/// access-log buffer — is owned by one thread and needs no locks. Every method runs on
/// `eventLoop`.
///
/// `@unchecked Sendable` by that discipline: a generation builds its workers on the thread
/// that starts it, before any of them accepts a connection; from then on their state is
/// touched only on `eventLoop`, and code elsewhere (the generation, the health monitor, the
/// server's management calls) reaches a worker only through `eventLoop.execute`, `submit` or
/// `flatSubmit`. Closures that run on the loop later (timers, close futures, bootstraps'
/// initializers) may hold it.
package final class Worker: @unchecked Sendable {
    package let index: Int
    package let eventLoop: EventLoop
    package let runtime: RuntimeConfiguration
    package let balancers: [FarmBalancer]
    /// By farm index: the persistence cookie of farms with `persistence: cookie`.
    package let cookies: [PersistenceCookie?]
    package let pool: MemberPool
    package let accessLog: AccessLogBuffer?
    /// This worker's counters (`edgesplit stats`), touched only on `eventLoop`.
    package var stats: WorkerStats
    /// The per-source counts of this worker's loop, shared with the other generations on it.
    package let sourceCounts: SourceCounts
    /// The loop's open connections, shared with the other generations on it (bounded loads).
    package let connectionLoad: ConnectionLoad
    /// By rule index: the rule's ID in the limit table.
    package var limitRuleIDs: [Int] = []
    package var limitExpiryTask: RepeatedTask?
    /// Client connections open on this worker, for draining them at shutdown and reload.
    package private(set) var clients: [ObjectIdentifier: ClientConnection] = [:]
    /// Its connections are being drained (shutdown, reload): not the worker drained from the
    /// kernel table (`maps drain`), which keeps serving the connections it has.
    package private(set) var drainingConnections = false
    private var drainGently = false
    private var flushTask: RepeatedTask?
    /// The process's health monitor (set before the worker accepts anything).
    package var monitor: HealthMonitor?
    /// The kernel splice for L4 routes; nil = L4 connections are copied in userspace.
    package var splice: SpliceProgram?
    /// L4 connections open on this worker, for draining them.
    package private(set) var l4Connections: [ObjectIdentifier: any PassedThroughConnection] = [:]
    /// Serves a client connection whose TLS handshake chose `h2` by ALPN, in place of its
    /// HTTP/1.1 handler (set by the generation; nil: the connection is closed).
    package let startHTTP2: StartHTTP2?
    private var connectionsDrained: EventLoopPromise<Void>?

    package init(
        index: Int, eventLoop: EventLoop, runtime: RuntimeConfiguration, accessLog: AccessLog?, sourceCounts: SourceCounts,
        connectionLoad: ConnectionLoad, startHTTP2: StartHTTP2? = nil
    ) {
        self.index = index
        self.startHTTP2 = startHTTP2
        self.sourceCounts = sourceCounts
        self.connectionLoad = connectionLoad
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.memberAddresses = runtime.memberAddresses
        self.pool = MemberPool(members: runtime.config.farms.map(\.members.count), eventLoop: eventLoop)
        self.stats = WorkerStats(
            index: index, listeners: runtime.config.listeners.count, rules: runtime.config.rules.count,
            l4Routes: runtime.config.l4Routes.count)
        let config = runtime.config
        let mask = config.affinity.mask
        self.balancers = config.farms.enumerated().map { index, farm in
            FarmBalancer(
                farm: farm,
                farmIndex: index,
                resolved: runtime.memberAddresses[index].map { $0 != nil },
                mask: mask,
                seed: config.affinity.seed
            )
        }
        self.cookies = config.farms.map { farm in
            farm.persistence == .cookie ? PersistenceCookie(farm: farm, seed: config.affinity.seed) : nil
        }
        self.accessLog = accessLog.map(AccessLogBuffer.init(log:))
        if self.accessLog != nil {
            // Holds the worker until `stop` cancels it; runs on the worker's loop.
            flushTask = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
                self.accessLog?.flush()
            }
        }
        startLimits()
    }

    /// A copy of the counters, with the limit table's own figures filled in.
    package func statsSnapshot() -> WorkerStats {
        var copy = stats
        if let limits = sourceCounts.table {
            copy.limitSources = limits.count
            copy.limitSourcesEvicted = limits.evicted
            copy.limitUntracked = limits.untracked
        }
        return copy
    }

    /// Where each member is now, by farm and member: resolved at start, updated when a
    /// health check re-resolves a name to a new address.
    private var memberAddresses: [[SocketAddress?]]

    package func setMemberAddress(farm: Int, member: Int, _ address: SocketAddress) {
        memberAddresses[farm][member] = address
        balancers[farm].setResolved(member)
    }

    /// The monitor's verdict on a member (up and not drained), told to every worker.
    package func setMemberAvailable(farm: Int, member: Int, _ available: Bool) {
        balancers[farm].setMonitorAvailable(member, available)
    }

    /// A connection to a member failed before anything was sent: hold it out here at once,
    /// and let the monitor count it toward `fall`.
    package func memberFailed(farm: Int, member: Int, reason: String) {
        balancers[farm].markFailed(member, now: Self.now)
        monitor?.passiveFailure(farm: farm, member: member, reason: reason)
    }

    package func register(_ client: ClientConnection) {
        clients[ObjectIdentifier(client)] = client
        stats.accepted &+= 1
        stats.active += 1
        if drainingConnections { client.drain(gentle: drainGently) }
    }

    /// A connection that changes hands (HTTP/1.1 handler → HTTP/2 after ALPN) stays counted once.
    package func replace(_ old: ClientConnection, with new: ClientConnection) {
        guard clients.removeValue(forKey: ObjectIdentifier(old)) != nil else { return }
        clients[ObjectIdentifier(new)] = new
        if drainingConnections { new.drain(gentle: drainGently) }
    }

    package func unregister(_ client: ClientConnection, handshakeFailed: Bool) {
        guard clients.removeValue(forKey: ObjectIdentifier(client)) != nil else { return }
        stats.active -= 1
        if handshakeFailed { stats.tlsHandshakeFailures &+= 1 }
        if drainingConnections, clients.isEmpty, l4Connections.isEmpty {
            connectionsDrained?.succeed(())
            connectionsDrained = nil
        }
    }

    package func register(_ connection: any PassedThroughConnection) {
        l4Connections[ObjectIdentifier(connection)] = connection
        stats.l4Routes[connection.routeIndex].connections &+= 1
        stats.l4Routes[connection.routeIndex].active += 1
    }

    package func unregister(_ connection: any PassedThroughConnection) {
        guard l4Connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        stats.l4Routes[connection.routeIndex].active -= 1
        if drainingConnections, clients.isEmpty, l4Connections.isEmpty {
            connectionsDrained?.succeed(())
            connectionsDrained = nil
        }
    }

    /// Graceful stop. Busy connections close after their current response. Idle keep-alive
    /// connections close now (`gentle: false`, shutdown) or after their next response
    /// (`gentle: true`, reload: closing an idle connection races with a request the client
    /// may be sending on it). The future completes when the last client connection closed.
    package func drainConnections(gentle: Bool) -> EventLoopFuture<Void> {
        drainingConnections = true
        drainGently = gentle
        pool.closeAll()
        if clients.isEmpty, l4Connections.isEmpty { return eventLoop.makeSucceededVoidFuture() }
        let promise = connectionsDrained ?? eventLoop.makePromise()
        connectionsDrained = promise
        for client in clients.values { client.drain(gentle: gentle) }
        return promise.futureResult
    }

    /// Ends every remaining connection (the connections' drain deadline passed).
    package func closeAll() {
        for client in clients.values { client.abort() }
        for connection in l4Connections.values { connection.abort() }
        pool.closeAll()
    }

    package func stop() {
        pool.closeAll()
        flushTask?.cancel()
        limitExpiryTask?.cancel()
        accessLog?.flush()
    }

    /// Opens a connection to a farm member on this worker's loop; the handler comes back
    /// ready to carry one exchange at a time.
    package func connect(farm farmIndex: Int, member: Int, timeout: TimeAmount) -> EventLoopFuture<MemberHandler> {
        guard let address = memberAddresses[farmIndex][member] else {
            return eventLoop.makeFailedFuture(MemberError.unresolved)
        }
        let farm = runtime.config.farms[farmIndex]
        let tls = runtime.memberTLS[farmIndex]
        let handler = MemberHandler(pool: pool, limits: runtime.headLimits, farmIndex: farmIndex, member: member)
        let serverName = tls?.serverName(for: farm.members[member])
        // Called on this loop, where the new channel's initializer and the connect future run too.
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if let tls {
                        let ssl = try NIOSSLClientHandler(context: tls.context, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(ssl)
                    }
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(to: address)
            .map { _ in bound.value }
    }
}

extension Worker {
    /// Opens a plain TCP connection to a member of an L4 route's farm. It does not read on
    /// its own (`autoRead` off) and keeps its write half open when the member's input ends.
    package func connectL4(farm farmIndex: Int, member: Int, timeout: TimeAmount, handler: L4GlueHandler) -> EventLoopFuture<Channel> {
        guard let address = memberAddresses[farmIndex][member] else {
            return eventLoop.makeFailedFuture(MemberError.unresolved)
        }
        // Called on this loop, where the new channel's initializer runs too.
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(bound.value) }
            }
            .connect(to: address)
    }
}

/// A connection of an L4 route as its worker sees it: counted by route while open, aborted at
/// the drain deadline.
package protocol PassedThroughConnection: AnyObject {
    var routeIndex: Int { get }
    func abort()
}

/// Takes over a client connection whose TLS handshake chose `h2` by ALPN: the HTTP/1.1
/// handler that was reading it hands over the channel, its listener, the client's address
/// (and its text) and its place in its source's counts; the new connection comes back to be
/// counted in the handler's place. Throws when the channel cannot take it (the caller closes it).
package typealias StartHTTP2 = (
    _ worker: Worker, _ channel: Channel, _ listenerIndex: Int, _ client: ClientAddress?, _ clientText: String,
    _ sourceTicket: SourceTicket?
) throws -> ClientConnection
