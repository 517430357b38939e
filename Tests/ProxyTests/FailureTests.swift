import Foundation
import XCTest

/// Members that are down, slow or broken, and clients that are slow: each is answered with
/// the right status in bounded time and costs nothing beyond its own connection.
final class FailureTests: ProxyTestCase {
    func testSlowlorisHeadIsCutAfterRequestHeadTimeout() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], top: "timeouts: { request_head: 1s }"))
        let client = try connect(proxy.port)
        let start = Date()
        let head = Array("GET / HTTP/1.1\r\nHost: webext.contoso.test\r\nX-Slow: ".utf8)
        var sent = 0
        // One byte every 150 ms for as long as it takes: the head keeps moving but never
        // completes. A timer started again by each byte would never fire; the one that runs
        // from the head's first byte does, while the client is still sending. The client stops
        // as soon as the 408 has arrived (so nothing it sends after edgesplit closed turns the
        // close into a reset that loses the answer); 10 s only ends a failing test.
        while client.unread.isEmpty && !client.isClosed && Date().timeIntervalSince(start) < 10 {
            try? client.send([sent < head.count ? head[sent] : UInt8(ascii: "a")])
            sent += 1
            Thread.sleep(forTimeInterval: 0.15)
        }
        XCTAssertFalse(client.unread.isEmpty, "the head was cut while it was still moving")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.9, "not before the timeout")
        XCTAssertTrue(client.waitForClose(timeout: 5), "a trickled head must be cut")
        let answer = String(decoding: client.unread, as: UTF8.self)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 408 "), answer)
        XCTAssertEqual(backend.bytesReceived, 0)
    }

    func testSilentConnectionIsClosedAfterRequestHeadTimeout() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], top: "timeouts: { request_head: 1s }"))
        let client = try connect(proxy.port)
        let start = Date()
        // Closed well before the default 30 s: the configured 1 s applies.
        XCTAssertTrue(client.waitForClose(timeout: 10))
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.9)
    }

    func testMemberDownGives502ThenHeldDownGives503WithRetryAfter() throws {
        let port = try refusingPort()
        let proxy = try startProxy(simpleYAML(members: ["127.0.0.1:\(port)"]))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 502)
        XCTAssertEqual(first.bodyText, "502 Bad Gateway\n")
        XCTAssertFalse(first.headText.contains(String(port)))
        try client.send(get("/again"))
        let second = try client.readResponse()
        XCTAssertEqual(second.status, 503)
        XCTAssertNotNil(second.first("retry-after"))
        XCTAssertEqual(second.bodyText, "503 Service Unavailable\n")
    }

    func testOtherMemberTakesOverWhenOneIsDown() throws {
        let backend = try startBackend { _ in .send(RecordingBackend.ok("alive")) }
        let down = try refusingPort()
        let proxy = try startProxy(simpleYAML(members: ["127.0.0.1:\(down)", backend.member]))
        for _ in 0..<4 {
            XCTAssertEqual(try exchange(proxy.port, get("/")).bodyText, "alive")
        }
    }

    func testMemberThatNeverAnswersGives504() throws {
        let backend = try startBackend { _ in .stall }
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "timeouts: { response: 1s }"))
        let client = try connect(proxy.port)
        let start = Date()
        try client.send(get("/"))
        let response = try client.readResponse(timeout: 5)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(response.status, 504, "within 5 s: the rule's 1 s, not the default 960 s")
        XCTAssertGreaterThan(elapsed, 0.9)
        XCTAssertEqual(backend.requests.count, 1)
        // The client connection survives a gateway timeout; the stalled member connection does not.
        try client.send(get("/again"))
        XCTAssertEqual(try client.readResponse(timeout: 5).status, 504)
        XCTAssertEqual(backend.connectionCount, 2, "the stalled member connection is not reused")
    }

    func testMemberClosingMidResponseAbortsClient() throws {
        let backend = try startBackend { _ in
            .sendAndClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part".utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        XCTAssertThrowsError(try client.readResponse())
        XCTAssertTrue(client.waitForClose(timeout: 2), "a truncated response must not look complete")
    }

    func testMemberClosingWithoutAnswerGives502() throws {
        let backend = try startBackend { _ in .close }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        XCTAssertEqual(try exchange(proxy.port, get("/")).status, 502)
    }

    func testMalformedMemberResponseGives502() throws {
        let backend = try startBackend { _ in .send(Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx".utf8)) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        XCTAssertEqual(try exchange(proxy.port, get("/")).status, 502)
    }

    /// Garbage on a kept-alive member connection: the member began to answer (badly), so the
    /// request is not sent again, the member is not held down, and the client gets 502.
    func testGarbageOnAReusedMemberConnectionGives502() throws {
        let count = Counter()
        let backend = try startBackend { _ in
            count.next() == 0 ? .send(RecordingBackend.ok("first")) : .send(Array("SSH-2.0-OpenSSH_9.2\r\n".utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/one"))
        XCTAssertEqual(try client.readResponse().status, 200)
        let other = try connect(proxy.port)
        try other.send(get("/two"))
        let second = try other.readResponse()
        XCTAssertEqual(second.status, 502)
        XCTAssertEqual(backend.connectionCount, 1, "the request went to the pooled connection only, once")
        XCTAssertEqual(backend.requests.count, 2)
    }

    /// A kept-alive member connection that closes as it is reused: a GET is sent again on a
    /// fresh connection (the member cannot have acted on it), a POST never is, even without a
    /// body — the member may have run it before closing.
    func testOnlyIdempotentRequestsAreSentAgainAfterAReusedConnectionCloses() throws {
        for (method, expected, requests) in [("GET", 200, 3), ("POST", 502, 2)] {
            let count = Counter()
            let backend = try startBackend { _ in count.next() == 1 ? .close : .send(RecordingBackend.ok("ok")) }
            let proxy = try startProxy(simpleYAML(members: [backend.member]))
            XCTAssertEqual(try exchange(proxy.port, get("/first")).status, 200)
            let second = try exchange(proxy.port, "\(method) /second HTTP/1.1\r\nHost: \(Self.publicName)\r\n\r\n")
            XCTAssertEqual(second.status, expected, method)
            XCTAssertEqual(backend.requests.count, requests, "\(method): requests the member received")
        }
    }

    func testOversizedMemberResponseHeadGives502() throws {
        let backend = try startBackend { _ in
            .send(RecordingBackend.ok("x", headers: ["X-Huge: " + String(repeating: "h", count: 70 * 1024)]))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        XCTAssertEqual(try exchange(proxy.port, get("/")).status, 502)
    }

    func testStalledUploadIsCutAfterIdleTimeout() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "timeouts: { idle: 1s }"))
        let client = try connect(proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 100\r\n\r\n0123456789")
        // Closed well before the default 30 minutes: the rule's 1 s applies.
        XCTAssertTrue(client.waitForClose(timeout: 10))
        XCTAssertEqual(backend.requests.count, 0)
    }

    func testIdleKeptAliveClientIsClosedAfterIdleTimeout() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "timeouts: { idle: 1s }"))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().status, 200)
        let start = Date()
        XCTAssertTrue(client.waitForClose(timeout: 10), "the rule's 1 s, not the default 30 minutes")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.8)
    }

    func testMemberThatDoesNotAcceptGives504AfterConnectTimeout() throws {
        let blackhole = try BlackholeListener()
        let proxy = try startProxy(simpleYAML(members: ["127.0.0.1:\(blackhole.port)"], rule: "timeouts: { connect: 500ms }"))
        let start = Date()
        let response = try exchange(proxy.port, get("/"))
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(response.status, 504)
        XCTAssertGreaterThan(elapsed, 0.4)
        XCTAssertLessThan(elapsed, 4.5, "the rule's 500 ms, not the default 5 s")
        withExtendedLifetime(blackhole) {}
    }
}

/// A thread-safe count of calls, for backends that answer differently each time.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}
