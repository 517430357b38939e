import XCTest

/// NTLM and Negotiate authenticate a connection, not a request: once a member connection
/// has carried such a handshake it belongs to that one client connection, and no other
/// client's request may ever be sent on it (or it would run as the first user).
final class AuthenticationPinningTests: ProxyTestCase {
    /// An IIS-like member: no Authorization → 401 offering NTLM; type 1 → challenge; type 3 → 200.
    private func startNTLMBackend() throws -> RecordingBackend {
        try startBackend { request in
            let authorization = request.values("authorization").first ?? ""
            if authorization.hasPrefix("NTLM TlRMTVNTUAAB") {
                return .send(RecordingBackend.response(status: "401 Unauthorized", headers: ["WWW-Authenticate: NTLM TlRMTVNTUAACAAAA"]))
            }
            if authorization.hasPrefix("NTLM TlRMTVNTUAAD") {
                return .send(RecordingBackend.ok("welcome on \(request.connection)"))
            }
            return .send(RecordingBackend.response(
                status: "401 Unauthorized", headers: ["WWW-Authenticate: Negotiate", "WWW-Authenticate: NTLM"]
            ))
        }
    }

    func testOtherClientNeverUsesConnectionBoundByNTLM() throws {
        let backend = try startNTLMBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let a = try connect(proxy.port)
        try a.send(get("/WebTicket/WebTicketService.svc"))
        let first = try a.readResponse()
        XCTAssertEqual(first.status, 401)
        XCTAssertEqual(first.values("www-authenticate"), ["Negotiate", "NTLM"])
        let connectionOfA = try XCTUnwrap(backend.requests.last?.connection)

        let b = try connect(proxy.port)
        try b.send(get("/WebTicket/WebTicketService.svc"))
        XCTAssertEqual(try b.readResponse().status, 401)
        let connectionOfB = try XCTUnwrap(backend.requests.last?.connection)
        XCTAssertNotEqual(connectionOfB, connectionOfA, "client B's request arrived on client A's NTLM connection")

        try a.send(get("/WebTicket/WebTicketService.svc", headers: ["Authorization: NTLM TlRMTVNTUAABAAAA"]))
        XCTAssertEqual(try a.readResponse().status, 401)
        XCTAssertEqual(backend.requests.last?.connection, connectionOfA)
        try a.send(get("/WebTicket/WebTicketService.svc", headers: ["Authorization: NTLM TlRMTVNTUAADAAAA"]))
        let done = try a.readResponse()
        XCTAssertEqual(done.status, 200)
        XCTAssertEqual(done.bodyText, "welcome on \(connectionOfA)")

        // Still A's after authenticating: B's next request goes elsewhere, A's stays.
        try b.send(get("/x"))
        XCTAssertEqual(try b.readResponse().status, 401)
        XCTAssertNotEqual(backend.requests.last?.connection, connectionOfA)
        try a.send(get("/after"))
        _ = try a.readResponse()
        XCTAssertEqual(backend.requests.last?.connection, connectionOfA)
    }

    func testBoundConnectionIsNotPooledAfterItsClientLeaves() throws {
        let backend = try startNTLMBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let a = try connect(proxy.port)
        try a.send(get("/", headers: ["Authorization: NTLM TlRMTVNTUAABAAAA"]))
        XCTAssertEqual(try a.readResponse().status, 401)
        let connectionOfA = try XCTUnwrap(backend.requests.last?.connection)
        a.close()
        XCTAssertTrue(a.waitForClose(timeout: 2))
        Thread.sleep(forTimeInterval: 0.1)

        let c = try connect(proxy.port)
        try c.send(get("/"))
        XCTAssertEqual(try c.readResponse().status, 401)
        XCTAssertNotEqual(backend.requests.last?.connection, connectionOfA)
    }

    func testNTLMHandshakeWithEmptyPOSTsStaysOnOneConnection() throws {
        let backend = try startNTLMBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        func post(_ authorization: String?) throws -> TestResponse {
            var head = "POST /CertProv/CertProvisioningService.svc HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 0\r\n"
            if let authorization { head += "Authorization: \(authorization)\r\n" }
            try client.send(head + "\r\n")
            return try client.readResponse()
        }
        XCTAssertEqual(try post(nil).status, 401)
        XCTAssertEqual(try post("NTLM TlRMTVNTUAABAAAA").status, 401)
        let done = try post("NTLM TlRMTVNTUAADAAAA")
        XCTAssertEqual(done.status, 200)
        XCTAssertFalse(client.isClosed, "the client connection carrying the NTLM handshake was closed")
        XCTAssertEqual(Set(backend.requests.map(\.connection)).count, 1, "the handshake was split over member connections")
    }

    func testNTLMClientStaysOnItsMemberWhateverTheBalancerPrefers() throws {
        // persistence: none balances by outstanding requests; a client in the middle of an
        // NTLM handshake must still go back to its bound connection, not to a quieter member.
        let x = try startBackend { request in
            if String(decoding: request.target, as: UTF8.self) == "/stall" { return .stall }
            let authorization = request.values("authorization").first ?? ""
            if authorization.hasPrefix("NTLM TlRMTVNTUAAD") { return .send(RecordingBackend.ok("x: welcome")) }
            return .send(RecordingBackend.response(status: "401 Unauthorized", headers: ["WWW-Authenticate: NTLM TlRMTVNTUAACAAAA"]))
        }
        let y = try startBackend { _ in .send(RecordingBackend.response(status: "401 Unauthorized", headers: ["WWW-Authenticate: NTLM"])) }
        let proxy = try startProxy(simpleYAML(members: [x.member, y.member]))
        let a = try connect(proxy.port)
        try a.send(get("/", headers: ["Authorization: NTLM TlRMTVNTUAABAAAA"]))
        XCTAssertEqual(try a.readResponse().status, 401)
        XCTAssertEqual(x.requests.count, 1, "the first leg went to the first member")

        let busy = try connect(proxy.port)
        try busy.send(get("/stall"))
        XCTAssertTrue(x.waitForRequests(2), "another client keeps the first member busy")

        try a.send(get("/", headers: ["Authorization: NTLM TlRMTVNTUAADAAAA"]))
        let done = try a.readResponse()
        XCTAssertEqual(done.bodyText, "x: welcome", "the last NTLM leg left the bound connection")
        XCTAssertEqual(y.requests.count, 0)
        XCTAssertEqual(x.requests.last?.connection, x.requests.first?.connection)
    }
}
