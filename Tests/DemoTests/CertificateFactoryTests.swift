import Crypto
import Foundation
import NIOSSL
import X509
import XCTest

@testable import Demo

final class CertificateFactoryTests: XCTestCase {
    func testRootIsACertificateAuthority() throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let root = ca.root.certificate
        XCTAssertEqual(root.issuer, root.subject)
        XCTAssertEqual(try root.extensions.basicConstraints, .isCertificateAuthority(maxPathLength: 0))
        XCTAssertEqual(try root.extensions.keyUsage?.keyCertSign, true)
        XCTAssertTrue(root.publicKey.isValidSignature(root.signature, for: root))
    }

    func testIssuedLeafVerifiesAgainstTheCA() async throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let leaf = try ca.issue(
            commonName: "pool.contoso.test",
            dnsNames: ["pool.contoso.test", "fe1.contoso.test"],
            ipAddresses: ["127.0.0.1", "::1"]
        )
        let certificate = leaf.certificate
        XCTAssertEqual(certificate.issuer, ca.root.certificate.subject)
        XCTAssertTrue(ca.root.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        XCTAssertEqual(try certificate.extensions.basicConstraints, .notCertificateAuthority)
        XCTAssertEqual(try certificate.extensions.keyUsage?.digitalSignature, true)
        XCTAssertEqual(try certificate.extensions.keyUsage?.keyCertSign, false)
        XCTAssertTrue(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) ?? false)
        XCTAssertEqual(
            try certificate.extensions.authorityKeyIdentifier?.keyIdentifier,
            try ca.root.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        )
        let names = try XCTUnwrap(try certificate.extensions.subjectAlternativeNames)
        XCTAssertEqual(names.compactMap { if case .dnsName(let n) = $0 { n } else { nil } }, ["pool.contoso.test", "fe1.contoso.test"])
        XCTAssertEqual(names.compactMap { if case .ipAddress(let a) = $0 { Array(a.bytes) } else { nil } }.map(\.count), [4, 16])

        for (hostname, ip) in [("pool.contoso.test", nil), (nil, "127.0.0.1"), (nil, "::1")] as [(String?, String?)] {
            var verifier = Verifier(rootCertificates: CertificateStore([ca.root.certificate])) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: hostname, serverIP: ip)
            }
            let result = await verifier.validate(leaf: certificate, intermediates: CertificateStore())
            guard case .validCertificate(let chain) = result else {
                return XCTFail("leaf does not verify for \(hostname ?? ip ?? ""): \(result)")
            }
            XCTAssertEqual(Array(chain), [certificate, ca.root.certificate])
        }

        var wrongName = Verifier(rootCertificates: CertificateStore([ca.root.certificate])) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: "director.contoso.test", serverIP: nil)
        }
        guard case .couldNotValidate = await wrongName.validate(leaf: certificate, intermediates: CertificateStore()) else {
            return XCTFail("leaf verified for a name it does not carry")
        }
    }

    func testLeafFromAnotherCADoesNotVerify() async throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let other = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let leaf = try other.issue(commonName: "pool.contoso.test", dnsNames: ["pool.contoso.test"])
        var verifier = Verifier(rootCertificates: CertificateStore([ca.root.certificate])) {
            RFC5280Policy()
        }
        guard case .couldNotValidate = await verifier.validate(leaf: leaf.certificate, intermediates: CertificateStore()) else {
            return XCTFail("a leaf of another CA with the same name verified")
        }
    }

    func testExpiredLeafDoesNotVerify() async throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let leaf = try ca.issue(
            commonName: "pool.contoso.test",
            dnsNames: ["pool.contoso.test"],
            validityDays: 1,
            notBefore: Date().addingTimeInterval(-3 * 86_400)
        )
        XCTAssertLessThan(leaf.certificate.notValidAfter, Date())
        var verifier = Verifier(rootCertificates: CertificateStore([ca.root.certificate])) {
            RFC5280Policy()
        }
        guard case .couldNotValidate = await verifier.validate(leaf: leaf.certificate, intermediates: CertificateStore()) else {
            return XCTFail("an expired leaf verified")
        }
    }

    func testPEMRoundTripsThroughX509AndNIOSSL() throws {
        let ca = try CertificateAuthority.make(commonName: "Contoso Internal Root CA")
        let leaf = try ca.issue(commonName: "director.contoso.test", dnsNames: ["director.contoso.test"])
        for issued in [ca.root, leaf] {
            XCTAssertTrue(issued.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
            XCTAssertTrue(issued.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
            XCTAssertEqual(try Certificate(pemEncoded: issued.certificatePEM), issued.certificate)
            let key = try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM)
            XCTAssertEqual(key.publicKey, issued.certificate.publicKey)

            let nioCertificate = try NIOSSLCertificate(bytes: issued.certificatePEMBytes, format: .pem)
            XCTAssertEqual(try nioCertificate.toDERBytes(), try DERBytes(issued.certificate))
            _ = try NIOSSLPrivateKey(bytes: issued.privateKeyPEMBytes, format: .pem)
        }
    }

    func testWrappingPEMChecksTheKeyBelongsToTheCertificate() throws {
        let one = try CertificateFactory.selfSigned(commonName: "a", dnsNames: ["a"])
        let other = try CertificateFactory.selfSigned(commonName: "b", dnsNames: ["b"])
        let wrapped = try IssuedCertificate(certificatePEM: one.certificatePEM, privateKeyPEM: one.privateKeyPEM)
        XCTAssertEqual(wrapped.certificate, one.certificate)
        XCTAssertThrowsError(try IssuedCertificate(certificatePEM: one.certificatePEM, privateKeyPEM: other.privateKeyPEM)) {
            XCTAssertEqual($0 as? DemoError, .keyDoesNotMatchCertificate)
        }
    }

    func testSelfSignedCoversWildcardNamesAndAddresses() throws {
        let issued = try CertificateFactory.selfSigned(
            commonName: "webext.contoso.test",
            dnsNames: ["webext.contoso.test", "*.contoso.test"],
            ipAddresses: ["127.0.0.1"],
            validityDays: 7
        )
        let certificate = issued.certificate
        XCTAssertEqual(certificate.issuer, certificate.subject)
        XCTAssertTrue(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        XCTAssertEqual(try certificate.extensions.basicConstraints, .notCertificateAuthority)
        XCTAssertTrue(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) ?? false)
        let names = try XCTUnwrap(try certificate.extensions.subjectAlternativeNames)
        XCTAssertTrue(names.contains(.dnsName("*.contoso.test")))
        XCTAssertTrue(names.contains(.dnsName("webext.contoso.test")))
        XCTAssertEqual(
            names.compactMap { if case .ipAddress(let a) = $0 { Array(a.bytes) } else { nil } },
            [[127, 0, 0, 1] as [UInt8]]
        )
        XCTAssertEqual(certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore), 7 * 86_400, accuracy: 1)
        _ = try NIOSSLCertificate(bytes: issued.certificatePEMBytes, format: .pem)
        _ = try NIOSSLPrivateKey(bytes: issued.privateKeyPEMBytes, format: .pem)
    }

    func testBadInputsAreReported() throws {
        let ca = try CertificateAuthority.make(commonName: "CA")
        XCTAssertThrowsError(try ca.issue(commonName: "x", dnsNames: [], ipAddresses: ["300.1.1.1"])) {
            XCTAssertEqual($0 as? DemoError, .invalidIPAddress("300.1.1.1"))
        }
        XCTAssertThrowsError(try ca.issue(commonName: "x", dnsNames: ["x"], validityDays: 0)) {
            XCTAssertEqual($0 as? DemoError, .invalidValidity(days: 0))
        }
    }

    func testNTLMChallengeIsATypeTwoMessage() throws {
        let token = NTLMHandshake.challengeToken
        XCTAssertTrue(token.hasPrefix("TlRMTVNTUAACAAAA"))
        let bytes = try XCTUnwrap(Data(base64Encoded: token))
        XCTAssertEqual(Array(bytes.prefix(8)), Array("NTLMSSP\0".utf8))
        XCTAssertEqual(bytes[8], 2)
        let tail = Array(bytes.suffix(14))
        let units = stride(from: 0, to: tail.count, by: 2).map { UInt16(tail[$0]) | UInt16(tail[$0 + 1]) << 8 }
        XCTAssertEqual(String(decoding: units, as: UTF16.self), "CONTOSO")
    }

    private func DERBytes(_ certificate: Certificate) throws -> [UInt8] {
        try Array(Data(base64Encoded: certificate.serializeAsPEM().pemString
            .split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined())!)
    }
}
