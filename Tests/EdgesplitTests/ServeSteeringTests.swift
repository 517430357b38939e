import Foundation
import XCTest

/// `edgesplit serve` with kernel steering and 4 workers: every connection of a client lands on
/// the worker the pinned maps name for it, and that worker's event loop handles the whole
/// exchange (the access log's `worker` is the loop that ran the request).
final class ServeSteeringTests: EdgesplitTestCase {
    func testEveryRequestOfASourceRunsOnTheWorkerTheMapsName() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "affinity", backend: backend)
        XCTAssertFalse(server.stderr.contains("affinity is off"), "kernel steering should load as root:\n\(server.stderr)")

        let sources = (1...40).map { "127.0.1.\($0)" }
        for source in sources {
            for i in 0..<3 {
                let reply = try server.get("/request/\(i)", from: source)
                XCTAssertEqual(reply.status, 200, "\(source) request \(i)")
                XCTAssertEqual(reply.body, "ok /request/\(i)\n")
            }
        }
        let records = try server.waitForAccessLog(count: sources.count * 3)
        XCTAssertEqual(records.count, sources.count * 3)
        let expected = try server.workers(of: sources)
        let seen = records.workersByClient()
        XCTAssertEqual(Set(seen.keys), Set(sources))
        for source in sources {
            let workers = seen[source] ?? []
            XCTAssertEqual(workers.count, 3, "\(source): \(workers)")
            XCTAssertEqual(Set(workers), [expected[source]!], "\(source) ran on \(workers); maps where says \(expected[source]!)")
        }
        XCTAssertGreaterThan(Set(expected.values).count, 1, "40 sources over 4 workers should use several workers")

        // The kernel's per-worker selections count exactly the connections each worker logged.
        let status = try jsonObject(server.cli(["bpf", "status", "--json"]).stdout)
        let counters = try XCTUnwrap(status["counters"] as? [String: Any])
        let selections = try XCTUnwrap(counters["selections"] as? [Int])
        var logged = [Int](repeating: 0, count: 4)
        for record in records { logged[record["worker"] as! Int] += 1 }
        XCTAssertEqual(selections, logged)
        XCTAssertEqual(counters["fallback"] as? Int, 0)

        // The single-address form prints one object with the same answer.
        let one = try server.cli(["maps", "where", "127.0.1.7", "--json"])
        XCTAssertEqual(one.status, 0, "\(one)")
        let object = try jsonObject(one.stdout)
        XCTAssertEqual(object["worker"] as? Int, expected["127.0.1.7"])
        XCTAssertEqual(object["key"] as? String, "127.0.1.7/32")

        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertFalse(InstancePins.exists(server.instance), "a clean exit removes the pinned state")
        XCTAssertEqual(backend.requestCount, sources.count * 3)
    }
}
