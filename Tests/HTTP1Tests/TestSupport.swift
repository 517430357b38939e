import HTTP1
import XCTest

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func text(_ b: some Sequence<UInt8>) -> String { String(decoding: Array(b), as: UTF8.self) }

/// Feeds `input` in pieces of `chunk` bytes (all of it at once when nil) until a result other
/// than needMore, and returns it with the total number of bytes consumed.
func feed(_ input: [UInt8], kind: MessageKind = .request, limits: HeadLimits = HeadLimits(), chunk: Int? = nil) -> (HeadParseResult, Int) {
    var parser = HeadParser(kind: kind, limits: limits)
    return feed(&parser, input, chunk: chunk)
}

func feed(_ parser: inout HeadParser, _ input: [UInt8], chunk: Int? = nil) -> (HeadParseResult, Int) {
    let step = max(1, chunk ?? input.count)
    var offset = 0
    var last = HeadParseResult.needMore(consumed: 0)
    repeat {
        let end = min(input.count, offset + step)
        let result = input[offset..<end].withUnsafeBytes { parser.parse($0) }
        switch result {
        case .needMore(let consumed):
            offset += consumed
            last = result
        case .request(_, let consumed), .response(_, let consumed):
            return (result, offset + consumed)
        case .failure:
            return (result, offset)
        }
    } while offset < input.count
    return (last, offset)
}

func parseRequest(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> RequestHead? {
    parseRequest(bytes(s), file: file, line: line)
}

func parseRequest(_ b: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> RequestHead? {
    let (result, _) = feed(b)
    guard case .request(let head, _) = result else {
        XCTFail("expected a request head, got \(result)", file: file, line: line)
        return nil
    }
    return head
}

func parseResponse(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> ResponseHead? {
    let (result, _) = feed(bytes(s), kind: .response)
    guard case .response(let head, _) = result else {
        XCTFail("expected a response head, got \(result)", file: file, line: line)
        return nil
    }
    return head
}

/// The error a request head fails with, or nil (with a test failure) when it parses.
func requestError(_ b: [UInt8], limits: HeadLimits = HeadLimits(), file: StaticString = #filePath, line: UInt = #line) -> HTTPHeadError? {
    let (result, _) = feed(b, limits: limits)
    guard case .failure(let error) = result else {
        XCTFail("expected a failure, got \(result)", file: file, line: line)
        return nil
    }
    // Whatever the split, the verdict must be the same.
    let (split, _) = feed(b, limits: limits, chunk: 1)
    assertSameResult(split, result, "byte-at-a-time verdict differs", file: file, line: line)
    return error
}

func requestError(_ s: String, limits: HeadLimits = HeadLimits(), file: StaticString = #filePath, line: UInt = #line) -> HTTPHeadError? {
    requestError(bytes(s), limits: limits, file: file, line: line)
}

func responseError(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> HTTPHeadError? {
    let (result, _) = feed(bytes(s), kind: .response)
    guard case .failure(let error) = result else {
        XCTFail("expected a failure, got \(result)", file: file, line: line)
        return nil
    }
    return error
}

/// Runs a body framer over `input` in pieces of `chunk` bytes; returns total consumed,
/// completion and the concatenated payload.
func frame(_ framing: BodyFraming, _ input: [UInt8], chunk: Int? = nil) throws -> (consumed: Int, complete: Bool, payload: [UInt8]) {
    var framer = BodyFramer(framing)
    let step = max(1, chunk ?? max(1, input.count))
    var offset = 0
    var payload: [UInt8] = []
    var complete = framer.isComplete
    while offset < input.count && !complete {
        let end = min(input.count, offset + step)
        let piece = Array(input[offset..<end])
        let progress = try piece.withUnsafeBytes { try framer.consume($0) }
        for r in progress.payload {
            XCTAssertLessThanOrEqual(r.upperBound, progress.consumed)
            payload += piece[r]
        }
        offset += progress.consumed
        complete = progress.isComplete
        if progress.consumed < piece.count && !complete {
            XCTFail("framer stopped early without completing")
            break
        }
    }
    return (offset, complete, payload)
}

/// The result with `consumed` zeroed, so results of differently split feeds compare equal.
func normalized(_ r: HeadParseResult) -> HeadParseResult {
    switch r {
    case .request(let h, _): return .request(h, consumed: 0)
    case .response(let h, _): return .response(h, consumed: 0)
    case .needMore: return .needMore(consumed: 0)
    case .failure: return r
    }
}

/// Same head (or same error), ignoring per-call `consumed`; compared without printing big heads.
func assertSameResult(_ a: HeadParseResult, _ b: HeadParseResult, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(normalized(a) == normalized(b), "results differ \(message)", file: file, line: line)
}

/// A forwarded head names the resource the received one did: the same target byte for byte,
/// except that an absolute-form target goes out in origin-form (same path and query).
func assertSameResource(_ forwarded: RequestHead, _ received: RequestHead, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(Array(forwarded.path), Array(received.path), file: file, line: line)
    XCTAssertEqual(forwarded.query.map(Array.init), received.query.map(Array.init), file: file, line: line)
    if received.targetForm != .absolute { XCTAssertEqual(Array(forwarded.target), Array(received.target), file: file, line: line) }
}
