/// The persistence cookie of a farm with `persistence: cookie` (Lync 2010 mobility: an
/// HLB-style cookie named `MS-WSMAN` by default).
///
/// A token names a member without revealing it: it is the SipHash-2-4 MAC of the member's
/// configured `host:port`, keyed by `cookie_key`, as 16 hex digits. The configuration reader
/// requires the key, since without a secret anyone could compute a member's token; only a
/// farm built in code without one falls back to a key made of the farm name and the affinity
/// seed. Every edgesplit host with the same key issues and accepts the same tokens, so no
/// state is shared. A token that names no member — stale, forged, mangled — is ignored,
/// never an error.
public struct PersistenceCookie: Sendable {
    public let name: String
    /// Token per member index.
    public let tokens: [String]
    private let nameBytes: [UInt8]
    private let tokenBytes: [[UInt8]]

    public init(farm: Farm, seed: UInt32) {
        let secret = farm.cookieKey ?? "edgesplit-cookie:\(farm.name):\(seed)"
        let mac = SipHash(secret: Array(secret.utf8))
        let tokens = farm.members.map { member -> String in
            let value = mac.hash(Array(member.text.utf8))
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
        self.name = farm.cookieName
        self.tokens = tokens
        self.nameBytes = Array(farm.cookieName.utf8)
        self.tokenBytes = tokens.map { Array($0.utf8) }
    }

    /// The `Set-Cookie` value for a member: not HttpOnly, no Expires or Max-Age, as
    /// Microsoft's load-balancer requirements for MS-WSMAN say.
    public func setCookie(member: Int) -> String {
        "\(name)=\(tokens[member]); Path=/; Secure"
    }

    /// The member named by a valid cookie among a request's `Cookie` header values.
    public func member(inCookieHeaders values: [[UInt8]]) -> Int? {
        for value in values {
            if let member = member(inCookieHeader: value) { return member }
        }
        return nil
    }

    /// Scans `name=value; name2=value2` (RFC 6265 §4.2.1) for this farm's cookie.
    public func member(inCookieHeader value: [UInt8]) -> Int? {
        var i = 0
        let n = value.count
        while i < n {
            while i < n, value[i] == 0x20 || value[i] == 0x09 || value[i] == 0x3B { i += 1 }
            let nameStart = i
            while i < n, value[i] != 0x3D, value[i] != 0x3B { i += 1 }
            let nameEnd = i
            guard i < n, value[i] == 0x3D else { continue }
            i += 1
            let valueStart = i
            while i < n, value[i] != 0x3B { i += 1 }
            var valueEnd = i
            while valueEnd > valueStart, value[valueEnd - 1] == 0x20 || value[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            var trimmedNameEnd = nameEnd
            while trimmedNameEnd > nameStart, value[trimmedNameEnd - 1] == 0x20 { trimmedNameEnd -= 1 }
            if value[nameStart..<trimmedNameEnd].elementsEqual(nameBytes) {
                var token = value[valueStart..<valueEnd]
                if token.count >= 2, token.first == 0x22, token.last == 0x22 { token = token.dropFirst().dropLast() }
                if let member = tokenBytes.firstIndex(where: { $0.elementsEqual(token) }) { return member }
            }
        }
        return nil
    }
}
