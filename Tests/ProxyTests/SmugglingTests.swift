import Foundation
import XCTest

/// Every ambiguous or malformed request head is answered 400 by edgesplit and never reaches
/// a member: not one byte, not even a connection. Limits answer 431 and 414, and a large but
/// legal head (Lync web tickets) passes whole.
final class SmugglingTests: ProxyTestCase {
    private var backend: RecordingBackend!
    private var proxy: ProxyHarness!

    override func setUpWithError() throws {
        backend = try startBackend()
        proxy = try startProxy(simpleYAML(members: [backend.member]))
    }

    private func assertRejected(
        _ name: String, _ request: [UInt8], status: Int = 400, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let client = try connect(proxy.port)
        defer { client.close() }
        try client.send(request)
        do {
            let response = try client.readResponse()
            XCTAssertEqual(response.status, status, name, file: file, line: line)
            XCTAssertEqual(response.first("connection"), "close", name, file: file, line: line)
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
        }
        XCTAssertTrue(client.waitForClose(timeout: 2), "\(name): connection left open", file: file, line: line)
        XCTAssertEqual(backend.bytesReceived, 0, "\(name): bytes reached the member", file: file, line: line)
        XCTAssertEqual(backend.connectionCount, 0, "\(name): the member was contacted", file: file, line: line)
    }

    private func assertRejected(_ name: String, _ request: String, status: Int = 400, file: StaticString = #filePath, line: UInt = #line) throws {
        try assertRejected(name, Array(request.utf8), status: status, file: file, line: line)
    }

    private let host = "Host: webext.contoso.test\r\n"

