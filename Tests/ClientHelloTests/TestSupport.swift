import ClientHello
import XCTest

func u16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
func u24(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 16)] + u16(v) }
func vec8(_ b: [UInt8]) -> [UInt8] { [UInt8(truncatingIfNeeded: b.count)] + b }
func vec16(_ b: [UInt8]) -> [UInt8] { u16(b.count) + b }
func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(s.utf8).filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
        chars = chars.dropFirst(2)
    }
    return out
}

/// Builds ClientHellos byte by byte (RFC 8446 §4.1.2, §5.1).
struct HelloBuilder {
    var recordType: UInt8 = 22
    var recordVersion = 0x0301
    var handshakeType: UInt8 = 1
    var legacyVersion = 0x0303
    var random = [UInt8](repeating: 0x5A, count: 32)
    var sessionID = [UInt8](repeating: 0x11, count: 32)
    var cipherSuites = [0x1A1A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F]
    var compression: [UInt8] = [0]
    var extensions: [(Int, [UInt8])]? = [
        (0x2A2A, []),
        Ext.serverName("webext.contoso.test"),
        Ext.alpn(["h2", "http/1.1"]),
        Ext.supportedVersions([0x3A3A, 0x0304, 0x0303]),
        Ext.keyShare,
        Ext.sessionTicket([]),
        Ext.padding(32),
    ]
    /// Appended to the body after the extensions block.
    var trailer: [UInt8] = []

    var body: [UInt8] {
        var b = u16(legacyVersion) + random + vec8(sessionID)
        b += vec16(cipherSuites.flatMap(u16)) + vec8(compression)
        if let extensions {
            b += vec16(extensions.flatMap { u16($0.0) + vec16($0.1) })
        }
        return b + trailer
    }

    var handshake: [UInt8] { [handshakeType] + u24(body.count) + body }

    /// The handshake message in records whose payloads have the given sizes (the last one
    /// takes the rest); one record when `fragments` is empty.
    func records(_ fragments: [Int] = []) -> [UInt8] {
        var message = handshake[...]
        var out: [UInt8] = []
        for size in fragments where !message.isEmpty {
            let piece = message.prefix(size)
            out += [recordType] + u16(recordVersion) + u16(piece.count) + piece
            message = message.dropFirst(size)
        }
        if !message.isEmpty {
            out += [recordType] + u16(recordVersion) + u16(message.count) + message
        }
        return out
    }

    var bytes: [UInt8] { records() }
}

enum Ext {
    static func serverName(_ name: String) -> (Int, [UInt8]) {
        (0, vec16([0] + vec16(ascii(name))))
    }
    static func serverNameEntries(_ entries: [(UInt8, [UInt8])]) -> (Int, [UInt8]) {
        (0, vec16(entries.flatMap { [$0.0] + vec16($0.1) }))
    }
    static func alpn(_ names: [String]) -> (Int, [UInt8]) {
        (16, vec16(names.flatMap { vec8(ascii($0)) }))
    }
    static func supportedVersions(_ versions: [Int]) -> (Int, [UInt8]) {
        (43, vec8(versions.flatMap(u16)))
    }
    static let keyShare: (Int, [UInt8]) = (51, vec16(u16(0x001D) + vec16([UInt8](repeating: 0x42, count: 32))))
    static func sessionTicket(_ ticket: [UInt8]) -> (Int, [UInt8]) { (35, ticket) }
    static func padding(_ n: Int) -> (Int, [UInt8]) { (21, [UInt8](repeating: 0, count: n)) }
    static let preSharedKey: (Int, [UInt8]) = (
        41,
        vec16(vec16([UInt8](repeating: 0x77, count: 16)) + [0, 0, 0, 1]) + vec16(vec8([UInt8](repeating: 0x99, count: 32)))
    )
}

/// Parses `bytes` in one call.
func parseWhole(_ bytes: [UInt8], limits: ClientHelloLimits = .init()) -> ClientHelloResult {
    var parser = ClientHelloParser(limits: limits)
    return bytes.withUnsafeBytes { parser.parse($0) }
}

/// Feeds growing prefixes ending at each cut (then the whole input), as a connection would,
/// and returns the first result that is not `.needMore` (or `.needMore`). Checks that a
/// decided result never changes afterwards.
func parseInSteps(_ bytes: [UInt8], cuts: [Int], limits: ClientHelloLimits = .init(),
                  file: StaticString = #filePath, line: UInt = #line) -> ClientHelloResult {
    var parser = ClientHelloParser(limits: limits)
    var decided: ClientHelloResult?
    for cut in cuts.sorted() + [bytes.count] where cut <= bytes.count {
        let r = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[..<cut])) }
        if let decided {
            XCTAssertEqual(r, decided, "result changed after being decided", file: file, line: line)
        } else if r != .needMore {
            decided = r
        }
    }
    return decided ?? .needMore
}

func parseByteByByte(_ bytes: [UInt8], limits: ClientHelloLimits = .init()) -> ClientHelloResult {
    parseInSteps(bytes, cuts: Array(0...bytes.count), limits: limits)
}

extension ClientHelloResult {
    var info: ClientHelloInfo? {
        if case .complete(let info) = self { return info }
        return nil
    }
}

/// A small seeded generator (SplitMix64) so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
