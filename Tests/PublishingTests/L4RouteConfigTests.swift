import Affinity
import Publishing
import XCTest

/// `l4_routes` on a listener: reading, the checks that point at the line to fix, matching by
/// SNI, and the `test-rule` simulation of a passed-through name.
final class L4RouteConfigTests: XCTestCase {
    private func yaml(routes: String, farmExtra: String = "", tls: Bool = true) -> String {
        """
        listeners:
          - name: https
            address: 0.0.0.0
            port: 443
        \(tls ? "    tls: { certificates: [{ cert: a.pem, key: a.key }] }" : "")
            l4_routes: \(routes)
        farms:
          - { name: sip, members: ["10.0.0.21:443", "10.0.0.22:443"]\(farmExtra) }
          - { name: web, members: ["10.0.0.11:4443"] }
        rules:
          - { name: web, public_names: [webext.contoso.com], farm: web }
        """
    }

    func testRoutesAreReadInOrderWithProxyProtocol() throws {
        let config = try loadValid(yaml(routes: """
            [{ name: sip, public_names: [sip.contoso.com, "*.pass.contoso.com"], farm: sip, proxy_protocol: v2 },
                         { name: other, public_names: [other.contoso.com], farm: sip }]
            """))
        let listener = config.listeners[0]
        XCTAssertEqual(listener.l4Routes.map(\.name), ["sip", "other"])
        XCTAssertEqual(listener.l4Routes[0].proxyProtocol, .v2)
        XCTAssertNil(listener.l4Routes[1].proxyProtocol)
        XCTAssertEqual(listener.l4Route(forServerName: "sip.contoso.com"), 0)
        XCTAssertEqual(listener.l4Route(forServerName: "a.pass.contoso.com"), 0)
        XCTAssertEqual(listener.l4Route(forServerName: "other.contoso.com"), 1)
        XCTAssertNil(listener.l4Route(forServerName: "webext.contoso.com"), "continues as L7")
        XCTAssertNil(listener.l4Route(forServerName: nil), "no SNI continues as L7")
        XCTAssertEqual(config.l4Routes.map(\.name), ["sip", "other"])
        XCTAssertEqual(config.l4RouteIndex(listener: 0, route: 1), 1)
    }

