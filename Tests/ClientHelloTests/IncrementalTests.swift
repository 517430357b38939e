import ClientHello
import XCTest

final class IncrementalTests: XCTestCase {
    private var samples: [[UInt8]] {
        var psk = HelloBuilder()
        psk.extensions = [Ext.serverName("psk.example"), Ext.preSharedKey]
        return [HelloBuilder().bytes, psk.bytes, ParsingTests.openSSLHello]
    }

    func testEverySplitBoundaryGivesTheSameResult() {
        for bytes in samples {
            let whole = parseWhole(bytes)
            XCTAssertNotNil(whole.info)
            for cut in 0...bytes.count {
                XCTAssertEqual(parseInSteps(bytes, cuts: [cut]), whole, "cut at \(cut)")
            }
            for cut in 0..<bytes.count {
                var parser = ClientHelloParser()
                let r = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[..<cut])) }
                XCTAssertEqual(r, .needMore, "prefix of \(cut) bytes")
            }
        }
    }

    func testOneByteAtATime() {
        for bytes in samples {
            XCTAssertEqual(parseByteByByte(bytes), parseWhole(bytes))
        }
    }

    func testFragmentedAcrossTwoAndThreeRecords() throws {
        let b = HelloBuilder()
        let single = try XCTUnwrap(parseWhole(b.bytes).info)
        let n = b.handshake.count
        for fragments in [[1], [2], [3], [4], [5], [n / 2], [n - 1], [1, 1], [2, 3], [40, 40], [n / 3, n / 3], [3, n - 4]] {
            let bytes = b.records(fragments)
            let expectedRecords = fragments.count + 1
            XCTAssertEqual(bytes.count, n + 5 * expectedRecords)
            var info = single
            info.byteCount = bytes.count
            XCTAssertEqual(parseWhole(bytes), .complete(info), "fragments \(fragments)")
            XCTAssertEqual(parseByteByByte(bytes), .complete(info), "fragments \(fragments)")
            for cut in stride(from: 0, through: bytes.count, by: 7) {
                XCTAssertEqual(parseInSteps(bytes, cuts: [cut]), .complete(info))
            }
        }
        // One record per byte.
        let tiny = b.records(Array(repeating: 1, count: n))
        XCTAssertEqual(parseWhole(tiny).info?.serverName, "webext.contoso.test")
        XCTAssertEqual(parseWhole(tiny).info?.byteCount, 6 * n)
    }

    func testDecisionIsStickyAndShorterInputStartsOver() {
        let good = HelloBuilder().bytes
        var parser = ClientHelloParser()
        let first = good.withUnsafeBytes { parser.parse($0) }
        XCTAssertNotNil(first.info)
        XCTAssertEqual(good.withUnsafeBytes { parser.parse($0) }, first)
        // A shorter buffer than already examined means a new connection's bytes.
        let http = ascii("GET / HTTP/1.1\r\n")
        XCTAssertEqual(http.withUnsafeBytes { parser.parse($0) }, .invalid(.notTLS))
    }

    func testEmptyInputNeedsMore() {
        XCTAssertEqual(parseWhole([]), .needMore)
        XCTAssertEqual(parseWhole([22]), .needMore)
        XCTAssertEqual(parseWhole([22, 3, 1, 0]), .needMore)
        XCTAssertEqual(parseWhole([22, 3, 1, 0, 10, 1]), .needMore)
    }
}
