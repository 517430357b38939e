import XCTest

/// A WebSocket upgrade (UCWA, Meet) is forwarded as one: the member's 101 reaches the client
/// and from then on bytes tunnel both ways untouched.
final class WebSocketTests: ProxyTestCase {
    static let switching = Array((
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    ).utf8)

    func testUpgradeTunnelsBytesBothWays() throws {
        // The member greets with a frame right behind its 101, then echoes.
        let hello: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        let backend = try startBackend { request in
            request.values("upgrade") == ["websocket"] ? .switchToEcho(Self.switching + hello) : .send(RecordingBackend.ok("no"))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/ucwa/v1/ws", headers: [
            "Connection: keep-alive, Upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ]))
        let response = try client.readResponse(skipInterim: false)
        XCTAssertEqual(response.status, 101)
        XCTAssertEqual(response.values("upgrade"), ["websocket"])
        XCTAssertEqual(response.values("connection"), ["Upgrade"])
        XCTAssertEqual(response.values("sec-websocket-accept"), ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        XCTAssertEqual(try client.readBytes(hello.count), hello)

        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(request.values("upgrade"), ["websocket"])
        XCTAssertEqual(request.values("connection"), ["Upgrade"])
        XCTAssertEqual(request.values("sec-websocket-key"), ["dGhlIHNhbXBsZSBub25jZQ=="])

        // Arbitrary bytes, including ones that look like HTTP, pass both ways unchanged.
        let messages: [[UInt8]] = [
            [0x82, 0x05, 0x00, 0xFF, 0x0D, 0x0A, 0x00],
            Array("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
            (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
        ]
        for message in messages {
            try client.send(message)
            XCTAssertEqual(try client.readBytes(message.count, timeout: 10) == message, true)
        }
        XCTAssertEqual(backend.requests.count, 1, "bytes after the upgrade are not parsed as requests")
    }

    func testMemberClosingTunnelClosesClient() throws {
        let backend = try startBackend { _ in .switchToEcho(Self.switching) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/ws", headers: ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"]))
        XCTAssertEqual(try client.readResponse(skipInterim: false).status, 101)
        backend.stop()
        XCTAssertTrue(client.waitForClose(timeout: 3))
    }

    func testUnrequested101IsRefused() throws {
        // A member switching protocols for a request that did not ask must not get a tunnel.
        let backend = try startBackend { _ in .switchToEcho(Self.switching) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/plain"))
        XCTAssertEqual(try client.readResponse(skipInterim: false).status, 502)
    }
    func testA101ThatDoesNotSwitchToWebSocketGetsNoTunnel() throws {
        // The client asked for a WebSocket, the member answers 101 without switching to one:
        // a tunnel would carry the client's next, pipelined request past the rules.
        let backend = try startBackend { _ in .switchToEcho(Array("HTTP/1.1 101 Switching Protocols\r\n\r\n".utf8)) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/socket", headers: ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]))
        XCTAssertEqual(try client.readResponse(skipInterim: false).status, 502)
        XCTAssertTrue(client.waitForClose(timeout: 3))
    }
}
