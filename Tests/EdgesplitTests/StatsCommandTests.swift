import Foundation
import XCTest

/// `edgesplit stats` against a running `serve` with known traffic, and after it stopped.
final class StatsCommandTests: EdgesplitTestCase {
    func testFiguresMatchKnownTrafficAndAStoppedInstanceSaysSo() throws {
        try requireRoot()
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let served = try ServedInstance(self, tag: "stats", backend: backend, workers: 2)
        for i in 0..<12 {
            XCTAssertEqual(try served.get("/item\(i)", from: "127.0.6.\(i + 1)").status, 200)
        }
        let result = try served.cli(["stats", "--json"])
        XCTAssertEqual(result.status, 0, result.description)
        let object = try jsonObject(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(object["running"] as? Bool, true)
        let kernel = try XCTUnwrap(object["kernel"] as? [String: Any])
        let selections = try XCTUnwrap(kernel["selections"] as? [Int])
        XCTAssertEqual(selections.reduce(0, +), 12)
        let process = try XCTUnwrap(object["process"] as? [String: Any])
        let workers = try XCTUnwrap(process["workers"] as? [[String: Any]])
        XCTAssertEqual(workers.map { $0["accepted"] as? Int ?? -1 }, selections, "each worker accepted what the kernel gave it")
        XCTAssertEqual(workers.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }, 12)
        // A plain-HTTP listener: no HTTP/2, but the counters are there, all zero.
        XCTAssertEqual(workers.compactMap { ($0["http2"] as? [String: Any])?["connections"] as? Int }, [0, 0])
        let rules = try XCTUnwrap(process["rules"] as? [[String: Any]])
        let app = try XCTUnwrap(rules.first { $0["name"] as? String == "app" })
        XCTAssertEqual(app["requests"] as? Int, 12)
        XCTAssertEqual(app["status_2xx"] as? Int, 12)
        XCTAssertGreaterThan(app["bytes_out"] as? Int ?? 0, 0)
        let members = try XCTUnwrap(process["members"] as? [[String: Any]])
        XCTAssertEqual(members.first?["state"] as? String, "up")

        let text = try served.cli(["stats"])
        XCTAssertEqual(text.status, 0)
        for heading in ["KERNEL STEERING", "WORKERS", "LISTENERS", "RULES", "HTTP/2  connections 0, streams 0", "FARM MEMBERS", "TLS"] {
            XCTAssertTrue(text.stdout.contains(heading), "\(heading) missing in:\n\(text.stdout)")
        }

        // Hung or gone: the kernel part still prints from the pinned maps, and says so.
        served.process.send(SIGKILL)
        _ = try served.process.waitForExit(timeout: 5)
        let gone = try served.cli(["stats"])
        XCTAssertEqual(gone.status, 0, gone.description)
        XCTAssertTrue(gone.stdout.contains("KERNEL STEERING  program"), gone.stdout)
        XCTAssertTrue(gone.stdout.contains("PROCESS  not reachable"), gone.stdout)
        XCTAssertTrue(gone.stdout.contains("the kernel figures above come from the pinned maps"), gone.stdout)
        let goneJSON = try jsonObject(try served.cli(["stats", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(goneJSON["running"] as? Bool, false)
    }
}
