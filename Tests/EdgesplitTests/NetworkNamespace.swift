#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A network namespace a test creates and deletes (`ip netns`), with loopback up and an
/// AnyIP route for fd00::/16, so thousands of IPv6 client sources can connect to ::1
/// (ebpf-steering.md §5). Processes enter it with `nsenter --net=` (not `ip netns exec`,
/// which remounts /sys and hides bpffs); the test's own sockets are made on a thread that
/// joined it with setns(2).
final class NetworkNamespace {
    let name: String
    var path: String { "/run/netns/\(name)" }
    /// What `EdgesplitTestCase.start(_:wrapper:)` takes to run edgesplit in it.
    var wrapper: [String] { ["/usr/bin/nsenter", "--net=\(path)"] }
    private var deleted = false

    init(name: String) throws {
        self.name = name
        try Self.ip(["netns", "add", name])
        do {
            try Self.ip(["-n", name, "link", "set", "lo", "up"])
            try Self.ip(["-n", name, "-6", "route", "add", "local", "fd00::/16", "dev", "lo"])
        } catch {
            delete()
            throw error
        }
    }

    func delete() {
        guard !deleted else { return }
        deleted = true
        try? Self.ip(["netns", "del", name])
    }

    deinit { delete() }

    /// Runs `body` on a thread inside the namespace: sockets it makes live there (and keep
    /// living there when other threads use them).
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        let path = self.path
        let thread = Thread {
            defer { done.signal() }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                box.result = .failure(TestFailure("open \(path): errno \(errno)"))
                return
            }
            defer { close(fd) }
            guard Self.setns(fd, 0x4000_0000 /* CLONE_NEWNET */) == 0 else {
                box.result = .failure(TestFailure("setns \(path): errno \(errno)"))
                return
            }
            box.result = Result { try body() }
        }
        thread.start()
        done.wait()
        return try box.result!.get()
    }

    private final class ResultBox<T>: @unchecked Sendable {
        var result: Result<T, Error>?
    }

    /// setns(2); the Glibc module does not export it.
    private static let setns: @convention(c) (CInt, CInt) -> CInt = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0) /* RTLD_DEFAULT */, "setns") else {
            fatalError("setns not found in libc")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (CInt, CInt) -> CInt).self)
    }()

    private static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("ip \(arguments.joined(separator: " ")): \(message)")
        }
    }
}
