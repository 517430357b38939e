import HTTP1
import XCTest

/// Splitting the input anywhere must not change the result.
final class IncrementalTests: XCTestCase {
    static let requests: [[UInt8]] = [
        bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        bytes("\r\nGET /Autodiscover/AutodiscoverService.svc/root?sipuri=a@b HTTP/1.1\r\nHost: lyncdiscover.example.com\r\nAccept: application/vnd.microsoft.rtc.autodiscover+xml;v=1\r\nX-Ms-Origin: https://example.com\r\n\r\n"),
        bytes("POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: pool.example.com\r\nContent-Type: application/x-www-form-urlencoded;charset=UTF-8\r\nContent-Length: 42\r\nExpect: 100-continue\r\n\r\n"),
        bytes("POST /ucwa/v1/applications HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n"),
        bytes("GET /chat HTTP/1.1\r\nHost: h:443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
        bytes("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
        bytes("GET http://h.example:8080/a?b HTTP/1.1\r\nHost: ignored\r\n\r\n"),
        bytes("GET /old HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n"),
        bytes("GET /caf") + [0xC3, 0xA9, 0xFF] + bytes("%2F%25 HTTP/1.1\r\nHost: h\r\nX-Bin: \t") + [0x80, 0xFE] + bytes(" \t\r\nx:\r\n\r\n"),
    ]

    static let responses: [[UInt8]] = [
        bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        bytes("HTTP/1.1 204 No Content\r\n\r\n"),
        bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
        bytes("HTTP/1.0 200\r\nServer: x\r\n\r\n"),
        bytes("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nWWW-Authenticate: Negotiate\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nTransfer-Encoding: chunked\r\n\r\n"),
        bytes("HTTP/1.1 100 Continue\r\n\r\n"),
    ]

    private func check(_ input: [UInt8], kind: MessageKind) {
        // Trailing bytes after the head must never be consumed.
        let trailing = bytes("BODYBYTES")
        let stream = input + trailing
        let (whole, consumed) = feed(stream, kind: kind)
        switch whole {
        case .request, .response: break
        default: return XCTFail("\(text(input)): \(whole)")
        }
        XCTAssertEqual(consumed, input.count)
        for chunk in [1, 2, 3, 5, 7, 16] {
            let (split, splitConsumed) = feed(stream, kind: kind, chunk: chunk)
            assertSameResult(split, whole, "chunk \(chunk)")
            XCTAssertEqual(splitConsumed, input.count, "chunk \(chunk)")
        }
        // Every two-piece split.
        for cut in 0...stream.count {
            var parser = HeadParser(kind: kind, limits: HeadLimits())
            let first = stream[..<cut].withUnsafeBytes { parser.parse($0) }
            var total = 0
            var result = first
            switch first {
            case .needMore(let c):
                total = c
                result = stream[cut...].withUnsafeBytes { parser.parse($0) }
                if case .request(_, let c2) = result { total += c2 }
                if case .response(_, let c2) = result { total += c2 }
            case .request(_, let c), .response(_, let c):
                total = c
            case .failure:
                break
            }
            XCTAssertEqual(total, input.count, "cut \(cut)")
            assertSameResult(result, whole, "cut \(cut)")
        }
    }

    func testRequestCorpusAnySplit() {
        for input in Self.requests { check(input, kind: .request) }
    }

    func testResponseCorpusAnySplit() {
        for input in Self.responses { check(input, kind: .response) }
    }

    func testByteAtATimeEqualsWhole() {
        for (input, kind) in Self.requests.map({ ($0, MessageKind.request) }) + Self.responses.map({ ($0, MessageKind.response) }) {
            let (whole, wholeConsumed) = feed(input, kind: kind)
            let (split, splitConsumed) = feed(input, kind: kind, chunk: 1)
            assertSameResult(split, whole)
            XCTAssertEqual(splitConsumed, wholeConsumed)
        }
    }

    /// A head that arrives whole is parsed where it lies; one that does not is gathered in the
    /// parser's buffer. Three pieces cut anywhere move from the first way to the second at every
    /// byte position (after leading empty lines, inside the start line, inside a field, between
    /// CR and LF) and must give the same head, the same bytes and the same `consumed`.
    func testEveryThreePieceSplitEqualsWhole() {
        let inputs: [([UInt8], MessageKind)] = [
            (Self.requests[1], .request),
            (Self.requests[3], .request),
            (Self.responses[4], .response),
        ]
        for (input, kind) in inputs {
            let stream = input + bytes("NEXT")
            let (whole, _) = feed(stream, kind: kind)
            for first in 0...input.count {
                for second in first...input.count {
                    var parser = HeadParser(kind: kind, limits: HeadLimits())
                    var offset = 0
                    var result = HeadParseResult.needMore(consumed: 0)
                    for piece in [stream[..<first], stream[first..<second], stream[second...]] {
                        result = piece.withUnsafeBytes { parser.parse($0) }
                        guard case .needMore(let consumed) = result else { break }
                        XCTAssertEqual(consumed, piece.count)
                        offset += consumed
                    }
                    switch result {
                    case .request(let head, let consumed):
                        XCTAssertEqual(offset + consumed, input.count, "cuts \(first) \(second)")
                        XCTAssertEqual(head.rawBytes, Array(stream[(input.count - head.rawBytes.count)..<input.count]))
                    case .response(let head, let consumed):
                        XCTAssertEqual(offset + consumed, input.count, "cuts \(first) \(second)")
                        XCTAssertEqual(head.rawBytes, input)
                    default:
                        XCTFail("cuts \(first) \(second): \(result)")
                    }
                    assertSameResult(result, whole, "cuts \(first) \(second)")
                }
            }
        }
    }

    /// Invalid heads fail with the same error however they are split, whether the bad line is
    /// seen in place or in the buffer.
    func testErrorsAreTheSameInAnySplit() {
        let invalid: [[UInt8]] = [
            bytes("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"),
            bytes("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"),
            bytes("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
            bytes("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            bytes("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            bytes("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\nHost: h\r\n\r\n"),
            bytes("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n"),
        ]
        for input in invalid {
            let (whole, _) = feed(input)
            guard case .failure = whole else {
                XCTFail("\(text(input)) parsed: \(whole)")
                continue
            }
            for cut in 0...input.count {
                var parser = HeadParser(kind: .request, limits: HeadLimits())
                var result = input[..<cut].withUnsafeBytes { parser.parse($0) }
                if case .needMore = result { result = input[cut...].withUnsafeBytes { parser.parse($0) } }
                assertSameResult(result, whole, "\(text(input)) cut \(cut)")
            }
        }
    }

    func testPipelinedCorpusInOneBuffer() {
        let stream = Self.requests.reduce([], +)
        var parser = HeadParser(kind: .request, limits: HeadLimits())
        var offset = 0
        var count = 0
        while offset < stream.count {
            let result = stream[offset...].withUnsafeBytes { parser.parse($0) }
            guard case .request(_, let consumed) = result else { return XCTFail("\(result) at \(offset)") }
            offset += consumed
            count += 1
            parser.reset()
        }
        XCTAssertEqual(count, Self.requests.count)
    }
}
