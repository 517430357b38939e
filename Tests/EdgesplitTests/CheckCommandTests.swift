import Foundation
import XCTest

/// `edgesplit check --config FILE`: every problem as `file:line:column: severity: message`,
/// exit 1 on errors, 0 otherwise. Each broken configuration below differs from a valid one by
/// one mistake, and the test pins where `check` points and what it says.
final class CheckCommandTests: EdgesplitTestCase {
    /// A valid configuration, one entry per line 2, 4 and 6; replacing an entry or adding a
    /// `tail` (line 7) splices one mistake in.
    private func config(
        listener: String = "{ name: web, address: 127.0.0.1, port: 8080 }",
        farm: String = "{ name: app, members: [\"127.0.0.1:9000\"] }",
        rule: String = "{ name: app, public_names: [app.contoso.test], farm: app }",
        tail: String = ""
    ) -> String {
        """
        listeners:
          - \(listener)
        farms:
          - \(farm)
        rules:
          - \(rule)
        \(tail)
        """
    }

    /// Runs `check` on `yaml` and returns the result and the file name it prints.
    private func check(_ yaml: String, name: String = "edgesplit.yaml") throws -> (CommandResult, String) {
        let path = try write(name, yaml)
        return (try run(["check", "--config", path]), path)
    }

    /// Asserts that `check` fails with exactly one diagnostic: an error at `line:column`
    /// whose message contains every one of `parts`.
    private func assertError(
        _ yaml: String, at line: Int, _ column: Int, _ parts: String...,
        file: StaticString = #filePath, testLine: UInt = #line
    ) throws {
        let (result, path) = try check(yaml)
        XCTAssertEqual(result.status, 1, "\(result)", file: file, line: testLine)
        XCTAssertEqual(result.stdout, "", "check prints diagnostics on stderr only", file: file, line: testLine)
        let lines = result.stderrLines
        XCTAssertEqual(lines.count, 1, "expected one diagnostic:\n\(result)", file: file, line: testLine)
        guard let first = lines.first else { return }
        let prefix = "\(path):\(line):\(column): error: "
        XCTAssertTrue(first.hasPrefix(prefix), "expected \(prefix)…, got \(first)", file: file, line: testLine)
        for part in parts {
            XCTAssertTrue(first.contains(part), "'\(part)' missing from \(first)", file: file, line: testLine)
        }
    }

    // MARK: Valid and warnings

