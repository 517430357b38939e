/// SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit PRF made for short inputs.
/// edgesplit uses it as the MAC of persistence-cookie tokens.
public struct SipHash: Sendable {
    public let k0: UInt64
    public let k1: UInt64

    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// A key derived from a secret of any length.
    public init(secret: some Collection<UInt8>) {
        let zero = SipHash(k0: 0, k1: 0)
        self.k0 = zero.hash(Array(secret) + [1])
        self.k1 = zero.hash(Array(secret) + [2])
    }

    public func hash(_ message: some Collection<UInt8>) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1

        @inline(__always) func round() {
            v0 = v0 &+ v1; v1 = (v1 << 13) | (v1 >> 51); v1 ^= v0; v0 = (v0 << 32) | (v0 >> 32)
            v2 = v2 &+ v3; v3 = (v3 << 16) | (v3 >> 48); v3 ^= v2
            v0 = v0 &+ v3; v3 = (v3 << 21) | (v3 >> 43); v3 ^= v0
            v2 = v2 &+ v1; v1 = (v1 << 17) | (v1 >> 47); v1 ^= v2; v2 = (v2 << 32) | (v2 >> 32)
        }

        let bytes = Array(message)
        let fullWords = bytes.count / 8
        for w in 0..<fullWords {
            var m: UInt64 = 0
            for i in 0..<8 { m |= UInt64(bytes[w * 8 + i]) << (8 * UInt64(i)) }
            v3 ^= m
            round(); round()
            v0 ^= m
        }
        var last = UInt64(bytes.count & 0xff) << 56
        for i in 0..<(bytes.count % 8) { last |= UInt64(bytes[fullWords * 8 + i]) << (8 * UInt64(i)) }
        v3 ^= last
        round(); round()
        v0 ^= last
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}
