#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads for configuration-time inputs (certificates, keys, password files),
/// never used on the request path; and whole writes of a line to a log descriptor.
public enum FileBytes {
    struct ReadError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot read '\(path)': \(reason)" }
    }

    package static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            if result.count > 16 * 1024 * 1024 {
                throw ReadError(path: path, reason: "larger than 16 MiB; not a certificate or key")
            }
        }
        return result
    }

    /// Writes all of `bytes`, retrying interrupted and partial writes. An error drops the
    /// rest: a full disk or a closed stderr must not stop the proxy.
    public static func write(_ bytes: [UInt8], to descriptor: CInt) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
