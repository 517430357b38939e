import Demo
import Foundation
import HTTP1
import NIOCore
import NIOPosix
import NIOSSL

/// A farm member that records exactly what edgesplit sends it: every request's raw head
/// bytes, its raw body bytes (chunked framing included) and the connection it arrived on.
/// It answers with whatever raw bytes the test's closure returns, so a test can send what a
/// real IIS/Lync Front End sends (two WWW-Authenticate lines, 100 Continue, 101 and a
/// tunnel) or misbehave (stall, close).
///
/// Requests are split with edgesplit's own strict `HeadParser` and `BodyFramer`; a request
/// the backend cannot parse is recorded in `parseErrors` and its connection closed.
final class RecordingBackend: @unchecked Sendable {
    struct Request {
        /// 1, 2, … in accept order.
        let connection: Int
        let head: [UInt8]
        let body: [UInt8]
        let parsed: RequestHead

        var headText: String { String(decoding: head, as: UTF8.self) }
        var target: [UInt8] { Array(parsed.target) }
        /// Values of `name` in order, one per field line.
        func values(_ name: String) -> [String] {
            parsed.values(name.lowercased()).map { String(decoding: $0, as: UTF8.self) }
        }
        /// Field names in order, as received.
        var fieldNames: [String] { parsed.headers.map { String(decoding: $0.name, as: UTF8.self) } }
    }

    /// What to do once a request (head and body) has arrived.
    enum Reply {
        /// Write these bytes; the connection stays open for the next request.
        case send([UInt8])
        /// Write these bytes, then close.
        case sendAndClose([UInt8])
        /// Never answer.
        case stall
        /// Close without answering.
        case close
        /// Write these bytes (a 101) and echo everything received from then on.
        case switchToEcho([UInt8])
        /// Write these bytes after a pause (a slow member).
        case sendAfter(TimeInterval, [UInt8])
    }

    let port: Int
    private let channel: Channel
    private let lock = NSLock()
    private var _requests: [Request] = []
    private var _connections = 0
    private var _bytesReceived = 0
    private var _parseErrors: [String] = []
    private var _children: [Channel] = []
    private var _writesCompleted = 0

    /// Every complete request so far, in arrival order.
    var requests: [Request] { lock.withLock { _requests } }
    /// Connections accepted so far.
    var connectionCount: Int { lock.withLock { _connections } }
    /// Bytes received on all connections, complete requests or not.
    var bytesReceived: Int { lock.withLock { _bytesReceived } }
    var parseErrors: [String] { lock.withLock { _parseErrors } }
    /// Replies whose bytes have all been handed to the kernel.
    var writesCompleted: Int { lock.withLock { _writesCompleted } }

    /// Starts on 127.0.0.1, port 0.
    /// - Parameters:
    ///   - tls: a certificate to serve TLS with; nil serves plain HTTP.
    ///   - onHead: bytes to write as soon as a head arrives, before its body (100 Continue).
    ///   - respond: the reply to a complete request.
    init(
        host: String = "127.0.0.1",
        port: Int = 0,
        tls: IssuedCertificate? = nil,
        readPaused: Bool = false,
        onHead: @escaping @Sendable (Request) -> [UInt8]? = { _ in nil },
        respond: @escaping @Sendable (Request) -> Reply = { _ in .send(RecordingBackend.ok("ok")) }
    ) throws {
        let sslContext = try tls.map(TestPKI.serverContext)
        let box = WeakBox()
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: !readPaused)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let backend = box.backend else { throw ChannelError.ioOnClosedChannel }
                    let id = backend.accepted(channel)
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        RecordingConnectionHandler(backend: backend, connection: id, onHead: onHead, respond: respond)
                    )
                }
            }
            .bind(host: host, port: port)
            .wait()
        self.port = channel.localAddress!.port!
        self.member = host.contains(":") ? "[\(host)]:\(self.port)" : "\(host):\(self.port)"
        box.backend = self
    }

    /// Closes the listener and every connection it accepted.
    func stop() {
        try? channel.close().wait()
        let children = lock.withLock { _children }
        for child in children { try? child.close().wait() }
    }

    /// Starts reading on every connection of a backend made with `readPaused`.
    func resumeReading() {
        let children = lock.withLock { _children }
        for child in children { try? child.setOption(ChannelOptions.autoRead, value: true).wait() }
    }

    /// `host:port` for a farm's members list.
    let member: String

    fileprivate func accepted(_ channel: Channel) -> Int {
        lock.withLock {
            _connections += 1
            _children.append(channel)
            return _connections
        }
    }

    fileprivate func received(_ count: Int) { lock.withLock { _bytesReceived += count } }
    fileprivate func record(_ request: Request) { lock.withLock { _requests.append(request) } }
    fileprivate func parseFailed(_ reason: String) { lock.withLock { _parseErrors.append(reason) } }
    fileprivate func wrote() { lock.withLock { _writesCompleted += 1 } }

    /// Waits until at least `count` requests have been recorded.
    @discardableResult
    func waitForRequests(_ count: Int, timeout: TimeInterval = 5) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if requests.count >= count { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return requests.count >= count
    }

    // MARK: Canned responses

    /// `200 OK` with a Content-Length body and the extra header lines given.
    static func ok(_ body: String, headers: [String] = []) -> [UInt8] {
        response(status: "200 OK", headers: headers, body: body)
    }

    static func response(status: String, headers: [String] = [], body: String = "") -> [UInt8] {
        var text = "HTTP/1.1 \(status)\r\n"
        for line in headers { text += line + "\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        return Array(text.utf8)
    }
}

