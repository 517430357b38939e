import Demo
import Foundation
import NIOSSL

/// Certificates the tests make once per run: a "public" CA for the listener side, an
/// "internal" CA for farm members (the Lync Front End pool), and an unrelated CA that must
/// never be trusted. Names end in `.test` and addresses are loopback only.
enum TestPKI {
    static let publicCA = try! CertificateAuthority.make(commonName: "edgesplit test public CA")
    static let internalCA = try! CertificateAuthority.make(commonName: "edgesplit test internal CA")
    static let otherCA = try! CertificateAuthority.make(commonName: "edgesplit test unrelated CA")

    /// The default listener certificate: `webext.contoso.test`.
    static let webext = try! publicCA.issue(commonName: "webext.contoso.test", dnsNames: ["webext.contoso.test"])
    /// A farm member's certificate, as a Front End pool presents it on 4443 (DNS name only).
    static let pool = try! internalCA.issue(commonName: "pool.test", dnsNames: ["pool.test"])
    /// A member certificate for a member configured by address: an IP SAN for 127.0.0.1.
    static let poolByAddress = try! internalCA.issue(commonName: "fe1.test", dnsNames: ["fe1.test"], ipAddresses: ["127.0.0.1"])

    /// The in-memory "files" a configuration names with `mem:` paths.
    static func files(_ entries: [String: IssuedCertificate], cas: [String: CertificateAuthority] = [:]) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for (name, issued) in entries {
            files["mem:\(name).pem"] = issued.certificatePEMBytes
            files["mem:\(name).key"] = issued.privateKeyPEMBytes
        }
        for (name, ca) in cas { files["mem:\(name).pem"] = ca.root.certificatePEMBytes }
        return files
    }

    /// A client TLS context that trusts only `ca`.
    static func clientContext(trusting ca: CertificateAuthority) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: ca.root.certificatePEMBytes, format: .pem)])
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// A server TLS context for a recording backend.
    static func serverContext(_ issued: IssuedCertificate) throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: issued.certificatePEMBytes, format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: issued.privateKeyPEMBytes, format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes `ca`'s root to a temporary file for curl's `--cacert`; the caller removes it.
    static func writeTemporaryPEM(_ ca: CertificateAuthority) throws -> String {
        let path = NSTemporaryDirectory() + "edgesplit-ca-\(UUID().uuidString).pem"
        try ca.root.certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
