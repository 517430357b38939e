import HTTP1
import XCTest

/// SplitMix64: small, seeded, reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random mutations of valid messages: the parser and framer must never crash, must give the
/// same verdict for any split, and whatever they accept must be well-formed.
final class FuzzTests: XCTestCase {
    private static let interesting: [UInt8] = Array(" \t\r\n:;,\"\\/?%#@*0129afAFxX-+=".utf8) + [0x00, 0x7F, 0x80, 0xFF, 0x0B]

    private func mutate(_ input: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var out = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = out.isEmpty ? 0 : Int.random(in: 0..<out.count, using: &rng)
            let byte = Bool.random(using: &rng) ? Self.interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !out.isEmpty: out[position] = byte
            case 1: out.insert(byte, at: position)
            case 2 where !out.isEmpty: out.remove(at: position)
            case 3 where !out.isEmpty:
                let end = min(out.count, position + Int.random(in: 1...8, using: &rng))
                out.insert(contentsOf: Array(out[position..<end]), at: position)
            default:
                if !out.isEmpty { out.swapAt(position, Int.random(in: 0..<out.count, using: &rng)) }
            }
        }
        return out
    }

    func testMutatedRequestsNeverCrash() {
        var rng = SeededRNG(seed: 0xED6E_5B11)
        let corpus = IncrementalTests.requests
        var accepted = 0
        var rejected = 0
        for _ in 0..<3000 {
            let input = mutate(corpus.randomElement(using: &rng)!, &rng)
            let (whole, consumed) = feed(input)
            let chunk = Int.random(in: 1...9, using: &rng)
            let (split, splitConsumed) = feed(input, chunk: chunk)
            assertSameResult(split, whole, "chunk \(chunk) for \(input)")
            switch whole {
            case .request(let head, _):
                accepted += 1
                XCTAssertEqual(splitConsumed, consumed)
                XCTAssertLessThanOrEqual(consumed, input.count)
                XCTAssertEqual(Array(input[(consumed - head.rawBytes.count)..<consumed]), head.rawBytes)
                // What was accepted forwards into something that parses the same way.
                var out: [UInt8] = []
                head.writeForwarded(into: &out, edits: ForwardingEdits(forwardedFor: bytes("192.0.2.1"), keepUpgrade: true))
                guard case .request(let again, _) = feed(out).0 else { return XCTFail("forwarded head does not parse: \(text(out))") }
                assertSameResource(again, head)
                XCTAssertEqual(again.framing, head.framing)
            case .failure(let error):
                rejected += 1
                XCTAssertTrue([400, 405, 414, 431, 501, 505].contains(error.status), "\(error)")
            case .needMore(let c):
                XCTAssertEqual(c, input.count)
            case .response:
                XCTFail("response from a request parser")
            }
        }
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(rejected, 100)
    }

    func testMutatedResponsesNeverCrash() {
        var rng = SeededRNG(seed: 0x5E7C_00C1)
        for _ in 0..<2000 {
            let input = mutate(IncrementalTests.responses.randomElement(using: &rng)!, &rng)
            let (whole, _) = feed(input, kind: .response)
            let (split, _) = feed(input, kind: .response, chunk: Int.random(in: 1...9, using: &rng))
            assertSameResult(split, whole)
            if case .response(let head, _) = whole {
                var out: [UInt8] = []
                head.writeForwarded(into: &out, extraHeaders: [], close: Bool.random(using: &rng), keepUpgrade: true)
                guard case .response(let again, _) = feed(out, kind: .response).0 else { return XCTFail("forwarded head does not parse: \(text(out))") }
                XCTAssertEqual(again.status, head.status)
                XCTAssertEqual(again.framing(requestMethod: bytes("GET")), head.framing(requestMethod: bytes("GET")))
            }
        }
    }

    func testMutatedChunkedBodiesNeverCrash() {
        var rng = SeededRNG(seed: 0xC40C_4ED)
        let corpus = [
            bytes("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            bytes("3;a=b;c=\"d\"\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
            bytes("a\r\n0123456789\r\n0\r\n\r\n"),
        ]
        for _ in 0..<3000 {
            let input = mutate(corpus.randomElement(using: &rng)!, &rng)
            var wholeOutcome: String
            do {
                let r = try frame(.chunked, input)
                XCTAssertLessThanOrEqual(r.consumed, input.count)
                XCTAssertLessThanOrEqual(r.payload.count, r.consumed)
                wholeOutcome = "\(r.consumed) \(r.complete) \(r.payload)"
            } catch {
                wholeOutcome = "\(error)"
            }
            var splitOutcome: String
            do {
                let r = try frame(.chunked, input, chunk: Int.random(in: 1...7, using: &rng))
                splitOutcome = "\(r.consumed) \(r.complete) \(r.payload)"
            } catch {
                splitOutcome = "\(error)"
            }
            XCTAssertEqual(splitOutcome, wholeOutcome, "\(input)")
        }
    }
}
