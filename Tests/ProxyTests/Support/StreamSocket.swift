import Crypto
import Foundation

/// Blocking TCP sockets on 127.0.0.1 for L4 tests: a member that accepts one connection,
/// a client, and streams of numbered chunks whose SHA-256 both ends compare.
final class StreamSocket {
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    static func connect(port: Int) throws -> StreamSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError.failed("socket") }
        let socket = StreamSocket(fd: fd)
        socket.setTimeout(seconds: 60)
        var address = loopback(port: port)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else { throw RawSocketError.failed("connect") }
        return socket
    }

    func setTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawSocketError.failed("send: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Reads exactly `count` bytes (fewer if the stream ends first).
    func receive(exactly count: Int) -> [UInt8] {
        var received = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = received[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            offset += n
        }
        return Array(received[0..<offset])
    }

    /// Reads to end of stream, hashing; returns the byte count and digest (nil on error/timeout).
    func receiveToEnd() -> (count: Int, digest: [UInt8])? {
        var hash = SHA256()
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (total, Array(hash.finalize())) }
            if n < 0 { return nil }
            chunk.withUnsafeBytes { hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += n
        }
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// True when the peer ended the stream (or reset it) within the receive timeout.
    func waitForEnd() -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    /// A listening socket on 127.0.0.1 with an ephemeral port.
    final class Listener {
        let fd: Int32
        let port: Int

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = StreamSocket.loopback(port: 0)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 64) == 0
                }
            }
            guard ok else {
                Glibc.close(fd)
                throw RawSocketError.failed("listen")
            }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { Glibc.close(fd) }

        var member: String { "127.0.0.1:\(port)" }

        func accept(timeoutSeconds: Int32 = 10) throws -> StreamSocket {
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, timeoutSeconds * 1000) == 1 else { throw RawSocketError.failed("accept timed out") }
            let client = Glibc.accept(fd, nil, nil)
            guard client >= 0 else { throw RawSocketError.failed("accept") }
            let socket = StreamSocket(fd: client)
            socket.setTimeout(seconds: 60)
            return socket
        }
    }
}

/// A deterministic stream of `chunks` numbered 1 MiB chunks: the number in each chunk's
/// first 8 bytes makes reordering or loss change the digest.
struct ChunkStream {
    static let chunkSize = 1 << 20
    let seed: UInt8
    let chunks: Int

    var byteCount: Int { chunks * Self.chunkSize }

    private var base: [UInt8] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<Self.chunkSize).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    private func forEachChunk(_ body: ([UInt8]) throws -> Void) rethrows {
        var chunk = base
        for index in 0..<chunks {
            withUnsafeBytes(of: UInt64(index).littleEndian) { for i in 0..<8 { chunk[i] = $0[i] } }
            try body(chunk)
        }
    }

    var digest: [UInt8] {
        var hash = SHA256()
        forEachChunk { hash.update(data: $0) }
        return Array(hash.finalize())
    }

    func send(on socket: StreamSocket) throws {
        try forEachChunk { try socket.send($0) }
    }
}
