import Foundation
import XCTest

/// `edgesplit check` on `admin.dashboard`: a dashboard that anyone could read off loopback is
/// refused, and so is a token file that cannot be read; neither the token nor its file's
/// content is printed.
final class DashboardCheckTests: EdgesplitTestCase {
    private func config(_ admin: String) -> String {
        """
        listeners:
          - { name: web, address: 127.0.0.1, port: 8080 }
        farms:
          - { name: app, members: ["127.0.0.1:9000"] }
        rules:
          - { name: app, public_names: [app.contoso.test], farm: app }
        admin:
        \(admin)
        """
    }

    private func check(_ yaml: String) throws -> (CommandResult, String) {
        let path = try write("edgesplit.yaml", yaml)
        return (try run(["check", "--config", path]), path)
    }

    func testNonLoopbackDashboardWithoutCredentialsIsRefused() throws {
        let (result, path) = try check(config("  metrics: 0.0.0.0:9464\n  dashboard: { allow_changes: false }"))
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.stderrLines.count, 1, result.description)
        XCTAssertTrue(result.stderr.hasPrefix("\(path):9:"), result.stderr)
        XCTAssertTrue(result.stderr.contains(": error: admin.dashboard: admin.metrics listens on 0.0.0.0"), result.stderr)
        XCTAssertTrue(result.stderr.contains("expected token_file or basic_auth"), result.stderr)
    }

    func testCredentialsMakeItValidAndUnreadableFilesAreErrors() throws {
        let token = try write("dashboard.token", "e3b0c44298fc1c149afbf4c8996fb924\n")
        let (ok, _) = try check(config("  metrics: 0.0.0.0:9464\n  dashboard: { token_file: \(token), allow_changes: true }"))
        XCTAssertEqual(ok.status, 0, ok.description)
        XCTAssertTrue(ok.stdout.contains(": OK: "), ok.description)

        let missing = directory + "/nowhere.token"
        let (failed, path) = try check(config("  metrics: 0.0.0.0:9464\n  dashboard: { basic_auth: { user: ops, password_file: \(missing) } }"))
        XCTAssertEqual(failed.status, 1, failed.description)
        XCTAssertTrue(failed.stderr.hasPrefix("\(path):9:"), failed.stderr)
        XCTAssertTrue(failed.stderr.contains("error: admin.dashboard.basic_auth.password_file: cannot read '\(missing)'"), failed.stderr)

        let spaced = try write("spaced.token", "not a token\n")
        let (bad, _) = try check(config("  metrics: 9464\n  dashboard: { token_file: \(spaced) }"))
        XCTAssertEqual(bad.status, 1, bad.description)
        XCTAssertTrue(bad.stderr.contains("holds characters a token cannot have"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains("not a token"), "the file's content is never printed: \(bad.stderr)")
    }
}
