import Foundation
import XCTest

/// Connections are reused on both sides: many requests on one client connection share one
/// member connection, and an idle member connection left in the worker's pool serves the
/// next client connection.
final class KeepAliveTests: ProxyTestCase {
    func testManyRequestsOnOneClientConnectionUseOneMemberConnection() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok(String(decoding: request.target, as: UTF8.self))) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        for index in 0..<5 {
            try client.send(get("/r\(index)"))
            let response = try client.readResponse()
            XCTAssertEqual(response.bodyText, "/r\(index)")
            XCTAssertNil(response.first("connection"))
        }
        XCTAssertEqual(backend.requests.count, 5)
        XCTAssertEqual(Set(backend.requests.map(\.connection)), [1])
        XCTAssertEqual(backend.connectionCount, 1)
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok(String(decoding: request.target, as: UTF8.self))) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/p1") + get("/p2") + get("/p3"))
        XCTAssertEqual(try client.readResponse().bodyText, "/p1")
        XCTAssertEqual(try client.readResponse().bodyText, "/p2")
        XCTAssertEqual(try client.readResponse().bodyText, "/p3")
        XCTAssertEqual(backend.connectionCount, 1)
    }

    func testSequentialClientConnectionsReusePooledMemberConnection() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        for _ in 0..<3 {
            let client = try connect(proxy.port)
            try client.send(get("/"))
            XCTAssertEqual(try client.readResponse().status, 200)
            client.close()
            XCTAssertTrue(client.waitForClose(timeout: 2))
        }
        XCTAssertEqual(backend.requests.count, 3)
        XCTAssertEqual(backend.connectionCount, 1, "the pooled member connection is reused")
    }

    func testMemberClosingKeptAliveConnectionIsNotAnError() throws {
        // The member closes after each answer (Connection: close): the next request opens a
        // new member connection instead of failing.
        let backend = try startBackend { _ in .sendAndClose(RecordingBackend.ok("bye", headers: ["Connection: close"])) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        for _ in 0..<3 {
            try client.send(get("/"))
            let response = try client.readResponse()
            XCTAssertEqual(response.bodyText, "bye")
        }
        XCTAssertEqual(backend.connectionCount, 3)
    }

    func testHTTP10ClientWithoutKeepAliveIsClosedAfterResponse() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/", version: "1.0"))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.first.map { String(decoding: $0.head.prefix(15), as: UTF8.self) }, "GET / HTTP/1.1\r")
    }

    func testStalePooledConnectionIsRetriedForBodilessRequest() throws {
        // The member drops kept-alive connections silently (its keep-alive timer ran out):
        // a GET that meets such a connection goes again on a fresh one, the client sees no error.
        let backend = try startBackend { _ in .sendAndClose(RecordingBackend.ok("fresh")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        for pause in [0, 0.05, 0, 0.05] {
            try client.send(get("/"))
            XCTAssertEqual(try client.readResponse().bodyText, "fresh")
            Thread.sleep(forTimeInterval: pause)
        }
        XCTAssertEqual(backend.requests.count, 4)
    }

    func testHEADAnd204And304HaveNoBody() throws {
        let backend = try startBackend { request in
            switch String(decoding: request.target, as: UTF8.self) {
            case "/head": return .send(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8))
            case "/204": return .send(Array("HTTP/1.1 204 No Content\r\n\r\n".utf8))
            case "/304": return .send(Array("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".utf8))
            default: return .send(RecordingBackend.ok("last"))
            }
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send("HEAD /head HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n")
        let head = try client.readResponse(method: "HEAD")
        XCTAssertEqual(head.first("content-length"), "1000")
        XCTAssertEqual(head.body, [])
        try client.send(get("/204"))
        XCTAssertEqual(try client.readResponse().status, 204)
        try client.send(get("/304"))
        XCTAssertEqual(try client.readResponse().status, 304)
        try client.send(get("/last"))
        XCTAssertEqual(try client.readResponse().bodyText, "last")
        XCTAssertTrue(client.unread.isEmpty)
        XCTAssertEqual(backend.connectionCount, 1)
    }

    func testResponseEndingAtCloseReachesClientThenCloses() throws {
        let backend = try startBackend { _ in .sendAndClose(Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".utf8)) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        let response = try client.readResponse()
        XCTAssertEqual(response.bodyText, "until the end")
        XCTAssertEqual(response.first("connection"), "close")
        XCTAssertTrue(client.waitForClose(timeout: 2))
    }

    func testEmptyBodyPOSTKeepsBothConnections() throws {
        // POST with Content-Length: 0 is how NTLM-negotiating clients send their first legs.
        let backend = try startBackend { request in .send(RecordingBackend.ok("posted \(request.body.count)")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        for _ in 0..<3 {
            try client.send("POST /ucwa/oauth HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.bodyText, "posted 0")
            XCTAssertNil(response.first("connection"), "an empty body is a complete body")
        }
        XCTAssertFalse(client.isClosed)
        XCTAssertEqual(backend.connectionCount, 1)
    }

    func testMemberDroppingKeptAliveConnectionDoesNotHoldItDown() throws {
        // A member that closes a kept-alive connection just as the next request arrives (its
        // keep-alive timer ran out) is up: the exchange may fail, but the member must not be
        // held down, or every client of this worker would get 503 for the hold.
        let seen = ConnectionSet()
        let backend = try startBackend { request in
            seen.insert(request.connection) ? .send(RecordingBackend.ok("first on \(request.connection)")) : .close
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/one"))
        XCTAssertEqual(try client.readResponse().bodyText, "first on 1")
        // A bodiless request meeting the dropped connection goes again on a new one.
        try client.send(get("/two"))
        XCTAssertEqual(try client.readResponse().bodyText, "first on 2")
        // A request with a body cannot be replayed: 502 is fair, a hold-down is not.
        try client.send("POST /three HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 3\r\n\r\nabc")
        XCTAssertEqual(try client.readResponse().status, 502)
        let after = try exchange(proxy.port, get("/four"))
        XCTAssertEqual(after.status, 200, "the member was held down after a kept-alive connection closed")
        XCTAssertEqual(after.bodyText, "first on 3")
    }
}

/// Connection ids seen so far, shared with a backend's reply closure.
final class ConnectionSet: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<Int> = []

    /// Whether `id` is new.
    func insert(_ id: Int) -> Bool { lock.withLock { ids.insert(id).inserted } }
}
