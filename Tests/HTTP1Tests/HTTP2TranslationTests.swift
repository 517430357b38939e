import HTTP1
import XCTest

/// HTTP/2 requests rebuilt as HTTP/1.1 heads, and member responses turned into HTTP/2 field
/// lists: what RFC 9113 §8 requires of an intermediary, checked field by field.
final class HTTP2TranslationTests: XCTestCase {
    private func fields(_ pairs: [(String, String)]) -> [HTTP2Translation.RequestField] {
        pairs.map { (name: $0.0, value: $0.1) }
    }

    private func head(_ pairs: [(String, String)], hasBody: Bool = false) throws -> String {
        text(try HTTP2Translation.requestHead(fields(pairs), hasBody: hasBody))
    }

    private func assertMalformed(_ pairs: [(String, String)], _ reason: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try HTTP2Translation.requestHead(fields(pairs), hasBody: false), file: file, line: line) { error in
            XCTAssertEqual((error as? HTTP2Translation.MalformedRequest)?.reason, reason, file: file, line: line)
        }
    }

    private let get = [(":method", "GET"), (":scheme", "https"), (":authority", "webext.contoso.test"), (":path", "/a%2Fb?x=1")]

    func testAuthorityBecomesHostAndPathIsKeptByteForByte() throws {
        let out = try head(get + [("accept", "*/*"), ("x-ms-webticket", "opaque")])
        XCTAssertEqual(out, "GET /a%2Fb?x=1 HTTP/1.1\r\nHost: webext.contoso.test\r\naccept: */*\r\nx-ms-webticket: opaque\r\n\r\n")
        let parsed = try XCTUnwrap(parseRequest(out))
        XCTAssertEqual(parsed.host, bytes("webext.contoso.test"))
        XCTAssertEqual(text(parsed.path), "/a%2Fb")
    }

    func testHostFieldIsUsedOnlyWithoutAuthority() throws {
        XCTAssertEqual(try head(get + [("host", "other.test")]), "GET /a%2Fb?x=1 HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n")
        let noAuthority = [(":method", "GET"), (":scheme", "https"), (":path", "/"), ("host", "other.test")]
        XCTAssertEqual(try head(noAuthority), "GET / HTTP/1.1\r\nhost: other.test\r\n\r\n")
    }

    func testCookieCrumbsAreJoined() throws {
        let out = try head(get + [("cookie", "a=1"), ("accept", "*/*"), ("cookie", "MS-WSMAN=abc")])
        XCTAssertTrue(out.hasSuffix("accept: */*\r\ncookie: a=1; MS-WSMAN=abc\r\n\r\n"), out)
    }

    func testBodyFraming() throws {
        let post = [(":method", "POST"), (":scheme", "https"), (":authority", "h"), (":path", "/p")]
        XCTAssertEqual(try head(post, hasBody: true), "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(try head(post + [("content-length", "5")], hasBody: true), "POST /p HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\n\r\n")
        // IIS answers 411 to a POST without length; HTTP/2 clients send none for an empty body.
        XCTAssertEqual(try head(post), "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(try head(get), "GET /a%2Fb?x=1 HTTP/1.1\r\nHost: webext.contoso.test\r\n\r\n")
    }

    func testTETrailersPassesAndIsDroppedByForwarding() throws {
        let out = try head(get + [("te", "trailers")])
        var forwarded: [UInt8] = []
        try XCTUnwrap(parseRequest(out)).writeForwarded(into: &forwarded, edits: ForwardingEdits())
        XCTAssertFalse(text(forwarded).lowercased().contains("te:"), text(forwarded))
    }

    func testMalformedRequests() {
        assertMalformed([(":scheme", "https"), (":path", "/")], "no :method")
        assertMalformed([(":method", "GET"), (":authority", "h")], "no :scheme or :path")
        assertMalformed([(":method", "GET"), (":scheme", "https"), (":path", "")], "no :scheme or :path")
        assertMalformed(get + [(":method", "POST")], "repeated pseudo-header")
        assertMalformed([(":method", "GET"), ("accept", "*/*"), (":path", "/")], "pseudo-header after regular fields")
        assertMalformed(get + [(":protocol", "websocket")], "unknown pseudo-header")
        assertMalformed(get + [("Accept", "*/*")], "field name not a lowercase token")
        assertMalformed(get + [("bad name", "x")], "field name not a lowercase token")
        assertMalformed(get + [("x-a", "one\r\nx-injected: two")], "NUL, CR or LF in a field value")
        assertMalformed(get + [("x-a", "nul\u{0}")], "NUL, CR or LF in a field value")
        assertMalformed(get + [("x-a", " padded")], "whitespace around a field value")
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            assertMalformed(get + [(name, "x")], "connection-specific field")
        }
        assertMalformed(get + [("te", "gzip")], "TE other than trailers")
        assertMalformed(get + [("", "x")], "empty field name")
        // The request line is built from these: a space would give it a fourth part.
        assertMalformed([(":method", "GET"), (":scheme", "https"), (":path", "/a HTTP/1.1")], "control or space in a pseudo-header value")
        assertMalformed([(":method", "GE T"), (":scheme", "https"), (":path", "/")], "control or space in a pseudo-header value")
        assertMalformed([(":method", "GET"), (":scheme", "https"), (":authority", "h\u{7F}"), (":path", "/")], "control or space in a pseudo-header value")
        assertMalformed([(":method", "GET"), (":scheme", "https"), (":path", "/\tx")], "control or space in a pseudo-header value")
    }

    /// RFC 9113 §8.3: a pseudo-header after any regular field makes the request malformed,
    /// also when the regular field is one edgesplit does not forward (`te`, a `host` beside
    /// `:authority`). swift-nio-http2 refused these before its validation was turned off.
    func testPseudoHeaderAfterAFieldThatIsNotForwardedIsMalformed() {
        assertMalformed([(":method", "GET"), (":scheme", "https"), ("te", "trailers"), (":path", "/")], "pseudo-header after regular fields")
        assertMalformed(
            [(":method", "GET"), (":scheme", "https"), (":authority", "h"), ("host", "h"), (":path", "/")],
            "pseudo-header after regular fields"
        )
    }

    func testConnectIsLeftToTheHeadParserWhichRefusesIt() throws {
        let out = try HTTP2Translation.requestHead(fields([(":method", "CONNECT"), (":authority", "h:443")]), hasBody: true)
        guard case .failure(let error) = feed(out).0 else { return XCTFail("CONNECT was accepted") }
        XCTAssertEqual(error.status, 405)
    }

    func testChunkFraming() {
        XCTAssertEqual(text(HTTP2Translation.chunkSizeLine(1)), "1\r\n")
        XCTAssertEqual(text(HTTP2Translation.chunkSizeLine(16384)), "4000\r\n")
        XCTAssertEqual(text(HTTP2Translation.lastChunk), "0\r\n\r\n")
    }

    // MARK: Responses

    func testResponseFieldsLoseConnectionSpecificOnes() throws {
        let response = try XCTUnwrap(parseResponse(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\n"
                + "Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nUpgrade: h2c\r\nWWW-Authenticate: Basic\r\n\r\n"
        ))
        let out = response.http2Fields(extraFields: [(name: bytes("Set-Cookie"), value: bytes("EDGE=m1"))]).map { "\(text($0.name)): \(text($0.value))" }
        XCTAssertEqual(out, [":status: 200", "content-type: text/plain", "set-cookie: a=1", "set-cookie: b=2", "www-authenticate: Basic", "set-cookie: EDGE=m1"])
    }

    func testContentLengthKeptUnlessFramingConflicted() throws {
        let plain = try XCTUnwrap(parseResponse("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n"))
        XCTAssertEqual(plain.http2Fields().map { text($0.name) }, [":status", "content-length"])
        let conflicted = try XCTUnwrap(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"))
        XCTAssertEqual(conflicted.http2Fields().map { text($0.name) }, [":status"])
        // 204 and 1xx carry none (RFC 9110 §8.6): their stream ends without DATA, and a client's
        // HTTP/2 stack resets a stream whose DATA falls short of its content-length.
        for head in ["HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\nLink: </a>\r\n\r\n"] {
            let response = try XCTUnwrap(parseResponse(head))
            XCTAssertFalse(response.http2Fields().contains { text($0.name) == "content-length" }, head)
        }
    }
}

private extension ResponseHead {
    /// The HTTP/2 field list a response head gives (`:status`, the fields that go on, names
    /// lowercased, then `extraFields`), as `HTTP2Stream.hpack` builds it from these parts.
    func http2Fields(extraFields: [(name: [UInt8], value: [UInt8])] = []) -> [(name: [UInt8], value: [UInt8])] {
        var out: [(name: [UInt8], value: [UInt8])] = [(Array(":status".utf8), Array(String(status).utf8))]
        forEachHTTP2Field { name, value in out.append((name.map(ASCII.lower), Array(value))) }
        for extra in extraFields { out.append((extra.name.map(ASCII.lower), extra.value)) }
        return out
    }
}
