import Affinity
import Publishing
import XCTest

final class RuleSimulationTests: XCTestCase {
    func simulate(_ url: String, client: String = "127.0.0.1", cookie: (name: String, value: String)? = nil, lync2010: Bool = false) throws -> RuleSimulation.Outcome {
        let config = try loadRendered(try sampleLyncDeployment(lync2010: lync2010))
        return RuleSimulation(config: config, workerCount: 2).run(try TestRuleRequest.parse(url), client: ClientAddress(client)!, cookie: cookie)
    }

    func testPoolPath() throws {
        let o = try simulate("https://webext.contoso.com/abs/handler")
        XCTAssertTrue(o.passed)
        XCTAssertEqual(o.steps.map(\.step), ["worker", "listener", "rule", "member"])
        XCTAssertEqual(o.steps[2].reason, "rule 'webext' forwards to farm 'webext'")
        XCTAssertEqual(o.steps[2].details.prefix(2), ["rule 'lyncdiscover-http': skipped: not published on this listener", "rule 'webext-datacollab': skipped: path is not one of its paths"])
        XCTAssertTrue(o.steps[3].reason.hasPrefix("farm 'webext' member fe"), o.steps[3].reason)
        XCTAssertEqual(o.memberHostHeader, "webext.contoso.com")
    }

    func testMemberIsTheDataPlanesChoice() throws {
        let config = try loadRendered(try sampleLyncDeployment())
        let farm = config.farms[0]
        for last in 1...40 {
            let client = ClientAddress("192.0.2.\(last)")!
            let o = RuleSimulation(config: config, workerCount: 3).run(try TestRuleRequest.parse("https://webext.contoso.com/"), client: client)
            XCTAssertEqual(o.memberIndex, FarmMemberTable(farm: farm, mask: .host, seed: 0).member(for: client))
            XCTAssertEqual(o.worker, SteeringModel(configuration: SteeringConfiguration(mask: .host, seed: 0, workerCount: 3)).worker(for: client))
        }
    }

    func testMeetGoesToTheDirector() throws {
        let o = try simulate("https://meet.fabrikam.com/alice/ABC123")
        XCTAssertTrue(o.passed)
        XCTAssertEqual(o.steps[2].reason, "rule 'simple-urls' forwards to farm 'webdirext'")
        XCTAssertEqual(o.steps[3].reason, "farm 'webdirext' member dir1.contoso.local:4443 (TLS, verified as webdirext.contoso.com against /etc/edgesplit/internal-root.pem)")
        XCTAssertEqual(o.steps[3].details, ["the farm's only member"])
    }

    func testLyncdiscoverOverHTTP() throws {
        let o = try simulate("http://lyncdiscover.contoso.com/?sipuri=alice@contoso.com")
        XCTAssertTrue(o.passed)
        XCTAssertEqual(o.steps[1].reason, "'http' http 0.0.0.0:80")
        XCTAssertEqual(o.steps[2].reason, "rule 'lyncdiscover-http' forwards to farm 'webdirext-http'")
        XCTAssertTrue(o.steps[3].reason.contains("dir1.contoso.local:8080 (plain HTTP)"), o.steps[3].reason)
    }

    func testRulesSeeTheNormalisedPath() throws {
        let o = try simulate("https://webext.contoso.com/x/../%44ataCollabWeb;a/Ext/Handler")
        XCTAssertEqual(o.steps[2].reason, "rule 'webext-datacollab' forwards to farm 'webext'")
        XCTAssertEqual(o.steps[2].details.first, "rules match the path as the member reads it: '/DataCollabWeb/Ext/Handler'")
        let refused = try simulate("https://webext.contoso.com/DataCollabWeb%2FExt")
        XCTAssertFalse(refused.passed)
        XCTAssertEqual(refused.steps.last?.reason, "path '/DataCollabWeb%2FExt' is refused: an encoded '/' or '\\' (%2F, %5C) that the rules would read two ways: 400")
        XCTAssertTrue(try simulate("https://webext.contoso.com/CollabContent/Dynamic/8f3a%2Fc1/x.pptx").passed)
    }

    func testAdminIsDenied() throws {
        let o = try simulate("https://admin.contoso.com/")
        XCTAssertFalse(o.passed)
        XCTAssertEqual(o.steps.last?.step, "rule")
        XCTAssertEqual(o.steps.last?.reason, "rule 'block-admin' is a deny rule: 403")
    }

    func testNoRule() throws {
        let o = try simulate("https://www.contoso.com/")
        XCTAssertFalse(o.passed)
        XCTAssertEqual(o.steps.last?.reason, "no rule matches host 'www.contoso.com' path '/' on listener 'https': 404")
        XCTAssertEqual(o.steps.last?.details.count, 8)
    }

    func testNoListener() throws {
        let o = try simulate("https://webext.contoso.com:4443/")
        XCTAssertFalse(o.passed)
        XCTAssertEqual(o.steps.last?.reason, "no https listener on port 4443")
    }

