#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Proxy
import XCTest

/// The `edgesplit` binary these tests run: `.build/<config>/edgesplit`, beside the xctest
/// bundle (which on Linux is itself an executable in that directory). `EDGESPLIT_BINARY`
/// overrides it.
enum EdgesplitBinary {
    static let path: String = {
        if let explicit = ProcessInfo.processInfo.environment["EDGESPLIT_BINARY"], !explicit.isEmpty {
            return explicit
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Were the bundle a directory (…/edgesplitPackageTests.xctest/Contents/…), leave it.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("edgesplit").path
    }()
}

/// What a finished command printed and how it ended.
struct CommandResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Non-empty stderr lines.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    var description: String { "exit \(status)\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)" }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An `edgesplit` subprocess with stdout and stderr captured in files (no pipe can fill up
/// and stall it), so a test can read what it printed so far while it runs.
final class EdgesplitProcess {
    let arguments: [String]
    let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    /// `wrapper` runs it through another command that ends by exec'ing it (setpriv,
    /// nsenter), so the process id is still edgesplit's.
    init(_ arguments: [String], in directory: String, environment: [String: String]? = nil, wrapper: [String] = []) throws {
        self.arguments = arguments
        let tag = UUID().uuidString.prefix(8)
        stdoutPath = directory + "/edgesplit-\(tag).out"
        stderrPath = directory + "/edgesplit-\(tag).err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        if let command = wrapper.first {
            process.executableURL = URL(fileURLWithPath: command)
            process.arguments = wrapper.dropFirst() + [EdgesplitBinary.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: EdgesplitBinary.path)
            process.arguments = arguments
        }
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func send(_ signal: Int32) {
        if process.isRunning { Glibc.kill(pid, signal) }
    }

    /// Waits until `predicate` holds for (stdout, stderr); fails if the process exits or
    /// the time runs out first.
    @discardableResult
    func waitForOutput(
        _ what: String, timeout: TimeInterval = 20, _ predicate: (String, String) -> Bool
    ) throws -> (stdout: String, stderr: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let (out, err) = (stdout, stderr)
            if predicate(out, err) { return (out, err) }
            if !process.isRunning {
                let (out, err) = (stdout, stderr)
                if predicate(out, err) { return (out, err) }
                throw TestFailure("edgesplit \(arguments.joined(separator: " ")) exited (\(process.terminationStatus)) before \(what)\n--- stdout ---\n\(out)--- stderr ---\n\(err)")
            }
            if Date() > deadline {
                throw TestFailure("timed out waiting for \(what)\n--- stdout ---\n\(out)--- stderr ---\n\(err)")
            }
            usleep(20_000)
        }
    }

    /// Waits for the process to exit; kills it and throws when it takes too long.
    func waitForExit(timeout: TimeInterval = 20) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                Glibc.kill(pid, SIGKILL)
                process.waitUntilExit()
                throw TestFailure("edgesplit \(arguments.joined(separator: " ")) did not exit within \(timeout) s\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)")
            }
            usleep(10_000)
        }
        process.waitUntilExit()
        var status = process.terminationStatus
        if process.terminationReason == .uncaughtSignal { status = 128 + status }
        return CommandResult(status: status, stdout: stdout, stderr: stderr)
    }

    /// Ends the process if it still runs (teardown); never throws.
    func forceStop() {
        guard process.isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}

/// Base class: a temporary directory per test, helpers to run `edgesplit`, and teardown
/// that kills every process the test started and removes pinned BPF state it left behind.
class EdgesplitTestCase: XCTestCase {
    private(set) var directory = ""
    private var processes: [EdgesplitProcess] = []
    private var instances: [String] = []
    private static var counter = 0

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = NSTemporaryDirectory() + "edgesplit-cli-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for process in processes { process.forceStop() }
        processes.removeAll()
        for instance in instances {
            let pinDirectory = InstancePins.directory(instance)
            if FileManager.default.fileExists(atPath: pinDirectory) {
                _ = try? run(["bpf", "unload", "--force", "--instance", instance])
                if FileManager.default.fileExists(atPath: pinDirectory) {
                    XCTFail("pinned state left behind at \(pinDirectory)")
                }
            }
            // A server killed by a test (SIGKILL) cannot remove its control socket.
            try? FileManager.default.removeItem(atPath: "\(ServerEnvironment.defaultControlDirectory)/\(instance).sock")
        }
        instances.removeAll()
        try? FileManager.default.removeItem(atPath: directory)
        try super.tearDownWithError()
    }

    /// A fresh instance name (cleaned up in teardown): `[a-z0-9][a-z0-9_-]{0,31}`.
    func uniqueInstance(_ tag: String) -> String {
        Self.counter += 1
        let name = "cli\(getpid() % 100_000)-\(Self.counter)-\(tag)"
        let instance = String(name.prefix(32))
        instances.append(instance)
        return instance
    }

    /// Starts `edgesplit arguments…`; teardown kills it if the test did not end it.
    /// With `unprivileged`, as `nobody` when the test runs as root (the test directory is
    /// then opened up so it can read its configuration and write its access log). `wrapper`
    /// is a command that execs it (e.g. nsenter into a network namespace).
    func start(
        _ arguments: [String], environment: [String: String]? = nil, unprivileged: Bool = false, wrapper: [String] = []
    ) throws -> EdgesplitProcess {
        var wrapper = wrapper
        var environment = environment
        if unprivileged {
            _ = chmod(directory, 0o777)
            if geteuid() == 0 {
                wrapper = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] + wrapper
                // A normal user's login session has a private runtime directory; nobody's does
                // not, and edgesplit never falls back to a shared one for its control socket.
                let runtime = directory + "/runtime-65534"
                if mkdir(runtime, 0o700) == 0 { _ = chown(runtime, 65534, 65534) }
                environment = (environment ?? ProcessInfo.processInfo.environment).merging(["XDG_RUNTIME_DIR": runtime]) { _, new in new }
            }
        }
        let process = try EdgesplitProcess(arguments, in: directory, environment: environment, wrapper: wrapper)
        processes.append(process)
        return process
    }

    /// Runs `edgesplit arguments…` to completion.
    func run(_ arguments: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        try start(arguments).waitForExit(timeout: timeout)
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Kernel steering needs root (CAP_BPF and bpffs). Unprivileged these tests skip with the
    /// reason, except under CI=true, where the missing privilege is a failure.
    func requireRoot(file: StaticString = #filePath, line: UInt = #line) throws {
        guard geteuid() != 0 else { return }
        let reason = "needs root for kernel steering (CAP_BPF, bpffs); running as uid \(geteuid())"
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("CI=true: " + reason, file: file, line: line)
            throw TestFailure(reason)
        }
        throw XCTSkip(reason)
    }

    /// A self-signed P-256 certificate for `app.contoso.test` and its key, made with openssl
    /// in the test directory.
    func makeCertificate(_ name: String) throws -> (cert: String, key: String) {
        let cert = directory + "/\(name).crt"
        let key = directory + "/\(name).key"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=app.contoso.test",
            "-addext", "subjectAltName=DNS:app.contoso.test",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw TestFailure("openssl req failed (\(openssl.terminationStatus))") }
        return (cert, key)
    }

    /// Parses one JSON object printed by `--json`.
    func jsonObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let data = Data(text.utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(text)")
        }
        return object
    }
}

/// Where an instance's pinned state lives.
enum InstancePins {
    static let root = "/sys/fs/bpf/edgesplit"
    static func directory(_ instance: String) -> String { root + "/" + instance }
    static func exists(_ instance: String) -> Bool { FileManager.default.fileExists(atPath: directory(instance)) }
}
