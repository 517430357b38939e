/// The pure, strict, incremental TLS ClientHello parser used to route connections at L4 by
/// SNI without terminating TLS. It never allocates per byte, never traps on any input and
/// imports neither NIO nor Foundation.

/// Bounds on what the parser accepts.
public struct ClientHelloLimits: Sendable {
    /// The whole ClientHello handshake message (its 4-byte header plus body, all handshake
    /// bytes across records) may not exceed this. Real hellos are well under 2 KiB even with
    /// padding (RFC 7685) and large post-quantum key shares; 16 KiB bounds what a peer can
    /// make the proxy buffer before it decides.
    public var maxBytes = 16 * 1024

    public init(maxBytes: Int = 16 * 1024) { self.maxBytes = maxBytes }
}

/// What a complete ClientHello says that routing cares about.
public struct ClientHelloInfo: Sendable, Hashable {
    /// The lowercased `host_name` from `server_name` (RFC 6066 §3), nil when the extension is
    /// absent or its host_name is not a DNS name. DNS names are case-insensitive, so routing
    /// compares the lowercased form.
    public var serverName: String?
    /// The client sent a well-framed host_name that is not a DNS name: an IP literal, a
    /// trailing dot, an underscore. RFC 6066 §3 does not permit these, but real clients send
    /// them (wrk sends the address it connects to); like nginx and HAProxy, edgesplit routes
    /// such a hello as one without SNI rather than closing the connection.
    public var serverNameIgnored: Bool = false
    /// The ALPN protocol names (RFC 7301) in the client's order, GREASE values (RFC 8701)
    /// removed; empty when the extension is absent.
    public var alpn: [String]
    /// `legacy_version` (RFC 8446 §4.1.2): 0x0303 for TLS 1.2 and 1.3 clients.
    public var legacyVersion: UInt16
    /// `supported_versions` (RFC 8446 §4.2.1) in the client's order, GREASE removed; empty
    /// when the extension is absent (a TLS 1.2-only client).
    public var supportedVersions: [UInt16]
    /// Whether `pre_shared_key` (RFC 8446 §4.2.11) is present: the client attempts resumption.
    public var hasPreSharedKey: Bool
    /// Whether `session_ticket` (RFC 5077) is present with a non-empty ticket: the client
    /// attempts TLS 1.2 resumption. An empty extension only advertises support.
    public var hasSessionTicket: Bool
    /// `cipher_suites` (RFC 8446 §4.1.2) in the client's order, GREASE removed.
    public var cipherSuites: [UInt16]
    /// Bytes of the input, from its start, consumed up to and including the last byte of the
    /// ClientHello (record headers included). Bytes after it — the rest of its final record,
    /// further records — are not examined; the proxy replays everything it received anyway.
    public var byteCount: Int

    public init(serverName: String?, alpn: [String], legacyVersion: UInt16, supportedVersions: [UInt16],
                hasPreSharedKey: Bool, hasSessionTicket: Bool, cipherSuites: [UInt16], byteCount: Int) {
        self.serverName = serverName
        self.alpn = alpn
        self.legacyVersion = legacyVersion
        self.supportedVersions = supportedVersions
        self.hasPreSharedKey = hasPreSharedKey
        self.hasSessionTicket = hasSessionTicket
        self.cipherSuites = cipherSuites
        self.byteCount = byteCount
    }
}

/// Why bytes are not an acceptable ClientHello.
public enum ClientHelloError: Error, Sendable, Hashable {
    /// The first byte is not the handshake content type 22, or a record's version is not
    /// 0x0301–0x0303 (RFC 8446 §5.1 legacy_record_version): lets the proxy tell plain HTTP or
    /// an SSLv2-style hello on a TLS port apart from TLS.
    case notTLS
    /// The ClientHello's declared length exceeds `ClientHelloLimits.maxBytes`.
    case tooLarge
    /// A record's length is 0 (RFC 8446 §5.1 forbids empty handshake fragments) or exceeds
    /// 2^14 + 2048.
    case recordOverflow
    /// A record other than handshake (22) arrived before the ClientHello was complete.
    case unexpectedContentType
    /// The first handshake message is not a client_hello (type 1).
    case notClientHello
    /// The hello body's lengths are inconsistent with the message (RFC 8446 §4.1.2 vectors).
    case truncated
    /// An extension's contents are inconsistent with its length or its type's syntax, or
    /// `pre_shared_key` is not the last extension (RFC 8446 §4.2.11).
    case malformedExtension
    /// An extension type appears twice (RFC 8446 §4.2: "There MUST NOT be more than one
    /// extension of the same type").
    case duplicateExtension
    /// `server_name` (RFC 6066 §3) is empty, has trailing garbage, more than one host_name,
    /// or an empty host_name. (A well-framed host_name that is not a DNS name is not an error:
    /// see ``ClientHelloInfo/serverNameIgnored``.)
    case malformedServerName
    /// Bytes follow the extensions block inside the ClientHello body.
    case trailingBytes

    /// A short, stable reason for logs and metrics.
    public var reason: String {
        switch self {
        case .notTLS: "not TLS"
        case .tooLarge: "ClientHello too large"
        case .recordOverflow: "bad record length"
        case .unexpectedContentType: "unexpected record content type"
        case .notClientHello: "not a ClientHello"
        case .truncated: "inconsistent ClientHello lengths"
        case .malformedExtension: "malformed extension"
        case .duplicateExtension: "duplicate extension"
        case .malformedServerName: "malformed server_name"
        case .trailingBytes: "trailing bytes in ClientHello"
        }
    }
}

/// The outcome of feeding the bytes received so far.
public enum ClientHelloResult: Sendable, Hashable {
    /// Not enough bytes yet to decide; call again with more.
    case needMore
    /// The ClientHello is complete and valid.
    case complete(ClientHelloInfo)
    /// The bytes are not an acceptable ClientHello; more bytes will not change that.
    case invalid(ClientHelloError)
}

/// GREASE (RFC 8701 §2): 0x0A0A, 0x1A1A, … 0xFAFA for cipher suites, extensions, versions,
/// groups; clients send them to keep servers tolerant, servers must ignore them.
@inline(__always)
func isGREASE(_ v: UInt16) -> Bool {
    (v & 0x0F0F) == 0x0A0A && (v >> 8) == (v & 0xFF)
}
