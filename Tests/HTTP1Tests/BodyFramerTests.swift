import HTTP1
import XCTest

final class BodyFramerTests: XCTestCase {
    private func chunked(_ s: String) -> [UInt8] { bytes(s) }

    /// Frames `input` whole, one byte at a time and in every two-piece split; all must agree.
    private func checkAllSplits(_ framing: BodyFraming, _ input: [UInt8], consumed: Int, payload: [UInt8],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        for chunk in [nil, 1, 2, 3, 5, 8] as [Int?] {
            let r = try frame(framing, input, chunk: chunk)
            XCTAssertEqual(r.consumed, consumed, "chunk \(String(describing: chunk))", file: file, line: line)
            XCTAssertTrue(r.complete, file: file, line: line)
            XCTAssertEqual(r.payload, payload, file: file, line: line)
        }
        for cut in 0...input.count {
            var framer = BodyFramer(framing)
            let a = Array(input[..<cut])
            let b = Array(input[cut...])
            let p1 = try a.withUnsafeBytes { try framer.consume($0) }
            var total = p1.consumed
            var data = p1.payload.flatMap { a[$0] }
            if !p1.isComplete {
                XCTAssertEqual(p1.consumed, a.count, file: file, line: line)
                let p2 = try b.withUnsafeBytes { try framer.consume($0) }
                XCTAssertTrue(p2.isComplete, "cut \(cut)", file: file, line: line)
                total += p2.consumed
                data += p2.payload.flatMap { b[$0] }
            }
            XCTAssertEqual(total, consumed, "cut \(cut)", file: file, line: line)
            XCTAssertEqual(data, payload, "cut \(cut)", file: file, line: line)
        }
    }

