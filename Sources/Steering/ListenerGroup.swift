#if canImport(Glibc)
import Glibc
#endif
import Affinity
import CEdgesplitBPF

/// One listener address served by N workers: N listening TCP sockets bound to the same
/// address and port with SO_REUSEPORT, so the kernel (and the steering program) picks one
/// of them for every new connection. Worker `w` owns `descriptors[w]`.
///
/// `address` is an IPv4 or IPv6 literal; `::` (or `[::]`) makes a dual-stack group that also
/// accepts IPv4 clients (IPV6_V6ONLY off), a specific IPv6 address an IPv6-only one.
public final class ListenerGroup {
    /// Listening sockets, one per worker.
    public let descriptors: [CInt]
    /// The port actually bound (the kernel's choice when asked for port 0).
    public let port: Int
    /// The bound address (`0.0.0.0` / `::` for a wildcard).
    public let boundAddress: ClientAddress?
    /// True for a `[::]` group that also takes IPv4 clients.
    public private(set) var isDualStack: Bool
    /// The address as given (for messages).
    public let address: String

    private var owned = true
    private var closed = false

    public init(address: String, port: Int, workers: Int, backlog: Int32 = 4096) throws {
        guard (1...SteeringConfigurationLimits.maxWorkers).contains(workers) else {
            throw SteeringError.workerCount(workers)
        }
        guard (0...65535).contains(port) else { throw SteeringError.badAddress("\(address) port \(port)") }
        var literal = Substring(address)
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = literal.dropFirst().dropLast() }
        let text = String(literal)
        let isV6 = text.contains(":")
        // Parse without folding mapped addresses: the socket family follows the literal.
        var sin = sockaddr_in()
        var sin6 = sockaddr_in6()
        if isV6 {
            guard inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1 else { throw SteeringError.badAddress(address) }
            sin6.sin6_family = sa_family_t(AF_INET6)
        } else {
            guard inet_pton(AF_INET, text, &sin.sin_addr) == 1 else { throw SteeringError.badAddress(address) }
            sin.sin_family = sa_family_t(AF_INET)
        }
        let wildcard6 = isV6 && withUnsafeBytes(of: sin6.sin6_addr) { $0.allSatisfy { $0 == 0 } }
        self.address = text
        self.isDualStack = wildcard6
        self.boundAddress = isV6
            ? withUnsafeBytes(of: sin6.sin6_addr) { ClientAddress(bytes: Array($0)) }
            : withUnsafeBytes(of: sin.sin_addr) { ClientAddress(bytes: Array($0)) }

        var fds: [CInt] = []
        var boundPort = port
        do {
            for _ in 0..<workers {
                let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { throw SteeringError.from(errno: errno, "socket") }
                fds.append(fd)
                try Self.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
                try Self.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT")
                if isV6 {
                    try Self.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, wildcard6 ? 0 : 1, "IPV6_V6ONLY")
                }
                let rc: Int32
                if isV6 {
                    sin6.sin6_port = in_port_t(UInt16(boundPort).bigEndian)
                    rc = withUnsafePointer(to: &sin6) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                    }
                } else {
                    sin.sin_port = in_port_t(UInt16(boundPort).bigEndian)
                    rc = withUnsafePointer(to: &sin) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                }
                if rc != 0 {
                    let e = errno
                    switch e {
                    case EADDRINUSE: throw SteeringError.addressInUse(address: text, port: boundPort)
                    case EACCES: throw SteeringError.portPermissionDenied(address: text, port: boundPort)
                    case EADDRNOTAVAIL: throw SteeringError.addressNotAvailable(address: text)
                    default: throw SteeringError.from(errno: e, "bind \(Self.format(text, boundPort))")
                    }
                }
                if boundPort == 0 { boundPort = try Self.localPort(fd) }
                guard listen(fd, backlog) == 0 else {
                    let e = errno
                    if e == EADDRINUSE { throw SteeringError.addressInUse(address: text, port: boundPort) }
                    throw SteeringError.from(errno: e, "listen \(Self.format(text, boundPort))")
                }
            }
        } catch {
            for fd in fds { _ = Glibc.close(fd) }
            throw error
        }
        self.descriptors = fds
        self.port = boundPort
    }

    deinit { close() }

    /// The sockets now belong to someone else (the NIO data plane took them with
    /// `withBoundSocket`): `close()` will not close them.
    public func relinquish() {
        owned = false
    }

    /// Closes the sockets unless relinquished. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        if owned { for fd in descriptors { _ = Glibc.close(fd) } }
    }

    /// The key the steering program reads from a listening socket of this group
    /// (family, host-order port, network-order address words).
    var groupKey: es_group_key {
        var key = es_group_key()
        let bytes = boundAddressBytes
        key.family = bytes.count == 4 ? UInt32(AF_INET) : UInt32(AF_INET6)
        key.port = UInt32(port)
        withUnsafeMutableBytes(of: &key.addr) { raw in
            for i in 0..<bytes.count { raw[i] = bytes[i] }
        }
        return key
    }

    /// Bound address bytes in the socket's own family (a mapped literal stays IPv6).
    private var boundAddressBytes: [UInt8] {
        if address.contains(":") {
            var a6 = in6_addr()
            _ = inet_pton(AF_INET6, address, &a6)
            return withUnsafeBytes(of: a6) { Array($0) }
        }
        var a4 = in_addr()
        _ = inet_pton(AF_INET, address, &a4)
        return withUnsafeBytes(of: a4) { Array($0) }
    }

    static func format(_ address: String, _ port: Int) -> String {
        address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    private static func setOption(_ fd: CInt, _ level: Int32, _ name: Int32, _ value: Int32, _ label: String) throws {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SteeringError.from(errno: errno, "setsockopt \(label)")
        }
    }

    private static func localPort(_ fd: CInt) throws -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { throw SteeringError.from(errno: errno, "getsockname") }
        return withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port are both at offset 2, network order.
            Int(UInt16(raw[2]) << 8 | UInt16(raw[3]))
        }
    }
}

