import ClientHello
import Foundation
import XCTest

/// Seeded mutation fuzzing: the parser must never trap, and must decide the same whether fed
/// whole, in random pieces or byte by byte.
final class FuzzTests: XCTestCase {
    /// CLIENTHELLO_FUZZ_SCALE=n multiplies the iterations for a deeper run.
    private let scale = Int(ProcessInfo.processInfo.environment["CLIENTHELLO_FUZZ_SCALE"] ?? "") ?? 1
    private var seeds: [[UInt8]] {
        var out = [HelloBuilder().bytes, ParsingTests.openSSLHello]
        var b = HelloBuilder()
        b.extensions = [Ext.serverName("a.example"), Ext.alpn(["h2"]), Ext.sessionTicket([1, 2]), Ext.preSharedKey]
        out.append(b.bytes)
        out.append(b.records([3, 40]))
        b.extensions = nil
        out.append(b.bytes)
        out.append(HelloBuilder().records([1, 1, 1, 1, 1, 60]))
        return out
    }

    private func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:  // set a byte, often to a boundary value
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = [0, 1, 0x7F, 0x80, 0xFF, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
            case 2:  // insert a byte
                let i = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
            case 3 where !bytes.isEmpty:  // delete a byte
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            case 4:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            default:  // duplicate a range
                guard !bytes.isEmpty else { break }
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                let b = Int.random(in: a...min(bytes.count, a + 16), using: &rng)
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        return bytes
    }

    private func check(_ bytes: [UInt8], _ rng: inout SplitMix64, byteByByte: Bool,
                       file: StaticString = #filePath, line: UInt = #line) -> ClientHelloResult {
        let whole = parseWhole(bytes)
        var cuts: [Int] = []
        for _ in 0..<Int.random(in: 1...6, using: &rng) { cuts.append(Int.random(in: 0...bytes.count, using: &rng)) }
        XCTAssertEqual(parseInSteps(bytes, cuts: cuts), whole, "splits \(cuts) of \(bytes)", file: file, line: line)
        if byteByByte {
            XCTAssertEqual(parseByteByByte(bytes), whole, "byte by byte of \(bytes)", file: file, line: line)
        }
        if case .complete(let info) = whole {
            XCTAssertLessThanOrEqual(info.byteCount, bytes.count, file: file, line: line)
            if let name = info.serverName {
                XCTAssertEqual(name, name.lowercased(), file: file, line: line)
                XCTAssertTrue((1...255).contains(name.utf8.count), file: file, line: line)
            }
        }
        return whole
    }

    func testMutatedHellos() {
        var rng = SplitMix64(seed: 0xED6E_5911_7C0D_E001)
        let seeds = self.seeds
        var outcomes: [String: Int] = [:]
        for i in 0..<(6000 * scale) {
            let bytes = mutate(seeds[i % seeds.count], &rng)
            let r = check(bytes, &rng, byteByByte: i % 10 == 0)
            switch r {
            case .needMore: outcomes["needMore", default: 0] += 1
            case .complete: outcomes["complete", default: 0] += 1
            case .invalid(let e): outcomes[e.reason, default: 0] += 1
            }
        }
        // The mutations reach deep into the hello, not just the record layer.
        XCTAssertGreaterThan(outcomes["complete"] ?? 0, 100, "\(outcomes)")
        XCTAssertGreaterThan(outcomes.count, 8, "\(outcomes)")
    }

    func testRandomBuffers() {
        var rng = SplitMix64(seed: 42)
        for i in 0..<(3000 * scale) {
            var bytes = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Often a plausible record and handshake header, so the body parser sees noise.
            if i % 2 == 0, bytes.count >= 9 {
                let n = bytes.count - 5
                bytes.replaceSubrange(0..<9, with: [22, 3, 1] + u16(n) + [1] + u24(max(0, n - 4 - Int.random(in: 0...4, using: &rng))))
            }
            _ = check(bytes, &rng, byteByByte: i % 10 == 0)
        }
    }

    func testRandomBodiesBehindValidHeaders() {
        // Random extension blocks behind a valid prefix exercise every extension parser.
        var rng = SplitMix64(seed: 7)
        let types = [0, 16, 35, 41, 43, 21, 0x0A0A, 51]
        for _ in 0..<(3000 * scale) {
            var b = HelloBuilder()
            var exts: [(Int, [UInt8])] = []
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let data = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                    [0, 1, 2, 3, 4, 0x61, 0x2E, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
                }
                exts.append((types.randomElement(using: &rng)!, data))
            }
            b.extensions = exts
            _ = check(b.bytes, &rng, byteByByte: false)
        }
    }
}
