import Foundation
import XCTest

/// `edgesplit test-rule`: TMG's Test Rule as a chain of PASS/FAIL steps, on the `init lync`
/// sample and, with --probe, against openssl TLS members on loopback.
final class TestRuleCommandTests: LyncCommandTestCase {
    /// The `init lync` sample (two SIP domains, a pool of two, a Director, Office Web Apps,
    /// HTTP autodiscover), two workers.
    func sampleConfig() throws -> String {
        let output = directory + "/lync.yaml"
        let r = try edgesplit([
            "init", "lync", "--sip-domain", "contoso.com", "--sip-domain", "fabrikam.com",
            "--pool", "webext.contoso.com=fe1.contoso.local,fe2.contoso.local", "--director", "webdirext.contoso.com=dir1.contoso.local",
            "--office-web-apps", "officewebapps01.contoso.com=owas1.contoso.local", "--certificate", "/nonexistent/public.pem",
            "--key", "/nonexistent/public.key", "--internal-ca", "/nonexistent/internal-root.pem", "--http-autodiscover", "--output", output,
        ])
        XCTAssertEqual(r.status, 0, "\(r)")
        try write("lync.yaml", read(output).replacingOccurrences(of: "# workers: 4 ", with: "workers: 2   "))
        return output
    }

    func testRule(_ args: [String]) throws -> Result { try edgesplit(["test-rule"] + args) }

    func lines(_ r: Result) -> [String] { r.stdout.split(separator: "\n").map(String.init) }

    func testPoolPath() throws {
        let config = try sampleConfig()
        let r = try testRule(["--config", config, "https://webext.contoso.com/abs/handler", "--client", "192.0.2.10"])
        XCTAssertEqual(r.status, 0, "\(r)")
        let out = lines(r)
        XCTAssertEqual(out.first, "test-rule https://webext.contoso.com/abs/handler from client 192.0.2.10")
        XCTAssertTrue(out[1].hasPrefix("PASS  worker    worker "), out[1])
        XCTAssertTrue(out[1].hasSuffix(" of 2"), out[1])
        XCTAssertTrue(out[2].contains("kernel steering: hash(192.0.2.10/32, seed 0)"), out[2])
        XCTAssertEqual(out[3], "PASS  listener  'https' https 0.0.0.0:443")
        XCTAssertEqual(out[4], "PASS  rule      rule 'webext' forwards to farm 'webext'")
        XCTAssertEqual(out[5].trimmingCharacters(in: .whitespaces), "rule 'lyncdiscover-http': skipped: not published on this listener")
        XCTAssertEqual(out[6].trimmingCharacters(in: .whitespaces), "rule 'webext-datacollab': skipped: path is not one of its paths")
        XCTAssertEqual(out[7].trimmingCharacters(in: .whitespaces), "Host sent to the member: webext.contoso.com (original Host forwarded)")
        XCTAssertTrue(r.stdout.contains("PASS  member    farm 'webext' member fe"), r.stdout)
        XCTAssertTrue(r.stdout.contains("source persistence: hash(192.0.2.10/32, seed 0) = 0x"), r.stdout)
        XCTAssertEqual(out.last, "RESULT: PASS")
    }

