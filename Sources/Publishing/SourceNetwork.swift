import Affinity

/// A client network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`, or one address).
///
/// Clients on a dual-stack listener arrive as IPv4-mapped IPv6 addresses, which
/// `ClientAddress` folds to IPv4; a mapped network (`::ffff:10.0.0.0/104`) folds the
/// same way, so `10.0.0.0/8` is all one has to write.
public struct SourceNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network address; every bit past `prefixLength` is zero.
    public let address: ClientAddress
    public let prefixLength: Int

    public var family: ClientAddress.Family { address.family }

    public static let anyIPv4 = SourceNetwork(uncheckedBytes: [0, 0, 0, 0], prefixLength: 0)
    public static let anyIPv6 = SourceNetwork(uncheckedBytes: [UInt8](repeating: 0, count: 16), prefixLength: 0)
    /// The default of a rule: every IPv4 and IPv6 client.
    public static let any: [SourceNetwork] = [anyIPv4, anyIPv6]

    private init(uncheckedBytes: [UInt8], prefixLength: Int) {
        self.address = ClientAddress(bytes: uncheckedBytes)!
        self.prefixLength = prefixLength
    }

    /// Parses `address/prefix` or a bare address; nil when invalid (see `parse` for why).
    public init?(_ text: String) {
        guard let network = try? SourceNetwork.parse(text) else { return nil }
        self = network
    }

    /// Parses `address/prefix` or a bare address (a /32 or /128). Host bits must be zero.
    public static func parse(_ text: String) throws(ConfigValueError) -> SourceNetwork {
        let expected = "expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got '\(text)'"
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard !addressText.hasPrefix("["), let parsed = ClientAddress(addressText) else {
            throw ConfigValueError(expected)
        }
        let writtenAsIPv6 = addressText.contains(":")
        let writtenBits = writtenAsIPv6 ? 128 : 32
        var prefix = writtenBits
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(digits), value <= writtenBits
            else {
                throw ConfigValueError("'\(text)': expected a prefix length 0...\(writtenBits) after '/'")
            }
            prefix = value
        }
        if writtenAsIPv6 && parsed.family == .ipv4 {
            // An IPv4-mapped network: fold it like ClientAddress folds clients.
            guard prefix >= 96 else {
                throw ConfigValueError("'\(text)': an IPv4-mapped network needs a prefix of at least 96")
            }
            prefix -= 96
        }
        let masked = Self.mask(parsed.bytes, prefix)
        guard masked == parsed.bytes else {
            let suggestion = ClientAddress(bytes: masked).map { "\($0)/\(prefix)" } ?? ""
            throw ConfigValueError("'\(text)' has host bits set (did you mean \(suggestion)?)")
        }
        return SourceNetwork(uncheckedBytes: masked, prefixLength: prefix)
    }

    static func mask(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = bytes
        for i in out.indices {
            let keep = prefix - i * 8
            if keep >= 8 { continue }
            out[i] = keep <= 0 ? 0 : out[i] & ~(UInt8(0xff) >> keep)
        }
        return out
    }

    /// True when `client` is inside this network (families must agree).
    public func contains(_ client: ClientAddress) -> Bool {
        let mine = address.bytes
        let theirs = client.bytes
        guard mine.count == theirs.count else { return false }
        var remaining = prefixLength
        var i = 0
        while remaining >= 8 {
            if mine[i] != theirs[i] { return false }
            remaining -= 8
            i += 1
        }
        if remaining > 0 {
            let m = ~(UInt8(0xff) >> remaining)
            if mine[i] != theirs[i] & m { return false }
        }
        return true
    }

    /// True when every address of `other` is inside this network.
    public func covers(_ other: SourceNetwork) -> Bool {
        other.family == family && other.prefixLength >= prefixLength && contains(other.address)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
