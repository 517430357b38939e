import Publishing
import XCTest

/// The sample deployment of the tests: two SIP domains, one pool of two Front Ends, a
/// Director, Office Web Apps, HTTP autodiscover. The cookie key is fixed, so two renderings
/// agree (nil draws a random one, as `init lync` does).
func sampleLyncDeployment(lync2010: Bool = false, httpAutodiscover: Bool = true,
                          cookieKey: String? = "sample-cookie-key-0123456789") throws -> LyncDeployment {
    try LyncDeployment(
        sipDomains: ["contoso.com", "fabrikam.com"],
        pools: [LyncDeployment.parseSite("webext.contoso.com=fe1.contoso.local,fe2.contoso.local", flag: "--pool")],
        directors: [LyncDeployment.parseSite("webdirext.contoso.com=dir1.contoso.local", flag: "--director")],
        officeWebApps: [LyncDeployment.parseSite("officewebapps01.contoso.com=owas1.contoso.local", flag: "--office-web-apps")],
        certificate: .pem(cert: "/etc/edgesplit/public.pem", key: "/etc/edgesplit/public.key"),
        internalCA: "/etc/edgesplit/internal-root.pem", lync2010: lync2010, httpAutodiscover: httpAutodiscover,
        cookieKey: cookieKey
    )
}

func loadRendered(_ deployment: LyncDeployment, file: StaticString = #filePath, line: UInt = #line) throws -> EdgesplitConfig {
    let yaml = LyncTemplate(deployment).render()
    let result = ConfigLoader.load(yaml: yaml, file: "lync.yaml")
    XCTAssertEqual(result.diagnostics, [], "\(yaml)", file: file, line: line)
    return try XCTUnwrap(result.config, file: file, line: line)
}

final class LyncTemplateTests: XCTestCase {
    func testSampleDeploymentRulesInOrder() throws {
        let config = try loadRendered(try sampleLyncDeployment())
        XCTAssertEqual(
            config.rules.map(\.name),
            ["lyncdiscover-http", "webext-datacollab", "webext", "webdirext", "simple-urls", "lyncdiscover", "officewebapps01", "block-admin"])
        func rule(_ name: String) -> PublishingRule { config.rules.first { $0.name == name }! }
        XCTAssertEqual(rule("lyncdiscover-http").listeners, ["http"])
        XCTAssertEqual(rule("lyncdiscover-http").publicNames.map(\.text), ["lyncdiscover.contoso.com", "lyncdiscover.fabrikam.com"])
        XCTAssertEqual(rule("lyncdiscover-http").farm, "webdirext-http")
        XCTAssertEqual(rule("webext-datacollab").paths.map(\.text), ["/DataCollabWeb/*"])
        XCTAssertEqual(rule("webext-datacollab").maxBody, 500_000_000)
        XCTAssertEqual(rule("webext").paths.map(\.text), ["/*"])
        XCTAssertEqual(rule("webext").farm, "webext")
        XCTAssertEqual(rule("simple-urls").publicNames.map(\.text), ["meet.contoso.com", "meet.fabrikam.com", "dialin.contoso.com"])
        XCTAssertEqual(rule("simple-urls").farm, "webdirext")
        XCTAssertEqual(rule("lyncdiscover").farm, "webdirext")
        XCTAssertEqual(rule("lyncdiscover").listeners, ["https"])
        XCTAssertEqual(rule("officewebapps01").farm, "officewebapps01")
        XCTAssertEqual(rule("block-admin").action, .deny)
        XCTAssertEqual(rule("block-admin").publicNames.map(\.text), ["admin.contoso.com", "admin.fabrikam.com"])
        XCTAssertNil(rule("block-admin").listeners)
        for r in config.rules where r.action == .allow {
            XCTAssertTrue(r.forwardOriginalHost, r.name)
            XCTAssertEqual(r.timeouts.response, .seconds(960), r.name)
            XCTAssertEqual(r.timeouts.idle, .seconds(1800), r.name)
        }
        XCTAssertFalse(config.rules.flatMap(\.publicNames).contains { $0.text.hasPrefix("lyncdiscoverinternal.") })
        XCTAssertGreaterThanOrEqual(config.http.maxHeaderBytes, 64 * 1024)
        XCTAssertEqual(config.limits, SourceLimits(), "TMG's flood mitigation defaults are on")
    }

