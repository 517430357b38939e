import Affinity
import Forwarding
import HTTP1Serving
import L4
import Members
import NIOCore
import NIOPosix
import Publishing

/// A connection passed through by an L4 route: the client's TLS goes unchanged to a farm
/// member, which terminates it.
///
/// After the ClientHello decided the route, the member is picked (persistence `source` as
/// for L7) and connected. With the splice program loaded, both sockets enter its SOCKHASH
/// *before* the member has received anything, then the bytes read so far (the ClientHello,
/// and whatever the client had queued since) are written to the member: the member's whole
/// answer and everything after it go from socket to socket in the kernel. Without the
/// program (`--no-bpf`, no privilege, a full map) the two sides copy in userspace with
/// backpressure.
///
/// The kernel does not forward end of stream: when one side's input ends, the other side's
/// write half is shut once the kernel has sent on every byte that side received (compared
/// with TCP's own counters, so no byte still queued inside the splice is cut off). An error
/// or close on either side closes both and takes them out of the maps.
final class L4Connection: L4GlueConnection, PassedThroughConnection {
    let worker: Worker
    let routeIndex: Int
    let route: L4Route
    let farmIndex: Int
    let client: Channel
    private var member: Channel?
    private var clientGlue: L4GlueHandler!
    private var memberGlue: L4GlueHandler?
    /// Bytes for the member not yet written (PROXY header, ClientHello, bytes read since).
    private var toMember: ByteBuffer
    private var established = false
    private var splicedCookies: (client: UInt64, member: UInt64)?
    private var descriptors: (client: CInt, member: CInt)?
    /// Bytes userspace read from / wrote to each socket (once spliced: since `baseline`; the
    /// rest went through the kernel).
    private var readFromClient = 0
    private var writtenToMember = 0
    private var readFromMember = 0
    private var writtenToClient = 0
    /// TCP's counters of both sockets when they entered the map: bytes received (client,
    /// member) and bytes ever queued for sending (client, member).
    private var baseline: (received: (UInt64, UInt64), queued: (UInt64, UInt64)) = ((0, 0), (0, 0))
    private var closing = false
    private var waits: [RepeatedTask] = []

    /// How long end of stream may wait for the kernel to send on what it already received.
    static let endOfStreamWait = TimeAmount.seconds(10)

    private init(worker: Worker, client: Channel, routeIndex: Int, route: L4Route, farmIndex: Int, received: ByteBuffer) {
        self.worker = worker
        self.client = client
        self.routeIndex = routeIndex
        self.route = route
        self.farmIndex = farmIndex
        self.toMember = received
        self.readFromClient = received.readableBytes
    }

    /// Takes over `channel` (its ClientHello already read into `received`) for route
    /// `route` of listener `listenerIndex`. Runs on the worker's loop.
    static func start(worker: Worker, channel: Channel, listenerIndex: Int, route: Int, received: ByteBuffer) {
        let config = worker.runtime.config
        let l4Route = config.listeners[listenerIndex].l4Routes[route]
        guard let farmIndex = config.farmIndex(named: l4Route.farm) else {
            channel.close(promise: nil)
            return
        }
        let connection = L4Connection(
            worker: worker, client: channel, routeIndex: config.l4RouteIndex(listener: listenerIndex, route: route),
            route: l4Route, farmIndex: farmIndex, received: received)
        let pipeline = channel.pipeline.syncOperations
        do {
            try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
            try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            let glue = L4GlueHandler(side: .client, connection: connection)
            connection.clientGlue = glue
            HTTP1Clients.handOver(pipeline)
            try pipeline.addHandler(glue)
        } catch {
            channel.close(promise: nil)
            return
        }
        worker.register(connection)
        connection.connect(excluding: nil)
    }

    // MARK: Member

    private var clientAddress: ClientAddress? { client.remoteAddress.flatMap(ClientAddress.init(socketAddress:)) }

