import AdminServer
import Foundation
import NIOCore
import XCTest

@testable import Proxy

/// `GET /metrics` on `admin.metrics`: Prometheus text that agrees with `stats()`.
final class MetricsTests: ProxyTestCase {
    /// The admin port is not a way to hold descriptors: connections are capped, a silent one
    /// is closed after the idle timeout, and a scrape still works beside them.
    func testMetricsConnectionsAreCappedAndIdleOnesClosed() throws {
        let backend = try startBackend()
        let proxy = try startProxy(simpleYAML(members: [backend.member], top: "admin: { metrics: 9464 }"))
        let port = try XCTUnwrap(proxy.server.metricsPort)
        var silent: [TestClient] = []
        for _ in 0..<MetricsEndpoint.maxConnections { silent.append(try connect(port)) }
        let extra = try connect(port)
        XCTAssertTrue(extra.waitForClose(timeout: 2), "a connection over the cap is closed at once")
        for client in silent {
            XCTAssertTrue(client.waitForClose(timeout: 8), "a silent connection is closed after the idle timeout")
        }
        let scrape = try exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(scrape.status, 200)
    }

    func testMetricsParseAsPrometheusTextAndAgreeWithStats() throws {
        let backend = try startBackend { _ in .send(RecordingBackend.ok("ok")) }
        let proxy = try startProxy(simpleYAML(members: [backend.member], top: "admin: { metrics: 9464 }"))
        for _ in 0..<7 { XCTAssertEqual(try exchange(proxy.port, get("/")).status, 200) }
        XCTAssertEqual(try exchange(proxy.port, get("/", host: "unknown.test")).status, 404)

        let port = try XCTUnwrap(proxy.server.metricsPort)
        let scrape = try exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.first("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        let text = scrape.bodyText

        // Every line is a comment or `name{labels} value`.
        let sample = try NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$"#)
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n").map(String.init) where !line.isEmpty {
            if line.hasPrefix("#") {
                XCTAssertTrue(line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE "), line)
                continue
            }
            XCTAssertNotNil(sample.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "not a sample: \(line)")
            let space = line.lastIndex(of: " ")!  // label values may hold spaces: the value is last
            values[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        XCTAssertEqual(values[#"edgesplit_requests_total{rule="web",code_class="2xx"}"#], 7, text)
        XCTAssertEqual(values[#"edgesplit_requests_total{rule="(no rule)",code_class="4xx"}"#], 1)
        XCTAssertTrue(text.contains("# TYPE edgesplit_requests_total counter"))
        XCTAssertEqual(values[#"edgesplit_member_up{farm="pool",member="\#(backend.member)"}"#], 1)

        // Latency is a histogram (cumulative buckets, +Inf = count), not quantile gauges.
        XCTAssertTrue(text.contains("# TYPE edgesplit_request_duration_seconds histogram"), text)
        XCTAssertFalse(text.contains("quantile="), text)
        XCTAssertEqual(values[#"edgesplit_request_duration_seconds_count{rule="web"}"#], 7)
        XCTAssertEqual(values[#"edgesplit_request_duration_seconds_bucket{rule="web",le="+Inf"}"#], 7)
        XCTAssertEqual(values[#"edgesplit_request_duration_seconds_bucket{rule="web",le="960"}"#], 7)
        var previous = 0.0
        for bound in ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "960"] {
            let count = try XCTUnwrap(values[#"edgesplit_request_duration_seconds_bucket{rule="web",le="\#(bound)"}"#], bound)
            XCTAssertGreaterThanOrEqual(count, previous, "buckets are cumulative at le=\(bound)")
            previous = count
        }
        XCTAssertGreaterThan(values[#"edgesplit_request_duration_seconds_sum{rule="web"}"#] ?? 0, 0)
        XCTAssertEqual(values[#"edgesplit_request_duration_seconds_count{rule="(no rule)"}"#], 1)

        let stats = try proxy.server.stats().wait()
        let accepted = stats.workers.reduce(UInt64(0)) { $0 + $1.accepted }
        let exported = values.filter { $0.key.hasPrefix("edgesplit_connections_accepted_total") }.values.reduce(0, +)
        XCTAssertEqual(exported, Double(accepted))
        XCTAssertEqual(try exchange(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n").status, 404)
    }

    /// The TLS figures: BoringSSL's per-listener count agrees with the workers' handshake
    /// count, and the ticket key is exported.
    func testTLSHandshakeAndTicketMetricsAgreeWithStats() throws {
        let backend = try startBackend { _ in .send(RecordingBackend.ok("ok")) }
        let proxy = try startProxy(
            """
            listeners:
              - { name: https, address: 127.0.0.1, port: 1, tls: { certificates: [{ cert: "mem:webext.pem", key: "mem:webext.key" }] } }
            farms:
              - { name: pool, members: ["\(backend.member)"], persistence: none }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            admin: { metrics: 9464 }
            tls: { tickets: { rotate: 1h } }
            """,
            files: TestPKI.files(["webext": TestPKI.webext]),
            workers: 2
        )
        for _ in 0..<3 {
            let client = try connectTLS(proxy.port, trusting: TestPKI.publicCA, serverName: "webext.contoso.test")
            try client.send(get("/", host: "webext.contoso.test"))
            XCTAssertEqual(try client.readResponse().status, 200)
            client.close()
        }
        let stats = try proxy.server.stats().wait()
        XCTAssertEqual(stats.tls.map(\.listener), ["https"])
        XCTAssertEqual(stats.tls.first?.handshakes, 3)
        XCTAssertEqual(stats.tls.first?.resumed, 0)
        XCTAssertEqual(stats.workers.reduce(UInt64(0)) { $0 + $1.tlsHandshakes }, 3, "both counts see the same handshakes")
        XCTAssertEqual(stats.tickets.rotations, 0)
        XCTAssertEqual(stats.tickets.interval, .seconds(3600))

        let port = try XCTUnwrap(proxy.server.metricsPort)
        let text = try exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").bodyText
        XCTAssertTrue(text.contains(#"edgesplit_tls_listener_handshakes_total{listener="https"} 3"#), text)
        XCTAssertTrue(text.contains(#"edgesplit_tls_resumed_handshakes_total{listener="https"} 0"#), text)
        XCTAssertTrue(text.contains("edgesplit_tls_ticket_key_rotations_total 0"), text)
        XCTAssertTrue(text.contains("# TYPE edgesplit_tls_ticket_key_age_seconds gauge"), text)
        XCTAssertFalse(text.contains("edgesplit_certificate_ocsp_stapled"), "no ocsp file, no staple gauge")
    }

    /// Reloads, member state changes and health checks go through the swift-metrics API into
    /// the registry `/metrics` renders.
    func testControlPlaneEventsAreExportedThroughSwiftMetrics() throws {
        let backend = try startBackend { _ in .send(RecordingBackend.ok("ok")) }
        func yaml(_ top: String = "") -> String {
            """
            listeners:
              - { name: http, address: 127.0.0.1, port: 1 }
            farms:
              - name: pool
                members: ["\(backend.member)"]
                health: { path: /health, interval: 200ms, timeout: 2s, rise: 1, fall: 1 }
            rules:
              - { name: web, public_names: [webext.contoso.test], farm: pool }
            admin: { metrics: 9465 }
            \(top)
            """
        }
        let proxy = try startProxy(yaml())
        let port = try XCTUnwrap(proxy.server.metricsPort)
        func scrape() throws -> String { try exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").bodyText }
        let member = #"farm="pool",member="\#(backend.member)""#

        let deadline = Date().addingTimeInterval(10)
        while !(try scrape()).contains(#"edgesplit_health_checks_total{\#(member),result="passed"}"#), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(try proxy.reload(yaml: yaml()), 2)
        XCTAssertThrowsError(try proxy.reload(yaml: yaml("instance: other")))
        try proxy.server.setDrained(farm: "pool", member: backend.member, true).wait()

        let text = try scrape()
        XCTAssertTrue(text.contains(#"edgesplit_health_checks_total{\#(member),result="passed"}"#), text)
        XCTAssertTrue(text.contains("# TYPE edgesplit_health_check_duration_seconds histogram"), text)
        XCTAssertTrue(text.contains(#"edgesplit_health_check_duration_seconds_count{\#(member)}"#), text)
        XCTAssertTrue(text.contains(#"edgesplit_reloads_total{result="ok"} 1"#), text)
        XCTAssertTrue(text.contains(#"edgesplit_reloads_total{result="refused"} 1"#), text)
        XCTAssertTrue(text.contains("edgesplit_generation 2"), text)
        XCTAssertTrue(text.contains(#"edgesplit_member_state_changes_total{\#(member),state="drained"} 1"#), text)
    }

    /// A reload starts the workers' counters again; the exported counter goes on growing.
    func testCountersKeepGrowingAcrossAReload() throws {
        let backend = try startBackend { _ in .send(RecordingBackend.ok("ok")) }
        let yaml = simpleYAML(members: [backend.member], top: "admin: { metrics: 9464 }")
        let proxy = try startProxy(yaml)
        let port = try XCTUnwrap(proxy.server.metricsPort)
        func requests() throws -> Double? {
            let text = try exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").bodyText
            let line = text.split(separator: "\n").first { $0.hasPrefix(#"edgesplit_requests_total{rule="web",code_class="2xx"}"#) }
            return line.flatMap { Double($0.split(separator: " ").last!) }
        }
        for _ in 0..<3 { XCTAssertEqual(try exchange(proxy.port, get("/")).status, 200) }
        XCTAssertEqual(try requests(), 3)
        XCTAssertEqual(try proxy.reload(yaml: yaml), 2)
        for _ in 0..<2 { XCTAssertEqual(try exchange(proxy.port, get("/")).status, 200) }
        XCTAssertEqual(try proxy.server.stats().wait().rules.first { $0.name == "web" }?.traffic.requests, 2, "the new generation counts from zero")
        XCTAssertEqual(try requests(), 5, "exported: 3 before the reload, 2 after")
    }
}