    func testSampleDeploymentFarmsAndListeners() throws {
        let config = try loadRendered(try sampleLyncDeployment())
        XCTAssertEqual(config.listeners.map(\.name), ["https", "http"])
        XCTAssertEqual(config.listeners.map(\.port), [443, 80])
        XCTAssertEqual(config.listeners.map(\.address), ["0.0.0.0", "0.0.0.0"])
        XCTAssertEqual(config.listeners[0].tls?.certificates.first?.kind, .pem(cert: "/etc/edgesplit/public.pem", key: "/etc/edgesplit/public.key"))
        func farm(_ name: String) -> Farm { config.farms.first { $0.name == name }! }
        XCTAssertEqual(config.farms.map(\.name), ["webext", "webdirext", "webdirext-http", "officewebapps01"])
        XCTAssertEqual(farm("webext").members.map(\.text), ["fe1.contoso.local:4443", "fe2.contoso.local:4443"])
        XCTAssertEqual(farm("webext").tls?.ca, "/etc/edgesplit/internal-root.pem")
        XCTAssertEqual(farm("webext").tls?.serverName, "webext.contoso.com")
        XCTAssertEqual(farm("webext").persistence, .source)
        XCTAssertEqual(farm("webdirext").members.map(\.text), ["dir1.contoso.local:4443"])
        XCTAssertEqual(farm("webdirext-http").members.map(\.text), ["dir1.contoso.local:8080"])
        XCTAssertNil(farm("webdirext-http").tls)
        XCTAssertEqual(farm("officewebapps01").members.map(\.text), ["owas1.contoso.local:443"])
        XCTAssertEqual(farm("officewebapps01").tls?.serverName, "officewebapps01.contoso.com")
    }

    func testLync2010WritesCookiePersistence() throws {
        let config = try loadRendered(try sampleLyncDeployment(lync2010: true))
        XCTAssertEqual(config.farms.first { $0.name == "webext" }?.persistence, .cookie)
        XCTAssertEqual(config.farms.first { $0.name == "webext" }?.cookieName, "MS-WSMAN")
        XCTAssertEqual(config.farms.first { $0.name == "webdirext" }?.persistence, .cookie)
    }

    /// Every cookie farm gets the file's random key (64 hex digits), fresh for every file; a
    /// deployment without cookie farms writes none.
    func testLync2010WritesARandomCookieKey() throws {
        let first = try sampleLyncDeployment(lync2010: true, cookieKey: nil)
        let config = try loadRendered(first)
        let cookieFarms = config.farms.filter { $0.persistence == .cookie }
        XCTAssertEqual(cookieFarms.map(\.name), ["webext", "webdirext", "webdirext-http"])
        XCTAssertTrue(cookieFarms.allSatisfy { $0.cookieKey == first.cookieKey })
        XCTAssertEqual(first.cookieKey.count, 64)
        XCTAssertTrue(first.cookieKey.allSatisfy(\.isHexDigit))
        XCTAssertNotEqual(try sampleLyncDeployment(lync2010: true, cookieKey: nil).cookieKey, first.cookieKey)
        XCTAssertThrowsError(try sampleLyncDeployment(lync2010: true, cookieKey: "fifteen-chars!!"))
        XCTAssertFalse(LyncTemplate(try sampleLyncDeployment()).render().contains("cookie_key"))
        // Quoted, so a key of digits only stays a string.
        let digits = try loadRendered(try sampleLyncDeployment(lync2010: true, cookieKey: "1234567890123456e7"))
        XCTAssertEqual(digits.farms[0].cookieKey, "1234567890123456e7")
    }

    func testWithoutDirectorSimpleURLsGoToFirstPoolAndNoHTTPListener() throws {
        let d = try LyncDeployment(
            sipDomains: ["contoso.com"],
            pools: [LyncDeployment.parseSite("webext.contoso.com=10.0.0.11:4443,10.0.0.12", flag: "--pool")],
            certificate: .pfx(path: "/etc/edgesplit/public.pfx", passwordFile: "/etc/edgesplit/pfx.pass"),
            listenAddress: "::", instance: "lync"
        )
        let config = try loadRendered(d)
        XCTAssertEqual(config.instance, "lync")
        XCTAssertEqual(config.listeners.map(\.name), ["https"])
        XCTAssertEqual(config.listeners[0].address, "::")
        XCTAssertEqual(config.rules.map(\.name), ["webext-datacollab", "webext", "simple-urls", "lyncdiscover", "block-admin"])
        XCTAssertEqual(config.rules.first { $0.name == "simple-urls" }?.farm, "webext")
        XCTAssertEqual(config.rules.first { $0.name == "simple-urls" }?.publicNames.map(\.text), ["meet.contoso.com", "dialin.contoso.com"])
        XCTAssertEqual(config.farms[0].members.map(\.text), ["10.0.0.11:4443", "10.0.0.12:4443"])
        XCTAssertNil(config.farms[0].tls?.ca)
    }

