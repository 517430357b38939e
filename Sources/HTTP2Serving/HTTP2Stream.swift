import Affinity
import ConnectionCore
import Forwarding
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
/// request head rebuilt as HTTP/1.1 (`HTTP2Translation`), RST_STREAM, the stream's window.
///
/// A stream is not a channel: its `HTTP2Connection` hands it the stream's frames and writes
/// the frames it produces (see there for why).
///
/// The request body is streamed to the member (chunked when the client gave no
/// content-length) and the response body back in DATA frames, each side held back while the
/// other cannot take more: the client by WINDOW_UPDATE withheld for this stream, the member by
/// not reading it while too much of what this stream or its connection wrote waits for the
/// client's windows, or while the TLS channel is full.
///
/// NTLM and Negotiate authenticate a connection (RFC 4559 §4), which multiplexed streams do
/// not have: such a challenge from the member, or such credentials from the client, reset the
/// stream with HTTP_1_1_REQUIRED, and the client retries over HTTP/1.1 — what IIS does.
final class HTTP2Stream: MemberOwner {
    /// Request body bytes held while the member connection is being opened.
    static let maxPendingBytes = 64 * 1024
    static let crlf: [UInt8] = [0x0D, 0x0A]

    let connection: HTTP2Connection
    let id: HTTP2StreamID
    var worker: Worker { connection.worker }
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
    /// RST_STREAM went to the client.
    private var resetSent = false
    /// The stream counts in its source's `concurrent_streams` until it ends.
    private var countedStream = false
    /// The deadline the stream asked its connection to check (`armTimer`); nil when none runs.
    private var timerDeadline: NIODeadline?
    /// The library closed the stream before the member reported the response complete (a
    /// response without a body ends the stream with its HEADERS): the connection keeps it until
    /// it completes, so its timer still runs.
    private var closedEarly = false
    private var lastActivity: NIODeadline = .now()
    /// DATA bytes written on this stream that the library has not sent yet (`HTTP2Connection`).
    private var unsent = 0
    /// The library reported the stream closed.
    private var closedByLibrary = false
    /// Flow-controlled bytes the client sent on this stream that have not been granted back.
    private var unacknowledged = 0
    /// The stream read something in the connection's current read (`HTTP2Connection`).
    var isReader = false

    init(connection: HTTP2Connection, id: HTTP2StreamID) {
        self.connection = connection
        self.id = id
    }

    var isClientWritable: Bool { unsent < HTTP2Connection.maxStreamUnsent && connection.isWritable }
    var wantsDechunkedBody: Bool { true }

    // MARK: Frames from the client

    func receiveHeaders(_ headers: HTTP2Frame.FramePayload.Headers) {
        lastActivity = .now()
        if exchange == nil && !finished {
            startRequest(headers.headers, endStream: headers.endStream)
        } else if headers.endStream {
            // Trailers end the body; they are not forwarded.
            receiveBody(nil, endStream: true)
        }
    }

    func receiveData(_ data: HTTP2Frame.FramePayload.Data) {
        lastActivity = .now()
        // What counts against the window: the payload and the padding with its length byte.
        unacknowledged += data.data.readableBytes + (data.paddingBytes.map { $0 + 1 } ?? 0)
        if case .byteBuffer(let buffer) = data.data { receiveBody(buffer, endStream: data.endStream) }
        grantWindow()
    }


    /// The connection's read that carried this stream's frames is complete.
    func clientReadComplete() {
        isReader = false
        exchange?.memberConnection?.flush()
    }

    func clientBecameWritable() {
        exchange?.memberConnection?.resumeReading()
    }

    /// The library closed the stream (both ends done, a reset either way) or the connection went.
    ///
    /// A stream whose two ends were both sent is over for the client, though the member's
    /// response may not have been reported complete yet (a response without a body ends the
    /// stream with its HEADERS): the exchange then completes as the member's side reports it,
    /// and the member connection goes back to the pool.
    /// Returns whether the stream is done; otherwise the connection keeps it until `complete`
    /// tells it (`HTTP2Connection.closedStreamCompleted`).
    func closed() -> Bool {
        closedByLibrary = true
        // What the library still held for the stream is dropped with it.
        connection.dataLeft(unsent)
        unsent = 0
        if requestEnded && responseEnded && !finished && !resetSent, exchange?.memberConnection != nil {
            closedEarly = true
            return false
        }
        teardown()
        return true
    }

