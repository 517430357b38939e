import Affinity
import Publishing
import XCTest

/// The per-source limit bookkeeping, with its own clock: no sockets, no timing.
final class SourceLimitTableTests: XCTestCase {
    let second: UInt64 = 1_000_000_000
    let t0: UInt64 = 1_000 * 1_000_000_000

    func address(_ text: String) -> ClientAddress { ClientAddress(text)! }

    func table(_ limits: SourceLimits, rules: [RuleLimits?] = [], mask: AffinityMask = .host) -> SourceLimitTable {
        var table = SourceLimitTable(limits: limits, mask: mask)
        let named = rules.enumerated().map { index, own in
            var rule = PublishingRule(name: "r\(index)", publicNames: [], farm: "f", position: pos(1, 1))
            rule.limits = own
            return rule
        }
        XCTAssertEqual(table.register(rules: named), Array(named.indices))
        return table
    }

    func only(concurrent: Int? = nil, perMinute: Int? = nil, requests: Int? = nil, halfOpen: Int? = nil) -> SourceLimits {
        SourceLimits(concurrentConnections: concurrent, connectionsPerMinute: perMinute, requestsPerMinute: requests, halfOpenHandshakes: halfOpen)
    }

    func testDefaultsAreTMGs() {
        let limits = SourceLimits()
        XCTAssertEqual(limits.concurrentConnections, 160)
        XCTAssertEqual(limits.connectionsPerMinute, 600)
        XCTAssertEqual(limits.requestsPerMinute, 600)
        XCTAssertEqual(limits.halfOpenHandshakes, 80)
        XCTAssertEqual(limits.trackedSources, 65_536)
    }

    func testStreamsCountPerSourceAcrossConnectionsAndComeBackWhenTheyEnd() {
        var limits = only()
        limits.concurrentStreams = 3
        var t = table(limits)
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual((0..<4).map { _ in t.admitStream(source: client) }, [true, true, true, false])
        t.streamClosed(source: client)
        XCTAssertTrue(t.admitStream(source: client))
        XCTAssertFalse(t.admitStream(source: client))
        XCTAssertTrue(t.admitStream(source: address("192.0.2.8")), "a source not counted is not limited")
        XCTAssertEqual(SourceLimits().concurrentStreams, 800)
        XCTAssertNil(SourceLimits.off.concurrentStreams)
    }

