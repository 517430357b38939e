import Foundation
import HTTP1
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A response as the client received it: status, fields in order (repeats kept), and the
/// body bytes exactly as framed on the wire (chunk lines included).
struct TestResponse {
    let head: [UInt8]
    let status: Int
    let fields: [(name: String, value: String)]
    let body: [UInt8]

    var headText: String { String(decoding: head, as: UTF8.self) }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    func values(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
    func first(_ name: String) -> String? { values(name).first }
}

enum TestClientError: Error, CustomStringConvertible {
    case timedOut(String, received: [UInt8])
    case closed(String, received: [UInt8])
    case malformed(String)
    case tls(Error)

    var description: String {
        switch self {
        case .timedOut(let what, let received): return "timed out waiting for \(what); have \(String(decoding: received, as: UTF8.self).debugDescription)"
        case .closed(let what, let received): return "connection closed before \(what); have \(String(decoding: received, as: UTF8.self).debugDescription)"
        case .malformed(let reason): return "malformed response: \(reason)"
        case .tls(let error): return "TLS: \(error)"
        }
    }
}

/// A blocking client connection for tests: raw bytes out, raw bytes in, over plain TCP or
/// TLS (with SNI), so tests can send exactly the bytes an attacker or an old client sends and
/// see exactly what comes back.
final class TestClient {
    let channel: Channel
    private let inbox: Inbox