    /// A stream error from what was written on this stream: the stream ends, reset once.
    func failed() {
        teardown()
        writeReset(.cancel)
        connection.flush()
    }

    // MARK: Request

    private var wantsInput: Bool {
        guard let exchange, !finished else { return true }
        if let memberConnection = exchange.memberConnection { return memberConnection.isWritable }
        return pendingBytes < Self.maxPendingBytes
    }

    /// Grants the client's bytes on this stream back once half the window is spent, while the
    /// stream can take more; otherwise they stay owed, and the client stops at the window.
    private func grantWindow() {
        guard unacknowledged >= HTTP2Connection.targetWindow / 2, !requestEnded, !finished, wantsInput else { return }
        connection.write(.windowUpdate(windowSizeIncrement: unacknowledged), on: id)
        unacknowledged = 0
        connection.flush()
    }

    private func resumeReading() {
        grantWindow()
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
        var buffer = connection.allocator.buffer(capacity: bytes.count)
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
        guard let exchange, let head = exchange.head else { return }
        worker.start(exchange, on: memberConnection, owner: self)
        progress.attached(reused: reused)
        worker.forwardedHead(for: exchange, clientText: connection.clientTextBytes, isTLS: true, into: &connection.headScratch)
        var buffer = connection.allocator.buffer(capacity: connection.headScratch.count)
        buffer.writeBytes(connection.headScratch)
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
        guard head.status == 100 || head.status == 103, !finished else { return }
        connection.write(.headers(.init(headers: Self.hpack(head))), on: id)
        connection.flush()
    }

    func memberResponseHead(_ head: ResponseHead, framing: BodyFraming) {
        guard let exchange, !finished else { return }
        exchange.status = head.status
        if head.status == 401, head.containsValue("www-authenticate", where: MemberHandler.isConnectionBoundScheme) {
            requireHTTP11()
            return
        }
        progress.responseHeadSent()
        let headers = Self.hpack(head, setCookie: exchange.setCookie)
        let bodyless: Bool
        if case .none = framing { bodyless = true } else { bodyless = false }
        responseEnded = bodyless
        connection.write(.headers(.init(headers: headers, endStream: bodyless)), on: id)
        lastActivity = .now()
        armTimer()
    }

    func memberSwitchedProtocols(_ head: ResponseHead) {
        // No upgrade is forwarded from an HTTP/2 stream: the member is out of step.
        respondLocally(status: 502)
    }

    func memberBody(_ slice: ByteBuffer) {
        guard let exchange, !finished else { return }
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
        writeData(slice, endStream: endStream)
    }

    /// DATA on this stream. Its bytes count as unsent, for the stream and the connection, until
    /// the library sends them (`dataSent`) or the stream's close drops them (`closed`).
    private func writeData(_ buffer: ByteBuffer, endStream: Bool, promise: EventLoopPromise<Void>? = nil) {
        let count = buffer.readableBytes
        unsent += count
        connection.dataWritten(count)
        connection.write(.data(.init(data: .byteBuffer(buffer), endStream: endStream)), on: id, promise: promise)
    }

    /// The library sent `count` bytes of this stream's DATA (the client's windows allowed them).
    func dataSent(_ count: Int) {
        let wasOver = unsent >= HTTP2Connection.maxStreamUnsent
        unsent -= count
        connection.dataLeft(count)
        if wasOver && unsent < HTTP2Connection.maxStreamUnsent { connection.resumeSoon() }
        // A finished stream whose last bytes leave is making progress: it lingers on, while
        // some are still held (once none is, the stream ends with what was just sent).
        if finished, !resetSent, unsent > 0, timerDeadline != nil { armLinger() }
    }

