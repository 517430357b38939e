#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `Scripts/dashboard-test`: the dashboard in Debian's headless Chromium through selenium,
/// against `edgesplit serve` on loopback with traffic (see the script for what it checks).
/// Skips with the reason when the browser cannot be had, except under CI=true, where that
/// is a failure (`Scripts/bootstrap` installs chromium, chromium-driver and selenium).
final class DashboardBrowserTests: XCTestCase {
    func testDashboardInAHeadlessBrowser() throws {
        let missing = Self.missing()
        if !missing.isEmpty && geteuid() != 0 {
            let reason = "\(missing.joined(separator: ", ")) not installed (Scripts/bootstrap installs them as root)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("CI=true: " + reason) }
            throw XCTSkip(reason)
        }
        let screenshot = RepositoryScript.root.appendingPathComponent(".build/dashboard.png").path
        try? FileManager.default.removeItem(atPath: screenshot)
        let (status, text) = try RepositoryScript.run("dashboard-test", ["--screenshot", screenshot, "--history", "3"])
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("dashboard-test: passed"), text)
        XCTAssertTrue(text.contains("the page loaded with no console errors"), text)
        XCTAssertTrue(text.contains("shows 127.0.0.1:") && text.contains("drained"), text)
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot), "no screenshot at \(screenshot)")
    }

    /// What the browser test needs and this host lacks.
    static func missing() -> [String] {
        var missing: [String] = []
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") { missing.append("chromium") }
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") { missing.append("chromium-driver") }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import selenium"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        if (try? probe.run()) == nil {
            missing.append("python3")
        } else {
            probe.waitUntilExit()
            if probe.terminationStatus != 0 { missing.append("selenium") }
        }
        return missing
    }
}
