import Affinity
import HTTP1
import NIOCore
import NIOHPACK
import NIOHTTP2
import Publishing

/// One client HTTP/2 stream: one request, forwarded to a farm member as an HTTP/1.1 exchange
/// under the same publishing rules, member choice and header edits as an HTTP/1.1 request.
///
/// The request head is rebuilt as HTTP/1.1 (`HTTP2Translation`) and parsed by the same strict
/// `HeadParser`; the body is streamed to the member (chunked when the client gave no
/// content-length) and the response body back in DATA frames, each side's reading withheld
/// while the other cannot take more — for the client that withholds WINDOW_UPDATE, so HTTP/2
/// flow control carries the backpressure.
///
/// NTLM and Negotiate authenticate a connection (RFC 4559 §4), which multiplexed streams do
/// not have: such a challenge from the member, or such credentials from the client, reset the
/// stream with HTTP_1_1_REQUIRED, and the client retries over HTTP/1.1 — what IIS does.
final class HTTP2StreamHandler: ChannelDuplexHandler, BackendOwner {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Request body bytes held while the member connection is being opened.
    static let maxPendingBytes = 64 * 1024
    static let crlf: [UInt8] = [0x0D, 0x0A]

    let connection: HTTP2Connection
    var worker: Worker { connection.worker }
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
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
    private var timer: Scheduled<Void>?
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
        exchange?.backend?.flush()
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.backend?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Request

    private var wantsInput: Bool {
        guard let exchange, !finished else { return true }
        if let backend = exchange.backend { return backend.isWritable }
        return pendingBytes < Self.maxPendingBytes
    }

    private func resumeReading() {
        if readGate.release(wanted: wantsInput) { context?.read() }
    }

    private func startRequest(_ headers: HPACKHeaders, endStream: Bool) {
        requestEnded = endStream
        let fields = headers.map { (name: Array($0.name.utf8), value: Array($0.value.utf8)) }
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
        let runtime = worker.runtime
        let client = connection.client ?? ClientAddress(bytes: [0, 0, 0, 0])!
        let decision = runtime.rules.decide(listener: connection.listenerIndex, host: head.host, path: head.path, client: client)
        if let ticket = connection.sourceTicket, let retryAfter = ticket.refusesRequest(rule: decision.ruleIndex) {
            // Over the source's request limit: 429 on this stream; the connection stays usable.
            exchange.ruleIndex = decision.ruleIndex
            respondLocally(status: 429, retryAfter: retryAfter)
            return
        }
        switch decision {
        case .noMatch:
            respondLocally(status: 404)
        case .deny(let rule), .sourceNotAllowed(let rule):
            exchange.ruleIndex = rule
            respondLocally(status: 403)
        case .forward(let rule, let farm):
            exchange.ruleIndex = rule
            exchange.farmIndex = farm
            exchange.maxBody = runtime.config.rules[rule].maxBody
            if let limit = exchange.maxBody, case .contentLength(let length) = head.framing, length > limit {
                respondLocally(status: 413)
                return
            }
            if head.values("authorization").contains(where: BackendHandler.isConnectionBoundScheme) {
                requireHTTP11()
                return
            }
            guard let member = worker.pickMember(farm: farm, client: client, head: head, exchange: exchange) else {
                respondLocally(status: 503)
                return
            }
            exchange.member = member
            if let backend = worker.pool.take(farm: farm, member: member) {
                exchange.reusedConnection = true
                attach(backend, to: exchange)
            } else {
                connect(exchange)
            }
        }
    }

