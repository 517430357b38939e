/// A rule path, in TMG's notation: `/*` (everything), `/abs/*` (the folder `/abs` and
/// everything under it, at a segment boundary: `/abs`, `/abs/`, `/abs/x`, not `/absx`), or
/// an exact path (`/meet`).
///
/// Matching works on the path the member will see (``PathNormalizer``: decoded once, `\` as
/// `/`, dot segments removed, `;params` cut), so `/%61bs/x` and `/x/../abs/x` are under
/// `/abs/*`. A pattern is written percent-encoded where needed and compared decoded; it must
/// already be in that normal form, or it could never match. Comparison is ASCII
/// case-insensitive, like IIS behind it.
public struct PathPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case all
        case prefix
        case exact
    }

    public let kind: Kind
    /// The pattern as written.
    public let text: String
    /// Lowercased: the folder for `.prefix` (`/abs`, no trailing slash), the path for `.exact`.
    let bytes: [UInt8]

    public static let all = PathPattern(kind: .all, text: "/*", bytes: [])

    public var description: String { text }

    private init(kind: Kind, text: String, bytes: [UInt8]) {
        self.kind = kind
        self.text = text
        self.bytes = bytes
    }

    public init?(_ text: String) {
        guard let pattern = try? PathPattern.parse(text) else { return nil }
        self = pattern
    }

    public static func parse(_ text: String) throws(ConfigValueError) -> PathPattern {
        let raw = Array(text.utf8)
        guard raw.first == UInt8(ascii: "/") else {
            throw ConfigValueError("'\(text)': a path starts with '/', as in '/*' or '/abs/*'")
        }
        for b in raw {
            if b <= 0x20 || b >= 0x7f {
                throw ConfigValueError("'\(text)': spaces, control and non-ASCII characters must be percent-encoded")
            }
            if b == UInt8(ascii: "?") || b == UInt8(ascii: "#") {
                throw ConfigValueError("'\(text)': a path pattern has no query or fragment")
            }
        }
        let stars = raw.filter { $0 == UInt8(ascii: "*") }.count
        if stars == 0 {
            return PathPattern(kind: .exact, text: text, bytes: try normalForm(raw, text: text).map(asciiLower))
        }
        guard stars == 1, raw.count >= 2, raw[raw.count - 1] == UInt8(ascii: "*"), raw[raw.count - 2] == UInt8(ascii: "/") else {
            throw ConfigValueError("'\(text)': '*' is only allowed as a trailing '/*', as in '/abs/*'")
        }
        if raw.count == 2 { return .all }
        let folder = Array(raw.dropLast(2))
        if folder.last == UInt8(ascii: "/") {
            throw ConfigValueError("'\(text)' has an empty segment before '/*' (did you mean '\(String(decoding: folder.dropLast(), as: UTF8.self))/*'?)")
        }
        return PathPattern(kind: .prefix, text: text, bytes: try normalForm(folder, text: text).map(asciiLower))
    }

    /// The decoded pattern path, refused when requests could never be read as it: a request
    /// path is matched decoded and normalised, so `/a/../b`, `/a;x`, `//a` or `/a%2Fb` in a
    /// pattern would be dead text.
    private static func normalForm(_ raw: [UInt8], text: String) throws(ConfigValueError) -> [UInt8] {
        let decoded: [UInt8]
        let normalized: PathNormalizer.Normalized
        do throws(PathNormalizer.Refusal) {
            decoded = try PathNormalizer.percentDecoded(raw)
            normalized = try PathNormalizer.normalize(raw)
        } catch {
            throw ConfigValueError("'\(text)': \(error)")
        }
        guard normalized.ambiguities.isEmpty, normalized.path == decoded else {
            let shown = String(decoding: normalized.path, as: UTF8.self)
            throw ConfigValueError(
                "'\(text)' is not a normalised path: requests are matched decoded, with '\\' as '/', dot segments, "
                    + "';' parameters and repeated slashes removed (this one reads as '\(shown)')")
        }
        return decoded
    }

    /// True when the raw path bytes (no query) are matched.
    public func matches(_ path: some Collection<UInt8>) -> Bool {
        if kind == .all { return true }
        if let result = path.withContiguousStorageIfAvailable({ matches(buffer: $0) }) { return result }
        return Array(path).withUnsafeBufferPointer { matches(buffer: $0) }
    }

    @inline(__always)
    func matches(buffer path: UnsafeBufferPointer<UInt8>) -> Bool {
        switch kind {
        case .all:
            return true
        case .exact:
            guard path.count == bytes.count else { return false }
        case .prefix:
            guard path.count >= bytes.count else { return false }
            if path.count > bytes.count, path[bytes.count] != UInt8(ascii: "/") { return false }
        }
        return bytes.withUnsafeBufferPointer { HostPattern.equalsIgnoringCase($0, path, offset: 0) }
    }

    /// True when every path `other` matches is also matched by this pattern.
    public func covers(_ other: PathPattern) -> Bool {
        switch (kind, other.kind) {
        case (.all, _): return true
        case (_, .all): return false
        case (.exact, .exact): return bytes == other.bytes
        case (.exact, .prefix): return false
        case (.prefix, _): return other.bytes.withUnsafeBufferPointer { matches(buffer: $0) }
        }
    }
}
