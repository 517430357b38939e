import Affinity
import ConnectionCore
import HTTP1
import MemberConnections
import NIOCore
import NIOHPACK
import NIOHTTP2
import Publishing

/// One client HTTP/2 stream: one request, forwarded to a farm member as an HTTP/1.1 exchange
/// on the same path as an HTTP/1.1 connection's — the same planner (rule, limits, `max_body`,
/// member), the same member connections and the same `ExchangeProgress` deciding retries and
/// timeouts. What is left here is what belongs to HTTP/2: HEADERS and DATA frames, the
/// request head rebuilt as HTTP/1.1 (`HTTP2Translation`), RST_STREAM.
///
/// The request body is streamed to the member (chunked when the client gave no
/// content-length) and the response body back in DATA frames, each side's reading withheld
/// while the other cannot take more — for the client that withholds WINDOW_UPDATE, so HTTP/2
/// flow control carries the backpressure.
///
/// NTLM and Negotiate authenticate a connection (RFC 4559 §4), which multiplexed streams do
/// not have: such a challenge from the member, or such credentials from the client, reset the
/// stream with HTTP_1_1_REQUIRED, and the client retries over HTTP/1.1 — what IIS does.
final class HTTP2StreamHandler: ChannelDuplexHandler, MemberOwner {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Request body bytes held while the member connection is being opened.
    static let maxPendingBytes = 64 * 1024
    static let crlf: [UInt8] = [0x0D, 0x0A]

    let connection: HTTP2Connection
    var worker: Worker { connection.worker }
    private var context: ChannelHandlerContext?
    /// The stream's exchange, owned here alone, and where it stands.
    private var exchange: Exchange?
    private var progress = ExchangeProgress(requestComplete: false, idempotent: false)
    private var pendingBody: [ByteBuffer] = []
    private var pendingBytes = 0
    /// The request body goes to the member chunked (no content-length from the client).
    private var chunked = false
    /// END_STREAM came from the client.
    private var requestEnded = false
    /// END_STREAM went to the client.
    private var responseEnded = false
    /// The exchange is over (answered, reset or completed); later frames are ignored.
    private var finished = false
    private var readGate = ReadGate()
    /// The stream counts in its source's `concurrent_streams` until it ends.
    private var countedStream = false
    private var timer: Scheduled<Void>?
    /// When `timer` fires.
    private var timerDeadline: NIODeadline = .distantFuture
    private var lastActivity: NIODeadline = .now()

    init(connection: HTTP2Connection) {
        self.connection = connection
    }

