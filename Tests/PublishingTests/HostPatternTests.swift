import Publishing
import XCTest

final class HostPatternTests: XCTestCase {
    func testMatchingTable() throws {
        let table: [(pattern: String, host: String, matches: Bool)] = [
            ("webext.contoso.com", "webext.contoso.com", true),
            ("webext.contoso.com", "WebExt.Contoso.COM", true),
            ("WEBEXT.contoso.com", "webext.contoso.com", true),
            ("webext.contoso.com", "webext.contoso.co", false),
            ("webext.contoso.com", "xwebext.contoso.com", false),
            ("webext.contoso.com.", "webext.contoso.com", true),
            ("*.contoso.com", "meet.contoso.com", true),
            ("*.contoso.com", "a.b.contoso.com", true),
            ("*.contoso.com", "MEET.Contoso.Com", true),
            ("*.contoso.com", "contoso.com", false),
            ("*.contoso.com", "evilcontoso.com", false),
            ("*.contoso.com", ".contoso.com", false),
            ("192.0.2.10", "192.0.2.10", true),
            ("[2001:db8::1]", "[2001:db8::1]", true),
            ("[2001:DB8:0::1]", "[2001:db8::1]", true),
        ]
        for row in table {
            let pattern = try XCTUnwrap(HostPattern(row.pattern), row.pattern)
            XCTAssertEqual(pattern.matches(normalizedHost: Array(row.host.utf8)), row.matches, "\(row.pattern) vs \(row.host)")
        }
    }

    func testNormalize() {
        let table: [(String, String?)] = [
            ("WebExt.Contoso.com", "webext.contoso.com"),
            ("webext.contoso.com:443", "webext.contoso.com"),
            ("webext.contoso.com.", "webext.contoso.com"),
            ("webext.contoso.com.:8443", "webext.contoso.com"),
            ("webext.contoso.com:", "webext.contoso.com"),
            ("[2001:DB8::1]:443", "[2001:db8::1]"),
            ("[2001:db8:0:0::1]", "[2001:db8::1]"),
            ("192.0.2.1:80", "192.0.2.1"),
            ("", nil),
            (":443", nil),
            ("a..b", nil),
            (".a", nil),
            ("a b", nil),
            ("a:b", nil),
            ("a:123456", nil),
            ("[2001:db8::1", nil),
            ("[2001:db8::1]x", nil),
            ("[zz::1]", nil),
            ("[1.2.3.4]", nil),
            ("host\r\n", nil),
        ]
        for (input, expected) in table {
            let got = HostPattern.normalize(hostHeader: Array(input.utf8)).map { String(decoding: $0, as: UTF8.self) }
            XCTAssertEqual(got, expected, input)
        }
    }

    func testCovers() throws {
        func p(_ s: String) throws -> HostPattern { try XCTUnwrap(HostPattern(s)) }
        XCTAssertTrue(try p("*.contoso.com").covers(p("meet.contoso.com")))
        XCTAssertTrue(try p("*.contoso.com").covers(p("*.lync.contoso.com")))
        XCTAssertTrue(try p("*.contoso.com").covers(p("*.contoso.com")))
        XCTAssertFalse(try p("*.contoso.com").covers(p("contoso.com")))
        XCTAssertFalse(try p("*.lync.contoso.com").covers(p("*.contoso.com")))
        XCTAssertFalse(try p("meet.contoso.com").covers(p("*.contoso.com")))
        XCTAssertTrue(try p("Meet.contoso.com").covers(p("meet.CONTOSO.com")))
        XCTAssertFalse(try p("meet.contoso.com").covers(p("dialin.contoso.com")))
        XCTAssertFalse(try p("*.contoso.com").covers(p("*.evilcontoso.com")))
    }

    func testParseErrors() {
        XCTAssertNil(HostPattern("a.*.com"))
        XCTAssertNil(HostPattern("*"))
        XCTAssertNil(HostPattern("**.a.com"))
        XCTAssertNil(HostPattern("[::1"))
        XCTAssertNil(HostPattern("[1.2.3.4]"))
        XCTAssertNil(HostPattern(String(repeating: "a", count: 64) + ".com"))
        XCTAssertNotNil(HostPattern(String(repeating: "a", count: 63) + ".com"))
        XCTAssertEqual(HostPattern("*.Contoso.COM")?.text, "*.contoso.com")
        XCTAssertEqual(HostPattern("*.contoso.com")?.kind, .wildcard)
    }
}
