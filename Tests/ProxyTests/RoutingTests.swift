import XCTest

/// Publishing rules decide per request by listener, host and path; refusals (deny, source
/// outside the rule's networks, no rule) are answered by edgesplit itself with short bodies
/// that name no internal server, and never reach a farm member.
final class RoutingTests: ProxyTestCase {
    private var a: RecordingBackend!
    private var b: RecordingBackend!
    private var c: RecordingBackend!
    private var proxy: ProxyHarness!

    override func setUpWithError() throws {
        a = try startBackend { _ in .send(RecordingBackend.ok("from-a")) }
        b = try startBackend { _ in .send(RecordingBackend.ok("from-b")) }
        c = try startBackend { _ in .send(RecordingBackend.ok("from-c")) }
        proxy = try startProxy(
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
              - { name: dialin-listener, address: 127.0.0.1, port: 2 }
            farms:
              - { name: fa, members: ["\(a.member)"] }
              - { name: fb, members: ["\(b.member)"] }
              - { name: fc, members: ["\(c.member)"] }
            rules:
              - { name: discover, listeners: [http], public_names: [lyncdiscover.contoso.test], farm: fa }
              - { name: meet, listeners: [http], public_names: [webext.contoso.test], paths: ["/meet/*"], farm: fb }
              - { name: webext, listeners: [http], public_names: [webext.contoso.test], farm: fa }
              - { name: dialin, listeners: [dialin-listener], public_names: [dialin.contoso.test], farm: fc }
              - { name: admin, public_names: [admin.contoso.test], action: deny }
              - { name: internal, public_names: [internal.contoso.test], source_networks: [10.0.0.0/8], farm: fa }
            """,
            workers: 2
        )
    }

    func testHostPathAndListenerPickTheFarm() throws {
        let http = proxy.ports[0]
        let dialin = proxy.ports[1]
        XCTAssertEqual(try exchange(http, get("/autodiscover", host: "lyncdiscover.contoso.test")).bodyText, "from-a")
        XCTAssertEqual(try exchange(http, get("/meet/alice/XYZ", host: "webext.contoso.test")).bodyText, "from-b")
        XCTAssertEqual(try exchange(http, get("/meet", host: "WebExt.Contoso.Test:80")).bodyText, "from-b")
        XCTAssertEqual(try exchange(http, get("/meeting", host: "webext.contoso.test")).bodyText, "from-a", "/meet/* is a folder, not a prefix")
        XCTAssertEqual(try exchange(http, get("/abs/x", host: "webext.contoso.test")).bodyText, "from-a")
        XCTAssertEqual(try exchange(dialin, get("/dialin", host: "dialin.contoso.test")).bodyText, "from-c")
        XCTAssertEqual(a.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/autodiscover", "/meeting", "/abs/x"])
        XCTAssertEqual(b.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/meet/alice/XYZ", "/meet"])
        XCTAssertEqual(c.requests.count, 1)
    }

    func testRuleOnAnotherListenerDoesNotMatch() throws {
        let response = try exchange(proxy.ports[0], get("/dialin", host: "dialin.contoso.test"))
        XCTAssertEqual(response.status, 404)
        let other = try exchange(proxy.ports[1], get("/", host: "webext.contoso.test"))
        XCTAssertEqual(other.status, 404)
        assertNothingForwarded()
    }

    func testDenyRuleAnswers403() throws {
        let response = try exchange(proxy.ports[0], get("/admin", host: "admin.contoso.test"))
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.bodyText, "403 Forbidden\n")
        assertNothingForwarded()
    }

    func testClientOutsideSourceNetworksGets403() throws {
        let response = try exchange(proxy.ports[0], get("/", host: "internal.contoso.test"))
        XCTAssertEqual(response.status, 403)
        assertNothingForwarded()
    }

    func testNoRuleGivesShort404NamingNoInternalServer() throws {
        let client = try connect(proxy.ports[0])
        try client.send(get("/", host: "unknown.contoso.test"))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.bodyText, "404 Not Found\n")
        XCTAssertLessThan(response.head.count + response.body.count, 200)
        let whole = response.headText + response.bodyText
        for secret in ["127.0.0.1", String(a.port), "fa", "webext", "Server:"] {
            XCTAssertFalse(whole.contains(secret), "404 mentions \(secret): \(whole)")
        }
        // A bodiless refusal keeps the connection: the next request on it is routed.
        try client.send(get("/x", host: "webext.contoso.test"))
        XCTAssertEqual(try client.readResponse().bodyText, "from-a")
    }

    func testEachRequestOnOneConnectionIsRoutedOnItsOwn() throws {
        let client = try connect(proxy.ports[0])
        try client.send(get("/meet/x", host: "webext.contoso.test"))
        XCTAssertEqual(try client.readResponse().bodyText, "from-b")
        try client.send(get("/x", host: "webext.contoso.test"))
        XCTAssertEqual(try client.readResponse().bodyText, "from-a")
        try client.send(get("/x", host: "admin.contoso.test"))
        XCTAssertEqual(try client.readResponse().status, 403)
        try client.send(get("/meet/y", host: "webext.contoso.test"))
        XCTAssertEqual(try client.readResponse().bodyText, "from-b")
        XCTAssertEqual(b.connectionCount, 1)
    }

    func testPipelinedRequestBehindABodyIsRoutedOnItsOwn() throws {
        // The bytes after a Content-Length body are the next request, and it meets the rules.
        let client = try connect(proxy.ports[0])
        try client.send(
            "POST /x HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /secret HTTP/1.1\r\nHost: admin.contoso.test\r\n\r\n"
        )
        XCTAssertEqual(try client.readResponse().bodyText, "from-a")
        XCTAssertEqual(try client.readResponse().status, 403)
        XCTAssertEqual(a.requests.count, 1)
        XCTAssertEqual(a.requests.first.map { String(decoding: $0.body, as: UTF8.self) }, "hello")
        XCTAssertFalse(a.requests.contains { $0.headText.contains("/secret") })
    }

    func testAbsoluteFormTargetRoutesByItsAuthority() throws {
        // RFC 9112 §3.2.2: the authority in the target wins over Host, for routing and upstream.
        let allowed = try exchange(proxy.ports[0], "GET http://webext.contoso.test/x?y HTTP/1.1\r\nHost: admin.contoso.test\r\n\r\n")
        XCTAssertEqual(allowed.bodyText, "from-a")
        XCTAssertEqual(a.requests.last?.values("host"), ["webext.contoso.test"])
        XCTAssertEqual(a.requests.last.map { String(decoding: $0.target, as: UTF8.self) }, "/x?y", "origin-form upstream")
        let denied = try exchange(proxy.ports[0], "GET http://admin.contoso.test/x HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n")
        XCTAssertEqual(denied.status, 403)
        XCTAssertEqual(a.requests.count, 1)
    }

    private func assertNothingForwarded(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.bytesReceived + b.bytesReceived + c.bytesReceived, 0, "a refused request reached a member", file: file, line: line)
    }
}
