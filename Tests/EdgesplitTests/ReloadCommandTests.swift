import Foundation
import XCTest

/// `edgesplit reload` and SIGHUP against a running `serve` with kernel steering.
final class ReloadCommandTests: EdgesplitTestCase {
    func testReloadAppliesAChangedFileRefusesABrokenOneAndSIGHUPReloadsToo() throws {
        try requireRoot()
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let served = try ServedInstance(self, tag: "reload", backend: backend, workers: 2)
        let original = try String(contentsOfFile: served.configPath, encoding: .utf8)
        XCTAssertEqual(try served.get("/anything").status, 200)

        // A changed rule: only /only/* is published now.
        let narrowed = original.replacingOccurrences(
            of: "farm: app }", with: "farm: app, paths: [\"/only/*\"] }")
        XCTAssertNotEqual(narrowed, original)
        try narrowed.write(toFile: served.configPath, atomically: true, encoding: .utf8)
        let reload = try served.cli(["reload"])
        XCTAssertEqual(reload.status, 0, reload.description)
        XCTAssertEqual(reload.stdout, "\(served.instance): reloaded, generation 2\n")
        XCTAssertEqual(try served.get("/anything").status, 404)
        XCTAssertEqual(try served.get("/only/this").status, 200)
        // The kernel still steers to the new generation's sockets.
        let status = try served.cli(["bpf", "status", "--json"])
        XCTAssertEqual(status.status, 0, status.description)
        XCTAssertTrue(status.stdout.contains("\"attached\":true"), status.stdout)

        // A broken file is refused with the check messages; the running configuration serves.
        try (narrowed + "\nbogus_key: 1\n").write(toFile: served.configPath, atomically: true, encoding: .utf8)
        let refused = try served.cli(["reload"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("unknown key 'bogus_key'"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("\(served.configPath):"), refused.stderr)
        XCTAssertEqual(try served.get("/only/this").status, 200)

        // SIGHUP does the same as `edgesplit reload`.
        try original.write(toFile: served.configPath, atomically: true, encoding: .utf8)
        served.process.send(SIGHUP)
        try served.process.waitForOutput("the SIGHUP reload") { _, err in err.contains("reloaded, generation 3") }
        XCTAssertEqual(try served.get("/anything").status, 200)

        let stopped = try served.stop()
        XCTAssertEqual(stopped.status, 0, stopped.description)
    }
}
