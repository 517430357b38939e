import Affinity
import CEdgesplitBPF
import XCTest

final class AffinityHashTests: XCTestCase {
    /// murmur3 over word values equals MurmurHash3_x86_32 over the words' little-endian
    /// bytes, so the published test vectors apply.
    func testMurmurMatchesPublishedVectors() {
        XCTAssertEqual(AffinityHash.murmur([], seed: 0), 0)
        XCTAssertEqual(AffinityHash.murmur([], seed: 1), 0x514E_28B7)
        XCTAssertEqual(AffinityHash.murmur([0x7473_6574], seed: 0), 0xBA6B_D213)  // "test"
        XCTAssertEqual(AffinityHash.murmur([0x6161_6161], seed: 0x9747_B28C), 0x5A97_808A)  // "aaaa"
    }

    func testSingleWordMurmurEqualsArrayForm() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let w = UInt32.random(in: .min ... .max, using: &rng)
            let s = UInt32.random(in: .min ... .max, using: &rng)
            XCTAssertEqual(AffinityHash.murmur(word: w, seed: s), AffinityHash.murmur([w], seed: s))
        }
    }

    func testWordMaskEdges() {
        XCTAssertEqual(AffinityHash.wordMask(bits: -5), 0)
        XCTAssertEqual(AffinityHash.wordMask(bits: 0), 0)
        XCTAssertEqual(AffinityHash.wordMask(bits: 1), 0x8000_0000)
        XCTAssertEqual(AffinityHash.wordMask(bits: 24), 0xFFFF_FF00)
        XCTAssertEqual(AffinityHash.wordMask(bits: 31), 0xFFFF_FFFE)
        XCTAssertEqual(AffinityHash.wordMask(bits: 32), 0xFFFF_FFFF)
        XCTAssertEqual(AffinityHash.wordMask(bits: 200), 0xFFFF_FFFF)
        for bits in -40...40 {
            XCTAssertEqual(AffinityHash.wordMask(bits: bits), es_word_mask(Int32(bits)), "bits \(bits)")
        }
    }

    /// The hash equals murmur over the masked words, for every prefix length.
    func testHashIsMurmurOfMaskedWords() {
        let v4 = ClientAddress("203.0.113.77")!
        let v6 = ClientAddress("2001:db8:1234:5678:9abc:def0:1357:2468")!
        for p in 0...32 {
            let mask = AffinityMask(ipv4Prefix: p, ipv6Prefix: 128)!
            let masked = AffinityHash.masked(v4, mask: mask)
            XCTAssertEqual(AffinityHash.hash(v4, mask: mask, seed: 7), AffinityHash.murmur(masked.words, seed: 7))
            XCTAssertEqual(masked.words[0], v4.words[0] & AffinityHash.wordMask(bits: p))
        }
        for p in 0...128 {
            let mask = AffinityMask(ipv4Prefix: 32, ipv6Prefix: p)!
            let masked = AffinityHash.masked(v6, mask: mask)
            XCTAssertEqual(AffinityHash.hash(v6, mask: mask, seed: 9), AffinityHash.murmur(masked.words, seed: 9))
            for i in 0..<4 {
                XCTAssertEqual(masked.words[i], v6.words[i] & AffinityHash.wordMask(bits: p - 32 * i), "/\(p) word \(i)")
            }
        }
    }

    func testMaskedExamples() {
        let m = AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!
        XCTAssertEqual(AffinityHash.masked(ClientAddress("192.0.2.77")!, mask: m).description, "192.0.2.0")
        XCTAssertEqual(AffinityHash.masked(ClientAddress("2001:db8:1:2:3:4:5:6")!, mask: m).description, "2001:db8:1:2::")
        let odd = AffinityMask(ipv4Prefix: 13, ipv6Prefix: 9)!
        XCTAssertEqual(AffinityHash.masked(ClientAddress("255.255.255.255")!, mask: odd).description, "255.248.0.0")
        XCTAssertEqual(AffinityHash.masked(ClientAddress("ffff::1")!, mask: odd).description, "ff80::")
    }

    func testSamePrefixSameHashDifferentPrefixMostlyDifferent() {
        let m = AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!
        let base = AffinityHash.hash(ClientAddress("198.51.100.1")!, mask: m, seed: 42)
        for host in 0...255 {
            XCTAssertEqual(AffinityHash.hash(ClientAddress("198.51.100.\(host)")!, mask: m, seed: 42), base)
        }
        let v6base = AffinityHash.hash(ClientAddress("2001:db8:aa:bb::1")!, mask: m, seed: 42)
        XCTAssertEqual(AffinityHash.hash(ClientAddress("2001:db8:aa:bb:ffff:1:2:3")!, mask: m, seed: 42), v6base)
        XCTAssertNotEqual(AffinityHash.hash(ClientAddress("2001:db8:aa:bc::1")!, mask: m, seed: 42), v6base)
        var distinct = Set<UInt32>()
        for net in 0..<256 { distinct.insert(AffinityHash.hash(ClientAddress("10.0.\(net).1")!, mask: m, seed: 42)) }
        XCTAssertEqual(distinct.count, 256)
    }

    /// IPv4-mapped IPv6 (a v4 client on a dual-stack listener) hashes as the IPv4 client.
    func testMappedAddressHashesAsIPv4() {
        let m = AffinityMask.host
        XCTAssertEqual(
            AffinityHash.hash(ClientAddress("::ffff:192.0.2.7")!, mask: m, seed: 3),
            AffinityHash.hash(ClientAddress("192.0.2.7")!, mask: m, seed: 3))
    }

    /// Bit for bit the same as the C function compiled into the BPF program (BPF/es_hash.h).
    func testSwiftHashEqualsBPFHeaderHash() {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<5000 {
            let isV6 = i % 2 == 1
            let bytes = (0..<(isV6 ? 16 : 4)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            guard let address = ClientAddress(bytes: bytes), address.bytes.count == bytes.count else { continue }
            let mask = AffinityMask(ipv4Prefix: Int.random(in: 0...32, using: &rng), ipv6Prefix: Int.random(in: 0...128, using: &rng))!
            let seed = i % 7 == 0 ? 0 : UInt32.random(in: .min ... .max, using: &rng)
            var words = address.words + [UInt32](repeating: 0, count: 4 - address.words.count)
            let prefix = UInt32(mask.prefix(for: address.family))
            let c = es_affinity_hash(&words, UInt32(address.words.count), prefix, seed)
            XCTAssertEqual(AffinityHash.hash(address, mask: mask, seed: seed), c, "\(address) \(mask) seed \(seed)")
            XCTAssertEqual(AffinityHash.murmur(address.words, seed: seed), es_murmur_words(&words, UInt32(address.words.count), seed))
        }
    }

    func testMaskValidation() {
        XCTAssertNil(AffinityMask(ipv4Prefix: 33, ipv6Prefix: 64))
        XCTAssertNil(AffinityMask(ipv4Prefix: -1, ipv6Prefix: 64))
        XCTAssertNil(AffinityMask(ipv4Prefix: 24, ipv6Prefix: 129))
        XCTAssertEqual(AffinityMask(ipv4Prefix: 32, ipv6Prefix: 128), .host)
        XCTAssertEqual(AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!.description, "/24,/64")
    }
}
