import Foundation
import XCTest

@testable import Admin

/// `maps`, `bpf` and `test-rule --json`: the keys scripts read, `null` where a figure is not
/// known, keys left out where they do not apply, and a read back equal to what was written.
final class SteeringReportJSONTests: XCTestCase {
    private func object(_ value: some Encodable) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONOutput.data(value)) as? [String: Any])
    }

    func testSteeringReportsKeepTheirKeys() throws {
        let table = SteeringTable(
            instance: "edgesplit", pinPath: "/sys/fs/bpf/edgesplit/edgesplit", ipv4Prefix: 24, ipv6Prefix: 64, seed: 0xfeed,
            generation: 1, activeHalf: 0, workerCount: 1, balanceFactor: nil,
            workers: [SteeringTable.Worker(worker: 0, slots: 6421, share: 1, drained: false, selections: 3, overflowed: 0, open: 1)],
            groups: [SteeringTable.Group(address: "127.0.0.1", port: 8443, base: 0)], fallback: 0, total: 3)
        let text = JSONOutput.text(table)
        XCTAssertTrue(text.contains(#""pin_path":"/sys/fs/bpf/edgesplit/edgesplit""#), "slashes as they are: \(text)")
        XCTAssertTrue(text.contains(#""balance_factor":null"#), text)
        XCTAssertEqual(try JSONDecoder().decode(SteeringTable.self, from: Data(text.utf8)), table)

        var placement = ClientPlacement(client: "198.51.100.7", key: "198.51.100.0/24", hash: 1, slot: 2, worker: 0, generation: 1, bounded: nil)
        XCTAssertEqual(Set(try object(placement).keys), ["client", "key", "hash", "slot", "worker", "generation"])
        placement.bounded = ClientPlacement.Overflow(maglevWorker: 1, overflow: true, open: 5, bound: 4.5, balanceFactor: 1.25)
        XCTAssertEqual(try object(placement)["maglev_worker"] as? Int, 1)
        XCTAssertEqual(try JSONDecoder().decode(ClientPlacement.self, from: JSONOutput.data(placement)), placement)
        placement.bounded?.bound = nil
        XCTAssertTrue(try object(placement)["bound"] is NSNull, "no bound is null, not infinity")
        XCTAssertEqual(try JSONDecoder().decode(ClientPlacement.self, from: JSONOutput.data(placement)), placement)

        let change = SteeringChange(instance: "edgesplit", worker: nil, drained: nil, drainedWorkers: [], ipv4Prefix: 24, ipv6Prefix: 64, balanceFactor: nil, generation: 2)
        let changeJSON = try object(change)
        XCTAssertNil(changeJSON["worker"])
        XCTAssertTrue(changeJSON["balance_factor"] is NSNull)
        XCTAssertEqual(try JSONDecoder().decode(SteeringChange.self, from: JSONOutput.data(change)), change)

        let report = RuleTestReport(url: "https://meet.contoso.com/", client: "127.0.0.1", result: "pass",
                                    steps: [RuleTestReport.Step(step: "rule", result: "pass", reason: "matched", details: ["a \"quoted\" detail"])])
        XCTAssertEqual(try JSONDecoder().decode(RuleTestReport.self, from: JSONOutput.data(report)), report)
    }
}
