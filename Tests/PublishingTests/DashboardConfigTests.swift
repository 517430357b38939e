import Publishing
import XCTest

/// `admin.dashboard`: never readable by accident off loopback, never changeable without
/// credentials, and only where `admin.metrics` listens.
final class DashboardConfigTests: XCTestCase {
    /// `minimalYAML` (six lines) and `admin:` on line 7.
    private func loadAdmin(_ admin: String) -> ConfigLoadResult {
        load(minimalYAML + "\nadmin:\n" + admin)
    }

    private func assertError(_ admin: String, line: Int, _ parts: String..., file: StaticString = #filePath, testLine: UInt = #line) {
        let result = loadAdmin(admin)
        XCTAssertNil(result.config, admin, file: file, line: testLine)
        XCTAssertEqual(result.errors.count, 1, "\(result.errors)", file: file, line: testLine)
        let text = result.errors.first?.description ?? ""
        XCTAssertTrue(text.hasPrefix("edgesplit.yaml:\(line):"), text, file: file, line: testLine)
        for part in parts { XCTAssertTrue(text.contains(part), "'\(part)' missing in: \(text)", file: file, line: testLine) }
    }

    func testLoopbackDashboardNeedsNoCredentialsAndIsReadOnly() throws {
        let admin = try XCTUnwrap(loadAdmin("  metrics: 9464\n  dashboard: {}").config?.admin)
        let dashboard = try XCTUnwrap(admin.dashboard)
        XCTAssertFalse(dashboard.requiresCredentials)
        XCTAssertFalse(dashboard.allowChanges)
        XCTAssertEqual(dashboard.position.line, 9)
        XCTAssertNil(try XCTUnwrap(loadAdmin("  metrics: 9464").config).admin.dashboard)
        XCTAssertNil(try XCTUnwrap(loadAdmin("  metrics: 9464\n  dashboard: { enabled: false }").config).admin.dashboard)
        XCTAssertNotNil(try XCTUnwrap(loadAdmin("  metrics: \"[::1]:9464\"\n  dashboard: {}").config).admin.dashboard)
    }

    func testCredentialsAndChanges() throws {
        let dashboard = try XCTUnwrap(loadAdmin("""
              metrics: 0.0.0.0:9464
              dashboard:
                token_file: /etc/edgesplit/dashboard.token
                basic_auth: { user: ops, password_file: /etc/edgesplit/dashboard.password }
                allow_changes: true
            """).config?.admin.dashboard)
        XCTAssertEqual(dashboard.tokenFile, "/etc/edgesplit/dashboard.token")
        XCTAssertEqual(dashboard.basicAuth, BasicAuthSettings(user: "ops", passwordFile: "/etc/edgesplit/dashboard.password"))
        XCTAssertTrue(dashboard.allowChanges)
        XCTAssertTrue(dashboard.requiresCredentials)
    }

    func testNonLoopbackWithoutCredentialsIsRefused() {
        assertError("  metrics: 0.0.0.0:9464\n  dashboard: {}", line: 9, "admin.dashboard", "0.0.0.0", "not a loopback address",
                    "expected token_file or basic_auth")
        assertError("  metrics: \"[2001:db8::1]:9464\"\n  dashboard: { allow_changes: false }", line: 9, "2001:db8::1")
        assertError("  metrics: 192.0.2.10:9464\n  dashboard: { enabled: true }", line: 9, "192.0.2.10")
    }

    func testChangesWithoutCredentialsAreRefusedEvenOnLoopback() {
        assertError("  metrics: 9464\n  dashboard: { allow_changes: true }", line: 9, "admin.dashboard.allow_changes",
                    "needs token_file or basic_auth")
    }

    func testDashboardWithoutMetricsListenerIsRefused() {
        assertError("  dashboard: { token_file: t }", line: 8, "admin.dashboard", "set admin.metrics")
        assertError("  metrics: 70000\n  dashboard: {}", line: 8, "admin.metrics: expected a port")  // one error, not two
    }

    func testBadValuesPointAtTheirLine() {
        assertError("  metrics: 9464\n  dashboard: { token_file: \"\" }", line: 9, "admin.dashboard.token_file", "empty")
        assertError("  metrics: 9464\n  dashboard: { basic_auth: { user: ops } }", line: 9, "missing required key 'password_file'")
        assertError("  metrics: 9464\n  dashboard: { basic_auth: { user: \"a:b\", password_file: p } }", line: 9, "without ':'")
        assertError("  metrics: 9464\n  dashboard: { allow_changes: maybe }", line: 9, "admin.dashboard.allow_changes", "true or false")
        assertError("  metrics: 9464\n  dashboard: { tokenfile: t }", line: 9, "did you mean 'token_file'")
    }

    func testLoopbackAddresses() {
        let position = SourcePosition(file: "x", line: 1, column: 1)
        for address in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(AdminEndpoint(address: address, port: 1, position: position).isLoopback, address)
        }
        for address in ["0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "::2"] {
            XCTAssertFalse(AdminEndpoint(address: address, port: 1, position: position).isLoopback, address)
        }
    }
}
