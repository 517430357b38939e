import AdminServer
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Proxy
import XCTest

/// A remote client must not be able to crash edgesplit by pipelining: one connection sends
/// 100,000 requests in one write that edgesplit answers itself (404, 403, 429), over TLS and
/// plain HTTP, behind a forwarded request and as HTTP/2 streams, and 10,000 forwarded ones.
/// Every response must come back, in order, and the proxy (this process) must stay up and
/// keep serving. A recursion per locally answered request used to end the process with a
/// stack overflow at a few thousand.
final class PipelineFloodTests: ProxyTestCase {
    static let floodCount = 100_000
    static let forwardedCount = 10_000
    /// Bounds every flood: a hang fails the test instead of blocking the run.
    static let floodTimeout: TimeInterval = 180
    /// HTTP/2 streams cost far more than pipelined requests in a debug build (about 1,000 a
    /// second on 2 busy cores).
    static let http2Timeout: TimeInterval = 420

    /// Short heads, so that one read holds as many requests as possible.
    static let unknownHost = "G / HTTP/1.1\r\nHost:a\r\n\r\n"  // no rule: 404
    static let deniedHost = "G / HTTP/1.1\r\nHost:d\r\n\r\n"  // deny rule: 403

    // MARK: Configuration

    /// One TLS listener; `d` and `admin.contoso.test` denied; the public name forwarded to `backend`.
    private func tlsYAML(_ backend: RecordingBackend, top: String = "") -> String {
        """
        listeners:
          - { name: https, address: 127.0.0.1, port: 1, tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }] } }
        farms:
          - { name: pool, members: ["\(backend.member)"], persistence: none }
        rules:
          - { name: denied, public_names: [d, admin.contoso.test], action: deny }
          - { name: web, public_names: [\(Self.publicName)], farm: pool }
        \(top)
        """
    }

    private func startTLSProxy(_ backend: RecordingBackend, top: String = "") throws -> ProxyHarness {
        try startProxy(tlsYAML(backend, top: top), files: TestPKI.files(["webext": TestPKI.webext]))
    }

