import Demo
import Foundation
import NIOSSL

/// A deliberately small HTTP/2 client that writes frames byte by byte over TLS (ALPN `h2`),
/// so a test can do what no well-behaved client does: open and reset streams as fast as the
/// socket takes them, or open more streams than the server allows.
final class RawHTTP2Client {
    struct Frame {
        let type: UInt8
        let flags: UInt8
        let stream: UInt32
        let payload: [UInt8]

        static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4, ping: UInt8 = 6, goAway: UInt8 = 7
        static let windowUpdate: UInt8 = 8
        /// The error code of RST_STREAM or GOAWAY.
        var errorCode: UInt32? {
            let offset = type == Self.rstStream ? 0 : type == Self.goAway ? 4 : -1
            guard offset >= 0, payload.count >= offset + 4 else { return nil }
            return payload[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    let connection: TestClient

    init(port: Int, trusting ca: CertificateAuthority, serverName: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: ca.root.certificatePEMBytes, format: .pem)])
        configuration.applicationProtocols = ["h2"]
        connection = try TestClient(port: port, tls: try NIOSSLContext(configuration: configuration), serverName: serverName)
        // The connection preface: the magic string and an empty SETTINGS frame (RFC 9113 §3.4).
        try connection.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + Self.frame(type: Frame.settings, flags: 0, stream: 0, []))
    }

    func close() { connection.close() }

    /// Waits for the server's SETTINGS and acknowledges them: its limits apply from then on.
    func acknowledgeSettings() throws {
        while let frame = try readFrame() {
            if frame.type == Frame.settings && frame.flags & 1 == 0 {
                try connection.send(Self.frame(type: Frame.settings, flags: 1, stream: 0, []))
                return
            }
        }
        throw TestClientError.closed("the server's SETTINGS", received: [])
    }

    /// A GET as one HEADERS frame (END_HEADERS; END_STREAM when `end`).
    static func get(stream: UInt32, authority: String, path: String, end: Bool = true, extra: [(String, String)] = []) -> [UInt8] {
        headers(stream: stream, method: "GET", authority: authority, path: path, end: end, extra: extra)
    }

    /// A request as one HEADERS frame (END_HEADERS; END_STREAM when `end`, else the stream stays
    /// open for DATA).
    static func headers(stream: UInt32, method: String, authority: String, path: String, end: Bool = false, extra: [(String, String)] = []) -> [UInt8] {
        // :method GET from the static table, any other as a literal; :scheme https.
        var block: [UInt8] = method == "GET" ? [0x82, 0x87] : [0x87] + literal(index: 2, method)
        block += literal(index: 4, path)  // :path
        block += literal(index: 1, authority)  // :authority
        for (name, value) in extra {
            block.append(0)
            block += integer(name.utf8.count, prefix: 7) + Array(name.utf8)
            block += integer(value.utf8.count, prefix: 7) + Array(value.utf8)
        }
        return frame(type: Frame.headers, flags: end ? 0x05 : 0x04, stream: stream, block)
    }

    /// SETTINGS with SETTINGS_INITIAL_WINDOW_SIZE: the window the server may fill on each stream.
    static func initialWindowSize(_ size: UInt32) -> [UInt8] {
        frame(type: Frame.settings, flags: 0, stream: 0, [0, 4] + withUnsafeBytes(of: size.bigEndian) { Array($0) })
    }

    static func windowUpdate(stream: UInt32, increment: UInt32) -> [UInt8] {
        frame(type: Frame.windowUpdate, flags: 0, stream: stream, withUnsafeBytes(of: increment.bigEndian) { Array($0) })
    }

    static func reset(stream: UInt32, code: UInt32 = 0x8) -> [UInt8] {
        frame(type: Frame.rstStream, flags: 0, stream: stream, withUnsafeBytes(of: code.bigEndian) { Array($0) })
    }

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + withUnsafeBytes(of: (stream & 0x7FFF_FFFF).bigEndian) { Array($0) } + payload
    }

    /// Reads the next frame, or nil when the connection closed first.
    func readFrame(timeout: TimeInterval = 5) throws -> Frame? {
        guard let header = try? connection.readBytes(9, timeout: timeout) else {
            if connection.isClosed { return nil }
            throw TestClientError.timedOut("a frame header", received: connection.unread)
        }
        let length = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
        let stream = header[5..<9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        let payload = length > 0 ? try connection.readBytes(length, timeout: timeout) : []
        return Frame(type: header[3], flags: header[4], stream: stream, payload: payload)
    }

    /// Every frame until the server closes the connection (or `timeout` passes). PINGs are
    /// acknowledged, as every client must (a graceful GOAWAY waits for that round trip).
    func framesUntilClose(timeout: TimeInterval = 10) -> [Frame] {
        frames(timeout: timeout) { _ in false }
    }

    /// Every frame until `done` says so of those read, the connection closes, or `timeout`
    /// passes. PINGs are acknowledged.
    func frames(timeout: TimeInterval = 5, until done: ([Frame]) -> Bool) -> [Frame] {
        var frames: [Frame] = []
        let end = Date().addingTimeInterval(timeout)
        while !done(frames), Date() < end, let frame = try? readFrame(timeout: end.timeIntervalSinceNow) {
            frames.append(frame)
            if frame.type == Frame.ping && frame.flags & 1 == 0 {
                try? connection.send(Self.frame(type: Frame.ping, flags: 1, stream: 0, frame.payload))
            }
        }
        return frames
    }

    /// The DATA payload of `stream` among `frames`, as text.
    static func body(_ frames: [Frame], stream: UInt32) -> String {
        String(decoding: frames.filter { $0.stream == stream && $0.type == Frame.data }.flatMap(\.payload), as: UTF8.self)
    }

    /// Whether `stream`'s DATA ended (END_STREAM) among `frames`.
    static func ended(_ frames: [Frame], stream: UInt32) -> Bool {
        frames.contains { $0.stream == stream && $0.type == Frame.data && $0.flags & 1 == 1 }
    }

    /// HPACK literal without indexing, name from the static table (RFC 7541 §6.2.2).
    private static func literal(index: Int, _ value: String) -> [UInt8] {
        integer(index, prefix: 4) + integer(value.utf8.count, prefix: 7) + Array(value.utf8)
    }

    /// HPACK integer with an N-bit prefix (RFC 7541 §5.1), flag bits zero.
    private static func integer(_ value: Int, prefix: Int) -> [UInt8] {
        let limit = (1 << prefix) - 1
        if value < limit { return [UInt8(value)] }
        var out = [UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        out.append(UInt8(rest))
        return out
    }
}
