/// Why a configuration value was refused, phrased for the operator (the loader adds the
/// key path and position).
public struct ConfigValueError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Scalar value syntaxes shared by several keys.
public enum ConfigValue {
    /// `500ms`, `5s`, `15m`, `1h`, or a bare integer meaning seconds.
    public static func duration(_ text: String) throws(ConfigValueError) -> Duration {
        let expected = "expected a duration like 500ms, 5s, 15m or 1h, got '\(text)'"
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces
        guard !digits.isEmpty, digits.count <= 12, let value = Int64(digits) else { throw ConfigValueError(expected) }
        switch unit {
        case "ms": return .milliseconds(value)
        case "", "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        default: throw ConfigValueError(expected)
        }
    }

    /// Bare integer bytes, or `KiB`/`MiB`/`GiB` (1024-based), `KB`/`MB`/`GB` (1000-based), `B`.
    public static func size(_ text: String) throws(ConfigValueError) -> UInt64 {
        let expected = "expected a size like 65536, 64KiB, 500MiB or 1GB, got '\(text)'"
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces.lowercased()
        guard !digits.isEmpty, digits.count <= 19, let value = UInt64(digits) else { throw ConfigValueError(expected) }
        let multiplier: UInt64
        switch unit {
        case "", "b": multiplier = 1
        case "kib": multiplier = 1 << 10
        case "mib": multiplier = 1 << 20
        case "gib": multiplier = 1 << 30
        case "kb": multiplier = 1_000
        case "mb": multiplier = 1_000_000
        case "gb": multiplier = 1_000_000_000
        default: throw ConfigValueError(expected)
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw ConfigValueError("size '\(text)' is too large") }
        return product
    }

    /// Renders a duration the way the configuration writes it (`960s`, `500ms`).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 {
            if seconds != 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        let s = self[...]
        let start = s.firstIndex { $0 != " " && $0 != "\t" } ?? s.endIndex
        let end = s.lastIndex { $0 != " " && $0 != "\t" }.map { s.index(after: $0) } ?? start
        return Substring(s[start..<Swift.max(start, end)])
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte &- 0x41 < 26 ? byte | 0x20 : byte
}