    private func chunkedError(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> HTTPBodyError? {
        chunkedError(bytes(s), file: file, line: line)
    }

    private func chunkedError(_ input: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> HTTPBodyError? {
        var whole: HTTPBodyError?
        do {
            _ = try frame(.chunked, input)
            XCTFail("expected an error", file: file, line: line)
        } catch let e as HTTPBodyError {
            whole = e
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        do {
            _ = try frame(.chunked, input, chunk: 1)
            XCTFail("expected an error byte at a time", file: file, line: line)
        } catch let e as HTTPBodyError {
            XCTAssertEqual(e, whole, "split verdict differs", file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return whole
    }

    // MARK: Content-Length / none / untilClose

    func testContentLengthCountsDown() throws {
        var framer = BodyFramer(.contentLength(10))
        XCTAssertEqual(framer.remainingContentLength, 10)
        let first = try bytes("hello").withUnsafeBytes { try framer.consume($0) }
        XCTAssertEqual(first, BodyProgress(consumed: 5, isComplete: false, payload: [0..<5]))
        XCTAssertEqual(framer.remainingContentLength, 5)
        let second = try bytes("worldGET / HTTP/1.1").withUnsafeBytes { try framer.consume($0) }
        XCTAssertEqual(second, BodyProgress(consumed: 5, isComplete: true, payload: [0..<5]))
        XCTAssertTrue(framer.isComplete)
        XCTAssertEqual(framer.remainingContentLength, 0)
        let after = try bytes("x").withUnsafeBytes { try framer.consume($0) }
        XCTAssertEqual(after, BodyProgress(consumed: 0, isComplete: true, payload: []))
    }

    func testContentLengthAllSplits() throws {
        try checkAllSplits(.contentLength(7), bytes("abcdefgNEXT"), consumed: 7, payload: bytes("abcdefg"))
    }

    func testZeroLengthAndNoneCompleteImmediately() throws {
        for framing in [BodyFraming.none, .contentLength(0)] {
            var framer = BodyFramer(framing)
            XCTAssertTrue(framer.isComplete)
            let p = try bytes("GET").withUnsafeBytes { try framer.consume($0) }
            XCTAssertEqual(p, BodyProgress(consumed: 0, isComplete: true, payload: []))
        }
    }

    func testUntilCloseNeverCompletes() throws {
        var framer = BodyFramer(.untilClose)
        for piece in ["abc", "", "def"] {
            let p = try bytes(piece).withUnsafeBytes { try framer.consume($0) }
            XCTAssertEqual(p.consumed, piece.utf8.count)
            XCTAssertFalse(p.isComplete)
            XCTAssertEqual(p.payload, piece.isEmpty ? [] : [0..<piece.utf8.count])
        }
        XCTAssertNil(framer.remainingContentLength)
    }

    // MARK: Chunked, valid

    func testSimpleChunked() throws {
        let body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        try checkAllSplits(.chunked, bytes(body + "NEXT"), consumed: body.utf8.count, payload: bytes("hello world"))
    }

    func testHexSizesAnyCase() throws {
        let data = String(repeating: "x", count: 26)
        let body = "1a\r\n\(data)\r\n1A\r\n\(data)\r\n00\r\n\r\n"
        try checkAllSplits(.chunked, bytes(body), consumed: body.utf8.count, payload: bytes(data + data))
    }

    func testChunkExtensions() throws {
        let body = "5;name=value\r\nhello\r\n3 ; a ; b = \"q\\\"uoted;\" ;c=tok\r\nabc\r\n0;last\r\n\r\n"
        try checkAllSplits(.chunked, bytes(body), consumed: body.utf8.count, payload: bytes("helloabc"))
    }

    func testTrailers() throws {
        let body = "4\r\ndata\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\n\r\nNEXT"
        try checkAllSplits(.chunked, bytes(body), consumed: body.utf8.count - 4, payload: bytes("data"))
    }

    func testPayloadRangesAreWithinInput() throws {
        var framer = BodyFramer(.chunked)
        let input = bytes("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        let p = try input.withUnsafeBytes { try framer.consume($0) }
        XCTAssertEqual(p.payload, [3..<6, 11..<13])
        XCTAssertEqual(p.consumed, input.count)
        XCTAssertTrue(p.isComplete)
    }

    func testLargeChunkCountsInBulk() throws {
        let size = 100_000
        let input = bytes(String(size, radix: 16) + "\r\n") + [UInt8](repeating: 0x41, count: size) + bytes("\r\n0\r\n\r\n")
        let r = try frame(.chunked, input, chunk: 4096)
        XCTAssertEqual(r.consumed, input.count)
        XCTAssertTrue(r.complete)
        XCTAssertEqual(r.payload.count, size)
    }

    func testMaxChunkSizeAccepted() throws {
        var framer = BodyFramer(.chunked)
        let p = try bytes("4000000000000000\r\nabc").withUnsafeBytes { try framer.consume($0) }
        XCTAssertEqual(p.payload, [18..<21])
        XCTAssertFalse(p.isComplete)
    }

    // MARK: Chunked, invalid

    func testBadHex() {
        XCTAssertEqual(chunkedError("g\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError("5g\r\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError("0x5\r\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
    }

    func testSignedAndEmptySizes() {
        XCTAssertEqual(chunkedError("+5\r\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError("-5\r\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError("\r\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError(";ext\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError(" 5\r\n"), .invalidChunkSize)
    }

    func testOverflow() {
        XCTAssertEqual(chunkedError("4000000000000001\r\n"), .chunkSizeOverflow)
        XCTAssertEqual(chunkedError("ffffffffffffffffff\r\n"), .chunkSizeOverflow)
        XCTAssertEqual(chunkedError("10000000000000000\r\n"), .chunkSizeOverflow)
    }

    func testMissingCRLFAfterData() {
        XCTAssertEqual(chunkedError("5\r\nhelloX\r\n0\r\n\r\n"), .missingChunkDataCRLF)
        XCTAssertEqual(chunkedError("5\r\nhello\rX0\r\n\r\n"), .missingChunkDataCRLF)
        XCTAssertEqual(chunkedError("5\r\nhello\n0\r\n\r\n"), .missingChunkDataCRLF)
    }

    func testBareLineEndingsInSizeLine() {
        XCTAssertEqual(chunkedError("5\nhello\r\n0\r\n\r\n"), .invalidChunkSize)
        XCTAssertEqual(chunkedError("5\rhello\r\n0\r\n\r\n"), .invalidLineEnding)
        XCTAssertEqual(chunkedError("5;a\nhello\r\n"), .invalidChunkExtension)
        XCTAssertEqual(chunkedError("5;a=\"x\ny\"\r\nhello\r\n"), .invalidChunkExtension)
    }

    func testTrailingWhitespaceWithoutExtension() {
        XCTAssertEqual(chunkedError("5 \r\nhello\r\n0\r\n\r\n"), .invalidChunkExtension)
    }

    func testMalformedExtensions() {
        XCTAssertEqual(chunkedError("5;\r\nhello\r\n"), .invalidChunkExtension)
        XCTAssertEqual(chunkedError("5;=v\r\nhello\r\n"), .invalidChunkExtension)
        XCTAssertEqual(chunkedError("5;a=\r\nhello\r\n"), .invalidChunkExtension)
        XCTAssertEqual(chunkedError("5;a=\"unterminated\r\nhello\r\n"), .invalidLineEnding)
        XCTAssertEqual(chunkedError("5;a=b c\r\nhello\r\n"), .invalidChunkExtension)
        XCTAssertEqual(chunkedError(bytes("5;a=") + [0x00] + bytes("\r\nhello\r\n")), .invalidChunkExtension)
    }

    func testExtensionLineBounded() throws {
        let atLimit = "5;" + String(repeating: "a", count: BodyFramer.maxChunkLineBytes - 2)
        let ok = try frame(.chunked, bytes(atLimit + "\r\nhello\r\n0\r\n\r\n"), chunk: 1)
        XCTAssertTrue(ok.complete)
        XCTAssertEqual(chunkedError(atLimit + "a\r\nhello\r\n0\r\n\r\n"), .chunkLineTooLong)
        // Leading zeros count against the same bound.
        XCTAssertEqual(chunkedError(String(repeating: "0", count: 5000) + "5\r\n"), .chunkLineTooLong)
    }

    /// Chunk extensions are framing a client chooses freely and `max_body` does not see: one
    /// body may carry at most `maxChunkExtensionBytes` of them, over all its chunks.
    func testExtensionsBoundedOverTheWholeBody() throws {
        // 2048 extension bytes per chunk (";" and 2047 letters), 32 chunks: exactly the limit.
        let chunk = "1;" + String(repeating: "e", count: 2047) + "\r\nx\r\n"
        let count = BodyFramer.maxChunkExtensionBytes / 2048
        let atLimit = String(repeating: chunk, count: count)
        let ok = try frame(.chunked, bytes(atLimit + "0\r\n\r\n"))
        XCTAssertTrue(ok.complete)
        XCTAssertEqual(ok.payload.count, count)
        XCTAssertEqual(chunkedError(atLimit + "1;e\r\nx\r\n0\r\n\r\n"), .chunkExtensionsTooLarge)
        XCTAssertEqual(chunkedError(atLimit + "0;e\r\n\r\n"), .chunkExtensionsTooLarge, "the last chunk's too")
        XCTAssertEqual(chunkedError(atLimit + "1 \r\nx\r\n"), .chunkExtensionsTooLarge, "whitespace before an extension counts")
        // Split anywhere, the verdict is the same.
        XCTAssertEqual(try? frame(.chunked, bytes(atLimit + "0\r\n\r\n"), chunk: 7).complete, true)
        XCTAssertThrowsError(try frame(.chunked, bytes(atLimit + "1;e\r\nx\r\n"), chunk: 7)) { error in
            XCTAssertEqual(error as? HTTPBodyError, .chunkExtensionsTooLarge)
        }
        // Plain chunk-size lines count nothing, however many.
        let plain = String(repeating: "1\r\nx\r\n", count: 100_000) + "0\r\n\r\n"
        XCTAssertTrue(try frame(.chunked, bytes(plain)).complete)
    }

    func testInvalidTrailers() {
        XCTAssertEqual(chunkedError("0\r\nX-A: 1\r\n folded\r\n\r\n"), .invalidTrailerField)
        XCTAssertEqual(chunkedError("0\r\nX-A : 1\r\n\r\n"), .invalidTrailerField)
        XCTAssertEqual(chunkedError("0\r\n: 1\r\n\r\n"), .invalidTrailerField)
        XCTAssertEqual(chunkedError("0\r\nNoColon\r\n\r\n"), .invalidTrailerField)
        XCTAssertEqual(chunkedError(bytes("0\r\nX-A: a") + [0x00] + bytes("\r\n\r\n")), .invalidTrailerField)
        XCTAssertEqual(chunkedError("0\r\nX-A: 1\n\r\n"), .invalidLineEnding)
        XCTAssertEqual(chunkedError("0\r\nX-A: 1\rX\r\n\r\n"), .invalidLineEnding)
        XCTAssertEqual(chunkedError("0\r\n\rX"), .invalidLineEnding)
        XCTAssertEqual(chunkedError("0\r\n\n"), .invalidLineEnding)
    }

    func testTrailersBounded() throws {
        let line = "X-Pad: " + String(repeating: "p", count: 100) + "\r\n"
        var trailers = ""
        while trailers.utf8.count + line.utf8.count + 2 <= BodyFramer.maxTrailerBytes { trailers += line }
        let ok = try frame(.chunked, bytes("0\r\n" + trailers + "\r\n"))
        XCTAssertTrue(ok.complete)
        let big = String(repeating: line, count: BodyFramer.maxTrailerBytes / line.utf8.count + 1)
        XCTAssertEqual(chunkedError("0\r\n" + big + "\r\n"), .trailersTooLarge)
    }

    func testErrorsAreSticky() throws {
        var framer = BodyFramer(.chunked)
        XCTAssertThrowsError(try bytes("z").withUnsafeBytes { try framer.consume($0) })
        XCTAssertThrowsError(try bytes("0\r\n\r\n").withUnsafeBytes { try framer.consume($0) }) { error in
            XCTAssertEqual(error as? HTTPBodyError, .invalidChunkSize)
        }
    }
}
