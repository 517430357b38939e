/// The affinity hash: the one function the kernel steering program (BPF/es_hash.h) and
/// userspace (worker prediction, source persistence) compute bit for bit alike.
///
/// The address is taken as big-endian 32-bit word values (1 for IPv4, 4 for IPv6),
/// masked word by word to the prefix, then hashed with murmur3_32 over the words, seeded.
/// Note that this is murmur3 over word *values*, not over the bytes in memory.
public enum AffinityHash {
    /// The hash of `address` masked by `mask`, with `seed`. Allocation-free: it runs per
    /// request for source persistence.
    @inlinable
    public static func hash(_ address: ClientAddress, mask: AffinityMask, seed: UInt32) -> UInt32 {
        let bytes = address.bytes
        let count = bytes.count / 4
        let prefix = mask.prefix(for: address.family)
        var h = seed
        var i = 0
        while i < count {
            let b = i * 4
            let word = UInt32(bytes[b]) << 24 | UInt32(bytes[b + 1]) << 16 | UInt32(bytes[b + 2]) << 8 | UInt32(bytes[b + 3])
            h = step(h, word & wordMask(bits: prefix - 32 * i))
            i += 1
        }
        return finish(h, wordCount: count)
    }

    /// murmur3_32 over word values.
    @inlinable
    public static func murmur(_ words: [UInt32], seed: UInt32) -> UInt32 {
        var h = seed
        for word in words { h = step(h, word) }
        return finish(h, wordCount: words.count)
    }

    /// murmur3_32 over a single word value (same as `murmur([word], seed:)`, no array).
    @inlinable
    public static func murmur(word: UInt32, seed: UInt32) -> UInt32 {
        finish(step(seed, word), wordCount: 1)
    }

    /// The mask of one 32-bit word that holds `bits` prefix bits (clamped to 0...32).
    @inlinable
    public static func wordMask(bits: Int) -> UInt32 {
        if bits <= 0 { return 0 }
        if bits >= 32 { return ~0 }
        return ~UInt32(0) << UInt32(32 - bits)
    }

    /// `address` with every bit past the mask's prefix cleared (`192.0.2.77` /24 → `192.0.2.0`).
    public static func masked(_ address: ClientAddress, mask: AffinityMask) -> ClientAddress {
        let prefix = mask.prefix(for: address.family)
        var bytes = address.bytes
        for i in 0..<bytes.count {
            let bits = min(max(prefix - 8 * i, 0), 8)
            bytes[i] &= UInt8(truncatingIfNeeded: 0xFF00 >> bits)
        }
        return ClientAddress(bytes: bytes)!
    }

    @inlinable @inline(__always)
    static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }

    @inlinable @inline(__always)
    static func step(_ h: UInt32, _ word: UInt32) -> UInt32 {
        var k = word &* 0xcc9e_2d51
        k = rotl(k, 15)
        k = k &* 0x1b87_3593
        var h = h ^ k
        h = rotl(h, 13)
        return h &* 5 &+ 0xe654_6b64
    }

    @inlinable @inline(__always)
    static func finish(_ h: UInt32, wordCount: Int) -> UInt32 {
        var h = h ^ UInt32(truncatingIfNeeded: wordCount * 4)
        h ^= h >> 16
        h = h &* 0x85eb_ca6b
        h ^= h >> 13
        h = h &* 0xc2b2_ae35
        h ^= h >> 16
        return h
    }
}
