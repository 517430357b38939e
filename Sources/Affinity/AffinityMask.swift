/// How much of a client's address decides its worker (and, for source persistence, its
/// farm member): the leading `ipv4Prefix` bits of an IPv4 address, `ipv6Prefix` bits of
/// an IPv6 address. `/24` and `/64` keep a NAT pool or a privacy-address host together;
/// `host` (`/32`, `/128`) tells every address apart.
public struct AffinityMask: Sendable, Hashable, CustomStringConvertible {
    /// Leading bits of an IPv4 address that count, 0...32.
    public let ipv4Prefix: Int
    /// Leading bits of an IPv6 address that count, 0...128.
    public let ipv6Prefix: Int

    /// Every address on its own: `/32` and `/128`.
    public static let host = AffinityMask(uncheckedIPv4Prefix: 32, ipv6Prefix: 128)

    /// A mask, or nil when a prefix is out of range (IPv4 0...32, IPv6 0...128).
    public init?(ipv4Prefix: Int, ipv6Prefix: Int) {
        guard (0...32).contains(ipv4Prefix), (0...128).contains(ipv6Prefix) else { return nil }
        self.ipv4Prefix = ipv4Prefix
        self.ipv6Prefix = ipv6Prefix
    }

    private init(uncheckedIPv4Prefix v4: Int, ipv6Prefix v6: Int) {
        ipv4Prefix = v4
        ipv6Prefix = v6
    }

    /// The prefix length that applies to an address of `family`.
    public func prefix(for family: ClientAddress.Family) -> Int {
        family == .ipv4 ? ipv4Prefix : ipv6Prefix
    }

    /// `/24,/64`.
    public var description: String { "/\(ipv4Prefix),/\(ipv6Prefix)" }
}
