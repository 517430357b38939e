import ClientHello
import Foundation
import XCTest

/// Replays the committed malformed hellos in `Corpus/`: each file is named
/// `<expected error>-<description>.bin`, or `ignoredServerName-<description>.bin` for a
/// hello that is valid but whose host_name is not a DNS name (routed as one without SNI).
final class CorpusTests: XCTestCase {
    private static let errors: [String: ClientHelloError] = [
        "notTLS": .notTLS, "tooLarge": .tooLarge, "recordOverflow": .recordOverflow,
        "unexpectedContentType": .unexpectedContentType, "notClientHello": .notClientHello,
        "truncated": .truncated, "malformedExtension": .malformedExtension,
        "duplicateExtension": .duplicateExtension, "malformedServerName": .malformedServerName,
        "trailingBytes": .trailingBytes,
    ]

    func testCorpus() throws {
        let directory = try XCTUnwrap(Bundle.module.url(forResource: "Corpus", withExtension: nil))
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "bin" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        XCTAssertGreaterThanOrEqual(files.count, 20)
        var kinds = Set<ClientHelloError>()
        for file in files {
            let name = file.deletingPathExtension().lastPathComponent
            let prefix = String(name.prefix { $0 != "-" })
            let bytes = [UInt8](try Data(contentsOf: file))
            if prefix == "ignoredServerName" {
                for result in [parseWhole(bytes), parseByteByByte(bytes)] {
                    XCTAssertNil(result.info?.serverName, name)
                    XCTAssertEqual(result.info?.serverNameIgnored, true, name)
                }
                continue
            }
            let expected = try XCTUnwrap(Self.errors[prefix], "unknown expectation in \(name)")
            kinds.insert(expected)
            XCTAssertEqual(parseWhole(bytes), .invalid(expected), name)
            XCTAssertEqual(parseByteByByte(bytes), .invalid(expected), name)
        }
        XCTAssertEqual(kinds.count, Self.errors.count, "every error kind has a corpus file")
    }
}
