/// Byte classes and comparisons used by the parser and the serializers.
///
/// Field names are case-insensitive (RFC 9110 §5.1) but must be forwarded with their original
/// case, so names stay as received bytes and are compared with ``equalsCaseInsensitive(_:_:)``
/// instead of being lowercased into new strings on every request.
public enum ASCII {
    @usableFromInline static let cr: UInt8 = 0x0D
    @usableFromInline static let lf: UInt8 = 0x0A
    @usableFromInline static let sp: UInt8 = 0x20
    @usableFromInline static let htab: UInt8 = 0x09
    @usableFromInline static let colon: UInt8 = 0x3A
    @usableFromInline static let comma: UInt8 = 0x2C
    @usableFromInline static let semicolon: UInt8 = 0x3B

    /// `tchar` of RFC 9110 §5.6.2.
    @inlinable
    public static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A:
            return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E:
            return true
        default:
            return false
        }
    }

    /// `field-vchar / SP / HTAB` of RFC 9110 §5.5: everything but control bytes and DEL.
    /// obs-text (0x80–0xFF) is allowed because real clients send it.
    @inlinable
    public static func isFieldValueChar(_ c: UInt8) -> Bool {
        c == 0x09 || (c >= 0x20 && c != 0x7F)
    }

    /// Optional whitespace (RFC 9110 §5.6.3).
    @inlinable
    public static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inlinable
    public static func lower(_ c: UInt8) -> UInt8 {
        (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
    }

    /// Case-insensitive ASCII equality of two byte sequences, without allocating.
    @inlinable
    public static func equalsCaseInsensitive<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var ib = b.startIndex
        for x in a {
            if lower(x) != lower(b[ib]) { return false }
            ib = b.index(after: ib)
        }
        return true
    }

    /// Case-insensitive equality of a byte slice and a string's UTF-8, without allocating.
    @inlinable
    public static func equalsCaseInsensitive(_ a: ArraySlice<UInt8>, _ s: String) -> Bool {
        equalsCaseInsensitive(a, s.utf8)
    }

    /// Whether a byte may appear in `uri-host [ ":" port ]` (RFC 3986 §3.2.2: reg-name,
    /// IP-literal in brackets, pct-encoded), which is what Host and an absolute-form authority
    /// carry; `@` (userinfo) and `,` are refused.
    @inlinable
    public static func isAuthorityChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A:
            return true
        // - . _ ~ ! $ & ' ( ) * + ; = % : [ ]
        // The comma, although a sub-delim, is left out: `Host: a, b` reads as a list to some
        // servers, which would route on a different host than the proxy did.
        case 0x2D, 0x2E, 0x5F, 0x7E, 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x3B, 0x3D,
             0x25, 0x3A, 0x5B, 0x5D:
            return true
        default:
            return false
        }
    }
}

/// Trims OWS from both ends of a range of `bytes`.
@inlinable
func trimOWS(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
    var lo = range.lowerBound
    var hi = range.upperBound
    while lo < hi && ASCII.isOWS(bytes[lo]) { lo += 1 }
    while hi > lo && ASCII.isOWS(bytes[hi - 1]) { hi -= 1 }
    return lo..<hi
}

/// Calls `body` with each element of a comma-separated list (RFC 9110 §5.6.1), OWS-trimmed.
/// Empty elements are passed too, so callers decide whether `a,,b` is acceptable.
@inlinable
func forEachListElement(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ body: (Range<Int>) -> Bool) {
    var start = range.lowerBound
    var i = range.lowerBound
    while i <= range.upperBound {
        if i == range.upperBound || bytes[i] == ASCII.comma {
            if !body(trimOWS(bytes, start..<i)) { return }
            start = i + 1
        }
        i += 1
    }
}
