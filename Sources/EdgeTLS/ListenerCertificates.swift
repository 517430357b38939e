import Foundation
import NIOSSL
import Publishing
import X509

/// The server certificates of one TLS listener, and the SNI lookup that picks among them.
///
/// Each certificate gets its own `NIOSSLContext`, built once at start and shared by every
/// worker (contexts are thread-safe), so TLS session resumption works whichever worker a
/// client lands on. The name table comes from each certificate's DNS SANs (or its subject
/// CN when it has none): exact names first, then `*.suffix` wildcards; no SNI or an
/// unknown name gets the first certificate, as TMG's single-certificate listener did.
public final class ListenerCertificates: Sendable {
    public struct Entry: Sendable {
        public let context: NIOSSLContext
        /// Lowercased DNS names the certificate covers (`*.contoso.com` kept as written).
        public let names: [String]
        public let subject: String
        public let notValidAfter: Date
        public let source: CertificateSource
        /// Who computes the handshake signatures: the host's OpenSSL for an RSA key
        /// (`HostRSAKey`), BoringSSL otherwise.
        public let signer: String
        /// Session tickets, OCSP staple and resumption counts of `context`.
        package let hooks: TLSContextHooks
    }

    public let entries: [Entry]
    private let exact: [String: Int]
    private let wildcard: [String: Int]

