#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// Shared by the Lync command tests (`init lync`, Lync findings of `check`, `test-rule`):
/// a temporary directory, the `edgesplit` binary run as a subprocess, certificates made with
/// openssl, and openssl TLS servers standing in for Front Ends. Loopback only.
class LyncCommandTestCase: XCTestCase {
    private(set) var directory = ""
    private var processes: [Process] = []

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)" }
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = NSTemporaryDirectory() + "edgesplit-lync-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for p in processes where p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        processes.removeAll()
        try? FileManager.default.removeItem(atPath: directory)
        try super.tearDownWithError()
    }

    /// `.build/<config>/edgesplit`, beside the test bundle; `EDGESPLIT_BINARY` overrides it.
    static let binary: String = {
        if let explicit = ProcessInfo.processInfo.environment["EDGESPLIT_BINARY"], !explicit.isEmpty { return explicit }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while dir.path.contains(".xctest") { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("edgesplit").path
    }()

    /// Starts a process with stdout and stderr in files; teardown ends it.
    func launch(_ executable: String, _ arguments: [String], tag: String) throws -> (Process, out: String, err: String) {
        let out = directory + "/\(tag).out"
        let err = directory + "/\(tag).err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        processes.append(p)
        return (p, out, err)
    }

    /// Runs a command to completion (killed after `timeout`).
    func runProcess(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> Result {
        let (p, out, err) = try launch(executable, arguments, tag: "run-\(UUID().uuidString.prefix(8))")
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            p.waitUntilExit()
            XCTFail("\(executable) \(arguments) did not finish within \(timeout) s")
        }
        p.waitUntilExit()
        return Result(
            status: p.terminationStatus,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    func edgesplit(_ arguments: [String], timeout: TimeInterval = 60) throws -> Result {
        try runProcess(Self.binary, arguments, timeout: timeout)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    // MARK: Certificates (openssl)

    private func openssl(_ arguments: [String]) throws {
        let r = try runProcess("/usr/bin/env", ["openssl"] + arguments)
        guard r.status == 0 else { throw LyncTestFailure("openssl \(arguments.joined(separator: " ")) failed: \(r)") }
    }

    /// A self-signed P-256 certificate with `names` as DNS SANs and `subject` as CN.
    func selfSigned(_ tag: String, subject: String, names: [String]) throws -> (cert: String, key: String) {
        let cert = directory + "/\(tag).pem", key = directory + "/\(tag).key"
        var args = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
            "-days", "2", "-subj", "/CN=\(subject)",
        ]
        if !names.isEmpty { args += ["-addext", "subjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ",")] }
        try openssl(args)
        return (cert, key)
    }

    /// A CA certificate and key.
    func certificateAuthority(_ tag: String) throws -> (cert: String, key: String) {
        let cert = directory + "/\(tag).pem", key = directory + "/\(tag).key"
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
            "-days", "2", "-subj", "/CN=\(tag) root", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        return (cert, key)
    }

    /// A server certificate for `names`, issued by `ca`.
    func issue(_ tag: String, names: [String], by ca: (cert: String, key: String)) throws -> (cert: String, key: String) {
        let cert = directory + "/\(tag).pem", key = directory + "/\(tag).key", csr = directory + "/\(tag).csr"
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=\(names[0])",
        ])
        let ext = try write(
            "\(tag).ext",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=" + names.map { "DNS:\($0)" }.joined(separator: ",") + "\n")
        try openssl([
            "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext,
        ])
        return (cert, key)
    }

    // MARK: Sockets

    /// A port that was free a moment ago on 127.0.0.1.
    func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Whether something accepts connections on 127.0.0.1:`port`.
    func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    func waitUntilAccepting(_ port: Int, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !accepts(port) {
            guard Date() < deadline else { throw LyncTestFailure("nothing accepts on 127.0.0.1:\(port) after \(timeout) s") }
            usleep(50_000)
        }
    }

    /// An openssl TLS server answering every GET with `HTTP/1.0 200 ok` (`s_server -www`),
    /// standing in for a Front End's external web site on 4443. Returns its port.
    func tlsMember(_ certificate: (cert: String, key: String)) throws -> Int {
        let port = freePort()
        _ = try launch(
            "/usr/bin/env", ["openssl", "s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate.cert, "-key", certificate.key, "-www", "-quiet"],
            tag: "member-\(port)")
        try waitUntilAccepting(port)
        return port
    }
}

struct LyncTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension LyncCommandTestCase {
    /// A plain-HTTP member on 127.0.0.1 that answers every request with `response` and closes,
    /// on its own thread, until the test ends. Returns its port.
    func plainMember(response: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw LyncTestFailure("cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let bytes = Array(response.utf8)
        let thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                var received: [UInt8] = []
                while !received.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                    let n = Glibc.read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    received += buffer[0..<n]
                }
                _ = bytes.withUnsafeBytes { Glibc.write(client, $0.baseAddress, $0.count) }
                close(client)
            }
        }
        thread.start()
        addTeardownBlock { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