    func testAForgedCookieIsIgnoredAndTheResponseWouldSetOne() throws {
        let o = try simulate("https://webext.contoso.com/ucwa/v1/applications", cookie: ("MS-WSMAN", "abc"), lync2010: true)
        XCTAssertTrue(o.passed)
        XCTAssertTrue(o.steps[3].details.contains { $0.hasPrefix("cookie MS-WSMAN=abc names no member of farm") }, "\(o.steps[3].details)")
        XCTAssertTrue(o.steps[3].details.contains { $0.hasPrefix("the response carries Set-Cookie: MS-WSMAN=") && $0.hasSuffix("; Path=/; Secure") })
    }

    func testAValidCookieChoosesItsMember() throws {
        let config = try loadRendered(try sampleLyncDeployment(lync2010: true))
        let farm = config.farms.first { $0.persistence == .cookie }!
        let cookie = PersistenceCookie(farm: farm, seed: config.affinity.seed)
        for member in farm.members.indices {
            let o = try simulate(
                "https://webext.contoso.com/ucwa/v1/applications", cookie: ("MS-WSMAN", cookie.tokens[member]), lync2010: true)
            XCTAssertTrue(o.passed)
            XCTAssertTrue(o.steps[3].reason.contains(farm.members[member].text), o.steps[3].reason)
            XCTAssertTrue(o.steps[3].details.first?.hasPrefix("persistence cookie: MS-WSMAN names this member") == true)
        }
    }

    func testURLParsing() throws {
        let r = try TestRuleRequest.parse("HTTPS://Meet.Contoso.com:8443/a/b?x=%2F#frag")
        XCTAssertEqual(r.scheme, "https")
        XCTAssertEqual(r.host, "meet.contoso.com")
        XCTAssertEqual(r.port, 8443)
        XCTAssertEqual(r.hostHeader, "meet.contoso.com:8443")
        XCTAssertEqual(r.target, "/a/b?x=%2F")
        XCTAssertEqual(r.path, "/a/b")
        XCTAssertEqual(try TestRuleRequest.parse("http://lyncdiscover.contoso.com?sipuri=a").target, "/?sipuri=a")
        XCTAssertEqual(try TestRuleRequest.parse("http://[::1]:80/").hostHeader, "[::1]")
        XCTAssertThrowsError(try TestRuleRequest.parse("ftp://x/"))
        XCTAssertThrowsError(try TestRuleRequest.parse("meet.contoso.com"))
    }
}

extension RuleSimulationTests {
    func config(_ farm: String, rule: String) throws -> EdgesplitConfig {
        let text = """
            workers: 4
            affinity: { ipv4_prefix: 24, ipv6_prefix: 64, seed: 99 }
            listeners: [ { name: https, address: 0.0.0.0, port: 443, tls: { certificates: [ { cert: c.pem, key: k.pem } ] } } ]
            farms: [ \(farm) ]
            rules: [ \(rule) ]
            """
        return try XCTUnwrap(ConfigLoader.load(yaml: text, file: "t.yaml").config)
    }

    func testSourceNetworksRefuse() throws {
        let c = try config(
            "{ name: pool, members: [\"10.0.0.1:4443\"], tls: {} }",
            rule: "{ name: partners, public_names: [webext.contoso.com], farm: pool, source_networks: [\"198.51.100.0/24\"] }")
        let o = RuleSimulation(config: c, workerCount: 4).run(try TestRuleRequest.parse("https://webext.contoso.com/"), client: ClientAddress("192.0.2.1")!)
        XCTAssertFalse(o.passed)
        XCTAssertEqual(o.steps.last?.reason, "rule 'partners' matches but client 192.0.2.1 is outside its source_networks: 403")
        XCTAssertEqual(o.steps.last?.details, ["source_networks: 198.51.100.0/24"])
    }

    func testPrefixAndSeedComeFromTheConfiguration() throws {
        let c = try config(
            "{ name: pool, members: [\"10.0.0.1:4443\", \"10.0.0.2:4443\"], tls: {}, persistence: none }",
            rule: "{ name: webext, public_names: [webext.contoso.com], farm: pool }")
        let o = RuleSimulation(config: c, workerCount: 4).run(try TestRuleRequest.parse("https://webext.contoso.com/"), client: ClientAddress("192.0.2.77")!)
        XCTAssertTrue(o.passed)
        XCTAssertTrue(o.steps[0].details[0].hasPrefix("kernel steering: hash(192.0.2.0/24, seed 99) = "), o.steps[0].details[0])
        let mask = AffinityMask(ipv4Prefix: 24, ipv6Prefix: 64)!
        XCTAssertEqual(o.worker, SteeringModel(configuration: SteeringConfiguration(mask: mask, seed: 99, workerCount: 4)).worker(for: ClientAddress("192.0.2.77")!))
        XCTAssertEqual(o.steps[3].reason, "farm 'pool' member 10.0.0.1:4443 (TLS, verified as its address 10.0.0.1 (IP SAN) against the system roots)")
        XCTAssertEqual(o.steps[3].details, ["persistence none: the member with the fewest outstanding requests (at rest, the first)"])
    }
}
