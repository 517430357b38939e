import Publishing
import XCTest

final class ShadowingTests: XCTestCase {
    func rules(_ body: String) -> ConfigLoadResult {
        load("""
        listeners:
          - { name: https, address: 0.0.0.0, port: 443 }
          - { name: http, address: 0.0.0.0, port: 80 }
        farms:
          - { name: pool01, members: ["10.0.0.11:4443"] }
        rules:
        \(body)
        """)
    }

    func testTrueShadowIsAnErrorNamingBothRules() {
        let result = rules("""
          - { name: all, public_names: ["*.contoso.com"], farm: pool01 }
          - { name: meet, listeners: [https], public_names: [meet.contoso.com], paths: ["/meet"], farm: pool01 }
        """)
        XCTAssertNil(result.config)
        XCTAssertEqual(result.diagnostics.map(\.description), [
            "edgesplit.yaml:8:5: error: rules[1]: rule 'meet' at edgesplit.yaml:8:5 is shadowed by rule 'all' at edgesplit.yaml:7:5: every request it could match is taken by 'all' first; move it above 'all' or narrow 'all'",
        ])
    }

    func testPrefixAndCaseShadowing() {
        let result = rules("""
          - { name: webext, public_names: [webext.contoso.com], paths: ["/abs/*"], farm: pool01 }
          - { name: abs, public_names: [WEBEXT.contoso.com], paths: ["/ABS/handler/*", "/abs"], farm: pool01 }
        """)
        XCTAssertEqual(result.errors.count, 1)
        XCTAssertTrue(result.errors[0].message.hasPrefix("rules[1]: rule 'abs' at edgesplit.yaml:8:5 is shadowed by rule 'webext'"))
    }

    func testDenyRulesShadowToo() {
        let result = rules("""
          - { name: block, public_names: [admin.contoso.com], action: deny }
          - { name: admin, public_names: [admin.contoso.com], paths: ["/x/*"], farm: pool01 }
        """)
        XCTAssertEqual(result.errors.map(\.position.line), [8])
    }

    func testPartialOverlapIsFine() {
        // Each later rule still has requests of its own (a new name, a new path, another folder).
        let result = rules("""
          - { name: webext, public_names: [webext.contoso.com], paths: ["/abs/*"], farm: pool01 }
          - { name: partial, public_names: [webext.contoso.com, new.contoso.com], paths: ["/abs/*"], farm: pool01 }
          - { name: paths, public_names: [webext.contoso.com], paths: ["/abs/*", "/meet"], farm: pool01 }
          - { name: prefix, public_names: [webext.contoso.com], paths: ["/absx"], farm: pool01 }
          - { name: wild, public_names: ["*.contoso.com"], farm: pool01 }
          - { name: apex, public_names: [contoso.com], farm: pool01 }
        """)
        XCTAssertEqual(result.diagnostics.map(\.description), [])
        XCTAssertNotNil(result.config)
    }

    func testDifferentListenersAreFine() throws {
        let result = rules("""
          - { name: https-only, listeners: [https], public_names: [lyncdiscover.contoso.com], farm: pool01 }
          - { name: http-too, public_names: [lyncdiscover.contoso.com], farm: pool01 }
          - { name: http-only, listeners: [http], public_names: [lyncdiscover.contoso.com], farm: pool01 }
        """)
        // http-too covers both listeners so it is reachable on http; http-only is then shadowed by http-too.
        XCTAssertEqual(result.errors.count, 1)
        XCTAssertTrue(result.errors[0].message.contains("rule 'http-only' at edgesplit.yaml:9:5 is shadowed by rule 'http-too' at edgesplit.yaml:8:5"))
    }

    func testEarlierNarrowerSourceNetworksIsNotAnErrorButWarns() {
        let result = rules("""
          - { name: internal, public_names: [x.contoso.com], source_networks: [10.0.0.0/8], farm: pool01 }
          - { name: external, public_names: [x.contoso.com], farm: pool01 }
        """)
        XCTAssertNotNil(result.config)
        XCTAssertEqual(result.diagnostics.map(\.description), [
            "edgesplit.yaml:8:5: warning: rules[1]: rule 'external' at edgesplit.yaml:8:5 is never reached: rule 'internal' at edgesplit.yaml:7:5 matches the same listeners, names and paths first and answers clients outside its source_networks with 403 (rules do not fall through on source); move 'external' above 'internal'",
        ])
    }

    func testLaterNarrowerSourceNetworksIsShadowed() {
        let result = rules("""
          - { name: everyone, public_names: [x.contoso.com], farm: pool01 }
          - { name: lab, public_names: [x.contoso.com], source_networks: ["10.1.0.0/16", "2001:db8::/48"], farm: pool01 }
        """)
        XCTAssertEqual(result.errors.count, 1)
        XCTAssertTrue(result.errors[0].message.contains("rule 'lab' at edgesplit.yaml:8:5 is shadowed by rule 'everyone'"))
    }
}