private final class WeakBox: @unchecked Sendable {
    weak var backend: RecordingBackend?
}

/// One accepted connection of a `RecordingBackend`.
private final class RecordingConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let backend: RecordingBackend
    let connection: Int
    let onHead: @Sendable (RecordingBackend.Request) -> [UInt8]?
    let respond: @Sendable (RecordingBackend.Request) -> RecordingBackend.Reply

    private var buffer: [UInt8] = []
    private var parser = HeadParser(kind: .request)
    private var headBytes: [UInt8] = []
    private var current: (head: [UInt8], parsed: RequestHead, framer: BodyFramer, body: [UInt8])?
    private var echoing = false
    private var closed = false

    init(
        backend: RecordingBackend, connection: Int,
        onHead: @escaping @Sendable (RecordingBackend.Request) -> [UInt8]?,
        respond: @escaping @Sendable (RecordingBackend.Request) -> RecordingBackend.Reply
    ) {
        self.backend = backend
        self.connection = connection
        self.onHead = onHead
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        backend.received(incoming.readableBytes)
        if echoing {
            context.writeAndFlush(wrapOutboundOut(incoming), promise: nil)
            return
        }
        buffer.append(contentsOf: incoming.readBytes(length: incoming.readableBytes)!)
        process(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        let backend = self.backend
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes))).whenSuccess {
            backend.wrote()
        }
    }

    private func process(context: ChannelHandlerContext) {
        while !closed, !buffer.isEmpty || (current.map { $0.framer.isComplete } ?? false) {
            if var request = current {
                current = nil  // keeps the body array unique while it grows
                let progress: BodyProgress
                do {
                    progress = try buffer.withUnsafeBytes { try request.framer.consume($0) }
                } catch {
                    fail("body: \(error)", context: context)
                    return
                }
                request.body.append(contentsOf: buffer[0..<progress.consumed])
                buffer.removeFirst(progress.consumed)
                current = request
                guard progress.isComplete else { return }
                current = nil
                finish(RecordingBackend.Request(connection: connection, head: request.head, body: request.body, parsed: request.parsed), context: context)
                if echoing {
                    if !buffer.isEmpty { write(buffer, context: context) }
                    buffer.removeAll()
                    return
                }
                continue
            }
            let result = buffer.withUnsafeBytes { parser.parse($0) }
            switch result {
            case .needMore(let consumed):
                headBytes.append(contentsOf: buffer[0..<consumed])
                buffer.removeFirst(consumed)
                return
            case .request(let head, let consumed):
                headBytes.append(contentsOf: buffer[0..<consumed])
                buffer.removeFirst(consumed)
                parser.reset()
                let raw = headBytes
                headBytes = []
                current = (raw, head, BodyFramer(head.framing), [])
                let early = RecordingBackend.Request(connection: connection, head: raw, body: [], parsed: head)
                if let interim = onHead(early) { write(interim, context: context) }
            case .response:
                fail("a response where a request was expected", context: context)
                return
            case .failure(let error):
                fail("head: \(error)", context: context)
                return
            }
        }
    }

    private func finish(_ request: RecordingBackend.Request, context: ChannelHandlerContext) {
        backend.record(request)
        switch respond(request) {
        case .send(let bytes):
            write(bytes, context: context)
        case .sendAndClose(let bytes):
            write(bytes, context: context)
            closed = true
            context.close(promise: nil)
        case .stall:
            break
        case .close:
            closed = true
            context.close(promise: nil)
        case .switchToEcho(let bytes):
            write(bytes, context: context)
            echoing = true
        case .sendAfter(let delay, let bytes):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) {
                let (handler, context) = loopBound.value
                if !handler.closed { handler.write(bytes, context: context) }
            }
        }
    }

    private func fail(_ reason: String, context: ChannelHandlerContext) {
        backend.parseFailed(reason)
        closed = true
        context.close(promise: nil)
    }
}