    /// Connects to 127.0.0.1:`port`. With `tls`, the handshake is completed (or has failed,
    /// which throws) before this returns. With `source`, the socket is bound to that local
    /// address first (any of 127.0.0.0/8 is local), so the proxy sees that client address.
    init(
        port: Int, host: String = "127.0.0.1", from source: String? = nil, tls: NIOSSLContext? = nil,
        serverName: String? = nil, timeout: TimeInterval = 5
    ) throws {
        let inbox = Inbox()
        self.inbox = inbox
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        channel = try bootstrap
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverName)
                        )
                    }
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(inbox: inbox))
                }
            }
            .connect(host: host, port: port)
            .wait()
        if tls != nil {
            let ok = inbox.wait(timeout: timeout) { $0.handshakeDone || $0.error != nil || $0.closed }
            if let error = inbox.withLock({ $0.error }) {
                close()
                throw TestClientError.tls(error)
            }
            guard ok, inbox.withLock({ $0.handshakeDone }) else {
                close()
                throw TestClientError.closed("the TLS handshake", received: [])
            }
        }
    }

    deinit { close() }

    func close() {
        channel.close(promise: nil)
    }

    /// The certificate the server presented (TLS only).
    var peerCertificate: NIOSSLCertificate? {
        try? channel.eventLoop.submit { [channel] in
            try channel.pipeline.syncOperations.nioSSL_peerCertificate()
        }.wait()
    }

    func send(_ bytes: [UInt8]) throws {
        try channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).wait()
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads the next complete response (interim 1xx responses included when
    /// `skipInterim` is false). `method` decides whether a body follows (HEAD).
    func readResponse(method: String = "GET", skipInterim: Bool = true, timeout: TimeInterval = 5) throws -> TestResponse {
        while true {
            let response = try readOneResponse(method: method, timeout: timeout)
            if skipInterim, response.status >= 100, response.status < 200, response.status != 101 { continue }
            return response
        }
    }

    private func readOneResponse(method: String, timeout: TimeInterval) throws -> TestResponse {
        let deadline = Date().addingTimeInterval(timeout)
        var parser = HeadParser(kind: .response)
        var headLength = 0
        var parsedHead: ResponseHead?
        // Parse the head from what has arrived, waiting for more as needed.
        while parsedHead == nil {
            let (bytes, closed) = inbox.withLock { ($0.bytes, $0.closed) }
            if bytes.count > headLength {
                let slice = Array(bytes[headLength...])
                switch slice.withUnsafeBytes({ parser.parse($0) }) {
                case .needMore(let consumed):
                    headLength += consumed
                case .response(let head, let consumed):
                    headLength += consumed
                    parsedHead = head
                    continue
                case .request:
                    throw TestClientError.malformed("a request")
                case .failure(let error):
                    throw TestClientError.malformed("\(error): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                }
            }
            if closed { throw TestClientError.closed("a response head", received: bytes) }
            guard inbox.wait(until: deadline, { $0.bytes.count > bytes.count || $0.closed }) else {
                throw TestClientError.timedOut("a response head", received: bytes)
            }
        }
        let head = parsedHead!
        let framing: BodyFraming = head.status == 101 ? .none : head.framing(requestMethod: Array(method.utf8))
        var framer = BodyFramer(framing)
        var bodyLength = 0
        while true {
            let (bytes, closed) = inbox.withLock { ($0.bytes, $0.closed) }
            let available = Array(bytes[(headLength + bodyLength)...])
            let progress = try available.withUnsafeBytes { try framer.consume($0) }
            bodyLength += progress.consumed
            if progress.isComplete { break }
            if closed {
                if case .untilClose = framing { break }
                throw TestClientError.closed("the end of a response body", received: bytes)
            }
            let seen = bytes.count
            guard inbox.wait(until: deadline, { $0.bytes.count > seen || $0.closed }) else {
                throw TestClientError.timedOut("a response body", received: bytes)
            }
        }
        let taken: [UInt8] = inbox.withLock { state in
            let message = Array(state.bytes[0..<(headLength + bodyLength)])
            state.bytes.removeFirst(headLength + bodyLength)
            return message
        }
        let fields = head.headers.map {
            (name: String(decoding: $0.name, as: UTF8.self), value: String(decoding: $0.value, as: UTF8.self))
        }
        return TestResponse(
            head: Array(taken[0..<headLength]), status: head.status, fields: fields, body: Array(taken[headLength...])
        )
    }

    /// Reads exactly `count` bytes.
    func readBytes(_ count: Int, timeout: TimeInterval = 5) throws -> [UInt8] {
        guard inbox.wait(timeout: timeout, { $0.bytes.count >= count || $0.closed }) else {
            throw TestClientError.timedOut("\(count) bytes", received: inbox.withLock { $0.bytes })
        }
        return try inbox.withLock { state in
            guard state.bytes.count >= count else { throw TestClientError.closed("\(count) bytes", received: state.bytes) }
            let taken = Array(state.bytes[0..<count])
            state.bytes.removeFirst(count)
            return taken
        }
    }

    /// Whether the peer closes the connection within `timeout`.
    func waitForClose(timeout: TimeInterval = 5) -> Bool {
        inbox.wait(timeout: timeout) { $0.closed }
    }

    /// Everything received and not yet read.
    var unread: [UInt8] { inbox.withLock { $0.bytes } }
    var isClosed: Bool { inbox.withLock { $0.closed } }
}

/// Bytes and events from the network, shared with the waiting test thread.
final class Inbox: @unchecked Sendable {
    struct State {
        var bytes: [UInt8] = []
        var closed = false
        var handshakeDone = false
        var error: Error?
    }

    private let condition = NSCondition()
    private var state = State()

    func withLock<T>(_ body: (inout State) throws -> T) rethrows -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&state)
    }

    func wait(timeout: TimeInterval, _ predicate: (State) -> Bool) -> Bool {
        wait(until: Date().addingTimeInterval(timeout), predicate)
    }

    func wait(until deadline: Date, _ predicate: (State) -> Bool) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state) {
            if !condition.wait(until: deadline) { return predicate(state) }
        }
        return true
    }
}

private final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox

    init(inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        inbox.withLock { $0.bytes.append(contentsOf: bytes) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            inbox.withLock { $0.handshakeDone = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.withLock { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        inbox.withLock { state in
            if state.error == nil { state.error = error }
        }
        context.close(promise: nil)
    }
}

/// Runs curl against a TLS listener, resolving `name` to 127.0.0.1 and trusting only the
/// CA in `caFile`. Returns curl's exit status and standard output.
func runCurl(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    try runProgram("/usr/bin/curl", ["--silent", "--show-error", "--http1.1", "--max-time", "10"] + arguments)
}

/// Runs a client program (curl, nghttp) to completion; `input` names a file for its stdin.
func runProgram(_ path: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let input { process.standardInput = FileHandle(forReadingAtPath: input) }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
}
