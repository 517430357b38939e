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
}
