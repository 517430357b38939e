#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `serve --log-format json --log-level …`: what a log collector reads on stderr.
final class LoggingTests: EdgesplitTestCase {
    static let levels: Set<String> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    func testJSONLogIsOneObjectPerLineWithTimeLevelLabelMessageAndStringMetadata() throws {
        let backend = try TinyBackend()
        defer { backend.stop() }
        let served = try ServedInstance(
            self, tag: "json", backend: backend, workers: 2, kernelSteering: false, logging: ["--log-format", "json", "--log-level", "debug"])
        XCTAssertEqual(try served.get("/").status, 200)
        served.process.send(SIGHUP)
        try served.process.waitForOutput("the reload") { _, err in err.contains("reloaded, generation") }
        let exit = try served.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertEqual(exit.stdout, "", "the log is on stderr; stdout stays for the access log and the demo's banner")

        let lines = exit.stderrLines
        var records: [[String: Any]] = []
        for line in lines {
            let object = try jsonObject(line)
            for key in ["time", "level", "label", "message"] {
                XCTAssertNotNil(object[key] as? String, "\(key) in \(line)")
            }
            XCTAssertTrue(object.values.allSatisfy { $0 is String }, "every field is a string: \(line)")
            XCTAssertTrue(Self.levels.contains(object["level"] as? String ?? ""), line)
            let time = object["time"] as? String ?? ""
            XCTAssertNotNil(
                time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), "ISO 8601 with ms: \(line)")
            records.append(object)
        }
        func record(_ message: String) -> [String: Any]? { records.first { ($0["message"] as? String)?.hasPrefix(message) == true } }

        let serving = try XCTUnwrap(record("serving instance"), exit.stderr)
        XCTAssertEqual(serving["level"] as? String, "notice")
        XCTAssertEqual(serving["label"] as? String, "edgesplit")
        XCTAssertEqual(serving["instance"] as? String, served.instance)
        XCTAssertEqual(serving["workers"] as? String, "2")
        let listening = try XCTUnwrap(record("listening"), exit.stderr)
        XCTAssertEqual(listening["port"] as? String, String(served.port))
        XCTAssertEqual(listening["listener"] as? String, "web")
        XCTAssertEqual(record("SIGHUP received")?["generation"] as? String, "2", exit.stderr)
        XCTAssertEqual(record("SIGTERM received")?["signal"] as? String, "SIGTERM", exit.stderr)
        XCTAssertNotNil(record("stopped"), exit.stderr)
        XCTAssertTrue(records.contains { $0["level"] as? String == "debug" }, "debug lines at --log-level debug:\n\(exit.stderr)")
        // No line in the text format slipped through.
        XCTAssertFalse(exit.stderr.contains("edgesplit: "), exit.stderr)
    }

    func testLogLevelErrorSuppressesTheInfoAndNoticeLines() throws {
        let backend = try TinyBackend()
        defer { backend.stop() }
        let served = try ServedInstance(self, tag: "quiet", backend: backend, workers: 2, kernelSteering: false, logging: ["--log-level", "error"])
        XCTAssertEqual(try served.get("/").status, 200)
        XCTAssertEqual(try served.waitForAccessLog(count: 2).count, 2, "it serves all the same")
        let exit = try served.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertEqual(exit.stderr, "", "nothing at error or above happened")
    }

    func testABadLogLevelOrFormatIsRefusedBeforeAnythingRuns() throws {
        let config = try write("unused.yaml", "instance: x\n")
        let level = try run(["serve", "--config", config, "--log-level", "loud"])
        XCTAssertEqual(level.status, 64, "\(level)")
        XCTAssertTrue(
            level.stderr.contains("--log-level 'loud': expected one of trace, debug, info, notice, warning, error, critical"), level.stderr)
        let format = try run(["demo", "--log-format", "xml"])
        XCTAssertEqual(format.status, 64, "\(format)")
        XCTAssertTrue(format.stderr.contains("--log-format 'xml': expected text or json"), format.stderr)
    }
}
