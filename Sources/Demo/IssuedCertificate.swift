import X509

/// A certificate and its private key, both as PEM text, as the demo hands them to the proxy.
///
/// The proxy's TLS loader reads PEM "files", so PEM is the currency here; the parsed
/// ``certificate`` rides along so callers (tests, the CLI's banner) can inspect names and dates
/// without parsing the PEM again.
public struct IssuedCertificate: Sendable {
    /// The certificate, `-----BEGIN CERTIFICATE-----` PEM.
    public let certificatePEM: String
    /// The P-256 private key as PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM, which both
    /// swift-certificates and NIOSSL (BoringSSL) read.
    public let privateKeyPEM: String
    /// The parsed certificate.
    public let certificate: X509.Certificate

    /// Wraps PEM text made elsewhere (a test fixture, a file), checking that the certificate
    /// parses and that the key belongs to it, so a mismatched pair fails here rather than in a
    /// TLS handshake.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        let certificate = try Certificate(pemEncoded: certificatePEM)
        let key = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        guard key.publicKey == certificate.publicKey else { throw DemoError.keyDoesNotMatchCertificate }
        self.init(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM, certificate: certificate)
    }

    init(certificatePEM: String, privateKeyPEM: String, certificate: X509.Certificate) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.certificate = certificate
    }

    /// The certificate as PEM bytes (what a file read returns).
    public var certificatePEMBytes: [UInt8] { Array(certificatePEM.utf8) }
    /// The private key as PEM bytes (what a file read returns).
    public var privateKeyPEMBytes: [UInt8] { Array(privateKeyPEM.utf8) }
}
