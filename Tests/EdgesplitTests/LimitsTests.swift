import Foundation
import XCTest

/// Per-source limits in `edgesplit serve` with kernel steering: every connection of a source
/// reaches one worker, so each worker's count of a source is the whole source, and the
/// limit holds exactly however many workers there are; `stats` counts each refusal on the
/// worker that owns the source.
final class LimitsTests: EdgesplitTestCase {
    func testRequestLimitIsExactAcrossWorkersWithKernelSteering() throws {
        try requireRoot()
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let served = try ServedInstance(
            self, tag: "limits", backend: backend, workers: 4, extraConfig: "limits: { requests_per_minute: 3 }"
        )
        let sources = (1...8).map { "127.0.8.\($0)" }
        for source in sources {
            // One request per connection: without steering they would spread over the workers.
            for i in 0..<3 {
                XCTAssertEqual(try served.get("/r\(i)", from: source).status, 200, source)
            }
            let refused = try served.get("/r3", from: source)
            XCTAssertEqual(refused.status, 429, source)
            let retryAfter = Int(refused.header("retry-after") ?? "") ?? 0
            XCTAssertTrue((1...60).contains(retryAfter), "Retry-After \(refused.header("retry-after") ?? "none")")
        }

        let object = try jsonObject(try served.cli(["stats", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let process = try XCTUnwrap(object["process"] as? [String: Any])
        let workers = try XCTUnwrap(process["workers"] as? [[String: Any]])
        let owners = try served.workers(of: sources)
        for worker in workers {
            let index = try XCTUnwrap(worker["worker"] as? Int)
            let limited = try XCTUnwrap(worker["limited"] as? [String: Any])
            let owned = owners.values.filter { $0 == index }.count
            XCTAssertEqual(limited["requests_per_minute"] as? Int, owned, "worker \(index) refused one request per source it owns")
            XCTAssertEqual(limited["concurrent_connections"] as? Int, 0)
            XCTAssertEqual(worker["limit_sources"] as? Int, owned, "worker \(index) counts the sources it owns")
        }
        let text = try served.cli(["stats"])
        XCTAssertTrue(text.stdout.contains("LIMITS"), text.stdout)
    }
}
