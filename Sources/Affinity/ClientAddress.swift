#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A client's network address as the kernel steering program sees it: 4 bytes for IPv4,
/// 16 for IPv6, in network byte order.
///
/// An IPv4 client accepted on a dual-stack `[::]` listener arrives in userspace as an
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), while the kernel program reads the IPv4
/// header of its SYN. `init` therefore folds mapped addresses back to IPv4, so the worker,
/// the farm member and the source-network checks all agree with the kernel.
public struct ClientAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    /// Network-order address bytes: 4 for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public var family: Family { bytes.count == 4 ? .ipv4 : .ipv6 }

    /// Creates an address from network-order bytes; IPv4-mapped IPv6 folds to IPv4.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
            if Array(bytes[0..<12]) == mappedPrefix {
                self.bytes = Array(bytes[12..<16])
            } else {
                self.bytes = bytes
            }
        default:
            return nil
        }
    }

    /// Parses an IPv4 or IPv6 literal (`192.0.2.7`, `2001:db8::1`, `[2001:db8::1]`,
    /// `::ffff:192.0.2.7`). Zone identifiers (`fe80::1%eth0`) are refused: they do not
    /// name a client address.
    public init?(_ text: String) {
        var literal = Substring(text)
        if literal.hasPrefix("["), literal.hasSuffix("]") {
            literal = literal.dropFirst().dropLast()
        }
        guard !literal.isEmpty, !literal.contains("%") else { return nil }
        let string = String(literal)
        if !string.contains(":") {
            var v4 = in_addr()
            guard inet_pton(AF_INET, string, &v4) == 1 else { return nil }
            let raw = withUnsafeBytes(of: &v4) { Array($0) }
            self.init(bytes: raw)
        } else {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
            let raw = withUnsafeBytes(of: &v6) { Array($0) }
            self.init(bytes: raw)
        }
    }

    /// The conventional text form (`192.0.2.7`, `2001:db8::1`).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address as big-endian 32-bit words (1 for IPv4, 4 for IPv6): the unit the
    /// affinity hash and prefix masks work in, on both sides of the kernel boundary.
    public var words: [UInt32] {
        stride(from: 0, to: bytes.count, by: 4).map { (i: Int) -> UInt32 in
            let high: UInt32 = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16
            let low: UInt32 = UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
            return high | low
        }
    }
}
