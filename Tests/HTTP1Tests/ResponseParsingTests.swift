import HTTP1
import XCTest

final class ResponseParsingTests: XCTestCase {
    private let get = bytes("GET")
    private let head = bytes("HEAD")

    func testStatusLine() throws {
        let r = try XCTUnwrap(parseResponse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(text(r.reason), "Not Found")
        XCTAssertEqual(r.version, .http1_1)
        XCTAssertTrue(r.keepAlive)
        XCTAssertFalse(r.isInformational)
        XCTAssertFalse(r.hadConflictingFraming)
    }

    func testReasonMayBeEmptyOrMissing() throws {
        XCTAssertEqual(parseResponse("HTTP/1.1 200 \r\n\r\n").map { text($0.reason) }, "")
        XCTAssertEqual(parseResponse("HTTP/1.1 200\r\n\r\n").map { text($0.reason) }, "")
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK  with\tspaces\r\n\r\n").map { text($0.reason) }, "OK  with\tspaces")
    }

    func testMalformedStatusLines() {
        XCTAssertEqual(responseError("HTTP/1.1 20 OK\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/1.1 2000 OK\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/1.1 099 Low\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/1.1 600 High\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/1.1  200 OK\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/2.0 200 OK\r\n\r\n"), .versionNotSupported)
        XCTAssertEqual(responseError("http/1.1 200 OK\r\n\r\n"), .malformedVersion)
        XCTAssertEqual(responseError("HTTP/1.1 200 O\u{1}K\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("\r\nHTTP/1.1 200 OK\r\n\r\n"), .invalidStatusLine)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\n\r\n"), .bareLF)
    }

    func testFieldSyntaxChecksApply() {
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), .obsoleteLineFolding)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nX : a\r\n\r\n"), .whitespaceBeforeColon)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"), .bareCR)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\n: a\r\n\r\n"), .emptyFieldName)
    }

    func testHeadResponseHasNoBody() throws {
        let r = try XCTUnwrap(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"))
        XCTAssertEqual(r.framing(requestMethod: head), .none)
        XCTAssertEqual(r.framing(requestMethod: get), .contentLength(1234))
    }

    func testNoBodyStatuses() throws {
        for status in ["100 Continue", "101 Switching Protocols", "103 Early Hints", "204 No Content", "304 Not Modified"] {
            let r = try XCTUnwrap(parseResponse("HTTP/1.1 \(status)\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"))
            XCTAssertEqual(r.framing(requestMethod: get), .none, status)
        }
    }

    func testInformationalAndSwitching() throws {
        let cont = try XCTUnwrap(parseResponse("HTTP/1.1 100 Continue\r\n\r\n"))
        XCTAssertTrue(cont.isInformational)
        XCTAssertFalse(cont.isSwitchingProtocols)
        let hints = try XCTUnwrap(parseResponse("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"))
        XCTAssertTrue(hints.isInformational)
        let switching = try XCTUnwrap(parseResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        XCTAssertFalse(switching.isInformational)
        XCTAssertTrue(switching.isSwitchingProtocols)
        XCTAssertEqual(switching.upgrade, bytes("websocket"))
    }

    func testChunkedAndUntilClose() throws {
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing(requestMethod: get), .chunked)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")?.framing(requestMethod: get), .untilClose)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")?.framing(requestMethod: get), .untilClose)
        XCTAssertEqual(parseResponse("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n")?.framing(requestMethod: get), .untilClose)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\n\r\n")?.framing(requestMethod: get), .untilClose)
    }

    func testConflictingFramingTEWins() throws {
        let r = try XCTUnwrap(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"))
        XCTAssertTrue(r.hadConflictingFraming)
        XCTAssertEqual(r.framing(requestMethod: get), .chunked)
    }

    func testInvalidContentLengthIsError() {
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"), .invalidContentLength)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), .conflictingContentLength)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nContent-Length: -1\r\nTransfer-Encoding: chunked\r\n\r\n"), .invalidContentLength)
        XCTAssertEqual(responseError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), .chunkedAppliedTwice)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n")?.framing(requestMethod: get), .contentLength(3))
    }

    func testResponseKeepAlive() throws {
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(parseResponse("HTTP/1.0 200 OK\r\n\r\n")?.keepAlive, false)
        XCTAssertEqual(parseResponse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")?.keepAlive, true)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nConnection: close, X-Foo\r\n\r\n")?.connectionTokens, [bytes("close"), bytes("x-foo")])
    }

    func testRepeatedFieldsKeptSeparately() throws {
        let r = try XCTUnwrap(parseResponse(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nSet-Cookie: a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\nWWW-Authenticate: NTLM\r\nSet-Cookie: b=2\r\n\r\n"))
        XCTAssertEqual(r.values("set-cookie"), [bytes("a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT"), bytes("b=2")])
        XCTAssertEqual(r.values("www-authenticate"), [bytes("Negotiate"), bytes("NTLM")])
        XCTAssertEqual(r.firstValue("WWW-Authenticate"), bytes("Negotiate"))
    }

    func testHostIsNotCheckedOnResponses() throws {
        XCTAssertNotNil(parseResponse("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b c\r\n\r\n"))
    }

    func testFramingForMethodSlice() throws {
        let req = try XCTUnwrap(parseRequest("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"))
        let r = try XCTUnwrap(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
        XCTAssertEqual(r.framing(requestMethod: req.method), .none)
    }
}
