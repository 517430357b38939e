/// The path a rule matches: the request path as the member behind edgesplit will read it,
/// not as it was written. IIS (http.sys) percent-decodes the path, takes `\` for `/`, merges
/// repeated slashes and removes dot segments before it maps the URL to an application, so
/// `/%61dmin/x`, `/x/../admin/x` and `//admin/x` all reach `/admin`; a rule matching the raw
/// bytes would let them past a deny rule for `/admin/*`. Only matching uses this form: the
/// bytes forwarded to the member are the ones received.
///
/// It lives in Publishing, next to the rules, because whether an ambiguous path is refused
/// depends on the rules (``RuleTable/decide(listener:host:requestPath:client:)``).
///
/// Steps, per segment of the raw path (split at `/` and at `\`, which IIS reads as `/`):
/// 1. `;params` are cut at the first raw `;` (RFC 3986 §3.3 leaves their meaning to the
///    server; Tomcat, Jetty and some .NET handlers drop them, so `/admin;x/y` is `/admin/y`
///    to them). IIS keeps `;` as part of the name, which never reaches a narrower folder than
///    the cut form, so cutting can only make a rule for that folder match more, not less.
/// 2. Percent-decoding, once (RFC 3986 §2.1), as IIS does. An invalid escape (`%zz`, `%4`, a
///    `%` at the end) or a decoded control byte (`%00`–`%1F`, `%7F`) is refused: the first has
///    no single reading, the second truncates or splits the path in C-based members.
/// 3. Dot segments are removed (RFC 3986 §5.2.4), never above the root, and empty segments
///    are merged away. The decoded form counts: `%2e%2e` is `..`, as IIS reads it.
/// 4. Trailing dots and spaces of a name are dropped: Windows ignores them in file names, so
///    IIS serves `/admin./x` from the `admin` folder.
///
/// Three constructs can be read two ways by members; each is noted in ``Normalized/ambiguities``
/// and read the first way unless the ``Reading`` asks for the other:
/// - an encoded separator (`%2F`, `%5C`): a separator to IIS's decoded URL, part of a name to
///   members that route on the raw path (and needed as such by Office Web Apps' `WopiSrc`
///   paths and the address book);
/// - `.` or `..` with parameters (`..;x`): a dot segment once parameters are cut, a name to IIS;
/// - an escape left after decoding once (`%252F` → `%2F`): literal text to IIS, which decodes
///   once (and refuses it with 404.11 while `allowDoubleEscaping` is false, the default), an
///   escape to a member that decodes twice.
public enum PathNormalizer {
    /// The second reading of each ambiguous construct.
    public struct Reading: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// `%2F` and `%5C` are part of a name, not separators.
        public static let encodedSeparatorsInName = Reading(rawValue: 1)
        /// `..;x` and `.;x` are names, not dot segments.
        public static let dotParametersAsName = Reading(rawValue: 2)
        /// An escape left after decoding once is decoded again.
        public static let decodedTwice = Reading(rawValue: 4)

