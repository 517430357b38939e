import Forwarding
import NIOCore
import NIOEmbedded
import Publishing
import XCTest

@testable import HTTP1Serving

/// `ClientHandler` on an `EmbeddedChannel`: the handler's loop, without sockets. Requests that
/// edgesplit answers itself need no member, so the loop's bound, its order and its timers are
/// seen exactly, turn by turn of the event loop. (Timeouts are tested end to end: the handler
/// reads the real clock, which an embedded loop's virtual time does not follow.)
final class ClientHandlerEmbeddedTests: XCTestCase {
    private var loop: EmbeddedEventLoop!
    private var channel: EmbeddedChannel!
    private var worker: Worker!

    override func setUpWithError() throws {
        let yaml = """
            listeners:
              - { name: http, address: 127.0.0.1, port: 8080 }
            farms:
              - { name: pool, members: ["127.0.0.1:9"], persistence: none }
            rules:
              - { name: admin, public_names: [webext.contoso.test], paths: ["/admin/*"], action: deny }
              - { name: web, public_names: [webext.contoso.test], farm: pool, max_body: 10 }
            """
        let result = ConfigLoader.load(yaml: yaml, file: "embedded.yaml")
        let config = try XCTUnwrap(result.config, "\(result.diagnostics)")
        let runtime = try RuntimeConfiguration(config: config, readFile: { _ in [] })
        loop = EmbeddedEventLoop()
        worker = Worker(index: 0, eventLoop: loop, runtime: runtime, accessLog: nil, sourceCounts: SourceCounts(),
            connectionLoad: ConnectionLoad(worker: 0))
        channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(ClientHandler(worker: worker, listenerIndex: 0, isTLS: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    }

    override func tearDownWithError() throws {
        _ = try? channel.finish()
        worker.stop()
        try loop.syncShutdownGracefully()
    }

    private func send(_ text: String) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
    }

    /// Every response written so far, as status codes in order.
    private func statuses() throws -> [Int] {
        var out = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            out += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return out.components(separatedBy: "HTTP/1.1 ").dropFirst().map { Int($0.prefix(3)) ?? 0 }
    }

    func testPipelinedLocalAnswersAreTakenAFewPerTurnInOrder() throws {
        let requests = 100
        var text = ""
        for i in 0..<requests {
            text += i % 2 == 0 ? "GET / HTTP/1.1\r\nHost: unknown\r\n\r\n" : "GET /admin/x HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n"
        }
        try send(text)
        // One read takes at most `maxRequestsPerCycle` requests; the rest wait for a later turn.
        var answered = try statuses()
        XCTAssertEqual(answered.count, ClientHandler.maxRequestsPerCycle)
        // The rest are taken by continuations the handler scheduled on the event loop.
        loop.run()
        answered += try statuses()
        XCTAssertEqual(answered, (0..<requests).map { $0 % 2 == 0 ? 404 : 403 })
        XCTAssertTrue(channel.isActive)
        XCTAssertEqual(worker.stats.active, 1)
    }

    func testDeclaredBodyOverMaxBodyIs413AndCloses() throws {
        try send("POST /x HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 11\r\n\r\n")
        XCTAssertEqual(try statuses(), [413])
        XCTAssertFalse(channel.isActive)
    }

    func testMalformedHeadIs400AndCloses() throws {
        try send("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\nGET / HTTP/1.1\r\nHost: unknown\r\n\r\n")
        XCTAssertEqual(try statuses(), [400], "nothing after a bad head is read")
        XCTAssertFalse(channel.isActive)
    }

    func testDrainClosesAnIdleConnectionAndAnswersARequestUnderWayWithClose() throws {
        try send("GET / HTTP/1.1\r\nHost: unknown\r\n\r\n")
        XCTAssertEqual(try statuses(), [404])
        _ = worker.drainConnections(gentle: true)
        try send("GET / HTTP/1.1\r\nHost: unknown\r\n\r\n")
        var buffer = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertTrue(buffer.readString(length: buffer.readableBytes)!.contains("Connection: close"))
        XCTAssertFalse(channel.isActive)
    }
}
