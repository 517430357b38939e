import Crypto
import Foundation
import SwiftASN1  // GeneralName.ipAddress carries an ASN1OctetString; X509 itself depends on SwiftASN1.
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes the demo's certificates in memory: P-256 keys, ECDSA-SHA256 signatures, nothing on disk.
///
/// The demo must run with no files and no network, yet exercise the same TLS paths as a real
/// deployment: a public-facing certificate on the proxy's listener, and an internal CA that
/// issued the Front End / Director certificates the proxy verifies when it re-encrypts to 4443
/// (Lync does not support TLS offload at the reverse proxy, see lync-publishing.md §2).
public enum CertificateFactory {
    /// Backdates `notBefore` a little so a freshly issued certificate is valid for a peer whose
    /// clock runs slightly behind, the usual CA practice.
    static let backdate: TimeInterval = 5 * 60

    /// A self-signed server certificate, used for the demo's public-facing listener.
    ///
    /// It carries no KeyUsage extension and `basicConstraints cA=FALSE`: OpenSSL (curl
    /// `--cacert`) only treats a certificate without `keyCertSign` restrictions as self-issued, so
    /// leaving KeyUsage out lets an operator trust exactly this certificate instead of using `-k`,
    /// while `cA=FALSE` keeps it from signing anything else.
    ///
    /// - Parameters:
    ///   - commonName: the subject CN; Lync's guidance puts a pool's external FQDN here and
    ///     repeats it in the SAN (lync-publishing.md §1, Certificate).
    ///   - dnsNames: DNS subject alternative names (wildcards such as `*.contoso.test` allowed).
    ///   - ipAddresses: IPv4 or IPv6 literals for IP subject alternative names.
    ///   - validityDays: days of validity from `notBefore`.
    ///   - notBefore: start of validity; defaults to five minutes ago.
    public static func selfSigned(
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
        let publicKey = Certificate.PublicKey(key.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth])
            try subjectAlternativeNames(dnsNames: dnsNames, ipAddresses: ipAddresses)
            SubjectKeyIdentifier(hash: publicKey)
        }
        return try sign(
            subject: subject,
            subjectKey: key,
            issuer: subject,
            issuerKey: key,
            extensions: extensions,
            validityDays: validityDays,
            notBefore: notBefore
        )
    }

    /// Signs a certificate for `subjectKey` with `issuerKey` and packages it with its key as PEM.
    static func sign(
        subject: DistinguishedName,
        subjectKey: P256.Signing.PrivateKey,
        issuer: DistinguishedName,
        issuerKey: P256.Signing.PrivateKey,
        extensions: Certificate.Extensions,
        validityDays: Int,
        notBefore: Date?
    ) throws -> IssuedCertificate {
        guard validityDays >= 1 else { throw DemoError.invalidValidity(days: validityDays) }
        let start = notBefore ?? Date().addingTimeInterval(-backdate)
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(subjectKey.publicKey),
            notValidBefore: start,
            notValidAfter: start.addingTimeInterval(TimeInterval(validityDays) * 86_400),
            issuer: issuer,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(issuerKey)
        )
        return IssuedCertificate(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            privateKeyPEM: subjectKey.pemRepresentation,
            certificate: certificate
        )
    }

    /// The SAN extension: DNS names first, then IP addresses (RFC 5280 §4.2.1.6).
    static func subjectAlternativeNames(dnsNames: [String], ipAddresses: [String]) throws -> SubjectAlternativeNames {
        var names = dnsNames.map { GeneralName.dnsName($0) }
        for address in ipAddresses {
            names.append(.ipAddress(ASN1OctetString(contentBytes: try ipAddressBytes(address)[...])))
        }
        return SubjectAlternativeNames(names)
    }

    /// The network-order bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) literal, as an
    /// `iPAddress` GeneralName holds them.
    static func ipAddressBytes(_ text: String) throws -> [UInt8] {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        throw DemoError.invalidIPAddress(text)
    }
}
