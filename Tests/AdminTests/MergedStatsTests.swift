import Foundation
import XCTest

@testable import Admin

/// `edgesplit stats --merge`: totals of several hosts and what they disagree on, from the
/// JSON each host prints (no sockets here).
final class MergedStatsTests: XCTestCase {
    /// A host's control-socket `stats` answer with the fields the merge reads.
    private func process(
        digest: String? = "aa11", instance: String = "farm", requests: [String: Int] = ["source": 0],
        members: [(String, String, Int)] = [("10.0.0.11:8080", "up", 0), ("10.0.0.12:8080", "up", 0)],
        accepted: Int = 10
    ) -> [String: Any] {
        var object: [String: Any] = [
            "ok": true, "instance": instance,
            "workers": [["worker": 0, "accepted": accepted, "requests": requests.values.reduce(0, +)]],
            "listeners": [["name": "vip", "requests": requests.values.reduce(0, +), "status_2xx": requests.values.reduce(0, +)]],
            "rules": requests.sorted { $0.key < $1.key }.map { ["name": $0.key, "requests": $0.value, "status_2xx": $0.value, "bytes_out": 100 * $0.value] }
                + [["name": "(no rule)", "requests": 0]],
            "members": members.map { ["farm": "pool", "member": $0.0, "state": $0.1, "active": 1, "requests": $0.2] },
        ]
        object["config_digest"] = digest ?? NSNull()
        return object
    }

    /// A host as `stats --merge` reads it: the JSON text of `object`.
    private func input(_ host: String, _ object: [String: Any]) -> MergedStats.Input {
        do {
            return try MergedStats.Input(host: host, json: JSONSerialization.data(withJSONObject: object))
        } catch {
            XCTFail("\(host): \(error)")
            return MergedStats.Input(host: host, process: nil)
        }
    }

    /// The report's JSON, parsed back as a script would.
    private func json(_ merged: MergedStats) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONOutput.data(merged)) as? [String: Any])
    }

    func testTotalsByRuleAndMemberWithEachHostsShare() throws {
        let merged = MergedStats([
            input("a", process(requests: ["source": 30, "cookie": 5], members: [("10.0.0.11:8080", "up", 20), ("10.0.0.12:8080", "up", 15)])),
            // `stats --json` output: the process part is nested, with the kernel beside it.
            input("b", ["instance": "farm", "running": true, "kernel": NSNull(),
                                     "process": process(requests: ["source": 10, "cookie": 1], members: [("10.0.0.11:8080", "up", 4), ("10.0.0.12:8080", "up", 7)])]),
        ])
        XCTAssertEqual(merged.hosts.map(\.name), ["a", "b"])
        XCTAssertEqual(merged.hosts.map(\.requests), [35, 11])
        XCTAssertEqual(merged.hosts.map(\.configurationDigest), ["aa11", "aa11"])
        let source = merged.rules.first { $0.name == "source" }
        XCTAssertEqual(source?.requests, 40)
        XCTAssertEqual(source?.requestsByHost, [30, 10])
        XCTAssertEqual(source?.statusClasses, [0, 40, 0, 0, 0])
        XCTAssertEqual(source?.bytesOut, 4000)
        XCTAssertEqual(merged.members.map(\.requests), [24, 22])
        XCTAssertEqual(merged.members.map(\.active), [2, 2])
        XCTAssertEqual(merged.members.first?.requestsByHost, [20, 4])
        XCTAssertEqual(merged.members.first?.states, ["up", "up"])
        XCTAssertEqual(merged.disagreements, [])

        let json = try json(merged)
        XCTAssertEqual(json["config_digests_agree"] as? Bool, true)
        XCTAssertEqual((json["totals"] as? [String: Any])?["requests"] as? Int, 46)
        let rule = (json["rules"] as? [[String: Any]])?.first { $0["name"] as? String == "source" }
        XCTAssertEqual(rule?["requests_by_host"] as? [String: Int], ["a": 30, "b": 10])
        XCTAssertEqual(rule?["status_2xx"] as? Int, 40)
        let member = (json["members"] as? [[String: Any]])?.first
        XCTAssertEqual((member?["state_by_host"] as? [String: Any])?["a"] as? String, "up")

        let text = merged.text
        XCTAssertTrue(text.contains("2 edge hosts merged"), text)
        XCTAssertTrue(text.contains("source                  40        40"), text)
        XCTAssertTrue(text.contains("30 (75%)"), text)
        XCTAssertTrue(text.contains("none: same configuration digest"), text)
        XCTAssertFalse(text.contains("(no rule)"), "an unused (no rule) line is left out:\n\(text)")
    }

    func testMemberDownOnOneHostAndDifferentDigestsAreNamed() throws {
        let merged = MergedStats([
            input("edge-a", process(digest: "aaaaaaaaaaaaaaaa", members: [("10.0.0.11:8080", "down", 0), ("10.0.0.12:8080", "up", 0)])),
            input("edge-b", process(digest: "bbbbbbbbbbbbbbbb", members: [("10.0.0.11:8080", "up", 0), ("10.0.0.12:8080", "drained", 0)])),
        ])
        XCTAssertEqual(merged.disagreements, [
            "configuration digests differ: edge-a aaaaaaaaaaaa, edge-b bbbbbbbbbbbb",
            "farm pool member 10.0.0.11:8080 is down on edge-a, up on edge-b",
            "farm pool member 10.0.0.12:8080 is up on edge-a, drained on edge-b",
        ])
        XCTAssertEqual(try json(merged)["config_digests_agree"] as? Bool, false)
        XCTAssertTrue(merged.text.contains("  farm pool member 10.0.0.11:8080 is down on edge-a, up on edge-b\n"), merged.text)
    }

    func testMissingMembersRulesAndUnreachableHosts() throws {
        let merged = MergedStats([
            input("a", process(requests: ["source": 1, "extra": 2], members: [("10.0.0.11:8080", "up", 0)])),
            input("b", process(requests: ["source": 1], members: [("10.0.0.11:8080", "up", 0), ("10.0.0.13:8080", "up", 0)])),
            input("c", ["instance": "farm", "running": false, "process": NSNull()]),
            input("d", process(digest: nil, instance: "other")),
        ])
        XCTAssertEqual(merged.hosts.map(\.running), [true, true, false, true])
        XCTAssertEqual(merged.disagreements, [
            "c: the process is not running or not reachable; its figures are missing",
            "configuration digests differ: a aa11, b aa11, d (none)",
            "instance names differ: a farm, b farm, d other",
            "farm pool member 10.0.0.13:8080 is not configured on a, d",
            "farm pool member 10.0.0.12:8080 is not configured on a, b",
            "rule extra is not configured on b, d",
        ])
        XCTAssertTrue(merged.text.contains("(not running)"), merged.text)
        let states = try XCTUnwrap((try json(merged)["members"] as? [[String: Any]])?.last?["state_by_host"] as? [String: Any])
        XCTAssertTrue(states["a"] is NSNull, "a member a host does not list is null: \(states)")
    }
}
