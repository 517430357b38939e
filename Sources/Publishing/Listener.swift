/// An address and port edgesplit accepts connections on; with `tls` it terminates TLS.
public struct Listener: Hashable, Sendable {
    public var name: String
    /// An IPv4 or IPv6 literal, without brackets. "::" listens dual stack.
    public var address: String
    public var port: Int
    public var tls: ListenerTLS?
    /// Names passed through at L4 by SNI, matched before the L7 rules (needs `tls`: a
    /// ClientHello that matches no route continues as L7 on the same connection).
    public var l4Routes: [L4Route]
    public var position: SourcePosition

    public init(name: String, address: String, port: Int, tls: ListenerTLS? = nil, l4Routes: [L4Route] = [], position: SourcePosition) {
        self.name = name
        self.address = address
        self.port = port
        self.tls = tls
        self.l4Routes = l4Routes
        self.position = position
    }

    /// True for "0.0.0.0" and "::" (any local address).
    public var isWildcard: Bool { address == "0.0.0.0" || address == "::" }
}

public enum TLSMinimumVersion: String, Hashable, Sendable, CaseIterable {
    case tls12 = "1.2"
    case tls13 = "1.3"
}

public struct ListenerTLS: Hashable, Sendable {
    /// Chosen by SNI among these; the first is the default for clients without SNI.
    public var certificates: [CertificateSource]
    public var minVersion: TLSMinimumVersion
    public var position: SourcePosition

    public init(certificates: [CertificateSource], minVersion: TLSMinimumVersion = .tls12, position: SourcePosition) {
        self.certificates = certificates
        self.minVersion = minVersion
        self.position = position
    }
}

/// Where a listener certificate and its key are read from (read elsewhere, not here).
public struct CertificateSource: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// PEM certificate chain and PEM private key.
        case pem(cert: String, key: String)
        /// PKCS#12 bundle, with an optional file holding its password.
        case pfx(path: String, passwordFile: String?)
    }

    public var kind: Kind
    /// A DER OCSP response for this certificate, stapled to handshakes (RFC 6066 §8) and
    /// read again whenever the file changes; nil = no stapling.
    public var ocsp: String?
    public var position: SourcePosition

    public init(kind: Kind, ocsp: String? = nil, position: SourcePosition) {
        self.kind = kind
        self.ocsp = ocsp
        self.position = position
    }
}
