#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `Scripts/farm-lab`: two edgesplit hosts with the same configuration behind the kernel's
/// ECMP route to a VIP, in network namespaces the script makes and removes. The script runs
/// once (about 20 s) for all of these tests; each checks one promise from its raw results,
/// one JSON line per client connection, independently of the script's own report.
final class FarmLabTests: XCTestCase {
    /// One connection as `Scripts/farm-lab.d/client.py` recorded it.
    struct Connection {
        let client: String
        let sourcePort: Int
        let start: Double
        let end: Double
        let ok: Bool
        let edge: String?
        let member: String?
        let setCookie: String?
    }

    struct LabRun {
        let output: String
        let status: Int32
        let results: String

        func connections(_ name: String) throws -> [Connection] {
            let text = try String(contentsOfFile: results + "/" + name, encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TestFailure("\(name): not a JSON object: \(line)")
                }
                return Connection(
                    client: o["client"] as? String ?? "", sourcePort: o["sport"] as? Int ?? 0,
                    start: o["start"] as? Double ?? 0, end: o["end"] as? Double ?? 0, ok: o["ok"] as? Bool ?? false,
                    edge: o["edge"] as? String, member: o["member"] as? String, setCookie: o["set_cookie"] as? String
                )
            }
        }

        func json(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: results + "/" + name))
            return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    /// The one run every test here reads (the lab takes seconds; five runs would not).
    private static let lab: Result<LabRun, Error> = Result {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let results = NSTemporaryDirectory() + "farm-lab-\(getpid())"
        try? FileManager.default.removeItem(atPath: results)
        let script = Process()
        script.executableURL = root.appendingPathComponent("Scripts/farm-lab")
        script.arguments = ["--results", results]
        var environment = ProcessInfo.processInfo.environment
        environment["EDGESPLIT_BINARY"] = EdgesplitBinary.path
        script.environment = environment
        let log = results + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        script.standardOutput = handle
        script.standardError = handle
        script.standardInput = FileHandle.nullDevice
        try script.run()
        let deadline = Date().addingTimeInterval(150)
        while script.isRunning && Date() < deadline { usleep(100_000) }
        if script.isRunning {
            script.terminate()  // SIGTERM: the script's trap removes its namespaces and processes
            script.waitUntilExit()
        }
        script.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        return LabRun(output: output, status: script.terminationStatus, results: results)
    }

    override class func tearDown() {
        if case .success(let run) = lab { try? FileManager.default.removeItem(atPath: run.results) }
        super.tearDown()
    }

    private func labRun(file: StaticString = #filePath, line: UInt = #line) throws -> LabRun {
        let missing = ["/usr/sbin/ip", "/usr/sbin/nft", "/usr/bin/python3"].filter { !FileManager.default.isExecutableFile(atPath: $0) }
        var reason: String?
        if geteuid() != 0 {
            reason = "needs root for network namespaces, routes and nftables; running as uid \(geteuid())"
        } else if !missing.isEmpty {
            reason = "\(missing.joined(separator: ", ")) missing (Scripts/bootstrap installs iproute2, nftables, python3)"
        }
        if let reason {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("CI=true: " + reason, file: file, line: line)
                throw TestFailure(reason)
            }
            throw XCTSkip(reason)
        }
        let run = try Self.lab.get()
        XCTAssertEqual(run.status, 0, "Scripts/farm-lab:\n\(run.output)", file: file, line: line)
        XCTAssertFalse(run.output.contains("FAILED"), run.output, file: file, line: line)
        return run
    }

    /// Which single member each client reached; fails for a client that reached two.
    private func memberOfEachClient(_ connections: [Connection], file: StaticString = #filePath, line: UInt = #line) -> [String: String] {
        var members: [String: Set<String>] = [:]
        for c in connections where c.ok { members[c.client, default: []].insert(c.member ?? "?") }
        for (client, set) in members where set.count != 1 {
            XCTFail("\(client) reached \(set.sorted())", file: file, line: line)
        }
        return members.compactMapValues(\.first)
    }

    func testSourcePersistence200ClientsSpreadOverBothHostsAndKeepOneMember() throws {
        let connections = try labRun().connections("source.jsonl")
        XCTAssertEqual(connections.count, 1000)
        XCTAssertEqual(connections.filter(\.ok).count, 1000, "every connection answered")
        let onA = connections.filter { $0.edge == "edge-a" }.count
        let onB = connections.filter { $0.edge == "edge-b" }.count
        XCTAssertEqual(onA + onB, 1000)
        for (host, count) in [("edge-a", onA), ("edge-b", onB)] {
            XCTAssertTrue((300...700).contains(count), "\(host) took \(count) of 1000 (expected 30 % to 70 %)")
        }
        let members = memberOfEachClient(connections)
        XCTAssertEqual(members.count, 200)
        XCTAssertEqual(Set(members.values), ["fe1", "fe2", "fe3"], "the three members share the clients")
        let throughBoth = Set(connections.filter { $0.edge == "edge-a" }.map(\.client))
            .intersection(connections.filter { $0.edge == "edge-b" }.map(\.client))
        XCTAssertGreaterThan(throughBoth.count, 100, "most clients came through both hosts, and still one member")
    }

    func testCookieIssuedByOneHostIsHonouredByTheOther() throws {
        let run = try labRun()
        let issue = try run.connections("cookie-issue.jsonl")
        let plan = try run.json("cookie-plan.json")
        let expect = try XCTUnwrap(plan["expect"] as? [String: String])
        let issuer = try XCTUnwrap(plan["issuer"] as? [String: String])
        XCTAssertEqual(issue.filter { $0.ok && $0.setCookie?.hasPrefix("MS-WSMAN=") == true }.count, 200)
        // The same member gets the same token from either host.
        var tokens: [String: Set<String>] = [:]
        for c in issue where c.ok {
            tokens[c.member ?? "?", default: []].insert(String(c.setCookie?.split(separator: ";").first ?? ""))
        }
        XCTAssertEqual(tokens.count, 3)
        XCTAssertTrue(tokens.values.allSatisfy { $0.count == 1 }, "\(tokens)")

        let withCookie = try run.connections("cookie.jsonl")
        XCTAssertEqual(withCookie.count, 1000)
        var crossed: [String: Int] = [:]
        for c in withCookie {
            XCTAssertTrue(c.ok, "\(c.client):\(c.sourcePort) failed")
            // The token names the member after the one source persistence picks: only the
            // cookie takes the client there.
            XCTAssertEqual(c.member, expect[c.client], "\(c.client) with a token for \(expect[c.client] ?? "?")")
            XCTAssertNil(c.setCookie, "a request with a valid token gets no new cookie")
            if let from = issuer[c.client], let to = c.edge, from != to { crossed[from + ">" + to, default: 0] += 1 }
        }
        XCTAssertGreaterThan(crossed["edge-a>edge-b"] ?? 0, 0, "tokens issued by edge-a honoured by edge-b")
        XCTAssertGreaterThan(crossed["edge-b>edge-a"] ?? 0, 0, "tokens issued by edge-b honoured by edge-a")
    }

    func testWithdrawnHostFailsOnlyItsConnectionsInFlightAndClientsKeepTheirMember() throws {
        let run = try labRun()
        let loop = try run.connections("withdraw.jsonl")
        let times = try String(contentsOfFile: run.results + "/withdraw-at.txt", encoding: .utf8)
            .split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let withdrawn = try XCTUnwrap(times.last)
        var host: [String: String] = [:]
        for edge in ["edge-a", "edge-b"] {
            let seen = try String(contentsOfFile: run.results + "/withdraw-syn-\(edge).txt", encoding: .utf8)
            // The lab's clients never reuse a port in a run: one address:port is one connection.
            for line in seen.split(separator: "\n") {
                let key = line.replacingOccurrences(of: " ", with: ":")
                host[key] = host[key] == nil ? edge : "both"
            }
        }
        XCTAssertGreaterThan(loop.count, 1000, "the request loop ran")
        for c in loop where !c.ok {
            XCTAssertEqual(host["\(c.client):\(c.sourcePort)"], "edge-a", "a failed connection was not on the withdrawn host")
            XCTAssertLessThan(c.start, withdrawn, "a connection started after the withdrawal failed")
        }
        let later = loop.filter { $0.start > withdrawn + 0.5 }
        XCTAssertGreaterThan(later.count, 500)
        XCTAssertTrue(later.allSatisfy { $0.ok && $0.edge == "edge-b" }, "after the withdrawal, edge-b answers everything")
        let before = memberOfEachClient(try run.connections("source.jsonl"))
        for c in loop where c.ok {
            XCTAssertEqual(c.member, before[c.client], "\(c.client) changed member through the withdrawal")
        }
        let switched = Set(loop.filter { $0.ok && $0.edge == "edge-a" }.map(\.client))
            .intersection(later.map(\.client))
        XCTAssertGreaterThan(switched.count, 0, "some clients went from edge-a to edge-b")
    }

    func testMemberDrainedOnBothHostsMovesOnlyItsOwnClients() throws {
        let run = try labRun()
        let before = memberOfEachClient(try run.connections("source.jsonl"))
        let drained = try run.connections("drain.jsonl")
        XCTAssertEqual(drained.filter(\.ok).count, 1000)
        let after = memberOfEachClient(drained)
        XCTAssertEqual(after.count, 200)
        var moved = 0
        for (client, member) in after {
            XCTAssertNotEqual(member, "fe2", "\(client) reached the drained member")
            if before[client] == "fe2" {
                moved += 1
            } else {
                XCTAssertEqual(member, before[client], "\(client) moved although its member was not drained")
            }
        }
        XCTAssertEqual(moved, before.values.filter { $0 == "fe2" }.count)
        XCTAssertGreaterThan(moved, 0)
    }

    func testStatsMergeTotalsBothHostsAndNamesDisagreements() throws {
        let run = try labRun()
        let merged = try run.json("stats-merged.json")
        let hosts = try XCTUnwrap(merged["hosts"] as? [[String: Any]])
        XCTAssertEqual(hosts.map { $0["host"] as? String }, ["edge-a", "edge-b"])
        let digests = Set(hosts.compactMap { $0["config_digest"] as? String })
        XCTAssertEqual(digests.count, 1, "both hosts run the same file: \(hosts)")
        XCTAssertEqual(digests.first?.count, 64)
        XCTAssertEqual(merged["config_digests_agree"] as? Bool, true)
        XCTAssertEqual(merged["disagreements"] as? [String], [])
        let rules = try XCTUnwrap(merged["rules"] as? [[String: Any]])
        let source = try XCTUnwrap(rules.first { $0["name"] as? String == "source" })
        let byHost = try XCTUnwrap(source["requests_by_host"] as? [String: Int])
        XCTAssertEqual((source["requests"] as? Int), byHost.values.reduce(0, +))
        XCTAssertGreaterThan(byHost["edge-a"] ?? 0, 0)
        XCTAssertGreaterThan(byHost["edge-b"] ?? 0, 0)
        let members = try XCTUnwrap(merged["members"] as? [[String: Any]])
        XCTAssertEqual(members.count, 6, "two farms of three members")
        let pool = members.filter { $0["farm"] as? String == "pool" }
        XCTAssertEqual(
            pool.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }, source["requests"] as? Int,
            "every request of rule source was forwarded to one member of farm pool")

        let disagree = try run.json("stats-disagree.json")
        let lines = try XCTUnwrap(disagree["disagreements"] as? [String])
        XCTAssertEqual(lines, ["farm pool member 10.205.0.13:8080 is drained on edge-a, up on edge-b"])
    }
}
