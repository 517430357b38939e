import Publishing
import XCTest

/// `limits:` globally and per rule: values, defaults and every refusal with its position.
final class LimitsConfigTests: XCTestCase {
    let base = minimalYAML + "\n"
    /// `base` with a second rule, `meet`, whose last line is `limits: ` + the argument.
    func withRuleLimits(_ limits: String) -> String {
        base + "  - name: meet\n    public_names: [meet.contoso.com]\n    farm: pool01\n    limits: \(limits)\n"
    }

    func diagnostics(_ yaml: String) -> [String] {
        load(yaml).diagnostics.map(\.description)
    }

    func testAbsentMeansNoLimits() throws {
        let config = try loadValid(base)
        XCTAssertNil(config.limits)
        XCTAssertNil(config.rules[0].limits)
    }

    func testEmptySectionTakesTMGsDefaults() throws {
        XCTAssertEqual(try loadValid(base + "limits: {}\n").limits, SourceLimits())
    }

    func testEveryKey() throws {
        let config = try loadValid(base + """
        limits:
          concurrent_connections: 20
          connections_per_minute: off
          requests_per_minute: 1200
          half_open_handshakes: 10
          exceptions: ["10.0.0.0/8", "2001:db8::/32", 192.0.2.7]
          tracked_sources: 2048
        """)
        let limits = try XCTUnwrap(config.limits)
        XCTAssertEqual(limits.concurrentConnections, 20)
        XCTAssertNil(limits.connectionsPerMinute)
        XCTAssertEqual(limits.requestsPerMinute, 1200)
        XCTAssertEqual(limits.halfOpenHandshakes, 10)
        XCTAssertEqual(limits.exceptions.map(\.description), ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"])
        XCTAssertEqual(limits.trackedSources, 2048)
    }

    func testRuleLimits() throws {
        let config = try loadValid(base + """
          - { name: meet, public_names: [meet.contoso.com], farm: pool01, limits: { requests_per_minute: 60 } }
          - { name: ucwa, public_names: [lyncdiscover.contoso.com], farm: pool01, limits: { requests_per_minute: off } }
        """)
        XCTAssertNil(config.rules[0].limits)
        XCTAssertEqual(config.rules[1].limits, RuleLimits(requestsPerMinute: 60))
        XCTAssertEqual(config.rules[2].limits, RuleLimits(requestsPerMinute: nil))
    }

    func testBadValuesSayFileLineValueAndWhatWasExpected() {
        XCTAssertEqual(diagnostics(base + """
        limits:
          concurrent_connections: 0
          connections_per_minute: lots
          requests_per_minute: -5
          half_open_handshakes: 2000000
          exceptions: ["10.0.0.1/8", banana]
          tracked_sources: 10
          burst: 5
        """), [
            "edgesplit.yaml:8:27: error: limits.concurrent_connections: expected an integer 1...1000000 or off, got '0'",
            "edgesplit.yaml:9:27: error: limits.connections_per_minute: expected an integer 1...1000000 or off, got 'lots'",
            "edgesplit.yaml:10:24: error: limits.requests_per_minute: expected an integer 1...1000000 or off, got '-5'",
            "edgesplit.yaml:11:25: error: limits.half_open_handshakes: expected an integer 1...1000000 or off, got '2000000'",
            "edgesplit.yaml:12:16: error: limits.exceptions[0]: '10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)",
            "edgesplit.yaml:12:30: error: limits.exceptions[1]: expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got 'banana'",
            "edgesplit.yaml:13:20: error: limits.tracked_sources: expected an integer 1024...16777216, got '10'",
            "edgesplit.yaml:14:3: error: unknown key 'burst' in limits (expected one of concurrent_connections, connections_per_minute, requests_per_minute, half_open_handshakes, concurrent_streams, exceptions, tracked_sources)",
        ])
        XCTAssertEqual(diagnostics(base + "limits: { exceptions: [] }\n"), [
            "edgesplit.yaml:7:23: error: limits.exceptions: the list is empty; omit the key when no network is exempt",
        ])
        XCTAssertEqual(diagnostics(base + "limits: 600\n"), [
            "edgesplit.yaml:7:9: error: limits: expected a mapping of concurrent_connections, connections_per_minute, requests_per_minute, half_open_handshakes, concurrent_streams, exceptions, tracked_sources, got '600'",
        ])
    }

    func testRuleLimitsTakeOnlyRequests() {
        XCTAssertEqual(diagnostics(withRuleLimits("{ concurrent_connections: 5, requests_per_minute: 10 }")), [
            "edgesplit.yaml:10:15: error: rules[1].limits.concurrent_connections: only requests_per_minute can be set per rule: connections are limited when they are accepted, before any request names a rule; set concurrent_connections in the top-level limits",
        ])
        XCTAssertEqual(diagnostics(withRuleLimits("{ requests_per_minute: many }")), [
            "edgesplit.yaml:10:36: error: rules[1].limits.requests_per_minute: expected an integer 1...1000000 or off, got 'many'",
        ])
        XCTAssertEqual(diagnostics(withRuleLimits("{}")), [
            "edgesplit.yaml:10:13: error: rules[1].limits: expected requests_per_minute (an integer or off), got nothing",
        ])
    }

    func testHalfOpenAboveConcurrentIsAWarning() {
        XCTAssertEqual(diagnostics(base + "limits: { concurrent_connections: 10, half_open_handshakes: 20 }\n"), [
            "edgesplit.yaml:7:61: warning: limits.half_open_handshakes: 20 is more than concurrent_connections (10); a handshake is a connection, so concurrent_connections limits first",
        ])
    }
}
