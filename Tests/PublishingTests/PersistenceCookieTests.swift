import Publishing
import XCTest

final class PersistenceCookieTests: XCTestCase {
    func testSipHashReferenceVector() {
        // The reference vector of the SipHash paper (appendix A): key 00..0f, message 00..0e.
        var k0: UInt64 = 0
        var k1: UInt64 = 0
        for i in 0..<8 { k0 |= UInt64(i) << (8 * UInt64(i)) }
        for i in 0..<8 { k1 |= UInt64(i + 8) << (8 * UInt64(i)) }
        let mac = SipHash(k0: k0, k1: k1)
        XCTAssertEqual(mac.hash((0..<15).map { UInt8($0) }), 0xa129_ca61_49be_45e5)
        XCTAssertEqual(mac.hash([UInt8]()), 0x726f_db47_dd0e_0e31)
    }

    private func farm(key: String? = nil, name: String = "pool") -> Farm {
        let p = SourcePosition(file: "t", line: 1, column: 1)
        return Farm(
            name: name,
            members: [
                FarmMember(host: "10.0.0.11", port: 4443, text: "10.0.0.11:4443", position: p),
                FarmMember(host: "fe2.contoso.local", port: 4443, text: "fe2.contoso.local:4443", position: p),
            ],
            persistence: .cookie,
            cookieKey: key,
            position: p
        )
    }

    func testTokensAreOpaqueStableAndKeyed() {
        let a = PersistenceCookie(farm: farm(), seed: 7)
        let b = PersistenceCookie(farm: farm(), seed: 7)
        XCTAssertEqual(a.tokens, b.tokens, "two edge hosts with one configuration issue the same tokens")
        XCTAssertNotEqual(a.tokens[0], a.tokens[1])
        XCTAssertEqual(a.tokens[0].count, 16)
        XCTAssertFalse(a.tokens[0].contains("10.0"))
        XCTAssertNotEqual(PersistenceCookie(farm: farm(), seed: 8).tokens, a.tokens)
        XCTAssertNotEqual(PersistenceCookie(farm: farm(key: "a-long-enough-secret"), seed: 7).tokens, a.tokens)
        XCTAssertNotEqual(PersistenceCookie(farm: farm(name: "other"), seed: 7).tokens, a.tokens)
    }

    func testSetCookieIsExactlyWhatMSWSMANNeeds() {
        let cookie = PersistenceCookie(farm: farm(), seed: 1)
        XCTAssertEqual(cookie.setCookie(member: 1), "MS-WSMAN=\(cookie.tokens[1]); Path=/; Secure")
        XCTAssertFalse(cookie.setCookie(member: 0).lowercased().contains("httponly"))
        XCTAssertFalse(cookie.setCookie(member: 0).lowercased().contains("expires"))
        XCTAssertFalse(cookie.setCookie(member: 0).lowercased().contains("max-age"))
    }

    func testFindsTheCookieAmongOthersAndIgnoresBadTokens() {
        let cookie = PersistenceCookie(farm: farm(), seed: 1)
        let t1 = cookie.tokens[1]
        func member(_ header: String) -> Int? { cookie.member(inCookieHeader: Array(header.utf8)) }
        XCTAssertEqual(member("MS-WSMAN=\(t1)"), 1)
        XCTAssertEqual(member("a=b; MS-WSMAN=\(t1); c=d"), 1)
        XCTAssertEqual(member("a=b;MS-WSMAN=\"\(t1)\""), 1)
        XCTAssertEqual(member("ms-wsman=\(t1)"), nil, "cookie names are case-sensitive")
        XCTAssertEqual(member("MS-WSMAN=\(t1)x"), nil)
        XCTAssertEqual(member("MS-WSMAN=0000000000000000"), nil)
        XCTAssertEqual(member("MS-WSMAN="), nil)
        XCTAssertEqual(member(";;; =;=; MS-WSMAN"), nil)
        XCTAssertEqual(member("X-MS-WSMAN=\(t1)"), nil)
        XCTAssertEqual(cookie.member(inCookieHeaders: [Array("a=b".utf8), Array("MS-WSMAN=\(cookie.tokens[0])".utf8)]), 0)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let junk = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = cookie.member(inCookieHeader: junk)
        }
    }
}