    private func connect(excluding: Int?) {
        let balancer = worker.balancers[farmIndex]
        guard let address = clientAddress,
            let memberIndex = balancer.pick(for: address, excluding: excluding, now: Worker.now)
        else {
            worker.stats.l4Routes[routeIndex].noMember &+= 1
            client.close(promise: nil)
            return
        }
        let glue = L4GlueHandler(side: .member, connection: self)
        worker.connectL4(farm: farmIndex, member: memberIndex, timeout: RuleTimeouts().connect.timeAmount, handler: glue)
            .assumeIsolated().whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    balancer.markSucceeded(memberIndex)
                    guard !closing else {
                        channel.close(promise: nil)
                        return
                    }
                    member = channel
                    memberGlue = glue
                    establish()
                case .failure(let error):
                    worker.memberFailed(farm: farmIndex, member: memberIndex, reason: "\(error)")
                    worker.stats.l4Routes[routeIndex].memberFailures &+= 1
                    if excluding == nil, !closing {
                        connect(excluding: memberIndex)
                    } else {
                        client.close(promise: nil)
                    }
                }
            }
    }

    private func establish() {
        guard let member, client.isActive else {
            shutDown()
            return
        }
        if route.proxyProtocol == .v2 {
            var header = member.allocator.buffer(bytes: ProxyProtocolHeader.bytes(source: client.remoteAddress, destination: client.localAddress))
            header.writeBuffer(&toMember)
            toMember = header
        }
        established = true
        if let splice = worker.splice,
            let clientFD = ChannelDescriptor.of(client), let memberFD = ChannelDescriptor.of(member),
            let cookies = try? splice.splice(client: clientFD, member: memberFD, route: routeIndex)
        {
            splicedCookies = cookies
            descriptors = (clientFD, memberFD)
            let clientCounts = L4Socket.byteCounts(clientFD)
            let memberCounts = L4Socket.byteCounts(memberFD)
            baseline = ((clientCounts.received, memberCounts.received), (clientCounts.queued, memberCounts.queued))
            (readFromClient, writtenToMember, readFromMember, writtenToClient) = (0, 0, 0, 0)
            worker.stats.l4Routes[routeIndex].spliced &+= 1
            // Queued before the client's socket entered the map: the program never sees it.
            readFromClient += L4Socket.drain(clientFD, into: &toMember)
            sendToMember()
            var fromMember = member.allocator.buffer(capacity: 0)
            readFromMember += L4Socket.drain(memberFD, into: &fromMember)
            if fromMember.readableBytes > 0 { send(fromMember, toward: .client) }
        } else {
            worker.stats.l4Routes[routeIndex].fallbacks &+= 1
            sendToMember()
            // Userspace copying: both sides read, each only while the other is writable.
            try? client.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            try? member.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            client.read()
            member.read()
        }
        if clientGlue.inputClosed { endOfStream(from: .client) }
        watchIdle()
    }

    /// Closes the connection once neither socket has carried payload for `route.idle`. TCP
    /// keeps the time of each socket's last data, also for bytes the kernel splices, so a
    /// look every quarter of the timeout (at most every 30 s) is all it takes.
    private func watchIdle() {
        guard let member, let clientFD = ChannelDescriptor.of(client), let memberFD = ChannelDescriptor.of(member) else { return }
        let idle = route.idle.timeAmount
        let every = TimeAmount.nanoseconds(min(max(idle.nanoseconds / 4, 100_000_000), 30_000_000_000))
        // Runs on the worker's loop, where this connection lives; NIOLoopBound carries it there.
        let tick = NIOLoopBound({ [weak self] (task: RepeatedTask) in
            guard let self, !self.closing else {
                task.cancel()
                return
            }
            guard let client = L4Socket.idleMilliseconds(clientFD), let member = L4Socket.idleMilliseconds(memberFD) else { return }
            if Int64(min(client, member)) * 1_000_000 >= idle.nanoseconds {
                self.worker.stats.l4Routes[self.routeIndex].idleClosed &+= 1
                self.shutDown()
            }
        }, eventLoop: worker.eventLoop)
        let task = worker.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { task in tick.value(task) }
        waits.append(task)
    }

    private func sendToMember() {
        guard toMember.readableBytes > 0 else { return }
        let bytes = toMember
        toMember.clear()
        send(bytes, toward: .member)
    }

    private func send(_ bytes: ByteBuffer, toward side: L4GlueHandler.Side) {
        let glue = side == .member ? memberGlue : clientGlue
        guard let context = glue?.context else { return }
        if side == .member { writtenToMember += bytes.readableBytes } else { writtenToClient += bytes.readableBytes }
        if splicedCookies == nil { worker.stats.l4Routes[routeIndex].bytesCopied &+= UInt64(bytes.readableBytes) }
        context.write(NIOAny(bytes), promise: nil)
        context.flush()
    }

    // MARK: From the glue handlers

    func received(_ bytes: ByteBuffer, from side: L4GlueHandler.Side) {
        if side == .client {
            if !established {
                var incoming = bytes
                readFromClient += incoming.readableBytes
                toMember.writeBuffer(&incoming)
                return
            }
            readFromClient += bytes.readableBytes
        } else {
            readFromMember += bytes.readableBytes
        }
        let target: L4GlueHandler.Side = side == .client ? .member : .client
        let glue = target == .member ? memberGlue : clientGlue
        guard let context = glue?.context else { return }
        if target == .member { writtenToMember += bytes.readableBytes } else { writtenToClient += bytes.readableBytes }
        if splicedCookies == nil { worker.stats.l4Routes[routeIndex].bytesCopied &+= UInt64(bytes.readableBytes) }
        context.write(NIOAny(bytes), promise: nil)
    }

    func flush(toward side: L4GlueHandler.Side) {
        (side == .member ? memberGlue : clientGlue)?.context?.flush()
    }

    func mayRead(_ side: L4GlueHandler.Side) -> Bool {
        guard established, splicedCookies == nil else { return false }
        return (side == .client ? memberGlue : clientGlue)?.isWritable ?? false
    }

    func becameWritable(_ side: L4GlueHandler.Side) {
        (side == .client ? memberGlue : clientGlue)?.resumeReading()
    }

    /// NIO reports that `side`'s input ended. For a spliced socket it also says so when the
    /// socket's own write side was shut while the peer still sends, so the end is taken
    /// only once TCP's state shows the peer's FIN (polled until then).
    func inputEnded(_ side: L4GlueHandler.Side) {
        guard !closing else { return }
        let glue = side == .client ? clientGlue : memberGlue
        guard let fds = descriptors else {
            glue?.markInputClosed()
            endOfStream(from: side)
            return
        }
        let fd = side == .client ? fds.client : fds.member
        if L4Socket.finReceived(fd) {
            glue?.markInputClosed()
            endOfStream(from: side)
            return
        }
        let tick = NIOLoopBound({ [weak self] (task: RepeatedTask) in
            guard let self, !self.closing else {
                task.cancel()
                return
            }
            if L4Socket.finReceived(fd) {
                task.cancel()
                glue?.markInputClosed()
                self.endOfStream(from: side)
            }
        }, eventLoop: worker.eventLoop)
        let task = worker.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) { task in
            tick.value(task)
        }
        waits.append(task)
    }

    /// `side`'s input ended: shut the other side's write half once every byte it sent has
    /// been passed on.
    private func endOfStream(from side: L4GlueHandler.Side) {
        guard established else { return }  // the client's end is handled once established
        let target = side == .client ? memberGlue : clientGlue
        guard let spliced = descriptors else {
            target?.shutdownOutput()
            return
        }
        // What the kernel must have queued on the other socket: everything `side` received
        // since the splice (less its FIN) that userspace did not take itself. Read now: NIO
        // closes a socket whose both directions are shut, and with it these counters.
        let source = side == .client ? spliced.client : spliced.member
        let targetFD = side == .client ? spliced.member : spliced.client
        let received = L4Socket.byteCounts(source).received &- (side == .client ? baseline.received.0 : baseline.received.1)
        let expected = Int64(bitPattern: received) - 1 - Int64(side == .client ? readFromClient : readFromMember)
        let forwarded = { [unowned self] () -> Bool in
            let queued = L4Socket.byteCounts(targetFD).queued &- (side == .client ? baseline.queued.1 : baseline.queued.0)
            return Int64(bitPattern: queued) - Int64(side == .client ? self.writtenToMember : self.writtenToClient) >= expected
        }
        if forwarded() {
            target?.shutdownOutput(descriptor: targetFD)
            return
        }
        let deadline = NIODeadline.now() + Self.endOfStreamWait
        let tick = NIOLoopBound({ [weak self] (task: RepeatedTask) in
            guard let self, !self.closing else {
                task.cancel()
                return
            }
            if forwarded() || NIODeadline.now() > deadline {
                task.cancel()
                target?.shutdownOutput(descriptor: targetFD)
            }
        }, eventLoop: worker.eventLoop)
        let task = worker.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { task in
            tick.value(task)
        }
        waits.append(task)
    }

    /// Both sides have ended their input and had their output shut: close both.
    func sideFinished() {
        if clientGlue?.isFinished == true, memberGlue?.isFinished == true { shutDown() }
    }

    /// A side's channel closed. After a clean end in both directions of that side (NIO
    /// closes a socket whose both halves are shut) the other side finishes on its own;
    /// otherwise (reset, error) both end now.
    func closed(side: L4GlueHandler.Side) {
        let glue = side == .client ? clientGlue : memberGlue
        if glue?.isFinished == true, !(clientGlue?.isFinished == true && memberGlue?.isFinished == true) { return }
        shutDown()
    }

    /// The connections' drain deadline passed or the worker stops: end both sides now.
    func abort() { shutDown() }

    private func shutDown() {
        guard !closing else { return }
        closing = true
        for task in waits { task.cancel() }
        waits.removeAll()
        if let cookies = splicedCookies { worker.splice?.remove(cookies.client, cookies.member) }
        client.close(promise: nil)
        member?.close(promise: nil)
        worker.unregister(self)
    }
}
