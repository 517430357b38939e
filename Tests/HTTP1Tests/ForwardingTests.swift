import HTTP1
import XCTest

final class ForwardingTests: XCTestCase {
    private func forward(_ s: String, _ edits: ForwardingEdits = ForwardingEdits(), file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard let head = parseRequest(s, file: file, line: line) else { return nil }
        var out: [UInt8] = []
        head.writeForwarded(into: &out, edits: edits)
        return text(out)
    }

    private func forwardResponse(_ s: String, extra: [(name: [UInt8], value: [UInt8])] = [], close: Bool = false, keepUpgrade: Bool = false,
                                 file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard let head = parseResponse(s, file: file, line: line) else { return nil }
        var out: [UInt8] = []
        head.writeForwarded(into: &out, extraHeaders: extra, close: close, keepUpgrade: keepUpgrade)
        return text(out)
    }

    // MARK: Requests

    func testUnchangedRequest() {
        XCTAssertEqual(forward("GET /a?b HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Trace:v\r\n\r\n"),
                       "GET /a?b HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Trace: v\r\n\r\n")
    }

    /// Lines already in the written form are copied as runs; every other spelling is rewritten
    /// field by field, and a dropped or edited line ends a run without losing its neighbours.
    func testRunsOfReceivedLinesAndRewrittenOnesGiveTheSameForm() {
        XCTAssertEqual(
            forward("GET /r HTTP/1.1\r\nHost: h\r\nA: 1\r\nB:2\r\nC:  3 \r\nD: 4\r\nTE: x\r\nE: \r\nF:\r\nG:\t7\t\r\nH: 8\r\n\r\n",
                    ForwardingEdits(forwardedFor: bytes("192.0.2.1"), forwardedProto: ForwardingEdits.protoHTTPS)),
            "GET /r HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: \r\nF: \r\nG: 7\r\nH: 8\r\n"
                + "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\n\r\n")
        XCTAssertEqual(forward("GET /r HTTP/1.1\r\nHost:h\r\nX-Forwarded-Proto: http\r\nA: 1\r\n\r\n", ForwardingEdits(forwardedProto: ForwardingEdits.protoHTTPS)),
                       "GET /r HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\nA: 1\r\n\r\n")
        XCTAssertEqual(forward("GET /r HTTP/1.1\r\nA: 1\r\nHost: h\r\nB: 2\r\n\r\n", ForwardingEdits(replaceHost: bytes("m"))),
                       "GET /r HTTP/1.1\r\nA: 1\r\nHost: m\r\nB: 2\r\n\r\n")
        XCTAssertEqual(forward("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\nA: 1\r\nConnection: keep-alive\r\nB:  2\r\nC: 3\r\nD: 4\r\n\r\n"),
                       "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n")
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 \r\nA: 1\r\n\r\n"), "HTTP/1.1 200 \r\nA: 1\r\n\r\n")
        XCTAssertEqual(forwardResponse("HTTP/1.0 404 Not Found\r\nA: 1\r\n\r\n"), "HTTP/1.1 404 Not Found\r\nA: 1\r\n\r\n")
    }

