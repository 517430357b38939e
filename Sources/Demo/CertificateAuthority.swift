import Crypto
import Foundation
import X509

/// An in-memory certification authority: the demo's stand-in for the internal enterprise CA that
/// issues Lync Front End and Director certificates.
///
/// The proxy must trust this root to re-encrypt to the pool on 4443 ("the RP must trust the
/// internal root CA that issued the FE/Director certificates", lync-publishing.md §1), so the demo
/// hands the root PEM to the proxy as `demo:internal-ca.pem` and issues every backend certificate
/// from here.
public struct CertificateAuthority: Sendable {
    /// The self-signed root certificate and its key.
    public let root: IssuedCertificate
    /// The root's signing key, kept as a key object so issuing needs no PEM parsing.
    let signingKey: P256.Signing.PrivateKey

    /// Creates a new root CA with a fresh P-256 key.
    ///
    /// The root carries a critical `basicConstraints cA=TRUE, pathLen=0` (it only signs leaves)
    /// and a critical KeyUsage `keyCertSign, cRLSign`, which is what RFC 5280 verifiers (BoringSSL,
    /// swift-certificates) require of an issuer.
    ///
    /// - Parameters:
    ///   - commonName: the root's CN, e.g. `Contoso Internal Root CA (demo)`.
    ///   - validityDays: days of validity; the default is ten years.
    public static func make(commonName: String, validityDays: Int = 3650) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("edgesplit demo")
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let root = try CertificateFactory.sign(
            subject: subject,
            subjectKey: key,
            issuer: subject,
            issuerKey: key,
            extensions: extensions,
            validityDays: validityDays,
            notBefore: nil
        )
        return CertificateAuthority(root: root, signingKey: key)
    }

    /// Issues a server (leaf) certificate signed by this CA.
    ///
    /// The leaf has EKU `serverAuth`, KeyUsage `digitalSignature` (ECDHE-ECDSA needs nothing
    /// else), `basicConstraints cA=FALSE`, the given SANs (modern clients ignore the CN), and an
    /// AuthorityKeyIdentifier pointing at this root so chain building is unambiguous.
    ///
    /// - Parameters:
    ///   - commonName: subject CN, e.g. `pool.contoso.test`.
    ///   - dnsNames: DNS SANs; include the CN if it is a host name clients verify.
    ///   - ipAddresses: IPv4/IPv6 literals for IP SANs.
    ///   - validityDays: days of validity from `notBefore`.
    ///   - notBefore: start of validity, defaults to five minutes ago; pass a past date with a short
    ///     validity to make an expired certificate for negative tests.
    public func issue(
        commonName: String,
        dnsNames: [String],
        ipAddresses: [String] = [],
        validityDays: Int = 30,
        notBefore: Date? = nil
    ) throws -> IssuedCertificate {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("edgesplit demo")
            CommonName(commonName)
        }
        let issuerKeyIdentifier = try root.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            try CertificateFactory.subjectAlternativeNames(dnsNames: dnsNames, ipAddresses: ipAddresses)
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            AuthorityKeyIdentifier(keyIdentifier: issuerKeyIdentifier)
        }
        return try CertificateFactory.sign(
            subject: subject,
            subjectKey: key,
            issuer: root.certificate.subject,
            issuerKey: signingKey,
            extensions: extensions,
            validityDays: validityDays,
            notBefore: notBefore
        )
    }
}
