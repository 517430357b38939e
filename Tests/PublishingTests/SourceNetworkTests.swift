import Affinity
import Publishing
import XCTest

final class SourceNetworkTests: XCTestCase {
    func address(_ s: String) throws -> ClientAddress { try XCTUnwrap(ClientAddress(s), s) }

    func testContainsTable() throws {
        let table: [(network: String, client: String, contains: Bool)] = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),  // mapped client folds to IPv4
            ("10.0.0.0/8", "2001:db8::1", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("::/0", "2001:db8::1", true),
            ("::/0", "203.0.113.9", false),
            ("::/0", "::ffff:203.0.113.9", false),  // folded: it is an IPv4 client
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7/32", "192.0.2.8", false),
            ("192.0.2.0/25", "192.0.2.127", true),
            ("192.0.2.0/25", "192.0.2.128", false),
            ("192.0.2.128/25", "192.0.2.128", true),
            ("172.16.0.0/12", "172.31.255.255", true),
            ("172.16.0.0/12", "172.32.0.0", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::1/128", "2001:db8::1", true),
            ("2001:db8::1/128", "2001:db8::2", false),
            ("2001:db8::1", "2001:db8::1", true),
            ("2001:db8::/63", "2001:db8:0:1::5", true),
            ("2001:db8:0:2::/63", "2001:db8:0:3::5", true),
            ("2001:db8:0:2::/63", "2001:db8:0:4::5", false),
            ("::ffff:10.0.0.0/104", "10.9.9.9", true),
            ("::ffff:10.0.0.0/104", "11.9.9.9", false),
        ]
        for row in table {
            let network = try XCTUnwrap(SourceNetwork(row.network), row.network)
            XCTAssertEqual(network.contains(try address(row.client)), row.contains, "\(row.network) ∋ \(row.client)")
        }
    }

    func testParseAndDescribe() throws {
        XCTAssertEqual(SourceNetwork("10.0.0.0/8")?.description, "10.0.0.0/8")
        XCTAssertEqual(SourceNetwork("192.0.2.7")?.description, "192.0.2.7/32")
        XCTAssertEqual(SourceNetwork("2001:db8::/32")?.description, "2001:db8::/32")
        XCTAssertEqual(SourceNetwork("::ffff:10.0.0.0/104")?.description, "10.0.0.0/8")
        XCTAssertEqual(SourceNetwork("::ffff:10.0.0.0/104")?.family, .ipv4)
        XCTAssertEqual(SourceNetwork("::/0"), SourceNetwork.anyIPv6)
        XCTAssertEqual(SourceNetwork("0.0.0.0/0"), SourceNetwork.anyIPv4)
    }

    func testParseErrors() {
        func message(_ s: String) -> String? {
            do { _ = try SourceNetwork.parse(s); return nil } catch { return error.message }
        }
        XCTAssertEqual(message("10.1.2.3/8"), "'10.1.2.3/8' has host bits set (did you mean 10.0.0.0/8?)")
        XCTAssertEqual(message("192.168.1.1/24"), "'192.168.1.1/24' has host bits set (did you mean 192.168.1.0/24?)")
        XCTAssertEqual(message("2001:db8::1/64"), "'2001:db8::1/64' has host bits set (did you mean 2001:db8::/64?)")
        XCTAssertEqual(message("10.0.0.0/33"), "'10.0.0.0/33': expected a prefix length 0...32 after '/'")
        XCTAssertEqual(message("::/129"), "'::/129': expected a prefix length 0...128 after '/'")
        XCTAssertEqual(message("10.0.0.0/"), "'10.0.0.0/': expected a prefix length 0...32 after '/'")
        XCTAssertEqual(message("10.0.0.0/-1"), "'10.0.0.0/-1': expected a prefix length 0...32 after '/'")
        XCTAssertEqual(message("::ffff:10.0.0.0/80"), "'::ffff:10.0.0.0/80': an IPv4-mapped network needs a prefix of at least 96")
        XCTAssertEqual(message("[::1]/128"), "expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got '[::1]/128'")
        XCTAssertEqual(message("10.0.0/8"), "expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got '10.0.0/8'")
        XCTAssertEqual(message(""), "expected a network like 10.0.0.0/8, 2001:db8::/32 or an address, got ''")
    }

    func testCovers() throws {
        func n(_ s: String) throws -> SourceNetwork { try XCTUnwrap(SourceNetwork(s)) }
        XCTAssertTrue(try n("10.0.0.0/8").covers(n("10.1.0.0/16")))
        XCTAssertTrue(try n("10.0.0.0/8").covers(n("10.0.0.0/8")))
        XCTAssertFalse(try n("10.1.0.0/16").covers(n("10.0.0.0/8")))
        XCTAssertFalse(try n("10.0.0.0/8").covers(n("11.0.0.0/16")))
        XCTAssertFalse(try n("0.0.0.0/0").covers(n("::/0")))
        XCTAssertTrue(try n("::/0").covers(n("2001:db8::/32")))
    }
}
