import Foundation
import XCTest

/// Bodies stream through verbatim: chunked framing (sizes, extensions, trailers) reaches the
/// other side unchanged in both directions, `Expect: 100-continue` lets the member speak
/// first, large bodies pass with backpressure, and `max_body` stops uploads with 413.
final class BodyTests: ProxyTestCase {
    func testExpectContinueMemberAnswers100ThenGetsTheBody() throws {
        let backend = try startBackend(
            onHead: { request in
                request.values("expect") == ["100-continue"] ? Array("HTTP/1.1 100 Continue\r\n\r\n".utf8) : nil
            },
            respond: { request in .send(RecordingBackend.ok("got \(request.body.count)")) }
        )
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send("POST /RgsClients/Upload HTTP/1.1\r\nHost: webext.contoso.test\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        let interim = try client.readResponse(skipInterim: false)
        XCTAssertEqual(interim.status, 100)
        XCTAssertEqual(interim.headText, "HTTP/1.1 100 Continue\r\n\r\n")
        XCTAssertEqual(backend.requests.count, 0, "the body has not been sent yet")
        try client.send("hello world")
        let final = try client.readResponse()
        XCTAssertEqual(final.status, 200)
        XCTAssertEqual(final.bodyText, "got 11")
        XCTAssertEqual(backend.requests.first.map { String(decoding: $0.body, as: UTF8.self) }, "hello world")
    }

    func testChunkedRequestBodyForwardedVerbatim() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok("\(request.body.count)")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        let body = "5\r\nhello\r\n6;name=\"v a\"\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n"
        try client.send("POST /ucwa/v1/applications HTTP/1.1\r\nHost: webext.contoso.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        // Trickled in odd pieces: the framing must not depend on how bytes arrive.
        let bytes = Array(body.utf8)
        var index = 0
        for size in [1, 2, 7, 3, 11, 5] where index < bytes.count {
            try client.send(Array(bytes[index..<min(bytes.count, index + size)]))
            index += size
            Thread.sleep(forTimeInterval: 0.005)
        }
        try client.send(Array(bytes[min(bytes.count, index)...]))
        XCTAssertEqual(try client.readResponse().bodyText, "\(bytes.count)")
        let request = try XCTUnwrap(backend.requests.first)
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), body)
        XCTAssertEqual(request.values("transfer-encoding"), ["chunked"])
        XCTAssertEqual(request.values("content-length"), [])
        // The connection is still in step: a second request works.
        try client.send(get("/next"))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertEqual(backend.requests.count, 2)
    }

    func testChunkedResponseForwardedVerbatim() throws {
        let chunked = "4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: done\r\n\r\n"
        let backend = try startBackend { _ in
            .send(Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked).utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/chunked"))
        let response = try client.readResponse()
        XCTAssertEqual(response.values("transfer-encoding"), ["chunked"])
        XCTAssertEqual(response.bodyText, chunked)
        try client.send(get("/again"))
        XCTAssertEqual(try client.readResponse().bodyText, chunked)
        XCTAssertEqual(backend.connectionCount, 1)
    }

    func testChunkedResponseToHTTP10ClientIsDechunked() throws {
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n".utf8))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/", version: "1.0"))
        let response = try client.readResponse()
        XCTAssertEqual(response.values("transfer-encoding"), [])
        XCTAssertEqual(response.bodyText, "Wikipedia")
        XCTAssertTrue(client.isClosed)
    }

    func testLargeBodiesStreamBothWays() throws {
        let size = 3 * 1024 * 1024
        let download = [UInt8](repeating: 0x61, count: size)
        let backend = try startBackend { request in
            .send(Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + download)
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        let upload = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try client.send(Array("PUT /big HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: \(size)\r\n\r\n".utf8) + upload)
        let response = try client.readResponse(timeout: 20)
        XCTAssertEqual(response.body.count, size)
        XCTAssertEqual(backend.requests.first?.body == upload, true)
    }

    func testMaxBodyByContentLengthGives413WithoutContactingMember() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "max_body: 1KiB"))
        let client = try connect(proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 5000\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.first("connection"), "close")
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.bytesReceived, 0)
    }

    func testMaxBodyByChunkedStreamGives413() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "max_body: 1KiB"))
        let client = try connect(proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = "400\r\n" + String(repeating: "x", count: 1024) + "\r\n"
        try client.send(chunk + chunk)
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.count, 0, "the member never saw a complete request")
    }

    func testChunkExtensionsCountAgainstMaxBody() throws {
        // 1 KiB of payload would pass; the extensions a client adds count with it.
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "max_body: 1KiB"))
        let client = try connect(proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = "1;" + String(repeating: "e", count: 200) + "\r\nx\r\n"
        try client.send(String(repeating: chunk, count: 6))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.count, 0, "the member never saw a complete request")
    }

    func testBodyWithinMaxBodyPasses() throws {
        let backend = try startBackend { request in .send(RecordingBackend.ok("\(request.body.count)")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "max_body: 1KiB"))
        let response = try exchange(proxy.port, "POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nContent-Length: 1024\r\n\r\n" + String(repeating: "y", count: 1024))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "1024")
    }

    func testChunkedBodyWithinMaxBodyPasses() throws {
        // max_body limits the payload; chunk-size lines and CRLFs are framing, not body.
        let backend = try startBackend { request in .send(RecordingBackend.ok("\(request.body.count)")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member], rule: "max_body: 1KiB"))
        let chunked = "200\r\n" + String(repeating: "y", count: 512) + "\r\n" + "200\r\n" + String(repeating: "z", count: 512) + "\r\n0\r\n\r\n"
        let response = try exchange(proxy.port, "POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bodyText, "\(chunked.utf8.count)")
    }

    func testInterimResponsesReachHTTP11ClientsOnly() throws {
        let backend = try startBackend { _ in
            .send(Array("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n".utf8) + RecordingBackend.ok("final"))
        }
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send(get("/"))
        let hints = try client.readResponse(skipInterim: false)
        XCTAssertEqual(hints.status, 103)
        XCTAssertEqual(hints.values("link"), ["</s.css>; rel=preload"])
        XCTAssertEqual(try client.readResponse(skipInterim: false).bodyText, "final")

        let old = try connect(proxy.port)
        try old.send(get("/", version: "1.0"))
        let response = try old.readResponse(skipInterim: false)
        XCTAssertEqual(response.status, 200, "HTTP/1.0 has no interim responses")
    }

    func testFinalAnswerBeforeExpectedBodyClosesBothConnections() throws {
        // The member refuses before the body (401 instead of 100): whatever the client sends
        // next may be that body, so neither connection can be trusted to be in step.
        let backend = try startBackend(
            onHead: { _ in RecordingBackend.response(status: "401 Unauthorized", headers: ["WWW-Authenticate: Negotiate"]) },
            respond: { _ in .send(RecordingBackend.ok("late")) }
        )
        let proxy = try startProxy(simpleYAML(members: [backend.member]))
        let client = try connect(proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: webext.contoso.test\r\nExpect: 100-continue\r\nContent-Length: 37\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.first("connection"), "close")
        XCTAssertTrue(client.waitForClose(timeout: 2))
        XCTAssertEqual(backend.requests.count, 0)
    }
}