    var isClientWritable: Bool { context?.channel.isWritable ?? false }
    var wantsDechunkedBody: Bool { true }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A stream error (the library reset the stream) or the connection going away.
        teardown()
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if readGate.admit(wanted: wantsInput) { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if exchange == nil && !finished {
                startRequest(headers.headers, endStream: headers.endStream)
            } else if headers.endStream {
                // Trailers end the body; they are not forwarded.
                receiveBody(nil, endStream: true)
            }
        case .data(let data):
            if case .byteBuffer(let buffer) = data.data { receiveBody(buffer, endStream: data.endStream) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.memberConnection?.flush()
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.memberConnection?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Request

    private var wantsInput: Bool {
        guard let exchange, !finished else { return true }
        if let memberConnection = exchange.memberConnection { return memberConnection.isWritable }
        return pendingBytes < Self.maxPendingBytes
    }

    private func resumeReading() {
        if readGate.release(wanted: wantsInput) { context?.read() }
    }

    private func startRequest(_ headers: HPACKHeaders, endStream: Bool) {
        requestEnded = endStream
        if let ticket = connection.sourceTicket {
            // Streams count per source like connections do, so multiplexing cannot step
            // around `concurrent_connections`. REFUSED_STREAM: nothing was processed, the
            // client may retry (RFC 9113 §8.7).
            guard ticket.admitStream() else {
                reset(.refusedStream)
                return
            }
            countedStream = true
        }
        let fields = headers.map { (name: $0.name, value: $0.value) }
        let bytes: [UInt8]
        do {
            bytes = try HTTP2Translation.requestHead(fields, hasBody: !endStream)
        } catch {
            worker.stats.http2.malformedStreams &+= 1
            reset(.protocolError)
            return
        }
        var parser = HeadParser(kind: .request, limits: worker.runtime.headLimits)
        let parsed = bytes.withUnsafeBytes { parser.parse($0) }
        guard case .request(let head, _) = parsed else {
            exchange = Exchange(head: nil, start: .now())
            if case .failure(let error) = parsed { respondLocally(status: error.status) } else { respondLocally(status: 400) }
            return
        }
        let exchange = Exchange(head: head, start: .now())
        exchange.bytesIn = bytes.count
        self.exchange = exchange
        chunked = !endStream && head.framing == .chunked
        progress = ExchangeProgress(requestComplete: endStream, idempotent: ExchangeProgress.isIdempotent(method: head.method))
        let plan = worker.plan(head, listener: connection.listenerIndex, client: connection.client, ticket: connection.sourceTicket)
        switch plan {
        case .answer(let status, let rule, let retryAfter):
            exchange.ruleIndex = rule
            exchange.retryAfter = retryAfter
            respondLocally(status: status)
        case .forward(let forward):
            exchange.apply(forward)
            if forward.boundByRequest {
                requireHTTP11()
                return
            }
            obtainMember()
        }
    }

    private func receiveBody(_ buffer: ByteBuffer?, endStream: Bool) {
        guard let exchange, !finished else { return }
        if let buffer, buffer.readableBytes > 0 {
            let count = buffer.readableBytes
            exchange.bytesIn += count
            exchange.payloadBytes += UInt64(count)
            if let limit = exchange.maxBody, exchange.payloadBytes > limit {
                respondLocally(status: 413)
                return
            }
            if chunked { forward(bytes: HTTP2Translation.chunkSizeLine(count)) }
            forward(buffer)
            if chunked { forward(bytes: Self.crlf) }
        }
        guard endStream else { return }
        requestEnded = true
        if chunked { forward(bytes: HTTP2Translation.lastChunk) }
        progress.requestEnded()
        if let memberConnection = exchange.memberConnection {
            markRequestSent(exchange)
            memberConnection.flush()
        }
    }

    /// Sends request body bytes to the member, or holds them until it is connected.
    private func forward(_ buffer: ByteBuffer) {
        if let memberConnection = exchange?.memberConnection {
            progress.sentBody()
            memberConnection.send(buffer, flush: false)
        } else {
            pendingBody.append(buffer)
            pendingBytes += buffer.readableBytes
        }
    }

    private func forward(bytes: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        forward(buffer)
    }

    private func markRequestSent(_ exchange: Exchange) {
        exchange.requestSentAt = .now()
        armTimer()
    }

    // MARK: Member connection

    private func obtainMember() {
        guard let exchange else { return }
        if let memberConnection = worker.pool.take(farm: exchange.farmIndex, member: exchange.member) {
            attach(memberConnection, reused: true)
        } else {
            worker.connect(exchange, for: self)
        }
    }

    func memberConnected(_ memberConnection: MemberHandler, for exchange: Exchange) {
        guard exchange === self.exchange, !finished, progress.member == .connecting else {
            memberConnection.close()
            return
        }
        attach(memberConnection, reused: false)
    }

    func memberConnectFailed(_ error: Error, for exchange: Exchange) {
        guard exchange === self.exchange, !finished, progress.member == .connecting else { return }
        let other = worker.otherMember(for: exchange, client: connection.client, after: error)
        switch progress.connectFailed(otherMember: other != nil, timedOut: Worker.isTimeout(error)) {
        case .resend:
            exchange.member = other!.member
            exchange.setCookie = other!.setCookie
            obtainMember()
        case .answer(let status):
            respondLocally(status: status)
        case .abort:
            reset(.internalError)
        }
    }

    private func attach(_ memberConnection: MemberHandler, reused: Bool) {
        guard let context, let exchange, let head = exchange.head else { return }
        worker.start(exchange, on: memberConnection, owner: self)
        progress.attached(reused: reused)
        var bytes: [UInt8] = []
        worker.forwardedHead(for: exchange, clientText: connection.clientTextBytes, isTLS: true, into: &bytes)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        memberConnection.begin(owner: self, requestMethod: head.method, head: buffer, boundByRequest: false)
        for pending in pendingBody { memberConnection.send(pending, flush: false) }
        if pendingBytes > 0 { progress.sentBody() }
        pendingBody.removeAll()
        pendingBytes = 0
        if requestEnded { markRequestSent(exchange) }
        memberConnection.flush()
        armTimer()
        resumeReading()
    }

    // MARK: Events from the member side

    func memberInformational(_ head: ResponseHead) {
        progress.responseBytesArrived()
        // 100 Continue and 103 Early Hints mean the same in HTTP/2 (RFC 9113 §8.1).
        guard head.status == 100 || head.status == 103, let context else { return }
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: Self.hpack(head)))), promise: nil)
    }

    func memberResponseHead(_ head: ResponseHead, framing: BodyFraming) {
        guard let context, let exchange else { return }
        exchange.status = head.status
        if head.status == 401, head.containsValue("www-authenticate", where: MemberHandler.isConnectionBoundScheme) {
            requireHTTP11()
            return
        }
        progress.responseHeadSent()
        var headers = Self.hpack(head)
        if let cookie = exchange.setCookie { headers.add(name: "set-cookie", value: cookie) }
        let bodyless: Bool
        if case .none = framing { bodyless = true } else { bodyless = false }
        responseEnded = bodyless
        context.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: bodyless))), promise: nil)
        lastActivity = .now()
        armTimer()
    }

    func memberSwitchedProtocols(_ head: ResponseHead) {
        // No upgrade is forwarded from an HTTP/2 stream: the member is out of step.
        respondLocally(status: 502)
    }

    func memberBody(_ slice: ByteBuffer) {
        guard let exchange else { return }
        exchange.bytesOut += slice.readableBytes
        writeHeldBody()
        heldBody = slice
        lastActivity = .now()
    }

    /// The slice of the response body held back in case the response completes within the same
    /// read from the member: then it goes out with END_STREAM, and the stream ends with the
    /// DATA frame that carries its last bytes instead of one more, empty, frame. It is never
    /// held beyond the read: the member's read-complete writes it (`flushToClient`).
    private var heldBody: ByteBuffer?

    private func writeHeldBody(endStream: Bool = false) {
        guard let slice = heldBody else { return }
        heldBody = nil
        context?.write(wrapOutboundOut(.data(.init(data: .byteBuffer(slice), endStream: endStream))), promise: nil)
    }

    func flushToClient() {
        writeHeldBody()
        context?.flush()
    }

    func memberBecameWritable() { resumeReading() }

    func memberResponseComplete(_ memberConnection: MemberHandler, reusable: Bool) {
        guard let exchange, exchange.memberConnection === memberConnection else { return }
        exchange.memberConnection = nil
        progress.released()
        worker.release(memberConnection, keep: progress.mayKeepMember(reusable: reusable) && !memberConnection.authenticationBound)
        if !responseEnded, let context {
            responseEnded = true
            if heldBody != nil {
                writeHeldBody(endStream: true)
            } else {
                context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(context.channel.allocator.buffer(capacity: 0)), endStream: true))), promise: nil)
            }
        }
        context?.flush()
        if !requestEnded { context?.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil) }
        complete(exchange)
    }

    func memberClosedTunnel() {
        reset(.internalError)
    }

    func memberFailed(_ memberConnection: MemberHandler, _ error: Error) {
        guard let exchange, exchange.memberConnection === memberConnection else { return }
        worker.memberConnectionFailed(exchange, memberConnection, reused: progress.reusedConnection, error: error)
        switch progress.memberFailed(responseBegun: memberConnection.responseStarted) {
        case .resend:
            obtainMember()
        case .answer(let status):
            respondLocally(status: status)
        case .abort:
            reset(.internalError)
        }
    }

    // MARK: Ending the stream

    /// A response edgesplit writes itself (no rule, deny, limits, member failures). A member
    /// connection that carried part of the exchange is closed. A request body still arriving
    /// is refused with RST_STREAM(NO_ERROR) after it (RFC 9113 §8.1).
    private func respondLocally(status: Int) {
        guard let context, let exchange, !finished else { return }
        exchange.closeMemberConnection()
        if progress.responseStarted {
            reset(.internalError)
            return
        }
        let body = ProxyStatus.body(status)
        var headers = HPACKHeaders([
            (":status", String(status)), ("content-type", "text/plain; charset=utf-8"),
            ("content-length", String(body.utf8.count)),
        ])
        if let seconds = exchange.retryAfter ?? (status == 503 ? 10 : nil) {
            headers.add(name: "retry-after", value: String(seconds))
        }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        exchange.status = status
        exchange.bytesOut += buffer.readableBytes
        responseEnded = true
        context.write(wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(buffer), endStream: true))), promise: nil)
        if !requestEnded { context.write(wrapOutboundOut(.rstStream(.noError)), promise: nil) }
        context.flush()
        complete(exchange)
    }

    /// NTLM or Negotiate on an HTTP/2 stream: HTTP_1_1_REQUIRED makes the client retry the
    /// request on an HTTP/1.1 connection, where the handshake can bind to the connection.
    private func requireHTTP11() {
        worker.stats.http2.http11Required &+= 1
        reset(.http11Required)
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !finished else { return }
        context?.writeAndFlush(wrapOutboundOut(.rstStream(code)), promise: nil)
        if let exchange {
            exchange.closeMemberConnection()
            complete(exchange)
        } else {
            finished = true
        }
    }

    private func complete(_ exchange: Exchange) {
        finished = true
        heldBody = nil
        releaseStream()
        timer?.cancel()
        timer = nil
        pendingBody.removeAll()
        pendingBytes = 0
        worker.finish(exchange, listener: connection.listenerIndex, client: connection.clientText)
    }

    /// The stream leaves its source's `concurrent_streams` count, once.
    private func releaseStream() {
        guard countedStream else { return }
        countedStream = false
        connection.sourceTicket?.streamClosed()
    }

    /// The client reset the stream or the connection went away.
    private func teardown() {
        heldBody = nil
        releaseStream()
        timer?.cancel()
        timer = nil
        guard let exchange, !finished else {
            finished = true
            return
        }
        exchange.closeMemberConnection()
        complete(exchange)
    }

    // MARK: Timers

    /// The rule's timeout that `ExchangeProgress` says runs now.
    private func currentDeadline() -> NIODeadline? {
        guard let exchange, !finished, let ruleIndex = exchange.ruleIndex else { return nil }
        let timeouts = worker.runtime.ruleTimeouts[ruleIndex]
        switch progress.timeout {
        case .response: return exchange.requestSentAt + timeouts.response
        case .idle: return lastActivity + timeouts.idle
        }
    }

    /// Arms the timer for the current deadline. A pending timer that fires no later is kept:
    /// it re-checks the deadline when it fires. Cancelling and scheduling anew at each step of
    /// the exchange would cost a removal from and an insertion into the event loop's queue of
    /// timers (thousands of instructions) several times per stream.
    private func armTimer() {
        guard let context, let deadline = currentDeadline() else {
            timer?.cancel()
            timer = nil
            return
        }
        if timer != nil, deadline >= timerDeadline { return }
        timer?.cancel()
        timerDeadline = deadline
        // Strong, cancelled when the stream ends (see ClientHandler.armTimer).
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard let deadline = currentDeadline() else { return }
        if deadline > .now() {
            armTimer()
            return
        }
        switch progress.timedOut() {
        case .answer(let status): respondLocally(status: status)
        case .abort, .resend: reset(.cancel)
        }
    }

    /// The member's response head as HPACK headers (`:status`, then its fields with their
    /// names lowercased), built straight from the head's bytes: one string per name and value.
    static func hpack(_ head: ResponseHead) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(head.headers.fields.count + 2)
        headers.add(name: ":status", value: String(head.status))
        head.forEachHTTP2Field { name, value in
            let lowered = String(unsafeUninitializedCapacity: name.count) { out in
                for i in 0..<name.count { out[i] = ASCII.lower(name[i]) }
                return name.count
            }
            headers.add(name: lowered, value: String(decoding: value, as: UTF8.self))
        }
        return headers
    }
}
