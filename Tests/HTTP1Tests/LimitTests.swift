import HTTP1
import XCTest

final class LimitTests: XCTestCase {
    /// A request line of exactly `length` bytes (CRLF not counted).
    private func requestLine(length: Int) -> String {
        let fixed = "GET / HTTP/1.1".utf8.count
        return "GET /" + String(repeating: "a", count: length - fixed) + " HTTP/1.1"
    }

    func testRequestLineAtLimit() {
        let limits = HeadLimits()
        XCTAssertEqual(limits.maxRequestLine, 16 * 1024)
        for length in [limits.maxRequestLine - 1, limits.maxRequestLine] {
            let input = bytes(requestLine(length: length) + "\r\nHost: h\r\n\r\n")
            let (whole, _) = feed(input)
            guard case .request(let head, _) = whole else { return XCTFail("length \(length): \(whole)") }
            XCTAssertEqual(head.target.count, length - "GET  HTTP/1.1".utf8.count)
            let (split, _) = feed(input, chunk: 1)
            assertSameResult(split, whole)
        }
    }

    func testRequestLineOverLimitIs414() {
        let limits = HeadLimits()
        let error = requestError(requestLine(length: limits.maxRequestLine + 1) + "\r\nHost: h\r\n\r\n")
        XCTAssertEqual(error, .requestLineTooLong)
        XCTAssertEqual(error?.status, 414)
    }

    func testEndlessRequestLineFailsBeforeItsEnd() {
        var parser = HeadParser(kind: .request, limits: HeadLimits(maxRequestLine: 100))
        let start = bytes("GET /")
        XCTAssertEqual(start.withUnsafeBytes { parser.parse($0) }, .needMore(consumed: start.count))
        let chunk = [UInt8](repeating: 0x61, count: 95)
        XCTAssertEqual(chunk.withUnsafeBytes { parser.parse($0) }, .needMore(consumed: 95))
        XCTAssertEqual([UInt8]([0x0D]).withUnsafeBytes { parser.parse($0) }, .needMore(consumed: 1), "could still be the CR of a 100-byte line")
        XCTAssertEqual([UInt8]([0x61]).withUnsafeBytes { parser.parse($0) }, .failure(.requestLineTooLong))
    }

    func testSmallRequestLineLimitAllSplits() {
        let limits = HeadLimits(maxRequestLine: 20)
        let ok = bytes(requestLine(length: 20) + "\r\nHost: h\r\n\r\n")
        let bad = bytes(requestLine(length: 21) + "\r\nHost: h\r\n\r\n")
        for chunk in 1...ok.count {
            guard case .request = feed(ok, limits: limits, chunk: chunk).0 else { return XCTFail("chunk \(chunk)") }
            XCTAssertEqual(feed(bad, limits: limits, chunk: chunk).0, .failure(.requestLineTooLong), "chunk \(chunk)")
        }
    }

    /// A request whose field section (field lines with CRLFs) is exactly `size` bytes.
    private func request(headerBytes size: Int) -> String {
        let host = "Host: h\r\n"
        let fixed = host.utf8.count + "X: \r\n".utf8.count
        return "GET / HTTP/1.1\r\n" + host + "X: " + String(repeating: "v", count: size - fixed) + "\r\n\r\n"
    }

    func testHeaderSectionAtLimit() {
        let limits = HeadLimits()
        XCTAssertEqual(limits.maxHeaderBytes, 64 * 1024)
        for size in [limits.maxHeaderBytes - 1, limits.maxHeaderBytes] {
            let input = bytes(request(headerBytes: size))
            let (whole, consumed) = feed(input)
            guard case .request = whole else { return XCTFail("size \(size): \(whole)") }
            XCTAssertEqual(consumed, input.count)
            assertSameResult(feed(input, chunk: 1).0, whole)
        }
    }

    func testHeaderSectionOverLimitIs431() {
        let error = requestError(request(headerBytes: HeadLimits().maxHeaderBytes + 1))
        XCTAssertEqual(error, .headersTooLarge)
        XCTAssertEqual(error?.status, 431)
    }

    func testSmallHeaderLimitAllSplits() {
        let limits = HeadLimits(maxHeaderBytes: 30)
        let ok = bytes(request(headerBytes: 30))
        let bad = bytes(request(headerBytes: 31))
        for chunk in 1...ok.count {
            guard case .request = feed(ok, limits: limits, chunk: chunk).0 else { return XCTFail("chunk \(chunk)") }
            XCTAssertEqual(feed(bad, limits: limits, chunk: chunk).0, .failure(.headersTooLarge), "chunk \(chunk)")
        }
    }

    func testEndlessHeaderLineFailsBeforeItsEnd() {
        var parser = HeadParser(kind: .request, limits: HeadLimits(maxHeaderBytes: 50))
        let start = bytes("GET / HTTP/1.1\r\nX: ")
        XCTAssertEqual(start.withUnsafeBytes { parser.parse($0) }, .needMore(consumed: start.count))
        let filler = [UInt8](repeating: 0x76, count: 100)
        XCTAssertEqual(filler.withUnsafeBytes { parser.parse($0) }, .failure(.headersTooLarge))
    }

    private func request(fieldCount: Int) -> String {
        var s = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 1..<fieldCount { s += "X-\(i): \(i)\r\n" }
        return s + "\r\n"
    }

    func testHeaderCountAtLimit() throws {
        let limits = HeadLimits()
        XCTAssertEqual(limits.maxHeaderCount, 256)
        XCTAssertEqual(parseRequest(request(fieldCount: 255))?.headers.count, 255)
        XCTAssertEqual(parseRequest(request(fieldCount: 256))?.headers.count, 256)
        let error = requestError(request(fieldCount: 257))
        XCTAssertEqual(error, .tooManyHeaders)
        XCTAssertEqual(error?.status, 431)
    }

    func testStatusLineUsesRequestLineLimit() {
        let reason = String(repeating: "r", count: 100)
        let (result, _) = feed(bytes("HTTP/1.1 200 \(reason)\r\n\r\n"), kind: .response, limits: HeadLimits(maxRequestLine: 50))
        XCTAssertEqual(result, .failure(.requestLineTooLong))
    }
}
