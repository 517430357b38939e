import Foundation
import Fuzzing
import XCTest

/// Replays `Corpus/fuzz/`, the minimised corpus `Scripts/fuzz` keeps for the ClientHello
/// parser: every input must parse or be rejected without a crash, whichever way it is split.
final class FuzzCorpusTests: XCTestCase {
    func testFuzzCorpus() throws {
        let directory = try XCTUnwrap(Bundle.module.url(forResource: "Corpus/fuzz", withExtension: nil))
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        XCTAssertGreaterThanOrEqual(files.count, 10)
        let complete = try FuzzTarget.replay(files.map { try Data(contentsOf: $0) }, through: .clientHello)
        XCTAssertGreaterThan(complete, 0, "the corpus keeps at least one complete hello")
    }
}