    /// A member's port is its HTTPS port; HTTP autodiscover goes to the same hosts on 8080.
    func testHTTPAutodiscoverFarmUsesPort8080WhateverTheHTTPSPort() throws {
        let d = try LyncDeployment(
            sipDomains: ["contoso.com"],
            pools: [LyncDeployment.parseSite("webext.contoso.com=fe1.contoso.local", flag: "--pool")],
            directors: [LyncDeployment.parseSite("webdirext.contoso.com=10.0.0.21:4443,10.0.0.21:5443,[2001:db8::22]:4443", flag: "--director")],
            certificate: .pem(cert: "c.pem", key: "k.pem"), httpAutodiscover: true
        )
        let config = try loadRendered(d)
        let farm = try XCTUnwrap(config.farms.first { $0.name == "webdirext-http" })
        XCTAssertEqual(farm.members.map(\.text), ["10.0.0.21:8080", "[2001:db8::22]:8080"])
        XCTAssertNil(farm.tls)
    }

    func testServerNameOverride() throws {
        var site = try LyncDeployment.parseSite("webext.contoso.com=fe1.contoso.local", flag: "--pool")
        site.serverName = try LyncDeployment.parseServerName("webext.contoso.com=pool01.contoso.local").serverName
        let d = try LyncDeployment(sipDomains: ["contoso.com"], pools: [site], certificate: .pem(cert: "c.pem", key: "k.pem"))
        let config = try loadRendered(d)
        XCTAssertEqual(config.farms[0].tls?.serverName, "pool01.contoso.local")
    }

    func testBadInputs() {
        func fails(_ body: () throws -> Void, _ fragment: String, line: UInt = #line) {
            do {
                try body()
                XCTFail("expected an error containing '\(fragment)'", line: line)
            } catch {
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        let cert = LyncDeployment.ListenerCertificate.pem(cert: "c", key: "k")
        fails({ _ = try LyncDeployment.parseSite("webext.contoso.com", flag: "--pool") }, "expected EXTERNAL_FQDN=MEMBER")
        fails({ _ = try LyncDeployment.parseSite("webext.contoso.com=fe1:99999", flag: "--pool") }, "not in 1...65535")
        fails({ _ = try LyncDeployment.parseSite("webext.contoso.com=fe1,,fe2", flag: "--pool") }, "an empty member")
        fails({ _ = try LyncDeployment.parseSite("web_ext=fe1", flag: "--pool") }, "expected a DNS name")
        fails({ _ = try LyncDeployment.parseSite("webext.contoso.com=2001:db8::1", flag: "--pool") }, "in brackets")
        fails({ _ = try LyncDeployment(sipDomains: [], pools: [], certificate: cert) }, "--sip-domain")
        fails({ _ = try LyncDeployment(sipDomains: ["contoso.com"], pools: [], certificate: cert) }, "--pool")
        fails({
            _ = try LyncDeployment(
                sipDomains: ["contoso.com"], pools: [LyncDeployment.parseSite("meet.contoso.com=fe1", flag: "--pool")], certificate: cert)
        }, "'meet.contoso.com' is published twice")
        fails({
            _ = try LyncDeployment(
                sipDomains: ["contoso.com"], pools: [LyncDeployment.parseSite("webext.contoso.com=fe1", flag: "--pool")],
                meetNames: ["lyncdiscoverinternal.contoso.com"], certificate: cert)
        }, "never published")
        fails({
            _ = try LyncDeployment(
                sipDomains: ["contoso.com"], pools: [LyncDeployment.parseSite("admin.contoso.com=fe1", flag: "--pool")], certificate: cert)
        }, "internal only")
        fails({
            _ = try LyncDeployment(
                sipDomains: ["contoso.com"], pools: [LyncDeployment.parseSite("webext.contoso.com=fe1", flag: "--pool")], certificate: cert,
                listenAddress: "any")
        }, "--listen")
        fails({
            _ = try LyncDeployment(
                sipDomains: ["contoso.com"], pools: [LyncDeployment.parseSite("webext.contoso.com=fe1", flag: "--pool")], certificate: cert,
                instance: "Bad Name")
        }, "--instance")
    }
}