    /// The response's last DATA frame. When the client has not finished its request,
    /// RST_STREAM(NO_ERROR) follows (RFC 9113 §8.1), but only once that frame has left: the
    /// library holds DATA until the client's window allows it, a reset passes it by, and the
    /// stream's close would drop what was held — the response would arrive without its end.
    private func writeLastData(_ buffer: ByteBuffer) {
        guard !requestEnded, let written = connection.makePromise() else {
            writeData(buffer, endStream: true)
            return
        }
        written.futureResult.assumeIsolated().whenSuccess { [self] in
            // Not on a stream the client has ended or reset meanwhile (RFC 9113 §5.4.2).
            guard !closedByLibrary else { return }
            writeReset(.noError)
            connection.flush()
        }
        writeData(buffer, endStream: true, promise: written)
    }

    /// RST_STREAM, once: the stream is closed after it.
    private func writeReset(_ code: HTTP2ErrorCode) {
        guard !resetSent else { return }
        resetSent = true
        connection.write(.rstStream(code), on: id)
    }

    func flushToClient() {
        writeHeldBody()
        connection.flush()
    }

    func memberBecameWritable() { resumeReading() }

    func memberResponseComplete(_ memberConnection: MemberHandler, reusable: Bool) {
        guard let exchange, exchange.memberConnection === memberConnection else { return }
        exchange.memberConnection = nil
        progress.released()
        worker.release(memberConnection, keep: progress.mayKeepMember(reusable: reusable) && !memberConnection.authenticationBound)
        let last = heldBody
        let endResponse = !responseEnded
        responseEnded = true
        // The exchange is complete before the frames that may close the stream are written.
        complete(exchange)
        if endResponse {
            writeLastData(last ?? connection.allocator.buffer(capacity: 0))
        } else if !requestEnded {
            // The response ended with its HEADERS, which the library never holds back.
            writeReset(.noError)
        }
        connection.flush()
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
        guard let exchange, !finished else { return }
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
        var buffer = connection.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        exchange.status = status
        exchange.bytesOut += buffer.readableBytes
        responseEnded = true
        complete(exchange)
        connection.write(.headers(.init(headers: headers)), on: id)
        writeLastData(buffer)
        connection.flush()
    }

    /// NTLM or Negotiate on an HTTP/2 stream: HTTP_1_1_REQUIRED makes the client retry the
    /// request on an HTTP/1.1 connection, where the handshake can bind to the connection.
    private func requireHTTP11() {
        worker.stats.http2.http11Required &+= 1
        reset(.http11Required)
    }

    private func reset(_ code: HTTP2ErrorCode) {
        guard !finished else { return }
        if let exchange {
            exchange.closeMemberConnection()
            complete(exchange)
        } else {
            finished = true
        }
        writeReset(code)
        connection.flush()
    }

