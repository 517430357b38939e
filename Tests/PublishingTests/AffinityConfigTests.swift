import Affinity
import Publishing
import XCTest

/// `affinity.balance_factor`: absent is pure affinity; a decimal with up to three places
/// from 1 to 100 turns bounded loads on; anything else is refused with its position.
final class AffinityConfigTests: XCTestCase {
    func testBalanceFactor() throws {
        XCTAssertNil(try loadValid(minimalYAML).affinity.balance)
        XCTAssertNil(try loadValid(minimalYAML + "\naffinity: { balance_factor: null }\n").affinity.balance)
        let config = try loadValid(minimalYAML + "\naffinity: { ipv4_prefix: 24, balance_factor: 1.25 }\n")
        XCTAssertEqual(config.affinity.balance?.milli, 1250)
        XCTAssertEqual(config.affinity.ipv4Prefix, 24)
        XCTAssertEqual(try loadValid(minimalYAML + "\naffinity: { balance_factor: 3 }\n").affinity.balance?.milli, 3000)
        for bad in ["0.99", "1.2345", "200", "fast", "[1.5]"] {
            let messages = load(minimalYAML + "\naffinity: { balance_factor: \(bad) }\n").diagnostics.map(\.description)
            XCTAssertEqual(messages.count, 1, "\(bad): \(messages)")
            XCTAssertTrue(messages.first?.contains("affinity.balance_factor: expected a number 1...100 with at most three decimals (for example 1.25), got") == true, "\(bad): \(messages)")
        }
    }
}
