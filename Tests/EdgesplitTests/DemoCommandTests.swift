#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// `edgesplit demo`: starts on free ports, prints curl commands that work as printed, and
/// stops on SIGINT with exit 0.
final class DemoCommandTests: EdgesplitTestCase {
    func testDemoOnFreePortsPrintsWorkingCurlCommands() throws {
        var arguments = ["demo", "--https-port", "0", "--http-port", "0", "--workers", "2"]
        // The demo's instance name is fixed; do not disturb a demo someone else runs.
        let steering = geteuid() == 0 && !InstancePins.exists("demo")
        if !steering { arguments.append("--no-bpf") }
        let demo = try start(arguments)
        let (out, err) = try demo.waitForOutput("the curl commands", timeout: 60) { out, _ in out.contains("Stop with Ctrl-C.") }

        // The printed commands carry the ports the listeners really bound.
        let ports = listeningPorts(err)
        let https = try XCTUnwrap(ports["https"], err)
        let http = try XCTUnwrap(ports["http"], err)
        XCTAssertNotEqual(https, 0)
        XCTAssertNotEqual(http, 0)
        let commands = out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("curl ") }
        XCTAssertGreaterThanOrEqual(commands.count, 9, out)
        for command in commands {
            XCTAssertTrue(command.contains(":\(https)") || command.contains(":\(http)"), "\(command) names neither \(https) nor \(http)")
        }
        if steering {
            XCTAssertTrue(out.contains("edgesplit maps show --instance demo"), out)
            XCTAssertTrue(InstancePins.exists("demo"))
        }

        func runCurl(_ name: String) throws -> (status: Int, response: String) {
            let command = try XCTUnwrap(commands.first { $0.contains("--resolve \(name):") }, "no command for \(name)")
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", command + " --max-time 20"]
            let pipe = Pipe()
            shell.standardOutput = pipe
            shell.standardError = FileHandle.nullDevice
            try shell.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            shell.waitUntilExit()
            let response = String(decoding: data, as: UTF8.self)
            XCTAssertEqual(shell.terminationStatus, 0, "\(command)\n\(response)")
            let statusLine = response.split(separator: "\r\n").first.map(String.init) ?? ""
            return (Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0, response)
        }
        let meet = try runCurl("meet.contoso.test")
        XCTAssertEqual(meet.status, 200, meet.response)
        // curl speaks HTTP/2 to the TLS listener (ALPN h2), where field names are lowercase.
        XCTAssertTrue(meet.response.lowercased().contains("x-demo-member: director"), meet.response)
        XCTAssertEqual(try runCurl("admin.contoso.test").status, 403)
        XCTAssertEqual(try runCurl("unknown.contoso.test").status, 404)
        XCTAssertEqual(try runCurl("lyncdiscover.contoso.test").status, 200)

        demo.send(SIGINT)
        let exit = try demo.waitForExit()
        XCTAssertEqual(exit.status, 0, "\(exit)")
        XCTAssertTrue(exit.stderr.contains("SIGINT received"), exit.stderr)
        if steering { XCTAssertFalse(InstancePins.exists("demo"), "the demo's pinned state is removed on exit") }
    }

    func testDemoAsANormalUser() throws {
        // What most people run first: no root, no flags but free ports.
        let demo = try start(["demo", "--https-port", "0", "--http-port", "0", "--workers", "1"], unprivileged: true)
        let (out, err) = try demo.waitForOutput("the curl commands", timeout: 60) { out, _ in out.contains("Stop with Ctrl-C.") }
        let warnings = err.split(separator: "\n").filter { $0.contains("warning") }
        XCTAssertEqual(warnings.count, 1, err)
        XCTAssertTrue(warnings.first?.contains("client affinity is off") ?? false, err)
        XCTAssertFalse(err.contains("--no-bpf"), "the warning gives the real reason:\n\(err)")
        XCTAssertTrue(out.contains("Run as root to see kernel steering"), out)
        let command = try XCTUnwrap(out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.hasPrefix("curl ") && $0.contains("dialin.contoso.test") })
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/bin/sh")
        curl.arguments = ["-c", command + " --max-time 20 -o /dev/null -w '%{http_code}'"]
        let pipe = Pipe()
        curl.standardOutput = pipe
        try curl.run()
        let code = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        XCTAssertEqual(code, "200", command)
        demo.send(SIGINT)
        let exit = try demo.waitForExit()
        XCTAssertEqual(exit.status, 0, "\(exit)")
    }

    func testPrintConfigUsesTheChosenPorts() throws {
        let result = try run(["demo", "--https-port", "0", "--http-port", "0", "--print-config"], timeout: 60)
        XCTAssertEqual(result.status, 0, "\(result)")
        let ports = result.stdoutLines.filter { $0.contains("port:") }
        XCTAssertEqual(ports.count, 2, result.stdout)
        XCTAssertFalse(result.stdout.contains("port: 0"), result.stdout)
        // What it prints is a configuration `check` accepts as it is (certificates aside).
        XCTAssertTrue(result.stdout.contains("instance: demo"))
    }

    /// `listener=… port=…` from the "listening" log lines.
    private func listeningPorts(_ stderr: String) -> [String: Int] {
        var ports: [String: Int] = [:]
        for line in stderr.split(separator: "\n") where line.hasSuffix("listening") || line.contains(" listening") {
            var listener: String?
            var port: Int?
            for field in line.split(separator: " ") {
                if field.hasPrefix("listener=") { listener = String(field.dropFirst("listener=".count)) }
                if field.hasPrefix("port=") { port = Int(field.dropFirst("port=".count)) }
            }
            if let listener, let port { ports[listener] = port }
        }
        return ports
    }
}
