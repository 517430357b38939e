import Foundation
import Publishing
import XCTest

/// `edgesplit init lync`: the file it writes passes `check` (generic and Lync) and serves as it is.
final class LyncInitTests: LyncCommandTestCase {
    /// Names on the sample's public certificate: every public name of the deployment.
    let publicNames = [
        "webext.contoso.com", "webdirext.contoso.com", "meet.contoso.com", "meet.fabrikam.com", "dialin.contoso.com",
        "lyncdiscover.contoso.com", "lyncdiscover.fabrikam.com", "officewebapps01.contoso.com",
    ]

    func sampleArguments(certificate: (cert: String, key: String), ca: String) -> [String] {
        [
            "init", "lync", "--sip-domain", "contoso.com", "--sip-domain", "fabrikam.com",
            "--pool", "webext.contoso.com=fe1.contoso.local,fe2.contoso.local",
            "--director", "webdirext.contoso.com=dir1.contoso.local",
            "--office-web-apps", "officewebapps01.contoso.com=owas1.contoso.local",
            "--certificate", certificate.cert, "--key", certificate.key, "--internal-ca", ca, "--http-autodiscover",
        ]
    }

    func testSampleDeploymentPassesCheck() throws {
        let certificate = try selfSigned("public", subject: "webext.contoso.com", names: publicNames)
        let ca = try certificateAuthority("internal")
        let output = directory + "/lync.yaml"
        let written = try edgesplit(sampleArguments(certificate: certificate, ca: ca.cert) + ["--output", output])
        XCTAssertEqual(written.status, 0, "\(written)")
        XCTAssertEqual(written.stdout, "")
        XCTAssertTrue(written.stderr.contains("wrote \(output)"), written.stderr)

        let yaml = read(output)
        let loaded = ConfigLoader.load(yaml: yaml, file: output)
        XCTAssertEqual(loaded.diagnostics, [])
        let config = try XCTUnwrap(loaded.config)
        XCTAssertEqual(
            config.rules.map(\.name),
            ["lyncdiscover-http", "webext-datacollab", "webext", "webdirext", "simple-urls", "lyncdiscover", "officewebapps01", "block-admin"])
        XCTAssertEqual(config.listeners.map(\.port), [443, 80])
        XCTAssertEqual(config.farms.map { $0.members.map(\.port) }, [[4443, 4443], [4443], [8080], [443]])
        XCTAssertTrue(config.rules.filter { $0.action == .allow }.allSatisfy { $0.timeouts.response == .seconds(960) && $0.timeouts.idle == .seconds(1800) })
        XCTAssertEqual(config.rules[1].maxBody, 500_000_000)
        XCTAssertTrue(yaml.hasPrefix("# edgesplit configuration for Lync Server"))

        let checked = try edgesplit(["check", "--config", output])
        XCTAssertEqual(checked.status, 0, "\(checked)")
        XCTAssertEqual(checked.stdout, "\(output): OK: 2 listeners, 4 farms, 8 rules\n")
        XCTAssertFalse(checked.stderr.contains(": error: "), checked.stderr)
        XCTAssertFalse(checked.stderr.contains("lync:"), checked.stderr)
    }

    func testStandardOutputByDefault() throws {
        let r = try edgesplit([
            "init", "lync", "--sip-domain", "contoso.com", "--pool", "webext.contoso.com=fe1.contoso.local", "--pfx", "/etc/edgesplit/p.pfx",
            "--lync2010",
        ])
        XCTAssertEqual(r.status, 0, "\(r)")
        let config = try XCTUnwrap(ConfigLoader.load(yaml: r.stdout, file: "-").config)
        XCTAssertEqual(config.farms[0].persistence, .cookie)
        XCTAssertEqual(config.farms[0].cookieKey?.count, 64)
        XCTAssertEqual(config.listeners[0].tls?.certificates[0].kind, .pfx(path: "/etc/edgesplit/p.pfx", passwordFile: nil))
    }

