import Demo
import Admin
import Foundation
import NIOCore
import Publishing
import XCTest

@testable import Proxy

/// Per-source limits end to end: real sockets from several 127.0.0.x source addresses, each
/// limit with its status and its counter, exceptions, per-rule limits and the table's bound.
final class SourceLimitTests: ProxyTestCase {
    private func limitedYAML(_ backend: RecordingBackend, limits: String, rule: String = "", extraRule: String = "") -> String {
        """
        listeners:
          - { name: http, address: 127.0.0.1, port: 1 }
        farms:
          - { name: pool, members: ["\(backend.member)"], persistence: none }
        rules:
          - { name: web, public_names: [\(Self.publicName)], farm: pool\(rule) }
          - { name: other, public_names: [other.contoso.test], farm: pool\(extraRule) }
        limits: \(limits)
        """
    }

    private func limited(_ proxy: ProxyHarness, _ reason: LimitReason) throws -> UInt64 {
        try proxy.server.stats().wait().workers.reduce(0) { $0 + ($1.limited[reason] ?? 0) }
    }

    /// A connection that the proxy keeps: it answers a request on it.
    private func assertServed(_ client: TestClient, host: String = ProxyTestCase.publicName, file: StaticString = #filePath, line: UInt = #line) throws {
        try client.send(get("/", host: host))
        XCTAssertEqual(try client.readResponse().status, 200, file: file, line: line)
    }

    /// A connection closed at accept: closed without a byte, before anything was sent.
    private func assertClosedAtAccept(_ client: TestClient, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(client.waitForClose(timeout: 10), "the connection is closed", file: file, line: line)
        XCTAssertEqual(client.unread, [], "nothing was sent on it", file: file, line: line)
    }

    /// Retries a connection from `source` until the proxy admits it: the close of an earlier
    /// connection reaches the worker a moment after the client closed it.
    private func connectAdmitted(_ port: Int, from source: String) throws -> TestClient {
        for _ in 0..<100 {
            let client = try connect(port, from: source)
            if let _ = try? assertServedQuietly(client) { return client }
            client.close()
            usleep(50_000)
        }
        throw TestClientError.closed("an admitted connection from \(source)", received: [])
    }

    private func assertServedQuietly(_ client: TestClient) throws {
        try client.send(get("/"))
        guard try client.readResponse(timeout: 5).status == 200 else { throw TestClientError.malformed("not 200") }
    }

