/// One Lync-specific problem `edgesplit check` reports on top of the generic validation:
/// what (rule, farm or listener), why, and what users would see (lync-publishing.md §7).
public struct LyncFinding: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case nameNotOnCertificate = "name-not-on-certificate"
        case subjectNotInSANs = "subject-not-in-sans"
        case wildcardSubject = "wildcard-subject"
        case hostNotForwarded = "host-not-forwarded"
        case internalSitePort = "internal-site-port"
        case plainHTTPToTLSPort = "plain-http-to-tls-port"
        case shortTimeout = "short-timeout"
        case directorNotPublished = "director-not-published"
        case lyncdiscoverInTwoRules = "lyncdiscover-in-two-rules"
        case lyncdiscoverShadowed = "lyncdiscover-shadowed"
        case internalNamePublished = "internal-name-published"
        case noPersistence = "no-persistence"
        case smallHeaderLimit = "small-header-limit"
        case smallUploadLimit = "small-upload-limit"
    }

    public var severity: ConfigDiagnostic.Severity
    public var kind: Kind
    public var position: SourcePosition
    /// "rule 'webext'", "farm 'pool'", "listener 'https'".
    public var subject: String
    public var reason: String
    /// What users would see.
    public var symptom: String

    public init(
        _ severity: ConfigDiagnostic.Severity, _ kind: Kind, at position: SourcePosition, subject: String, reason: String,
        symptom: String
    ) {
        self.severity = severity
        self.kind = kind
        self.position = position
        self.subject = subject
        self.reason = reason
        self.symptom = symptom
    }

    /// `file:line:column: severity: lync: subject: reason; users see: symptom [kind]`.
    public var description: String {
        "\(position): \(severity.rawValue): lync: \(subject): \(reason); users see: \(symptom) [\(kind.rawValue)]"
    }
}

/// What `check` knows about one listener certificate (from `EdgeTLS.ListenerCertificates`).
public struct ListenerCertificateFacts: Hashable, Sendable {
    /// Index into `config.listeners`.
    public var listenerIndex: Int
    /// Lowercased DNS SANs (the CN when the certificate has no SAN).
    public var names: [String]
    /// The subject distinguished name as text (`CN=webext.contoso.com,O=Contoso`).
    public var subject: String
    /// Where the certificate is configured.
    public var position: SourcePosition

    public init(listenerIndex: Int, names: [String], subject: String, position: SourcePosition) {
        self.listenerIndex = listenerIndex
        self.names = names
        self.subject = subject
        self.position = position
    }

    /// The subject's common name, lowercased, if any.
    public var commonName: String? {
        for part in subject.split(separator: ",") {
            let p = part.drop { $0 == " " }
            if p.uppercased().hasPrefix("CN=") { return String(p.dropFirst(3)).lowercased() }
        }
        return nil
    }

    /// Whether a SAN covers `host` (exactly, or a `*.` SAN one label deep).
    public func covers(_ host: String) -> Bool {
        let host = host.lowercased()
        for name in names {
            if name == host { return true }
            if name.hasPrefix("*."), let dot = host.firstIndex(of: "."), host[host.index(after: dot)...] == name.dropFirst(2) {
                return true
            }
        }
        return false
    }
}