    func testConcurrentConnectionsComeBackOnClose() {
        var t = table(only(concurrent: 2))
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .refused(.concurrentConnections))
        // Another source is not affected.
        XCTAssertEqual(t.admitConnection(from: address("192.0.2.8"), handshake: false, now: t0), .admitted(source: address("192.0.2.8")))
        t.connectionClosed(source: client, handshakeOpen: false)
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .refused(.concurrentConnections))
    }

    func testSourcesAreMaskedByTheAffinityPrefix() {
        var t = table(only(concurrent: 2), mask: AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!)
        let network = address("192.0.2.0")
        XCTAssertEqual(t.admitConnection(from: address("192.0.2.7"), handshake: false, now: t0), .admitted(source: network))
        XCTAssertEqual(t.admitConnection(from: address("192.0.2.200"), handshake: false, now: t0), .admitted(source: network))
        XCTAssertEqual(t.admitConnection(from: address("192.0.2.9"), handshake: false, now: t0), .refused(.concurrentConnections))
        XCTAssertEqual(t.admitConnection(from: address("192.0.3.9"), handshake: false, now: t0), .admitted(source: address("192.0.3.0")))
        let v6 = address("2001:db8:1:2::")
        XCTAssertEqual(t.admitConnection(from: address("2001:db8:1:2::a"), handshake: false, now: t0), .admitted(source: v6))
        XCTAssertEqual(t.admitConnection(from: address("2001:db8:1:2:ffff::1"), handshake: false, now: t0), .admitted(source: v6))
        XCTAssertEqual(t.admitConnection(from: address("2001:db8:1:2::b"), handshake: false, now: t0), .refused(.concurrentConnections))
    }

    func testConnectionsPerMinuteIsAOneMinuteWindow() {
        var t = table(only(perMinute: 3))
        let client = address("192.0.2.7")
        for i in 0..<3 {
            XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0 + UInt64(i) * second), .admitted(source: client))
            t.connectionClosed(source: client, handshakeOpen: false)
        }
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0 + 59 * second), .refused(.connectionsPerMinute))
        // The window began with the first connection: it ends 60 s later.
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0 + 60 * second), .admitted(source: client))
    }

    func testHalfOpenHandshakesEndWithTheHandshakeOrTheConnection() {
        var t = table(only(halfOpen: 2))
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .refused(.halfOpenHandshakes))
        // Plain connections (no TLS) do not handshake.
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        t.handshakeEnded(source: client)
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .refused(.halfOpenHandshakes))
        t.connectionClosed(source: client, handshakeOpen: true)
        XCTAssertEqual(t.admitConnection(from: client, handshake: true, now: t0), .admitted(source: client))
    }

    func testRefusedConnectionsAreNotCounted() {
        var t = table(only(concurrent: 1, perMinute: 2))
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        for _ in 0..<10 {
            XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .refused(.concurrentConnections))
        }
        t.connectionClosed(source: client, handshakeOpen: false)
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
    }

    func testExceptionsAreNeverCounted() {
        var limits = only(concurrent: 1, perMinute: 1, requests: 1, halfOpen: 1)
        limits.exceptions = [SourceNetwork("127.0.0.2/32")!, SourceNetwork("2001:db8::/32")!]
        var t = table(limits)
        for _ in 0..<5 {
            XCTAssertEqual(t.admitConnection(from: address("127.0.0.2"), handshake: true, now: t0), .exempt)
            XCTAssertEqual(t.admitConnection(from: address("2001:db8::7"), handshake: true, now: t0), .exempt)
        }
        XCTAssertEqual(t.count, 0)
        XCTAssertEqual(t.admitConnection(from: address("127.0.0.3"), handshake: true, now: t0), .admitted(source: address("127.0.0.3")))
    }

    func testRequestsPerMinuteWithRetryAfter() {
        var t = table(only(requests: 3))
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitRequest(source: client, rule: nil, now: t0), .allowed)
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0 + 10 * second), .allowed)
        XCTAssertEqual(t.admitRequest(source: client, rule: 1, now: t0 + 20 * second), .allowed)
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0 + 20 * second), .refused(retryAfter: 40))
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0 + 59 * second + 1), .refused(retryAfter: 1))
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0 + 60 * second), .allowed)
    }

    func testRuleLimitsCountApartFromTheGlobalOne() {
        // Rule 0 has its own limit of 2, rule 1 none at all, rule 2 the global 3.
        var t = table(only(requests: 3), rules: [RuleLimits(requestsPerMinute: 2), RuleLimits(requestsPerMinute: nil), nil])
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0), .allowed)
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0), .allowed)
        XCTAssertEqual(t.admitRequest(source: client, rule: 0, now: t0), .refused(retryAfter: 60))
        for _ in 0..<3 { XCTAssertEqual(t.admitRequest(source: client, rule: 2, now: t0), .allowed) }
        XCTAssertEqual(t.admitRequest(source: client, rule: 2, now: t0), .refused(retryAfter: 60))
        XCTAssertEqual(t.admitRequest(source: client, rule: nil, now: t0), .refused(retryAfter: 60))
        for _ in 0..<100 { XCTAssertEqual(t.admitRequest(source: client, rule: 1, now: t0), .allowed) }
    }

    func testIdleSourcesExpire() {
        var t = table(only(concurrent: 5, perMinute: 5))
        let client = address("192.0.2.7")
        XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        t.expire(now: t0 + 120 * second)
        XCTAssertEqual(t.count, 1, "an open connection keeps its source")
        t.connectionClosed(source: client, handshakeOpen: false)
        t.expire(now: t0 + 30 * second)
        XCTAssertEqual(t.count, 1, "a window still running keeps its source")
        t.expire(now: t0 + 60 * second)
        XCTAssertEqual(t.count, 0)
    }

    /// A scan from 100 000 addresses cannot grow the table past its capacity.
    func testAScanOfManyAddressesStaysBounded() {
        var limits = SourceLimits()
        limits.trackedSources = 2048
        var t = table(limits)
        let kept = address("198.51.100.1")
        XCTAssertEqual(t.admitConnection(from: kept, handshake: true, now: t0), .admitted(source: kept))
        var now = t0
        for i in 0..<100_000 {
            now += 1000  // 100 000 connections in 0.1 s: every window is still running
            let client = ClientAddress(bytes: [10, UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)])!
            guard case .admitted(let source) = t.admitConnection(from: client, handshake: false, now: now) else {
                return XCTFail("connection \(i) was not admitted")
            }
            t.connectionClosed(source: source, handshakeOpen: false)
            if t.count > 2048 { return XCTFail("\(t.count) sources after \(i + 1) connections") }
        }
        XCTAssertGreaterThan(t.evicted, 95_000)
        // The source with an open connection was never forgotten: its limits still hold.
        for _ in 0..<79 { _ = t.admitConnection(from: kept, handshake: true, now: now) }
        XCTAssertEqual(t.admitConnection(from: kept, handshake: true, now: now), .refused(.halfOpenHandshakes))
    }

    func testAFullTableOfOpenSourcesAdmitsWithoutCounting() {
        var limits = only(concurrent: 1)
        limits.trackedSources = 1024
        var t = table(limits)
        for i in 0..<1024 {
            let client = ClientAddress(bytes: [10, 0, UInt8(i >> 8), UInt8(i & 0xff)])!
            XCTAssertEqual(t.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        }
        let late = address("10.1.0.1")
        XCTAssertEqual(t.admitConnection(from: late, handshake: false, now: t0), .untracked)
        XCTAssertEqual(t.untracked, 1)
        XCTAssertEqual(t.count, 1024)
        t.connectionClosed(source: address("10.0.0.0"), handshakeOpen: false)
        // A full table is swept again a second later, not on every accept.
        XCTAssertEqual(t.admitConnection(from: late, handshake: false, now: t0 + second / 2), .untracked)
        XCTAssertEqual(t.admitConnection(from: late, handshake: false, now: t0 + second), .admitted(source: late))
    }

    func testTableFromConfiguration() throws {
        var table: SourceLimitTable?
        XCTAssertEqual(SourceLimitTable.configure(&table, for: try loadValid(minimalYAML)), [])
        XCTAssertNil(table)
        let global = try loadValid(minimalYAML + "\nlimits: {}\naffinity: { ipv4_prefix: 24 }\n")
        XCTAssertEqual(SourceLimitTable.configure(&table, for: global), [0])
        XCTAssertEqual(table?.limits, SourceLimits())
        XCTAssertEqual(table?.mask, AffinityMask(ipv4Prefix: 24, ipv6Prefix: 128))
        var ruleOnly: SourceLimitTable?
        XCTAssertEqual(SourceLimitTable.configure(&ruleOnly, for: try loadValid("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
        rules:
          - { name: webext, public_names: [webext.contoso.com], farm: pool01, limits: { requests_per_minute: 100 } }
        """)), [0])
        XCTAssertEqual(ruleOnly?.limits, .off)
        XCTAssertEqual(ruleOnly?.ruleLimits, [RuleLimits(requestsPerMinute: 100)])
    }

    /// A reload keeps the counts, and each rule its ID by name, so the old generation's
    /// connections and requests still count against the new limits.
    func testAReloadKeepsCountsAndRuleWindowsByName() throws {
        func config(_ limits: String?, _ rules: String) throws -> EdgesplitConfig {
            try loadValid("""
            listeners:
              - { name: https, address: 0.0.0.0, port: 443 }
            farms:
              - { name: pool01, members: ["10.0.0.11:4443"] }
            rules:
            \(rules)
            \(limits.map { "limits: \($0)" } ?? "")
            """)
        }
        let meet = "  - { name: meet, public_names: [meet.contoso.com], farm: pool01, limits: { requests_per_minute: 1 } }"
        let web = "  - { name: web, public_names: [web.contoso.com], farm: pool01 }"
        var table: SourceLimitTable?
        XCTAssertEqual(SourceLimitTable.configure(&table, for: try config("{ concurrent_connections: 2 }", meet + "\n" + web)), [0, 1])
        let client = address("192.0.2.7")
        XCTAssertEqual(table?.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(table?.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(table?.admitRequest(source: client, rule: 0, now: t0), .allowed)

        // The rules swap places and a limit changes.
        XCTAssertEqual(SourceLimitTable.configure(&table, for: try config("{ concurrent_connections: 3 }", web + "\n" + meet)), [1, 0])
        XCTAssertEqual(table?.count, 1)
        XCTAssertEqual(table?.admitConnection(from: client, handshake: false, now: t0), .admitted(source: client))
        XCTAssertEqual(table?.admitConnection(from: client, handshake: false, now: t0), .refused(.concurrentConnections))
        XCTAssertEqual(table?.admitRequest(source: client, rule: 0, now: t0), .refused(retryAfter: 60), "meet's window went on")

        // Limits gone: the table goes.
        XCTAssertEqual(SourceLimitTable.configure(&table, for: try config(nil, web)), [])
        XCTAssertNil(table)
    }
}
