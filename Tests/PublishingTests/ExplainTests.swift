import Affinity
import Publishing
import XCTest

final class ExplainTests: XCTestCase {
    func testExplainListsEveryRuleUpToTheDecision() throws {
        let config = try loadValid(RuleTableTests.yaml)
        let table = RuleTable(config: config)
        let client = ClientAddress("203.0.113.9")!

        let steps = table.explain(listener: 0, host: bytes("webext.contoso.com"), path: bytes("/ucwa"), client: client)
        XCTAssertEqual(steps.map(\.outcome), [.listenerNotIncluded, .hostNotMatched, .hostNotMatched, .pathNotMatched, .pathNotMatched, .matched])
        XCTAssertEqual(steps.map(\.ruleIndex), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(steps.map(\.description), [
            "rule 'discover-http': skipped: not published on this listener",
            "rule 'block-admin': skipped: host is not one of its public names",
            "rule 'lab': skipped: host is not one of its public names",
            "rule 'abs': skipped: path is not one of its paths",
            "rule 'no-upload': skipped: path is not one of its paths",
            "rule 'webext': matched: forward",
        ])

        XCTAssertEqual(
            table.explain(listener: 0, host: bytes("lab.contoso.com"), path: bytes("/"), client: client).map(\.outcome),
            [.listenerNotIncluded, .hostNotMatched, .sourceOutsideNetworks]
        )
        XCTAssertEqual(
            table.explain(listener: 1, host: bytes("admin.contoso.com"), path: bytes("/"), client: client).map(\.outcome),
            [.hostNotMatched, .denied]
        )
        let none = table.explain(listener: 1, host: bytes("nowhere.example"), path: bytes("/"), client: client)
        XCTAssertEqual(none.count, config.rules.count, "no match: every rule is explained")
        XCTAssertEqual(none.map(\.outcome), [.hostNotMatched, .hostNotMatched] + Array(repeating: .listenerNotIncluded, count: 5))
    }

    func testExplainAgreesWithDecide() throws {
        let config = try loadValid(RuleTableTests.yaml)
        let table = RuleTable(config: config)
        let hosts = ["webext.contoso.com", "lab.contoso.com", "admin.contoso.com", "lyncdiscover.contoso.com", "officewebapps01.contoso.net", "x.example", "[2001:db8::10]"]
        let paths = ["/", "/abs", "/abs/x", "/datacollabweb/a", "/m/x", "/hosting/discovery"]
        let clients = ["203.0.113.9", "10.0.0.1", "2001:db8::1"].map { ClientAddress($0)! }
        for listener in 0..<2 {
            for host in hosts {
                for path in paths {
                    for client in clients {
                        let decision = table.decide(listener: listener, host: bytes(host), path: bytes(path), client: client)
                        let last = table.explain(listener: listener, host: bytes(host), path: bytes(path), client: client).last
                        switch decision {
                        case let .forward(rule, _): XCTAssertEqual(last, RuleEvaluation(ruleIndex: rule, ruleName: config.rules[rule].name, outcome: .matched))
                        case let .deny(rule): XCTAssertEqual(last?.ruleIndex, rule); XCTAssertEqual(last?.outcome, .denied)
                        case let .sourceNotAllowed(rule): XCTAssertEqual(last?.ruleIndex, rule); XCTAssertEqual(last?.outcome, .sourceOutsideNetworks)
                        case .noMatch: XCTAssertFalse([.matched, .denied, .sourceOutsideNetworks].contains(last?.outcome))
                        }
                    }
                }
            }
        }
    }
}