    func testConcurrentConnectionsAreClosedAtAccept() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ concurrent_connections: 3 }"))
        let open = try (0..<3).map { _ in try connect(proxy.port, from: "127.0.0.2") }
        for client in open { try assertServed(client) }
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.2"))
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.2"))
        // Another source has its own count.
        try assertServed(try connect(proxy.port, from: "127.0.0.3"))
        XCTAssertEqual(try limited(proxy, .concurrentConnections), 2)
        // A closed connection gives its place back.
        open[0].close()
        _ = try connectAdmitted(proxy.port, from: "127.0.0.2")
        for client in open[1...] { try assertServed(client) }
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.workers[0].accepted, 5, "refused connections are not counted as accepted")
    }

    func testConnectionsPerMinute() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ connections_per_minute: 4 }"))
        for _ in 0..<4 {
            let client = try connect(proxy.port, from: "127.0.0.4")
            try assertServed(client)
            client.close()
        }
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.4"))
        try assertServed(try connect(proxy.port, from: "127.0.0.5"))
        XCTAssertEqual(try limited(proxy, .connectionsPerMinute), 1)
    }

    func testHalfOpenTLSHandshakes() throws {
        let backend = try startBackend()
        let files = TestPKI.files(["webext": TestPKI.webext], cas: [:])
        let proxy = try startProxy(
            """
            listeners:
              - { name: https, address: 127.0.0.1, port: 1, tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }] } }
            farms:
              - { name: pool, members: ["\(backend.member)"] }
            rules:
              - { name: web, public_names: [\(Self.publicName)], farm: pool }
            limits: { half_open_handshakes: 2 }
            """,
            files: files
        )
        // Two connections that never send a ClientHello hold two handshakes open.
        let stalled = try (0..<2).map { _ in try connect(proxy.port, from: "127.0.0.6") }
        let third = try connect(proxy.port, from: "127.0.0.6")
        assertClosedAtAccept(third)
        XCTAssertEqual(try limited(proxy, .halfOpenHandshakes), 1)
        // Another source handshakes; a finished handshake is not half-open.
        let other = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: Self.publicName, from: "127.0.0.7")
        try assertServed(other)
        // When a stalled connection goes, its handshake place comes back.
        stalled[0].close()
        var admitted: TestClient?
        for _ in 0..<100 where admitted == nil {
            admitted = try? connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: Self.publicName, from: "127.0.0.6")
            if admitted == nil { usleep(50_000) }
        }
        try assertServed(try XCTUnwrap(admitted))
        // Finished handshakes leave room for a new half-open one.
        let fourth = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: Self.publicName, from: "127.0.0.6")
        try assertServed(fourth)
        XCTAssertEqual(try limited(proxy, .halfOpenHandshakes) >= 1, true)
        _ = stalled
    }

    func testRequestsPerMinuteGet429WithRetryAfterAndTheConnectionStays() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ requests_per_minute: 3 }"))
        let client = try connect(proxy.port, from: "127.0.0.8")
        for _ in 0..<3 { try assertServed(client) }
        for _ in 0..<2 {
            try client.send(get("/"))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 429)
            XCTAssertEqual(response.bodyText, "429 Too Many Requests\n")
            let retryAfter = try XCTUnwrap(Int(try XCTUnwrap(response.first("retry-after"))))
            XCTAssertTrue((1...60).contains(retryAfter), "Retry-After \(retryAfter)")
            XCTAssertFalse(client.isClosed)
        }
        XCTAssertEqual(backend.requests.count, 3, "refused requests never reach a member")
        // curl from another source is served; from the limited one it sees 429.
        let curlOther = try runCurl(["--interface", "127.0.0.9", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: \(Self.publicName)", "http://127.0.0.1:\(proxy.port)/"])
        XCTAssertEqual(curlOther.output, "200", curlOther.error)
        let curlLimited = try runCurl(["--interface", "127.0.0.8", "-D", "-", "-o", "/dev/null", "-H", "Host: \(Self.publicName)", "http://127.0.0.1:\(proxy.port)/"])
        XCTAssertTrue(curlLimited.output.hasPrefix("HTTP/1.1 429 Too Many Requests"), curlLimited.output)
        XCTAssertTrue(curlLimited.output.lowercased().contains("retry-after: "), curlLimited.output)
        XCTAssertEqual(try limited(proxy, .requestsPerMinute), 3)
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.rules[0].traffic.statusClasses[3], 3, "429s count as 4xx of the rule")
    }

    func testRuleLimitsApplyToTheRequestsTheRuleMatches() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(
            backend, limits: "{ requests_per_minute: 4 }", rule: ", limits: { requests_per_minute: 2 }"
        ))
        let client = try connect(proxy.port, from: "127.0.0.10")
        for _ in 0..<2 { try assertServed(client) }
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().status, 429)
        // Rule 'other' counts in the global window of 4.
        for _ in 0..<4 { try assertServed(client, host: "other.contoso.test") }
        try client.send(get("/", host: "other.contoso.test"))
        XCTAssertEqual(try client.readResponse().status, 429)
        // Requests no rule matches count in the global window too.
        try client.send(get("/", host: "unknown.test"))
        XCTAssertEqual(try client.readResponse().status, 429)
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.rules.map(\.traffic.statusClasses[3]), [1, 1, 1])
    }

    func testExceptionsAreExempt() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(
            backend,
            limits: "{ concurrent_connections: 1, connections_per_minute: 2, requests_per_minute: 2, exceptions: [127.0.0.11, \"127.0.1.0/24\"] }"
        ))
        for source in ["127.0.0.11", "127.0.1.99"] {
            let clients = try (0..<4).map { _ in try connect(proxy.port, from: source) }
            for client in clients {
                for _ in 0..<3 { try assertServed(client) }
            }
        }
        let limitedClient = try connect(proxy.port, from: "127.0.0.12")
        try assertServed(limitedClient)
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.12"))
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.workers[0].limited[.concurrentConnections], 1)
        XCTAssertEqual(stats.workers[0].limitSources, 1, "exempt sources are not in the table")
    }

    func testTheTableStaysBoundedUnderAScan() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ tracked_sources: 1024 }"))
        // 1 300 sources, each one connection (a window that is still running).
        for i in 0..<1300 {
            let client = try TestClient(port: proxy.port, from: "127.2.\(i / 250).\(i % 250 + 1)")
            client.close()
        }
        var stats = try proxy.server.stats().wait()
        for _ in 0..<100 where stats.workers[0].active > 0 {
            usleep(50_000)
            stats = try proxy.server.stats().wait()
        }
        XCTAssertLessThanOrEqual(stats.workers[0].limitSources, 1024)
        XCTAssertGreaterThan(stats.workers[0].limitSourcesEvicted, 0)
        XCTAssertEqual(stats.workers[0].limitUntracked, 0)
    }

    /// A reload keeps the counts: the old generation's connections still count, and the new
    /// limits apply to them.
    func testAReloadKeepsTheCounts() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ concurrent_connections: 2 }"))
        let open = try (0..<2).map { _ in try connect(proxy.port, from: "127.0.0.20") }
        for client in open { try assertServed(client) }
        try proxy.reload(yaml: limitedYAML(backend, limits: "{ concurrent_connections: 2 }"))
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.20"))
        try proxy.reload(yaml: limitedYAML(backend, limits: "{ concurrent_connections: 3 }"))
        try assertServed(try connect(proxy.port, from: "127.0.0.20"))
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.20"))
        XCTAssertEqual(try limited(proxy, .concurrentConnections), 1, "counted by the current generation")
        _ = open
    }

    /// A reload whose new generation cannot start leaves the running limits in force.
    func testAFailedReloadKeepsTheRunningLimits() throws {
        let backend = try startBackend()
        let taken = try BlackholeListener()  // a port bound without SO_REUSEPORT: the new listener cannot join it
        let proxy = try startProxy(limitedYAML(backend, limits: "{ concurrent_connections: 1 }"))
        let open = try connect(proxy.port, from: "127.0.0.21")
        try assertServed(open)
        let failing = limitedYAML(backend, limits: "{ concurrent_connections: 5 }").replacingOccurrences(
            of: "port: 1 }\n", with: "port: 1 }\n  - { name: spare, address: 127.0.0.1, port: \(taken.port) }\n"
        )
        XCTAssertThrowsError(try proxy.reload(yaml: failing))
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.21"))
    }

    func testCountersInStatsJSONAndMetrics() throws {
        let backend = try startBackend()
        let proxy = try startProxy(limitedYAML(backend, limits: "{ concurrent_connections: 1, requests_per_minute: 1 }") + "\nadmin: { metrics: 9464 }")
        let client = try connect(proxy.port, from: "127.0.0.13")
        try assertServed(client)
        try client.send(get("/"))
        XCTAssertEqual(try client.readResponse().status, 429)
        assertClosedAtAccept(try connect(proxy.port, from: "127.0.0.13"))

        let worker = try XCTUnwrap(ProcessStats(try proxy.server.stats().wait()).workers.first)
        XCTAssertEqual(worker.limited, [
            "concurrent_connections": 1, "connections_per_minute": 0, "half_open_handshakes": 0, "requests_per_minute": 1,
            "concurrent_streams": 0,
        ])
        XCTAssertEqual(worker.limitSources, 1)

        let port = try XCTUnwrap(proxy.server.metricsPort)
        let text = try exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").bodyText
        XCTAssertTrue(text.contains(#"edgesplit_limited_total{worker="0",reason="concurrent_connections"} 1"#), text)
        XCTAssertTrue(text.contains(#"edgesplit_limited_total{worker="0",reason="requests_per_minute"} 1"#), text)
        XCTAssertTrue(text.contains(#"edgesplit_limit_sources{worker="0"} 1"#), text)
    }
}
