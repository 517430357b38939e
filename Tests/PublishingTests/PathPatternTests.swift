import Publishing
import XCTest

final class PathPatternTests: XCTestCase {
    func testMatchingTable() throws {
        let table: [(pattern: String, path: String, matches: Bool)] = [
            ("/*", "/", true),
            ("/*", "/anything/at/all", true),
            ("/*", "", true),
            ("/abs/*", "/abs", true),
            ("/abs/*", "/abs/", true),
            ("/abs/*", "/abs/handler/f-1299.lsabs", true),
            ("/abs/*", "/ABS/Handler", true),
            ("/abs/*", "/absx", false),
            ("/abs/*", "/ab", false),
            ("/abs/*", "/", false),
            ("/abs/*", "/abs%2Fhandler", false),
            ("/abs/*", "/%61bs/x", false),
            ("/Meet", "/meet", true),
            ("/meet", "/MEET", true),
            ("/meet", "/meet/", false),
            ("/meet", "/meetx", false),
            ("/meet", "/mee", false),
            ("/DataCollabWeb/Ext/*", "/datacollabweb/ext/Handler/x", true),
            ("/caf%C3%A9", "/café", true),
            ("/a%20b/*", "/A b/c", true),
        ]
        for row in table {
            let pattern = try XCTUnwrap(PathPattern(row.pattern), row.pattern)
            XCTAssertEqual(pattern.matches(Array(row.path.utf8)), row.matches, "\(row.pattern) vs \(row.path)")
            XCTAssertEqual(pattern.matches(row.path.utf8), row.matches, "non-contiguous: \(row.pattern) vs \(row.path)")
        }
    }

    func testNonASCIIBytesCompareRaw() throws {
        let pattern = try XCTUnwrap(PathPattern("/a/*"))
        XCTAssertTrue(pattern.matches([0x2f, 0x41, 0x2f, 0xc3, 0xa9]))
        XCTAssertFalse(try XCTUnwrap(PathPattern("/x")).matches([0x2f, 0xd8]))  // 0xd8 is not 'x' folded
    }

    func testCovers() throws {
        func p(_ s: String) throws -> PathPattern { try XCTUnwrap(PathPattern(s)) }
        XCTAssertTrue(try p("/*").covers(p("/abs/*")))
        XCTAssertTrue(try p("/*").covers(p("/meet")))
        XCTAssertTrue(try p("/abs/*").covers(p("/abs/*")))
        XCTAssertTrue(try p("/abs/*").covers(p("/ABS/handler/*")))
        XCTAssertTrue(try p("/abs/*").covers(p("/abs")))
        XCTAssertTrue(try p("/abs/*").covers(p("/abs/x")))
        XCTAssertFalse(try p("/abs/*").covers(p("/absx")))
        XCTAssertFalse(try p("/abs/*").covers(p("/*")))
        XCTAssertFalse(try p("/abs").covers(p("/abs/*")))
        XCTAssertTrue(try p("/meet").covers(p("/MEET")))
        XCTAssertFalse(try p("/meet").covers(p("/dialin")))
    }

    func testParse() {
        XCTAssertEqual(PathPattern("/*"), .all)
        XCTAssertEqual(PathPattern("/abs/*")?.kind, .prefix)
        XCTAssertEqual(PathPattern("/meet")?.kind, .exact)
        XCTAssertEqual(PathPattern("/")?.kind, .exact)
        for bad in ["", "*", "abs", "/abs*", "/*/x", "/a/**", "/a b", "/a?b", "/a#b", "/é", "/x//*"] {
            XCTAssertNil(PathPattern(bad), bad)
        }
    }
}
