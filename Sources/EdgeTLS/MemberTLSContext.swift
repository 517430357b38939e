import NIOSSL
import Publishing

/// TLS toward a farm's members (Lync Front Ends listen on 4443 with certificates from the
/// internal CA): the members are verified against `tls.ca` and `tls.server_name`.
///
/// Without `server_name` the member's host name is checked, or, for a member given as an
/// IP literal, the address itself (the certificate must carry it as an IP SAN).
public final class MemberTLSContext: Sendable {
    public let context: NIOSSLContext
    public let serverName: String?
    public let verifies: Bool

    public init(farm: Farm, tls: FarmTLS, readFile: (String) throws -> [UInt8]) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = ListenerCertificates.tls12CipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        if let ca = tls.ca {
            let bytes: [UInt8]
            do {
                bytes = try readFile(ca)
            } catch {
                throw SetupError(tls.position, "farm '\(farm.name)': \(error)")
            }
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMBytes(bytes)
            } catch {
                throw SetupError(tls.position, "farm '\(farm.name)': '\(ca)' is not a PEM CA certificate (\(error))")
            }
            guard !roots.isEmpty else {
                throw SetupError(tls.position, "farm '\(farm.name)': '\(ca)' holds no certificate")
            }
            configuration.trustRoots = .certificates(roots)
        }
        configuration.certificateVerification = tls.verify ? .fullVerification : .none
        do {
            self.context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SetupError(tls.position, "farm '\(farm.name)': cannot build a TLS client context (\(error))")
        }
        self.serverName = tls.serverName
        self.verifies = tls.verify
    }

    /// The name sent as SNI and verified for `member`; nil for IP literals without
    /// `server_name` (then NIOSSL checks the certificate against the peer's address).
    public func serverName(for member: FarmMember) -> String? {
        if let serverName { return serverName }
        return member.isLiteralAddress ? nil : member.host
    }
}