    func testValidConfigurationIsOK() throws {
        let (result, path) = try check(config())
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "\(path): OK: 1 listeners, 1 farms, 1 rules\n")
        XCTAssertEqual(result.stderr, "")
    }

    func testWarningsAloneExitZeroAndArePrinted() throws {
        // Line 3 is a second listener that no rule publishes on.
        let yaml = config(listener: "{ name: web, address: 127.0.0.1, port: 8080 }\n  - { name: spare, address: 127.0.0.1, port: 8081 }")
            .replacingOccurrences(of: "farm: app }", with: "farm: app, listeners: [web] }")
        let (result, path) = try check(yaml)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stderrLines, [
            "\(path):3:5: warning: listener 'spare' is not used by any rule; every request on it gets 404",
        ])
        XCTAssertEqual(result.stdout, "\(path): OK: 2 listeners, 1 farms, 1 rules\n")
    }

    func testUnverifiedFarmTLSIsOneWarning() throws {
        let yaml = config(farm: "{ name: app, members: [\"127.0.0.1:9000\"], tls: { verify: false } }")
        let (result, path) = try check(yaml)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stderrLines.count, 1, "one problem, one warning:\n\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("\(path):4:62: warning: farms[0].tls.verify: certificate verification toward farm 'app' is off"), "\(result)")
    }

    func testUnresolvableMemberIsAWarningAtTheMember() throws {
        // .invalid never resolves (RFC 6761).
        let yaml = config(farm: "{ name: app, members: [\"127.0.0.1:9000\", \"fe9.contoso.invalid:4443\"] }")
        let (result, path) = try check(yaml)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stderrLines.count, 1, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("\(path):4:46: warning: farm 'app': member 'fe9.contoso.invalid:4443' does not resolve"), "\(result)")
    }

    // MARK: Errors in the file

    func testYAMLSyntaxError() throws {
        // The flow mapping on line 2 is never closed; the parser notices at the next key.
        let yaml = "listeners:\n  - { name: web, address: 127.0.0.1, port: 8080\nfarms: []\n"
        try assertError(yaml, at: 3, 6, "invalid YAML: did not find expected ',' or '}'", "flow mapping at line 2, column 5")
    }

    func testUnknownKeyWithSuggestion() throws {
        try assertError(config(tail: "timeouts: { shutdwn: 5s }"), at: 7, 13, "unknown key 'shutdwn' in timeouts", "did you mean 'shutdown'?")
    }

    /// A cookie farm without its own secret key would issue tokens anyone can compute.
    func testCookiePersistenceWithoutKey() throws {
        let farm = "{ name: app, members: [\"127.0.0.1:9000\"], persistence: cookie }"
        try assertError(config(farm: farm), at: 4, 60, "farms[0].cookie_key: missing", "at least 16 characters", "same on every edge host")
    }

    func testMissingFarmReference() throws {
        let rule = "{ name: app, public_names: [app.contoso.test], farm: nosuch }"
        try assertError(config(rule: rule), at: 6, 58, "rules[0].farm: unknown farm 'nosuch'", "farms are: app")
    }

    func testDuplicateFarmNames() throws {
        let farms = "{ name: app, members: [\"127.0.0.1:9000\"] }\n  - { name: app, members: [\"127.0.0.1:9001\"] }"
        let yaml = config(farm: farms)
        let path = directory + "/edgesplit.yaml"
        try assertError(yaml, at: 5, 5, "farms[1]: duplicate farm name 'app'", "first defined at \(path):4:5")
    }

    func testBadCIDR() throws {
        let rule = "{ name: app, public_names: [app.contoso.test], farm: app, source_networks: [\"10.0.0.0/33\"] }"
        try assertError(config(rule: rule), at: 6, 81, "rules[0].source_networks[0]", "'10.0.0.0/33'", "prefix length 0...32")
    }

    func testCIDRWithHostBits() throws {
        let rule = "{ name: app, public_names: [app.contoso.test], farm: app, source_networks: [192.168.1.7/24] }"
        try assertError(config(rule: rule), at: 6, 81, "'192.168.1.7/24' has host bits set", "did you mean 192.168.1.0/24?")
    }

    func testBadLimitValue() throws {
        try assertError(config(tail: "limits: { concurrent_connections: 0 }"), at: 7, 35,
                        "limits.concurrent_connections", "expected an integer 1...1000000 or off, got '0'")
        try assertError(config(tail: "limits: { requests_per_minute: fast }"), at: 7, 32,
                        "limits.requests_per_minute", "got 'fast'")
    }

    func testBadLimitException() throws {
        try assertError(config(tail: "limits: { exceptions: [\"10.0.0.1/8\"] }"), at: 7, 24,
                        "limits.exceptions[0]", "'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)")
    }

    func testConnectionLimitInARule() throws {
        try assertError(config(rule: "{ name: app, public_names: [app.contoso.test], farm: app, limits: { concurrent_connections: 5 } }"),
                        at: 6, 73, "rules[0].limits.concurrent_connections", "only requests_per_minute can be set per rule")
    }

    func testBadPort() throws {
        try assertError(config(listener: "{ name: web, address: 127.0.0.1, port: 99999 }"), at: 2, 44,
                        "listeners[0].port: expected an integer 1...65535, got '99999'")
    }

    func testBadDuration() throws {
        try assertError(config(tail: "timeouts: { shutdown: 5 minutes }"), at: 7, 23, "timeouts.shutdown", "'5 minutes'")
    }

    func testBadHTTP2Limit() throws {
        try assertError(config(tail: "http2: { max_concurrent_streams: 0 }"), at: 7, 34,
                        "http2.max_concurrent_streams: expected an integer 1...10000, got '0'")
        try assertError(config(tail: "http2: { max_resets: 10 }"), at: 7, 10, "unknown key 'max_resets' in http2",
                        "expected one of enabled, max_concurrent_streams, max_header_list_size, max_resets_per_second")
    }

    func testShadowedRule() throws {
        let rules = "{ name: all, public_names: [\"*.contoso.test\"], farm: app }\n  - { name: app, public_names: [app.contoso.test], farm: app }"
        let path = directory + "/edgesplit.yaml"
        try assertError(config(rule: rules), at: 7, 5,
                        "rules[1]: rule 'app' at \(path):7:5 is shadowed by rule 'all' at \(path):6:5")
    }

    func testWildcardInTheMiddleOfAName() throws {
        let rule = "{ name: app, public_names: [\"app.*.contoso.test\"], farm: app }"
        try assertError(config(rule: rule), at: 6, 33, "rules[0].public_names[0]", "a wildcard is only allowed as the whole first label")
    }

    func testMissingListeners() throws {
        let yaml = """
            farms:
              - { name: app, members: ["127.0.0.1:9000"] }
            rules:
              - { name: app, public_names: [app.contoso.test], farm: app }
            """
        try assertError(yaml, at: 1, 1, "missing required key 'listeners'")
    }

    func testBadInstanceName() throws {
        try assertError("instance: Contoso_Edge\n" + config(), at: 1, 11, "instance: expected a name matching", "'Contoso_Edge'")
    }

    // MARK: Certificates and keys

    func testUnreadableCertificate() throws {
        let missing = directory + "/missing.pem"
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(missing), key: \(missing) } ] } }"
        try assertError(config(listener: listener), at: 2, 73, "cannot read '\(missing)'", "No such file or directory")
    }

    func testCertificateThatIsNotPEM() throws {
        let pair = try makeCertificate("good")
        let garbage = try write("garbage.pem", "this is not a certificate\n")
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(garbage), key: \(pair.key) } ] } }"
        try assertError(config(listener: listener), at: 2, 73, "'\(garbage)'", "PEM certificate")
    }

    func testKeyNotMatchingTheCertificate() throws {
        let a = try makeCertificate("a")
        let b = try makeCertificate("b")
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(a.cert), key: \(b.key) } ] } }"
        try assertError(config(listener: listener), at: 2, 73, "the key in '\(b.key)' does not match the certificate in '\(a.cert)'")
    }

    func testValidCertificateIsOK() throws {
        let pair = try makeCertificate("ok")
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(pair.cert), key: \(pair.key) } ] } }"
        let (result, path) = try check(config(listener: listener))
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "\(path): OK: 1 listeners, 1 farms, 1 rules\n")
    }

    func testOCSPFileThatIsNotAnOCSPResponseIsAWarningAtTheCertificate() throws {
        let pair = try makeCertificate("ocsp")
        let garbage = try write("garbage.der", "not DER\n")
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(pair.cert), key: \(pair.key), ocsp: \(garbage) } ] } }"
        let (result, path) = try check(config(listener: listener))
        XCTAssertEqual(result.status, 0, "no staple is not fatal:\n\(result)")
        XCTAssertEqual(result.stderrLines.count, 1, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("\(path):2:73: warning: ocsp: '\(garbage)': not a DER OCSP response"), "\(result)")
        XCTAssertTrue(result.stderr.contains("served without an OCSP staple until the file is fixed"), "\(result)")
    }

    func testMissingOCSPFileIsAWarning() throws {
        let pair = try makeCertificate("ocsp")
        let missing = directory + "/missing.der"
        let listener = "{ name: web, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(pair.cert), key: \(pair.key), ocsp: \(missing) } ] } }"
        let (result, path) = try check(config(listener: listener))
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stderr.hasPrefix("\(path):2:73: warning: ocsp: cannot read '\(missing)': No such file or directory"), "\(result)")
    }

    func testTicketRotationShorterThanASecond() throws {
        try assertError(config(tail: "tls: { tickets: { rotate: 500ms } }"), at: 7, 27, "tls.tickets.rotate: expected a duration between 1s and 24h, got '500ms'")
    }

    func testTicketRotationLongerThanADay() throws {
        try assertError(config(tail: "tls: { tickets: { rotate: 2d } }"), at: 7, 27, "tls.tickets.rotate")
    }

    func testUnknownTicketKey() throws {
        let (result, _) = try check(config(tail: "tls: { tickets: { rotation: 1h } }"))
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains("rotation"), "\(result)")
    }

    // MARK: L4 routes

    private func l4Listener(_ routes: String, tls: Bool = true) throws -> String {
        let pair = try makeCertificate("l4")
        let certificates = tls ? ", tls: { certificates: [ { cert: \(pair.cert), key: \(pair.key) } ] }" : ""
        return "{ name: web, address: 127.0.0.1, port: 8443\(certificates), l4_routes: [\(routes)] }"
    }

    func testValidL4RouteIsOK() throws {
        let listener = try l4Listener("{ name: sip, public_names: [sip.contoso.test], farm: app, proxy_protocol: v2 }")
        let (result, path) = try check(config(listener: listener))
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, "\(path): OK: 1 listeners, 1 farms, 1 rules, 1 L4 routes\n")
    }

    func testL4RouteNameAlsoInARuleIsAWarning() throws {
        let listener = try l4Listener("{ name: sip, public_names: [app.contoso.test], farm: app }")
        let (result, path) = try check(config(listener: listener))
        XCTAssertEqual(result.status, 0, "a warning only: \(result)")
        XCTAssertTrue(result.stderrLines.contains {
            $0.hasPrefix("\(path):2:") && $0.contains(": warning: listeners[0].l4_routes[0]: 'app.contoso.test' of L4 route 'sip' is also matched by")
                && $0.contains("(SNI and Host can differ)")
        }, "\(result)")
    }

    func testL4RouteWithUnknownFarm() throws {
        let listener = try l4Listener("{ name: sip, public_names: [sip.contoso.test], farm: nosuch }")
        let column = listener.range(of: "nosuch")!.lowerBound.utf16Offset(in: listener) + 5
        try assertError(config(listener: listener), at: 2, column, "listeners[0].l4_routes[0].farm: unknown farm 'nosuch'", "farms are: app")
    }

    func testL4RouteNeedsATLSListener() throws {
        let listener = try l4Listener("{ name: sip, public_names: [sip.contoso.test], farm: app }", tls: false)
        let column = listener.range(of: "l4_routes")!.lowerBound.utf16Offset(in: listener) + 5
        try assertError(config(listener: listener), at: 2, column, "listeners[0].l4_routes: listener 'web' has no tls", "L4 routes need a TLS listener")
    }

    func testL4RouteFarmWithTLS() throws {
        let listener = try l4Listener("{ name: sip, public_names: [sip.contoso.test], farm: app }")
        let farm = "{ name: app, members: [\"127.0.0.1:9000\"], tls: { verify: false } }"
        let column = listener.range(of: "farm: app")!.lowerBound.utf16Offset(in: listener) + 11
        let (result, path) = try check(config(listener: listener, farm: farm))
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderrLines.contains { $0.hasPrefix("\(path):2:\(column): error: listeners[0].l4_routes[0].farm: farm 'app' has tls") }, "\(result)")
    }

    func testL4RouteWithUnknownProxyProtocol() throws {
        let listener = try l4Listener("{ name: sip, public_names: [sip.contoso.test], farm: app, proxy_protocol: v1 }")
        let column = listener.range(of: "v1")!.lowerBound.utf16Offset(in: listener) + 5
        try assertError(config(listener: listener), at: 2, column, "listeners[0].l4_routes[0].proxy_protocol", "'v1'")
    }

    func testSeveralProblemsAreAllReportedInFileOrder() throws {
        let yaml = config(
            listener: "{ name: web, address: 127.0.0.1, port: 0 }",
            rule: "{ name: app, public_names: [app.contoso.test], farm: nosuch }"
        )
        let (result, path) = try check(yaml)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines, [
            "\(path):2:44: error: listeners[0].port: expected an integer 1...65535, got '0'",
            "\(path):6:58: error: rules[0].farm: unknown farm 'nosuch' (farms are: app)",
        ])
    }

    func testUnreadableConfigurationFile() throws {
        let path = directory + "/nosuch.yaml"
        let result = try run(["check", "--config", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderrLines, ["\(path): error: cannot read the configuration file"])
    }
}