    func testAppendsIntoExistingBuffer() throws {
        let head = try XCTUnwrap(parseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        var out = bytes("PREFIX")
        head.writeForwarded(into: &out, edits: ForwardingEdits())
        XCTAssertEqual(text(out), "PREFIXGET / HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    func testTargetBytesPreservedExactly() throws {
        let target: [UInt8] = bytes("/a%2Fb%25c/caf") + [0xC3, 0xA9] + [0xFF] + bytes("?x=%2F&y=") + [0xE2, 0x82, 0xAC]
        let head = try XCTUnwrap(parseRequest(bytes("GET ") + target + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n")))
        var out: [UInt8] = []
        head.writeForwarded(into: &out, edits: ForwardingEdits(forwardedFor: bytes("192.0.2.1")))
        XCTAssertEqual(Array(out.prefix(4 + target.count + 1)), bytes("GET ") + target + [0x20])
        XCTAssertEqual(out, bytes("GET ") + target + bytes(" HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n"))
    }

    func testHTTP10IsForwardedAsHTTP11WithHostAndContentLength() {
        XCTAssertEqual(forward("POST /f HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 4\r\n\r\n"),
                       "POST /f HTTP/1.1\r\nHost: \r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(forward("GET /f HTTP/1.0\r\n\r\n", ForwardingEdits(replaceHost: bytes("backend:8080"))),
                       "GET /f HTTP/1.1\r\nHost: backend:8080\r\n\r\n")
    }

    func testXForwardedForCreated() {
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ForwardingEdits(forwardedFor: bytes("2001:db8::7"))),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 2001:db8::7\r\n\r\n")
    }

    func testXForwardedForAppended() {
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nx-forwarded-for: 10.0.0.1\r\nHost: h\r\n\r\n", ForwardingEdits(forwardedFor: bytes("192.0.2.1"))),
                       "GET / HTTP/1.1\r\nx-forwarded-for: 10.0.0.1, 192.0.2.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b\r\n\r\n", ForwardingEdits(forwardedFor: bytes("c"))),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: a\r\nX-Forwarded-For: b, c\r\n\r\n")
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n", ForwardingEdits(forwardedFor: bytes("c"))),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: c\r\n\r\n")
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: a\r\n\r\n"),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: a\r\n\r\n", "no client address: left alone")
    }