    func testMeetSimpleURLGoesToTheDirector() throws {
        let r = try testRule(["--config", try sampleConfig(), "https://meet.fabrikam.com/alice/ABC123"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("test-rule https://meet.fabrikam.com/alice/ABC123 from client 127.0.0.1\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  rule      rule 'simple-urls' forwards to farm 'webdirext'\n"), r.stdout)
        XCTAssertTrue(
            r.stdout.contains(
                "PASS  member    farm 'webdirext' member dir1.contoso.local:4443 (TLS, verified as webdirext.contoso.com against /nonexistent/internal-root.pem)\n"),
            r.stdout)
    }

    func testLyncdiscoverOverHTTP() throws {
        let r = try testRule(["--config", try sampleConfig(), "http://lyncdiscover.contoso.com/?sipuri=alice@contoso.com"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("PASS  listener  'http' http 0.0.0.0:80\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  rule      rule 'lyncdiscover-http' forwards to farm 'webdirext-http'\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("member dir1.contoso.local:8080 (plain HTTP)"), r.stdout)
    }

    func testAdminIsDenied() throws {
        let r = try testRule(["--config", try sampleConfig(), "https://admin.contoso.com/cscp"])
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stdout.contains("FAIL  rule      rule 'block-admin' is a deny rule: 403\n"), r.stdout)
        XCTAssertFalse(r.stdout.contains(" member "), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("RESULT: FAIL\n"), r.stdout)
    }

    func testExplainsWithTheNormalisedPath() throws {
        let config = try sampleConfig()
        let r = try testRule(["--config", config, "https://webext.contoso.com/%64atacollabweb/./Ext//Handler"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("PASS  rule      rule 'webext-datacollab' forwards to farm 'webext'\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("rules match the path as the member reads it: '/datacollabweb/Ext/Handler'"), r.stdout)
        let refused = try testRule(["--config", config, "https://webext.contoso.com/a%00"])
        XCTAssertEqual(refused.status, 1, "\(refused)")
        XCTAssertTrue(refused.stdout.contains("FAIL  rule      path '/a%00' is refused: a control byte (such as %00): 400\n"), refused.stdout)
    }

    func testNoRule() throws {
        let r = try testRule(["--config", try sampleConfig(), "https://www.contoso.com/"])
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stdout.contains("FAIL  rule      no rule matches host 'www.contoso.com' path '/' on listener 'https': 404\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("rule 'block-admin': skipped: host is not one of its public names"), r.stdout)
    }

    func testJSON() throws {
        let r = try testRule(["--config", try sampleConfig(), "https://webext.contoso.com/DataCollabWeb/Ext/Handler", "--json", "--cookie", "MS-WSMAN=abc"])
        XCTAssertEqual(r.status, 0, "\(r)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["url"] as? String, "https://webext.contoso.com/DataCollabWeb/Ext/Handler")
        XCTAssertEqual(object["client"] as? String, "127.0.0.1")
        XCTAssertEqual(object["result"] as? String, "pass")
        let steps = try XCTUnwrap(object["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["step"] as? String }, ["worker", "listener", "rule", "member"])
        XCTAssertEqual(steps[2]["reason"] as? String, "rule 'webext-datacollab' forwards to farm 'webext'")
        XCTAssertEqual(Set(steps[0].keys), ["step", "result", "reason", "details"])
        let memberDetails = try XCTUnwrap(steps[3]["details"] as? [String])
        XCTAssertTrue(memberDetails.contains("cookie MS-WSMAN ignored: the farm uses source persistence"), "\(memberDetails)")
    }

    func testBadArguments() throws {
        let config = try sampleConfig()
        let r1 = try testRule(["--config", config, "meet.contoso.com"])
        XCTAssertEqual(r1.status, 1)
        XCTAssertTrue(r1.stderr.contains("edgesplit: error: test-rule: 'meet.contoso.com': expected a URL"), r1.stderr)
        let r2 = try testRule(["--config", config, "https://meet.contoso.com/", "--client", "nobody"])
        XCTAssertEqual(r2.status, 1)
        XCTAssertTrue(r2.stderr.contains("--client 'nobody' is not an IPv4 or IPv6 address"), r2.stderr)
    }

    // MARK: --probe

    /// A one-rule publication of `member` (TLS, verified against `ca` as pool01.contoso.local).
    func probeConfig(memberPort: Int, ca: String) throws -> String {
        try write(
            "probe.yaml",
            """
            workers: 1
            listeners: [ { name: https, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: /nonexistent/c.pem, key: /nonexistent/c.key } ] } } ]
            farms: [ { name: pool, members: ["127.0.0.1:\(memberPort)"], tls: { ca: \(ca), server_name: pool01.contoso.local } } ]
            rules: [ { name: webext, public_names: [webext.contoso.com], farm: pool } ]
            """)
    }

    func testProbePassesAgainstAMemberOfTheInternalCA() throws {
        let ca = try certificateAuthority("internal")
        let port = try tlsMember(try issue("pool", names: ["pool01.contoso.local"], by: ca))
        let r = try testRule(["--config", try probeConfig(memberPort: port, ca: ca.cert), "https://webext.contoso.com:8443/meet", "--probe"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("PASS  dns       127.0.0.1 is an address literal\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  tcp       connected to 127.0.0.1:\(port) in "), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  tls       handshake TLS 1."), r.stdout)
        XCTAssertTrue(r.stdout.contains("member certificate: CN=pool01.contoso.local, valid until "), r.stdout)
        XCTAssertTrue(r.stdout.contains("SANs: DNS:pool01.contoso.local\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("certificate verified for pool01.contoso.local against the CA in '\(ca.cert)'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  http      200 ok"), r.stdout)
        XCTAssertTrue(r.stdout.contains("GET /meet with Host: webext.contoso.com:8443, anonymous"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("RESULT: PASS\n"), r.stdout)
    }

    func testProbeFailsAtTLSWithTheWrongCA() throws {
        let ca = try certificateAuthority("internal")
        let other = try certificateAuthority("other")
        let port = try tlsMember(try issue("pool", names: ["pool01.contoso.local"], by: ca))
        let r = try testRule(["--config", try probeConfig(memberPort: port, ca: other.cert), "https://webext.contoso.com:8443/", "--probe"])
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stdout.contains("PASS  tcp "), r.stdout)
        XCTAssertTrue(r.stdout.contains("FAIL  tls       handshake with 127.0.0.1:\(port) failed (server name pool01.contoso.local, trust: the CA in '\(other.cert)'): "), r.stdout)
        XCTAssertTrue(r.stdout.contains("SKIP  http      not run: an earlier step failed\n"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("RESULT: FAIL\n"), r.stdout)
    }

    func testProbeFailsAtTCPWhenRefused() throws {
        let ca = try certificateAuthority("internal")
        let port = freePort()
        let r = try testRule(["--config", try probeConfig(memberPort: port, ca: ca.cert), "https://webext.contoso.com:8443/", "--probe"])
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertTrue(r.stdout.contains("PASS  dns "), r.stdout)
        XCTAssertTrue(r.stdout.contains("FAIL  tcp       cannot connect to 127.0.0.1:\(port): "), r.stdout)
        XCTAssertTrue(r.stdout.contains("SKIP  tls "), r.stdout)
        XCTAssertTrue(r.stdout.contains("SKIP  http "), r.stdout)
    }
}

extension TestRuleCommandTests {
    /// The anonymous GET of TMG's Test Rule: a 401 passes and lists the schemes offered.
    func testProbeReportsAuthenticationSchemes() throws {
        let port = try plainMember(
            response: "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let config = try write(
            "plain.yaml",
            """
            listeners: [ { name: http, address: 127.0.0.1, port: 8080 } ]
            farms: [ { name: pool-http, members: ["127.0.0.1:\(port)"] } ]
            rules: [ { name: webext-http, public_names: [webext.contoso.com], farm: pool-http, forward_original_host: false } ]
            """)
        let r = try testRule(["--config", config, "http://webext.contoso.com:8080/abs/handler?x=%2F", "--probe"])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertTrue(r.stdout.contains("Host sent to the member: the member's host:port (forward_original_host: false)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("SKIP  tls       plain HTTP farm: no TLS to the member\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PASS  http      401 Unauthorized: offers Negotiate, NTLM (clients authenticate directly)\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("GET /abs/handler?x=%2F with Host: 127.0.0.1:\(port), anonymous"), r.stdout)
    }

    func testProbeFailsOnAServerError() throws {
        let port = try plainMember(response: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let config = try write(
            "plain.yaml",
            """
            listeners: [ { name: http, address: 127.0.0.1, port: 8080 } ]
            farms: [ { name: pool-http, members: ["127.0.0.1:\(port)"] } ]
            rules: [ { name: webext-http, public_names: [webext.contoso.com], farm: pool-http } ]
            """)
        let r = try testRule(["--config", config, "http://webext.contoso.com:8080/", "--probe", "--json"])
        XCTAssertEqual(r.status, 1, "\(r)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["result"] as? String, "fail")
        let steps = try XCTUnwrap(object["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["step"] as? String }, ["worker", "listener", "rule", "member", "dns", "tcp", "tls", "http"])
        XCTAssertEqual(steps.map { $0["result"] as? String }, ["pass", "pass", "pass", "pass", "pass", "pass", "skip", "fail"])
        XCTAssertEqual(steps[7]["reason"] as? String, "503 Service Unavailable from the member")
    }
}
