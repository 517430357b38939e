#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `edgesplit serve` on a dual-stack `[::]` listener in a network namespace: IPv6 clients
/// (fd00::/16 sources via AnyIP) and IPv4 clients are steered by the same group, each to the
/// worker `maps where` names, and `set-prefix --ipv6 64` keeps a /64 together.
final class IPv6SteeringTests: EdgesplitTestCase {
    func testDualStackListenerSteersIPv6AndIPv4Clients() throws {
        try requireRoot()
        let namespace = try NetworkNamespace(name: "es\(getpid())-v6")
        defer { namespace.delete() }
        let (backend, reservation) = try namespace.run { (try TinyBackend(), try PortReservation(address: "::")) }
        defer { backend.stop() }
        let instance = uniqueInstance("dual")
        let accessLog = directory + "/access-dual.log"
        let path = try write("dual.yaml", """
            instance: \(instance)
            access_log: { path: \(accessLog), format: json }
            listeners:
              - { name: web, address: "::", port: \(reservation.port) }
            farms:
              - { name: app, members: ["127.0.0.1:\(backend.port)"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            """)
        let server = try start(["serve", "--config", path, "--workers", "4"], wrapper: namespace.wrapper)
        let (_, err) = try server.waitForOutput("the server to listen") { _, err in err.contains("edgesplit: serving instance") }
        reservation.release()
        XCTAssertFalse(err.contains("warning"), err)
        let port = reservation.port

        let v6 = (1...24).map { "fd00::1:\(String($0, radix: 16))" }
        let v4 = (1...8).map { "127.0.1.\($0)" }
        let statuses = try namespace.run {
            try (v6.map { ($0, "::1") } + v4.map { ($0, "127.0.0.1") }).flatMap { source, destination in
                try (0..<2).map { _ in
                    try HTTPClient.get("/dual", host: "app.contoso.test", port: port, from: source, to: destination).status
                }
            }
        }
        XCTAssertEqual(statuses, Array(repeating: 200, count: (v6.count + v4.count) * 2))

        let records = try waitForRecords(accessLog, count: statuses.count)
        let seen = records.workersByClient()
        XCTAssertEqual(Set(seen.keys), Set(v6 + v4), "the access log names clients by their own address")
        let expected = try workers(instance, of: v6 + v4)
        for source in v6 + v4 {
            XCTAssertEqual(seen[source] ?? [], [expected[source]!, expected[source]!], source)
        }
        XCTAssertGreaterThan(Set(v6.map { expected[$0]! }).count, 1, "24 IPv6 sources over 4 workers use several")

        let status = try jsonObject(run(["bpf", "status", "--json", "--instance", instance]).stdout)
        let counters = try XCTUnwrap(status["counters"] as? [String: Any])
        XCTAssertEqual(counters["ipv6"] as? Int, v6.count * 2)
        XCTAssertEqual(counters["fallback"] as? Int, 0)

        // One /64: every source in fd00::/64 on one worker, and new connections follow.
        let prefix = try run(["maps", "set-prefix", "--ipv6", "64", "--instance", instance])
        XCTAssertEqual(prefix.status, 0, "\(prefix)")
        let grouped = try workers(instance, of: v6)
        XCTAssertEqual(Set(grouped.values).count, 1, "\(grouped)")
        let again = try namespace.run {
            try v6.prefix(4).map { try HTTPClient.get("/grouped", host: "app.contoso.test", port: port, from: $0, to: "::1").status }
        }
        XCTAssertEqual(again, [200, 200, 200, 200])
        let after = try waitForRecords(accessLog, count: statuses.count + 4).filter { ($0["cs-uri-stem"] as? String) == "/grouped" }
        XCTAssertEqual(Set(after.compactMap { $0["worker"] as? Int }), Set(grouped.values))

        server.send(SIGTERM)
        let exit = try server.waitForExit()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertFalse(InstancePins.exists(instance))
    }

    private func workers(_ instance: String, of sources: [String]) throws -> [String: Int] {
        let result = try run(["maps", "where", "--json", "--instance", instance] + sources)
        guard result.status == 0 else { throw TestFailure("maps where: \(result)") }
        var workers: [String: Int] = [:]
        for line in result.stdoutLines {
            let object = try jsonObject(line)
            workers[object["client"] as? String ?? "?"] = object["worker"] as? Int
        }
        return workers
    }

    private func waitForRecords(_ path: String, count: Int) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let records = try text.split(separator: "\n").map { try jsonObject(String($0)) }
            if records.count >= count { return records }
            if Date() > deadline { throw TestFailure("access log has \(records.count) of \(count) records") }
            usleep(100_000)
        }
    }
}
