import Affinity
import Publishing
import XCTest

/// Rules decide by the path the member will see: a deny rule for `/admin/*` cannot be
/// passed by writing `/admin` another way.
final class NormalisedPathRuleTests: XCTestCase {
    static let yaml = """
    listeners:
      - { name: https, address: 0.0.0.0, port: 443 }
      - { name: owa, address: 0.0.0.0, port: 8443 }
    farms:
      - { name: pool01, members: ["10.0.0.11:4443"] }
    rules:
      - { name: no-admin, listeners: [https], public_names: [webext.contoso.com], paths: ["/admin/*"], action: deny }
      - { name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool01 }
      - { name: upload, listeners: [https], public_names: [pool.contoso.com], paths: ["/DataCollabWeb/*"], farm: pool01, max_body: 1MiB }
      - { name: pool, listeners: [https], public_names: [pool.contoso.com], farm: pool01 }
      - { name: owas, listeners: [owa], public_names: [owas.contoso.com], farm: pool01 }
    """

    var table: RuleTable!
    let client = ClientAddress("203.0.113.9")!

    override func setUpWithError() throws {
        table = RuleTable(config: try loadValid(Self.yaml))
    }

    func decide(_ listener: Int, _ host: String, _ path: String) -> Result<RuleDecision, PathNormalizer.Refusal> {
        let host = bytes(host)
        return host.withUnsafeBufferPointer { h in
            bytes(path).withUnsafeBufferPointer { table.decide(listener: listener, host: h, requestPath: $0, client: client) }
        }
    }

    func testBypassesOfADenyRuleAreDeniedOrRefused() {
        let denied = Result<RuleDecision, PathNormalizer.Refusal>.success(.deny(ruleIndex: 0))
        for path in ["/admin/x", "/%61dmin/x", "/x/../admin/x", "/./admin/x", "//admin/x", "/admin\\x", "/admin;x/y", "/ADMIN./x", "/%2e%2e/admin/x"] {
            XCTAssertEqual(decide(0, "webext.contoso.com", path), denied, path)
        }
        XCTAssertEqual(decide(0, "webext.contoso.com", "/admin%2fx"), .failure(.ambiguous(.encodedSeparatorsInName)))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/admin%5Cx"), .failure(.ambiguous(.encodedSeparatorsInName)))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/x%2f..%2fadmin/y"), .failure(.ambiguous(.encodedSeparatorsInName)))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/%2561dmin/x"), .failure(.ambiguous(.decodedTwice)))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/admin/..;x/y"), .failure(.ambiguous(.dotParametersAsName)))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/a%zz"), .failure(.invalidPercentEncoding))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/a%00"), .failure(.controlByte))
    }

    func testAPathReadTheSameByEveryRuleIsDecided() {
        let webext = Result<RuleDecision, PathNormalizer.Refusal>.success(.forward(ruleIndex: 1, farmIndex: 0))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/meet/x%2Fy"), webext)
        XCTAssertEqual(decide(0, "webext.contoso.com", "/administrator%2Fx"), webext)
        XCTAssertEqual(decide(0, "webext.contoso.com", "/meet/%252F"), webext)
        // A narrower rule for the same host: the address book's %2F is outside it either way.
        let pool = Result<RuleDecision, PathNormalizer.Refusal>.success(.forward(ruleIndex: 3, farmIndex: 0))
        XCTAssertEqual(decide(0, "pool.contoso.com", "/CollabContent/Dynamic/8f3a%2Fc1/x.pptx"), pool)
        XCTAssertEqual(decide(0, "pool.contoso.com", "/DataCollabWeb%2Fx"), .failure(.ambiguous(.encodedSeparatorsInName)))
        // Only /* rules on the listener: nothing to read two ways.
        let owas = Result<RuleDecision, PathNormalizer.Refusal>.success(.forward(ruleIndex: 4, farmIndex: 0))
        XCTAssertEqual(decide(1, "owas.contoso.com", "/x%2f..%2fadmin%252F/..;x"), owas)
        XCTAssertEqual(decide(1, "owas.contoso.com", "/x%00"), .failure(.controlByte))
    }

    func testMatchingPathIsWhatTestRuleShows() {
        func path(_ raw: String) -> String? {
            try? table.matchingPath(listener: 0, host: bytes("webext.contoso.com"), requestPath: bytes(raw), client: client)
                .map { String(decoding: $0, as: UTF8.self) }.get()
        }
        XCTAssertEqual(path("/x/../%61dmin;x/y"), "/admin/y")
        XCTAssertEqual(path("/meet/x%2Fy"), "/meet/x/y")
        XCTAssertNil(path("/admin%2Fx"))
    }

    func testPatternsAreDecodedAndMustBeNormal() throws {
        XCTAssertTrue(try XCTUnwrap(PathPattern("/caf%C3%A9/*")).matches(bytes("/café/x")))
        XCTAssertTrue(try XCTUnwrap(PathPattern("/a%20b")).matches(bytes("/A b")))
        for text in ["/a/../b/*", "/a;x/*", "//a", "/a%2Fb", "/a\\b", "/a./*", "/a%zz", "/a%00", "/a/./b"] {
            XCTAssertNil(PathPattern(text), text)
        }
    }
}
