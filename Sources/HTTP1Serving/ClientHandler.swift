import CEdgesplitBPF
import Affinity
import ConnectionCore
import Forwarding
import HTTP1
import MemberConnections
import NIOCore
import NIOTLS
import Publishing

/// One HTTP/1.1 client connection on one worker: the thin shell around
/// `HTTP1ConnectionStateMachine`. It parses what the client sends, asks the exchange planner
/// what to do with each request, reports every event to the state machine and performs the
/// action that comes back.
///
/// **One loop takes the steps.** Client bytes are handled in `run()`: it parses a head, plans
/// it, performs the action, and goes round again for the next pipelined request — at most
/// `maxRequestsPerCycle` of them before it yields to the event loop, and none while the
/// client is not reading its responses. Finishing an exchange never calls back into request
/// processing: an exchange that ends from the member's side (inside the member connection's
/// `channelRead`) leaves the next request to a later turn of the loop.
///
/// Requests and responses are streamed, never buffered whole: the request body flows to the
/// member as it arrives, the response body to the client, and each side stops reading while
/// the other cannot take more (`read` is withheld until it becomes writable again).
final class ClientHandler: ChannelDuplexHandler, RemovableChannelHandler, MemberOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Received bytes held while a member is being connected or a response is running.
    static let maxPendingBytes = 64 * 1024
    /// Pipelined requests taken from the buffer before the loop yields to the event loop, so
    /// one connection cannot hold its worker's thread.
    static let maxRequestsPerCycle = 16
    static let setCookieName = Array("Set-Cookie".utf8)

    let worker: Worker
    let listenerIndex: Int
    let isTLS: Bool
    private var context: ChannelHandlerContext?
    private var client: ClientAddress?
    private var clientText = "-"
    private var clientTextBytes: [UInt8] = []
    private var machine: HTTP1ConnectionStateMachine
    private var parser: HeadParser
    private var pending: ByteBuffer?
    /// The exchange under way, owned here alone.
    private var exchange: Exchange?
    /// Member connections bound to this client by NTLM/Negotiate, by farm and member.
    private var bound: [MemberPool.Key: MemberHandler] = [:]
    private var readGate = ReadGate()
    private var handshakeDone = false
    /// Inside `run()`: an event from below changes state, and the loop takes the next step.
    private var running = false
    private var continuationScheduled = false
    /// Answers written by the loop and not flushed yet.
    private var unflushed = false
    /// Request bytes written to the member and not flushed yet.
    private var memberUnflushed = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline = .distantFuture
    private var lastActivity: NIODeadline = .now()
    /// When the connection became ready for its first request (accept, or TLS done).
    private var readySince: NIODeadline = .now()
    private var headStartedAt: NIODeadline = .distantFuture
    private var keepAliveIdle: TimeAmount
    private var scratch: [UInt8] = []
    /// This connection's place in its source's limit counts (nil: no limits, or exempt).
    var sourceTicket: SourceTicket?

    init(worker: Worker, listenerIndex: Int, isTLS: Bool) {
        self.worker = worker
        self.listenerIndex = listenerIndex
        self.isTLS = isTLS
        self.parser = HeadParser(kind: .request, limits: worker.runtime.headLimits)
        self.machine = HTTP1ConnectionStateMachine(tls: isTLS)
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
        readySince = .now()
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
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent, case .handshaking = machine.state {
            handshakeDone = true
            worker.stats.tlsHandshakes &+= 1
            if es_tls_last_resumed() != 0 { worker.stats.tlsResumed &+= 1 }
            sourceTicket?.handshakeEnded()
            readySince = .now()
            perform(machine.handshakeCompleted(http2: negotiated == "h2"))
            if self.context == nil { return }  // handed to HTTP/2
            run()
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// ALPN chose HTTP/2: the connection's streams are served by `HTTP2Connection` from
    /// now on, and this handler leaves the pipeline (the worker keeps counting one client).
    private func switchToHTTP2() {
        guard let context else { return }
        let connection: ClientConnection
        do {
            guard let startHTTP2 = worker.startHTTP2 else { throw ChannelError.operationUnsupported }
            connection = try startHTTP2(worker, context.channel, listenerIndex, client, clientText, sourceTicket)
        } catch {
            context.close(promise: nil)
            return
        }
        worker.replace(self, with: connection)
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
        if case .tunnel = machine.state, let memberConnection = exchange?.memberConnection {
            memberConnection.send(incoming, flush: false)
            memberUnflushed = true
            return
        }
        if pending == nil || pending!.readableBytes == 0 {
            pending = incoming
        } else {
            pending!.writeBuffer(&incoming)
        }
        run()
    }

    /// What the loop wrote to the client it flushed when it stopped (`run()`; `unflushed` is
    /// set only while it runs), and answers from the member's side are flushed at the end of the
    /// member's read (`flushToClient()`): the client's read has only the member's side left to
    /// flush. A flush with nothing written still crosses the TLS handler, about 200 instructions
    /// a request.
    func channelReadComplete(context: ChannelHandlerContext) {
        flushMember()
    }

    private func flushMember() {
        guard memberUnflushed else { return }
        memberUnflushed = false
        exchange?.memberConnection?.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            exchange?.memberConnection?.resumeReading()
            // Pipelined requests wait while the client does not read its answers. This event
            // can come from inside a flush (NIO fires it as the socket drains), in the middle
            // of finishing an exchange: the next request is taken in a later turn.
            settle()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: The loop

    /// Takes every step the buffered input allows: heads when idle, body bytes to the member,
    /// bytes into a tunnel. Bounded: after `maxRequestsPerCycle` requests it yields to the
    /// event loop and goes on in a later turn.
    private func run() {
        guard !running, let context else { return }
        running = true
        var taken = 0
        loop: while let buffer = pending, buffer.readableBytes > 0 {
            switch machine.state {
            case .idle:
                guard taken < Self.maxRequestsPerCycle, context.channel.isWritable else { break loop }
                guard takeHead() else { break loop }
                taken += 1
            case .exchange(let progress) where progress.member == .attached && !progress.requestComplete:
                guard forwardBody() else { break loop }
            case .tunnel:
                exchange?.memberConnection?.send(buffer, flush: true)
                pending = nil
            case .handshaking, .exchange, .closed:
                break loop
            }
        }
        running = false
        if unflushed {
            unflushed = false
            context.flush()
        }
        flushMember()
        if taken == Self.maxRequestsPerCycle, context.channel.isWritable, case .idle = machine.state,
            (pending?.readableBytes ?? 0) > 0
        {
            scheduleContinuation()
        }
        resumeReading()
        armTimer()
    }

    /// The next step is taken in a later turn of the event loop, not from the current call.
    private func scheduleContinuation() {
        guard !continuationScheduled, let context else { return }
        continuationScheduled = true
        // Strong: runs within this turn of the loop; `run` checks that the channel is still here.
        context.eventLoop.assumeIsolated().execute {
            self.continuationScheduled = false
            self.run()
        }
    }

    /// After an event from the member side or a timer: the loop goes on later if input waits,
    /// never from inside the member connection's `channelRead`.
    private func settle() {
        guard !running else { return }
        if case .idle = machine.state, (pending?.readableBytes ?? 0) > 0 {
            scheduleContinuation()
        }
        resumeReading()
        armTimer()
    }

    /// Parses the next head from the buffer and acts on it. False when more bytes are needed
    /// or the connection is done.
    private func takeHead() -> Bool {
        guard var buffer = pending else { return false }
        if case .idle(false) = machine.state {
            headStartedAt = .now()
            machine.headStarted()
        }
        let result = buffer.withUnsafeReadableBytes { parser.parse($0) }
        switch result {
        case .needMore(let consumed):
            buffer.moveReaderIndex(forwardBy: consumed)
            keepPending(buffer)
            return false
        case .failure(let error):
            pending = nil
            exchange = Exchange(head: nil, start: .now())
            perform(machine.requestHeadInvalid(status: error.status))
            return false
        case .response:
            pending = nil
            perform(machine.abort())
            return false
        case .request(let head, let consumed):
            buffer.moveReaderIndex(forwardBy: consumed)
            keepPending(buffer)
            parser.reset()
            headStartedAt = .distantFuture
            startExchange(head, headBytes: consumed)
            return true
        }
    }

    private func startExchange(_ head: RequestHead, headBytes: Int) {
        let exchange = Exchange(head: head, start: .now())
        exchange.bytesIn = headBytes
        self.exchange = exchange
        let plan = worker.plan(head, listener: listenerIndex, client: client, ticket: sourceTicket, bound: bound)
        switch plan {
        case .answer(let status, let rule, let retryAfter):
            exchange.ruleIndex = rule
            exchange.retryAfter = retryAfter
            perform(machine.requestHead(keepAlive: head.keepAlive, plan: .answer(status: status, hasBody: head.framing != .none)))
        case .forward(let forward):
            exchange.apply(forward)
            exchange.requestFramer = BodyFramer(head.framing)
            keepAliveIdle = worker.runtime.ruleTimeouts[forward.rule].idle
            perform(
                machine.requestHead(
                    keepAlive: head.keepAlive,
                    plan: .forward(
                        requestComplete: exchange.requestFramer.isComplete,
                        idempotent: ExchangeProgress.isIdempotent(method: head.method))))
        }
    }

    /// Sends buffered request body bytes to the member, as far as the framing allows. False
    /// when nothing more can be sent now.
    private func forwardBody() -> Bool {
        guard let exchange, let memberConnection = exchange.memberConnection, var buffer = pending else { return false }
        let progress: BodyProgress
        do {
            progress = try buffer.withUnsafeReadableBytes { try exchange.requestFramer.consume($0) }
        } catch {
            pending = nil
            perform(machine.requestBodyRefused(status: 400))
            return false
        }
        if progress.consumed == 0 && !progress.isComplete { return false }
        if progress.consumed > 0 {
            let slice = buffer.readSlice(length: progress.consumed)!
            exchange.bytesIn += progress.consumed
            // max_body limits the payload and the chunk extensions a client chooses to add;
            // chunk-size digits, CRLFs and trailers are framing (bounded by the framer).
            for range in progress.payload { exchange.payloadBytes += UInt64(range.count) }
            if let limit = exchange.maxBody, exchange.payloadBytes + UInt64(exchange.requestFramer.extensionBytes) > limit {
                pending = nil
                perform(machine.requestBodyRefused(status: 413))
                return false
            }
            memberConnection.send(slice, flush: false)
            memberUnflushed = true
        }
        keepPending(buffer)
        perform(machine.requestBodySent(complete: progress.isComplete))
        return progress.consumed > 0
    }

    /// Keeps unprocessed bytes; an empty view is dropped so it does not pin the TLS layer's
    /// read buffer (which NIOSSL would then copy on the next read).
    private func keepPending(_ buffer: ByteBuffer) {
        pending = buffer.readableBytes > 0 ? buffer : nil
    }

    // MARK: Actions

    private func perform(_ action: HTTP1ConnectionStateMachine.Action) {
        switch action {
        case .none, .processInput:
            break
        case .switchToHTTP2:
            switchToHTTP2()
        case .answer(let status, let close):
            answer(status: status, close: close)
        case .obtainMember:
            obtainMember()
        case .sendRequest:
            sendRequest()
        case .requestSent:
            guard let exchange, let memberConnection = exchange.memberConnection else { return }
            exchange.requestSentAt = .now()
            memberUnflushed = false
            memberConnection.flush()
        case .writeInformational, .writeResponseHead, .writeBody, .startTunnel, .completeExchange:
            // Performed where the member's data is at hand; never returned for client events.
            break
        case .abort:
            context?.close(promise: nil)
        case .closeGracefully:
            context?.flush()
            context?.close(promise: nil)
        }
    }

    /// edgesplit's own response. A member connection that carried part of this exchange is
    /// closed; a body the request announced is not read (the connection then closes).
    private func answer(status: Int, close: Bool) {
        guard let context, let exchange else { return }
        exchange.closeMemberConnection()
        scratch.removeAll(keepingCapacity: true)
        var extra: [(name: [UInt8], value: [UInt8])] = []
        if let seconds = exchange.retryAfter ?? (status == 503 ? 10 : nil) {
            extra.append((Array("Retry-After".utf8), Array(String(seconds).utf8)))
        }
        writeSimpleResponse(
            status: status, reason: ProxyStatus.reason(status), body: ProxyStatus.body(status),
            extraHeaders: extra, close: close, into: &scratch
        )
        let flush = !running || close
        unflushed = !flush
        writeScratchToClient(context, flush: flush)
        exchange.status = status
        endExchange(exchange, close: close)
    }

    private func endExchange(_ exchange: Exchange, close: Bool) {
        worker.finish(exchange, listener: listenerIndex, client: clientText)
        if self.exchange === exchange { self.exchange = nil }
        lastActivity = .now()
        if close {
            pending = nil
            context?.flush()
            context?.close(promise: nil)
        }
    }

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

    // MARK: Member connections

    private func obtainMember() {
        guard let exchange else { return }
        let key = MemberPool.Key(farm: exchange.farmIndex, member: exchange.member)
        if !bound.isEmpty, let memberConnection = bound[key] {
            if memberConnection.isUsable {
                attach(memberConnection, reused: true)
                return
            }
            bound.removeValue(forKey: key)
            memberConnection.close()
        }
        if let memberConnection = worker.pool.take(farm: exchange.farmIndex, member: exchange.member) {
            attach(memberConnection, reused: true)
            return
        }
        worker.connect(exchange, for: self)
    }

    func memberConnected(_ memberConnection: MemberHandler, for exchange: Exchange) {
        guard exchange === self.exchange, machine.exchange?.member == .connecting else {
            memberConnection.close()
            return
        }
        attach(memberConnection, reused: false)
        run()
    }

    func memberConnectFailed(_ error: Error, for exchange: Exchange) {
        guard exchange === self.exchange, machine.exchange?.member == .connecting else { return }
        let other = worker.otherMember(for: exchange, client: client, after: error)
        let action = machine.memberConnectFailed(otherMember: other != nil, timedOut: Worker.isTimeout(error))
        if case .obtainMember = action, let other {
            exchange.member = other.member
            exchange.setCookie = other.setCookie
        }
        perform(action)
        run()
    }

    private func attach(_ memberConnection: MemberHandler, reused: Bool) {
        guard let exchange else { return }
        worker.start(exchange, on: memberConnection, owner: self)
        perform(machine.memberAttached(reused: reused))
    }

    private func sendRequest() {
        guard let context, let exchange, let memberConnection = exchange.memberConnection, let head = exchange.head else { return }
        worker.forwardedHead(for: exchange, clientText: clientTextBytes, isTLS: isTLS, into: &scratch)
        var buffer = context.channel.allocator.buffer(capacity: scratch.count)
        buffer.writeBytes(scratch)
        memberConnection.begin(owner: self, requestMethod: head.method, head: buffer, boundByRequest: exchange.boundByRequest)
        memberUnflushed = true
        perform(machine.requestHeadSent())
    }

    // MARK: Events from the member side

    func memberInformational(_ head: ResponseHead) {
        guard let context, let exchange, let request = exchange.head else { return }
        let action = machine.memberInformational()
        guard case .writeInformational = action else { return perform(action) }
        // 1xx responses are HTTP/1.1 only (RFC 9110 §15.2).
        guard request.version.minor >= 1 else { return }
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(into: &scratch, extraHeaders: [], close: false, keepUpgrade: false)
        writeScratchToClient(context, flush: true)
        lastActivity = .now()
    }

    func memberResponseHead(_ head: ResponseHead, framing: BodyFraming) {
        guard let context, let exchange else { return }
        var dechunk = false
        if let request = exchange.head, request.version.minor == 0, case .chunked = framing {
            // An HTTP/1.0 client cannot read chunked framing: the payload is sent bare and
            // the body ends at close (RFC 9112 §7.1).
            dechunk = true
        }
        let action = machine.memberResponseHead(bodyUntilClose: framing == .untilClose, dechunk: dechunk)
        guard case .writeResponseHead(let close) = action else { return perform(action) }
        exchange.status = head.status
        exchange.dechunk = dechunk
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(
            into: &scratch,
            extraHeaders: exchange.setCookie.map { [(Self.setCookieName, Array($0.utf8))] } ?? [],
            close: close,
            keepUpgrade: false,
            dechunked: dechunk
        )
        writeScratchToClient(context, flush: false)
        lastActivity = .now()
        armTimer()
    }

    func memberSwitchedProtocols(_ head: ResponseHead) {
        guard let context, let exchange else { return }
        // Only a 101 that switches to what the client asked for (RFC 6455 §4.2.2: Upgrade
        // websocket, Connection upgrade) makes a tunnel; any other would carry the client's
        // next bytes past the rules.
        let switched = head.upgrade.map(Self.upgradesToWebSocket) ?? false
        let action = machine.memberSwitchedProtocols(upgradeRequested: exchange.isUpgrade && switched)
        guard case .startTunnel = action else {
            perform(action)
            return settle()
        }
        exchange.status = head.status
        scratch.removeAll(keepingCapacity: true)
        head.writeForwarded(into: &scratch, extraHeaders: [], close: false, keepUpgrade: true)
        writeScratchToClient(context, flush: true)
        worker.record(exchange, listener: listenerIndex, client: clientText)
        if let rest = pending, rest.readableBytes > 0 {
            exchange.memberConnection?.send(rest, flush: true)
            pending = nil
        }
        settle()
    }

    /// Whether an Upgrade value lists `websocket` (RFC 9110 §7.8: a comma-separated list of
    /// `protocol[/version]`, compared case-insensitively).
    static func upgradesToWebSocket(_ value: [UInt8]) -> Bool {
        for element in value.split(separator: 0x2C) {
            var name = element.drop { $0 == 0x20 || $0 == 0x09 }
            if let slash = name.firstIndex(of: 0x2F) { name = name[..<slash] }
            while let last = name.last, last == 0x20 || last == 0x09 { name = name.dropLast() }
            if ASCII.equalsCaseInsensitive(name, "websocket") { return true }
        }
        return false
    }

    func memberBody(_ slice: ByteBuffer) {
        guard let context, let exchange else { return }
        let action = machine.memberBody()
        guard case .writeBody = action else { return perform(action) }
        exchange.bytesOut += slice.readableBytes
        context.write(wrapOutboundOut(slice), promise: nil)
        lastActivity = .now()
    }

    func flushToClient() { context?.flush() }

    func memberBecameWritable() { resumeReading() }

    func memberResponseComplete(_ memberConnection: MemberHandler, reusable: Bool) {
        guard let exchange, exchange.memberConnection === memberConnection else { return }
        let action = machine.memberResponseEnd(reusable: reusable)
        guard case .completeExchange(let keepMember, let close) = action else {
            perform(action)
            return settle()
        }
        exchange.memberConnection = nil
        if keepMember && memberConnection.authenticationBound {
            memberConnection.owner = nil
            bound[MemberPool.Key(farm: exchange.farmIndex, member: exchange.member)] = memberConnection
        } else {
            worker.release(memberConnection, keep: keepMember)
        }
        // The exchange ends before the flush: a flush can fire events back into this handler.
        endExchange(exchange, close: close)
        context?.flush()
        settle()
    }

    func memberClosedTunnel() {
        abort()
    }

    func memberFailed(_ memberConnection: MemberHandler, _ error: Error) {
        guard let exchange, exchange.memberConnection === memberConnection else { return }
        let reused = machine.exchange?.reusedConnection ?? false
        if !bound.isEmpty { bound = bound.filter { $0.value !== memberConnection } }
        worker.memberConnectionFailed(exchange, memberConnection, reused: reused, error: error)
        perform(machine.memberFailed(responseBegun: memberConnection.responseStarted))
        settle()
    }

    // MARK: Lifecycle

    /// Shutdown or reload: the current exchange finishes, then the connection closes. An
    /// idle connection closes now, unless `gentle` (reload): then its next response carries
    /// `Connection: close`, so a request the client is sending right now is not lost.
    func drain(gentle: Bool) {
        perform(machine.drain(gentle: gentle, inputPending: (pending?.readableBytes ?? 0) > 0))
    }

    /// The connection became an L4 route's before any TLS: leave without counting a failed
    /// handshake (the handler is removed next). Edgesplit holds no half-open handshake for
    /// it any more; the source's connection count ends with the channel.
    func handOver() {
        handshakeDone = true
        sourceTicket?.handshakeEnded()
    }

    func abort() {
        perform(machine.abort())
    }

    private func teardown() {
        machine.channelInactive()
        timer?.cancel()
        timer = nil
        pending = nil
        if let exchange {
            exchange.closeMemberConnection()
            worker.finish(exchange, listener: listenerIndex, client: clientText)
            self.exchange = nil
        }
        for memberConnection in bound.values { memberConnection.close() }
        bound.removeAll()
        worker.unregister(self, handshakeFailed: isTLS && !handshakeDone)
    }

    // MARK: Reading and timers

    /// Whether this connection should read more from the client right now.
    private var wantsInput: Bool {
        if (pending?.readableBytes ?? 0) >= Self.maxPendingBytes { return false }
        switch machine.state {
        case .handshaking, .idle:
            return true
        case .exchange(let progress):
            if progress.member == .attached, !progress.requestComplete, let memberConnection = exchange?.memberConnection {
                return memberConnection.isWritable
            }
            return true
        case .tunnel:
            return exchange?.memberConnection?.isWritable ?? false
        case .closed:
            return false
        }
    }

    private func resumeReading() {
        if readGate.release(wanted: wantsInput) { context?.read() }
    }

    /// The moment the current timeout runs out.
    private func currentDeadline() -> NIODeadline {
        let timeouts = worker.runtime.config.timeouts
        switch machine.timeout {
        case .none:
            return .distantFuture
        case .handshake:
            return readySince + timeouts.tlsHandshake.timeAmount
        case .requestHead:
            // From the head's first byte; before the first request, from the connection's start.
            let since = headStartedAt == .distantFuture ? readySince : headStartedAt
            return since + worker.runtime.requestHeadTimeout
        case .keepAlive:
            return lastActivity + keepAliveIdle
        case .exchange(let kind):
            guard let rule = exchange?.ruleIndex else { return .distantFuture }
            let ruleTimeouts = worker.runtime.ruleTimeouts[rule]
            if case .response = kind { return exchange!.requestSentAt + ruleTimeouts.response }
            return lastActivity + ruleTimeouts.idle
        case .tunnel:
            guard let rule = exchange?.ruleIndex else { return .distantFuture }
            return lastActivity + worker.runtime.ruleTimeouts[rule].idle
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
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard currentDeadline() <= .now() else {
            armTimer()
            return
        }
        if case .idle(true) = machine.state, exchange == nil {
            exchange = Exchange(head: nil, start: .now())
        }
        perform(machine.timerFired())
        settle()
    }
}

extension ClientHandler: ExchangeOwner {}
