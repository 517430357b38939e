import Publishing
import XCTest

final class PathNormalizerTests: XCTestCase {
    private func normalized(_ raw: String, _ reading: PathNormalizer.Reading = []) throws -> String {
        String(decoding: try PathNormalizer.normalize(Array(raw.utf8), reading: reading).path, as: UTF8.self)
    }

    private func refusal(_ raw: String) -> PathNormalizer.Refusal? {
        do throws(PathNormalizer.Refusal) {
            _ = try PathNormalizer.normalize(Array(raw.utf8))
            return nil
        } catch {
            return error
        }
    }

    func testReadsThePathAsIISDoes() throws {
        let table: [(raw: String, path: String)] = [
            ("/%61dmin/x", "/admin/x"),
            ("/admin%2fx", "/admin/x"),
            ("/admin%2Fx", "/admin/x"),
            ("/admin%5cx", "/admin/x"),
            ("/x/../admin/x", "/admin/x"),
            ("/./admin/x", "/admin/x"),
            ("//admin/x", "/admin/x"),
            ("/admin\\x", "/admin/x"),
            ("/admin;x/y", "/admin/y"),
            ("/admin;x", "/admin"),
            ("/admin/;x", "/admin/"),
            ("/a/b/../../..", "/"),
            ("/.", "/"),
            ("/..", "/"),
            ("/", "/"),
            ("/a/b/..", "/a/"),
            ("/a/./", "/a/"),
            ("/a//", "/a/"),
            ("/%2e%2e/admin", "/admin"),
            ("/%2E./admin", "/admin"),
            ("/x/%2E%2e/admin", "/admin"),
            ("/%4D%65et/%4d%45ET", "/Meet/MEET"),
            ("/admin./x", "/admin/x"),
            ("/admin%20/x", "/admin/x"),
            ("/.../x", "/.../x"),
            ("/meet/x", "/meet/x"),
            ("/%252f", "/%2f"),
            ("/a%3bb/c", "/a;b/c"),
            ("*", "*"),
        ]
        for row in table {
            XCTAssertEqual(try normalized(row.raw), row.path, row.raw)
        }
    }

    func testUTF8EscapesAreDecodedUnchanged() throws {
        let path = try PathNormalizer.normalize(Array("/caf%C3%A9/%e2%82%AC".utf8)).path
        XCTAssertEqual(path, Array("/café/€".utf8))
        XCTAssertEqual(try PathNormalizer.normalize(Array("/café".utf8)).path, Array("/café".utf8))
    }

    func testRefusesPathsWithoutOneReading() {
        let control: [String] = ["/a%00b", "/a%0a", "/a%7F", "/%1b[x"]
        let invalid: [String] = ["/a%zz", "/a%4", "/a%", "/a%%41", "/%u0061dmin"]
        for raw in control { XCTAssertEqual(refusal(raw), .controlByte, raw) }
        for raw in invalid { XCTAssertEqual(refusal(raw), .invalidPercentEncoding, raw) }
        XCTAssertNil(refusal("/a%25"))
    }

    func testNotesEachConstructWithTwoReadings() throws {
        func ambiguities(_ raw: String) throws -> PathNormalizer.Reading {
            try PathNormalizer.normalize(Array(raw.utf8)).ambiguities
        }
        XCTAssertEqual(try ambiguities("/admin/x"), [])
        XCTAssertEqual(try ambiguities("/admin%2fx"), .encodedSeparatorsInName)
        XCTAssertEqual(try ambiguities("/admin%5Cx"), .encodedSeparatorsInName)
        XCTAssertEqual(try ambiguities("/x/..;y/admin"), .dotParametersAsName)
        XCTAssertEqual(try ambiguities("/admin;x/y"), [])
        XCTAssertEqual(try ambiguities("/%2541dmin"), .decodedTwice)
        XCTAssertEqual(try ambiguities("/admin%252fx"), [.decodedTwice, .encodedSeparatorsInName])
        XCTAssertEqual(try ambiguities("/%25%34%31dmin"), .decodedTwice)
    }

    func testSecondReadings() throws {
        XCTAssertEqual(try normalized("/admin%2fx", .encodedSeparatorsInName), "/admin\0x")
        XCTAssertEqual(try normalized("/x%2f..%2fadmin", .encodedSeparatorsInName), "/x\0..\0admin")
        XCTAssertEqual(try normalized("/x/..;y/admin", .dotParametersAsName), "/x/..;/admin")
        XCTAssertEqual(try normalized("/x/..;y/admin"), "/admin")
        XCTAssertEqual(try normalized("/%2561dmin/x", .decodedTwice), "/admin/x")
        XCTAssertEqual(try normalized("/admin%252fx", .decodedTwice), "/admin/x")
        XCTAssertEqual(try normalized("/admin%252fx", [.decodedTwice, .encodedSeparatorsInName]), "/admin\0x")
        XCTAssertThrowsError(try PathNormalizer.normalize(Array("/a%2500".utf8), reading: .decodedTwice))
    }

    func testNeedsNormalizingOnlyWhenTheFormChanges() {
        func needs(_ raw: String) -> Bool {
            Array(raw.utf8).withUnsafeBufferPointer { PathNormalizer.needsNormalizing($0) }
        }
        for raw in ["/", "/meet/x", "/abs/handler/f-1299.lsabs", "/.well-known/x", "/a.b/c", "*"] {
            XCTAssertFalse(needs(raw), raw)
            XCTAssertEqual(try normalized(raw), raw, raw)
        }
        for raw in ["/%61", "/a\\b", "/a;b", "//a", "/a/./b", "/a/..", "/a./b", "/a.", "/."] {
            XCTAssertTrue(needs(raw), raw)
        }
    }
}