    /// A client TLS context offering no ALPN at all (edgesplit then speaks HTTP/1.1).
    private static func noALPNContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: TestPKI.publicCA.root.certificatePEMBytes, format: .pem)])
        return try NIOSSLContext(configuration: configuration)
    }

    // MARK: Helpers

    private func repeated(_ request: String, _ count: Int) -> [UInt8] {
        let one = Array(request.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(one.count * count)
        for _ in 0..<count { bytes.append(contentsOf: one) }
        return bytes
    }

    private func floodClient(
        _ port: Int, tls: NIOSSLContext? = nil, from source: String? = nil,
        status: @escaping @Sendable (Int) -> Int, body: (@Sendable (Int) -> [UInt8]?)? = nil
    ) throws -> FloodClient {
        let client = try FloodClient(
            port: port, tls: tls, serverName: tls == nil ? nil : Self.publicName, source: source,
            expectedStatus: status, expectedBody: body
        )
        addTeardownBlock { client.close() }
        return client
    }

    /// Sends `bytes` in one write and waits for `count` responses; every one must have the
    /// status (and body) the client expects at its index, and the counts per status must be
    /// `statuses`.
    private func flood(
        _ client: FloodClient, _ bytes: [UInt8], count: Int, statuses: [Int: Int],
        name: String = #function, file: StaticString = #filePath, line: UInt = #line
    ) {
        let start = Date()
        client.send(bytes)
        let result = client.waitForResponses(count, timeout: Self.floodTimeout)
        let seconds = Date().timeIntervalSince(start)
        print("[flood] \(name): \(result.responses) of \(count) responses (\(bytes.count) request bytes) in \(String(format: "%.2f", seconds)) s")
        XCTAssertEqual(result.responses, count, "responses received; \(result.describe)", file: file, line: line)
        XCTAssertNil(result.mismatch, "every response has the expected status and body at its place", file: file, line: line)
        XCTAssertEqual(result.statuses, statuses, "responses by status", file: file, line: line)
        XCTAssertNil(result.writeError, "the whole write was taken", file: file, line: line)
        XCTAssertTrue(result.writeDone, "the whole write was taken", file: file, line: line)
    }

    /// The proxy still serves a fresh normal request (forwarded to the member: 200 "ok").
    private func assertServesFreshRequest(
        _ proxy: ProxyHarness, tls: Bool, from source: String? = nil, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let client: TestClient
        if tls {
            client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: Self.publicName, from: source)
        } else if let source {
            client = try connect(proxy.port, from: source)
        } else {
            client = try connect(proxy.port)
        }
        try client.send(get("/fresh"))
        let response = try client.readResponse(timeout: 10)
        XCTAssertEqual(response.status, 200, response.headText, file: file, line: line)
        XCTAssertEqual(response.bodyText, "ok", file: file, line: line)
    }

    private func ruleTraffic(_ proxy: ProxyHarness) throws -> [String: TrafficCounters] {
        var byName: [String: TrafficCounters] = [:]
        for (name, traffic) in try proxy.server.stats().wait().rules { byName[name, default: TrafficCounters()].add(traffic) }
        return byName
    }

    // MARK: HTTP/1.1 over TLS, answered locally

    func testTLS100000PipelinedRequestsForAnUnpublishedNameAll404InOrder() throws {
        let backend = try startBackend()
        let proxy = try startTLSProxy(backend)
        let client = try floodClient(proxy.port, tls: try TestPKI.clientContext(trusting: TestPKI.publicCA), status: { _ in 404 })
        flood(client, repeated(Self.unknownHost, Self.floodCount), count: Self.floodCount, statuses: [404: Self.floodCount])
        try assertServesFreshRequest(proxy, tls: true)
        XCTAssertEqual(backend.requests.count, 1, "only the fresh request reached the member")
    }

    func testTLS100000PipelinedDeniedRequestsAll403InOrder() throws {
        let backend = try startBackend()
        let proxy = try startTLSProxy(backend)
        let client = try floodClient(proxy.port, tls: try TestPKI.clientContext(trusting: TestPKI.publicCA), status: { _ in 403 })
        flood(client, repeated(Self.deniedHost, Self.floodCount), count: Self.floodCount, statuses: [403: Self.floodCount])
        try assertServesFreshRequest(proxy, tls: true)
        XCTAssertEqual(backend.requests.count, 1, "only the fresh request reached the member")
    }

    /// `requests_per_minute: 10`: the first ten are forwarded (200), the other 99,990 get 429.
    func testTLS100000PipelinedRequestsOverTheSourceLimitAll429AfterTheFirstTen() throws {
        let backend = try startBackend()
        let proxy = try startTLSProxy(backend, top: "limits: { requests_per_minute: 10 }")
        let allowed = 10
        let client = try floodClient(
            proxy.port, tls: try TestPKI.clientContext(trusting: TestPKI.publicCA), from: "127.0.0.2",
            status: { $0 < allowed ? 200 : 429 }, body: { $0 < allowed ? Array("ok".utf8) : nil }
        )
        let request = "GET / HTTP/1.1\r\nHost: \(Self.publicName)\r\n\r\n"
        flood(client, repeated(request, Self.floodCount), count: Self.floodCount, statuses: [200: allowed, 429: Self.floodCount - allowed])
        XCTAssertEqual(backend.requests.count, allowed, "refused requests never reach the member")
        // Another source is not limited.
        try assertServesFreshRequest(proxy, tls: true, from: "127.0.0.3")
    }

    /// No ALPN offered; 404s and 403s alternate in a pattern, so a lost, doubled or
    /// reordered response shows at its index.
    func testTLSWithoutALPN100000PipelinedMixed404And403InOrder() throws {
        let backend = try startBackend()
        let proxy = try startTLSProxy(backend)
        let pattern: @Sendable (Int) -> Int = { ($0 % 7 == 3 || $0 % 11 == 5) ? 403 : 404 }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.floodCount * Self.unknownHost.utf8.count)
        let unknown = Array(Self.unknownHost.utf8)
        let denied = Array(Self.deniedHost.utf8)
        var expected: [Int: Int] = [:]
        for index in 0..<Self.floodCount {
            let status = pattern(index)
            expected[status, default: 0] += 1
            bytes.append(contentsOf: status == 403 ? denied : unknown)
        }
        let client = try floodClient(proxy.port, tls: try Self.noALPNContext(), status: pattern)
        flood(client, bytes, count: Self.floodCount, statuses: expected)
        try assertServesFreshRequest(proxy, tls: true)
    }

    // MARK: Plain HTTP: one forwarded request, then local answers

    func testPlainForwardedRequestThen100000Pipelined404sInOneWrite() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try floodClient(
            proxy.port, status: { $0 == 0 ? 200 : 404 }, body: { $0 == 0 ? Array("ok".utf8) : nil }
        )
        var bytes = Array(get("/first").utf8)
        bytes += repeated(Self.unknownHost, Self.floodCount)
        flood(client, bytes, count: Self.floodCount + 1, statuses: [200: 1, 404: Self.floodCount])
        XCTAssertEqual(backend.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/first"])
        try assertServesFreshRequest(proxy, tls: false)
    }

    // MARK: HTTP/2: many concurrent streams answered locally

    /// h2load over TLS (ALPN h2): 100,000 streams on 4 connections, 25 open at once on each
    /// (100 in all). More per connection is slower still in a debug build: swift-nio-http2
    /// scans its stream map linearly below 200 open streams.
    private func h2loadFlood(path: String, authority: String) throws -> (proxy: ProxyHarness, backend: RecordingBackend) {
        let backend = try startBackend()
        let proxy = try startTLSProxy(backend)
        let start = Date()
        let result = try runBounded("/usr/bin/h2load", [
            "-n", "\(Self.floodCount)", "-c", "4", "-m", "25", "-t", "1",
            "-H", ":authority: \(authority)",
            "https://127.0.0.1:\(proxy.port)\(path)",
        ], timeout: Self.http2Timeout)
        print("[flood] h2load \(authority)\(path): \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(result.status, 0, result.output)
        let requests = numbers(after: "requests:", in: result.output)
        let codes = numbers(after: "status codes:", in: result.output)
        // requests: N total, N started, N done, 0 succeeded, N failed, 0 errored, 0 timeout
        // (h2load counts a 4xx as "failed"; "errored" and "timeout" are streams without one).
        XCTAssertEqual(requests.count, 7, result.output)
        XCTAssertEqual(Array(requests.prefix(3)), [Self.floodCount, Self.floodCount, Self.floodCount], result.output)
        XCTAssertEqual(requests.count == 7 ? requests[3] + requests[4] : -1, Self.floodCount, result.output)
        XCTAssertEqual(Array(requests.suffix(2)), [0, 0], "none errored or timed out: \(result.output)")
        // status codes: 0 2xx, 0 3xx, N 4xx, 0 5xx
        XCTAssertEqual(codes, [0, 0, Self.floodCount, 0], result.output)
        return (proxy, backend)
    }

    func testHTTP2100000StreamsForAnUnpublishedNameAll404() throws {
        let (proxy, backend) = try h2loadFlood(path: "/", authority: "nobody.contoso.test")
        let traffic = try ruleTraffic(proxy)
        XCTAssertEqual(traffic["(no rule)"]?.statusClasses[3], UInt64(Self.floodCount), "all counted as 4xx of no rule")
        XCTAssertEqual(traffic["(no rule)"]?.requests, UInt64(Self.floodCount))
        XCTAssertEqual(backend.requests.count, 0)
        try assertServesFreshRequest(proxy, tls: true)
    }

    func testHTTP2100000DeniedStreamsAll403() throws {
        let (proxy, backend) = try h2loadFlood(path: "/admin/x", authority: "admin.contoso.test")
        let traffic = try ruleTraffic(proxy)
        XCTAssertEqual(traffic["denied"]?.statusClasses[3], UInt64(Self.floodCount), "all counted as 4xx of the deny rule")
        XCTAssertEqual(traffic["denied"]?.requests, UInt64(Self.floodCount))
        XCTAssertEqual(backend.requests.count, 0)
        try assertServesFreshRequest(proxy, tls: true)
    }

    // MARK: Forwarded

    /// The member answers each request with its target, so the client sees the order.
    private func echoTargetBackend() throws -> RecordingBackend {
        try startBackend { request in .send(RecordingBackend.ok(String(decoding: request.target, as: UTF8.self))) }
    }

    private func forwardedFlood(_ backend: RecordingBackend, client: FloodClient, name: String = #function) {
        var text = ""
        text.reserveCapacity(Self.forwardedCount * 60)
        for index in 0..<Self.forwardedCount { text += "GET /\(index) HTTP/1.1\r\nHost: \(Self.publicName)\r\n\r\n" }
        flood(client, Array(text.utf8), count: Self.forwardedCount, statuses: [200: Self.forwardedCount], name: name)
        let targets = backend.requests.map { String(decoding: $0.target, as: UTF8.self) }
        XCTAssertEqual(targets.count, Self.forwardedCount, "the member received every request")
        XCTAssertEqual(targets, (0..<Self.forwardedCount).map { "/\($0)" }, "in order")
        XCTAssertEqual(backend.parseErrors, [])
    }

    func testPlain10000PipelinedForwardedRequestsInOrder() throws {
        let backend = try echoTargetBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try floodClient(proxy.port, status: { _ in 200 }, body: { Array("/\($0)".utf8) })
        forwardedFlood(backend, client: client)
        let fresh = try connect(proxy.port)
        try fresh.send(get("/fresh"))
        XCTAssertEqual(try fresh.readResponse(timeout: 10).bodyText, "/fresh")
    }

    func testTLS10000PipelinedForwardedRequestsInOrder() throws {
        let backend = try echoTargetBackend()
        let proxy = try startTLSProxy(backend)
        let client = try floodClient(
            proxy.port, tls: try TestPKI.clientContext(trusting: TestPKI.publicCA),
            status: { _ in 200 }, body: { Array("/\($0)".utf8) }
        )
        forwardedFlood(backend, client: client)
        let fresh = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: Self.publicName)
        try fresh.send(get("/fresh"))
        XCTAssertEqual(try fresh.readResponse(timeout: 10).bodyText, "/fresh")
    }
}

