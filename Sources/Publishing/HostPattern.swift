import Affinity

/// A rule's public name: an exact host (`webext.contoso.com`, `192.0.2.10`, `[2001:db8::1]`)
/// or a leading wildcard (`*.contoso.com`, any name ending in `.contoso.com`, at any depth,
/// but not `contoso.com` itself). Matching is ASCII case-insensitive.
public struct HostPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case exact
        case wildcard
    }

    public let kind: Kind
    /// The pattern in canonical form: lowercased, no trailing dot.
    public let text: String
    /// Exact: the host. Wildcard: the suffix with its leading dot (`.contoso.com`).
    let bytes: [UInt8]

    public var description: String { text }

    public init?(_ text: String) {
        guard let pattern = try? HostPattern.parse(text) else { return nil }
        self = pattern
    }

    private init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
        self.bytes = kind == .wildcard ? Array(text.utf8.dropFirst()) : Array(text.utf8)
    }

    /// Parses a public name; the error says what is wrong with it.
    public static func parse(_ written: String) throws(ConfigValueError) -> HostPattern {
        var text = written.lowercased()
        if text.hasSuffix("."), text.count > 1 { text.removeLast() }
        guard !text.isEmpty else { throw ConfigValueError("expected a host name like webext.contoso.com, got ''") }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]"), let address = ClientAddress(text), address.family == .ipv6 else {
                throw ConfigValueError("'\(written)' is not a valid bracketed IPv6 address")
            }
            return HostPattern(kind: .exact, text: "[\(address)]")
        }
        if text.contains(":") {
            throw ConfigValueError("'\(written)': write an IPv6 address in brackets ('[2001:db8::1]'); a public name has no port")
        }
        var labels = text.split(separator: ".", omittingEmptySubsequences: false)
        var kind = Kind.exact
        if labels.first == "*" {
            guard labels.count >= 2 else {
                throw ConfigValueError("'\(written)': a wildcard needs a domain after it, as in '*.contoso.com'")
            }
            kind = .wildcard
            labels.removeFirst()
        }
        for label in labels {
            if label.isEmpty { throw ConfigValueError("'\(written)' has an empty label") }
            if label.contains("*") {
                throw ConfigValueError("'\(written)': a wildcard is only allowed as the whole first label, as in '*.contoso.com'")
            }
            if let bad = label.unicodeScalars.first(where: { !Self.isNameScalar($0) }) {
                throw ConfigValueError("'\(written)' contains '\(bad)'; a host name has letters, digits, '-' and '.' only")
            }
            if label.utf8.count > 63 { throw ConfigValueError("'\(written)' has a label longer than 63 characters") }
        }
        if text.utf8.count > 253 { throw ConfigValueError("'\(written)' is longer than 253 characters") }
        if kind == .exact, labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) {
            guard labels.count == 4, ClientAddress(text) != nil else {
                throw ConfigValueError("'\(written)' is not a valid IPv4 address")
            }
        }
        return HostPattern(kind: kind, text: text)
    }

    static func isNameScalar(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "a"..."z", "0"..."9", "-", "_": return true
        default: return false
        }
    }

    static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// True when `normalizedHost` (lowercase, no port, no trailing dot; see `normalize`)
    /// is matched by this pattern. Comparison is ASCII case-insensitive anyway.
    public func matches(normalizedHost: some Collection<UInt8>) -> Bool {
        if let result = normalizedHost.withContiguousStorageIfAvailable({ matches(buffer: $0) }) { return result }
        return Array(normalizedHost).withUnsafeBufferPointer { matches(buffer: $0) }
    }

    @inline(__always)
    func matches(buffer host: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = bytes.count
        switch kind {
        case .exact:
            guard host.count == count else { return false }
            return bytes.withUnsafeBufferPointer { Self.equalsIgnoringCase($0, host, offset: 0) }
        case .wildcard:
            guard host.count > count else { return false }
            return bytes.withUnsafeBufferPointer { Self.equalsIgnoringCase($0, host, offset: host.count - count) }
        }
    }

    /// Compares lowercase `pattern` with `host[offset...]`, folding ASCII case of `host`.
    @inline(__always)
    static func equalsIgnoringCase(_ pattern: UnsafeBufferPointer<UInt8>, _ host: UnsafeBufferPointer<UInt8>, offset: Int) -> Bool {
        var i = 0
        while i < pattern.count {
            if pattern[i] != asciiLower(host[offset + i]) { return false }
            i += 1
        }
        return true
    }

    /// True when every host this pattern's `other` matches is also matched by this one.
    public func covers(_ other: HostPattern) -> Bool {
        switch (kind, other.kind) {
        case (.exact, .exact): return bytes == other.bytes
        case (.exact, .wildcard): return false
        case (.wildcard, .exact): return other.bytes.withUnsafeBufferPointer { matches(buffer: $0) }
        case (.wildcard, .wildcard):
            return other.bytes.count >= bytes.count && Array(other.bytes.suffix(bytes.count)) == bytes
        }
    }

    /// The host of a Host header (or :authority) as rules match it: lowercased, port and
    /// trailing dot removed, IPv6 literals in canonical bracketed form. Nil when the value
    /// is not a valid host.
    public static func normalize(hostHeader: some Collection<UInt8>) -> [UInt8]? {
        if let result = hostHeader.withContiguousStorageIfAvailable({ normalize(buffer: $0) }) { return result }
        return Array(hostHeader).withUnsafeBufferPointer { normalize(buffer: $0) }
    }

    static func normalize(buffer: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let span = hostSpan(buffer) else { return nil }
        if buffer[span.lowerBound] == UInt8(ascii: "[") {
            return canonicalIPv6(UnsafeBufferPointer(rebasing: buffer[span]))
        }
        return buffer[span].map(asciiLower)
    }

    /// `[v6]` in canonical form, or nil when not an IPv6 literal.
    static func canonicalIPv6(_ bracketed: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let text = String(decoding: bracketed, as: UTF8.self)
        guard let address = ClientAddress(text), address.family == .ipv6 else { return nil }
        return Array("[\(address)]".utf8)
    }

    /// The range of the host inside a Host header value without the port and trailing dot,
    /// after checking its characters. A bracketed range keeps its brackets.
    static func hostSpan(_ value: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var end = value.count
        guard end > 0 else { return nil }
        var portStart: Int? = nil
        if value[0] == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            for i in 1..<close {
                let b = value[i]
                guard isHexOrColonOrDot(b) else { return nil }
            }
            if close + 1 < end {
                guard value[close + 1] == UInt8(ascii: ":") else { return nil }
                portStart = close + 2
            }
            end = close + 1
            if let p = portStart, !validPort(value, from: p) { return nil }
            return 0..<end
        }
        var i = 0
        while i < end {
            let b = value[i]
            if b == UInt8(ascii: ":") {
                portStart = i + 1
                break
            }
            guard isHostByte(b) else { return nil }
            i += 1
        }
        if let p = portStart {
            guard validPort(value, from: p) else { return nil }
            end = p - 1
        }
        if end > 1, value[end - 1] == UInt8(ascii: ".") { end -= 1 }
        guard end > 0, value[0] != UInt8(ascii: "."), value[end - 1] != UInt8(ascii: ".") else { return nil }
        // No empty labels.
        var j = 1
        while j < end {
            if value[j] == UInt8(ascii: "."), value[j - 1] == UInt8(ascii: ".") { return nil }
            j += 1
        }
        return 0..<end
    }

    private static func isHexOrColonOrDot(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
             UInt8(ascii: "A")...UInt8(ascii: "F"), UInt8(ascii: ":"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// An empty port is allowed (RFC 3986 §3.2.3); otherwise 1 to 5 digits.
    private static func validPort(_ value: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
        guard value.count - start <= 5 else { return false }
        var i = start
        while i < value.count {
            guard value[i] &- UInt8(ascii: "0") < 10 else { return false }
            i += 1
        }
        return true
    }
}