    func testContentLengthWithTransferEncoding() throws {
        try assertRejected("CL+TE", "POST / HTTP/1.1\r\n\(host)Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX")
        try assertRejected("TE+CL", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX")
    }

    func testDifferingDuplicateContentLength() throws {
        try assertRejected("two CL lines", "POST / HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        try assertRejected("CL list", "POST / HTTP/1.1\r\n\(host)Content-Length: 5, 6\r\n\r\nhello!")
        try assertRejected("signed CL", "POST / HTTP/1.1\r\n\(host)Content-Length: +5\r\n\r\nhello")
    }

    func testTransferEncodingOtherThanFinalChunked() throws {
        try assertRejected("chunked, gzip", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n")
        try assertRejected("gzip", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip\r\n\r\n", status: 501)
        try assertRejected("xchunked", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", status: 501)
        try assertRejected("gzip, chunked", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        try assertRejected("chunked then empty", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n")
        try assertRejected("empty then chunked", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        try assertRejected("chunked twice", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        try assertRejected("identity last", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n")
        try assertRejected("space before colon", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n")
    }

    func testObsoleteLineFolding() throws {
        try assertRejected("obs-fold", "GET / HTTP/1.1\r\n\(host)X-Folded: a\r\n b\r\n\r\n")
        try assertRejected("folded TE", "POST / HTTP/1.1\r\n\(host)Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n")
    }

    func testBareLF() throws {
        try assertRejected("bare LF everywhere", "GET / HTTP/1.1\nHost: webext.contoso.test\n\n")
        try assertRejected("bare LF in fields", "GET / HTTP/1.1\r\n\(host)X-A: 1\nX-B: 2\r\n\r\n")
    }

    func testBareCR() throws {
        try assertRejected("bare CR in value", "GET / HTTP/1.1\r\n\(host)X-A: 1\rX-B: 2\r\n\r\n")
        try assertRejected("bare CR line end", "GET / HTTP/1.1\r\n\(host)X-A: 1\r\r\n\r\n")
    }

    func testNULInHeaderValue() throws {
        try assertRejected("NUL", Array("GET / HTTP/1.1\r\n\(host)X-A: a".utf8) + [0x00] + Array("b\r\n\r\n".utf8))
    }

    func testTransferEncodingOnHTTP10() throws {
        try assertRejected("TE on 1.0", "POST / HTTP/1.0\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    }

    func testMissingOrDuplicateHostOn11() throws {
        try assertRejected("no Host", "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n")
        try assertRejected("two Hosts", "GET / HTTP/1.1\r\n\(host)Host: internal.contoso.local\r\n\r\n")
    }

    func testHeadersOver64KiBGet431() throws {
        let big = "GET / HTTP/1.1\r\n\(host)X-MS-WebTicket: \(String(repeating: "A", count: 66 * 1024))\r\n\r\n"
        try assertRejected("65 KiB field", big, status: 431)
    }

    func testRequestLineOver16KiBGets414() throws {
        let long = "GET /\(String(repeating: "a", count: 17 * 1024)) HTTP/1.1\r\n\(host)\r\n"
        try assertRejected("17 KiB request line", long, status: 414)
    }

    func testLargeLegalHeadPasses() throws {
        // Lync web tickets are big: a 60 KiB field and a 15 KiB target must get through whole.
        let ticket = String(repeating: "T", count: 60 * 1024)
        let target = "/" + String(repeating: "p", count: 15 * 1024)
        let client = try connect(proxy.port)
        try client.send("GET \(target) HTTP/1.1\r\n\(host)X-MS-WebTicket: \(ticket)\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 200)
        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(request.values("x-ms-webticket"), [ticket])
        XCTAssertEqual(String(decoding: request.target, as: UTF8.self), target)
    }

    func testInvalidChunkFramingClosesBothSides() throws {
        // The head was valid and went to a member connection, but the chunked body is not: the
        // client gets 400 and the member connection, which may hold half a request, is closed.
        let client = try connect(proxy.port)
        try client.send("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0x10\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.count, 0, "the member never got a complete request")
        let next = try exchange(proxy.port, get("/next"))
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(backend.requests.count, 1)
        XCTAssertEqual(backend.connectionCount, 2, "the member connection with half a request is not reused")
    }

    /// `max_body` counts payload, so a client padding 1-byte chunks with extensions is stopped
    /// by the body-wide extension limit instead: 400, and the member connection is dropped.
    func testChunkExtensionsOverTheBodyLimitGet400() throws {
        let client = try connect(proxy.port)
        try client.send("POST / HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n")
        // 16 × 4095 extension bytes, then 17 more: the limit is crossed by the last byte sent,
        // so nothing is left unread when the proxy closes (which would reset the connection).
        let padded = "1;" + String(repeating: "e", count: 4094) + "\r\nx\r\n"
        try client.send(String(repeating: padded, count: 16) + "1;" + String(repeating: "e", count: 16))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.count, 0, "the member never got a complete request")
    }

    func testBodyOfRefusedRequestIsNeverReadAsARequest() throws {
        // A refused request's body is not read; the connection closes, so a request hidden in
        // it can never be taken for the next one.
        let hidden = "GET /hidden HTTP/1.1\r\n\(host)\r\n"
        for refusedHost in ["nobody.contoso.test", "webext.contoso.test/x"] {
            let client = try connect(proxy.port)
            try client.send("POST / HTTP/1.1\r\nHost: \(refusedHost)\r\nContent-Length: \(hidden.utf8.count)\r\n\r\n\(hidden)")
            let response = try client.readResponse()
            XCTAssertTrue([400, 404].contains(response.status), "\(refusedHost): \(response.status)")
            XCTAssertTrue(client.waitForClose(timeout: 2))
            XCTAssertTrue(client.unread.isEmpty, String(decoding: client.unread, as: UTF8.self))
        }
        XCTAssertEqual(backend.bytesReceived, 0)
    }

    func testOtherProtocolsAreRefused() throws {
        try assertRejected("CONNECT", "CONNECT internal.contoso.local:443 HTTP/1.1\r\nHost: internal.contoso.local:443\r\n\r\n", status: 405)
        try assertRejected("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
        try assertRejected("HTTP/0.9", "GET /\r\n\r\n")
        try assertRejected("HTTP/1.2", "GET / HTTP/1.2\r\n\(host)\r\n", status: 505)
        try assertRejected("space in target", "GET /a b HTTP/1.1\r\n\(host)\r\n")
        try assertRejected("userinfo authority", "GET http://user@webext.contoso.test/ HTTP/1.1\r\n\(host)\r\n")
    }
}