    func testXForwardedProtoSetOrReplaced() {
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ForwardingEdits(forwardedProto: ForwardingEdits.protoHTTPS)),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n")
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nHost: h\r\nx-forwarded-proto: ftp\r\n\r\n",
                               ForwardingEdits(forwardedProto: ForwardingEdits.protoHTTP)),
                       "GET / HTTP/1.1\r\nX-Forwarded-Proto: http\r\nHost: h\r\n\r\n")
    }

    func testHostReplacedInPlaceOrKept() {
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nAccept: x\r\nhost: Public.Example.com\r\nX: y\r\n\r\n",
                               ForwardingEdits(replaceHost: bytes("pool01.internal:4443"))),
                       "GET / HTTP/1.1\r\nAccept: x\r\nhost: pool01.internal:4443\r\nX: y\r\n\r\n")
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nAccept: x\r\nhost: Public.Example.com\r\n\r\n"),
                       "GET / HTTP/1.1\r\nAccept: x\r\nhost: Public.Example.com\r\n\r\n")
    }

    func testAbsoluteFormAuthorityReplacesHost() {
        XCTAssertEqual(forward("GET http://real.example/p HTTP/1.1\r\nHost: spoofed\r\n\r\n"),
                       "GET /p HTTP/1.1\r\nHost: real.example\r\n\r\n")
    }

    /// Fields a member would trust as the proxy's own never pass: IIS URL Rewrite routes on
    /// X-Original-URL / X-Rewrite-URL, and CGI maps X_Forwarded_* onto HTTP_X_FORWARDED_*.
    func testSpoofableFieldsStripped() {
        let input = "GET /public HTTP/1.1\r\nHost: h\r\nX-Original-URL: /admin\r\nx-rewrite-url: /admin\r\nX-ORIGINAL-url: /b\r\n"
            + "X_Forwarded_For: 10.0.0.1\r\nx_forwarded_proto: https\r\nX_FORWARDED_HOST: internal\r\nX-Keep: 1\r\n"
            + "X-Original-URLs: kept\r\nX_Forwarded_Hosts: kept\r\n\r\n"
        XCTAssertEqual(forward(input, ForwardingEdits(forwardedFor: bytes("192.0.2.1"), forwardedProto: ForwardingEdits.protoHTTP)),
                       "GET /public HTTP/1.1\r\nHost: h\r\nX-Keep: 1\r\nX-Original-URLs: kept\r\nX_Forwarded_Hosts: kept\r\n"
                       + "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\n\r\n")
    }

    /// A member's response is the member's business: the same names pass back unchanged.
    func testSpoofableNamesKeptInResponses() {
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\nX-Original-URL: /a\r\nContent-Length: 0\r\n\r\n"),
                       "HTTP/1.1 200 OK\r\nX-Original-URL: /a\r\nContent-Length: 0\r\n\r\n")
    }

    /// The member sees origin-form only: the authority reaches it through Host, as the rule
    /// decides (here replaced by the member's own name), never in the request line.
    func testAbsoluteFormForwardedInOriginForm() {
        let edits = ForwardingEdits(replaceHost: bytes("fe1.contoso.local:4443"))
        XCTAssertEqual(forward("GET http://webext.contoso.com/a%2Fb?x=1&y HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n", edits),
                       "GET /a%2Fb?x=1&y HTTP/1.1\r\nHost: fe1.contoso.local:4443\r\n\r\n")
        XCTAssertEqual(forward("GET http://webext.contoso.com HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n", edits),
                       "GET / HTTP/1.1\r\nHost: fe1.contoso.local:4443\r\n\r\n")
        XCTAssertEqual(forward("GET https://webext.contoso.com?q HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n"),
                       "GET /?q HTTP/1.1\r\nHost: webext.contoso.com\r\n\r\n")
        XCTAssertEqual(forward("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    func testHopByHopRemoved() {
        let input = "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop, x-other\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Hop: secret\r\nX-Other: 1\r\nX-Keep: 2\r\n\r\n"
        XCTAssertEqual(forward(input), "GET / HTTP/1.1\r\nHost: h\r\nX-Keep: 2\r\n\r\n")
    }

    func testFramingFieldsSurviveConnectionListing() {
        let input = "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host, Transfer-Encoding\r\nContent-Length: 3\r\n\r\n"
        XCTAssertEqual(forward(input), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n")
    }

    func testTransferEncodingKept() {
        XCTAssertEqual(forward("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
                       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    /// Whatever case and spacing the client used, the member reads one canonical line.
    func testTransferEncodingForwardedCanonically() {
        XCTAssertEqual(forward("POST / HTTP/1.1\r\nHost: h\r\ntransfer-ENCODING:   Chunked\t\r\nX-A: 1\r\n\r\n"),
                       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n")
    }

    func testWebSocketUpgradeKept() {
        let input = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        XCTAssertEqual(forward(input, ForwardingEdits(keepUpgrade: true)),
                       "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        XCTAssertEqual(forward(input, ForwardingEdits(keepUpgrade: false)),
                       "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        // Upgrade without Connection: upgrade is not an upgrade request.
        XCTAssertEqual(forward("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", ForwardingEdits(keepUpgrade: true)),
                       "GET /ws HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    func testH2CUpgradeNeverForwarded() throws {
        let input = "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        XCTAssertEqual(forward(input, ForwardingEdits(keepUpgrade: true)), "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let sneaky = "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: H2C\r\n\r\n"
        XCTAssertEqual(forward(sneaky, ForwardingEdits(keepUpgrade: true)), "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    func testWebSocketUpgradeDetection() throws {
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\n\r\n")?.isWebSocketUpgrade, true)
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: foo/1, websocket\r\n\r\n")?.isWebSocketUpgrade, true)
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")?.isWebSocketUpgrade, false)
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n")?.isWebSocketUpgrade, false)
    }

    func testAllEditsTogether() {
        let input = "POST /x HTTP/1.1\r\nHost: pub\r\nX-Forwarded-Proto: http\r\nX-Forwarded-For: 1.1.1.1\r\nContent-Length: 2\r\n\r\n"
        let edits = ForwardingEdits(replaceHost: bytes("int"), forwardedFor: bytes("2.2.2.2"), forwardedProto: ForwardingEdits.protoHTTPS)
        XCTAssertEqual(forward(input, edits),
                       "POST /x HTTP/1.1\r\nHost: int\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nContent-Length: 2\r\n\r\n")
    }

    func testExtraRequestHeaders() {
        let edits = ForwardingEdits(forwardedFor: bytes("1.2.3.4"), extraHeaders: [(name: bytes("Connection"), value: bytes("close")), (name: bytes("X-Forwarded-Host"), value: bytes("pub"))])
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", edits),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: close\r\nX-Forwarded-Host: pub\r\n\r\n")
    }

    func testInjectedLineBreaksInEditsAreNeutralised() {
        let edits = ForwardingEdits(replaceHost: bytes("h\r\nX-Evil: 1"), forwardedFor: bytes("1.2.3.4\r\nX: y"))
        XCTAssertEqual(forward("GET / HTTP/1.1\r\nHost: h\r\n\r\n", edits),
                       "GET / HTTP/1.1\r\nHost: h  X-Evil: 1\r\nX-Forwarded-For: 1.2.3.4  X: y\r\n\r\n")
    }

    func testForwardedRequestReparses() throws {
        for input in IncrementalTests.requests {
            let head = try XCTUnwrap(parseRequest(input))
            var out: [UInt8] = []
            head.writeForwarded(into: &out, edits: ForwardingEdits(forwardedFor: bytes("192.0.2.9"), forwardedProto: ForwardingEdits.protoHTTPS, keepUpgrade: true))
            let again = try XCTUnwrap(parseRequest(out))
            assertSameResource(again, head)
            XCTAssertEqual(again.framing, head.framing)
            XCTAssertEqual(again.version, .http1_1)
        }
    }

    // MARK: Responses

    func testResponseStatusLineAndHopByHop() {
        XCTAssertEqual(forwardResponse("HTTP/1.0 200 Fine Thanks\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nContent-Length: 5\r\nServer: s\r\n\r\n"),
                       "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 5\r\nServer: s\r\n\r\n")
        XCTAssertEqual(forwardResponse("HTTP/1.1 204\r\n\r\n"), "HTTP/1.1 204 \r\n\r\n")
    }

    func testResponseCloseAndExtras() {
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
                                       extra: [(name: bytes("Strict-Transport-Security"), value: bytes("max-age=31536000"))], close: true),
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nStrict-Transport-Security: max-age=31536000\r\n\r\n")
    }

    func testSetCookieAndWWWAuthenticatePreserved() {
        let input = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nSet-Cookie: a=1; Path=/; HttpOnly\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(forwardResponse(input), input)
    }

    func testSwitchingProtocolsKeepsUpgrade() {
        let input = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\n"
        XCTAssertEqual(forwardResponse(input, close: true, keepUpgrade: true),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc=\r\nConnection: Upgrade\r\n\r\n")
        XCTAssertEqual(forwardResponse(input, keepUpgrade: false),
                       "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc=\r\n\r\n")
    }

    func testDechunkedForHTTP10Client() throws {
        let head = try XCTUnwrap(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"))
        var out: [UInt8] = []
        head.writeForwarded(into: &out, close: false, keepUpgrade: false, dechunked: true)
        XCTAssertEqual(text(out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
    }

    func testConflictingFramingDropsContentLength() {
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", close: true),
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    }

    func testExtraHeadersSanitised() {
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\n\r\n", extra: [(name: bytes("Bad Name"), value: bytes("x")), (name: bytes("X"), value: bytes("a\r\nb"))]),
                       "HTTP/1.1 200 OK\r\nX: a  b\r\n\r\n")
        XCTAssertEqual(forwardResponse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
                                       extra: [(name: bytes("content-length"), value: bytes("5")), (name: bytes("Transfer-Encoding"), value: bytes("chunked"))]),
                       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "framing fields cannot be added")
    }

    // MARK: Simple responses

    func testSimpleResponse() {
        var out: [UInt8] = []
        writeSimpleResponse(status: 502, reason: "Bad Gateway", body: "upstream failed: caf\u{e9}\n", close: true, into: &out)
        XCTAssertEqual(text(out), "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n\r\nupstream failed: caf\u{e9}\n")
        let (result, consumed) = feed(out, kind: .response)
        guard case .response(let head, _) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(head.framing(requestMethod: bytes("GET")), .contentLength(23))
        XCTAssertEqual(out.count - consumed, 23)
    }

    func testSimpleResponseKeepAliveWithExtras() {
        var out: [UInt8] = []
        writeSimpleResponse(status: 301, reason: "Moved\r\nPermanently", body: "", extraHeaders: [(name: bytes("Location"), value: bytes("https://h/"))], close: false, into: &out)
        XCTAssertEqual(text(out), "HTTP/1.1 301 Moved  Permanently\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\nLocation: https://h/\r\n\r\n")
    }
}
