import Foundation
import XCTest

/// An RSA certificate's handshake signatures come from the host's OpenSSL (`HostRSAKey`): an
/// OpenSSL client asks for each signature scheme in turn, over TLS 1.3 and 1.2, and verifies
/// the signature against the certificate; the key may come from PEM or PKCS#12. An ECDSA
/// certificate on the same listener stays with BoringSSL.
final class RSASigningTests: ProxyTestCase {
    /// A self-signed RSA-2048 certificate for rsa.contoso.test, made by the openssl CLI, as
    /// PEM files and as a PKCS#12 bundle (password "edgesplit").
    struct Material {
        let directory: String
        var certificate: String { directory + "/rsa.pem" }
        let files: [String: [UInt8]]
    }

    private func makeMaterial() throws -> Material {
        let directory = NSTemporaryDirectory() + "edgesplit-rsa-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let req = try runProgram("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=rsa.contoso.test",
            "-addext", "subjectAltName=DNS:rsa.contoso.test", "-keyout", directory + "/rsa.key", "-out", directory + "/rsa.pem",
        ])
        XCTAssertEqual(req.status, 0, req.error)
        let pfx = try runProgram("/usr/bin/openssl", [
            "pkcs12", "-export", "-in", directory + "/rsa.pem", "-inkey", directory + "/rsa.key",
            "-passout", "pass:edgesplit", "-out", directory + "/rsa.pfx",
        ])
        XCTAssertEqual(pfx.status, 0, pfx.error)
        var files = TestPKI.files(["webext": TestPKI.webext])
        for name in ["rsa.pem", "rsa.key", "rsa.pfx"] {
            files["mem:\(name)"] = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
        }
        files["mem:rsa.pass"] = Array("edgesplit\n".utf8)
        return Material(directory: directory, files: files)
    }

    private func yaml(member: String, rsa: String) -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1
            port: 1
            tls: { certificates: [\(rsa), { cert: "mem:webext.pem", key: "mem:webext.key" }] }
        farms:
          - { name: pool, members: ["\(member)"] }
        rules:
          - { name: web, public_names: [rsa.contoso.test, webext.contoso.test], farm: pool }
        """
    }

    /// `openssl s_client` limited to one signature scheme and one TLS version; it fails the
    /// handshake when the server's signature does not verify against the certificate.
    private func handshake(_ port: Int, scheme: String, version: String, caFile: String) throws -> String {
        let result = try runProgram("/usr/bin/openssl", [
            "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "rsa.contoso.test", "-verify_hostname", "rsa.contoso.test",
            "-CAfile", caFile, "-verify_return_error", "-sigalgs", scheme, version, "-brief",
        ], input: "/dev/null")
        XCTAssertEqual(result.status, 0, "\(scheme) \(version): \(result.error)")
        return result.error
    }

    func testEverySchemeVerifiesOverTLS13And12() throws {
        let material = try makeMaterial()
        let backend = try startBackend { _ in .send(RecordingBackend.ok("rsa")) }
        let proxy = try startProxy(yaml(member: backend.member, rsa: "{ cert: \"mem:rsa.pem\", key: \"mem:rsa.key\" }"), files: material.files)

        let signers = try proxy.server.stats().wait().certificates.map(\.signer)
        XCTAssertEqual(signers.count, 2)
        XCTAssertTrue(signers[0].hasPrefix("OpenSSL 3"), "RSA certificate signed by \(signers[0])")
        XCTAssertEqual(signers[1], "BoringSSL")

        let cases: [(scheme: String, versions: [String], type: String, digest: String)] = [
            ("rsa_pss_rsae_sha256", ["-tls1_3", "-tls1_2"], "RSA-PSS", "SHA256"),
            ("rsa_pss_rsae_sha384", ["-tls1_3", "-tls1_2"], "RSA-PSS", "SHA384"),
            ("rsa_pss_rsae_sha512", ["-tls1_3", "-tls1_2"], "RSA-PSS", "SHA512"),
            ("rsa_pkcs1_sha256", ["-tls1_2"], "RSA", "SHA256"),
            ("rsa_pkcs1_sha384", ["-tls1_2"], "RSA", "SHA384"),
            ("rsa_pkcs1_sha512", ["-tls1_2"], "RSA", "SHA512"),
        ]
        for (scheme, versions, type, digest) in cases {
            for version in versions {
                let report = try handshake(proxy.port, scheme: scheme, version: version, caFile: material.certificate)
                XCTAssertTrue(report.contains("Verification: OK"), "\(scheme) \(version): \(report)")
                XCTAssertTrue(report.contains("Signature type: \(type)\n"), "\(scheme) \(version): \(report)")
                XCTAssertTrue(report.contains("Hash used: \(digest)"), "\(scheme) \(version): \(report)")
            }
        }
        // TLS 1.3 forbids PKCS#1 v1.5 signatures in the handshake: refused, not signed.
        let refused = try runProgram("/usr/bin/openssl", [
            "s_client", "-connect", "127.0.0.1:\(proxy.port)", "-servername", "rsa.contoso.test",
            "-sigalgs", "rsa_pkcs1_sha256", "-tls1_3", "-brief",
        ], input: "/dev/null")
        XCTAssertNotEqual(refused.status, 0, refused.error)

        // A request over it, with curl verifying the certificate.
        let result = try runCurl([
            "--resolve", "rsa.contoso.test:\(proxy.port):127.0.0.1", "--cacert", material.certificate,
            "https://rsa.contoso.test:\(proxy.port)/",
        ])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertEqual(result.output, "rsa")
    }

    func testAKeyFromPKCS12IsSignedByTheHostToo() throws {
        let material = try makeMaterial()
        let backend = try startBackend()
        let proxy = try startProxy(
            yaml(member: backend.member, rsa: "{ pfx: \"mem:rsa.pfx\", password_file: \"mem:rsa.pass\" }"), files: material.files)
        XCTAssertTrue(try proxy.server.stats().wait().certificates[0].signer.hasPrefix("OpenSSL 3"))
        for version in ["-tls1_3", "-tls1_2"] {
            let report = try handshake(proxy.port, scheme: "rsa_pss_rsae_sha256", version: version, caFile: material.certificate)
            XCTAssertTrue(report.contains("Verification: OK"), "\(version): \(report)")
        }
    }
}
