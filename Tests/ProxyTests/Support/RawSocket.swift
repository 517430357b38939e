import Foundation

/// A plain blocking TCP socket with a small receive buffer, for tests that need a client
/// that does *not* read (NIO clients read eagerly).
final class RawSocket {
    let fd: Int32

    init(port: Int, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError.failed("socket") }
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else {
            close(fd)
            throw RawSocketError.failed("connect")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawSocketError.failed("send") }
            offset += n
        }
    }

    /// Sends `count` bytes of `byte` in 64 KiB pieces, adding each piece to `progress`.
    func sendFiller(_ count: Int, byte: UInt8, progress: (Int) -> Void) throws {
        let piece = [UInt8](repeating: byte, count: 64 * 1024)
        var left = count
        while left > 0 {
            let size = min(left, piece.count)
            let n = piece.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, size, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawSocketError.failed("send") }
            left -= n
            progress(n)
        }
    }

    /// Reads until `count` bytes arrived or the peer closed; returns what arrived.
    func receive(atLeast count: Int) -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(count)
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while received.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received.append(contentsOf: chunk[0..<n])
        }
        return received
    }
}

enum RawSocketError: Error { case failed(String) }

/// A listening socket that never accepts and whose accept queue is full, so further
/// connection attempts hang in SYN-SENT: a member that is there but does not answer.
final class BlackholeListener {
    let port: Int
    private let fd: Int32
    private var fillers: [RawSocket] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 0) == 0
            }
        }
        guard ok else {
            close(fd)
            throw RawSocketError.failed("listen")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        // A backlog of 0 still queues one connection (Linux compares queued > backlog): this
        // one fills it, and later SYNs are dropped.
        fillers.append(try RawSocket(port: port))
    }

    deinit { close(fd) }
}
