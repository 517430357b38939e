import Foundation
import XCTest

/// Command-line mistakes are usage errors (exit 64) that say what is expected, before
/// anything is loaded, bound or pinned.
final class UsageTests: EdgesplitTestCase {
    func testHelpListsTheCommands() throws {
        let help = try run(["--help"])
        XCTAssertEqual(help.status, 0)
        for command in ["serve", "check", "demo", "maps", "bpf"] {
            XCTAssertTrue(help.stdout.contains("  \(command) "), "\(command) missing from:\n\(help.stdout)")
        }
    }

    func testWorkerCountOutOfRange() throws {
        let config = try write("any.yaml", "listeners: []\n")
        for count in ["0", "65"] {
            let result = try run(["serve", "--config", config, "--workers", count])
            XCTAssertEqual(result.status, 64, "\(result)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: --workers \(count): expected 1...64"), result.stderr)
        }
        let demo = try run(["demo", "--workers", "0", "--print-config"])
        XCTAssertEqual(demo.status, 64, "\(demo)")
        XCTAssertTrue(demo.stderr.hasPrefix("Error: --workers 0: expected 1...64"), demo.stderr)
    }

    func testDemoPortOutOfRange() throws {
        let result = try run(["demo", "--https-port", "70000", "--print-config"])
        XCTAssertEqual(result.status, 64, "\(result)")
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.hasPrefix("Error: --https-port 70000: expected 0...65535 (0: a free port)"), result.stderr)
    }

    func testMapsWhereNeedsAnAddress() throws {
        let result = try run(["maps", "where", "--instance", "nosuch"])
        XCTAssertEqual(result.status, 64, "\(result)")
        XCTAssertTrue(result.stderr.contains("Missing expected argument '<client-ip> ...'"), result.stderr)
    }

    func testSetPrefixNeedsAPrefix() throws {
        let result = try run(["maps", "set-prefix", "--instance", "nosuch"])
        XCTAssertEqual(result.status, 64, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("Error: give --ipv4, --ipv6 or both"), result.stderr)
    }

    func testInvalidInstanceName() throws {
        let result = try run(["bpf", "status", "--instance", "../x"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertEqual(result.stderrLines, ["edgesplit: error: invalid instance name '../x': use letters, digits, '.', '_' or '-'"])
    }
}