    /// SNI picks the route, Host the rule: a name in both reaches two farms depending on what
    /// the client sends, so `check` warns at the route.
    func testNameAlsoMatchedByARuleOnTheListenerIsAWarning() throws {
        let exact = load(yaml(routes: "[{ name: sip, public_names: [webext.contoso.com], farm: sip }]"))
        XCTAssertNotNil(exact.config, "a warning only")
        XCTAssertEqual(exact.diagnostics.filter { $0.severity == .warning }.map(\.description), [
            "edgesplit.yaml:6:17: warning: listeners[0].l4_routes[0]: 'webext.contoso.com' of L4 route 'sip' is also matched by 'webext.contoso.com' of rule 'web' at edgesplit.yaml:11:5 on listener 'https': a client whose SNI is that name is passed through to farm 'sip', but one that sends another SNI (or none) with that Host reaches farm 'web' through the rule (SNI and Host can differ); publish the name one way, or deny it in a rule above 'web'",
        ])
        let wildcard = load(yaml(routes: "[{ name: sip, public_names: [\"*.contoso.com\"], farm: sip }]"))
        XCTAssertEqual(wildcard.diagnostics.filter { $0.message.contains("is also matched by 'webext.contoso.com' of rule 'web'") }.count, 1)
        let disjoint = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com, \"*.pass.contoso.com\"], farm: sip }]"))
        XCTAssertFalse(disjoint.diagnostics.contains { $0.message.contains("is also matched by") }, "\(disjoint.diagnostics)")
    }

    func testUnknownFarmPointsAtTheValue() {
        let result = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: nosuch }]"))
        XCTAssertNil(result.config)
        XCTAssertEqual(result.diagnostics.map(\.description), [
            "edgesplit.yaml:6:69: error: listeners[0].l4_routes[0].farm: unknown farm 'nosuch' (farms are: sip, web)",
            "edgesplit.yaml:8:5: warning: farm 'sip' is not used by any allow rule",
        ])
    }

    func testListenerWithoutTLSIsRefused() {
        let result = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: sip }]", tls: false))
        XCTAssertNil(result.config)
        XCTAssertEqual(result.diagnostics.first?.message,
                       "listeners[0].l4_routes: listener 'https' has no tls; L4 routes need a TLS listener (names that match no route continue as L7 there)")
    }

    func testFarmWithTLSOrCookiePersistenceIsRefused() {
        let tls = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: sip }]", farmExtra: ", tls: { verify: true }"))
        XCTAssertNil(tls.config)
        XCTAssertTrue(tls.diagnostics.contains { $0.message.contains("farm 'sip' has tls, but an L4 route forwards the client's TLS unchanged") }, "\(tls.diagnostics)")
        let cookie = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: sip }]", farmExtra: ", persistence: cookie"))
        XCTAssertNil(cookie.config)
        XCTAssertTrue(cookie.diagnostics.contains { $0.message.contains("farm 'sip' has persistence cookie, which needs HTTP") }, "\(cookie.diagnostics)")
    }

    func testBadProxyProtocolAndDuplicateNames() {
        let bad = load(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: sip, proxy_protocol: v1 }]"))
        XCTAssertNil(bad.config)
        XCTAssertTrue(bad.diagnostics.contains { $0.message.hasPrefix("listeners[0].l4_routes[0].proxy_protocol: ") && $0.message.contains("'v1'") }, "\(bad.diagnostics)")
        let twice = load(yaml(routes: "[{ name: sip, public_names: [a.contoso.com], farm: sip }, { name: sip, public_names: [b.contoso.com], farm: sip }]"))
        XCTAssertNil(twice.config)
        XCTAssertTrue(twice.diagnostics.contains { $0.message.hasPrefix("l4_routes[1] of listener 'https': duplicate L4 route name 'sip'") }, "\(twice.diagnostics)")
    }

    func testCoveredNameIsAWarning() throws {
        let result = load(yaml(routes: #"[{ name: all, public_names: ["*.contoso.com"], farm: sip }, { name: sip, public_names: [sip.contoso.com], farm: sip }]"#))
        XCTAssertNotNil(result.config)
        XCTAssertTrue(result.diagnostics.contains { $0.severity == .warning && $0.message.contains("'sip.contoso.com' is never reached in L4 route 'sip'") }, "\(result.diagnostics)")
    }

    func testSimulationPassesThroughBeforeTheRules() throws {
        let config = try loadValid(yaml(routes: "[{ name: sip, public_names: [sip.contoso.com], farm: sip, proxy_protocol: v2 }]"))
        let client = ClientAddress("192.0.2.7")!
        let outcome = RuleSimulation(config: config, workerCount: 2).run(try TestRuleRequest.parse("https://sip.contoso.com/x"), client: client)
        XCTAssertTrue(outcome.passed)
        XCTAssertEqual(outcome.steps.map(\.step), ["worker", "listener", "l4 route", "member"])
        XCTAssertEqual(outcome.steps[2].reason, "L4 route 'sip' passes the connection through to farm 'sip': TLS is not terminated, no rule applies")
        XCTAssertEqual(outcome.l4RouteIndex, 0)
        XCTAssertEqual(outcome.memberIndex, FarmMemberTable(farm: config.farms[0], mask: .host, seed: 0).member(for: client))
        XCTAssertTrue(outcome.steps[3].reason.hasSuffix("(plain TCP carrying the client's own TLS)"), outcome.steps[3].reason)
        let l7 = RuleSimulation(config: config, workerCount: 2).run(try TestRuleRequest.parse("https://webext.contoso.com/"), client: client)
        XCTAssertEqual(l7.steps.map(\.step), ["worker", "listener", "rule", "member"])
        XCTAssertNil(l7.l4RouteIndex)
    }
}
