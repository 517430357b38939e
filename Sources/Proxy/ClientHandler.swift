#if canImport(Glibc)
import Glibc
#endif
import Affinity
import HTTP1
import NIOCore
import NIOTLS
import Publishing

/// One client connection on one worker: parses requests, applies the publishing rules,
/// forwards each request to a farm member and relays the response, one exchange at a time.
///
/// Requests and responses are streamed, never buffered whole: the request body flows to
/// the member as it arrives, the response body to the client, and each side stops reading
/// while the other cannot take more (`read` is withheld until it becomes writable again).
/// Bytes of a pipelined next request wait until the current response is complete.
final class ClientHandler: ChannelDuplexHandler, RemovableChannelHandler, BackendOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Received bytes buffered while a member is being connected or a response is running.
    static let maxPendingBytes = 64 * 1024

    enum State {
        case handshaking
        case idle
        case exchange
        case tunnel
        case closed
    }

    let worker: Worker
    let listenerIndex: Int
    let isTLS: Bool
    private var context: ChannelHandlerContext?
    private var client: ClientAddress?
    private var clientText = "-"
    private var clientTextBytes: [UInt8] = []
    private var parser: HeadParser
    private var pending: ByteBuffer?
    private var state: State
    private var exchange: Exchange?
    /// Member connections bound to this client by NTLM/Negotiate, by farm and member.
    private var bound: [BackendPool.Key: BackendHandler] = [:]
    private var readGate = ReadGate()
    private var handshakeDone = false
    private var closeAfterExchange = false
    private var draining = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline = .distantFuture
    private var lastActivity: NIODeadline = .now()
    private var stateSince: NIODeadline = .now()
    private var headStarted: NIODeadline?
    private var keepAliveIdle: TimeAmount
    private var exchangesServed = 0
    private var scratch: [UInt8] = []
    /// This connection's place in its source's limit counts (nil: no limits, or exempt).
    var sourceTicket: SourceTicket?

    init(worker: Worker, listenerIndex: Int, isTLS: Bool) {
        self.worker = worker
        self.listenerIndex = listenerIndex
        self.isTLS = isTLS
        self.parser = HeadParser(kind: .request, limits: worker.runtime.headLimits)
        self.state = isTLS ? .handshaking : .idle
        self.keepAliveIdle = worker.runtime.config.timeouts.requestHead.timeAmount
        scratch.reserveCapacity(4096)
    }

    var isClientWritable: Bool { context?.channel.isWritable ?? false }

    /// Whether response bodies must be de-chunked for this client (HTTP/1.0).
    var wantsDechunkedBody: Bool { exchange?.dechunk ?? false }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            client = ClientAddress(socketAddress: remote)
            clientText = client?.description ?? "-"
            clientTextBytes = Array(clientText.utf8)
        }
        worker.register(self)
        stateSince = .now()
        armTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent, state == .handshaking {
            handshakeDone = true
            worker.stats.tlsHandshakes &+= 1
            sourceTicket?.handshakeEnded()
            if negotiated == "h2" {
                switchToHTTP2(context: context)
                return
            }
            enter(.idle)
            process()
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// ALPN chose HTTP/2: the connection's streams are served by `HTTP2Connection` from
    /// now on, and this handler leaves the pipeline (the worker keeps counting one client).
    private func switchToHTTP2(context: ChannelHandlerContext) {
        let connection = HTTP2Connection(
            worker: worker, listenerIndex: listenerIndex, client: client, clientText: clientText, sourceTicket: sourceTicket
        )
        do {
            try connection.install(in: context.channel)
        } catch {
            abort()
            return
        }
        worker.replace(self, with: connection)
        enter(.closed)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // TLS garbage, resets, anything from the network: close this connection only.
        abort()
    }

    func read(context: ChannelHandlerContext) {
        if readGate.admit(wanted: wantsInput) { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lastActivity = .now()
        if let exchange, state == .exchange { exchange.bytesIn += incoming.readableBytes }
        if state == .tunnel, let backend = exchange?.backend {
            backend.send(incoming, flush: false)
            return
        }
        if pending == nil || pending!.readableBytes == 0 {
            pending = incoming
        } else {
            pending!.writeBuffer(&incoming)
        }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.backend?.flush()
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.backend?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Input

    /// Whether this connection should read more from the client right now.
    private var wantsInput: Bool {
        switch state {
        case .handshaking, .idle:
            return true
        case .exchange:
            guard let exchange else { return false }
            if (pending?.readableBytes ?? 0) >= Self.maxPendingBytes { return false }
            if !exchange.requestComplete, let backend = exchange.backend { return backend.isWritable }
            return true
        case .tunnel:
            return exchange?.backend?.isWritable ?? false
        case .closed:
            return false
        }
    }

    private func resumeReading() {
        if readGate.release(wanted: wantsInput) { context?.read() }
    }

    /// Keeps unprocessed bytes; an empty view is dropped so it does not pin the TLS layer's
    /// read buffer (which NIOSSL would then copy on the next read).
    private func keepPending(_ buffer: ByteBuffer) {
        pending = buffer.readableBytes > 0 ? buffer : nil
    }

    /// Moves buffered client bytes forward as far as the current state allows.
    private func process() {
        while let context, var buffer = pending, buffer.readableBytes > 0 {
            switch state {
            case .handshaking, .closed:
                return
            case .tunnel:
                exchange?.backend?.send(buffer, flush: true)
                pending = nil
                return
            case .idle:
                if headStarted == nil {
                    headStarted = .now()
                    armTimer()
                }
                let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
                switch result {
                case .needMore(let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    keepPending(buffer)
                    return
                case .failure(let error):
                    pending = nil
                    respondWithoutRule(status: error.status, close: true)
                    return
                case .response:
                    return
                case .request(let head, let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    keepPending(buffer)
                    parser.reset()
                    headStarted = nil
                    handle(head, headBytes: consumed, context: context)
                }
            case .exchange:
                guard let exchange, !exchange.requestComplete else { return }
                guard let backend = exchange.backend else { return }  // connecting: keep buffering
                let progress: BodyProgress
                do {
                    progress = try buffer.withUnsafeReadableBytes { try exchange.requestFramer.consume($0) }
                } catch {
                    // The member has part of a request: neither side can be trusted now.
                    pending = nil
                    exchange.closeBackend = true
                    failExchange(status: 400, close: true)
                    return
                }
                if progress.consumed > 0 {
                    let slice = buffer.readSlice(length: progress.consumed)!
                    exchange.bodyBytes += progress.consumed
                    // max_body limits the payload; chunk-size lines and CRLFs are framing.
                    for range in progress.payload { exchange.payloadBytes += UInt64(range.count) }
                    if let limit = exchange.maxBody, exchange.payloadBytes > limit {
                        pending = nil
                        exchange.closeBackend = true
                        failExchange(status: 413, close: true)
                        return
                    }
                    backend.send(slice, flush: false)
                }
                keepPending(buffer)
                if progress.isComplete {
                    exchange.requestComplete = true
                    exchange.requestSentAt = .now()
                    backend.flush()
                    armTimer()
                }
                if progress.consumed == 0 && !progress.isComplete { return }
            }
        }
    }

    // MARK: Requests

    private func handle(_ head: RequestHead, headBytes: Int, context: ChannelHandlerContext) {
        let runtime = worker.runtime
        let source = client ?? ClientAddress(bytes: [0, 0, 0, 0])!
        let decision = head.withHostAndPath { host, path in
            runtime.rules.decide(listener: listenerIndex, host: host, path: path, client: source)
        }
        let exchange = Exchange(head: head, start: .now())
        exchange.bytesIn = headBytes
        self.exchange = exchange
        enter(.exchange)
        if !head.keepAlive || draining { closeAfterExchange = true }
        if let ticket = sourceTicket, let retryAfter = ticket.refusesRequest(rule: decision.ruleIndex) {
            // Over the source's request limit: 429, and the connection stays usable.
            exchange.ruleIndex = decision.ruleIndex
            finishLocally(exchange, status: 429, retryAfter: retryAfter)
            return
        }
        switch decision {
        case .noMatch:
            finishLocally(exchange, status: 404)
        case .deny(let rule), .sourceNotAllowed(let rule):
            exchange.ruleIndex = rule
            finishLocally(exchange, status: 403)
        case .forward(let rule, let farm):
            exchange.ruleIndex = rule
            exchange.farmIndex = farm
            let maxBody = runtime.config.rules[rule].maxBody
            exchange.maxBody = maxBody
            if let limit = maxBody, case .contentLength(let length) = head.framing, length > limit {
                finishLocally(exchange, status: 413)
                return
            }
            keepAliveIdle = runtime.config.rules[rule].timeouts.idle.timeAmount
            exchange.requestFramer = BodyFramer(head.framing)
            // No body, or `Content-Length: 0`: the request is complete with its head.
            if exchange.requestFramer.isComplete { exchange.requestComplete = true }
            exchange.isUpgrade = head.isWebSocketUpgrade
            exchange.boundByRequest = head.values("authorization").contains(where: BackendHandler.isConnectionBoundScheme)
            // A connection authenticated by NTLM/Negotiate for this client decides the member:
            // the handshake and the session live on that one member connection.
            let boundMember = bound.first { $0.key.farm == farm && $0.value.isUsable }?.key.member
            guard let client,
                let member = boundMember ?? worker.pickMember(farm: farm, client: client, head: head, exchange: exchange)
            else {
                finishLocally(exchange, status: 503)
                return
            }
            exchange.member = member
            obtainBackend(for: exchange)
        }
    }

    /// A request answered by edgesplit itself (no rule, deny, limits). Its body, if any, is
    /// not read: the connection closes after the answer unless the request had none.
    private func finishLocally(_ exchange: Exchange, status: Int, retryAfter: Int? = nil) {
        if exchange.head?.framing != BodyFraming.none { closeAfterExchange = true }
        writeLocalResponse(status: status, retryAfter: retryAfter)
        exchange.status = status
        completeExchange(exchange)
    }

    private func respondWithoutRule(status: Int, close: Bool) {
        let exchange = Exchange(head: nil, start: .now())
        self.exchange = exchange
        enter(.exchange)
        closeAfterExchange = closeAfterExchange || close
        writeLocalResponse(status: status)
        exchange.status = status
        completeExchange(exchange)
    }

    private func writeLocalResponse(status: Int, retryAfter: Int? = nil) {
        guard let context else { return }
        scratch.removeAll(keepingCapacity: true)
        var extra: [(name: [UInt8], value: [UInt8])] = []
        if let seconds = retryAfter ?? (status == 503 ? 10 : nil) {
            extra.append((Array("Retry-After".utf8), Array(String(seconds).utf8)))
        }
        writeSimpleResponse(
            status: status,
            reason: ProxyStatus.reason(status),
            body: ProxyStatus.body(status),
            extraHeaders: extra,
            close: closeAfterExchange,
            into: &scratch
        )
        writeScratchToClient(context, flush: true)
    }

    static let setCookieName = Array("Set-Cookie".utf8)

    /// Writes the head serialised in `scratch` to the client, counting it in the exchange.
    private func writeScratchToClient(_ context: ChannelHandlerContext, flush: Bool) {
        exchange?.bytesOut += scratch.count
        var buffer = context.channel.allocator.buffer(capacity: scratch.count)
        buffer.writeBytes(scratch)
        if flush {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    // MARK: Backend connections

    private func obtainBackend(for exchange: Exchange) {
        let key = BackendPool.Key(farm: exchange.farmIndex, member: exchange.member)
        if !bound.isEmpty, let backend = bound[key] {
            if backend.isUsable {
                exchange.reusedConnection = true
                attach(backend, to: exchange)
                return
            }
            bound.removeValue(forKey: key)
            backend.close()
        }
        if let backend = worker.pool.take(farm: exchange.farmIndex, member: exchange.member) {
            exchange.reusedConnection = true
            attach(backend, to: exchange)
            return
        }
        connect(exchange)
    }

    private func connect(_ exchange: Exchange) {
        // Strong captures: the attempt ends within the connect timeout, and `isCurrent` drops a
        // late result. A weak capture would give the handler a side table for life, sending
        // every later retain and release of it down the runtime's slow path.
        worker.connect(
            exchange,
            isCurrent: { self.exchange === exchange && self.state == .exchange },
            attach: { backend in self.attach(backend, to: exchange) },
            failed: { error in self.connectFailed(exchange, error: error) }
        )
    }

    /// Nothing reached the member: mark it failed and try one other member, once.
    private func connectFailed(_ exchange: Exchange, error: Error) {
        if worker.moveToOtherMember(exchange, client: client, after: error) {
            obtainBackend(for: exchange)
            return
        }
        failExchange(status: Worker.failureStatus(error), close: false)
    }

    private func attach(_ backend: BackendHandler, to exchange: Exchange) {
        guard let context, let head = exchange.head else { return }
        worker.start(exchange, on: backend, owner: self)
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(into: &scratch, edits: worker.forwardingEdits(for: exchange, clientText: clientTextBytes, isTLS: isTLS))
        var buffer = context.channel.allocator.buffer(capacity: scratch.count)
        buffer.writeBytes(scratch)
        backend.begin(owner: self, requestMethod: Array(head.method), head: buffer, boundByRequest: exchange.boundByRequest)
        if exchange.requestComplete {
            exchange.requestSentAt = .now()
            backend.flush()
        }
        armTimer()
        process()
        backend.flush()
        resumeReading()
    }

    // MARK: Callbacks from the member side

    func backendInformational(_ head: ResponseHead) {
        guard let context, let exchange, let request = exchange.head else { return }
        // 1xx responses are HTTP/1.1 only (RFC 9110 §15.2).
        guard request.version.minor >= 1 else { return }
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(into: &scratch, extraHeaders: [], close: false, keepUpgrade: false)
        writeScratchToClient(context, flush: true)
        lastActivity = .now()
    }

    func backendResponseHead(_ head: ResponseHead, framing: BodyFraming) {
        guard let context, let exchange else { return }
        exchange.status = head.status
        exchange.responseStarted = true
        if case .untilClose = framing { closeAfterExchange = true }
        if let request = exchange.head, request.version.minor == 0, case .chunked = framing {
            // An HTTP/1.0 client cannot read chunked framing: the payload is sent bare and
            // the body ends at close (RFC 9112 §7.1).
            closeAfterExchange = true
            exchange.dechunk = true
        }
        if draining { closeAfterExchange = true }
        if !exchange.requestComplete { closeAfterExchange = true }
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(
            into: &scratch,
            extraHeaders: exchange.setCookie.map { [(Self.setCookieName, Array($0.utf8))] } ?? [],
            close: closeAfterExchange,
            keepUpgrade: false,
            dechunked: exchange.dechunk
        )
        writeScratchToClient(context, flush: false)
        lastActivity = .now()
        armTimer()
    }

    func backendSwitchedProtocols(_ head: ResponseHead) {
        guard let context, let exchange else { return }
        guard exchange.isUpgrade else {
            // Nothing of this response went to the client yet: it gets a 502, not a reset.
            exchange.closeBackend = true
            failExchange(status: 502, close: true)
            return
        }
        exchange.status = head.status
        exchange.responseStarted = true
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(into: &scratch, extraHeaders: [], close: false, keepUpgrade: true)
        writeScratchToClient(context, flush: true)
        exchange.requestComplete = true
        enter(.tunnel)
        logExchange(exchange)
        if let rest = pending, rest.readableBytes > 0 {
            exchange.backend?.send(rest, flush: true)
            pending = nil
        }
        resumeReading()
    }

    func backendBody(_ slice: ByteBuffer) {
        guard let context, let exchange else { return }
        exchange.bytesOut += slice.readableBytes
        context.write(wrapOutboundOut(slice), promise: nil)
        lastActivity = .now()
    }

    func flushToClient() { context?.flush() }

    func backendBecameWritable() { resumeReading() }

    func backendResponseComplete(_ backend: BackendHandler, reusable: Bool) {
        guard let exchange, exchange.backend === backend else { return }
        exchange.backend = nil
        let key = BackendPool.Key(farm: exchange.farmIndex, member: exchange.member)
        if reusable && exchange.requestComplete && !exchange.closeBackend {
            if backend.authenticationBound {
                backend.owner = nil
                bound[key] = backend
            } else {
                worker.pool.put(backend)
            }
        } else {
            backend.close()
        }
        context?.flush()
        completeExchange(exchange)
    }

    func backendClosedTunnel() {
        abort()
    }

    func backendFailed(_ backend: BackendHandler, _ error: Error) {
        guard let exchange, exchange.backend === backend else { return }
        exchange.backend = nil
        bound = bound.filter { $0.value !== backend }
        backend.close()
        if state == .tunnel || exchange.responseStarted {
            abort()
            return
        }
        if worker.mayResend(exchange, after: error) {
            connect(exchange)
            return
        }
        failExchange(status: 502, close: !exchange.requestComplete)
    }

    // MARK: Exchange end

    private func failExchange(status: Int, close: Bool) {
        guard let exchange else { return }
        exchange.closeBackendConnection()
        if close { closeAfterExchange = true }
        if !exchange.requestComplete { closeAfterExchange = true }
        if exchange.responseStarted {
            abort()
            return
        }
        writeLocalResponse(status: status)
        exchange.status = status
        completeExchange(exchange)
    }

    private func completeExchange(_ exchange: Exchange) {
        worker.finishOutstanding(exchange)
        logExchange(exchange)
        self.exchange = nil
        exchangesServed += 1
        if closeAfterExchange || draining {
            closeGracefully()
            return
        }
        enter(.idle)
        process()
        resumeReading()
    }

    /// Counts the exchange in the worker's stats and writes its access-log line, once.
    private func logExchange(_ exchange: Exchange) {
        worker.record(exchange, listener: listenerIndex, client: clientText)
    }

    // MARK: Lifecycle

    /// Shutdown or reload: finish the current exchange, then close; idle connections now.
    /// Shutdown or reload: the current exchange finishes, then the connection closes. An
    /// idle connection closes now, unless `gentle` (reload): then its next response carries
    /// `Connection: close`, so a request the client is sending right now is not lost.
    func drain(gentle: Bool) {
        draining = true
        closeAfterExchange = true
        if !gentle, state == .idle || state == .handshaking, (pending?.readableBytes ?? 0) == 0 {
            closeGracefully()
        }
    }

    /// The connection became an L4 route's before any TLS: leave without counting a failed
    /// handshake (the handler is removed next). Edgesplit holds no half-open handshake for
    /// it any more; the source's connection count ends with the channel.
    func handOver() {
        handshakeDone = true
        sourceTicket?.handshakeEnded()
    }

    func abort() {
        guard state != .closed else { return }
        enter(.closed)
        context?.close(promise: nil)
    }

    private func closeGracefully() {
        guard let context, state != .closed else { return }
        enter(.closed)
        context.flush()
        context.close(promise: nil)
    }

    private func teardown() {
        if state != .closed { state = .closed }
        timer?.cancel()
        timer = nil
        if let exchange {
            exchange.closeBackendConnection()
            worker.finishOutstanding(exchange)
            if exchange.status == 0 { exchange.status = 499 }
            logExchange(exchange)
            self.exchange = nil
        }
        for backend in bound.values { backend.close() }
        bound.removeAll()
        worker.unregister(self, handshakeFailed: isTLS && !handshakeDone)
    }

    // MARK: Timers

    private func enter(_ newState: State) {
        state = newState
        stateSince = .now()
        lastActivity = stateSince
        armTimer()
    }

    /// The moment the current state's timeout runs out.
    private func currentDeadline() -> NIODeadline {
        let timeouts = worker.runtime.config.timeouts
        switch state {
        case .handshaking:
            return stateSince + timeouts.tlsHandshake.timeAmount
        case .idle:
            if let headStarted { return headStarted + timeouts.requestHead.timeAmount }
            if exchangesServed == 0 { return stateSince + timeouts.requestHead.timeAmount }
            return lastActivity + keepAliveIdle
        case .exchange:
            guard let exchange, let ruleIndex = exchange.ruleIndex else { return .distantFuture }
            let rule = worker.runtime.config.rules[ruleIndex].timeouts
            if exchange.requestComplete, !exchange.responseStarted, let sent = exchange.requestSentAt {
                return sent + rule.response.timeAmount
            }
            return lastActivity + rule.idle.timeAmount
        case .tunnel:
            guard let rule = exchange?.ruleIndex else { return .distantFuture }
            return lastActivity + worker.runtime.config.rules[rule].timeouts.idle.timeAmount
        case .closed:
            return .distantFuture
        }
    }

    private func armTimer() {
        let deadline = currentDeadline()
        if timer != nil, deadline >= timerDeadline { return }  // the pending check comes first
        timer?.cancel()
        timerDeadline = deadline
        guard deadline != .distantFuture, let context else {
            timer = nil
            return
        }
        // A strong capture, cancelled in `teardown`: a weak one would give every handler a
        // side table, and every retain and release of it would take the runtime's slow path.
        timer = context.eventLoop.scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        let deadline = currentDeadline()
        guard deadline <= .now() else {
            armTimer()
            return
        }
        switch state {
        case .handshaking, .tunnel, .closed:
            abort()
        case .idle:
            if headStarted != nil {
                // Slowloris: a head that does not complete in time gets 408 and a close.
                closeAfterExchange = true
                headStarted = nil
                pending = nil
                respondWithoutRule(status: 408, close: true)
            } else {
                closeGracefully()
            }
        case .exchange:
            if let exchange, exchange.requestComplete, !exchange.responseStarted {
                exchange.closeBackend = true
                failExchange(status: 504, close: false)
            } else {
                abort()
            }
        }
    }
}

/// One request/response pair in flight on a client connection.
final class Exchange {
    let head: RequestHead?
    let start: NIODeadline
    let startWall: timespec
    var ruleIndex: Int?
    var farmIndex = -1
    var member = -1
    var attempts = 1
    var backend: BackendHandler?
    var requestFramer = BodyFramer(.none)
    var requestComplete = false
    var requestSentAt: NIODeadline?
    var responseStarted = false
    var reusedConnection = false
    var boundByRequest = false
    var isUpgrade = false
    /// `Set-Cookie` value to add to the response (cookie persistence, no valid cookie sent).
    var setCookie: String?
    /// The client speaks HTTP/1.0 and the response is chunked: send payload bytes only.
    var dechunk = false
    var closeBackend = false
    var countedOutstanding = false
    var logged = false
    var maxBody: UInt64?
    var bodyBytes = 0
    /// Request body payload bytes (without chunked framing), checked against `maxBody`.
    var payloadBytes: UInt64 = 0
    var status = 0
    var bytesIn = 0
    var bytesOut = 0

    /// Detaches and closes the member connection, if any: it carried part of this exchange
    /// and cannot be reused.
    func closeBackendConnection() {
        guard let backend else { return }
        self.backend = nil
        backend.close()
    }

    init(head: RequestHead?, start: NIODeadline) {
        self.head = head
        self.start = start
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        self.startWall = now
    }
}

extension ClientAddress {
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            var raw = address.address.sin_addr
            self.init(bytes: withUnsafeBytes(of: &raw) { Array($0) })
        case .v6(let address):
            var raw = address.address.sin6_addr
            self.init(bytes: withUnsafeBytes(of: &raw) { Array($0) })
        default:
            return nil
        }
    }
}

extension Swift.Duration {
    /// The same span as a NIO `TimeAmount` (nanosecond precision).
    public var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
