import Foundation
import XCTest

/// `edgesplit check` on Lync publications: findings from the real listener certificates and
/// the rules, as `file:line:column: severity: lync: subject: reason; users see: symptom [kind]`.
final class LyncCheckCommandTests: LyncCommandTestCase {
    func config(certificate: (cert: String, key: String), webext: String = "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool }") -> String {
        """
        listeners:
          - { name: https, address: 127.0.0.1, port: 8443, tls: { certificates: [ { cert: \(certificate.cert), key: \(certificate.key) } ] } }
        farms:
          - { name: pool, members: ["127.0.0.1:4443"], tls: { server_name: webext.contoso.com } }
        rules:
          - \(webext)
          - { name: simple-urls, listeners: [https], public_names: [meet.contoso.com, dialin.contoso.com], farm: pool }
          - { name: lyncdiscover, listeners: [https], public_names: [lyncdiscover.contoso.com], farm: pool }
          - { name: block-admin, public_names: [admin.contoso.com], action: deny }
        """
    }

    let allNames = ["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com", "lyncdiscover.contoso.com"]

    func check(_ yaml: String) throws -> (Result, String) {
        let path = try write("lync.yaml", yaml)
        return (try edgesplit(["check", "--config", path]), path)
    }

    func testCorrectPublicationIsOK() throws {
        let (r, path) = try check(config(certificate: try selfSigned("public", subject: "webext.contoso.com", names: allNames)))
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(r.stdout, "\(path): OK: 1 listeners, 1 farms, 4 rules\n")
        XCTAssertEqual(r.stderr, "")
    }

    func testNameMissingFromCertificateIsAnError() throws {
        let cert = try selfSigned("public", subject: "webext.contoso.com", names: allNames.filter { $0 != "lyncdiscover.contoso.com" })
        let (r, path) = try check(config(certificate: cert))
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(
            r.stderr,
            "\(path):8:5: error: lync: rule 'lyncdiscover': public name 'lyncdiscover.contoso.com' on listener 'https' is not covered by its certificate (SANs: webext.contoso.com, meet.contoso.com, dialin.contoso.com); users see: mobile clients get a server hello without a matching certificate and drop the session: sign-in fails; browsers warn [name-not-on-certificate]\n"
        )
    }

    func testSubjectNotInSANsAndWildcardSubjectAreWarnings() throws {
        let (r1, path1) = try check(config(certificate: try selfSigned("a", subject: "proxy.contoso.com", names: allNames)))
        XCTAssertEqual(r1.status, 0, "\(r1)")
        XCTAssertTrue(r1.stderr.hasPrefix("\(path1):2:75: warning: lync: listener 'https': the certificate's subject name 'proxy.contoso.com' is not among its SANs"), r1.stderr)
        XCTAssertTrue(r1.stderr.contains("users see: clients that check the subject name (older Lync clients, phones) refuse the connection [subject-not-in-sans]"), r1.stderr)

        let (r2, _) = try check(config(certificate: try selfSigned("b", subject: "*.contoso.com", names: ["*.contoso.com", "webext.contoso.com"])))
        XCTAssertEqual(r2.status, 0, "\(r2)")
        XCTAssertTrue(r2.stderr.contains("warning: lync: listener 'https': the certificate's subject is the wildcard '*.contoso.com'"), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("users see: desk phones and some Lync clients fail to connect or sign in [wildcard-subject]"), r2.stderr)
    }

    func testHostNotForwardedIsAnError() throws {
        let cert = try selfSigned("public", subject: "webext.contoso.com", names: allNames)
        let (r, path) = try check(
            config(certificate: cert, webext: "{ name: webext, listeners: [https], public_names: [webext.contoso.com], farm: pool, forward_original_host: false }"))
        XCTAssertEqual(r.status, 1, "\(r)")
        XCTAssertEqual(
            r.stderr,
            "\(path):6:5: error: lync: rule 'webext': forward_original_host is false; Lync's external web services route by the Host the client sent; users see: Lync web services answer for the wrong site: links, simple URLs and mobility fail [host-not-forwarded]\n"
        )
    }

    func testNonLyncConfigurationGetsNoLyncFindings() throws {
        let (r, path) = try check(
            """
            listeners: [ { name: web, address: 127.0.0.1, port: 8080 } ]
            farms: [ { name: app, members: ["127.0.0.1:9000", "127.0.0.1:9001"], persistence: none } ]
            rules: [ { name: app, public_names: [app.contoso.test], farm: app, forward_original_host: false } ]
            """)
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(r.stdout, "\(path): OK: 1 listeners, 1 farms, 1 rules\n")
        XCTAssertEqual(r.stderr, "")
    }
}
