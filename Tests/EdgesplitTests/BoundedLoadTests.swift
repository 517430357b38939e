#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `affinity.balance_factor` end to end: a served instance whose workers keep the kernel's
/// `loads` map current, a crowd behind one address, and the operator's views of it.
final class BoundedLoadTests: EdgesplitTestCase {
    /// Opens a keep-alive connection from `source`, sends one GET and waits for the whole
    /// answer, so the worker has accepted (and counted) it. The connection stays open.
    private func holdConnection(from source: String, port: Int) throws -> CInt {
        let fd: CInt
        switch Loopback.connect(from: source, port: port) {
        case .success(let s): fd = s
        case .failure(let e): throw TestFailure("connect from \(source): \(e.code)")
        }
        let request = "GET /crowd HTTP/1.1\r\nHost: \(ServedInstance.publicName)\r\n\r\n"
        guard Loopback.writeAll(fd, request) else { close(fd); throw TestFailure("send failed") }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).hasSuffix("ok /crowd\n") {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { close(fd); throw TestFailure("connection from \(source) closed before the answer") }
            received.append(contentsOf: chunk[0..<n])
        }
        return fd
    }

    /// The open connections per worker, as `maps show --json` reads them from the kernel.
    private func openConnections(_ server: ServedInstance) throws -> [Int] {
        let show = try jsonObject(try server.cli(["maps", "show", "--json"]).stdout)
        return (show["workers"] as? [[String: Any]] ?? []).map { $0["open"] as? Int ?? -1 }
    }

    /// Polls until the kernel's open counts add up to `total` (closes reach the workers a
    /// moment after the client sees them).
    private func waitForOpen(_ server: ServedInstance, total: Int) throws -> [Int] {
        let deadline = Date().addingTimeInterval(10)
        var open = try openConnections(server)
        while open.reduce(0, +) != total && Date() < deadline {
            usleep(50_000)
            open = try openConnections(server)
        }
        XCTAssertEqual(open.reduce(0, +), total, "open connections per worker: \(open)")
        return open
    }

    /// 400 connections from one address over 4 workers with `balance_factor: 1.25`: no worker
    /// holds more than 1.25 × the mean + 1 of them; 100 other sources land on their Maglev
    /// worker when it is under the bound, as `maps where` predicts; the kernel's selections
    /// per worker equal the access log's `worker` field; `maps show`, `stats --json` and
    /// `/metrics`-style counters show the overflows; `maps set-balance off` restores pure
    /// affinity.
    func testACrowdBehindOneAddressSpreadsWithinTheBound() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let metrics = try PortReservation()
        let server = try ServedInstance(
            self, tag: "bounded", backend: backend, extraConfig: "admin: { metrics: \(metrics.port) }",
            affinity: "{ ipv4_prefix: 32, ipv6_prefix: 128, seed: 7, balance_factor: 1.25 }")
        metrics.release()
        var held: [CInt] = []
        defer { for fd in held { close(fd) } }
        let crowd = "127.0.0.5"
        let home = try XCTUnwrap(try server.workers(of: [crowd])[crowd])
        for _ in 0..<400 { held.append(try holdConnection(from: crowd, port: server.port)) }

        let crowdRecords = try server.waitForAccessLog(count: 400)
        let perWorker = Dictionary(grouping: crowdRecords.compactMap { $0["worker"] as? Int }, by: { $0 }).mapValues(\.count)
        XCTAssertLessThanOrEqual(perWorker.values.max() ?? 0, Int(1.25 * 100) + 1, "crowd per worker: \(perWorker)")
        XCTAssertGreaterThan(perWorker.count, 1, "the crowd spread: \(perWorker)")

        // What the operator sees: the open connections per worker as the kernel reads them,
        // and the overflows counted on the crowd's Maglev worker.
        let show = try jsonObject(try server.cli(["maps", "show", "--json"]).stdout)
        XCTAssertEqual(show["balance_factor"] as? Double, 1.25)
        let workers = try XCTUnwrap(show["workers"] as? [[String: Any]])
        for w in workers {
            let index = w["worker"] as? Int ?? -1
            XCTAssertEqual(w["open"] as? Int, perWorker[index] ?? 0, "open connections of worker \(index)")
        }
        let overflowed = workers.map { $0["overflowed"] as? Int ?? 0 }
        XCTAssertEqual(overflowed[home], 400 - (perWorker[home] ?? 0), "overflows away from worker \(home)")
        XCTAssertEqual(overflowed.reduce(0, +), overflowed[home])

        // 100 other sources: each lands where `maps where` said, and stays on its Maglev
        // worker when that worker is clearly under the bound.
        let sources = (1...100).map { "127.0.3.\($0)" }
        let predictions = try server.cli(["maps", "where", "--json"], sources).stdoutLines.map { try jsonObject($0) }
        XCTAssertEqual(predictions.count, 100)
        for source in sources { XCTAssertEqual(try server.get("/other", from: source).status, 200) }
        let all = try server.waitForAccessLog(count: 500)
        let landed = all.filter { ($0["cs-uri-stem"] as? String) == "/other" }.workersByClient()
        var stayed = 0
        var movedOthers = 0
        for p in predictions {
            let source = p["client"] as? String ?? "?"
            let maglev = p["maglev_worker"] as? Int ?? -1
            let open = Double(p["open"] as? Int ?? 0)
            let bound = p["bound"] as? Double ?? 0
            if landed[source] != [maglev] { movedOthers += 1 }
            if open + 2 <= bound {
                XCTAssertEqual(landed[source], [maglev], "\(source) under the bound (\(open) of \(bound))")
                XCTAssertEqual(p["overflow"] as? Bool, false)
                stayed += 1
            }
        }
        XCTAssertGreaterThan(stayed, 10, "sources whose worker is under the bound: \(stayed)")

        // The kernel's selections per worker equal the access log's worker field.
        let kernel = try jsonObject(try server.cli(["stats", "--json"]).stdout)["kernel"] as? [String: Any]
        let selections = try XCTUnwrap(kernel?["selections"] as? [Int])
        let logged = Dictionary(grouping: all.compactMap { $0["worker"] as? Int }, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(selections, (0..<4).map { logged[$0] ?? 0 })
        // Every connection that left its Maglev worker is one overflow.
        XCTAssertEqual((kernel?["overflowed"] as? [Int])?.reduce(0, +), overflowed[home] + movedOthers)
        // The same counts on /metrics, per worker.
        let scrape = try HTTPClient.get("/metrics", host: "127.0.0.1", port: metrics.port)
        XCTAssertEqual(scrape.status, 200)
        let kernelOverflows = kernel?["overflowed"] as? [Int] ?? []
        for (worker, count) in kernelOverflows.enumerated() {
            XCTAssertTrue(
                scrape.body.contains("edgesplit_steering_overflows_total{worker=\"\(worker)\"} \(count)"),
                "worker \(worker): \(count) overflows in\n\(scrape.body.split(separator: "\n").filter { $0.contains("overflow") })")
        }
        XCTAssertEqual(kernel?["balance_factor"] as? Double, 1.25)

        // The 100 short connections are closed: back to the crowd's 400.
        _ = try waitForOpen(server, total: 400)
        // `maps where` for the crowd says, from the live loads, whether its next connection
        // overflows and to which worker; the next connection goes there.
        let crowdNow = try jsonObject(try server.cli(["maps", "where", "--json", crowd]).stdout)
        XCTAssertEqual(crowdNow["maglev_worker"] as? Int, home)
        let next = try XCTUnwrap(crowdNow["worker"] as? Int)
        let text = try server.cli(["maps", "where", crowd]).stdout
        if crowdNow["overflow"] as? Bool == true {
            XCTAssertNotEqual(next, home)
            XCTAssertTrue(text.contains("now, overflowing from worker \(home)"), text)
        } else {
            XCTAssertEqual(next, home)
            XCTAssertTrue(text.contains("under the bound"), text)
        }
        held.append(try holdConnection(from: crowd, port: server.port))
        let nextRecord = try server.waitForAccessLog(count: 501).last
        XCTAssertEqual(nextRecord?["worker"] as? Int, next)

        // Off: the crowd's next connection goes home, whatever the loads.
        let off = try server.cli(["maps", "set-balance", "off", "--json"])
        XCTAssertEqual(off.status, 0, "\(off)")
        XCTAssertTrue(try jsonObject(off.stdout)["balance_factor"] is NSNull)
        XCTAssertEqual(try server.get("/home", from: crowd).status, 200)
        let home2 = try server.waitForAccessLog(count: 502).filter { ($0["cs-uri-stem"] as? String) == "/home" }
        XCTAssertEqual(home2.compactMap { $0["worker"] as? Int }, [home])
        let bad = try server.cli(["maps", "set-balance", "0.5"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("expected a number 1...100"), bad.stderr)

        // Every close is counted: the loads come back to zero.
        for fd in held { close(fd) }
        held.removeAll()
        XCTAssertEqual(try waitForOpen(server, total: 0), [0, 0, 0, 0])
        let exit = try server.stop()
        XCTAssertEqual(exit.status, 0, "\(exit)")
    }

    /// A reload applies a changed `balance_factor` to the kernel at once (the one affinity
    /// setting a reload may change); the loads stay counted across the generations.
    func testAReloadAppliesAChangedBalanceFactor() throws {
        try requireRoot()
        let backend = try TinyBackend()
        defer { backend.stop() }
        let server = try ServedInstance(self, tag: "balreload", backend: backend, workers: 2)
        let held = try holdConnection(from: "127.0.0.9", port: server.port)
        defer { close(held) }
        func show() throws -> [String: Any] { try jsonObject(try server.cli(["maps", "show", "--json"]).stdout) }
        XCTAssertTrue(try show()["balance_factor"] is NSNull)
        let original = try String(contentsOfFile: server.configPath, encoding: .utf8)
        let changed = original.replacingOccurrences(of: "seed: 7 }", with: "seed: 7, balance_factor: 2 }")
        XCTAssertNotEqual(changed, original)
        try changed.write(toFile: server.configPath, atomically: true, encoding: .utf8)
        let reload = try server.cli(["reload"])
        XCTAssertEqual(reload.status, 0, reload.description)
        let after = try show()
        XCTAssertEqual(after["balance_factor"] as? Double, 2)
        let open = (after["workers"] as? [[String: Any]] ?? []).map { $0["open"] as? Int ?? 0 }
        XCTAssertEqual(open.reduce(0, +), 1, "the held connection still counts after the reload: \(open)")
        // A changed prefix is still refused.
        try changed.replacingOccurrences(of: "ipv4_prefix: 32", with: "ipv4_prefix: 24").write(toFile: server.configPath, atomically: true, encoding: .utf8)
        let refused = try server.cli(["reload"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("affinity changed"), refused.stderr)
    }
}
