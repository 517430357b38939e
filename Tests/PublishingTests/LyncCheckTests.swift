import Publishing
import XCTest

/// Each Lync misconfiguration of lync-publishing.md §7, one configuration each: the finding
/// names the rule (or farm, listener), the reason and the symptom.
final class LyncCheckTests: XCTestCase {
    /// A correct small publication; the parameters splice one mistake in.
    func yaml(
        poolFarm: String = "{ name: pool, members: [\"fe1.contoso.local:4443\", \"fe2.contoso.local:4443\"], tls: { server_name: webext.contoso.com } }",
        extraFarms: String = "",
        webextRule: String = "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool }",
        firstRules: String = "",
        extraRules: String = "",
        http: String = ""
    ) -> String {
        """
        listeners:
          - { name: https, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: c.pem, key: k.pem } ] } }
          - { name: http, address: 127.0.0.1, port: 8080 }
        farms:
          - \(poolFarm)
          - { name: pool-http, members: ["fe1.contoso.local:8080"] }
        \(extraFarms)
        rules:
        \(firstRules)
          - { name: lyncdiscover-http, listeners: [http], public_names: [lyncdiscover.contoso.com], farm: pool-http }
          - \(webextRule)
          - { name: simple-urls, listeners: [https], public_names: [meet.contoso.com, dialin.contoso.com], farm: pool }
          - { name: lyncdiscover, listeners: [https], public_names: [lyncdiscover.contoso.com], farm: pool }
        \(extraRules)
          - { name: block-admin, public_names: [admin.contoso.com], action: deny }
        \(http)
        """
    }

    let goodCertificate = ListenerCertificateFacts(
        listenerIndex: 0,
        names: ["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com", "lyncdiscover.contoso.com"],
        subject: "CN=webext.contoso.com,O=Contoso", position: SourcePosition(file: "t.yaml", line: 2, column: 80)
    )