    func testBadFlagsAreClearErrors() throws {
        func fails(_ args: [String], _ fragment: String, line: UInt = #line) throws {
            let r = try edgesplit(["init", "lync"] + args)
            XCTAssertEqual(r.status, 1, "\(r)", line: line)
            XCTAssertTrue(r.stderr.hasPrefix("edgesplit: error: init lync: "), r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(fragment), r.stderr, line: line)
        }
        let base = ["--sip-domain", "contoso.com", "--pool", "webext.contoso.com=fe1"]
        try fails(["--pool", "webext.contoso.com=fe1", "--certificate", "c", "--key", "k"], "give at least one --sip-domain")
        try fails(base, "give the listener certificate")
        try fails(base + ["--certificate", "c"], "--certificate needs --key")
        try fails(base + ["--certificate", "c", "--key", "k", "--pfx", "p"], "not both")
        try fails(["--sip-domain", "contoso.com", "--pool", "webext.contoso.com", "--pfx", "p"], "--pool 'webext.contoso.com': expected EXTERNAL_FQDN=MEMBER")
        try fails(base + ["--pfx", "p", "--server-name", "other.contoso.com=pool.contoso.local"], "no --pool, --director or --office-web-apps has that external FQDN")
        try fails(base + ["--pfx", "p", "--meet", "admin.contoso.com"], "internal only")
    }

    /// The written file, unchanged, runs: TLS from the client, re-encryption to members
    /// verified by the internal CA and --server-name, simple URLs to the Director, admin denied.
    func testOutputServesAsIs() throws {
        let ca = try certificateAuthority("internal")
        let pool = try tlsMember(try issue("pool", names: ["pool01.contoso.local"], by: ca))
        let director = try tlsMember(try issue("director", names: ["webdirext.contoso.com"], by: ca))
        let certificate = try selfSigned("public", subject: "webext.contoso.com", names: publicNames)
        let https = freePort(), http = freePort()
        let output = directory + "/lync.yaml"
        let written = try edgesplit([
            "init", "lync", "--sip-domain", "contoso.com", "--sip-domain", "fabrikam.com",
            "--pool", "webext.contoso.com=127.0.0.1:\(pool)", "--server-name", "webext.contoso.com=pool01.contoso.local",
            "--director", "webdirext.contoso.com=127.0.0.1:\(director)",
            "--certificate", certificate.cert, "--key", certificate.key, "--internal-ca", ca.cert, "--http-autodiscover",
            "--listen", "127.0.0.1", "--https-port", "\(https)", "--http-port", "\(http)", "--instance", "lynctest", "--output", output,
        ])
        XCTAssertEqual(written.status, 0, "\(written)")
        let checked = try edgesplit(["check", "--config", output])
        XCTAssertEqual(checked.status, 0, "\(checked)")
        XCTAssertEqual(checked.stderr, "")

        let (server, _, serverErr) = try launch(Self.binary, ["serve", "--config", output, "--no-bpf", "--workers", "1"], tag: "serve")
        try waitUntilAccepting(https)
        XCTAssertTrue(server.isRunning, read(serverErr))

        // admin. and www. are not on the certificate (nothing to publish): -k for those.
        func curl(_ host: String, _ path: String = "/", insecure: Bool = false) throws -> Result {
            try runProcess("/usr/bin/env", ["curl"] + (insecure ? ["-k"] : []) + [
                "-sS", "--max-time", "20", "--cacert", certificate.cert, "--resolve", "\(host):\(https):127.0.0.1",
                "-o", "-", "-w", "\n%{http_code}", "https://\(host):\(https)\(path)",
            ])
        }
        let webext = try curl("webext.contoso.com", "/abs/handler")
        XCTAssertTrue(webext.stdout.hasSuffix("\n200"), "\(webext)\n\(read(serverErr))")
        XCTAssertTrue(webext.stdout.contains("s_server"), "\(webext)")
        let meet = try curl("meet.fabrikam.com", "/alice/ABC123")
        XCTAssertTrue(meet.stdout.hasSuffix("\n200"), "\(meet)\n\(read(serverErr))")
        let admin = try curl("admin.contoso.com", insecure: true)
        XCTAssertTrue(admin.stdout.hasSuffix("\n403"), "\(admin)")
        let unknown = try curl("www.contoso.com", insecure: true)
        XCTAssertTrue(unknown.stdout.hasSuffix("\n404"), "\(unknown)")

        server.interrupt()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0, read(serverErr))
    }
}