// MARK: - Support

/// The integers in the line of `text` that starts with `prefix` (after leading blanks).
private func numbers(after prefix: String, in text: String) -> [Int] {
    guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) }) else {
        return []
    }
    // "N total, N started, …" or "0 2xx, 0 3xx, N 4xx, 0 5xx": the first integer of each item.
    return line.drop(while: { $0 == " " }).dropFirst(prefix.count).split(separator: ",").compactMap { item in
        item.split(separator: " ").first.flatMap { Int($0) }
    }
}

/// Runs a program with its output in a temporary file; killed after `timeout`.
private func runBounded(_ path: String, _ arguments: [String], timeout: TimeInterval) throws -> (status: Int32, output: String) {
    let outputPath = NSTemporaryDirectory() + "edgesplit-flood-\(UUID().uuidString).out"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let output = try XCTUnwrap(FileHandle(forWritingAtPath: outputPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    var timedOut = false
    if process.isRunning {
        timedOut = true
        process.terminate()
        usleep(200_000)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    try? output.close()
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (timedOut ? -1 : process.terminationStatus, timedOut ? "timed out after \(timeout) s\n" + text : text)
}

/// What a flood client has seen so far, shared between its event loop and the test thread.
final class FloodProgress: @unchecked Sendable {
    struct Snapshot {
        var responses = 0
        var statuses: [Int: Int] = [:]
        /// The first response that was not what its index expects, or unparsable bytes.
        var mismatch: String?
        var closed = false
        var error: Error?
        var handshakeDone = false
        var writeDone = false
        var writeError: Error?

        var describe: String {
            "statuses \(statuses), mismatch \(mismatch ?? "none"), closed \(closed), error \(error.map { "\($0)" } ?? "none"), "
                + "write \(writeDone ? "done" : "not done")\(writeError.map { " (\($0))" } ?? "")"
        }
    }

    private let condition = NSCondition()
    private var state = Snapshot()

    func update(_ body: (inout Snapshot) -> Void) {
        condition.lock()
        body(&state)
        condition.broadcast()
        condition.unlock()
    }

    func wait(until deadline: Date, _ predicate: (Snapshot) -> Bool) -> Snapshot {
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state), condition.wait(until: deadline) {}
        return state
    }
}

/// A client connection that sends a flood in one write and counts the responses as they
/// stream in, without copying them: each response head is found with `memmem`, its status
/// and `Content-Length` read in place, and its body skipped (or compared).
final class FloodClient {
    let channel: Channel
    let progress = FloodProgress()

    init(
        port: Int, tls: NIOSSLContext?, serverName: String?, source: String?,
        expectedStatus: @escaping @Sendable (Int) -> Int, expectedBody: (@Sendable (Int) -> [UInt8]?)?
    ) throws {
        let progress = self.progress
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        channel = try bootstrap
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ResponseCounter(progress: progress, expectedStatus: expectedStatus, expectedBody: expectedBody)
                    )
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .wait()
        if tls != nil {
            let state = progress.wait(until: Date().addingTimeInterval(10)) { $0.handshakeDone || $0.closed || $0.error != nil }
            guard state.handshakeDone else {
                close()
                throw TestClientError.closed("the TLS handshake (\(state.describe))", received: [])
            }
        }
    }

    /// One write of all of `bytes`; its completion is recorded in `progress`.
    func send(_ bytes: [UInt8]) {
        let progress = self.progress
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).whenComplete { result in
            progress.update { state in
                state.writeDone = true
                if case .failure(let error) = result { state.writeError = error }
            }
        }
    }

    /// Waits until `count` responses arrived, something went wrong, or `timeout` passed.
    func waitForResponses(_ count: Int, timeout: TimeInterval) -> FloodProgress.Snapshot {
        progress.wait(until: Date().addingTimeInterval(timeout)) {
            ($0.responses >= count && $0.writeDone) || $0.mismatch != nil || $0.closed || $0.error != nil
        }
    }

    func close() { channel.close(promise: nil) }
}

