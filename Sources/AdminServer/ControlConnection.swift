#if canImport(Glibc)
import Glibc
#endif
import Admin
import Foundation

/// A client connection to an instance's control socket: the CLI's `farm`, `stats` and
/// `reload` commands use it, and so does a new `serve` process telling the one it replaces
/// to retire.
package final class ControlConnection {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        /// Nobody listens there (no such file, or a stale one).
        package let notRunning: Bool
    }

    package let path: String
    private let fd: CInt

    package init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw Failure(description: "cannot create a socket: \(String(cString: strerror(errno)))", notRunning: false)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw Failure(description: "control socket path too long: \(path)", notRunning: false)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            if code == ENOENT || code == ECONNREFUSED {
                throw Failure(description: "no control socket at \(path)", notRunning: true)
            }
            let reason = code == EACCES ? "permission denied on \(path) (run as root)" : String(cString: strerror(code))
            throw Failure(description: reason, notRunning: false)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends one request and reads one reply line. A refusal is a reply (`.refused`), not
    /// an error: the caller decides what it means.
    package func call(_ request: ControlRequest, timeoutSeconds: Int = 10) throws -> ControlReply {
        var data = JSONOutput.data(request)
        data.append(0x0A)
        _ = data.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while !reply.contains(0x0A) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply.append(contentsOf: chunk[0..<n])
        }
        guard let line = reply.split(separator: 0x0A, omittingEmptySubsequences: false).first, !line.isEmpty else {
            throw Failure(description: "no answer on \(path)", notRunning: false)
        }
        do {
            return try ControlReply.decode(Data(line), answering: request)
        } catch {
            throw Failure(description: "an answer on \(path) that is not a reply to \(request.command): \(error)", notRunning: false)
        }
    }
}