    func findings(_ text: String, certificates: [ListenerCertificateFacts]? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [LyncFinding] {
        let result = ConfigLoader.load(yaml: text, file: "t.yaml")
        let config = try XCTUnwrap(result.config, "\(result.diagnostics)", file: file, line: line)
        return LyncCheck(config: config, certificates: certificates ?? [goodCertificate]).findings
    }

    /// Exactly one finding, of `kind`, whose text contains every fragment.
    func assertOne(
        _ text: String, _ kind: LyncFinding.Kind, _ severity: ConfigDiagnostic.Severity, subject: String, reason: String, symptom: String,
        certificates: [ListenerCertificateFacts]? = nil, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let all = try findings(text, certificates: certificates, file: file, line: line)
        XCTAssertEqual(all.count, 1, all.map(\.description).joined(separator: "\n"), file: file, line: line)
        guard let f = all.first else { return }
        XCTAssertEqual(f.kind, kind, f.description, file: file, line: line)
        XCTAssertEqual(f.severity, severity, f.description, file: file, line: line)
        XCTAssertEqual(f.subject, subject, file: file, line: line)
        XCTAssertTrue(f.reason.contains(reason), "reason: \(f.reason)", file: file, line: line)
        XCTAssertTrue(f.symptom.contains(symptom), "symptom: \(f.symptom)", file: file, line: line)
        XCTAssertTrue(f.description.contains("users see: "), file: file, line: line)
    }

    /// Among several findings, one of `kind` for `subject` whose text contains the fragments.
    func assertSome(
        _ text: String, _ kind: LyncFinding.Kind, _ severity: ConfigDiagnostic.Severity, subject: String, reason: String, symptom: String,
        count: Int, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let all = try findings(text, certificates: [], file: file, line: line)
        XCTAssertEqual(all.count, count, all.map(\.description).joined(separator: "\n"), file: file, line: line)
        let match = all.first { $0.kind == kind && $0.subject == subject && $0.reason.contains(reason) }
        XCTAssertNotNil(match, all.map(\.description).joined(separator: "\n"), file: file, line: line)
        XCTAssertEqual(match?.severity, severity, file: file, line: line)
        XCTAssertTrue(match?.symptom.contains(symptom) ?? false, match?.symptom ?? "", file: file, line: line)
    }

    func testCorrectPublicationHasNoFindings() throws {
        XCTAssertEqual(try findings(yaml()).map(\.description), [])
    }

    func testNotLyncHasNoFindings() throws {
        let text = """
            listeners: [ { name: web, address: 127.0.0.1, port: 8080 } ]
            farms: [ { name: app, members: ["127.0.0.1:9000"], persistence: none }, { name: b, members: ["127.0.0.1:9001", "127.0.0.1:9002"], persistence: none } ]
            rules: [ { name: app, public_names: [app.contoso.test], farm: app, forward_original_host: false, timeouts: { response: 10s } } ]
            """
        let config = try XCTUnwrap(ConfigLoader.load(yaml: text, file: "t.yaml").config)
        XCTAssertFalse(LyncCheck(config: config).looksLikeLync)
        XCTAssertEqual(LyncCheck(config: config).findings, [])
    }

    func testPublicNameNotOnCertificate() throws {
        var cert = goodCertificate
        cert.names.removeAll { $0 == "lyncdiscover.contoso.com" }
        try assertOne(
            yaml(), .nameNotOnCertificate, .error, subject: "rule 'lyncdiscover'",
            reason: "public name 'lyncdiscover.contoso.com' on listener 'https' is not covered by its certificate",
            symptom: "mobile clients get a server hello without a matching certificate", certificates: [cert])
    }

    func testWildcardSANCoversSimpleURLs() throws {
        var cert = goodCertificate
        cert.names = ["webext.contoso.com", "*.contoso.com"]
        XCTAssertEqual(try findings(yaml(), certificates: [cert]).map(\.description), [])
    }

    func testSubjectNotInSANs() throws {
        var cert = goodCertificate
        cert.subject = "CN=proxy.contoso.com,O=Contoso"
        try assertOne(
            yaml(), .subjectNotInSANs, .warning, subject: "listener 'https'", reason: "subject name 'proxy.contoso.com' is not among its SANs",
            symptom: "refuse the connection", certificates: [cert])
    }

    func testWildcardSubject() throws {
        var cert = goodCertificate
        cert.subject = "CN=*.contoso.com"
        cert.names.append("*.contoso.com")
        try assertOne(
            yaml(), .wildcardSubject, .warning, subject: "listener 'https'", reason: "subject is the wildcard '*.contoso.com'",
            symptom: "desk phones", certificates: [cert])
    }

    func testHostNotForwarded() throws {
        try assertOne(
            yaml(webextRule: "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool, forward_original_host: false }"),
            .hostNotForwarded, .error, subject: "rule 'webext'", reason: "forward_original_host is false", symptom: "answer for the wrong site")
    }

    func testInternalSitePort() throws {
        try assertOne(
            yaml(poolFarm: "{ name: pool, members: [\"fe1.contoso.local:4443\", \"fe2.contoso.local:443\"], tls: { server_name: webext.contoso.com } }"),
            .internalSitePort, .error, subject: "farm 'pool'", reason: "member 'fe2.contoso.local:443' is the Front End's internal web site",
            symptom: "requests reach the internal site")
    }

    func testPlainHTTPTo4443() throws {
        try assertSome(
            yaml(poolFarm: "{ name: pool, members: [\"fe1.contoso.local:4443\", \"fe2.contoso.local:4443\"] }"),
            .plainHTTPToTLSPort, .error, subject: "farm 'pool'", reason: "plain HTTP to 'fe2.contoso.local:4443'",
            symptom: "every request through this farm fails", count: 2)
    }

    func testShortTimeouts() throws {
        try assertOne(
            yaml(webextRule: "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool, timeouts: { response: 200s } }"),
            .shortTimeout, .warning, subject: "rule 'webext'", reason: "response 200s / idle 1800s are under 960s / 1800s",
            symptom: "lose their long polls")
    }

    func testDirectorNotPublished() throws {
        try assertOne(
            yaml(extraFarms: "  - { name: director, members: [\"dir1.contoso.local:4443\"], tls: { server_name: webdirext.contoso.com } }"),
            .directorNotPublished, .warning, subject: "farm 'director'", reason: "looks like a Director and no rule publishes it",
            symptom: "first-hop traffic")
    }

    func testLyncdiscoverInTwoRules() throws {
        try assertOne(
            yaml(extraRules: "  - { name: autodiscover-too, listeners: [https], public_names: [lyncdiscover.contoso.com, dialin.contoso.com], paths: [\"/x/*\"], farm: pool }"),
            .lyncdiscoverInTwoRules, .warning, subject: "rule 'autodiscover-too'", reason: "is also in rule 'lyncdiscover'",
            symptom: "wrong farm")
    }

    func testLyncdiscoverShadowed() throws {
        // The wildcard also forwards lyncdiscoverinternal. and admin. on port 80: two more errors.
        try assertSome(
            yaml(firstRules: "  - { name: catch-all-http, listeners: [http], public_names: [\"*.contoso.com\"], paths: [\"/\"], farm: pool-http }"),
            .lyncdiscoverShadowed, .error, subject: "rule 'lyncdiscover-http'",
            reason: "'lyncdiscover.contoso.com' on listener 'http' is taken by the earlier rule 'catch-all-http'",
            symptom: "cannot sign in", count: 3)
    }

    func testLyncdiscoverInternalPublished() throws {
        try assertOne(
            yaml(extraRules: "  - { name: internal-ad, listeners: [https], public_names: [lyncdiscoverinternal.contoso.com], farm: pool }"),
            .internalNamePublished, .error, subject: "rule 'internal-ad'", reason: "internal autodiscover",
            symptom: "internal autodiscover answers", certificates: [])
    }

    func testAdminPublishedThroughAWildcard() throws {
        let text = yaml(extraRules: "  - { name: everything, listeners: [https], public_names: [\"*.contoso.com\"], farm: pool }")
            .replacingOccurrences(of: "  - { name: block-admin, public_names: [admin.contoso.com], action: deny }\n", with: "")
        try assertSome(
            text, .internalNamePublished, .error, subject: "rule 'everything'", reason: "'admin.contoso.com', the admin simple URL",
            symptom: "Control Panel is exposed", count: 2)
    }

    func testSeveralMembersWithoutPersistence() throws {
        try assertOne(
            yaml(poolFarm: "{ name: pool, members: [\"fe1.contoso.local:4443\", \"fe2.contoso.local:4443\"], tls: { server_name: webext.contoso.com }, persistence: none }"),
            .noPersistence, .error, subject: "farm 'pool'", reason: "2 members and persistence none", symptom: "ping-pongs")
    }

    func testSmallHeaderLimit() throws {
        try assertOne(
            yaml(http: "http: { max_header_bytes: 16KiB }"), .smallHeaderLimit, .warning, subject: "http.max_header_bytes",
            reason: "less than 64 KiB", symptom: "431")
    }

    func testSmallUploadLimit() throws {
        try assertOne(
            yaml(webextRule: "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool, max_body: 10MB }"),
            .smallUploadLimit, .warning, subject: "rule 'webext'", reason: "covers /DataCollabWeb/", symptom: "413")
    }

    func testRenderedTemplatePassesTheLyncCheck() throws {
        let config = try loadRendered(try sampleLyncDeployment())
        let d = try sampleLyncDeployment()
        let cert = ListenerCertificateFacts(
            listenerIndex: 0, names: d.publicNames, subject: "CN=webext.contoso.com", position: config.listeners[0].position)
        XCTAssertEqual(LyncCheck(config: config, certificates: [cert]).findings.map(\.description), [])
    }
}

extension LyncCheckTests {
    func testDirectorPublishedOnlyThroughSimpleURLs() throws {
        let text = yaml(
            extraFarms: "  - { name: director, members: [\"dir1.contoso.local:4443\"], tls: { server_name: webdirext.contoso.com } }"
        ).replacingOccurrences(of: "public_names: [meet.contoso.com, dialin.contoso.com], farm: pool", with: "public_names: [meet.contoso.com, dialin.contoso.com], farm: director")
        try assertOne(
            text, .directorNotPublished, .warning, subject: "farm 'director'",
            reason: "no rule publishes its external web services name (only 'simple-urls')", symptom: "first-hop traffic")
    }
}

extension LyncCheckTests {
    func testWhatCountsAsLync() throws {
        func looksLikeLync(_ farm: String, names: String = "app.contoso.test") throws -> Bool {
            let text = """
                listeners: [ { name: web, address: 127.0.0.1, port: 8080 } ]
                farms: [ \(farm) ]
                rules: [ { name: app, public_names: [\(names)], farm: app } ]
                """
            return LyncCheck(config: try XCTUnwrap(ConfigLoader.load(yaml: text, file: "t.yaml").config)).looksLikeLync
        }
        XCTAssertFalse(try looksLikeLync("{ name: app, members: [\"127.0.0.1:4443\"] }"))
        XCTAssertFalse(try looksLikeLync("{ name: app, members: [\"127.0.0.1:8080\"] }"))
        XCTAssertTrue(try looksLikeLync("{ name: app, members: [\"127.0.0.1:4443\"], tls: { server_name: webext.contoso.com } }"))
        XCTAssertTrue(try looksLikeLync("{ name: app, members: [\"127.0.0.1:9000\"] }", names: "meet.contoso.com"))
        XCTAssertTrue(try looksLikeLync("{ name: app, members: [\"127.0.0.1:9000\"] }", names: "lyncdiscover.contoso.com"))
    }
}