/// Counts responses on the client's event loop; publishes progress once per read.
private final class ResponseCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let progress: FloodProgress
    let expectedStatus: @Sendable (Int) -> Int
    let expectedBody: (@Sendable (Int) -> [UInt8]?)?
    private var buffer: ByteBuffer?
    private var responses = 0
    private var statuses: [Int: Int] = [:]
    private var mismatch: String?
    private var broken = false

    init(progress: FloodProgress, expectedStatus: @escaping @Sendable (Int) -> Int, expectedBody: (@Sendable (Int) -> [UInt8]?)?) {
        self.progress = progress
        self.expectedStatus = expectedStatus
        self.expectedBody = expectedBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !broken else { return }
        if var current = buffer, current.readableBytes > 0 {
            buffer = nil  // keeps `current` unique while it grows
            current.writeBuffer(&incoming)
            buffer = current
        } else {
            buffer = incoming
        }
        let before = responses
        parse()
        if responses != before || broken {
            let (responses, statuses, mismatch) = (self.responses, self.statuses, self.mismatch)
            progress.update { state in
                state.responses = responses
                state.statuses = statuses
                state.mismatch = mismatch
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            progress.update { $0.handshakeDone = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        progress.update { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        progress.update { state in
            if state.error == nil { state.error = error }
        }
        context.close(promise: nil)
    }

    private func fail(_ reason: String) {
        broken = true
        if mismatch == nil { mismatch = reason }
    }

    /// Where the first CRLF CRLF in `count` bytes at `base` starts (memchr for each CR).
    private static func headEnd(_ base: UnsafeRawPointer, count: Int) -> Int? {
        var offset = 0
        while offset + 4 <= count, let cr = memchr(base + offset, 0x0D, count - offset - 3) {
            let at = UnsafeRawPointer(cr) - base
            if base.load(fromByteOffset: at + 1, as: UInt8.self) == 0x0A,
                base.load(fromByteOffset: at + 2, as: UInt8.self) == 0x0D,
                base.load(fromByteOffset: at + 3, as: UInt8.self) == 0x0A
            {
                return at
            }
            offset = at + 1
        }
        return nil
    }

    private static let statusPrefix: [UInt8] = Array("HTTP/1.1 ".utf8)
    private static let contentLength: [CChar] = Array("content-length:".utf8CString)
    private static let transferEncoding: [CChar] = Array("transfer-encoding:".utf8CString)

    private func parse() {
        guard var bytes = buffer else { return }
        buffer = nil
        let consumed = bytes.withUnsafeReadableBytes { raw -> Int in
            guard let start = raw.baseAddress else { return 0 }
            var offset = 0
            while !broken {
                let rest = raw.count - offset
                if rest < Self.statusPrefix.count + 4 { break }
                let base = start + offset
                guard let headEnd = Self.headEnd(base, count: rest) else {
                    if rest > 64 * 1024 { fail("no end of a response head within 64 KiB at response \(responses)") }
                    break
                }
                let headLength = headEnd + 4
                let head = UnsafeRawBufferPointer(start: base, count: headLength)
                guard let status = Self.status(head) else {
                    fail("response \(responses): bad status line: \(Self.text(head))")
                    break
                }
                guard let length = Self.bodyLength(head, status: status) else {
                    fail("response \(responses): no Content-Length: \(Self.text(head))")
                    break
                }
                guard rest >= headLength + length else { break }
                let index = responses
                let wanted = expectedStatus(index)
                if status != wanted {
                    fail("response \(index): status \(status), expected \(wanted): \(Self.text(head))")
                } else if let expectedBody, let body = expectedBody(index) {
                    let got = UnsafeRawBufferPointer(start: base + headLength, count: length)
                    if !got.elementsEqual(body) {
                        fail("response \(index): body \(Self.text(got).debugDescription), expected \(String(decoding: body, as: UTF8.self).debugDescription)")
                    }
                }
                statuses[status, default: 0] += 1
                responses += 1
                offset += headLength + length
            }
            return offset
        }
        bytes.moveReaderIndex(forwardBy: consumed)
        if bytes.readableBytes > 0 {
            if bytes.readerIndex > 1 << 20 { bytes.discardReadBytes() }
            buffer = bytes
        }
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix(300), as: UTF8.self)
    }

    /// `HTTP/1.1 NNN ` at the start of `head`.
    private static func status(_ head: UnsafeRawBufferPointer) -> Int? {
        guard head.count > 13, statusPrefix.withUnsafeBytes({ memcmp(head.baseAddress!, $0.baseAddress!, $0.count) }) == 0 else { return nil }
        var value = 0
        for i in 9..<12 {
            let digit = Int(head[i]) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        return head[12] == 0x20 || head[12] == 0x0D ? value : nil
    }

    /// The body length the head declares (Content-Length; none for 1xx, 204, 304), nil when
    /// the head does not frame its body with a length.
    private static func bodyLength(_ head: UnsafeRawBufferPointer, status: Int) -> Int? {
        if status < 200 || status == 204 || status == 304 { return 0 }
        guard let start = head.baseAddress else { return nil }
        var lineStart = 0
        var length: Int?
        while let newline = memchr(start + lineStart, 0x0A, head.count - lineStart) {
            lineStart = UnsafeRawPointer(newline) - start + 1
            guard lineStart < head.count - 2 else { break }
            let first = head[lineStart] | 0x20
            let line = (start + lineStart).assumingMemoryBound(to: CChar.self)
            if first == 0x63, head.count - lineStart > 15, strncasecmp(line, contentLength, 15) == 0 {
                var i = lineStart + 15
                while head[i] == 0x20 || head[i] == 0x09 { i += 1 }
                var value = 0
                var digits = 0
                while (0x30...0x39).contains(head[i]) {
                    value = value * 10 + Int(head[i] - 0x30)
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                length = value
            } else if first == 0x74, head.count - lineStart > 18, strncasecmp(line, transferEncoding, 18) == 0 {
                return nil
            }
        }
        return length
    }
}
