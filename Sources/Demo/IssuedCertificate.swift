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

    /// The certificate as PEM bytes (what a file read returns).
    public var certificatePEMBytes: [UInt8] { Array(certificatePEM.utf8) }
    /// The private key as PEM bytes (what a file read returns).
    public var privateKeyPEMBytes: [UInt8] { Array(privateKeyPEM.utf8) }
}
