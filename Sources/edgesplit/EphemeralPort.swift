#if canImport(Glibc)
import Glibc
#endif

/// A free port chosen by the kernel for `edgesplit demo --https-port 0`.
///
/// The configuration language only takes ports 1...65535, so the demo cannot hand port 0
/// to the proxy; it asks the kernel for a free port first and writes that one into the
/// configuration (and so into the printed curl commands). The port stays held, bound but
/// not listening, with SO_REUSEADDR and SO_REUSEPORT until `release()`: edgesplit's own
/// reuseport listeners (same user) can bind it meanwhile, nobody else can.
final class EphemeralPort {
    let port: Int
    private var descriptor: CInt

    init(address: String) throws {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else {
            throw EphemeralPortError(message: "'\(address)' is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EphemeralPortError(message: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw EphemeralPortError(message: "cannot pick a free port on \(address): \(reason)")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: sin.sin_port))
    }

    /// Lets the port go (once the proxy listens on it). Idempotent.
    func release() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    deinit { release() }
}

struct EphemeralPortError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
