import Foundation
import XCTest

/// A binary upgrade: a second `serve` for a running instance takes over its sockets and the
/// first retires by itself, with no failed request in between.
final class UpgradeTests: EdgesplitTestCase {
    func testANewProcessTakesOverAndTheOldOneRetiresWithoutAFailedRequest() throws {
        try requireRoot()
        let backend = try TinyBackend()
        addTeardownBlock { backend.stop() }
        let first = try ServedInstance(self, tag: "upgrade", backend: backend, workers: 2, shutdown: "5s")

        final class Tally: @unchecked Sendable {
            let lock = NSLock()
            var failures: [String] = []
            var completed = 0
            var running = true
            var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }
            func record(_ failure: String?) {
                lock.lock()
                if let failure { failures.append(failure) } else { completed += 1 }
                lock.unlock()
            }
        }
        let tally = Tally()
        let port = first.port
        let threads = (0..<2).map { n in
            Thread {
                var i = 0
                while tally.isRunning {
                    i += 1
                    do {
                        let path: String = "/loop\(n)-\(i)"
                        let lastOctet: Int = n * 50 + i % 50 + 1
                        let source: String = "127.0.7." + String(lastOctet)
                        let reply = try HTTPClient.get(path, host: ServedInstance.publicName, port: port, from: source)
                        tally.record(reply.status == 200 ? nil : "status \(reply.status)")
                    } catch {
                        tally.record("\(error)")
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 0.3)

        let second = try first.startAnother()
        let firstExit = try first.process.waitForExit(timeout: 15)
        XCTAssertEqual(firstExit.status, 0, "\(firstExit)")
        XCTAssertTrue(firstExit.stderr.contains("retired: a newer process took over"), firstExit.stderr)
        XCTAssertTrue(second.stderr.contains("took over instance"), second.stderr)
        Thread.sleep(forTimeInterval: 0.3)

        tally.lock.lock()
        tally.running = false
        tally.lock.unlock()
        Thread.sleep(forTimeInterval: 0.3)
        tally.lock.lock()
        let failures = tally.failures
        let completed = tally.completed
        tally.lock.unlock()
        XCTAssertGreaterThan(completed, 50)
        XCTAssertEqual(failures, [], "\(failures.count) failed of \(completed + failures.count)")

        // The second process serves alone, with the pinned steering state and its control socket.
        XCTAssertEqual(try first.get("/after", from: "127.0.1.99").status, 200)
        let status = try first.cli(["farm", "status"])
        XCTAssertEqual(status.status, 0, status.description)
        second.send(SIGTERM)
        XCTAssertEqual(try second.waitForExit().status, 0)
    }
}
