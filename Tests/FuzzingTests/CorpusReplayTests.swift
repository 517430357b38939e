import Foundation
import Fuzzing
import XCTest

/// Replays the committed fuzz corpora (`Scripts/fuzz` keeps them minimised): every input must
/// load or be refused, parse or be rejected, without a crash and with the targets' invariants
/// holding. The ClientHello corpus lives with its parser's tests (`ClientHelloTests`).
final class CorpusReplayTests: XCTestCase {
    func testConfigCorpus() throws {
        let accepted = try replay(.config)
        XCTAssertGreaterThan(accepted, 0, "the corpus keeps at least one loadable configuration")
    }

    func testRequestCorpus() throws {
        let accepted = try replay(.request)
        XCTAssertGreaterThan(accepted, 0, "the corpus keeps at least one valid request")
    }

    /// Runs every file of `Corpus/<target>` through the target; returns how many were accepted.
    private func replay(_ target: FuzzTarget) throws -> Int {
        let directory = try XCTUnwrap(Bundle.module.url(forResource: "Corpus/\(target.rawValue)", withExtension: nil))
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        XCTAssertGreaterThanOrEqual(files.count, 10, "a corpus for \(target.rawValue)")
        return try FuzzTarget.replay(files.map { try Data(contentsOf: $0) }, through: target)
    }
}
