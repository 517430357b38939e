import HTTP1
import XCTest

final class RequestParsingTests: XCTestCase {
    func testSimpleGet() throws {
        let head = try XCTUnwrap(parseRequest("GET /index.html HTTP/1.1\r\nHost: lync.example.com\r\nAccept: */*\r\n\r\n"))
        XCTAssertEqual(text(head.method), "GET")
        XCTAssertEqual(text(head.target), "/index.html")
        XCTAssertEqual(head.version, .http1_1)
        XCTAssertEqual(head.host, bytes("lync.example.com"))
        XCTAssertEqual(head.framing, .none)
        XCTAssertTrue(head.keepAlive)
        XCTAssertFalse(head.expectsContinue)
        XCTAssertNil(head.upgrade)
        XCTAssertEqual(head.targetForm, .origin)
        XCTAssertEqual(head.headers.count, 2)
        XCTAssertEqual(head.methodString, "GET")
        XCTAssertEqual(head.targetString, "/index.html")
        XCTAssertFalse(head.isHEAD)
    }

    func testHeadersKeepOrderCaseAndTrimOWS() throws {
        let head = try XCTUnwrap(parseRequest(
            "POST /a HTTP/1.1\r\nhOsT: h\r\nX-Custom:\t  spaced value \t\r\nx-custom:second\r\nEmpty:\r\nContent-Length: 0\r\n\r\n"))
        let names = head.headers.map { text($0.name) }
        XCTAssertEqual(names, ["hOsT", "X-Custom", "x-custom", "Empty", "Content-Length"])
        XCTAssertEqual(text(head.headers[1].value), "spaced value")
        XCTAssertEqual(head.firstValue("x-custom"), bytes("spaced value"))
        XCTAssertEqual(head.values("x-custom"), [bytes("spaced value"), bytes("second")])
        XCTAssertEqual(head.firstValue("empty"), [])
        XCTAssertNil(head.firstValue("missing"))
        XCTAssertTrue(head.headers.contains("X-CUSTOM"))
        XCTAssertEqual(head.framing, .contentLength(0))
    }

    func testObsTextInValueIsKept() throws {
        let raw = bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf") + [0xC3, 0xA9, 0xFF] + bytes("\r\n\r\n")
        let head = try XCTUnwrap(parseRequest(raw))
        XCTAssertEqual(head.firstValue("x-name"), bytes("caf") + [0xC3, 0xA9, 0xFF])
    }

    func testConsumedStopsAtHeadAndRawBytes() throws {
        let head = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
        let input = bytes(head + "hello")
        let (result, consumed) = feed(input)
        guard case .request(let parsed, _) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(consumed, head.utf8.count)
        XCTAssertEqual(parsed.rawBytes, bytes(head))
        XCTAssertEqual(parsed.framing, .contentLength(5))
    }

    func testPipelinedRequests() throws {
        let first = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
        let second = "GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        let input = bytes(first + second)
        var parser = HeadParser(kind: .request, limits: HeadLimits())
        let r1 = input.withUnsafeBytes { parser.parse($0) }
        guard case .request(let h1, let c1) = r1 else { return XCTFail("\(r1)") }
        XCTAssertEqual(c1, first.utf8.count)
        XCTAssertEqual(text(h1.target), "/one")
        parser.reset()
        let r2 = input[c1...].withUnsafeBytes { parser.parse($0) }
        guard case .request(let h2, let c2) = r2 else { return XCTFail("\(r2)") }
        XCTAssertEqual(c2, second.utf8.count)
        XCTAssertEqual(text(h2.target), "/two")
        XCTAssertFalse(h2.keepAlive)
    }

    func testParsingAfterHeadResetsImplicitly() {
        var parser = HeadParser(kind: .request, limits: HeadLimits())
        let input = bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        for _ in 0..<3 {
            let r = input.withUnsafeBytes { parser.parse($0) }
            guard case .request(_, let c) = r else { return XCTFail("\(r)") }
            XCTAssertEqual(c, input.count)
        }
    }