    private func complete(_ exchange: Exchange) {
        finished = true
        heldBody = nil
        releaseStream()
        // The stream should close at once; if it is still open a linger time from now, it is
        // reset (`checkDeadline`).
        armLinger()
        pendingBody.removeAll()
        pendingBytes = 0
        worker.finish(exchange, listener: connection.listenerIndex, client: connection.clientText)
        if closedEarly {
            closedEarly = false
            connection.closedStreamCompleted(id)
        }
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
        timerDeadline = nil
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

    /// How long a finished stream may stay open with none of its last bytes sent: the rule's
    /// idle timeout, and at least the connection's idle time.
    private func armLinger() {
        var linger = connection.maxIdle
        if let rule = exchange?.ruleIndex { linger = max(linger, worker.runtime.ruleTimeouts[rule].idle) }
        let deadline = NIODeadline.now() + linger
        timerDeadline = deadline
        connection.streamDeadline(deadline)
    }

    /// Sets the stream's deadline to the current one. Streams have no timer of their own: the
    /// connection runs one for the earliest deadline of its streams (`HTTP2Connection
    /// .streamDeadline`). A timer per stream cost an insertion into and a removal from the event
    /// loop's queue of timers with every stream, about a twentieth of its instructions.
    private func armTimer() {
        timerDeadline = currentDeadline()
        if let timerDeadline { connection.streamDeadline(timerDeadline) }
    }

    /// The connection's timer fired at `now`: the stream acts if its deadline has passed, and
    /// otherwise names its deadline again.
    func checkDeadline(now: NIODeadline) {
        guard let deadline = timerDeadline else { return }
        guard deadline <= now else {
            connection.streamDeadline(deadline)
            return
        }
        timerDeadline = nil
        if finished {
            // The exchange completed a linger time ago, with none of its last bytes sent since,
            // and the stream is still open: the client does not take its last DATA. It is
            // reset, and what was held for it dropped, so a client cannot keep streams, and its
            // connection, open forever. If the stream is still open a connection idle time
            // after the reset (the client reads nothing at all, so not even the reset left),
            // the connection is closed.
            if resetSent {
                connection.abort()
            } else {
                writeReset(.cancel)
                connection.flush()
                let deadline = NIODeadline.now() + connection.maxIdle
                timerDeadline = deadline
                connection.streamDeadline(deadline)
            }
            return
        }
        timerFired(now: now)
    }

    private func timerFired(now: NIODeadline) {
        guard let deadline = currentDeadline() else { return }
        if deadline > now {
            armTimer()
            return
        }
        switch progress.timedOut() {
        case .answer(let status): respondLocally(status: status)
        case .abort, .resend: reset(.cancel)
        }
    }

    /// The member's response head as HPACK headers (`:status`, then its fields with their
    /// names lowercased, then `setCookie`), built straight from the head's bytes: one string per
    /// value, and per name unless it is one of the names most responses carry.
    ///
    /// Built as a list of pairs rather than by `HPACKHeaders.add`, which checks that every name is
    /// ASCII by walking its UTF-8 view (about 300 instructions a field): these names are tokens,
    /// checked by the head parser.
    static func hpack(_ head: ResponseHead, setCookie: String? = nil) -> HPACKHeaders {
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.fields.count + 2)
        fields.append((":status", statusText(head.status)))
        head.forEachHTTP2Field { name, value in
            fields.append((lowercasedName(name), String(decoding: value, as: UTF8.self)))
        }
        if let setCookie { fields.append(("set-cookie", setCookie)) }
        return HPACKHeaders(fields)
    }

    /// `:status`'s value: a literal for the common codes, no number formatted.
    private static func statusText(_ status: Int) -> String {
        switch status {
        case 200: "200"
        case 204: "204"
        case 206: "206"
        case 301: "301"
        case 302: "302"
        case 304: "304"
        case 400: "400"
        case 401: "401"
        case 403: "403"
        case 404: "404"
        case 500: "500"
        case 502: "502"
        case 503: "503"
        default: String(status)
        }
    }

    /// A field name lowercased (RFC 9113 §8.2.2), as a literal when it is one of the common ones.
    private static func lowercasedName(_ name: UnsafeBufferPointer<UInt8>) -> String {
        switch name.count {
        case 4:
            if named(name, "date") { return "date" }
            if named(name, "etag") { return "etag" }
            if named(name, "vary") { return "vary" }
        case 6:
            if named(name, "server") { return "server" }
            if named(name, "pragma") { return "pragma" }
        case 7:
            if named(name, "expires") { return "expires" }
        case 8:
            if named(name, "location") { return "location" }
        case 10:
            if named(name, "set-cookie") { return "set-cookie" }
        case 12:
            if named(name, "content-type") { return "content-type" }
            if named(name, "x-powered-by") { return "x-powered-by" }
        case 13:
            if named(name, "cache-control") { return "cache-control" }
            if named(name, "last-modified") { return "last-modified" }
            if named(name, "accept-ranges") { return "accept-ranges" }
        case 14:
            if named(name, "content-length") { return "content-length" }
        case 16:
            if named(name, "content-encoding") { return "content-encoding" }
            if named(name, "www-authenticate") { return "www-authenticate" }
        default:
            break
        }
        return String(unsafeUninitializedCapacity: name.count) { out in
            for i in 0..<name.count { out[i] = ASCII.lower(name[i]) }
            return name.count
        }
    }

    /// Whether `name` is `lowercase` in any case (`lowercase` has the same length).
    @inline(__always)
    private static func named(_ name: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        let expected = lowercase.utf8Start
        for i in 0..<name.count where ASCII.lower(name[i]) != expected[i] { return false }
        return true
    }
}