        public static let all: Reading = [.encodedSeparatorsInName, .dotParametersAsName, .decodedTwice]
    }

    /// Why a path is refused (400).
    public enum Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        case invalidPercentEncoding
        case controlByte
        /// The rules decide differently under this reading than under the first one.
        case ambiguous(Reading)

        public var description: String {
            switch self {
            case .invalidPercentEncoding: return "invalid percent-encoding"
            case .controlByte: return "a control byte (such as %00)"
            case .ambiguous(let reading):
                var parts: [String] = []
                if reading.contains(.encodedSeparatorsInName) { parts.append("an encoded '/' or '\\' (%2F, %5C)") }
                if reading.contains(.dotParametersAsName) { parts.append("a dot segment with ';' parameters") }
                if reading.contains(.decodedTwice) { parts.append("double percent-encoding (%25XX)") }
                return parts.joined(separator: " and ") + " that the rules would read two ways"
            }
        }
    }

    public struct Normalized: Hashable, Sendable {
        /// The path rules match.
        public var path: [UInt8]
        /// The constructs in the path that have a second reading.
        public var ambiguities: Reading
    }

    /// In the second reading of an encoded separator, the byte that stands for it: no pattern
    /// contains it (a decoded NUL is refused), so it never matches a pattern's `/`.
    static let separatorInName: UInt8 = 0x00

    /// False when `raw` is already in normal form (the common case): no `%`, `\`, `;`, empty,
    /// dot or dot-ended segment. The data plane then matches the received bytes as they are.
    public static func needsNormalizing(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        guard raw.first == slash else { return false }
        var previous: UInt8 = 0
        for b in raw {
            switch b {
            case percent, backslash, semicolon: return true
            case slash where previous == slash || previous == dot || previous == space: return true
            default: if b < 0x20 || b == 0x7f { return true }
            }
            previous = b
        }
        return previous == dot || previous == space
    }

    /// The path rules match for the raw path `raw` (the request target up to `?`), read as
    /// `reading` says. A target that does not start with `/` (asterisk-form `*`) is returned
    /// as it is.
    public static func normalize(_ raw: some Collection<UInt8>, reading: Reading = []) throws(Refusal) -> Normalized {
        let raw = Array(raw)
        guard raw.first == slash else { return Normalized(path: raw, ambiguities: []) }
        var names: [[UInt8]] = []
        var ambiguities: Reading = []
        var endsWithName = false
        var start = 1
        while start <= raw.count {
            var end = start
            while end < raw.count, raw[end] != slash, raw[end] != backslash { end += 1 }
            let segment = raw[start..<end]
            let semicolonIndex = segment.firstIndex(of: semicolon)
            let decoded = try decodeSegment(segment[..<(semicolonIndex ?? end)], reading: reading, ambiguities: &ambiguities)
            var parts = decoded.split(separator: slash, omittingEmptySubsequences: false).map(Array.init)
            if semicolonIndex != nil, let last = parts.last, last == [dot] || last == [dot, dot] {
                ambiguities.insert(.dotParametersAsName)
                if reading.contains(.dotParametersAsName) { parts[parts.count - 1] = last + [semicolon] }
            }
            for part in parts {
                endsWithName = false
                if part.isEmpty || part == [dot] { continue }
                if part == [dot, dot] {
                    _ = names.popLast()
                    continue
                }
                var name = part[...]
                if part.contains(where: { $0 != dot && $0 != space }) {
                    while let last = name.last, last == dot || last == space { name.removeLast() }
                }
                names.append(Array(name))
                endsWithName = true
            }
            start = end + 1
        }
        var path: [UInt8] = [slash]
        for (i, name) in names.enumerated() {
            if i > 0 { path.append(slash) }
            path += name
        }
        if !endsWithName, !names.isEmpty { path.append(slash) }
        return Normalized(path: path, ambiguities: ambiguities)
    }

    /// Decodes `bytes` once: what a pattern's text means (patterns are written encoded).
    public static func percentDecoded(_ bytes: some Collection<UInt8>) throws(Refusal) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let b = iterator.next() {
            guard b == percent else {
                guard b >= 0x20, b != 0x7f else { throw .controlByte }
                out.append(b)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .invalidPercentEncoding
            }
            let value = high << 4 | low
            guard value >= 0x20, value != 0x7f else { throw .controlByte }
            out.append(value)
        }
        return out
    }

    /// One raw segment (no raw separators, parameters cut) decoded under `reading`. Separators
    /// in the result (`/`) came from escapes; in the name reading they are `separatorInName`.
    private static func decodeSegment(_ raw: ArraySlice<UInt8>, reading: Reading, ambiguities: inout Reading) throws(Refusal) -> [UInt8] {
        let once = try percentDecoded(raw)
        var out: [UInt8] = []
        out.reserveCapacity(once.count)
        func separator() -> UInt8 {
            ambiguities.insert(.encodedSeparatorsInName)
            return reading.contains(.encodedSeparatorsInName) ? separatorInName : slash
        }
        var i = 0
        while i < once.count {
            let b = once[i]
            if b == percent, i + 2 < once.count, let high = hexValue(once[i + 1]), let low = hexValue(once[i + 2]) {
                // An escape left after one decoding (from `%25`): literal text unless decoded twice.
                ambiguities.insert(.decodedTwice)
                let value = high << 4 | low
                if value == slash || value == backslash { _ = separator() }
                if reading.contains(.decodedTwice) {
                    guard value >= 0x20, value != 0x7f else { throw .controlByte }
                    out.append(value == slash || value == backslash ? separator() : value)
                    i += 3
                    continue
                }
            }
            out.append(b == slash || b == backslash ? separator() : b)
            i += 1
        }
        return out
    }
}

private let slash = UInt8(ascii: "/")
private let backslash = UInt8(ascii: "\\")
private let percent = UInt8(ascii: "%")
private let semicolon = UInt8(ascii: ";")
private let dot = UInt8(ascii: ".")
private let space = UInt8(ascii: " ")

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