    func testFailureIsSticky() {
        var parser = HeadParser(kind: .request, limits: HeadLimits())
        let bad = bytes("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
        XCTAssertEqual(bad.withUnsafeBytes { parser.parse($0) }, .failure(.whitespaceBeforeColon))
        let good = bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(good.withUnsafeBytes { parser.parse($0) }, .failure(.whitespaceBeforeColon))
        parser.reset()
        guard case .request = good.withUnsafeBytes({ parser.parse($0) }) else { return XCTFail() }
    }

    func testEmptyInputNeedsMore() {
        var parser = HeadParser(kind: .request, limits: HeadLimits())
        let r = parser.parse(UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(r, .needMore(consumed: 0))
    }

    func testLeadingEmptyLinesAreSkipped() throws {
        let input = bytes("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let (result, consumed) = feed(input)
        guard case .request(let head, _) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(consumed, input.count)
        XCTAssertEqual(head.rawBytes, bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        let tooMany = String(repeating: "\r\n", count: HeadParser.maxLeadingEmptyLines + 1) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        XCTAssertEqual(requestError(tooMany), .tooManyLeadingEmptyLines)
    }

    func testKeepAliveRules() throws {
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.keepAlive, true)
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(parseRequest("GET / HTTP/1.0\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(parseRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepAlive, true)
        XCTAssertEqual(parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")?.keepAlive, false)
    }

    func testHTTP10WithoutHost() throws {
        let head = try XCTUnwrap(parseRequest("GET /x HTTP/1.0\r\n\r\n"))
        XCTAssertEqual(head.version, .http1_0)
        XCTAssertNil(head.host)
    }

    func testConnectionTokensLowercasedInOrder() throws {
        let head = try XCTUnwrap(parseRequest(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, X-Secret ,\r\nConnection: TE\r\n\r\n"))
        XCTAssertEqual(head.connectionTokens, [bytes("keep-alive"), bytes("x-secret"), bytes("te")])
    }

    func testUpgradeNeedsConnectionUpgrade() throws {
        let ws = try XCTUnwrap(parseRequest(
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"))
        XCTAssertEqual(ws.upgrade, bytes("websocket"))
        let stray = try XCTUnwrap(parseRequest("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"))
        XCTAssertNil(stray.upgrade)
    }

    func testExpectContinue() throws {
        XCTAssertEqual(parseRequest("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n")?.expectsContinue, true)
        XCTAssertEqual(parseRequest("PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n")?.expectsContinue, false)
    }

    func testChunkedRequest() throws {
        let head = try XCTUnwrap(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  Chunked \r\n\r\n"))
        XCTAssertEqual(head.framing, .chunked)
    }

    func testIdenticalContentLengthsCollapse() throws {
        XCTAssertEqual(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n")?.framing, .contentLength(5))
        XCTAssertEqual(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n")?.framing, .contentLength(5))
        XCTAssertEqual(parseRequest("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n")?.framing,
                       .contentLength(UInt64.max))
    }

    func testPathAndQuery() throws {
        let head = try XCTUnwrap(parseRequest("GET /a/b?x=1&y=%2F HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(text(head.path), "/a/b")
        XCTAssertEqual(head.query.map(text), "x=1&y=%2F")
        let noQuery = try XCTUnwrap(parseRequest("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertNil(noQuery.query)
        let emptyQuery = try XCTUnwrap(parseRequest("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(emptyQuery.query.map(text), "")
    }

    func testAbsoluteForm() throws {
        let head = try XCTUnwrap(parseRequest("GET http://Lync.Example.com:8080/meet?x HTTP/1.1\r\nHost: other\r\n\r\n"))
        XCTAssertEqual(head.targetForm, .absolute)
        XCTAssertEqual(head.host, bytes("Lync.Example.com:8080"), "the authority wins over Host (RFC 9112 §3.2.2)")
        XCTAssertEqual(text(head.path), "/meet")
        XCTAssertEqual(head.query.map(text), "x")
        XCTAssertEqual(text(head.target), "http://Lync.Example.com:8080/meet?x")
        let bare = try XCTUnwrap(parseRequest("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(text(bare.path), "/")
        XCTAssertNil(bare.query)
        let queryOnly = try XCTUnwrap(parseRequest("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(text(queryOnly.path), "/")
        XCTAssertEqual(queryOnly.query.map(text), "q")
    }

    func testAbsoluteFormWithUserinfoIsRejected() {
        XCTAssertEqual(requestError("GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n")?.status, 400)
        XCTAssertEqual(requestError("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n")?.status, 400)
    }

    func testAsteriskForm() throws {
        let head = try XCTUnwrap(parseRequest("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"))
        XCTAssertEqual(head.targetForm, .asterisk)
        XCTAssertEqual(text(head.path), "*")
        XCTAssertEqual(requestError("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), .asteriskFormWithoutOptions)
    }

    func testConnectAndAuthorityFormAre405() {
        XCTAssertEqual(requestError("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")?.status, 405)
        XCTAssertEqual(requestError("GET h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")?.status, 405)
        XCTAssertEqual(requestError("GET index.html HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidTarget)
    }

    func testPercentEscapesAndRawUTF8PreservedInTarget() throws {
        let target: [UInt8] = bytes("/a%2Fb/%25/caf") + [0xC3, 0xA9] + bytes("/x") + [0xFF] + bytes("?q=%ZZ")
        let raw = bytes("GET ") + target + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n")
        let head = try XCTUnwrap(parseRequest(raw))
        XCTAssertEqual(Array(head.target), target)
        XCTAssertEqual(Array(head.path), bytes("/a%2Fb/%25/caf") + [0xC3, 0xA9] + bytes("/x") + [0xFF])
        XCTAssertEqual(head.query.map { Array($0) }, bytes("q=%ZZ"))
        // Logging must not crash on invalid UTF-8.
        XCTAssertTrue(head.targetString.hasPrefix("/a%2Fb/%25/café/x"))
    }

    func testMethodsAreCaseSensitiveTokens() throws {
        XCTAssertEqual(parseRequest("get / HTTP/1.1\r\nHost: h\r\n\r\n").map { text($0.method) }, "get")
        XCTAssertEqual(parseRequest("M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n").map { text($0.method) }, "M-SEARCH")
        XCTAssertEqual(parseRequest("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")?.isHEAD, true)
    }

    func testHostWithPortAndIPv6() throws {
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n")?.host, bytes("[2001:db8::1]:443"))
        XCTAssertEqual(parseRequest("GET / HTTP/1.1\r\nHost:\r\n\r\n")?.host, [])
    }

    /// `tchar` (RFC 9110 §5.6.2), byte by byte over all 256 values.
    func testTokenCharactersAreExactlyTheRFCs() {
        let delimiters = Set("!#$%&'*+-.^_`|~".utf8)
        for c in 0...255 {
            let byte = UInt8(c)
            let expected = (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || delimiters.contains(byte)
            XCTAssertEqual(ASCII.isTokenChar(byte), expected, "byte \(c)")
        }
    }
}
