import Affinity
import Publishing
import XCTest

final class RuleTableTests: XCTestCase {
    static let yaml = """
    listeners:
      - { name: https, address: 0.0.0.0, port: 443 }
      - { name: http, address: 0.0.0.0, port: 80 }
    farms:
      - { name: pool01, members: ["10.0.0.11:4443"] }
      - { name: owas, members: ["10.0.0.21:443"] }
      - { name: pool01-http, members: ["10.0.0.11:8080"] }
    rules:
      - { name: discover-http, listeners: [http], public_names: [lyncdiscover.contoso.com], farm: pool01-http }
      - { name: block-admin, public_names: [admin.contoso.com], action: deny }
      - { name: lab, listeners: [https], public_names: [lab.contoso.com], source_networks: [10.0.0.0/8, "2001:db8::/32"], farm: pool01 }
      - { name: abs, listeners: [https], public_names: [webext.contoso.com], paths: ["/abs/*"], farm: pool01, max_body: 1MiB }
      - { name: no-upload, listeners: [https], public_names: [webext.contoso.com], paths: ["/DataCollabWeb/*"], action: deny }
      - { name: webext, listeners: [https], public_names: [webext.contoso.com, "*.contoso.com", "[2001:db8::10]", 192.0.2.10], farm: pool01 }
      - { name: owas, listeners: [https], public_names: [officewebapps01.contoso.net], paths: ["/hosting/discovery", "/m/*"], farm: owas }
    """

    var config: EdgesplitConfig!
    var table: RuleTable!
    let external = ClientAddress("203.0.113.9")!
    let internalClient = ClientAddress("10.1.2.3")!

    override func setUpWithError() throws {
        config = try loadValid(Self.yaml)
        table = RuleTable(config: config)
    }

    func decide(_ listener: Int, _ host: String?, _ path: String, from client: ClientAddress? = nil) -> RuleDecision {
        table.decide(listener: listener, host: host.map(bytes), path: bytes(path), client: client ?? external)
    }

    func testForwardsByHostAndPath() {
        XCTAssertEqual(decide(0, "webext.contoso.com", "/abs/handler/x"), .forward(ruleIndex: 3, farmIndex: 0))
        XCTAssertEqual(decide(0, "WEBEXT.contoso.com:443", "/ABS"), .forward(ruleIndex: 3, farmIndex: 0))
        XCTAssertEqual(decide(0, "webext.contoso.com.", "/absx"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "webext.contoso.com", "/ucwa/v1/applications"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "meet.contoso.com", "/"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "officewebapps01.contoso.net", "/m/Presenter.aspx"), .forward(ruleIndex: 6, farmIndex: 1))
        XCTAssertEqual(decide(1, "lyncdiscover.contoso.com", "/"), .forward(ruleIndex: 0, farmIndex: 2))
    }

    func testAddressLiteralHosts() {
        XCTAssertEqual(decide(0, "[2001:DB8:0::10]:443", "/"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "[2001:db8::10]", "/"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "192.0.2.10:443", "/"), .forward(ruleIndex: 5, farmIndex: 0))
        XCTAssertEqual(decide(0, "[2001:db8::11]", "/"), .noMatch)
    }

    func testFirstMatchWins() {
        // webext.contoso.com also matches "*.contoso.com" and the later webext rule; /abs goes to rule 3 first.
        XCTAssertEqual(decide(0, "webext.contoso.com", "/abs"), .forward(ruleIndex: 3, farmIndex: 0))
        // The deny rule for uploads comes before the catch-all webext rule.
        XCTAssertEqual(decide(0, "webext.contoso.com", "/datacollabweb/ext/handler"), .deny(ruleIndex: 4))
        // admin.contoso.com is denied on every listener, before *.contoso.com could forward it.
        XCTAssertEqual(decide(0, "admin.contoso.com", "/cscp"), .deny(ruleIndex: 1))
        XCTAssertEqual(decide(1, "admin.contoso.com", "/"), .deny(ruleIndex: 1))
    }

    func testSourceNotAllowedDoesNotFallThrough() {
        // lab.contoso.com also matches *.contoso.com in a later rule, but the lab rule decides: 403.
        XCTAssertEqual(decide(0, "lab.contoso.com", "/", from: external), .sourceNotAllowed(ruleIndex: 2))
        XCTAssertEqual(decide(0, "lab.contoso.com", "/", from: internalClient), .forward(ruleIndex: 2, farmIndex: 0))
        XCTAssertEqual(decide(0, "lab.contoso.com", "/", from: ClientAddress("::ffff:10.9.9.9")!), .forward(ruleIndex: 2, farmIndex: 0))
        XCTAssertEqual(decide(0, "lab.contoso.com", "/", from: ClientAddress("2001:db8::5")!), .forward(ruleIndex: 2, farmIndex: 0))
        XCTAssertEqual(decide(0, "lab.contoso.com", "/", from: ClientAddress("2001:db9::5")!), .sourceNotAllowed(ruleIndex: 2))
    }

    func testNoMatch() {
        XCTAssertEqual(decide(1, "webext.contoso.com", "/"), .noMatch, "webext is not published on http")
        XCTAssertEqual(decide(0, "contoso.com", "/"), .noMatch)
        XCTAssertEqual(decide(0, "officewebapps01.contoso.net", "/hosting/discovery/x"), .noMatch)
        XCTAssertEqual(decide(0, nil, "/"), .noMatch, "no Host header")
        XCTAssertEqual(decide(0, "webext.contoso.com:abc", "/"), .noMatch, "invalid Host")
        XCTAssertEqual(decide(0, "webext contoso.com", "/"), .noMatch)
        XCTAssertEqual(decide(7, "webext.contoso.com", "/"), .noMatch, "unknown listener index")
        XCTAssertEqual(decide(-1, "webext.contoso.com", "/"), .noMatch)
    }

    func testAcceptsAnyByteCollections() {
        let host: ArraySlice<UInt8> = bytes("xwebext.contoso.com")[1...]
        XCTAssertEqual(table.decide(listener: 0, host: host, path: "/abs".utf8, client: external), .forward(ruleIndex: 3, farmIndex: 0))
        XCTAssertEqual(table.decide(listener: 0, host: "webext.contoso.com".utf8, path: "/".utf8, client: external), .forward(ruleIndex: 5, farmIndex: 0))
        let raw = bytes("webext.contoso.com")
        let decision = raw.withUnsafeBytes { table.decide(listener: 0, host: $0, path: bytes("/meet"), client: external) }
        XCTAssertEqual(decision, .forward(ruleIndex: 5, farmIndex: 0))
    }

    func testDefaultListenersMeansAll() throws {
        let config = try loadValid(minimalYAML)
        let table = RuleTable(config: config)
        XCTAssertEqual(table.decide(listener: 0, host: bytes("webext.contoso.com"), path: bytes("/"), client: external), .forward(ruleIndex: 0, farmIndex: 0))
    }
}
