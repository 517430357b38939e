#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Plain-socket helpers for talking to a running `edgesplit` over 127.0.0.0/8 (or ::1 in a
/// network namespace): a port
/// reservation, an HTTP/1.1 client that binds its source address before connecting, and a
/// tiny backend. Blocking sockets and threads keep them independent of the code under test.
enum Loopback {
    /// A socket address for an IPv4 or IPv6 literal: the storage, its length and the family.
    static func address(_ text: String, port: Int) -> (sockaddr_storage, socklen_t, Int32) {
        var storage = sockaddr_storage()
        if text.contains(":") {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            precondition(inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1, "not an IPv6 literal: \(text)")
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) } }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
        }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(port).bigEndian)
        precondition(inet_pton(AF_INET, text, &sin.sin_addr) == 1, "not an IPv4 literal: \(text)")
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) } }
        return (storage, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
    }

    static func family(_ text: String) -> Int32 { text.contains(":") ? AF_INET6 : AF_INET }

    static func bind(_ fd: CInt, _ text: String, port: Int) -> Int32 {
        var (storage, length, _) = address(text, port: port)
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
    }

    static func localPort(_ fd: CInt) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        // sin_port and sin6_port are both at offset 2, in network order.
        return withUnsafeBytes(of: storage) { Int(UInt16($0[2]) << 8 | UInt16($0[3])) }
    }

    static func setOption(_ fd: CInt, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setTimeout(_ fd: CInt, seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The outcome of `connect()` from `source` (any port) to `destination`:`port`: the
    /// socket, or errno. IPv6 sources may be non-local (IPV6_FREEBIND, for AnyIP routes).
    static func connect(
        from source: String?, to destination: String = "127.0.0.1", port: Int, timeout: Double = 5
    ) -> Result<CInt, POSIXError> {
        func failure(_ code: Int32) -> Result<CInt, POSIXError> { .failure(POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)) }
        let fd = socket(family(destination), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return failure(errno) }
        setTimeout(fd, seconds: timeout)
        if let source {
            setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if family(source) == AF_INET6 { setOption(fd, Int32(IPPROTO_IPV6), 78 /* IPV6_FREEBIND */, 1) }
            guard bind(fd, source, port: 0) == 0 else {
                let e = errno
                close(fd)
                return failure(e)
            }
        }
        var (storage, length, _) = address(destination, port: port)
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            return failure(e)
        }
        return .success(fd)
    }

    static func writeAll(_ fd: CInt, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    static func readToEnd(_ fd: CInt) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }
}

/// Holds a port on 127.0.0.1 without listening on it: bound with SO_REUSEADDR and
/// SO_REUSEPORT, so another root process (edgesplit's reuseport listener group) can bind it
/// too while nothing else can take it. The configuration language wants ports 1...65535, so
/// the tests pick them this way instead of asking for port 0.
final class PortReservation {
    let port: Int
    private var fd: CInt

    init(address: String = "127.0.0.1") throws {
        fd = socket(Loopback.family(address), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        Loopback.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        Loopback.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
        if address.contains(":") { Loopback.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        guard Loopback.bind(fd, address, port: 0) == 0 else {
            close(fd)
            throw TestFailure("bind \(address) port 0: errno \(errno)")
        }
        port = Loopback.localPort(fd)
    }

    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}

/// One HTTP/1.1 response as the client saw it.
struct HTTPReply {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A one-request HTTP/1.1 client over a fresh connection from a chosen source address.
enum HTTPClient {
    static func get(
        _ path: String, host: String, port: Int, from source: String? = nil, to destination: String = "127.0.0.1",
        timeout: Double = 10
    ) throws -> HTTPReply {
        let fd: CInt
        switch Loopback.connect(from: source, to: destination, port: port, timeout: timeout) {
        case .success(let s): fd = s
        case .failure(let e): throw TestFailure("connect \(source ?? "any") → \(destination) port \(port): \(e.code)")
        }
        defer { close(fd) }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: edgesplit-tests\r\nConnection: close\r\n\r\n"
        guard Loopback.writeAll(fd, request) else { throw TestFailure("send failed: errno \(errno)") }
        return try parse(Loopback.readToEnd(fd))
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPReply {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { throw TestFailure("no complete response head in \(text.debugDescription)") }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw TestFailure("bad status line \(lines[0].debugDescription)")
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return HTTPReply(status: status, headers: headers, body: String(text[end.upperBound...]))
    }
}

/// A tiny keep-alive HTTP/1.1 backend on 127.0.0.1 (GET only, no request bodies). It
/// answers `200 ok <path>`; a path starting with `/slow` is answered after `slowDelay`.
final class TinyBackend: @unchecked Sendable {
    let port: Int
    let slowDelay: Double
    private let listener: CInt
    private let lock = NSLock()
    private var received = 0
    private var stopped = false

    init(slowDelay: Double = 1.5) throws {
        self.slowDelay = slowDelay
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        Loopback.setOption(listener, SOL_SOCKET, SO_REUSEADDR, 1)
        guard Loopback.bind(listener, "127.0.0.1", port: 0) == 0, listen(listener, 512) == 0 else {
            close(listener)
            throw TestFailure("backend bind/listen: errno \(errno)")
        }
        port = Loopback.localPort(listener)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Requests whose head has arrived so far.
    var requestCount: Int { lock.withLock { received } }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit { close(listener) }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            if lock.withLock({ stopped }) {
                close(fd)
                return
            }
            let thread = Thread { [self] in serve(fd) }
            thread.start()
        }
    }

    private func serve(_ fd: CInt) {
        defer { close(fd) }
        Loopback.setTimeout(fd, seconds: 30)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            // One request head at a time; no bodies (the tests only send GET).
            while findHeadEnd(pending) == nil {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                pending.append(contentsOf: chunk[0..<n])
            }
            let end = findHeadEnd(pending)!
            let head = String(decoding: pending[..<end], as: UTF8.self)
            pending.removeFirst(end + 4)
            lock.withLock { received += 1 }
            let path = head.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "/"
            if path.hasPrefix("/slow") { usleep(UInt32(slowDelay * 1_000_000)) }
            let body = "ok \(path)\n"
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            guard Loopback.writeAll(fd, response) else { return }
        }
    }

    private func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}
