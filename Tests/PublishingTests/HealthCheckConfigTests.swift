import Publishing
import XCTest

final class HealthCheckConfigTests: XCTestCase {
    private func load(_ farmExtra: String) -> ConfigLoadResult {
        let yaml = """
            listeners:
              - { name: https, address: 127.0.0.1, port: 8443 }
            farms:
              - name: pool
                members: ["127.0.0.1:4443"]
            \(farmExtra)
            rules:
              - { name: all, public_names: [webext.contoso.test], farm: pool }
            """
        return ConfigLoader.load(yaml: yaml, file: "h.yaml")
    }

    func testFullHealthBlock() throws {
        let result = load("""
                persistence: cookie
                cookie_key: "sixteen-chars-or-more"
                health: { path: /autodiscover/autodiscoverservice.svc/root, interval: 10s, timeout: 3s, rise: 3, fall: 2, expect: [200-399, 401], host: pool.contoso.test }
            """)
        XCTAssertEqual(result.errors, [])
        let farm = try XCTUnwrap(result.config?.farms.first)
        let health = try XCTUnwrap(farm.health)
        XCTAssertEqual(health.path, "/autodiscover/autodiscoverservice.svc/root")
        XCTAssertEqual(health.interval, .seconds(10))
        XCTAssertEqual(health.timeout, .seconds(3))
        XCTAssertEqual(health.rise, 3)
        XCTAssertEqual(health.fall, 2)
        XCTAssertEqual(health.expect, [200...399, 401...401])
        XCTAssertEqual(health.host, "pool.contoso.test")
        XCTAssertTrue(health.accepts(status: 401))
        XCTAssertFalse(health.accepts(status: 404))
        XCTAssertEqual(farm.cookieKey, "sixteen-chars-or-more")
    }

    /// The shortest key accepted is exactly the limit.
    func testCookieKeyOfSixteenCharactersIsEnough() throws {
        let result = load("    persistence: cookie\n    cookie_key: \"sixteen-chars!!!\"")
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.config?.farms.first?.cookieKey, "sixteen-chars!!!")
    }

    func testDefaults() throws {
        let result = load("    health: {}")
        XCTAssertEqual(result.errors, [])
        let health = try XCTUnwrap(result.config?.farms.first?.health)
        XCTAssertEqual(health.path, "/")
        XCTAssertEqual(health.interval, .seconds(5))
        XCTAssertEqual(health.timeout, .seconds(2))
        XCTAssertEqual(health.rise, 2)
        XCTAssertEqual(health.fall, 3)
        XCTAssertEqual(health.expect, [200...399])
        XCTAssertNil(result.config?.farms.first?.cookieKey)
    }

    func testErrorsNamePositionAndExpectation() {
        let cases: [(String, String)] = [
            ("    health: { path: noslash }", "h.yaml:6:21: error: farms[0].health.path: expected an absolute path"),
            ("    health: { expect: [300-200] }", "h.yaml:6:24: error: farms[0].health.expect[0]: the range '300-200' is empty"),
            ("    health: { expect: [abc] }", "h.yaml:6:24: error: farms[0].health.expect[0]: expected a status 100...599 or a range like 200-399, got 'abc'"),
            ("    health: { rise: 0 }", "h.yaml:6:21: error: farms[0].health.rise: expected an integer 1...100"),
            ("    health: { interval: forever }", "h.yaml:6:25: error: farms[0].health.interval:"),
            ("    health: { pth: / }", "h.yaml:6:15: error: unknown key 'pth' in the health check of farm 'pool' (did you mean 'path'?)"),
            ("    cookie_key: short", "h.yaml:6:17: error: farms[0].cookie_key: expected at least 16 characters"),
            ("    cookie_key: \"fifteen-chars!!\"", "h.yaml:6:17: error: farms[0].cookie_key: expected at least 16 characters of secret, got 15"),
            ("    persistence: cookie", "h.yaml:6:18: error: farms[0].cookie_key: missing; persistence cookie needs a secret key of at least 16 characters"),
        ]
        for (extra, expected) in cases {
            let result = load(extra)
            XCTAssertNil(result.config, extra)
            XCTAssertTrue(
                result.diagnostics.contains { $0.description.hasPrefix(expected) },
                "\(extra)\n  expected: \(expected)\n  got: \(result.diagnostics.map(\.description))"
            )
        }
    }

    func testOverlappingTimeoutIsAWarning() {
        let result = load("    health: { interval: 2s, timeout: 2s }")
        XCTAssertEqual(result.errors, [])
        XCTAssertTrue(result.warnings.contains { $0.message.contains("checks will overlap") })
    }
}

final class AdminConfigTests: XCTestCase {
    private func load(_ admin: String) -> ConfigLoadResult {
        ConfigLoader.load(yaml: """
            listeners:
              - { name: http, address: 127.0.0.1, port: 8080 }
            farms:
              - { name: pool, members: ["127.0.0.1:4443"] }
            rules:
              - { name: all, public_names: [webext.contoso.test], farm: pool }
            \(admin)
            """, file: "a.yaml")
    }

    func testMetricsEndpoint() throws {
        XCTAssertNil(try XCTUnwrap(load("").config).admin.metrics)
        let port = try XCTUnwrap(load("admin: { metrics: 9464 }").config?.admin.metrics)
        XCTAssertEqual(port.address, "127.0.0.1")
        XCTAssertEqual(port.port, 9464)
        let v6 = try XCTUnwrap(load(#"admin: { metrics: "[::1]:9100" }"#).config?.admin.metrics)
        XCTAssertEqual(v6.address, "::1")
        XCTAssertEqual(v6.port, 9100)
        for bad in ["admin: { metrics: 70000 }", "admin: { metrics: metrics.local:9100 }", "admin: { metric: 9100 }"] {
            let result = load(bad)
            XCTAssertNil(result.config, bad)
            XCTAssertTrue(result.errors.first?.description.hasPrefix("a.yaml:7:") == true, "\(bad): \(result.errors)")
        }
    }
}