    /// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (forward secrecy).
    /// TLS 1.3 suites are all forward-secret AEADs and are not configurable.
    static let tls12CipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    /// `settings` gives the ticket lifetime announced to clients; tickets are issued once a
    /// key ring is attached with `useTicketKeys(_:)`. `http2`: offer `h2` before `http/1.1` in
    /// ALPN (RFC 7301); clients without ALPN get HTTP/1.1. `readFile` reads the certificates
    /// and keys now; `readOCSPFile` reads each `ocsp` file now and whenever it changes later.
    /// `handshakeDone` hears of every completed handshake, on its thread, and whether it
    /// resumed a session.
    public init(
        listener: Listener, tls: ListenerTLS, settings: TLSSettings = TLSSettings(), http2: Bool = false,
        readFile: (String) throws -> [UInt8], readOCSPFile: @escaping @Sendable (String) throws -> [UInt8],
        handshakeDone: @escaping @Sendable (_ resumed: Bool) -> Void
    ) throws {
        var entries: [Entry] = []
        for source in tls.certificates {
            let (chain, key) = try Self.load(source, readFile: readFile)
            let hostKey = HostRSAKey(key)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(hostKey.map { NIOSSLPrivateKey(customPrivateKey: $0) } ?? key)
            )
            configuration.minimumTLSVersion = tls.minVersion == .tls13 ? .tlsv13 : .tlsv12
            configuration.cipherSuites = Self.tls12CipherSuites
            configuration.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw SetupError(source.position, "cannot use this certificate and key together: \(error)")
            }
            let parsed = try Self.parse(chain[0], source: source)
            let hooks: TLSContextHooks
            do {
                hooks = try TLSContextHooks(
                    context: context, ticketLifetime: SessionTicketKeys.lifetimeSeconds(rotate: settings.tickets.rotate),
                    serialNumber: parsed.serialNumber, ocspPath: source.ocsp, readFile: readOCSPFile, handshakeDone: handshakeDone
                )
            } catch {
                throw SetupError(source.position, "cannot set up session tickets and OCSP stapling: \(error)")
            }
            hooks.refreshStaple()
            entries.append(
                Entry(
                    context: context,
                    names: parsed.names,
                    subject: parsed.subject,
                    notValidAfter: parsed.notValidAfter,
                    source: source,
                    signer: hostKey == nil ? "BoringSSL" : HostRSAKey.library,
                    hooks: hooks
                )
            )
        }
        guard !entries.isEmpty else {
            throw SetupError(tls.position, "listener '\(listener.name)' has tls but no certificates")
        }
        var exact: [String: Int] = [:]
        var wildcard: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            for name in entry.names {
                if name.hasPrefix("*.") {
                    if wildcard[String(name.dropFirst(2))] == nil { wildcard[String(name.dropFirst(2))] = index }
                } else if exact[name] == nil {
                    exact[name] = index
                }
            }
        }
        self.entries = entries
        self.exact = exact
        self.wildcard = wildcard
    }

    /// Seals and opens session tickets of every certificate with `keys` from now on.
    package func useTicketKeys(_ keys: SessionTicketKeys) {
        for entry in entries { entry.hooks.useTicketKeys(keys) }
    }

    /// Handshakes completed on this listener, and how many of them resumed a session.
    package var handshakeCounts: (handshakes: UInt64, resumed: UInt64) {
        entries.reduce((0, 0)) { sum, entry in
            let counts = entry.hooks.counts
            return (sum.0 &+ counts.handshakes, sum.1 &+ counts.resumed)
        }
    }

    /// The context for a ClientHello's server name (nil = no SNI sent).
    public func context(forServerName serverName: String?) -> NIOSSLContext {
        entries[index(forServerName: serverName)].context
    }

    public func index(forServerName serverName: String?) -> Int {
        guard var name = serverName?.lowercased() else { return 0 }
        if name.hasSuffix(".") { name.removeLast() }
        if let index = exact[name] { return index }
        if let dot = name.firstIndex(of: ".") {
            if let index = wildcard[String(name[name.index(after: dot)...])] { return index }
        }
        return 0
    }

    /// Whether some certificate of this listener covers `name` (exactly or by wildcard).
    public func covers(_ name: String) -> Bool {
        let lower = name.lowercased()
        if exact[lower] != nil { return true }
        if let dot = lower.firstIndex(of: "."), wildcard[String(lower[lower.index(after: dot)...])] != nil {
            return true
        }
        return false
    }

    // MARK: Loading

    static func load(
        _ source: CertificateSource,
        readFile: (String) throws -> [UInt8]
    ) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        func read(_ path: String) throws -> [UInt8] {
            do {
                return try readFile(path)
            } catch {
                throw SetupError(source.position, "\(error)")
            }
        }
        switch source.kind {
        case .pem(let certPath, let keyPath):
            let certBytes = try read(certPath)
            let keyBytes = try read(keyPath)
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMBytes(certBytes)
            } catch {
                throw SetupError(source.position, "'\(certPath)' is not a PEM certificate chain (\(error))")
            }
            guard !chain.isEmpty else {
                throw SetupError(source.position, "'\(certPath)' holds no certificate")
            }
            let key: NIOSSLPrivateKey
            do {
                key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
            } catch {
                throw SetupError(source.position, "'\(keyPath)' is not a PEM private key (\(error))")
            }
            try checkKeyMatches(certificate: chain[0], keyPEM: keyBytes, source: source, certPath: certPath, keyPath: keyPath)
            return (chain, key)
        case .pfx(let path, let passwordFile):
            let bundleBytes = try read(path)
            var password: [UInt8] = []
            if let passwordFile {
                password = try read(passwordFile)
                while let last = password.last, last == 0x0A || last == 0x0D { password.removeLast() }
            }
            do {
                let bundle = try NIOSSLPKCS12Bundle(buffer: bundleBytes, passphrase: password)
                guard !bundle.certificateChain.isEmpty else {
                    throw SetupError(source.position, "'\(path)' holds no certificate")
                }
                return (bundle.certificateChain, bundle.privateKey)
            } catch let error as SetupError {
                throw error
            } catch {
                throw SetupError(
                    source.position,
                    "cannot open PKCS#12 file '\(path)': wrong password or not a PFX file (\(error))"
                )
            }
        }
    }

    /// BoringSSL accepts a mismatched key at context creation and fails every handshake
    /// later; compare the public keys now so the operator hears about it from `check`.
    static func checkKeyMatches(
        certificate: NIOSSLCertificate,
        keyPEM: [UInt8],
        source: CertificateSource,
        certPath: String,
        keyPath: String
    ) throws {
        guard let der = try? certificate.toDERBytes(),
            let parsed = try? Certificate(derEncoded: der),
            let key = try? Certificate.PrivateKey(pemEncoded: String(decoding: keyPEM, as: UTF8.self))
        else { return }  // a key type X509 cannot read: BoringSSL's own check applies
        if key.publicKey != parsed.publicKey {
            throw SetupError(source.position, "the key in '\(keyPath)' does not match the certificate in '\(certPath)'")
        }
    }

    static func parse(_ certificate: NIOSSLCertificate, source: CertificateSource) throws -> (
        names: [String], subject: String, notValidAfter: Date, serialNumber: ArraySlice<UInt8>
    ) {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            throw SetupError(source.position, "cannot parse the certificate")
        }
        var names: [String] = []
        if let sans = try? parsed.extensions.subjectAlternativeNames {
            for name in sans {
                if case .dnsName(let dns) = name { names.append(dns.lowercased()) }
            }
        }
        let commonName = parsed.subject.commonName
        if names.isEmpty, let commonName { names.append(commonName.lowercased()) }
        return (names, parsed.subject.description, parsed.notValidAfter, parsed.serialNumber.bytes)
    }
}

extension DistinguishedName {
    /// The subject's CN, if any.
    var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }
}