    private func receiveBody(_ buffer: ByteBuffer?, endStream: Bool) {
        guard let exchange, !finished else { return }
        if let buffer, buffer.readableBytes > 0 {
            let count = buffer.readableBytes
            exchange.bytesIn += count
            exchange.bodyBytes += count
            exchange.payloadBytes += UInt64(count)
            if let limit = exchange.maxBody, exchange.payloadBytes > limit {
                exchange.closeBackend = true
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
        if let backend = exchange.backend {
            markRequestSent(exchange)
            backend.flush()
        }
    }

    /// Sends request body bytes to the member, or holds them until it is connected.
    private func forward(_ buffer: ByteBuffer) {
        if let backend = exchange?.backend {
            backend.send(buffer, flush: false)
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
        exchange.requestComplete = true
        exchange.requestSentAt = .now()
        armTimer()
    }

    // MARK: Member connection

    private func connect(_ exchange: Exchange) {
        worker.connect(
            exchange,
            isCurrent: { self.exchange === exchange && !self.finished },
            attach: { backend in self.attach(backend, to: exchange) },
            failed: { error in
                if self.worker.moveToOtherMember(exchange, client: self.connection.client, after: error) {
                    self.connect(exchange)
                } else {
                    self.respondLocally(status: Worker.failureStatus(error))
                }
            }
        )
    }

    private func attach(_ backend: BackendHandler, to exchange: Exchange) {
        guard let context, let head = exchange.head else { return }
        worker.start(exchange, on: backend, owner: self)
        var bytes: [UInt8] = []
        head.writeForwarded(
            into: &bytes,
            edits: worker.forwardingEdits(for: exchange, clientText: connection.clientTextBytes, isTLS: true)
        )
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        backend.begin(owner: self, requestMethod: Array(head.method), head: buffer, boundByRequest: false)
        for pending in pendingBody { backend.send(pending, flush: false) }
        pendingBody.removeAll()
        pendingBytes = 0
        if requestEnded { markRequestSent(exchange) }
        backend.flush()
        armTimer()
        resumeReading()
    }

    // MARK: Callbacks from the member side

    func backendInformational(_ head: ResponseHead) {
        // 100 Continue and 103 Early Hints mean the same in HTTP/2 (RFC 9113 §8.1).
        guard head.status == 100 || head.status == 103, let context else { return }
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: Self.hpack(head.http2Fields())))), promise: nil)
    }

    func backendResponseHead(_ head: ResponseHead, framing: BodyFraming) {
        guard let context, let exchange else { return }
        exchange.status = head.status
        if head.status == 401, head.values("www-authenticate").contains(where: BackendHandler.isConnectionBoundScheme) {
            requireHTTP11()
            return
        }
        exchange.responseStarted = true
        let extra = exchange.setCookie.map { [(name: Array("set-cookie".utf8), value: Array($0.utf8))] } ?? []
        let headers = Self.hpack(head.http2Fields(extraFields: extra))
        let bodyless: Bool
        if case .none = framing { bodyless = true } else { bodyless = false }
        responseEnded = bodyless
        context.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: bodyless))), promise: nil)
        lastActivity = .now()
        armTimer()
    }

    func backendSwitchedProtocols(_ head: ResponseHead) {
        // No upgrade is forwarded from an HTTP/2 stream: the member is out of step.
        exchange?.closeBackend = true
        respondLocally(status: 502)
    }

    func backendBody(_ slice: ByteBuffer) {
        guard let context, let exchange else { return }
        exchange.bytesOut += slice.readableBytes
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(slice)))), promise: nil)
        lastActivity = .now()
    }

    func flushToClient() { context?.flush() }

    func backendBecameWritable() { resumeReading() }

    func backendResponseComplete(_ backend: BackendHandler, reusable: Bool) {
        guard let exchange, exchange.backend === backend else { return }
        exchange.backend = nil
        if reusable && exchange.requestComplete && !exchange.closeBackend && !backend.authenticationBound {
            worker.pool.put(backend)
        } else {
            backend.close()
        }
        if !responseEnded, let context {
            responseEnded = true
            context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(context.channel.allocator.buffer(capacity: 0)), endStream: true))), promise: nil)
        }
        context?.flush()
        if !requestEnded { context?.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil) }
        complete(exchange)
    }

    func backendClosedTunnel() {
        reset(.internalError)
    }

    func backendFailed(_ backend: BackendHandler, _ error: Error) {
        guard let exchange, exchange.backend === backend else { return }
        exchange.backend = nil
        backend.close()
        if exchange.responseStarted {
            reset(.internalError)
            return
        }
        if worker.mayResend(exchange, after: error) {
            connect(exchange)
            return
        }
        respondLocally(status: 502)
    }

    // MARK: Ending the stream

    /// A response edgesplit writes itself (no rule, deny, limits, member failures). A request
    /// body still arriving is refused with RST_STREAM(NO_ERROR) after it (RFC 9113 §8.1).
    private func respondLocally(status: Int, retryAfter: Int? = nil) {
        guard let context, let exchange, !finished else { return }
        exchange.closeBackendConnection()
        if exchange.responseStarted {
            reset(.internalError)
            return
        }
        let body = ProxyStatus.body(status)
        var headers = HPACKHeaders([
            (":status", String(status)), ("content-type", "text/plain; charset=utf-8"),
            ("content-length", String(body.utf8.count)),
        ])
        if let seconds = retryAfter ?? (status == 503 ? 10 : nil) { headers.add(name: "retry-after", value: String(seconds)) }
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
        exchange?.closeBackend = true
        reset(.http11Required)
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !finished else { return }
        context?.writeAndFlush(wrapOutboundOut(.rstStream(code)), promise: nil)
        if let exchange {
            exchange.closeBackendConnection()
            complete(exchange)
        } else {
            finished = true
        }
    }

    private func complete(_ exchange: Exchange) {
        finished = true
        timer?.cancel()
        timer = nil
        pendingBody.removeAll()
        pendingBytes = 0
        worker.finishOutstanding(exchange)
        if exchange.status == 0 { exchange.status = 499 }
        worker.record(exchange, listener: connection.listenerIndex, client: connection.clientText)
    }

    /// The client reset the stream or the connection went away.
    private func teardown() {
        timer?.cancel()
        timer = nil
        guard let exchange, !finished else {
            finished = true
            return
        }
        exchange.closeBackendConnection()
        complete(exchange)
    }

    // MARK: Timers

    /// The response timeout while the member has the whole request and has not answered;
    /// otherwise the rule's idle timeout between frames in either direction.
    private func currentDeadline() -> NIODeadline? {
        guard let exchange, !finished, let ruleIndex = exchange.ruleIndex else { return nil }
        let timeouts = worker.runtime.config.rules[ruleIndex].timeouts
        if exchange.requestComplete, !exchange.responseStarted, let sent = exchange.requestSentAt {
            return sent + timeouts.response.timeAmount
        }
        return lastActivity + timeouts.idle.timeAmount
    }

    private func armTimer() {
        timer?.cancel()
        timer = nil
        guard let context, let deadline = currentDeadline() else { return }
        // Strong, cancelled when the stream ends (see ClientHandler.armTimer).
        timer = context.eventLoop.scheduleTask(deadline: deadline) { self.timerFired() }
    }

    private func timerFired() {
        timer = nil
        guard let exchange, let deadline = currentDeadline() else { return }
        if deadline > .now() {
            armTimer()
        } else if exchange.requestComplete && !exchange.responseStarted {
            exchange.closeBackend = true
            respondLocally(status: 504)
        } else {
            reset(.cancel)
        }
    }

    static func hpack(_ fields: [HTTP2Translation.Field]) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(fields.count)
        for field in fields {
            headers.add(name: String(decoding: field.name, as: UTF8.self), value: String(decoding: field.value, as: UTF8.self))
        }
        return headers
    }
}
