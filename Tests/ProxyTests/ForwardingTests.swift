import XCTest

/// What a farm member receives: the request head edited only where a reverse proxy must
/// (Host on request, X-Forwarded-*, hop-by-hop fields), everything else byte for byte; and
/// what the client receives back, repeated fields intact.
final class ForwardingTests: ProxyTestCase {
    func testWholeForwardedHeadIsByteExact() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let response = try exchange(
            proxy.port,
            "GET /Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.test HTTP/1.1\r\n"
                + "Host: webext.contoso.test\r\nUser-Agent: UCCAPI/15.0\r\nx-ms-Ticket: AAA=\r\n"
                + "X-Forwarded-For: 203.0.113.7\r\nCookie: a=b; c=d\r\nAccept: */*\r\n\r\n"
        )
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(
            backend.requests.first?.headText,
            "GET /Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.test HTTP/1.1\r\n"
                + "Host: webext.contoso.test\r\nUser-Agent: UCCAPI/15.0\r\nx-ms-Ticket: AAA=\r\n"
                + "X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\nCookie: a=b; c=d\r\nAccept: */*\r\n"
                + "X-Forwarded-Proto: http\r\n\r\n"
        )
    }

    func testOriginalHostForwardedUnchanged() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "forward_original_host: true"))
        XCTAssertEqual(try exchange(proxy.port, get("/", host: "WebExt.contoso.test:80")).status, 200)
        XCTAssertEqual(backend.requests.first?.values("host"), ["WebExt.contoso.test:80"])
    }

    func testHostReplacedByMemberWhenNotForwardingOriginal() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "forward_original_host: false"))
        XCTAssertEqual(try exchange(proxy.port, get("/", host: "webext.contoso.test")).status, 200)
        XCTAssertEqual(backend.requests.first?.values("host"), ["127.0.0.1:\(backend.port)"])
    }

    /// With `forward_original_host: false` the public name must not reach the member at all:
    /// not in Host, and not in an absolute-form request line either.
    func testAbsoluteFormSentInOriginFormWithTheMembersHost() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "forward_original_host: false"))
        XCTAssertEqual(try exchange(proxy.port, get("http://webext.contoso.test/abs/x?y=1", host: "webext.contoso.test")).status, 200)
        XCTAssertEqual(try exchange(proxy.port, get("http://webext.contoso.test", host: "webext.contoso.test")).status, 200)
        XCTAssertEqual(backend.requests.map { String(decoding: $0.target, as: UTF8.self) }, ["/abs/x?y=1", "/"])
        XCTAssertEqual(backend.requests.map { $0.values("host") }, [["127.0.0.1:\(backend.port)"], ["127.0.0.1:\(backend.port)"]])
        XCTAssertFalse(backend.requests.contains { $0.headText.contains("webext.contoso.test") })
        XCTAssertEqual(try exchange(proxy.port, get("/a#b")).status, 400)
        XCTAssertEqual(backend.requests.count, 2)
    }

    func testRequestTargetForwardedByteForByte() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let targets: [[UInt8]] = [
            Array("/DataCollabWeb/wopi?WopiSrc=https%3A%2F%2Fx%2Ffiles%2F%25".utf8),
            Array("/caf".utf8) + [0xC3, 0xA9],
            Array("/a%2fb/%2E%2E/./c//d;x=1?q=%00%zz&r=caf".utf8) + [0xC3, 0xA9],
            Array("/Meet/%7Ealice/?&&".utf8),
        ]
        let client = try connect(proxy.port)
        for target in targets {
            try client.send(Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n".utf8))
            XCTAssertEqual(try client.readResponse().status, 200)
        }
        XCTAssertEqual(backend.requests.map(\.target), targets)
        for (request, target) in zip(backend.requests, targets) {
            XCTAssertEqual(Array(request.head.prefix(target.count + 4)), Array("GET ".utf8) + target)
        }
    }

    func testForwardedForAppendedAndProtoSet() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/one", headers: ["X-Forwarded-For: 198.51.100.1, 203.0.113.7", "X-Forwarded-Proto: https"]))
        XCTAssertEqual(try client.readResponse().status, 200)
        try client.send(get("/two"))
        XCTAssertEqual(try client.readResponse().status, 200)
        let requests = backend.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests.first?.values("x-forwarded-for"), ["198.51.100.1, 203.0.113.7, 127.0.0.1"])
        XCTAssertEqual(requests.first?.values("x-forwarded-proto"), ["http"], "a plain-HTTP client cannot claim https")
        XCTAssertEqual(requests.last?.values("x-forwarded-for"), ["127.0.0.1"])
        XCTAssertEqual(requests.last?.values("x-forwarded-proto"), ["http"])
    }

    func testURLRewriteAndUnderscoreForwardedFieldsNeverReachTheMember() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/public", headers: [
            "X-Original-URL: /admin", "X-Rewrite-URL: /admin", "X_Forwarded_For: 10.0.0.1",
            "X_Forwarded_Proto: https", "x_forwarded_host: intranet.contoso.local", "X-End-To-End: kept",
        ]))
        XCTAssertEqual(try client.readResponse().status, 200)
        let names = backend.requests.first?.fieldNames ?? []
        XCTAssertEqual(names, ["Host", "X-End-To-End", "X-Forwarded-For", "X-Forwarded-Proto"])
    }

    func testHopByHopFieldsRemovedBothWays() throws {
        let backend = try startBackend { _ in
            .send(Array(("HTTP/1.1 200 OK\r\nConnection: X-Backend-Hop\r\nX-Backend-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
                + "X-Backend-End: kept\r\nContent-Length: 2\r\n\r\nok").utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/", headers: [
            "Connection: keep-alive, X-Client-Hop", "X-Client-Hop: secret", "Keep-Alive: timeout=5",
            "Proxy-Connection: keep-alive", "TE: trailers", "Upgrade: h2c", "X-End-To-End: kept",
        ]))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.fields.map(\.name), ["X-Backend-End", "Content-Length"])
        let names = backend.requests.first?.fieldNames ?? []
        XCTAssertEqual(names, ["Host", "X-End-To-End", "X-Forwarded-For", "X-Forwarded-Proto"])
    }

    func testRepeatedSetCookieAndWWWAuthenticatePreserved() throws {
        let backend = try startBackend { _ in
            .send(Array(("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
                + "Set-Cookie: a=1; path=/\r\nSet-Cookie: b=2; HttpOnly\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
                + "Content-Length: 0\r\n\r\n").utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let response = try exchange(proxy.port, get("/WebTicket/WebTicketService.svc"))
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.values("www-authenticate"), ["Negotiate", "NTLM", "Basic realm=\"x\""])
        XCTAssertEqual(response.values("set-cookie"), ["a=1; path=/", "b=2; HttpOnly"])
        XCTAssertEqual(
            response.headText,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n"
                + "Set-Cookie: a=1; path=/\r\nSet-Cookie: b=2; HttpOnly\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
                + "Content-Length: 0\r\n\r\n"
        )
    }

    func testResponseWithBothLengthAndChunkedLosesContentLengthAndItsConnection() throws {
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        let response = try client.readResponse()
        XCTAssertEqual(response.values("content-length"), [])
        XCTAssertEqual(response.bodyText, "5\r\nhello\r\n0\r\n\r\n")
        try client.send(get("/again"))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(backend.connectionCount, 2, "a member connection with ambiguous framing is not reused")
    }

    func testConnectionCannotStripFramingOrHost() throws {
        // Listing Content-Length, Transfer-Encoding or Host in Connection must not remove them:
        // a member that lost the framing would read the body as the next request.
        let backend = try startBackend { request in .send(RecordingBackend.ok(String(decoding: request.body, as: UTF8.self))) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send("POST /a HTTP/1.1\r\nHost: webext.contoso.test\r\nConnection: Content-Length, Host\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertEqual(try client.readResponse().bodyText, "hello")
        try client.send("POST /b HTTP/1.1\r\nHost: webext.contoso.test\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        XCTAssertEqual(try client.readResponse().bodyText, "3\r\nabc\r\n0\r\n\r\n")
        let requests = backend.requests
        XCTAssertEqual(requests.count, 2)
        XCTAssertEqual(requests.first?.fieldNames, ["Host", "Content-Length", "X-Forwarded-For", "X-Forwarded-Proto"])
        XCTAssertEqual(requests.last?.fieldNames, ["Host", "Transfer-Encoding", "X-Forwarded-For", "X-Forwarded-Proto"])
    }
}
