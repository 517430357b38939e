import HTTP1
import XCTest

/// Every framing or syntax ambiguity that two HTTP implementations could resolve differently
/// must be a hard error (RFC 9112 §11.2). Each test also checks, through `requestError`, that
/// feeding the same bytes one at a time gives the same verdict.
final class SmugglingTests: XCTestCase {
    private func req(_ fields: String, version: String = "HTTP/1.1") -> String {
        "POST /x \(version)\r\nHost: h\r\n\(fields)\r\n"
    }

    // MARK: Content-Length / Transfer-Encoding

    func testContentLengthAndTransferEncoding() {
        XCTAssertEqual(requestError(req("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")), .contentLengthWithTransferEncoding)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"))?.status, 400)
    }

    func testDifferingContentLengths() {
        XCTAssertEqual(requestError(req("Content-Length: 5\r\nContent-Length: 6\r\n")), .conflictingContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 5, 6\r\n"))?.status, 400)
    }

    func testEmptyContentLength() {
        XCTAssertEqual(requestError(req("Content-Length:\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 5,\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 5,,5\r\n")), .invalidContentLength)
    }

    func testSignedContentLength() {
        XCTAssertEqual(requestError(req("Content-Length: +5\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: -1\r\n")), .invalidContentLength)
    }

    func testNonDigitContentLength() {
        XCTAssertEqual(requestError(req("Content-Length: 0x5\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 5 5\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 1e3\r\n")), .invalidContentLength)
    }

    func testOverflowingContentLength() {
        XCTAssertEqual(requestError(req("Content-Length: 18446744073709551616\r\n")), .invalidContentLength)
        XCTAssertEqual(requestError(req("Content-Length: 99999999999999999999999\r\n")), .invalidContentLength)
    }

    func testTransferEncodingNotEndingInChunked() {
        XCTAssertEqual(requestError(req("Transfer-Encoding: gzip\r\n")), .transferCodingNotImplemented)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked, gzip\r\n")), .transferEncodingNotChunked)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"))?.status, 400)
    }

    /// A request's Transfer-Encoding is one field line whose value is `chunked`: anything else
    /// is spelled differently by some member (first line, last line, joined list) and is 400,
    /// except one lone coding the proxy does not know, which is 501 (RFC 9112 §6.1).
    func testTransferEncodingMustBeCanonical() {
        let cases: [(fields: String, error: HTTPHeadError, status: Int)] = [
            ("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n", .repeatedTransferEncoding, 400),
            ("Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n", .repeatedTransferEncoding, 400),
            ("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", .repeatedTransferEncoding, 400),
            ("Transfer-Encoding: gzip, chunked\r\n", .transferCodingBeforeChunked, 400),
            ("Transfer-Encoding: chunked,\r\n", .invalidTransferEncoding, 400),
            ("Transfer-Encoding: , chunked\r\n", .invalidTransferEncoding, 400),
            ("Transfer-Encoding: identity\r\n", .transferCodingNotImplemented, 501),
            ("Transfer-Encoding: xchunked\r\n", .transferCodingNotImplemented, 501),
        ]
        for c in cases {
            let error = requestError(req(c.fields))
            XCTAssertEqual(error, c.error, c.fields)
            XCTAssertEqual(error?.status, c.status, c.fields)
        }
        XCTAssertEqual(parseRequest(req("transfer-encoding: CHUNKED\r\n"))?.framing, .chunked)
    }

    /// Responses are the member's framing, read as RFC 9112 §6.3 says; the canonical rule is
    /// for requests, which clients control.
    func testResponseTransferEncodingListStillFramed() {
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")?.framing(requestMethod: bytes("GET")), .chunked)
    }

    func testChunkedTwice() {
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked, chunked\r\n")), .chunkedAppliedTwice)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")), .chunkedAppliedTwice)
    }

    func testMalformedTransferEncoding() {
        XCTAssertEqual(requestError(req("Transfer-Encoding:\r\n")), .invalidTransferEncoding)
        XCTAssertEqual(requestError(req("Transfer-Encoding: ,\r\n")), .invalidTransferEncoding)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked;x=1\r\n")), .invalidTransferEncoding)
        XCTAssertEqual(requestError(req("Transfer-Encoding: \"chunked\"\r\n")), .invalidTransferEncoding)
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunk ed\r\n")), .invalidTransferEncoding)
    }

    func testTransferEncodingOnHTTP10() {
        XCTAssertEqual(requestError(req("Transfer-Encoding: chunked\r\n", version: "HTTP/1.0")), .transferEncodingInHTTP10)
    }

    // MARK: Line syntax

    func testObsFold() {
        XCTAssertEqual(requestError(req("X-A: one\r\n two\r\n")), .obsoleteLineFolding)
        XCTAssertEqual(requestError(req("X-A: one\r\n\ttwo\r\n")), .obsoleteLineFolding)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), .obsoleteLineFolding)
    }

    func testBareLF() {
        XCTAssertEqual(requestError("GET / HTTP/1.1\nHost: h\r\n\r\n"), .bareLF)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: h\n\r\n"), .bareLF)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: h\r\n\n"), .bareLF)
        XCTAssertEqual(requestError("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), .bareLF)
    }

    func testBareCR() {
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), .bareCR)
        XCTAssertEqual(requestError("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), .bareCR)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nX\r: y\r\nHost: h\r\n\r\n"), .bareCR)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n")?.status, 400)
    }

    func testNulInValue() {
        XCTAssertEqual(requestError(bytes("GET / HTTP/1.1\r\nHost: h\r\nX-A: a") + [0x00] + bytes("b\r\n\r\n")), .invalidFieldValue)
    }

    func testControlBytesInValue() {
        for c: UInt8 in [0x01, 0x08, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F] {
            XCTAssertEqual(requestError(bytes("GET / HTTP/1.1\r\nHost: h\r\nX-A: a") + [c] + bytes("\r\n\r\n")), .invalidFieldValue, "byte \(c)")
        }
        XCTAssertNotNil(parseRequest("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb\r\n\r\n"), "HTAB is allowed")
    }

    /// Values and targets are checked eight bytes at a time; every position must still count.
    func testBadByteAtEveryPositionOfLongValueAndTarget() {
        let filler = [UInt8](repeating: 0x61, count: 37)
        for position in 0..<filler.count {
            for (byte, allowed) in [(UInt8(0x00), false), (0x01, false), (0x1F, false), (0x7F, false), (0x0B, false),
                                    (0x09, true), (0x20, true), (0x80, true), (0xFF, true), (0x7E, true)] {
                var value = filler
                value[position] = byte
                let request = bytes("GET / HTTP/1.1\r\nHost: h\r\nX-Long: a") + value + bytes("z\r\n\r\n")
                let (result, _) = feed(request)
                if allowed {
                    guard case .request(let head, _) = result else { return XCTFail("byte \(byte) at \(position): \(result)") }
                    XCTAssertEqual(head.firstValue("x-long"), bytes("a") + value + bytes("z"))
                } else {
                    XCTAssertEqual(result, .failure(.invalidFieldValue), "byte \(byte) at \(position)")
                }
                var target = bytes("/") + filler
                target[position + 1] = byte
                let (targetResult, _) = feed(bytes("GET ") + target + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n"))
                if byte > 0x20 && byte != 0x7F {
                    guard case .request(let head, _) = targetResult else { return XCTFail("byte \(byte) at \(position): \(targetResult)") }
                    XCTAssertEqual(Array(head.target), target)
                } else {
                    XCTAssertEqual(targetResult, .failure(.invalidTarget), "byte \(byte) at \(position)")
                }
            }
        }
    }

    func testControlBytesAndSpaceInTarget() {
        XCTAssertEqual(requestError("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidTarget)
        XCTAssertEqual(requestError("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidTarget)
        XCTAssertEqual(requestError(bytes("GET /a") + [0x00] + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n")), .invalidTarget)
        XCTAssertEqual(requestError(bytes("GET /a") + [0x7F] + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n")), .invalidTarget)
    }

    /// Servers differ on whether `#` ends the path, so the rules and the member could see two.
    func testFragmentInTargetIsRefused() {
        for target in ["/a#b", "/#", "/x?y#z", "http://h/p#f", "http://h#f", "/" + String(repeating: "a", count: 40) + "#"] {
            XCTAssertEqual(requestError("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n"), .fragmentInTarget, target)
        }
        XCTAssertEqual(HTTPHeadError.fragmentInTarget.status, 400)
        XCTAssertNotNil(parseRequest("GET /a!b\"c$d%23 HTTP/1.1\r\nHost: h\r\n\r\n"), "! \" $ and an escaped # are fine")
    }

    func testWhitespaceBeforeColon() {
        XCTAssertEqual(requestError(req("Content-Length : 5\r\n")), .whitespaceBeforeColon)
        XCTAssertEqual(requestError(req("Transfer-Encoding\t: chunked\r\n")), .whitespaceBeforeColon)
    }

    func testFieldNameNotToken() {
        XCTAssertEqual(requestError(req("X(A): 1\r\n")), .invalidFieldName)
        XCTAssertEqual(requestError(req("X\"A\": 1\r\n")), .invalidFieldName)
        XCTAssertEqual(requestError(bytes("GET / HTTP/1.1\r\nHost: h\r\nX") + [0xC3, 0xA9] + bytes(": 1\r\n\r\n")), .invalidFieldName)
        XCTAssertEqual(requestError(req("NoColon\r\n")), .invalidFieldName)
    }

    func testEmptyFieldName() {
        XCTAssertEqual(requestError(req(": value\r\n")), .emptyFieldName)
    }

    func testMethodNotToken() {
        XCTAssertEqual(requestError("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidMethod)
        XCTAssertEqual(requestError(" / HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidMethod)
    }

    func testMalformedRequestLines() {
        XCTAssertEqual(requestError("GET\r\nHost: h\r\n\r\n"), .invalidRequestLine)
        XCTAssertEqual(requestError("GET /\r\nHost: h\r\n\r\n"), .invalidRequestLine)
        XCTAssertEqual(requestError("GET  HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidRequestLine)
        XCTAssertEqual(requestError("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), .invalidTarget)
        XCTAssertEqual(requestError("GET / HTTP/1.1 \r\nHost: h\r\n\r\n")?.status, 400)
    }

    // MARK: Host

    func testMissingHostOnHTTP11() {
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), .missingHost)
        XCTAssertEqual(requestError("GET http://h/ HTTP/1.1\r\n\r\n"), .missingHost)
    }

    func testDuplicateHost() {
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), .duplicateHost)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), .duplicateHost)
    }

    func testInvalidHostCharacters() {
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), .invalidHost)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), .invalidHost)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: user@h\r\n\r\n"), .invalidHost)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), .invalidHost)
        XCTAssertEqual(requestError("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n"), .invalidHost)
        XCTAssertEqual(requestError(bytes("GET / HTTP/1.1\r\nHost: h") + [0xFF] + bytes("\r\n\r\n")), .invalidHost)
    }

    // MARK: Versions

    func testUnsupportedVersionsAre505() {
        for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.1"] {
            XCTAssertEqual(requestError("GET / \(v)\r\nHost: h\r\n\r\n")?.status, 505, v)
        }
    }

    func testMalformedVersionsAre400() {
        for v in ["HTTP/1.10", "http/1.1", "HTTP/1", "HTTP/11", "HTTP/1.x", "HTTPS/1.1", "HTTP 1.1"] {
            XCTAssertEqual(requestError("GET / \(v)\r\nHost: h\r\n\r\n")?.status, 400, v)
        }
    }

    func testErrorStatuses() {
        XCTAssertEqual(HTTPHeadError.requestLineTooLong.status, 414)
        XCTAssertEqual(HTTPHeadError.headersTooLarge.status, 431)
        XCTAssertEqual(HTTPHeadError.tooManyHeaders.status, 431)
        XCTAssertEqual(HTTPHeadError.versionNotSupported.status, 505)
        XCTAssertEqual(HTTPHeadError.connectNotSupported.status, 405)
        XCTAssertEqual(HTTPHeadError.bareCR.status, 400)
        XCTAssertFalse(HTTPHeadError.obsoleteLineFolding.reason.isEmpty)
    }
}
