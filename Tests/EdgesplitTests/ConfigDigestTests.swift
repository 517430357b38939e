import Foundation
import XCTest

/// The configuration digest `edgesplit stats` shows (what `stats --merge` compares across edge
/// hosts): the SHA-256 of the file being served, also after a reload.
final class ConfigDigestTests: EdgesplitTestCase {
    func testStatsShowTheServedFilesSHA256AndAReloadChangesIt() throws {
        try requireRoot()
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let served = try ServedInstance(self, tag: "digest", backend: backend, workers: 1, kernelSteering: false)
        XCTAssertEqual(try digestShown(served), try sha256sum(served.configPath))
        let text = try served.cli(["stats"])
        XCTAssertTrue(text.stdout.contains("configuration sha256 \(try sha256sum(served.configPath))\n"), text.stdout)

        let before = try sha256sum(served.configPath)
        let original = try String(contentsOfFile: served.configPath, encoding: .utf8)
        try (original + "\n# a comment is a change of the file too\n").write(toFile: served.configPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try served.cli(["reload"]).status, 0)
        let after = try digestShown(served)
        XCTAssertEqual(after, try sha256sum(served.configPath))
        XCTAssertNotEqual(after, before)
        XCTAssertEqual(try served.stop().status, 0)
    }

    private func digestShown(_ served: ServedInstance) throws -> String? {
        let stats = try served.cli(["stats", "--json"])
        XCTAssertEqual(stats.status, 0, stats.description)
        let object = try jsonObject(stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        return (object["process"] as? [String: Any])?["config_digest"] as? String
    }

    /// coreutils' `sha256sum`: an implementation other than the one under test.
    private func sha256sum(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}
